package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/repo/lock"
)

// ErrLocked means another process holds a conflicting lock.
var ErrLocked = errors.New("repository is locked")

// HeldLock is a lock this process holds. It refreshes itself until
// Release is called.
type HeldLock struct {
	r    *Repository
	lock lock.Lock

	mu   sync.Mutex
	name string
	err  error // set when a refresh failed: the lock may be lost

	stop chan struct{}
	done chan struct{}
}

// Lock takes a shared or exclusive lock. It fails with ErrLocked, naming
// the holder, when a conflicting lock that is not stale exists.
func (r *Repository) Lock(ctx context.Context, exclusive bool, now func() time.Time) (*HeldLock, error) {
	host, _ := os.Hostname()
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	l := lock.Lock{Time: now().UTC(), Exclusive: exclusive, Host: host, PID: os.Getpid(), Username: os.Getenv("USER"), Nonce: hex.EncodeToString(nonce[:])}
	if err := r.checkLocks(ctx, exclusive, "", now); err != nil {
		return nil, err
	}
	name, err := r.writeLock(ctx, &l)
	if err != nil {
		return nil, err
	}
	// Two processes may have written their locks at the same time: check
	// again now that ours is visible, and back off if there is a conflict.
	if err := r.checkLocks(ctx, exclusive, name, now); err != nil {
		_ = r.be.Remove(context.WithoutCancel(ctx), backends.Handle{Type: backends.LockFile, Name: name})
		return nil, err
	}
	h := &HeldLock{r: r, lock: l, name: name, stop: make(chan struct{}), done: make(chan struct{})}
	go h.refresh(now)
	return h, nil
}

func (r *Repository) writeLock(ctx context.Context, l *lock.Lock) (string, error) {
	plain, err := l.Marshal()
	if err != nil {
		return "", err
	}
	id, err := r.saveMeta(ctx, backends.LockFile, plain)
	if err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	return id.String(), nil
}

func (r *Repository) checkLocks(ctx context.Context, exclusive bool, own string, now func() time.Time) error {
	names, err := r.listNames(ctx, backends.LockFile)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	var holders []string
	for _, name := range names {
		if name == own || r.releasedLock(name) {
			continue
		}
		plain, err := r.loadMeta(ctx, backends.LockFile, name)
		if err != nil {
			if backends.IsNotExist(err) {
				continue // released meanwhile
			}
			return fmt.Errorf("read lock %s: %w (if it is damaged or forged, godwit unlock removes it)", name, err)
		}
		l, err := lock.Unmarshal(plain)
		if err != nil {
			return fmt.Errorf("locks/%s: %w", name, err)
		}
		if l.Stale(now(), host) || !l.Conflicts(exclusive) {
			continue
		}
		holders = append(holders, fmt.Sprintf("%s (locks/%s)", l, name[:8]))
	}
	if len(holders) > 0 {
		return fmt.Errorf("%w: %s; wait for it to finish, or if it is gone, run godwit unlock", ErrLocked, strings.Join(holders, "; "))
	}
	return nil
}

func (h *HeldLock) refresh(now func() time.Time) {
	defer close(h.done)
	t := time.NewTicker(lock.RefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		l := h.lock
		l.Time = now().UTC()
		name, err := h.r.writeLock(ctx, &l)
		h.mu.Lock()
		if err != nil {
			if h.err == nil {
				h.err = fmt.Errorf("refresh lock: %w", err)
			}
		} else {
			old := h.name
			h.name = name
			_ = h.r.be.Remove(ctx, backends.Handle{Type: backends.LockFile, Name: old})
		}
		h.mu.Unlock()
		cancel()
	}
}

// Err returns an error if refreshing the lock failed: the holder must
// stop before writing a snapshot, since another process may consider the
// lock stale.
func (h *HeldLock) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Release stops refreshing and removes the lock object. It may be called
// more than once. If the removal fails, the error is returned and the lock
// object stays until it is stale or removed by unlock, but it no longer
// blocks locks the same Repository takes.
func (h *HeldLock) Release(ctx context.Context) error {
	select {
	case <-h.stop:
		return nil
	default:
	}
	close(h.stop)
	<-h.done
	h.mu.Lock()
	name := h.name
	h.mu.Unlock()
	err := h.r.be.Remove(context.WithoutCancel(ctx), backends.Handle{Type: backends.LockFile, Name: name})
	if err != nil && !backends.IsNotExist(err) {
		// The lock object stays until it is stale, but this process
		// knows it is released: its next Lock must not wait for it.
		h.r.locksMu.Lock()
		if h.r.released == nil {
			h.r.released = make(map[string]bool)
		}
		h.r.released[name] = true
		h.r.locksMu.Unlock()
		return fmt.Errorf("remove lock: %w", err)
	}
	return nil
}

// releasedLock reports whether name is a lock this repository released
// but could not remove.
func (r *Repository) releasedLock(name string) bool {
	r.locksMu.Lock()
	defer r.locksMu.Unlock()
	return r.released[name]
}

// RemoveLocks deletes stale lock objects, or all of them with all set,
// and returns how many it removed. Unreadable lock objects count as stale.
func (r *Repository) RemoveLocks(ctx context.Context, all bool, now func() time.Time) (int, error) {
	names, err := r.listNames(ctx, backends.LockFile)
	if err != nil {
		return 0, err
	}
	host, _ := os.Hostname()
	n := 0
	for _, name := range names {
		if !all {
			plain, err := r.loadMeta(ctx, backends.LockFile, name)
			if err == nil {
				l, err := lock.Unmarshal(plain)
				if err == nil && !l.Stale(now(), host) {
					continue
				}
			} else if backends.IsNotExist(err) {
				continue
			}
		}
		if err := r.Remove(ctx, backends.Handle{Type: backends.LockFile, Name: name}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
