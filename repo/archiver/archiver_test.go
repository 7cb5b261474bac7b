package archiver_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends/mem"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/archiver"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
)

func newRepo(t *testing.T) *repo.Repository {
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
	return r
}

// warnings collects what an archiver reports.
type warnings struct {
	mu    sync.Mutex
	paths []string
}

func (w *warnings) warn(path string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.paths = append(w.paths, path+": "+err.Error())
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func run(t *testing.T, r *repo.Repository, opts archiver.Options, paths ...string) (*snapshot.Snapshot, *warnings) {
	t.Helper()
	w := &warnings{}
	opts.Warn = w.warn
	sn, err := archiver.New(r, opts).Run(context.Background(), paths)
	if err != nil {
		t.Fatal(err)
	}
	return sn, w
}

func findNode(t *testing.T, r *repo.Repository, sn *snapshot.Snapshot, path string) *tree.Node {
	t.Helper()
	n, err := r.FindNode(context.Background(), sn.Tree, path)
	if err != nil {
		t.Fatalf("FindNode(%s): %v", path, err)
	}
	return n
}

func readContent(t *testing.T, r *repo.Repository, n *tree.Node) []byte {
	t.Helper()
	var out []byte
	for _, id := range n.Content {
		b, err := r.LoadBlob(context.Background(), blob.DataBlob, id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

func TestRunStoresTreeUnderAbsolutePaths(t *testing.T) {
	src := t.TempDir()
	big := randomBytes(t, 300<<10)
	writeFile(t, filepath.Join(src, "a.txt"), []byte("hello"))
	writeFile(t, filepath.Join(src, "sub", "big.bin"), big)
	if err := os.Symlink("a.txt", filepath.Join(src, "sym")); err != nil {
		t.Fatal(err)
	}
	r := newRepo(t)
	start := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	sn, w := run(t, r, archiver.Options{Host: "mx1", Tags: []string{"t"}, Now: func() time.Time { return start }}, src)
	if len(w.paths) != 0 || sn.Incomplete || sn.Summary.Errors != 0 {
		t.Errorf("warnings %v, incomplete %v", w.paths, sn.Incomplete)
	}
	if sn.Host != "mx1" || !sn.Time.Equal(start) || len(sn.Paths) != 1 || sn.Paths[0] != src {
		t.Errorf("snapshot %+v", sn)
	}
	found, err := r.FindSnapshot(context.Background(), "latest", snapshot.Filter{})
	if err != nil || found.ID != sn.ID {
		t.Fatalf("snapshot not saved: %v", err)
	}

	// The root tree holds only the directories leading to src.
	root, err := r.LoadTree(context.Background(), sn.Tree)
	if err != nil {
		t.Fatal(err)
	}
	first := strings.Split(strings.Trim(src, "/"), "/")[0]
	if len(root.Nodes) != 1 || string(root.Nodes[0].Name) != first {
		t.Errorf("root tree holds %d nodes, want only %q", len(root.Nodes), first)
	}

	if got := readContent(t, r, findNode(t, r, sn, src+"/a.txt")); string(got) != "hello" {
		t.Errorf("a.txt content %q", got)
	}
	bn := findNode(t, r, sn, src+"/sub/big.bin")
	if got := readContent(t, r, bn); string(got) != string(big) || bn.Size != uint64(len(big)) {
		t.Errorf("big.bin: %d bytes restored of %d, size %d", len(got), len(big), bn.Size)
	}
	if sym := findNode(t, r, sn, src+"/sym"); sym.Type != tree.Symlink || sym.LinkTarget != "a.txt" {
		t.Errorf("symlink node %+v", sym)
	}
	s := sn.Summary
	if s.FilesNew != 2 || s.Others != 1 || s.BytesRead != uint64(len(big)+5) || s.TotalSize != s.BytesRead {
		t.Errorf("summary %+v", s)
	}
}

func TestRunLeavesOutExcludedPaths(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "keep.txt"), []byte("keep"))
	writeFile(t, filepath.Join(src, "x.tmp"), []byte("tmp"))
	writeFile(t, filepath.Join(src, "deep", "y.tmp"), []byte("tmp"))
	writeFile(t, filepath.Join(src, "cache", "big"), randomBytes(t, 1000))
	writeFile(t, filepath.Join(src, "tagged", "CACHEDIR.TAG"), []byte("Signature: 8a477f597d28d172789f06886806bc55\n"))
	writeFile(t, filepath.Join(src, "tagged", "data"), []byte("cached"))
	ex, err := archiver.NewExcluder([]string{"*.tmp", src + "/cache"})
	if err != nil {
		t.Fatal(err)
	}
	r := newRepo(t)
	sn, _ := run(t, r, archiver.Options{Excluder: ex, ExcludeCaches: true}, src)

	top, err := r.LoadTree(context.Background(), *findNode(t, r, sn, src).Subtree)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range top.Nodes {
		got = append(got, string(n.Name))
	}
	if strings.Join(got, ",") != "deep,keep.txt,tagged" {
		t.Errorf("backed up %v, want deep, keep.txt and tagged", got)
	}
	if deep, _ := r.LoadTree(context.Background(), *findNode(t, r, sn, src+"/deep").Subtree); len(deep.Nodes) != 0 {
		t.Errorf("deep holds %d nodes, want its *.tmp excluded", len(deep.Nodes))
	}
	tagged, err := r.LoadTree(context.Background(), *findNode(t, r, sn, src+"/tagged").Subtree)
	if err != nil {
		t.Fatal(err)
	}
	if len(tagged.Nodes) != 1 || tagged.Nodes[0].Name != "CACHEDIR.TAG" {
		t.Errorf("cache directory holds %d nodes, want only CACHEDIR.TAG", len(tagged.Nodes))
	}
	if sn.Summary.BytesRead != uint64(len("keep")+len("Signature: 8a477f597d28d172789f06886806bc55\n")) {
		t.Errorf("read %d bytes: excluded files were read", sn.Summary.BytesRead)
	}
}

func TestRunReadsHardlinkedFileOnce(t *testing.T) {
	src := t.TempDir()
	data := randomBytes(t, 100<<10)
	writeFile(t, filepath.Join(src, "a"), data)
	if err := os.Link(filepath.Join(src, "a"), filepath.Join(src, "b")); err != nil {
		t.Fatal(err)
	}
	r := newRepo(t)
	sn, _ := run(t, r, archiver.Options{}, src)
	if sn.Summary.BytesRead != uint64(len(data)) {
		t.Errorf("read %d bytes, want the shared content once (%d)", sn.Summary.BytesRead, len(data))
	}
	a, b := findNode(t, r, sn, src+"/a"), findNode(t, r, sn, src+"/b")
	if a.Links != 2 || a.Inode != b.Inode || a.DeviceID != b.DeviceID {
		t.Errorf("link identity not recorded: %+v %+v", a, b)
	}
	if len(b.Content) == 0 || len(a.Content) != len(b.Content) || a.Content[0] != b.Content[0] {
		t.Error("hardlinks have different content")
	}
	if sn.Summary.TotalSize != 2*uint64(len(data)) {
		t.Errorf("TotalSize %d, want both names counted", sn.Summary.TotalSize)
	}
}

// isolatedSource returns a source directory as it is seen from a
// system root of its own, so that a snapshot of it records no metadata of
// /tmp or other directories that tests running alongside change.
func isolatedSource(t *testing.T) (root, src, path string) {
	root = t.TempDir()
	src = filepath.Join(root, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	return root, src, "/src"
}

func TestRunSkipsUnchangedFilesWithFilesCache(t *testing.T) {
	root, src, path := isolatedSource(t)
	writeFile(t, filepath.Join(src, "a"), randomBytes(t, 10<<10))
	writeFile(t, filepath.Join(src, "b"), randomBytes(t, 20<<10))
	cachePath := filepath.Join(t.TempDir(), "files")
	r := newRepo(t)

	backup := func() *snapshot.Snapshot {
		t.Helper()
		fc, err := archiver.LoadFilesCache(cachePath)
		if err != nil {
			t.Fatal(err)
		}
		sn, w := run(t, r, archiver.Options{FilesCache: fc, Root: root}, path)
		if len(w.paths) > 0 {
			t.Fatalf("warnings: %v", w.paths)
		}
		return sn
	}
	first := backup()
	if s := first.Summary; s.FilesNew != 2 || s.BytesRead != 30<<10 {
		t.Fatalf("first backup summary %+v", s)
	}
	second := backup()
	if s := second.Summary; s.FilesUnchanged != 2 || s.BytesRead != 0 || s.FilesNew != 0 || s.BlobsAdded != 0 {
		t.Errorf("second backup summary %+v, want both files unchanged and nothing read", s)
	}
	if second.Tree != first.Tree {
		t.Error("an unchanged tree got another root id")
	}

	writeFile(t, filepath.Join(src, "b"), randomBytes(t, 5<<10))
	third := backup()
	if s := third.Summary; s.FilesUnchanged != 1 || s.FilesChanged != 1 || s.BytesRead != 5<<10 {
		t.Errorf("third backup summary %+v, want b re-read", s)
	}
}

func TestRunWithoutFilesCacheReadsEverythingButAddsNothing(t *testing.T) {
	root, src, path := isolatedSource(t)
	writeFile(t, filepath.Join(src, "a"), randomBytes(t, 10<<10))
	r := newRepo(t)
	run(t, r, archiver.Options{Root: root}, path)
	sn, _ := run(t, r, archiver.Options{Root: root}, path)
	if s := sn.Summary; s.BytesRead != 10<<10 || s.BlobsAdded != 0 || s.StoredAdded != 0 {
		t.Errorf("summary %+v, want the file read again and deduplicated", s)
	}
}

func TestRunWarnsAboutUnreadableFileAndContinues(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can read files without permission")
	}
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "ok"), []byte("fine"))
	writeFile(t, filepath.Join(src, "secret"), []byte("no"))
	if err := os.Chmod(filepath.Join(src, "secret"), 0); err != nil {
		t.Fatal(err)
	}
	r := newRepo(t)
	sn, w := run(t, r, archiver.Options{}, src)
	if !sn.Incomplete || sn.Summary.Errors != 1 {
		t.Errorf("Incomplete %v, Errors %d; want one error", sn.Incomplete, sn.Summary.Errors)
	}
	if len(w.paths) != 1 || !strings.Contains(w.paths[0], "secret") {
		t.Errorf("warnings %v, want one about secret", w.paths)
	}
	findNode(t, r, sn, src+"/ok")
}

