package backendtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/godwit-backup/godwit/backends"
)

// Run runs the conformance suite against backends made by newBackend.
// newBackend is called once per subtest, from the subtest's goroutine, and
// must return a fresh, empty, usable backend (or fail t); Run closes it
// when the subtest ends and fails the subtest if Close returns an error.
// Subtests run one after another, but each one may use its backend from
// many goroutines.
func Run(t *testing.T, newBackend func(t *testing.T) backends.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, be backends.Backend)
	}{
		{"SaveThenLoadReturnsSameBytes", testSaveLoad},
		{"LoadReturnsRequestedRange", testLoadRange},
		{"LoadRejectsNegativeRange", testLoadNegativeRange},
		{"LoadPassesReaderAndReturnsCallbackError", testLoadCallback},
		{"StatReturnsSize", testStat},
		{"ListReportsEachTypeSeparately", testList},
		{"ListStopsOnCallbackError", testListCallbackError},
		{"RemovedObjectIsMissing", testRemove},
		{"MissingObjectWrapsErrNotExist", testMissing},
		{"SaveDoesNotOverwrite", testNoOverwrite},
		{"SaveReplacesConfig", testConfigReplace},
		{"SaveDoesNotRetainData", testSaveCopies},
		{"InvalidHandleIsRejected", testInvalidHandle},
		{"ConcurrentReadersNeverSeePartialObject", testAtomicSave},
		{"LargeObjectRoundTrips", testLargeObject},
		{"ConcurrentSavesAndLoads", testConcurrent},
		{"CancelledContextHasNoEffect", testCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := newBackend(t)
			t.Cleanup(func() {
				if err := be.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, be)
		})
	}
}

// newRand returns a deterministic generator, distinct per subtest.
func newRand(t *testing.T) *rand.Rand {
	var seed [32]byte
	copy(seed[:], t.Name())
	return rand.New(rand.NewChaCha8(seed))
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return b[:n:n]
}

// randomName returns 64 hex digits, the shape of a content-derived name.
func randomName(rng *rand.Rand) string {
	return hex.EncodeToString(randomBytes(rng, 32))
}

func save(t *testing.T, be backends.Backend, h backends.Handle, data []byte) {
	t.Helper()
	if err := be.Save(t.Context(), h, data); err != nil {
		t.Fatalf("save %v: %v", h, err)
	}
}

func load(t *testing.T, be backends.Backend, h backends.Handle) []byte {
	t.Helper()
	data, err := backends.LoadAll(t.Context(), be, h)
	if err != nil {
		t.Fatalf("load %v: %v", h, err)
	}
	return data
}

func loadRange(ctx context.Context, be backends.Backend, h backends.Handle, length int, offset int64) ([]byte, error) {
	var data []byte
	err := be.Load(ctx, h, length, offset, func(rd io.Reader) error {
		var err error
		data, err = io.ReadAll(rd)
		return err
	})
	return data, err
}

// list returns name → size for every object of type t.
func list(t *testing.T, be backends.Backend, ft backends.FileType) map[string]int64 {
	t.Helper()
	got := make(map[string]int64)
	err := be.List(t.Context(), ft, func(fi backends.FileInfo) error {
		if _, dup := got[fi.Name]; dup {
			t.Errorf("list %s: %q reported twice", ft, fi.Name)
		}
		got[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", ft, err)
	}
	return got
}

func checkEqual(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes, want %d bytes (contents differ)", what, len(got), len(want))
	}
}

func testSaveLoad(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	for _, size := range []int{0, 1, 100, 64<<10 - 1, 64 << 10, 64<<10 + 1, 1 << 20} {
		for _, ft := range backends.AllTypes {
			h := backends.Handle{Type: ft, Name: randomName(rng)}
			if ft == backends.ConfigFile {
				h.Name = ""
			}
			data := randomBytes(rng, size)
			if err := be.Save(t.Context(), h, data); err != nil {
				t.Fatalf("save %v (%d bytes): %v", h, size, err)
			}
			checkEqual(t, fmt.Sprintf("load %v (%d bytes)", h, size), load(t, be, h), data)
		}
	}
}

func testLoadRange(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	data := randomBytes(rng, 1000)
	h := backends.Handle{Type: backends.PackFile, Name: randomName(rng)}
	save(t, be, h, data)

	tests := []struct {
		name    string
		offset  int64
		length  int
		want    []byte
		wantErr error
	}{
		{"whole", 0, 0, data, nil},
		{"offset only", 300, 0, data[300:], nil},
		{"length only", 0, 10, data[:10], nil},
		{"offset and length", 500, 123, data[500:623], nil},
		{"last byte", 999, 1, data[999:], nil},
		{"exactly to end", 900, 100, data[900:], nil},
		{"offset at end", 1000, 0, []byte{}, nil},
		{"length past end", 995, 10, nil, io.ErrUnexpectedEOF},
		{"length past end from start", 0, 1001, nil, io.ErrUnexpectedEOF},
		{"offset past end", 1001, 0, nil, io.ErrUnexpectedEOF},
		{"offset and length past end", 2000, 10, nil, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := loadRange(t.Context(), be, h, tc.length, tc.offset)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("load offset %d length %d: got error %v, want %v", tc.offset, tc.length, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("load offset %d length %d: %v", tc.offset, tc.length, err)
			}
			checkEqual(t, fmt.Sprintf("load offset %d length %d", tc.offset, tc.length), got, tc.want)
		})
	}
}

