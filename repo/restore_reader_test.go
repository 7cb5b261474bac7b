package repo_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/pack"
)

// byteCounter counts the pack loads and bytes read from a backend.
type byteCounter struct {
	backends.Backend
	mu           sync.Mutex
	loads, bytes int64
}

func (b *byteCounter) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(io.Reader) error) error {
	return b.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		data, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		if h.Type == backends.PackFile {
			b.mu.Lock()
			b.loads++
			b.bytes += int64(len(data))
			b.mu.Unlock()
		}
		return fn(bytes.NewReader(data))
	})
}

func TestFetchPackReadsOnlyTheNeededRanges(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 16<<20)
	var blobs [][]byte
	for range 12 {
		b := make([]byte, 1<<20) // random: stored raw, one frame each
		rand.Read(b)
		if _, _, err := r.SaveBlob(ctx, blob.DataBlob, b); err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	codec, err := pack.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	defer codec.Close()
	r = openRepo(t, &byteCounter{Backend: be}, testPassphrase)
	counter := r.Backend().(*byteCounter)

	for _, tc := range []struct {
		name       string
		want       []int // blobs asked for
		maxBytes   float64
		maxLoads   int64
		unreadable int // a blob not asked for, -1 for none
	}{
		{name: "one frame in the middle", want: []int{6}, maxBytes: 0.25, maxLoads: 3, unreadable: 2},
		{name: "two distant frames", want: []int{1, 10}, maxBytes: 0.35, maxLoads: 4, unreadable: 5},
		{name: "every frame", want: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, maxBytes: 1, maxLoads: 1, unreadable: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counter.loads, counter.bytes = 0, 0
			var (
				p      *index.Pack
				frames []pack.Frame
				locs   []index.Location
			)
			for _, i := range tc.want {
				loc, ok := r.Index().Lookup(r.BlobID(blobs[i]))
				if !ok {
					t.Fatal("blob not indexed")
				}
				p = loc.Pack
				frames = append(frames, loc.Frame)
				locs = append(locs, loc)
			}
			plain, err := r.FetchPack(ctx, p, frames)
			if err != nil {
				t.Fatal(err)
			}
			for k, loc := range locs {
				data, err := codec.ReadFrame(plain, loc.Frame)
				if err != nil {
					t.Fatalf("blob %d: %v", tc.want[k], err)
				}
				if !bytes.Equal(data[loc.Offset:loc.Offset+loc.Length], blobs[tc.want[k]]) {
					t.Errorf("blob %d reads back different", tc.want[k])
				}
			}
			if float64(counter.bytes) > tc.maxBytes*float64(p.Size) || counter.loads > tc.maxLoads {
				t.Errorf("read %d bytes of %d in %d loads", counter.bytes, p.Size, counter.loads)
			}
			if tc.unreadable >= 0 {
				loc, _ := r.Index().Lookup(r.BlobID(blobs[tc.unreadable]))
				if _, err := codec.ReadFrame(plain, loc.Frame); err == nil {
					t.Error("a frame that was not asked for was read")
				}
			}
		})
	}
}

func TestFetchPackOfDamagedPackIsCorrupt(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 16<<20)
	data := []byte("some content")
	id, _, err := r.SaveBlob(ctx, blob.DataBlob, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loc, _ := r.Index().Lookup(id)
	h := backends.Handle{Type: backends.PackFile, Name: loc.Pack.ID.String()}
	sealed, err := backends.LoadAll(ctx, be, h)
	if err != nil {
		t.Fatal(err)
	}
	sealed[100] ^= 1 // in the age header
	replace(t, be, h, sealed)
	if _, err := r.FetchPack(ctx, loc.Pack, []pack.Frame{loc.Frame}); !errors.Is(err, repo.ErrCorrupt) {
		t.Errorf("FetchPack of a damaged pack: %v, want ErrCorrupt", err)
	}
}

func TestFetchPackOfPackWithWrongSizeIsCorrupt(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		change func([]byte) []byte
		want   string
	}{
		{"one byte short", func(b []byte) []byte { return b[:len(b)-1] }, "bytes, the index says"},
		{"one byte long", func(b []byte) []byte { return append(b, 0) }, "more than the"},
		{"empty", func(b []byte) []byte { return b[:0] }, "has 0 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			be, r := newRepo(t, 16<<20)
			id, _, err := r.SaveBlob(ctx, blob.DataBlob, []byte("some content"))
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			loc, _ := r.Index().Lookup(id)
			h := backends.Handle{Type: backends.PackFile, Name: loc.Pack.ID.String()}
			sealed, err := backends.LoadAll(ctx, be, h)
			if err != nil {
				t.Fatal(err)
			}
			replace(t, be, h, tt.change(sealed))
			_, err = r.FetchPack(ctx, loc.Pack, []pack.Frame{loc.Frame})
			if !errors.Is(err, repo.ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("FetchPack of a pack %s: %v, want ErrCorrupt saying %q", tt.name, err, tt.want)
			}
		})
	}
}