func TestRunOfMissingPathsWritesNoSnapshot(t *testing.T) {
	r := newRepo(t)
	w := &warnings{}
	_, err := archiver.New(r, archiver.Options{Warn: w.warn}).Run(context.Background(), []string{filepath.Join(t.TempDir(), "gone")})
	if err != archiver.ErrNothingToBackUp {
		t.Errorf("Run = %v, want ErrNothingToBackUp", err)
	}
	if len(w.paths) != 1 {
		t.Errorf("warnings %v, want one", w.paths)
	}
	if list, _ := r.Snapshots(context.Background()); len(list) != 0 {
		t.Errorf("%d snapshots written", len(list))
	}
}

func TestRunWithWriteKey(t *testing.T) {
	ctx := context.Background()
	c, _ := crypto.PassphraseCredential("pw", 10)
	be := mem.New()
	owner, err := repo.Init(ctx, be, repo.InitOptions{Credentials: []crypto.Credential{c}, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	wk, err := owner.Keys().NewWriteKey("mx1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w, err := repo.Open(ctx, be, repo.Unlocker{WriteKey: wk})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "mbox"), []byte("From a@b\n\nhi\n"))
	sn, _ := run(t, w, archiver.Options{}, src)

	o, err := repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities("pw")})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readContent(t, o, findNode(t, o, sn, src+"/mbox")); string(got) != "From a@b\n\nhi\n" {
		t.Errorf("owner reads %q", got)
	}
}
