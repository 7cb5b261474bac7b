package local_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/backendtest"
	"github.com/godwit-backup/godwit/backends/local"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return create(t, filepath.Join(t.TempDir(), "repo"))
	})
}

func create(t *testing.T, path string) *local.Backend {
	t.Helper()
	be, err := local.Create(t.Context(), path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return be
}

func save(t *testing.T, be backends.Backend, h backends.Handle, data string) {
	t.Helper()
	if err := be.Save(t.Context(), h, []byte(data)); err != nil {
		t.Fatalf("save %v: %v", h, err)
	}
}

func list(t *testing.T, be backends.Backend, ft backends.FileType) []string {
	t.Helper()
	var names []string
	err := be.List(t.Context(), ft, func(fi backends.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", ft, err)
	}
	slices.Sort(names)
	return names
}

// dirNames returns the sorted names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestCreateMakesLayoutWithPrivateModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "repo")
	be := create(t, path)
	if be.Location() != path {
		t.Errorf("location: got %q, want %q", be.Location(), path)
	}

	var dirs []string
	for _, d := range []string{"", "keys", "data", "index", "snapshots", "locks"} {
		dirs = append(dirs, filepath.Join(path, d))
	}
	for i := range 256 {
		dirs = append(dirs, filepath.Join(path, "data", fmt.Sprintf("%02x", i)))
	}
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want a directory with mode 0700", d, fi.Mode())
		}
	}
	if got := len(dirNames(t, filepath.Join(path, "data"))); got != 256 {
		t.Errorf("data holds %d entries, want 256", got)
	}
	if _, err := os.Stat(filepath.Join(path, "config")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("create wrote a config: stat returned %v", err)
	}

	save(t, be, backends.Handle{Type: backends.ConfigFile}, "one")
	save(t, be, backends.Handle{Type: backends.ConfigFile}, "two")
	save(t, be, backends.Handle{Type: backends.PackFile, Name: "abcdef"}, "pack")
	save(t, be, backends.Handle{Type: backends.KeyFile, Name: "k1"}, "key")
	for _, f := range []string{"config", "data/ab/abcdef", "keys/k1"} {
		fi, err := os.Stat(filepath.Join(path, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != 0o600 {
			t.Errorf("%s: mode %v, want -rw-------", f, fi.Mode())
		}
	}
}

func TestCreateUsesExistingEmptyDirectory(t *testing.T) {
	path := t.TempDir()
	be := create(t, path)
	save(t, be, backends.Handle{Type: backends.IndexFile, Name: "i1"}, "index")
	if _, err := os.Stat(filepath.Join(path, "index", "i1")); err != nil {
		t.Error(err)
	}
}

func TestCreateFailsOnExistingRepository(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo")
	be := create(t, path)
	save(t, be, backends.Handle{Type: backends.ConfigFile}, "config")
	save(t, be, backends.Handle{Type: backends.SnapshotFile, Name: "s1"}, "snapshot")

	_, err := local.Create(t.Context(), path)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("create over a repository: got %v, want fs.ErrExist", err)
	}
	if want := "repository " + path + " already exists"; err.Error() != want {
		t.Errorf("error: got %q, want %q", err, want)
	}
	if got := list(t, be, backends.SnapshotFile); !slices.Equal(got, []string{"s1"}) {
		t.Errorf("snapshots after failed create: %v", got)
	}
}

func TestOpenMissingRepositoryWrapsErrNotExist(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	create(t, empty) // a layout without a config is not a repository yet

	for _, path := range []string{filepath.Join(dir, "missing"), file, empty} {
		_, err := local.Open(t.Context(), path)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("open %s: got %v, want fs.ErrNotExist", path, err)
			continue
		}
		if want := "repository " + path + " does not exist"; err.Error() != want {
			t.Errorf("open %s: got %q, want %q", path, err, want)
		}
	}
}

func TestOpenSeesObjectsOfCreatedRepository(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo")
	be := create(t, path)
	save(t, be, backends.Handle{Type: backends.ConfigFile}, "config")
	save(t, be, backends.Handle{Type: backends.PackFile, Name: "ff00"}, "pack")

	opened, err := local.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := backends.LoadAll(t.Context(), opened, backends.Handle{Type: backends.PackFile, Name: "ff00"})
	if err != nil || string(data) != "pack" {
		t.Errorf("load through opened backend: got %q, %v", data, err)
	}
}

func TestOpenRespectsCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	path := filepath.Join(t.TempDir(), "repo")
	if _, err := local.Create(ctx, path); !errors.Is(err, context.Canceled) {
		t.Errorf("create: got %v, want context.Canceled", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cancelled create made %s: %v", path, err)
	}
	if _, err := local.Open(ctx, path); !errors.Is(err, context.Canceled) {
		t.Errorf("open: got %v, want context.Canceled", err)
	}
}

func TestObjectsAreStoredAtLayoutPaths(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo")
	be := create(t, path)
	tests := []struct {
		h    backends.Handle
		file string
	}{
		{backends.Handle{Type: backends.ConfigFile}, "config"},
		{backends.Handle{Type: backends.KeyFile, Name: "k"}, "keys/k"},
		{backends.Handle{Type: backends.PackFile, Name: "abcd"}, "data/ab/abcd"},
		{backends.Handle{Type: backends.PackFile, Name: "09"}, "data/09/09"},
		{backends.Handle{Type: backends.PackFile, Name: "zz-top"}, "data/zz/zz-top"},
		{backends.Handle{Type: backends.IndexFile, Name: "i"}, "index/i"},
		{backends.Handle{Type: backends.SnapshotFile, Name: "s"}, "snapshots/s"},
		{backends.Handle{Type: backends.LockFile, Name: "l"}, "locks/l"},
	}
	for _, tc := range tests {
		save(t, be, tc.h, tc.h.String())
		data, err := os.ReadFile(filepath.Join(path, tc.file))
		if err != nil || string(data) != tc.h.String() {
			t.Errorf("%v: read %s: got %q, %v", tc.h, tc.file, data, err)
		}
	}
}

