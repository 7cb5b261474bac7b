package repo_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/lock"
)

func takeLock(t *testing.T, r *repo.Repository, exclusive bool, now func() time.Time) *repo.HeldLock {
	t.Helper()
	h, err := r.Lock(context.Background(), exclusive, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Release(context.Background()) })
	return h
}

func TestLockConflicts(t *testing.T) {
	cases := []struct {
		name         string
		held, wanted bool // exclusive?
		wantConflict bool
	}{
		{"shared after shared", false, false, false},
		{"exclusive after shared", false, true, true},
		{"shared after exclusive", true, false, true},
		{"exclusive after exclusive", true, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			be, r := newRepo(t, 0)
			takeLock(t, r, tc.held, time.Now)
			h, err := r.Lock(ctx, tc.wanted, time.Now)
			if !tc.wantConflict {
				if err != nil {
					t.Fatalf("Lock = %v, want success", err)
				}
				_ = h.Release(ctx)
				return
			}
			if !errors.Is(err, repo.ErrLocked) {
				t.Fatalf("Lock = %v, want ErrLocked", err)
			}
			if !strings.Contains(err.Error(), "locks/") {
				t.Errorf("error %q does not name the lock", err)
			}
			if n := len(names(t, be, backends.LockFile)); n != 1 {
				t.Errorf("%d lock objects after a refused lock, want only the holder's", n)
			}
		})
	}
}

func TestReleaseRemovesTheLockObject(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 0)
	h, err := r.Lock(ctx, true, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(names(t, be, backends.LockFile)); n != 1 {
		t.Fatalf("%d lock objects while held, want 1", n)
	}
	if err := h.Err(); err != nil {
		t.Errorf("Err = %v", err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(names(t, be, backends.LockFile)); n != 0 {
		t.Errorf("%d lock objects after Release, want 0", n)
	}
	if err := h.Release(ctx); err != nil {
		t.Errorf("second Release = %v", err)
	}
	takeLock(t, r, true, time.Now)
}

func TestStaleLockByTimeIsIgnored(t *testing.T) {
	_, r := newRepo(t, 0)
	takeLock(t, r, true, time.Now)
	later := func() time.Time { return time.Now().Add(lock.StaleAfter + time.Minute) }
	takeLock(t, r, true, later)
}

// saveLock writes a lock object as another process would.
func saveLock(t *testing.T, be backends.Backend, r *repo.Repository, l lock.Lock) {
	t.Helper()
	plain, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := r.Keys().SealMeta(plain)
	if err != nil {
		t.Fatal(err)
	}
	name := blob.ID(r.Keys().MetaID(plain)).String()
	if err := be.Save(context.Background(), backends.Handle{Type: backends.LockFile, Name: name}, sealed); err != nil {
		t.Fatal(err)
	}
}

func TestLockOfDeadProcessOnThisHostIsIgnored(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	dead := cmd.Process.Pid
	cases := []struct {
		name       string
		host       string
		pid        int
		wantLocked bool
	}{
		{"dead process on this host", host, dead, false},
		{"same pid on another host", host + "-other", dead, true},
		{"live process on this host", host, os.Getpid(), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be, r := newRepo(t, 0)
			saveLock(t, be, r, lock.Lock{Time: time.Now().UTC(), Exclusive: true, Host: tc.host, PID: tc.pid, Nonce: "01"})
			h, err := r.Lock(context.Background(), false, time.Now)
			if tc.wantLocked {
				if !errors.Is(err, repo.ErrLocked) {
					t.Errorf("Lock = %v, want ErrLocked", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lock = %v, want the stale lock ignored", err)
			}
			_ = h.Release(context.Background())
		})
	}
}
