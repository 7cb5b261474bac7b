package index

import (
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/pack"
)

// fill adds n blobs in packs of 1000, as a repository of n blobs has.
func fill(idx *Index, n int) {
	frames := []pack.Frame{{Offset: 0, Length: 1 << 20, RawLength: 1 << 20}}
	for p := 0; p*1000 < n; p++ {
		var pid blob.ID
		binary.LittleEndian.PutUint64(pid[:], uint64(p)|1<<63)
		entries := make([]pack.Entry, 0, 1000)
		for i := p * 1000; i < min(n, (p+1)*1000); i++ {
			var id blob.ID
			binary.LittleEndian.PutUint64(id[:], uint64(i))
			entries = append(entries, pack.Entry{Type: blob.DataBlob, ID: id, Frame: 0, Offset: 0, Length: 1})
		}
		if err := idx.AddPack(&Pack{ID: pid, Type: blob.DataBlob, Size: 1 << 24, Frames: frames}, entries); err != nil {
			panic(err)
		}
	}
}

// BenchmarkIndexMemory reports the heap the in-memory index holds per
// blob (the design's goal is at most 48 bytes).
func BenchmarkIndexMemory(b *testing.B) {
	const n = 1 << 20
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		idx := New()
		fill(idx, n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/blob")
		runtime.KeepAlive(idx)
	}
}

func BenchmarkIndexLookup(b *testing.B) {
	const n = 1 << 20
	idx := New()
	fill(idx, n)
	var id blob.ID
	i := 0
	for b.Loop() {
		binary.LittleEndian.PutUint64(id[:], uint64(i%n))
		if _, ok := idx.Lookup(id); !ok {
			b.Fatal("missing")
		}
		i++
	}
}
