package restorer_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/godwit-backup/godwit/repo/restorer"
)

// progress records what a restore reports, from several goroutines.
type progress struct {
	mu                     sync.Mutex
	totalFiles, totalBytes uint64
	totals                 int
	files, bytes           atomic.Uint64
	current                map[string]bool
}

func (p *progress) SetTotal(files, bytes uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.totalFiles, p.totalBytes = files, bytes
	p.totals++
}
func (p *progress) AddFiles(n uint64) { p.files.Add(n) }
func (p *progress) AddBytes(n uint64) { p.bytes.Add(n) }
func (p *progress) Current(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current == nil {
		p.current = map[string]bool{}
	}
	p.current[path] = true
}

func TestRestoreProgressReachesItsTotals(t *testing.T) {
	s := newSnap(t)
	dst := t.TempDir()
	wantBytes := uint64(len(s.files["etc/hosts"]) + len(s.files["mail"]) + len(s.files["h1"]))
	for _, run := range []string{"first", "second, all files complete"} {
		p := &progress{}
		restore(t, s.r, s.root, "/", restorer.Options{Target: dst, Workers: 3, Progress: p})
		if p.totals != 1 || p.totalFiles != 3 || p.totalBytes != wantBytes {
			t.Errorf("%s run: totals %d files %d bytes (set %d times), want 3 files %d bytes once", run, p.totalFiles, p.totalBytes, p.totals, wantBytes)
		}
		if p.files.Load() != 3 || p.bytes.Load() != wantBytes {
			t.Errorf("%s run: done %d files %d bytes, want 3 and %d", run, p.files.Load(), p.bytes.Load(), wantBytes)
		}
		if run == "first" && !p.current["/mail"] {
			t.Errorf("first run: current files %v lack /mail", p.current)
		}
	}
}