func testLoadNegativeRange(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	h := backends.Handle{Type: backends.IndexFile, Name: randomName(rng)}
	save(t, be, h, randomBytes(rng, 100))
	for _, r := range []struct {
		offset int64
		length int
	}{{-1, 0}, {0, -1}, {-5, 10}} {
		called := false
		err := be.Load(t.Context(), h, r.length, r.offset, func(io.Reader) error {
			called = true
			return nil
		})
		if err == nil {
			t.Errorf("load offset %d length %d: got no error", r.offset, r.length)
		}
		if called {
			t.Errorf("load offset %d length %d: fn was called", r.offset, r.length)
		}
	}
}

func testLoadCallback(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	data := randomBytes(rng, 5000)
	h := backends.Handle{Type: backends.SnapshotFile, Name: randomName(rng)}
	save(t, be, h, data)

	errStop := errors.New("stop")
	var seen []byte
	err := be.Load(t.Context(), h, 0, 0, func(rd io.Reader) error {
		var err error
		seen, err = io.ReadAll(rd)
		if err != nil {
			return err
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Errorf("load: got error %v, want the callback's error", err)
	}
	checkEqual(t, "bytes seen by the callback", seen, data)

	// A callback that stops reading early is not an error.
	err = be.Load(t.Context(), h, 0, 0, func(rd io.Reader) error {
		_, err := io.ReadFull(rd, make([]byte, 10))
		return err
	})
	if err != nil {
		t.Errorf("load read partly: %v", err)
	}

	called := false
	err = be.Load(t.Context(), backends.Handle{Type: backends.SnapshotFile, Name: randomName(rng)}, 0, 0, func(io.Reader) error {
		called = true
		return nil
	})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("load missing object: got %v, want fs.ErrNotExist", err)
	}
	if called {
		t.Error("load missing object called fn")
	}
}

func testStat(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	for i, size := range []int{0, 1, 4096, 100_000} {
		ft := backends.AllTypes[1+i%(len(backends.AllTypes)-1)]
		h := backends.Handle{Type: ft, Name: randomName(rng)}
		save(t, be, h, randomBytes(rng, size))
		fi, err := be.Stat(t.Context(), h)
		if err != nil {
			t.Fatalf("stat %v: %v", h, err)
		}
		if fi.Size != int64(size) || fi.Name != h.Name {
			t.Errorf("stat %v: got %+v, want name %q size %d", h, fi, h.Name, size)
		}
	}
	cfg := backends.Handle{Type: backends.ConfigFile}
	save(t, be, cfg, randomBytes(rng, 321))
	fi, err := be.Stat(t.Context(), cfg)
	if err != nil {
		t.Fatalf("stat config: %v", err)
	}
	if fi.Size != 321 {
		t.Errorf("stat config: got size %d, want 321", fi.Size)
	}
}

func testList(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	want := make(map[backends.FileType]map[string]int64)
	for _, ft := range backends.AllTypes {
		want[ft] = make(map[string]int64)
	}
	// The same name under every type: each is a separate object.
	shared := randomName(rng)
	for _, ft := range backends.AllTypes[1:] {
		data := randomBytes(rng, 10+rng.IntN(100))
		save(t, be, backends.Handle{Type: ft, Name: shared}, data)
		want[ft][shared] = int64(len(data))
	}
	for _, ft := range backends.AllTypes[1:] {
		for range 5 {
			name := randomName(rng)
			data := randomBytes(rng, rng.IntN(200))
			save(t, be, backends.Handle{Type: ft, Name: name}, data)
			want[ft][name] = int64(len(data))
		}
	}
	// Packs whose names do not start with hex digits, and the shortest
	// pack name, still list.
	for _, name := range []string{"zz", "Zz-pack_1", "-_x", "00", "ff" + shared} {
		save(t, be, backends.Handle{Type: backends.PackFile, Name: name}, []byte(name))
		want[backends.PackFile][name] = int64(len(name))
	}
	save(t, be, backends.Handle{Type: backends.ConfigFile}, []byte("config"))
	want[backends.ConfigFile][""] = 6

	for _, ft := range backends.AllTypes {
		got := list(t, be, ft)
		if !maps.Equal(got, want[ft]) {
			t.Errorf("list %s: got %v, want %v", ft, got, want[ft])
		}
	}

	// Removing an object of one type leaves the same name of other types.
	if err := be.Remove(t.Context(), backends.Handle{Type: backends.IndexFile, Name: shared}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	for _, ft := range backends.AllTypes[1:] {
		_, err := be.Stat(t.Context(), backends.Handle{Type: ft, Name: shared})
		if ft == backends.IndexFile {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("stat removed %s/%s: got %v, want fs.ErrNotExist", ft, shared, err)
			}
		} else if err != nil {
			t.Errorf("stat %s/%s after removing index/%s: %v", ft, shared, shared, err)
		}
	}

	if err := be.List(t.Context(), backends.FileType("bogus"), func(backends.FileInfo) error { return nil }); err == nil {
		t.Error("list of an invalid type: got no error")
	}
}

func testListCallbackError(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	for range 5 {
		save(t, be, backends.Handle{Type: backends.LockFile, Name: randomName(rng)}, []byte("lock"))
	}
	errStop := errors.New("stop")
	calls := 0
	err := be.List(t.Context(), backends.LockFile, func(backends.FileInfo) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Errorf("list: got %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("list called fn %d times after it returned an error, want 1", calls)
	}
}

func testRemove(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	for _, ft := range backends.AllTypes {
		h := backends.Handle{Type: ft, Name: randomName(rng)}
		if ft == backends.ConfigFile {
			h.Name = ""
		}
		save(t, be, h, randomBytes(rng, 64))
		if err := be.Remove(t.Context(), h); err != nil {
			t.Fatalf("remove %v: %v", h, err)
		}
		checkMissing(t, be, h)
		if got := list(t, be, ft); len(got) != 0 {
			t.Errorf("list %s after remove: got %v, want nothing", ft, got)
		}
		// A removed name can be saved again.
		data := randomBytes(rng, 32)
		save(t, be, h, data)
		checkEqual(t, fmt.Sprintf("load %v saved after remove", h), load(t, be, h), data)
	}
}

func testMissing(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	for _, ft := range backends.AllTypes {
		h := backends.Handle{Type: ft, Name: randomName(rng)}
		if ft == backends.ConfigFile {
			h.Name = ""
		}
		checkMissing(t, be, h)
	}
}

// checkMissing checks that Load, Stat and Remove of h wrap fs.ErrNotExist.
func checkMissing(t *testing.T, be backends.Backend, h backends.Handle) {
	t.Helper()
	_, err := backends.LoadAll(t.Context(), be, h)
	if !errors.Is(err, fs.ErrNotExist) || !backends.IsNotExist(err) {
		t.Errorf("load missing %v: got %v, want fs.ErrNotExist", h, err)
	}
	_, err = be.Stat(t.Context(), h)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat missing %v: got %v, want fs.ErrNotExist", h, err)
	}
	err = be.Remove(t.Context(), h)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("remove missing %v: got %v, want fs.ErrNotExist", h, err)
	}
}

