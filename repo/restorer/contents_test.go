package restorer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/mem"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/internal/fsmeta"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/restorer"
	"github.com/godwit-backup/godwit/repo/tree"
)

// countingBackend counts the loads of every pack and lets a test change
// what a load of a pack does.
type countingBackend struct {
	backends.Backend

	mu       sync.Mutex
	loads    map[string]int
	inFlight int
	peak     int
	// load, when set, runs before every pack load; an error is returned
	// instead of loading.
	load func(ctx context.Context, name string) error
	// corrupt, when set, flips a bit in the age header of that pack, so
	// that none of it can be decrypted.
	corrupt string
}

func newCountingBackend() *countingBackend {
	return &countingBackend{Backend: mem.New(), loads: make(map[string]int)}
}

func (b *countingBackend) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if h.Type != backends.PackFile {
		return b.Backend.Load(ctx, h, length, offset, fn)
	}
	b.mu.Lock()
	b.loads[h.Name]++
	b.inFlight++
	b.peak = max(b.peak, b.inFlight)
	load, corrupt := b.load, b.corrupt == h.Name
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.inFlight--
		b.mu.Unlock()
	}()
	if load != nil {
		if err := load(ctx, h.Name); err != nil {
			return err
		}
	}
	if !corrupt {
		return b.Backend.Load(ctx, h, length, offset, fn)
	}
	return b.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		data, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		if at := 100 - offset; at >= 0 && at < int64(len(data)) {
			data[at] ^= 0x10
		}
		return fn(bytes.NewReader(data))
	})
}

func (b *countingBackend) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.loads = make(map[string]int)
	b.peak = 0
}

// manyFiles stores n files of a few KiB each, with 1 MiB packs, and
// returns the repository, the root and the contents by name.
func manyFiles(t *testing.T, be backends.Backend, n int) (*repo.Repository, *tree.Node, map[string][]byte) {
	t.Helper()
	c, err := crypto.PassphraseCredential("pw", 10)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Init(context.Background(), be, repo.InitOptions{Credentials: []crypto.Credential{c}, PackSize: 1 << 20, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	files := make(map[string][]byte)
	var nodes []*tree.Node
	for i := range n {
		name := fmt.Sprintf("msg%04d", i)
		files[name] = randomBytes(t, 2000+i*37%8000)
		nodes = append(nodes, fileNode(t, r, name, files[name], 1<<20))
	}
	root := dirNode(t, r, "/", 0o755, nodes...)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r, root, files
}

// dataPacks returns the names of the packs holding data blobs.
func dataPacks(r *repo.Repository) map[string]bool {
	out := make(map[string]bool)
	for _, p := range r.Index().Packs() {
		if p.Type == blob.DataBlob {
			out[p.ID.String()] = true
		}
	}
	return out
}

func TestRestoreReadsEachPackOnce(t *testing.T) {
	be := newCountingBackend()
	r, root, files := manyFiles(t, be, 600)
	packs := dataPacks(r)
	if len(packs) < 3 {
		t.Fatalf("%d data packs, want several", len(packs))
	}
	be.reset()
	dst := t.TempDir()
	sum, w := restore(t, r, root, "/", restorer.Options{Target: dst})
	if len(w.msgs) != 0 {
		t.Fatalf("warnings: %v", w.msgs)
	}
	for name, data := range files {
		checkFile(t, filepath.Join(dst, name), data)
	}
	for name := range packs {
		if n := be.loads[name]; n != 1 {
			t.Errorf("pack %s loaded %d times, want once", name[:8], n)
		}
	}
	if sum.Packs != uint64(len(packs)) {
		t.Errorf("summary counts %d packs, want %d", sum.Packs, len(packs))
	}
}

func TestRestoreWritesASharedBlobToEveryPlace(t *testing.T) {
	s := newSnap(t)
	shared := randomBytes(t, 40<<10)
	other := randomBytes(t, 40<<10)
	// Each file holds the shared blob, some of them several times.
	layouts := map[string][][]byte{
		"once":   {shared},
		"twice":  {shared, shared},
		"around": {shared, other, shared, shared},
		"last":   {other, other, shared},
	}
	var nodes []*tree.Node
	want := make(map[string][]byte)
	for name, parts := range layouts {
		data := bytes.Join(parts, nil)
		want[name] = data
		nodes = append(nodes, fileNode(t, s.r, name, data, 40<<10))
	}
	root := dirNode(t, s.r, "/", 0o755, nodes...)
	if err := s.r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, sparse := range []bool{false, true} {
		dst := t.TempDir()
		_, w := restore(t, s.r, root, "/", restorer.Options{Target: dst, Sparse: sparse})
		if len(w.msgs) != 0 {
			t.Fatalf("warnings: %v", w.msgs)
		}
		for name, data := range want {
			checkFile(t, filepath.Join(dst, name), data)
			if st := lstat(t, filepath.Join(dst, name)); !time.Unix(st.Mtim.Unix()).Equal(mtime) {
				t.Errorf("sparse=%v: %s not marked complete", sparse, name)
			}
		}
	}
}

func TestDamagedPackAffectsOnlyItsFiles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(be *countingBackend, pack string)
		want   string
	}{
		{"corrupted", func(be *countingBackend, pack string) { be.corrupt = pack }, "corrupted or tampered with"},
		{"missing", func(be *countingBackend, pack string) {
			be.load = func(_ context.Context, name string) error {
				if name == pack {
					return fmt.Errorf("load data/%s: %w", name, os.ErrNotExist)
				}
				return nil
			}
		}, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := newCountingBackend()
			r, root, files := manyFiles(t, be, 600)
			var victim string
			for name := range dataPacks(r) {
				victim = name
				break
			}
			inVictim := make(map[string]bool)
			tr, err := r.LoadTree(context.Background(), *root.Subtree)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tr.Nodes {
				loc, _ := r.Index().Lookup(n.Content[0])
				inVictim[string(n.Name)] = loc.Pack.ID.String() == victim
			}
			tc.damage(be, victim)

			dst := t.TempDir()
			w := &warnings{}
			sum, err := restorer.Restore(context.Background(), r, root, "/", restorer.Options{Target: dst, Owner: fsmeta.OwnerNone, Warn: w.warn})
			if err != nil {
				t.Fatal(err)
			}
			damaged := 0
			for name, data := range files {
				path := filepath.Join(dst, name)
				if !inVictim[name] {
					checkFile(t, path, data)
					continue
				}
				damaged++
				if st := lstat(t, path); st.Size != int64(len(data)) || time.Unix(st.Mtim.Unix()).Equal(mtime) {
					t.Errorf("%s: size %d, mtime %v; want the full size and an mtime marking it incomplete", name, st.Size, time.Unix(st.Mtim.Unix()))
				}
			}
			if damaged == 0 || sum.Errors != uint64(damaged) || len(w.msgs) != damaged {
				t.Fatalf("%d errors, %d warnings for %d files in the damaged pack", sum.Errors, len(w.msgs), damaged)
			}
			for _, msg := range w.msgs {
				if !strings.Contains(msg, victim) || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "incomplete") {
					t.Errorf("warning does not name the pack and the damage: %s", msg)
				}
			}
		})
	}
}

