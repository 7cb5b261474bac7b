package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/godwit-backup/godwit/internal/fsmeta"
	"github.com/godwit-backup/godwit/internal/mailbox"
	"github.com/godwit-backup/godwit/internal/sysinfo"
)

// mailserverPaths are what --preset mailserver backs up, where they exist.
var mailserverPaths = []string{"/etc", "/home", "/var/mail", "/var/spool/cron", "/var/www", "/usr/lib/cgi-bin"}

// mailserverExcludes are left out by --preset mailserver: dovecot's
// indexes and caches, which dovecot rebuilds from the mail itself, and
// Maildir tmp/ files, which are deliveries in progress.
var mailserverExcludes = []string{
	"dovecot.index", "dovecot.index.cache", "dovecot.index.log", "dovecot.index.log.2",
	"dovecot.list.index", "dovecot.list.index.log", "dovecot.list.index.log.2",
	"dovecot.index.thread", "dovecot.index.search", "dovecot.index.search.uids",
	"/home/*/Maildir/tmp/*", "/home/*/Maildir/.*/tmp/*",
}

// presetPaths returns the preset's paths that exist under root.
func presetPaths(root string) []string {
	var out []string
	for _, p := range mailserverPaths {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// includesEtc reports whether the backed-up paths cover /etc, which makes
// the snapshot worth a system manifest.
func includesEtc(paths []string, root string) bool {
	for _, p := range paths {
		abs := filepath.Clean("/" + p)
		if root == "" {
			var err error
			if abs, err = filepath.Abs(p); err != nil {
				continue
			}
		}
		if abs == "/" || abs == "/etc" {
			return true
		}
	}
	return false
}

// manifestFunc collects the system manifest of root for the archiver.
func manifestFunc(root string, now func() time.Time) func(uids, gids []uint32) ([]byte, error) {
	return func(uids, gids []uint32) ([]byte, error) {
		m, err := sysinfo.Collect(root, now())
		if err != nil {
			return nil, err
		}
		m.OwnerUIDs, m.OwnerGIDs = uids, gids
		return m.Marshal()
	}
}

// manifestNames looks names and ids up in a system's passwd and group
// files, as collected by sysinfo: for backing up (or restoring into) a
// system mounted under a directory.
type manifestNames struct{ m *sysinfo.Manifest }

func (n manifestNames) UserName(uid uint32) (string, bool) {
	for _, u := range n.m.Users {
		if u.UID == uid {
			return u.Name, true
		}
	}
	return "", false
}

func (n manifestNames) GroupName(gid uint32) (string, bool) {
	for _, g := range n.m.Groups {
		if g.GID == gid {
			return g.Name, true
		}
	}
	return "", false
}

func (n manifestNames) UserID(name string) (uint32, bool) {
	for _, u := range n.m.Users {
		if u.Name == name {
			return u.UID, true
		}
	}
	return 0, false
}

func (n manifestNames) GroupID(name string) (uint32, bool) {
	for _, g := range n.m.Groups {
		if g.Name == name {
			return g.GID, true
		}
	}
	return 0, false
}

// namesUnder returns the user database of the system under root, or nil
// (this system's) when root is empty or "/".
func namesUnder(root string, now time.Time) (*fsmeta.Names, error) {
	if root == "" || filepath.Clean(root) == "/" {
		return nil, nil
	}
	m, err := sysinfo.Collect(root, now)
	if err != nil {
		return nil, fmt.Errorf("read the users and groups under %s: %w", root, err)
	}
	return fsmeta.NewNames(fsmeta.WithLookup(manifestNames{m})), nil
}

// lockMbox takes the mbox dotlock an MDA honours before a spool is read.
func lockMbox(path string) (func() error, error) {
	return mailbox.DotLock(path, 10*time.Second, time.Now)
}
