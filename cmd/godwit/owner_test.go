package main

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/godwit-backup/godwit/internal/fsmeta"
	"github.com/godwit-backup/godwit/internal/testutil"
	"github.com/godwit-backup/godwit/repo/archiver"
	"github.com/godwit-backup/godwit/repo/restorer"
)

// accounts is a user database: name ↔ id for users and groups.
type accounts struct{ users, groups map[string]uint32 }

func (a accounts) UserName(uid uint32) (string, bool)  { return reverse(a.users, uid) }
func (a accounts) GroupName(gid uint32) (string, bool) { return reverse(a.groups, gid) }
func (a accounts) UserID(name string) (uint32, bool)   { id, ok := a.users[name]; return id, ok }
func (a accounts) GroupID(name string) (uint32, bool)  { id, ok := a.groups[name]; return id, ok }

func reverse(m map[string]uint32, id uint32) (string, bool) {
	for name, v := range m {
		if v == id {
			return name, true
		}
	}
	return "", false
}

// TestRestoreOwnerNameMapsThroughNames backs up files on an "old server"
// where vmail is 4242:4343 and restores them on a "new server" where
// vmail is 6000:6001: --owner name follows the names, and an id with no
// name keeps its number.
func TestRestoreOwnerNameMapsThroughNames(t *testing.T) {
	testutil.RequireRoot(t)
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	writeFile(t, filepath.Join(src, "vmail/alice/msg"), []byte("Subject: hi\n\nhello\n"))
	writeFile(t, filepath.Join(src, "orphan"), []byte("no name\n"))
	for p, id := range map[string][2]int{"vmail": {4242, 4343}, "vmail/alice": {4242, 4343}, "vmail/alice/msg": {4242, 4343}, "orphan": {5001, 5002}} {
		if err := os.Lchown(filepath.Join(src, p), id[0], id[1]); err != nil {
			t.Fatal(err)
		}
	}
	c.init()
	r := c.openInProcess(t)
	ctx := context.Background()
	oldServer := fsmeta.NewNames(fsmeta.WithLookup(accounts{
		users: map[string]uint32{"root": 0, "vmail": 4242}, groups: map[string]uint32{"root": 0, "vmail": 4343},
	}))
	a := archiver.New(r, archiver.Options{Names: oldServer, Warn: func(p string, err error) { t.Errorf("%s: %v", p, err) }})
	sn, err := a.Run(ctx, []string{src})
	if err != nil {
		t.Fatal(err)
	}
	node, err := r.FindNode(ctx, sn.Tree, src)
	if err != nil {
		t.Fatal(err)
	}
	newServer := fsmeta.NewNames(fsmeta.WithLookup(accounts{
		users: map[string]uint32{"root": 0, "vmail": 6000}, groups: map[string]uint32{"root": 0, "vmail": 6001},
	}))
	target := filepath.Join(c.dir, "restore")
	sum, err := restorer.Restore(ctx, r, node, src, restorer.Options{
		Target: target, Owner: fsmeta.OwnerName, Names: newServer,
		Warn: func(p string, err error) { t.Errorf("%s: %v", p, err) },
	})
	if err != nil || sum.Errors > 0 {
		t.Fatalf("restore: %v %+v", err, sum)
	}
	for p, want := range map[string][2]uint32{"vmail": {6000, 6001}, "vmail/alice/msg": {6000, 6001}, "orphan": {5001, 5002}} {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(target, p), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, want[0], want[1])
		}
	}
}