// goroutinesBack waits for the number of goroutines to fall back to n.
func goroutinesBack(t *testing.T, n int) {
	t.Helper()
	for range 200 {
		if runtime.NumGoroutine() <= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Errorf("%d goroutines left, want %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
}

func TestCancelledRestoreStopsAndLeavesNoGoroutines(t *testing.T) {
	be := newCountingBackend()
	r, root, _ := manyFiles(t, be, 600)
	before := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	packs := dataPacks(r)
	started := make(chan struct{}, 64)
	be.load = func(ctx context.Context, name string) error {
		if !packs[name] {
			return nil
		}
		started <- struct{}{}
		<-ctx.Done() // a backend stuck until cancelled
		return ctx.Err()
	}
	done := make(chan error, 1)
	go func() {
		_, err := restorer.Restore(ctx, r, root, "/", restorer.Options{Target: t.TempDir(), Owner: fsmeta.OwnerNone, Workers: 3, Warn: func(string, error) {}})
		done <- err
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("restore returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("restore did not stop after cancellation")
	}
	goroutinesBack(t, before)
}

func TestRestoreHoldsAtMostWorkersPacks(t *testing.T) {
	be := newCountingBackend()
	r, root, files := manyFiles(t, be, 600)
	dataPacks := dataPacks(r)
	packs := len(dataPacks)
	for _, workers := range []int{1, 2, 4} {
		be.reset()
		// With several workers, pack loads wait until two have run at
		// once, so that parallel fetching is exercised.
		be.load = func(ctx context.Context, name string) error {
			if !dataPacks[name] || workers == 1 {
				return nil
			}
			for range 5000 {
				be.mu.Lock()
				n := be.peak
				be.mu.Unlock()
				if n >= 2 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			return nil
		}
		dst := t.TempDir()
		sum, w := restore(t, r, root, "/", restorer.Options{Target: dst, Workers: workers})
		if len(w.msgs) != 0 {
			t.Fatalf("warnings: %v", w.msgs)
		}
		if sum.PeakPacksHeld < 1 || sum.PeakPacksHeld > workers {
			t.Errorf("workers %d: %d packs held at once", workers, sum.PeakPacksHeld)
		}
		if be.peak > workers || workers > 1 && be.peak < 2 {
			t.Errorf("workers %d: %d packs loading at once", workers, be.peak)
		}
		if sum.Packs != uint64(packs) {
			t.Errorf("workers %d: read %d packs, want %d", workers, sum.Packs, packs)
		}
		for name, data := range files {
			checkFile(t, filepath.Join(dst, name), data)
		}
	}
}
