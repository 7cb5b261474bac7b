package mailbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// IsMaildirMessage reports whether a slash-separated path names a message in
// a Maildir, judging by the path alone (the caller may be walking a snapshot
// tree rather than a file system). After path.Clean, the path must have the
// form <maildir>/cur/<name> or <maildir>/new/<name>, where <maildir> is
// named in the path (so "cur/x" alone does not qualify) and <name> is not a
// dotfile (Maildir readers ignore those). Files in tmp/ are deliveries in
// progress and do not count. The rule does not check that <maildir> really
// holds cur, new and tmp.
func IsMaildirMessage(p string) bool {
	p = path.Clean(p)
	dir, name := path.Split(p)
	if name == "" || strings.HasPrefix(name, ".") || dir == "" {
		return false
	}
	dir = path.Clean(dir)
	if parent := path.Base(dir); parent != "cur" && parent != "new" {
		return false
	}
	return path.Dir(dir) != "."
}

// MaildirUniqueName returns a file name for delivering a message into a
// Maildir, in the form used by dovecot and described in the Maildir
// specification: "<seconds>.M<microseconds>P<pid>R<random>.<host>", for
// example "1700000000.M123456P4242R0f1e2d3c4b5a6978.mail.example.org".
// The random part is 16 hex digits read from rnd; if rnd fails,
// crypto/rand is used instead. In host, "/" and ":" are replaced by "\057"
// and "\072" as the specification requires; an empty host becomes
// "localhost".
func MaildirUniqueName(now time.Time, host string, rnd io.Reader) string {
	var r [8]byte
	if rnd == nil {
		rnd = rand.Reader
	}
	if _, err := io.ReadFull(rnd, r[:]); err != nil {
		_, _ = rand.Read(r[:])
	}
	if host == "" {
		host = "localhost"
	}
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	return strconv.FormatInt(now.Unix(), 10) +
		".M" + strconv.Itoa(now.Nanosecond()/1000) +
		"P" + strconv.Itoa(os.Getpid()) +
		"R" + hex.EncodeToString(r[:]) +
		"." + host
}

// DeliverMaildir delivers msg into the Maildir at dir the way an MDA does:
// it writes dir/tmp/<unique>, fsyncs it, hard-links it to dir/new/<unique>
// (falling back to a rename where the file system has no hard links),
// removes the tmp name and fsyncs dir/new. The message file has mode 0600.
//
// Missing directories (dir itself, tmp, new, cur) are created with mode
// 0700. When chown is true the message file and any directory created here
// are chowned to uid:gid; existing directories are left alone. Existing
// files are never opened for writing, replaced or removed: a name that is
// already taken is retried with a new one. On error the tmp file, if
// created, is removed. It returns the path of the delivered message; if only
// the final fsync of dir/new fails, it returns that path together with the
// error, since the message is then in new/ but may not be durable.
func DeliverMaildir(dir string, msg []byte, uid, gid int, chown bool, now time.Time, host string) (string, error) {
	for _, d := range []string{dir, filepath.Join(dir, "tmp"), filepath.Join(dir, "new"), filepath.Join(dir, "cur")} {
		if err := ensureDir(d, uid, gid, chown); err != nil {
			return "", fmt.Errorf("deliver to maildir %s: %w", dir, err)
		}
	}
	const attempts = 10
	for range attempts {
		name := MaildirUniqueName(now, host, rand.Reader)
		p, err := deliverOnce(dir, name, msg, uid, gid, chown)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return p, fmt.Errorf("deliver to maildir %s: %w", dir, err)
		}
		return p, nil
	}
	return "", fmt.Errorf("deliver to maildir %s: no free unique name after %d attempts", dir, attempts)
}

// ensureDir creates d with mode 0700 if it does not exist, chowning it when
// asked. An existing non-directory is an error.
func ensureDir(d string, uid, gid int, chown bool) error {
	fi, err := os.Lstat(d)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", d)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Mkdir(d, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	if chown {
		if err := os.Lchown(d, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// deliverOnce delivers msg under one unique name. It returns an error
// matching fs.ErrExist when the name is taken in tmp or new.
func deliverOnce(dir, name string, msg []byte, uid, gid int, chown bool) (_ string, err error) {
	tmp := filepath.Join(dir, "tmp", name)
	dst := filepath.Join(dir, "new", name)
	if _, err := os.Lstat(dst); err == nil {
		return "", fs.ErrExist
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(msg); err != nil {
		return "", err
	}
	if chown {
		if err := f.Chown(uid, gid); err != nil {
			return "", err
		}
	}
	// chown may clear mode bits on some systems; set the mode explicitly.
	if err := f.Chmod(0o600); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	err = f.Close()
	f = nil
	if err != nil {
		return "", err
	}
	if err := os.Link(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", err
		}
		// No hard links here (some FUSE and network file systems): rename,
		// after making sure the name is still free.
		if _, serr := os.Lstat(dst); serr == nil {
			return "", fs.ErrExist
		}
		if err := os.Rename(tmp, dst); err != nil {
			return "", err
		}
	} else {
		// The message is delivered; a leftover tmp name is harmless and
		// cleaned up by Maildir readers.
		_ = os.Remove(tmp)
	}
	if err := syncDir(filepath.Join(dir, "new")); err != nil {
		return dst, fmt.Errorf("sync %s: %w", filepath.Join(dir, "new"), err)
	}
	return dst, nil
}

func syncDir(d string) error {
	f, err := os.Open(d)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