func testNoOverwrite(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	for _, ft := range backends.AllTypes[1:] {
		t.Run(string(ft), func(t *testing.T) {
			h := backends.Handle{Type: ft, Name: randomName(rng)}
			orig := randomBytes(rng, 1000)
			save(t, be, h, orig)
			for _, data := range [][]byte{randomBytes(rng, 1000), randomBytes(rng, 10), orig} {
				err := be.Save(t.Context(), h, data)
				if !errors.Is(err, fs.ErrExist) {
					t.Errorf("save over existing %v: got %v, want fs.ErrExist", h, err)
				}
			}
			checkEqual(t, "load after refused overwrite", load(t, be, h), orig)
			if got := list(t, be, ft); !maps.Equal(got, map[string]int64{h.Name: 1000}) {
				t.Errorf("list after refused overwrite: got %v, want only %s", got, h.Name)
			}
		})
	}
}

func testConfigReplace(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	h := backends.Handle{Type: backends.ConfigFile}
	for _, size := range []int{500, 100, 2000} {
		data := randomBytes(rng, size)
		save(t, be, h, data)
		checkEqual(t, "load replaced config", load(t, be, h), data)
		if got := list(t, be, backends.ConfigFile); !maps.Equal(got, map[string]int64{"": int64(size)}) {
			t.Errorf("list config: got %v, want one of size %d", got, size)
		}
	}
}

