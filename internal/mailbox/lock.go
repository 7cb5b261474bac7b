package mailbox

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"
)

// ErrLocked is wrapped by the errors of DotLock and AppendMbox when another
// process holds the mailbox lock until the timeout.
var ErrLocked = errors.New("mailbox is locked")

const (
	// staleLockAge is the age after which a dotlock is considered left
	// behind by a dead process and removed, as procmail and postfix do.
	staleLockAge = 5 * time.Minute
	// lockRefresh is how often a held dotlock's mtime is renewed so that
	// other programs do not take it for stale.
	lockRefresh = time.Minute
	// lockPoll is the pause between attempts to take a busy lock.
	lockPoll = 100 * time.Millisecond
)

// DotLock takes the standard dotlock of the mbox at path: the file
// path + ".lock", created with O_EXCL and holding this process's pid, the
// convention shared by postfix, exim, procmail and mutt. A lock file whose
// mtime is more than five minutes before now() is considered stale and
// removed. While the lock is busy DotLock polls until timeout has passed
// by now(), then returns an error wrapping ErrLocked that names the holder
// (the pid in the lock file, when it has one). now must advance (pass
// time.Now); the pauses between attempts are real time.
//
// While held, the lock file's mtime is renewed every minute by a goroutine
// so that others do not take it for stale. The caller must call the returned
// unlock function exactly when done: it stops that goroutine and removes the
// lock file, unless the file is no longer the one created here (another
// program judged it stale and took it over), which unlock reports as an
// error without removing it. Calls after the first return the first result.
//
// DotLock does not take an fcntl lock on the mbox itself; AppendMbox does
// both.
func DotLock(path string, timeout time.Duration, now func() time.Time) (func() error, error) {
	l, err := takeDotLock(path, timeout, now, lockRefresh)
	if err != nil {
		return nil, err
	}
	return l.unlock, nil
}

type dotLock struct {
	path string
	fi   fs.FileInfo // the lock file as created, to recognise it later
	stop chan struct{}
	done chan struct{}
	once sync.Once
	err  error
}

// takeDotLock implements DotLock, renewing the lock's mtime every refresh.
func takeDotLock(path string, timeout time.Duration, now func() time.Time, refresh time.Duration) (*dotLock, error) {
	lockPath := path + ".lock"
	deadline := now().Add(timeout)
	for {
		fi, err := createLockFile(lockPath)
		if err == nil {
			l := &dotLock{path: lockPath, fi: fi, stop: make(chan struct{}), done: make(chan struct{})}
			go l.refresh(now, refresh)
			return l, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create dotlock %s: %w", lockPath, err)
		}
		held, err := os.Lstat(lockPath)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released in between
		}
		if err != nil {
			return nil, fmt.Errorf("stat dotlock %s: %w", lockPath, err)
		}
		if now().Sub(held.ModTime()) > staleLockAge {
			// Remove only the file judged stale, not one created since.
			if cur, err := os.Lstat(lockPath); err == nil && os.SameFile(cur, held) {
				if err := os.Remove(lockPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return nil, fmt.Errorf("remove stale dotlock %s: %w", lockPath, err)
				}
			}
			continue
		}
		if !now().Before(deadline) {
			return nil, fmt.Errorf("dotlock %s: %s, gave up after %s: %w", lockPath, describeHolder(lockPath, held), timeout, ErrLocked)
		}
		time.Sleep(lockPoll)
	}
}

// createLockFile creates the lock file exclusively and writes the pid into
// it in the text form liblockfile and procmail use.
func createLockFile(lockPath string) (fs.FileInfo, error) {
	f, err := os.OpenFile(lockPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString(pidLine())
	var fi fs.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(lockPath)
		return nil, err
	}
	return fi, nil
}

// describeHolder says who holds a lock, for error messages.
func describeHolder(lockPath string, fi fs.FileInfo) string {
	since := "since " + fi.ModTime().UTC().Format(time.RFC3339)
	b, err := os.ReadFile(lockPath)
	if err == nil && len(b) <= 64 {
		if pid, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && pid > 0 {
			return "held by pid " + strconv.Itoa(pid) + " " + since
		}
	}
	return "held by an unknown process " + since
}

func (l *dotLock) refresh(now func() time.Time, every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if l.isOurs() {
				n := now()
				_ = os.Chtimes(l.path, n, n)
			}
		}
	}
}

func (l *dotLock) unlock() error {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		_, err := os.Lstat(l.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			l.err = fmt.Errorf("unlock dotlock %s: lock file was removed by another program", l.path)
		case err != nil:
			l.err = fmt.Errorf("unlock dotlock %s: %w", l.path, err)
		case !l.isOurs():
			l.err = fmt.Errorf("unlock dotlock %s: lock was taken over by another program", l.path)
		default:
			if err := os.Remove(l.path); err != nil {
				l.err = fmt.Errorf("unlock dotlock %s: %w", l.path, err)
			}
		}
	})
	return l.err
}

// isOurs reports whether the lock file is still the one created by this
// lock: the same inode (which a file system may reuse right after a
// removal) holding this process's pid.
func (l *dotLock) isOurs() bool {
	cur, err := os.Lstat(l.path)
	if err != nil || !os.SameFile(cur, l.fi) {
		return false
	}
	b, err := os.ReadFile(l.path)
	return err == nil && string(b) == pidLine()
}

func pidLine() string { return strconv.Itoa(os.Getpid()) + "\n" }
