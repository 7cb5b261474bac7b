package restorer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/backends/mem"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/internal/fsmeta"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/restorer"
	"github.com/godwit-backup/godwit/repo/tree"
)

var mtime = time.Date(2024, 7, 1, 10, 20, 30, 123456789, time.UTC)

// snap is a small snapshot stored in a mem repository.
type snap struct {
	r     *repo.Repository
	root  *tree.Node
	files map[string][]byte // path below the root → content
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// fileNode stores data in chunks of chunk bytes and returns its node.
func fileNode(t *testing.T, r *repo.Repository, name string, data []byte, chunk int) *tree.Node {
	t.Helper()
	n := &tree.Node{Name: tree.RawString(name), Type: tree.File, Mode: 0o640, Size: uint64(len(data)), MTime: mtime, ATime: mtime, Links: 1}
	for off := 0; off < len(data); off += chunk {
		id, _, err := r.SaveBlob(context.Background(), blob.DataBlob, data[off:min(off+chunk, len(data))])
		if err != nil {
			t.Fatal(err)
		}
		n.Content = append(n.Content, id)
	}
	return n
}

func dirNode(t *testing.T, r *repo.Repository, name string, mode uint32, nodes ...*tree.Node) *tree.Node {
	t.Helper()
	tr := &tree.Tree{}
	for _, n := range nodes {
		if err := tr.Insert(n); err != nil {
			t.Fatal(err)
		}
	}
	id, _, err := r.SaveTree(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	return &tree.Node{Name: tree.RawString(name), Type: tree.Dir, Mode: mode, MTime: mtime, ATime: mtime, Subtree: &id}
}

// newSnap stores this tree:
//
//	etc/hosts
//	mail          (three chunks)
//	link -> etc/hosts
//	h1, h2        (one file, two names)
//	fifo
func newSnap(t *testing.T) *snap {
	t.Helper()
	c, err := crypto.PassphraseCredential("pw", 10)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Init(context.Background(), mem.New(), repo.InitOptions{Credentials: []crypto.Credential{c}, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	s := &snap{r: r, files: map[string][]byte{
		"etc/hosts": []byte("127.0.0.1 localhost\n"),
		"mail":      randomBytes(t, 150<<10),
		"h1":        []byte("linked"),
		"h2":        []byte("linked"),
	}}
	h1 := fileNode(t, r, "h1", s.files["h1"], 1<<20)
	h1.Links, h1.Inode, h1.DeviceID = 2, 77, 5
	h2 := *h1
	h2.Name = "h2"
	s.root = dirNode(t, r, "/", 0o755,
		dirNode(t, r, "etc", 0o750, fileNode(t, r, "hosts", s.files["etc/hosts"], 1<<20)),
		fileNode(t, r, "mail", s.files["mail"], 64<<10),
		&tree.Node{Name: "link", Type: tree.Symlink, Mode: 0o777, MTime: mtime, LinkTarget: "etc/hosts"},
		h1, &h2,
		&tree.Node{Name: "fifo", Type: tree.FIFO, Mode: 0o620, MTime: mtime},
	)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) warn(path string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, path+": "+err.Error())
}

func restore(t *testing.T, r restorer.Repository, node *tree.Node, src string, opts restorer.Options) (restorer.Summary, *warnings) {
	t.Helper()
	w := &warnings{}
	opts.Owner = fsmeta.OwnerNone
	opts.Warn = w.warn
	sum, err := restorer.Restore(context.Background(), r, node, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sum, w
}

func lstat(t *testing.T, path string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes differ from the %d backed up", path, len(got), len(want))
	}
}

func TestRestoreRebuildsTheTree(t *testing.T) {
	s := newSnap(t)
	dst := t.TempDir()
	sum, w := restore(t, s.r, s.root, "/", restorer.Options{Target: dst})
	if len(w.msgs) != 0 || sum.Errors != 0 {
		t.Fatalf("warnings: %v", w.msgs)
	}
	for rel, data := range s.files {
		checkFile(t, filepath.Join(dst, rel), data)
	}
	if sum.Files != 3 || sum.Links != 1 || sum.Dirs != 1 || sum.Others != 2 || sum.Bytes != uint64(len(s.files["mail"])+20+6) {
		t.Errorf("summary %+v", sum)
	}
	st := lstat(t, filepath.Join(dst, "mail"))
	if st.Mode&0o7777 != 0o640 {
		t.Errorf("mail mode %o, want 640", st.Mode&0o7777)
	}
	if got := time.Unix(st.Mtim.Unix()); !got.Equal(mtime) {
		t.Errorf("mail mtime %v, want %v", got, mtime)
	}
	if st := lstat(t, filepath.Join(dst, "etc")); st.Mode&0o7777 != 0o750 || !time.Unix(st.Mtim.Unix()).Equal(mtime) {
		t.Errorf("etc mode %o, mtime %v: directory metadata not applied after its contents", st.Mode&0o7777, time.Unix(st.Mtim.Unix()))
	}
	if target, err := os.Readlink(filepath.Join(dst, "link")); err != nil || target != "etc/hosts" {
		t.Errorf("link -> %q, %v", target, err)
	}
	if lstat(t, filepath.Join(dst, "h1")).Ino != lstat(t, filepath.Join(dst, "h2")).Ino {
		t.Error("h1 and h2 are not one file")
	}
	if st := lstat(t, filepath.Join(dst, "fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Mode&0o7777 != 0o620 {
		t.Errorf("fifo mode %o", st.Mode)
	}
}

func TestRestoreSkipsCompleteFilesOnSecondRun(t *testing.T) {
	s := newSnap(t)
	dst := t.TempDir()
	restore(t, s.r, s.root, "/", restorer.Options{Target: dst})

	sum, w := restore(t, s.r, s.root, "/", restorer.Options{Target: dst})
	if len(w.msgs) != 0 {
		t.Fatalf("warnings: %v", w.msgs)
	}
	if sum.Skipped != 3 || sum.Bytes != 0 {
		t.Errorf("second restore: skipped %d, wrote %d bytes; want all 3 files skipped", sum.Skipped, sum.Bytes)
	}

	// An interrupted file (wrong size) is written again, the others are not.
	mail := filepath.Join(dst, "mail")
	if err := os.Truncate(mail, 1000); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(mail, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	sum, _ = restore(t, s.r, s.root, "/", restorer.Options{Target: dst})
	if sum.Skipped != 2 || sum.Bytes != uint64(len(s.files["mail"])) {
		t.Errorf("third restore: skipped %d, wrote %d bytes; want only mail rewritten", sum.Skipped, sum.Bytes)
	}
	checkFile(t, mail, s.files["mail"])
}

func TestRestoreWithIncludeRestoresOnlyThatPath(t *testing.T) {
	s := newSnap(t)
	dst := t.TempDir()
	sum, _ := restore(t, s.r, s.root, "/", restorer.Options{Target: dst, Include: []string{"/etc/hosts"}})
	checkFile(t, filepath.Join(dst, "etc", "hosts"), s.files["etc/hosts"])
	entries, _ := os.ReadDir(dst)
	if len(entries) != 1 || entries[0].Name() != "etc" {
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		t.Errorf("target holds %v, want only etc", got)
	}
	if sum.Files != 1 {
		t.Errorf("restored %d files, want 1", sum.Files)
	}

	dst2 := t.TempDir()
	restore(t, s.r, s.root, "/", restorer.Options{Target: dst2, Exclude: []string{"etc", "h*"}})
	for _, name := range []string{"etc", "h1", "h2"} {
		if _, err := os.Lstat(filepath.Join(dst2, name)); !os.IsNotExist(err) {
			t.Errorf("excluded %s restored (%v)", name, err)
		}
	}
	checkFile(t, filepath.Join(dst2, "mail"), s.files["mail"])
}

func TestRestoreOfSingleFileCreatesItUnderTarget(t *testing.T) {
	s := newSnap(t)
	node, err := s.r.FindNode(context.Background(), *s.root.Subtree, "/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	sum, _ := restore(t, s.r, node, "/etc/hosts", restorer.Options{Target: dst})
	checkFile(t, filepath.Join(dst, "hosts"), s.files["etc/hosts"])
	if sum.Files != 1 {
		t.Errorf("summary %+v", sum)
	}
}

func TestRestoreOfUnreadableBlobWarnsAndIsRetriedNextTime(t *testing.T) {
	s := newSnap(t)
	good := fileNode(t, s.r, "partial", []byte("first part"), 1<<20)
	if err := s.r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	good.Content = append(good.Content, s.r.BlobID([]byte("never stored")))
	good.Size += 12
	root := dirNode(t, s.r, "/", 0o755, good)
	if err := s.r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	sum, w := restore(t, s.r, root, "/", restorer.Options{Target: dst})
	if sum.Errors != 1 || len(w.msgs) != 1 || !strings.Contains(w.msgs[0], "incomplete") {
		t.Errorf("errors %d, warnings %v; want one incomplete-content warning", sum.Errors, w.msgs)
	}
	got, err := os.ReadFile(filepath.Join(dst, "partial"))
	if err != nil || !bytes.HasPrefix(got, []byte("first part")) || len(got) != int(good.Size) {
		t.Errorf("partial file holds %q, %v", got, err)
	}
	sum, _ = restore(t, s.r, root, "/", restorer.Options{Target: dst})
	if sum.Skipped != 0 {
		t.Error("an incomplete file was taken as complete")
	}
}

func TestSparseRestoreLeavesHoles(t *testing.T) {
	const mib = 1 << 20
	probe := filepath.Join(t.TempDir(), "probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(probe, 8*mib); err != nil {
		t.Fatal(err)
	}
	if lstat(t, probe).Blocks*512 >= mib {
		t.Skip("the temporary directory's file system does not keep holes")
	}

	s := newSnap(t)
	data := append(randomBytes(t, mib), make([]byte, 6*mib)...)
	data = append(data, randomBytes(t, mib)...)
	// 100 KiB chunks: zero blocks fall at offsets that are not multiples
	// of the chunk size.
	root := dirNode(t, s.r, "/", 0o755, fileNode(t, s.r, "disk.img", data, 100<<10))
	if err := s.r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sparse     bool
		maxAlloced int64
		minAlloced int64
	}{
		{sparse: true, maxAlloced: 3 * mib},
		{sparse: false, minAlloced: 8 * mib},
	} {
		dst := t.TempDir()
		restore(t, s.r, root, "/", restorer.Options{Target: dst, Sparse: tc.sparse})
		path := filepath.Join(dst, "disk.img")
		checkFile(t, path, data)
		alloced := lstat(t, path).Blocks * 512
		if tc.maxAlloced > 0 && alloced > tc.maxAlloced {
			t.Errorf("sparse=%v: %d bytes allocated, want at most %d", tc.sparse, alloced, tc.maxAlloced)
		}
		if alloced < tc.minAlloced {
			t.Errorf("sparse=%v: %d bytes allocated, want at least %d", tc.sparse, alloced, tc.minAlloced)
		}
	}
}

func TestRestoreOfDirectoryIncludingItselfRestoresItsContents(t *testing.T) {
	s := newSnap(t)
	node, err := s.r.FindNode(context.Background(), *s.root.Subtree, "/etc")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	sum, _ := restore(t, s.r, node, "/etc", restorer.Options{Target: dst, Include: []string{"/etc"}})
	checkFile(t, filepath.Join(dst, "hosts"), s.files["etc/hosts"])
	if sum.Files != 1 {
		t.Errorf("restored %d files, want 1", sum.Files)
	}
}