func testSaveCopies(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	h := backends.Handle{Type: backends.KeyFile, Name: randomName(rng)}
	data := randomBytes(rng, 100)
	want := bytes.Clone(data)
	save(t, be, h, data)
	for i := range data {
		data[i] = 0
	}
	checkEqual(t, "load after caller reused its buffer", load(t, be, h), want)
}

func testInvalidHandle(t *testing.T, be backends.Backend) {
	handles := []backends.Handle{
		{Type: backends.IndexFile, Name: ""},
		{Type: backends.IndexFile, Name: ".."},
		{Type: backends.IndexFile, Name: "../config"},
		{Type: backends.SnapshotFile, Name: "a/b"},
		{Type: backends.KeyFile, Name: ".tmp-x"},
		{Type: backends.PackFile, Name: "a"},
		{Type: backends.ConfigFile, Name: "x"},
		{Type: backends.FileType("bogus"), Name: "abc"},
		{Type: backends.FileType(""), Name: "config"},
	}
	for _, h := range handles {
		if err := be.Save(t.Context(), h, []byte("x")); err == nil {
			t.Errorf("save %#v: got no error", h)
		}
		if _, err := backends.LoadAll(t.Context(), be, h); err == nil {
			t.Errorf("load %#v: got no error", h)
		}
		if _, err := be.Stat(t.Context(), h); err == nil {
			t.Errorf("stat %#v: got no error", h)
		}
		if err := be.Remove(t.Context(), h); err == nil {
			t.Errorf("remove %#v: got no error", h)
		}
	}
	for _, ft := range backends.AllTypes {
		if got := list(t, be, ft); len(got) != 0 {
			t.Errorf("list %s after invalid saves: got %v, want nothing", ft, got)
		}
	}
}

func testAtomicSave(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	const size = 8 << 20
	for round := range 3 {
		h := backends.Handle{Type: backends.PackFile, Name: randomName(rng)}
		data := randomBytes(rng, size)
		var done atomic.Bool
		var loads, found atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					finished := done.Load()
					got, err := backends.LoadAll(t.Context(), be, h)
					loads.Add(1)
					switch {
					case errors.Is(err, fs.ErrNotExist):
						if finished {
							t.Errorf("round %d: load after save returned: %v", round, err)
						}
					case err != nil:
						t.Errorf("round %d: load during save: %v", round, err)
					case !bytes.Equal(got, data):
						t.Errorf("round %d: load during save saw %d of %d bytes or wrong contents", round, len(got), size)
					default:
						found.Add(1)
					}
					fi, err := be.Stat(t.Context(), h)
					if err == nil && fi.Size != size {
						t.Errorf("round %d: stat during save: size %d, want %d", round, fi.Size, size)
					}
					if finished || t.Failed() {
						return
					}
				}
			})
		}
		save(t, be, h, data)
		done.Store(true)
		wg.Wait()
		if found.Load() == 0 {
			t.Errorf("round %d: no load saw the object after %d loads", round, loads.Load())
		}
	}
}

