package archiver_test

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/godwit-backup/godwit/repo/archiver"
)

// progress records what an archiver reports; SetTotal comes from another
// goroutine than the rest.
type progress struct {
	mu                     sync.Mutex
	totalFiles, totalBytes uint64
	totals                 int
	files, bytes           atomic.Uint64
	current                []string
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
	p.current = append(p.current, path)
}

func TestProgressCountsWhatTheScanFound(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a"), randomBytes(t, 3000))
	writeFile(t, filepath.Join(dir, "sub", "b"), randomBytes(t, 70000))
	writeFile(t, filepath.Join(dir, "sub", "skip.tmp"), randomBytes(t, 500))
	if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	ex, err := archiver.NewExcluder([]string{"*.tmp"})
	if err != nil {
		t.Fatal(err)
	}
	for _, pass := range []string{"read", "files cache"} {
		t.Run(pass, func(t *testing.T) {
			p := &progress{}
			fc := archiver.NewFilesCache(filepath.Join(dir, "..", "fc-"+filepath.Base(dir)))
			r := newRepo(t)
			opts := archiver.Options{Excluder: ex, Progress: p, FilesCache: fc}
			// "sub" inside dir is dropped: it is below another path.
			run(t, r, opts, dir, filepath.Join(dir, "sub"))
			if pass == "files cache" {
				p = &progress{}
				opts.Progress = p
				run(t, r, opts, dir)
			}
			if p.totals != 1 || p.totalFiles != 3 || p.totalBytes != 73000 {
				t.Errorf("totals %d files %d bytes (reported %d times), want 3 files 73000 bytes once", p.totalFiles, p.totalBytes, p.totals)
			}
			if p.files.Load() != 3 || p.bytes.Load() != 73000 {
				t.Errorf("done %d files %d bytes, want 3 and 73000", p.files.Load(), p.bytes.Load())
			}
			want := []string{filepath.Join(dir, "a"), filepath.Join(dir, "sub", "b")}
			if len(p.current) != 2 || p.current[0] != want[0] || p.current[1] != want[1] {
				t.Errorf("current files %q, want %q", p.current, want)
			}
		})
	}
}
