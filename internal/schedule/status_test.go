package schedule

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStatusRoundTripsWithMode0600(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var/lib/godwit/status")
	st := Status{
		Start:      time.Date(2024, 5, 1, 3, 0, 0, 0, time.UTC),
		End:        time.Date(2024, 5, 1, 3, 4, 10, 0, time.UTC),
		ExitCode:   3,
		SnapshotID: "4f2a9c1e",
		Error:      "2 files could not be read",
	}
	if err := WriteStatus(dir, "mail", st); err != nil {
		t.Fatal(err)
	}
	got, err := ReadStatus(dir, "mail")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Start.Equal(st.Start) || !got.End.Equal(st.End) || got.ExitCode != 3 || got.SnapshotID != st.SnapshotID || got.Error != st.Error {
		t.Errorf("read %+v, wrote %+v", got, st)
	}
	fi, err := os.Stat(filepath.Join(dir, "mail.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("status dir holds %d entries, want only mail.json", len(ents))
	}
}

func TestReadStatusOfUnknownProfileIsNotExist(t *testing.T) {
	_, err := ReadStatus(t.TempDir(), "mail")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestStatusRefusesUnsafeProfileNames(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"", "../etc", "a/b", "mail.old", "-x", "a b", "ünï"} {
		if err := WriteStatus(dir, p, Status{}); err == nil {
			t.Errorf("WriteStatus(%q) succeeded", p)
		}
		if _, err := ReadStatus(dir, p); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadStatus(%q) = %v, want a name error", p, err)
		}
	}
}

func TestStatusResult(t *testing.T) {
	for code, want := range map[int]string{0: "ok", 3: "incomplete", 1: "failed", 11: "failed", 12: "failed"} {
		if got := (Status{ExitCode: code}).Result(); got != want {
			t.Errorf("exit %d: %q, want %q", code, got, want)
		}
	}
}
