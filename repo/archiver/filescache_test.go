package archiver

import (
	"bytes"
	"fmt"
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
	if err := os.WriteFile(path, append(bytes.Clone(filesCacheMagic), "\x07 not a record"...), 0o600); err != nil {
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
	// Version 1 was a gob stream; anything without the magic is another
	// version and starts afresh without a warning.
	if err := os.WriteFile(path, []byte("\x3f\xff\x81\x03\x01\x01\x0efilesCacheFile"), 0o600); err != nil {
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

func TestFilesCacheCutShortIsUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "files")
	c := NewFilesCache(path)
	for i := range 100 {
		c.Record(fmt.Sprintf("/home/u%d/Maildir/cur/%d", i, i), CacheEntry{Size: uint64(i), Content: []blob.ID{{byte(i)}}})
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{len(b) - 1, len(b) / 2, len(filesCacheMagic) + 3} {
		if err := os.WriteFile(path, b[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadFilesCache(path)
		if err == nil || !strings.Contains(err.Error(), "re-read") {
			t.Errorf("cache cut to %d of %d bytes: LoadFilesCache = %v, want an unreadable-cache error", n, len(b), err)
		}
		if _, ok := c.Lookup("/home/u1/Maildir/cur/1"); ok {
			t.Errorf("cache cut to %d bytes still answers", n)
		}
	}
}

func TestFilesCacheDiscardKeepsTheOldCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "files")
	c := NewFilesCache(path)
	c.Record("/etc/passwd", CacheEntry{Size: 1})
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFilesCache(path)
	if err != nil {
		t.Fatal(err)
	}
	c.Record("/etc/group", CacheEntry{Size: 2})
	c.Discard()
	c.Discard()
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".files-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	c, err = LoadFilesCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Lookup("/etc/passwd"); !ok {
		t.Error("Discard lost the old cache")
	}
	if _, ok := c.Lookup("/etc/group"); ok {
		t.Error("a discarded entry was saved")
	}
}

func TestFilesCacheHoldsNoFileNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "files")
	c := NewFilesCache(path)
	c.Record("/home/alice/Maildir/cur/secret-name", CacheEntry{Size: 1})
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("alice")) || bytes.Contains(b, []byte("secret-name")) {
		t.Errorf("the cache file holds a file name: %q", b)
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

// TestFilesCacheReadsBlobIdsFromTheFileItLoaded checks that entries keep
// their content when the cache file is replaced after loading, as Save of
// another backup does: the ids come from the file that was loaded.
func TestFilesCacheReadsBlobIdsFromTheFileItLoaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "files")
	c := NewFilesCache(path)
	want := map[string]CacheEntry{}
	for i := range 50 {
		p := fmt.Sprintf("/var/mail/u%d", i)
		e := CacheEntry{Device: 7, Inode: uint64(i), Size: uint64(i * 10), MTime: int64(i), CTime: int64(-i)}
		for k := range i % 4 {
			e.Content = append(e.Content, blob.ID{byte(i), byte(k)})
		}
		want[p] = e
		c.Record(p, e)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFilesCache(path)
	if err != nil {
		t.Fatal(err)
	}
	// Replace the file as Save does: a new file renamed over it.
	if err := os.WriteFile(path+".new", []byte("replaced"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	for p, e := range want {
		got, ok := c.Lookup(p)
		if !ok || !reflect.DeepEqual(got, e) {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", p, got, ok, e)
		}
	}
	c.Discard()
	if _, ok := c.Lookup("/var/mail/u1"); ok {
		t.Error("Lookup answers after Discard")
	}
}