func testLargeObject(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	const size = 20 << 20
	data := randomBytes(rng, size)
	h := backends.Handle{Type: backends.PackFile, Name: randomName(rng)}
	save(t, be, h, data)
	fi, err := be.Stat(t.Context(), h)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if fi.Size != size {
		t.Errorf("stat: got size %d, want %d", fi.Size, size)
	}
	checkEqual(t, "load whole", load(t, be, h), data)
	for _, r := range []struct {
		offset int64
		length int
	}{{0, 1 << 16}, {size - 1<<16, 1 << 16}, {size / 2, 3 << 20}, {size - 17, 0}} {
		got, err := loadRange(t.Context(), be, h, r.length, r.offset)
		if err != nil {
			t.Fatalf("load offset %d length %d: %v", r.offset, r.length, err)
		}
		end := int64(size)
		if r.length > 0 {
			end = r.offset + int64(r.length)
		}
		checkEqual(t, fmt.Sprintf("load offset %d length %d", r.offset, r.length), got, data[r.offset:end])
	}
}

func testConcurrent(t *testing.T, be backends.Backend) {
	const workers, perWorker = 16, 8
	rng := newRand(t)
	type object struct {
		h    backends.Handle
		data []byte
	}
	objects := make([][]object, workers)
	types := backends.AllTypes[1:]
	for w := range objects {
		for i := range perWorker {
			objects[w] = append(objects[w], object{
				h:    backends.Handle{Type: types[(w+i)%len(types)], Name: randomName(rng)},
				data: randomBytes(rng, 1+rng.IntN(64<<10)),
			})
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := t.Context()
			for _, o := range objects[w] {
				if err := be.Save(ctx, o.h, o.data); err != nil {
					t.Errorf("save %v: %v", o.h, err)
					return
				}
				// Read back what this worker and a neighbour saved.
				for _, other := range []object{o, objects[(w+1)%workers][0]} {
					got, err := backends.LoadAll(ctx, be, other.h)
					if errors.Is(err, fs.ErrNotExist) && other.h != o.h {
						continue // the neighbour has not saved it yet
					}
					if err != nil {
						t.Errorf("load %v: %v", other.h, err)
						return
					}
					if !bytes.Equal(got, other.data) {
						t.Errorf("load %v: contents differ", other.h)
					}
				}
				if fi, err := be.Stat(ctx, o.h); err != nil || fi.Size != int64(len(o.data)) {
					t.Errorf("stat %v: got %+v, %v; want size %d", o.h, fi, err, len(o.data))
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	want := make(map[backends.FileType]map[string]int64)
	for _, ft := range types {
		want[ft] = make(map[string]int64)
	}
	for _, objs := range objects {
		for _, o := range objs {
			want[o.h.Type][o.h.Name] = int64(len(o.data))
		}
	}
	for _, ft := range types {
		if got := list(t, be, ft); !maps.Equal(got, want[ft]) {
			t.Errorf("list %s: got %d objects, want %d", ft, len(got), len(want[ft]))
		}
	}
}

func testCancelled(t *testing.T, be backends.Backend) {
	rng := newRand(t)
	existing := backends.Handle{Type: backends.IndexFile, Name: randomName(rng)}
	existingData := randomBytes(rng, 200)
	save(t, be, existing, existingData)
	cfg := backends.Handle{Type: backends.ConfigFile}
	cfgData := randomBytes(rng, 50)
	save(t, be, cfg, cfgData)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	fresh := backends.Handle{Type: backends.PackFile, Name: randomName(rng)}
	wantCanceled := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want context.Canceled", op, err)
		}
	}
	wantCanceled("save", be.Save(ctx, fresh, randomBytes(rng, 100)))
	wantCanceled("save config", be.Save(ctx, cfg, randomBytes(rng, 100)))
	called := false
	wantCanceled("load", be.Load(ctx, existing, 0, 0, func(io.Reader) error {
		called = true
		return nil
	}))
	_, err := be.Stat(ctx, existing)
	wantCanceled("stat", err)
	wantCanceled("list", be.List(ctx, backends.IndexFile, func(backends.FileInfo) error {
		called = true
		return nil
	}))
	wantCanceled("remove", be.Remove(ctx, existing))
	if called {
		t.Error("a callback ran although the context was cancelled")
	}

	checkMissing(t, be, fresh)
	if got := list(t, be, backends.PackFile); len(got) != 0 {
		t.Errorf("list data after cancelled save: got %v, want nothing", got)
	}
	checkEqual(t, "config after cancelled save", load(t, be, cfg), cfgData)
	checkEqual(t, "object after cancelled remove", load(t, be, existing), existingData)
	if got := slices.Collect(maps.Keys(list(t, be, backends.IndexFile))); !slices.Equal(got, []string{existing.Name}) {
		t.Errorf("list index after cancelled calls: got %v, want [%s]", got, existing.Name)
	}
}