func TestSaveRecreatesMissingDirectories(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo")
	be := create(t, path)
	for _, d := range []string{"index", "data/ab"} {
		if err := os.Remove(filepath.Join(path, d)); err != nil {
			t.Fatal(err)
		}
	}
	save(t, be, backends.Handle{Type: backends.IndexFile, Name: "i1"}, "index")
	save(t, be, backends.Handle{Type: backends.PackFile, Name: "ab12"}, "pack")
	if got := list(t, be, backends.IndexFile); !slices.Equal(got, []string{"i1"}) {
		t.Errorf("list index: %v", got)
	}
	if got := list(t, be, backends.PackFile); !slices.Equal(got, []string{"ab12"}) {
		t.Errorf("list data: %v", got)
	}
	fi, err := os.Stat(filepath.Join(path, "index"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("recreated index directory: %v, %v", fi, err)
	}
}

func TestListSkipsForeignFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo")
	be := create(t, path)
	save(t, be, backends.Handle{Type: backends.IndexFile, Name: "i1"}, "index")
	save(t, be, backends.Handle{Type: backends.PackFile, Name: "ab01"}, "pack")

	for _, f := range []string{
		"index/.tmp-123456",  // left by a crash during Save
		"index/notes.txt",    // not a valid name
		"index/sub/i2",       // below a subdirectory
		"data/ab/.tmp-99",    // left by a crash during Save
		"data/ab/cd01",       // in the wrong prefix directory
		"data/abc/abc1",      // prefix directory of the wrong length
		"data/a.b/a.b1",      // prefix directory with an invalid name
		"data/README",        // a file where prefix directories are
		"snapshots/.tmp-abc", // left by a crash during Save
	} {
		p := filepath.Join(path, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(path, "locks", "dir"), 0o700); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		ft   backends.FileType
		want []string
	}{
		{backends.IndexFile, []string{"i1"}},
		{backends.PackFile, []string{"ab01"}},
		{backends.SnapshotFile, nil},
		{backends.LockFile, nil},
	} {
		if got := list(t, be, tc.ft); !slices.Equal(got, tc.want) {
			t.Errorf("list %s: got %v, want %v", tc.ft, got, tc.want)
		}
	}
}

func TestFailedSaveLeavesNoTemporaryFile(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()

	tests := []struct {
		name    string
		prepare func(t *testing.T, path string, be *local.Backend)
		ctx     context.Context
		h       backends.Handle
		dir     string   // directory to inspect, relative to the repository
		want    []string // its entries afterwards
		wantErr error
		wantMsg string // prefix of the error message
	}{
		{
			name: "existing pack",
			prepare: func(t *testing.T, _ string, be *local.Backend) {
				save(t, be, backends.Handle{Type: backends.PackFile, Name: "ab01"}, "original")
			},
			h:       backends.Handle{Type: backends.PackFile, Name: "ab01"},
			dir:     "data/ab",
			want:    []string{"ab01"},
			wantErr: fs.ErrExist,
			wantMsg: "save data/ab/ab01: ",
		},
		{
			name: "config replaced by a directory",
			prepare: func(t *testing.T, path string, _ *local.Backend) {
				if err := os.MkdirAll(filepath.Join(path, "config", "x"), 0o700); err != nil {
					t.Fatal(err)
				}
			},
			h:       backends.Handle{Type: backends.ConfigFile},
			dir:     ".",
			want:    []string{"config", "data", "index", "keys", "locks", "snapshots"},
			wantMsg: "save config: ",
		},
		{
			name:    "cancelled context",
			ctx:     cancelled,
			h:       backends.Handle{Type: backends.IndexFile, Name: "i1"},
			dir:     "index",
			want:    nil,
			wantErr: context.Canceled,
			wantMsg: "save index/i1: ",
		},
		{
			name: "read-only directory",
			prepare: func(t *testing.T, path string, _ *local.Backend) {
				if os.Geteuid() == 0 {
					t.Skip("permissions do not apply to root")
				}
				dir := filepath.Join(path, "snapshots")
				if err := os.Chmod(dir, 0o500); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
			},
			h:       backends.Handle{Type: backends.SnapshotFile, Name: "s1"},
			dir:     "snapshots",
			want:    nil,
			wantErr: fs.ErrPermission,
			wantMsg: "save snapshots/s1: ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "repo")
			be := create(t, path)
			if tc.prepare != nil {
				tc.prepare(t, path, be)
			}
			ctx := tc.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			err := be.Save(ctx, tc.h, []byte("new contents"))
			if err == nil {
				t.Fatal("save: got no error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("save: got %v, want %v", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), tc.wantMsg) || strings.Contains(err.Error(), path) {
				t.Errorf("save: error %q does not name the object as %q", err, tc.wantMsg)
			}
			if got := dirNames(t, filepath.Join(path, tc.dir)); !slices.Equal(got, tc.want) {
				t.Errorf("%s after failed save: got %v, want %v", tc.dir, got, tc.want)
			}
		})
	}
}
