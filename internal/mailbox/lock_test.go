package mailbox

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDotLockCreatesAndRemovesLockFileWithPid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bob")
	unlock, err := DotLock(path, time.Second, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(os.Getpid()) + "\n"; string(b) != want {
		t.Errorf("lock file holds %q, want %q", b, want)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file still present after unlock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Errorf("second unlock = %v, want the first result", err)
	}
}

func TestDotLockExcludesSecondHolderUntilUnlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bob")
	unlock, err := DotLock(path, time.Second, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = DotLock(path, 150*time.Millisecond, time.Now)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second DotLock error = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("error %q does not name the holder's pid", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock2, err := DotLock(path, 150*time.Millisecond, time.Now)
	if err != nil {
		t.Fatalf("DotLock after unlock: %v", err)
	}
	if err := unlock2(); err != nil {
		t.Fatal(err)
	}
}

func TestDotLockReportsHolderWithoutPid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bob")
	if err := os.WriteFile(path+".lock", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := DotLock(path, 0, time.Now)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "unknown process") {
		t.Fatalf("DotLock error = %v, want ErrLocked naming an unknown process", err)
	}
}

func TestDotLockUsesInjectedClockForStaleness(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bob")
	if err := os.WriteFile(path+".lock", []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		skew      time.Duration
		wantStale bool
	}{
		{"four minutes old is held", 4 * time.Minute, false},
		{"six minutes old is stale", 6 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := func() time.Time { return time.Now().Add(tt.skew) }
			unlock, err := DotLock(path, 0, clock)
			if tt.wantStale {
				if err != nil {
					t.Fatalf("DotLock = %v, want the stale lock taken over", err)
				}
				if err := unlock(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("DotLock = %v, want ErrLocked", err)
			}
		})
	}
}

func TestDotLockUnlockReportsTakeover(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bob")
	unlock, err := DotLock(path, time.Second, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	// Another program judged the lock stale and replaced it with its own.
	if err := os.Remove(path + ".lock"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".lock", []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err == nil || !strings.Contains(err.Error(), "taken over") {
		t.Errorf("unlock = %v, want a takeover error", err)
	}
	if b, err := os.ReadFile(path + ".lock"); err != nil || string(b) != "4242\n" {
		t.Errorf("the other program's lock was disturbed: %q, %v", b, err)
	}
}

func TestDotLockFailsWhenDirectoryIsMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "bob")
	_, err := DotLock(path, time.Second, time.Now)
	if err == nil || errors.Is(err, ErrLocked) {
		t.Fatalf("DotLock = %v, want a creation error", err)
	}
}

func TestDotLockRenewsMtimeWhileHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bob")
	later := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	l, err := takeDotLock(path, time.Second, func() time.Time { return later }, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		fi, err := os.Stat(path + ".lock")
		if err != nil {
			t.Fatal(err)
		}
		if fi.ModTime().Equal(later) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock mtime %v never renewed to %v", fi.ModTime(), later)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := l.unlock(); err != nil {
		t.Fatal(err)
	}
}
