package archiver

import (
	"encoding/gob"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/godwit-backup/godwit/repo/blob"
)

func TestFilesCacheSaveThenLoadRoundTrips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "files")
	c, err := LoadFilesCache(path)
	if err != nil {
		t.Fatalf("LoadFilesCache of a missing file = %v", err)
	}
	if _, ok := c.Lookup("/etc/passwd"); ok {
		t.Fatal("a new cache knows a path")
	}
	entry := CacheEntry{Device: 1, Inode: 2, Size: 3, MTime: 4, CTime: 5, Content: []blob.ID{{6}, {7}}}
	c.Record("/etc/passwd", entry)
	if _, ok := c.Lookup("/etc/passwd"); ok {
		t.Error("Lookup sees an entry recorded in this backup; it must answer from the previous one")
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache directory: %v, %v; want mode 0700", fi, err)
	}

	c2, err := LoadFilesCache(path)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := c2.Lookup("/etc/passwd")
	if !ok || !reflect.DeepEqual(got, entry) {
		t.Errorf("Lookup = %+v, %v; want %+v", got, ok, entry)
	}

	// A backup that does not see the file drops it.
	if err := c2.Save(); err != nil {
		t.Fatal(err)
	}
	c3, err := LoadFilesCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c3.Lookup("/etc/passwd"); ok {
		t.Error("an entry not recorded in the last backup survived")
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".files-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestFilesCacheCorruptFileGivesEmptyCacheAndError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "files")
	if err := os.WriteFile(path, []byte("not a gob stream"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFilesCache(path)
	if err == nil || !strings.Contains(err.Error(), "re-read") {
		t.Errorf("LoadFilesCache = %v, want an unreadable-cache error", err)
	}
	if c == nil {
		t.Fatal("no cache returned with the error")
	}
	if _, ok := c.Lookup("/x"); ok {
		t.Error("corrupt cache knows a path")
	}
	c.Record("/x", CacheEntry{Size: 1})
	if err := c.Save(); err != nil {
		t.Fatalf("the returned cache cannot be saved: %v", err)
	}
	if _, err := LoadFilesCache(path); err != nil {
		t.Errorf("cache rewritten after corruption is unreadable: %v", err)
	}
}

func TestFilesCacheOfAnotherVersionIsIgnored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "files")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	err = gob.NewEncoder(f).Encode(filesCacheFile{Version: filesCacheVersion + 1, Entries: map[string]CacheEntry{"/x": {Size: 1}}})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadFilesCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Lookup("/x"); ok {
		t.Error("an entry of another cache version was used")
	}
}

func TestNilFilesCacheIsUsable(t *testing.T) {
	var c *FilesCache
	if _, ok := c.Lookup("/x"); ok {
		t.Error("nil cache knows a path")
	}
	c.Record("/x", CacheEntry{})
	if err := c.Save(); err != nil {
		t.Errorf("Save of a nil cache = %v", err)
	}
}
