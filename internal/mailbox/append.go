package mailbox

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/mail"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// appendLockTimeout is how long AppendMbox waits for the mbox locks.
const appendLockTimeout = 10 * time.Second

// AppendMbox appends msg as one message to the mbox file at path, following
// the rules mail delivery agents use on a live spool:
//
//   - It takes the dotlock (see DotLock; stale locks older than five minutes
//     are removed) and then an fcntl write lock on the whole file, waiting up
//     to ten seconds in total before failing with an error wrapping
//     ErrLocked.
//   - It writes a "From <sender> <date>" separator, with the date in asctime
//     form in UTC taken from now. An empty sender is taken from the
//     message's Return-Path, then From, else "MAILER-DAEMON"; white space in
//     it becomes '_'.
//   - It writes msg with every line matching ^>*From  quoted by one more '>'
//     (mboxrd), a line feed if msg does not end with one, and the empty line
//     that ends a message. If the file does not already end with an empty
//     line, line feeds are written first so the separator is recognised.
//     ExtractMboxMessage of the appended message returns msg exactly when
//     msg ends with a line feed.
//   - It fsyncs the file and keeps its owner and mode. A missing file is
//     created with mode 0600 (owned by uid:gid when chown is true).
//
// Existing content is never rewritten: the file is opened for appending
// only, and on any error after writing started it is truncated back to its
// original size (a file created by this call is removed instead). The path
// must name a regular file with a single link; symlinks are refused.
func AppendMbox(path string, msg []byte, sender string, uid, gid int, chown bool, now time.Time) error {
	return appendMbox(path, msg, sender, uid, gid, chown, now, appendLockTimeout, time.Now)
}

func appendMbox(path string, msg []byte, sender string, uid, gid int, chown bool, now time.Time, timeout time.Duration, clock func() time.Time) (err error) {
	deadline := clock().Add(timeout)
	dl, err := takeDotLock(path, timeout, clock, lockRefresh)
	if err != nil {
		return fmt.Errorf("append to mbox %s: %w", path, err)
	}
	defer func() {
		if uerr := dl.unlock(); uerr != nil && err == nil {
			err = fmt.Errorf("append to mbox %s: %w", path, uerr)
		}
	}()
	if err := appendLocked(path, msg, sender, uid, gid, chown, now, deadline, clock); err != nil {
		return fmt.Errorf("append to mbox %s: %w", path, err)
	}
	return nil
}

// appendLocked does the work of AppendMbox under the dotlock.
func appendLocked(path string, msg []byte, sender string, uid, gid int, chown bool, now, deadline time.Time, clock func() time.Time) (err error) {
	created := false
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		created = err == nil
	}
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil && created {
			os.Remove(path)
		}
	}()
	if created && chown {
		if err := f.Chown(uid, gid); err != nil {
			return err
		}
	}
	if err := lockFcntl(f, deadline, clock); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return errors.New("not a regular file")
	}
	if st.Nlink > 1 {
		return fmt.Errorf("file has %d hard links", st.Nlink)
	}
	size := st.Size

	prefix, err := separationNeeded(f, size)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.Grow(len(prefix) + len(msg) + len(msg)/50 + 128)
	buf.WriteString(prefix)
	buf.WriteString("From " + envelopeSender(sender, msg) + " " + now.UTC().Format("Mon Jan _2 15:04:05 2006") + "\n")
	writeQuoted(&buf, msg)
	if len(msg) > 0 && msg[len(msg)-1] != '\n' {
		buf.WriteByte('\n')
	}
	buf.WriteByte('\n')

	defer func() {
		if err != nil {
			// Undo everything written by this call.
			if terr := f.Truncate(size); terr == nil {
				_ = f.Sync()
			}
		}
	}()
	if _, err := f.Write(buf.Bytes()); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return restoreOwnerMode(f, &st)
}

// lockFcntl takes an fcntl write lock on the whole file, polling until the
// deadline. The lock is released when f is closed.
func lockFcntl(f *os.File, deadline time.Time, clock func() time.Time) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	for {
		err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("fcntl lock: %w", err)
		}
		if !clock().Before(deadline) {
			return fmt.Errorf("fcntl lock held by another process: %w", ErrLocked)
		}
		time.Sleep(lockPoll)
	}
}

// separationNeeded returns the line feeds to write before a new separator
// so that it follows an empty line (LF or CRLF), as mbox readers require.
func separationNeeded(f *os.File, size int64) (string, error) {
	if size == 0 {
		return "", nil
	}
	n := min(size, 3)
	tail := make([]byte, n)
	if _, err := f.ReadAt(tail, size-n); err != nil {
		return "", fmt.Errorf("read end of file: %w", err)
	}
	t := string(tail)
	switch {
	case strings.HasSuffix(t, "\n\n") || strings.HasSuffix(t, "\n\r\n") || t == "\n" || t == "\r\n":
		return "", nil
	case strings.HasSuffix(t, "\n"):
		return "\n", nil
	default:
		return "\n\n", nil
	}
}

// writeQuoted writes msg to buf with mboxrd quoting of ^>*From  lines.
func writeQuoted(buf *bytes.Buffer, msg []byte) {
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line = msg[:i+1]
		}
		msg = msg[len(line):]
		if needsQuote(line) {
			buf.WriteByte('>')
		}
		buf.Write(line)
	}
}

// envelopeSender picks the address for the separator line.
func envelopeSender(sender string, msg []byte) string {
	if sender == "" {
		block := msg
		if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
			block = msg[:i+1]
		}
		if i := bytes.Index(block, []byte("\r\n\r\n")); i >= 0 {
			block = block[:i+2]
		}
		for _, name := range []string{"Return-Path", "From"} {
			if v := rawField(block, name); v != "" {
				if a, err := mail.ParseAddress(v); err == nil {
					sender = a.Address
				} else {
					sender = strings.Trim(strings.TrimSpace(v), "<>")
				}
				if sender != "" {
					break
				}
			}
		}
	}
	sender = strings.Join(strings.Fields(sender), "_")
	if sender == "" || sender == "<>" {
		return "MAILER-DAEMON"
	}
	return sender
}

// rawField returns the first value of the named field in a header block,
// unfolded and trimmed, or "".
func rawField(block []byte, name string) string {
	lines := strings.Split(strings.ReplaceAll(string(block), "\r\n", "\n"), "\n")
	for i, line := range lines {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimRight(k, " \t"), name) {
			continue
		}
		for _, cont := range lines[i+1:] {
			if cont == "" || (cont[0] != ' ' && cont[0] != '\t') {
				break
			}
			v += cont
		}
		return strings.TrimSpace(v)
	}
	return ""
}

// restoreOwnerMode puts back owner and mode if writing changed them (the
// kernel drops setuid/setgid bits when an unprivileged process writes).
func restoreOwnerMode(f *os.File, orig *unix.Stat_t) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if st.Uid != orig.Uid || st.Gid != orig.Gid {
		if err := unix.Fchown(int(f.Fd()), int(orig.Uid), int(orig.Gid)); err != nil {
			return fmt.Errorf("restore owner: %w", err)
		}
	}
	if st.Mode&0o7777 != orig.Mode&0o7777 {
		if err := unix.Fchmod(int(f.Fd()), orig.Mode&0o7777); err != nil {
			return fmt.Errorf("restore mode: %w", err)
		}
	}
	return nil
}
