package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/internal/fsmeta"
	"github.com/godwit-backup/godwit/internal/sysinfo"
	"github.com/godwit-backup/godwit/internal/testutil"
	"github.com/godwit-backup/godwit/repo/restorer"
	"github.com/godwit-backup/godwit/repo/snapshot"
)

// dpkgStatus lists installed packages in the format of var/lib/dpkg/status.
func dpkgStatus(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString("Package: " + n + "\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n")
	}
	return b.String()
}

// serverEntry is one file or directory of a server fixture with its owner.
type serverEntry struct {
	path     string
	dir      bool
	content  string
	mode     os.FileMode
	uid, gid int
}

func dirAt(path string, mode os.FileMode, uid, gid int) serverEntry {
	return serverEntry{path: path, dir: true, mode: mode, uid: uid, gid: gid}
}

func fileAt(path, content string, mode os.FileMode, uid, gid int) serverEntry {
	return serverEntry{path: path, content: content, mode: mode, uid: uid, gid: gid}
}

// oldServerEntries is a mail server: virtual mailboxes under vmail
// (5000:5000), a system user alice (1001) with a Maildir, an mbox spool and
// a crontab, and postfix at 108:113.
var oldServerEntries = []serverEntry{
	dirAt("etc", 0o755, 0, 0),
	fileAt("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nmail:x:8:8:mail:/var/mail:/usr/sbin/nologin\n"+
		"postfix:x:108:113::/var/spool/postfix:/usr/sbin/nologin\nalice:x:1001:1001:Alice:/home/alice:/bin/bash\n"+
		"vmail:x:5000:5000::/home/vmail:/usr/sbin/nologin\n", 0o644, 0, 0),
	fileAt("etc/group", "root:x:0:\nmail:x:8:\ncrontab:x:107:\npostfix:x:113:\nalice:x:1001:\nvmail:x:5000:\n", 0o644, 0, 0),
	fileAt("etc/shadow", "root:*:19000:0:99999:7:::\nmail:*:19000:0:99999:7:::\npostfix:*:19000:0:99999:7:::\n"+
		"alice:*:19000:0:99999:7:::\nvmail:*:19000:0:99999:7:::\n", 0o640, 0, 0),
	fileAt("etc/gshadow", "root:*::\nmail:*::\ncrontab:*::\npostfix:!::\nalice:!::\nvmail:!::\n", 0o640, 0, 0),
	fileAt("etc/hostname", "mail1\n", 0o644, 0, 0),
	fileAt("etc/mailname", "example.org\n", 0o644, 0, 0),
	fileAt("etc/aliases", "postmaster: root\nabuse: alice\n", 0o644, 0, 0),
	fileAt("etc/postfix/main.cf", "myhostname = mail1.example.org\nvirtual_uid_maps = static:5000\n", 0o644, 0, 0),
	fileAt("var/lib/dpkg/status", dpkgStatus("dovecot-core", "opendkim", "postfix"), 0o644, 0, 0),
	dirAt("home/vmail", 0o750, 5000, 5000),
	fileAt("home/vmail/example.org/bob/Maildir/cur/1700000000.M1P1.mail1:2,S", "Subject: hi bob\n\nhello\n", 0o600, 5000, 5000),
	dirAt("home/vmail/example.org/bob/Maildir/new", 0o700, 5000, 5000),
	dirAt("home/vmail/example.org/bob/Maildir/tmp", 0o700, 5000, 5000),
	dirAt("home/alice", 0o750, 1001, 1001),
	fileAt("home/alice/Maildir/cur/1700000001.M2P2.mail1:2,RS", "Subject: hi alice\n\nhello\n", 0o600, 1001, 1001),
	fileAt("var/mail/alice", "From bob@example.org Mon Jan  1 00:00:00 2024\nSubject: x\n\nhi\n\n", 0o660, 1001, 8),
	fileAt("var/spool/cron/crontabs/alice", "0 3 * * * /home/alice/bin/cleanup\n", 0o600, 1001, 107),
	dirAt("var/spool/postfix/active", 0o700, 108, 113),
}

// newServerEntries is the machine the mail server moves to: carol has
// alice's uid 1001, postfix and crontab have other ids, vmail is missing.
var newServerEntries = []serverEntry{
	fileAt("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nmail:x:8:8:mail:/var/mail:/usr/sbin/nologin\n"+
		"postfix:x:110:115::/var/spool/postfix:/usr/sbin/nologin\ncarol:x:1001:1001:Carol:/home/carol:/bin/bash\n", 0o644, 0, 0),
	fileAt("etc/group", "root:x:0:\nmail:x:8:\ncrontab:x:105:\npostfix:x:115:\ncarol:x:1001:\n", 0o644, 0, 0),
	fileAt("etc/shadow", "root:*:19000:0:99999:7:::\nmail:*:19000:0:99999:7:::\npostfix:*:19000:0:99999:7:::\n"+
		"carol:*:19000:0:99999:7:::\n", 0o640, 0, 0),
	fileAt("etc/gshadow", "root:*::\nmail:*::\ncrontab:*::\npostfix:!::\ncarol:!::\n", 0o640, 0, 0),
	fileAt("etc/hostname", "mail2\n", 0o644, 0, 0),
	fileAt("etc/mailname", "mail2.example.net\n", 0o644, 0, 0),
	fileAt("etc/aliases", "postmaster: root\nabuse: carol\n", 0o644, 0, 0),
	fileAt("etc/systemd/system/multi-user.target.wants/postfix.service", "[Unit]\n", 0o644, 0, 0),
	fileAt("var/lib/dpkg/status", dpkgStatus("dovecot-core", "postfix"), 0o644, 0, 0),
}

// buildServer writes entries under root; with chown it also sets their
// owners (needs root).
func buildServer(t *testing.T, root string, entries []serverEntry, chown bool) {
	t.Helper()
	for _, en := range entries {
		p := filepath.Join(root, en.path)
		if en.dir {
			if err := os.MkdirAll(p, en.mode); err != nil {
				t.Fatal(err)
			}
		} else {
			writeFile(t, p, []byte(en.content))
		}
		if err := os.Chmod(p, en.mode); err != nil {
			t.Fatal(err)
		}
		if chown {
			if err := os.Lchown(p, en.uid, en.gid); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// accountsOf is the user database of a manifest.
func accountsOf(m *sysinfo.Manifest) accounts {
	a := accounts{users: map[string]uint32{}, groups: map[string]uint32{}}
	for _, u := range m.Users {
		a.users[u.Name] = u.UID
	}
	for _, g := range m.Groups {
		a.groups[g.Name] = g.GID
	}
	return a
}

func collect(t *testing.T, root string) *sysinfo.Manifest {
	t.Helper()
	m, err := sysinfo.Collect(root, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// backupWithManifest backs up the system under root with its manifest and
// returns the snapshot's short id.
func backupWithManifest(t *testing.T, c *cli, root string) string {
	t.Helper()
	out := c.owner("backup", "--json", "--root", root, "--manifest", "--host", "mail1", "/etc", "/home", "/var").must(t, 0)
	var sn struct {
		Snapshot string `json:"snapshot"`
	}
	if jsonSummary(t, out.stdout, &sn); len(sn.Snapshot) < 8 {
		t.Fatalf("backup --json: no snapshot id\n%s", out.stdout)
	}
	return sn.Snapshot[:8]
}

// migrateFixture is a repository holding a backup of an old server, and a
// new server's root to migrate it to.
type migrateFixture struct {
	c              *cli
	oldRoot, nroot string
	snap           string // short id of the snapshot with a manifest
}

func newMigrateFixture(t *testing.T, chown bool) *migrateFixture {
	t.Helper()
	c := newCLI(t)
	f := &migrateFixture{c: c, oldRoot: filepath.Join(c.dir, "old"), nroot: filepath.Join(c.dir, "new")}
	buildServer(t, f.oldRoot, oldServerEntries, chown)
	buildServer(t, f.nroot, newServerEntries, chown)
	c.init()
	f.snap = backupWithManifest(t, c, f.oldRoot)
	return f
}

type migratePlanJSON struct {
	Snapshot   string       `json:"snapshot"`
	TargetRoot string       `json:"target_root"`
	Plan       sysinfo.Plan `json:"plan"`
}

func findConflict(cs []sysinfo.Conflict, kind, name string) (sysinfo.Conflict, bool) {
	for _, c := range cs {
		if c.Kind == kind && c.Name == name {
			return c, true
		}
	}
	return sysinfo.Conflict{}, false
}

func TestMigratePlanJSONListsAccountsConflictsAndPackages(t *testing.T) {
	f := newMigrateFixture(t, false)
	out := f.c.owner("migrate", "plan", f.snap, "--root", f.nroot, "--json").must(t, 0)
	var got migratePlanJSON
	if err := json.Unmarshal([]byte(out.stdout), &got); err != nil {
		t.Fatalf("migrate plan --json: %v\n%s", err, out.stdout)
	}
	p := got.Plan
	if !strings.HasPrefix(got.Snapshot, f.snap) || got.TargetRoot != f.nroot {
		t.Errorf("snapshot %q, target_root %q; want %s…, %s", got.Snapshot, got.TargetRoot, f.snap, f.nroot)
	}
	if !slices.ContainsFunc(p.CreateGroups, func(g sysinfo.Group) bool { return g.Name == "vmail" && g.GID == 5000 }) {
		t.Errorf("create_groups %+v lacks vmail 5000", p.CreateGroups)
	}
	if !slices.ContainsFunc(p.CreateUsers, func(u sysinfo.User) bool { return u.Name == "vmail" && u.UID == 5000 && u.GID == 5000 }) {
		t.Errorf("create_users %+v lacks vmail 5000:5000", p.CreateUsers)
	}
	for _, want := range []struct{ kind, name, haveName string }{
		{sysinfo.ConflictUserID, "alice", "carol"},
		{sysinfo.ConflictGroupID, "alice", "carol"},
		{sysinfo.ConflictUserName, "postfix", "postfix"},
	} {
		c, ok := findConflict(p.Conflicts, want.kind, want.name)
		if !ok {
			t.Errorf("no %s conflict for %s in %+v", want.kind, want.name, p.Conflicts)
			continue
		}
		if c.HaveName != want.haveName || !strings.Contains(c.Advice, "--owner name") {
			t.Errorf("%s %s: have %q, advice %q; want %s and --owner name", want.kind, want.name, c.HaveName, c.Advice, want.haveName)
		}
	}
	if p.AptLine != "apt-get install opendkim" {
		t.Errorf("apt line %q, want the one manual package missing here", p.AptLine)
	}
	if !slices.Equal(p.RunningMailDaemons, []string{"postfix"}) {
		t.Errorf("running mail daemons %q, want postfix (enabled on the new server)", p.RunningMailDaemons)
	}
	restore := "godwit restore " + f.snap + " --target " + f.nroot + " --names-from " + f.nroot + " --owner name"
	if !slices.ContainsFunc(p.Steps, func(s string) bool { return strings.Contains(s, restore) }) {
		t.Errorf("no step says %q:\n%s", restore, strings.Join(p.Steps, "\n"))
	}
	if slices.ContainsFunc(p.Steps, func(s string) bool { return strings.Contains(s, "SNAPSHOT") }) {
		t.Errorf("a step still names the placeholder SNAPSHOT:\n%s", strings.Join(p.Steps, "\n"))
	}
}

func TestMigratePlanPrintsChecklistInMigrationOrder(t *testing.T) {
	f := newMigrateFixture(t, false)
	out := f.c.owner("migrate", "plan", "--root", f.nroot).must(t, 0).stdout
	// Each fragment must appear, and after the one before it.
	ordered := []string{
		"Migration of snapshot " + f.snap + " (host mail1,",
		"to " + f.nroot,
		"  1. Lower the TTL of the MX record",
		"systemctl stop postfix",
		"groupadd -g 5000 vmail",
		"useradd -u 5000 -g 5000",
		"Resolve conflict user-id alice",
		"apt-get install opendkim",
		"godwit restore " + f.snap + " --target " + f.nroot + " --names-from " + f.nroot + " --owner name",
		"hostnamectl set-hostname mail1",
		"Point the MX record at this server",
		"Groups to create with the snapshot's gids:\n  groupadd --root " + f.nroot + " -g 5000 vmail",
		"Users to create with the snapshot's uids:\n  useradd --root " + f.nroot + " -u 5000 -g 5000",
		"Conflicts:\n",
		"user-id alice: uid 1001 belongs to carol here",
		"Packages to install:\n  apt-get install opendkim",
		"Mail daemons enabled or running here",
		`hostname: snapshot "mail1", here "mail2"`,
		`mailname: snapshot "example.org", here "mail2.example.net"`,
		"~ abuse: alice -> carol",
	}
	rest := out
	for _, want := range ordered {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("plan output lacks %q after the fragments before it:\n%s", want, out)
		}
		rest = rest[i+len(want):]
	}
}

func TestMigratePlanRejectsSnapshotWithoutManifest(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	r := c.owner("migrate", "plan", "--root", src).must(t, exitError)
	if !strings.Contains(r.stderr, "has no system manifest") || !strings.Contains(r.stderr, "backup --manifest") {
		t.Errorf("error does not explain the missing manifest:\n%s", r.stderr)
	}
}

func TestMigrateNeedsOwnerCredential(t *testing.T) {
	f := newMigrateFixture(t, false)
	wk := filepath.Join(f.c.dir, "write.key")
	f.c.owner("key", "write-key", "--output", wk).must(t, 0)
	for _, sub := range []string{"plan", "apply"} {
		r := f.c.run("--repo", f.c.repo, "-i", wk, "migrate", sub, "--root", f.nroot).must(t, exitError)
		if !strings.Contains(r.stderr, "needs an owner credential") {
			t.Errorf("migrate %s with a write key: %s", sub, r.stderr)
		}
	}
}

func TestMigrateApplyRefusesConflictsAndChangesNothing(t *testing.T) {
	f := newMigrateFixture(t, false)
	before, err := os.ReadFile(filepath.Join(f.nroot, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	r := f.c.owner("migrate", "apply", "--root", f.nroot).must(t, exitError)
	for _, want := range []string{"user-id alice: uid 1001 belongs to carol here", "user-name postfix", "--allow-conflicts", "--owner name", "nothing was created"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("refusal does not say %q:\n%s", want, r.stderr)
		}
	}
	js := f.c.owner("migrate", "apply", "--root", f.nroot, "--json").must(t, exitError)
	var refused struct {
		Conflicts []sysinfo.Conflict `json:"conflicts"`
		Commands  []string           `json:"commands"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &refused); err != nil {
		t.Fatalf("apply --json refusal: %v\n%s", err, js.stdout)
	}
	if _, ok := findConflict(refused.Conflicts, sysinfo.ConflictUserID, "alice"); !ok || len(refused.Commands) != 0 {
		t.Errorf("apply --json refusal lists conflicts %+v and commands %q; want alice's and none", refused.Conflicts, refused.Commands)
	}
	after, err := os.ReadFile(filepath.Join(f.nroot, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Errorf("etc/passwd changed although apply refused:\n%s", after)
	}
}

func TestMigrateApplyDryRunPrintsCommandsWithoutRunning(t *testing.T) {
	f := newMigrateFixture(t, false)
	before := collect(t, f.nroot)
	out := f.c.owner("migrate", "apply", "--root", f.nroot, "--allow-conflicts", "--dry-run").must(t, 0).stdout
	for _, want := range []string{
		"would run: groupadd --root " + f.nroot + " -g 5000 vmail\n",
		"would run: groupadd --root " + f.nroot + " alice\n",
		"would run: useradd --root " + f.nroot + " -u 5000 -g 5000 -d /home/vmail -s /usr/sbin/nologin -M vmail\n",
		"would run: useradd --root " + f.nroot + " -g alice -c Alice -d /home/alice -s /bin/bash -M alice\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if after := collect(t, f.nroot); len(after.Users) != len(before.Users) || len(after.Groups) != len(before.Groups) {
		t.Errorf("dry run changed the accounts: %d users, %d groups; want %d, %d", len(after.Users), len(after.Groups), len(before.Users), len(before.Groups))
	}
}

// TestMigrateMovesMailServerOntoServerWithCollidingIDs backs up an old mail
// server, plans and applies its migration onto a new server where alice's
// uid belongs to carol and postfix has other ids, restores by name, and
// checks that every file belongs to the account of the same name.
func TestMigrateMovesMailServerOntoServerWithCollidingIDs(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tool := range []string{"groupadd", "useradd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	f := newMigrateFixture(t, true)

	var plan migratePlanJSON
	out := f.c.owner("migrate", "plan", f.snap, "--root", f.nroot, "--json").must(t, 0)
	if err := json.Unmarshal([]byte(out.stdout), &plan); err != nil {
		t.Fatal(err)
	}
	// crontab owns alice's crontab only in the owned fixture, so only here
	// is it one of the snapshot's groups.
	for _, c := range [][2]string{{sysinfo.ConflictUserID, "alice"}, {sysinfo.ConflictGroupName, "crontab"}} {
		if _, ok := findConflict(plan.Plan.Conflicts, c[0], c[1]); !ok {
			t.Fatalf("plan has no %s conflict for %s: %+v", c[0], c[1], plan.Plan.Conflicts)
		}
	}

	applied := f.c.owner("migrate", "apply", f.snap, "--root", f.nroot, "--allow-conflicts").must(t, 0)
	if !strings.Contains(applied.stdout, "groupadd --root "+f.nroot+" -g 5000 vmail") || !strings.Contains(applied.stdout, "created 2 groups and 2 users") {
		t.Errorf("apply output:\n%s", applied.stdout)
	}
	moved := accountsOf(collect(t, f.nroot))
	if moved.users["vmail"] != 5000 || moved.groups["vmail"] != 5000 {
		t.Errorf("vmail is %d:%d on the new server, want 5000:5000", moved.users["vmail"], moved.groups["vmail"])
	}
	if id, ok := moved.users["alice"]; !ok || id == 1001 || moved.users["carol"] != 1001 {
		t.Errorf("alice has uid %d (present %v), carol %d; want alice renumbered and carol kept at 1001", id, ok, moved.users["carol"])
	}

	// Restore by name through the new server's own account files, keeping
	// the accounts just created.
	ctx := context.Background()
	r := f.c.openInProcess(t)
	sn, err := r.FindSnapshot(ctx, f.snap, snapshot.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	node, err := r.FindNode(ctx, sn.Tree, "/")
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, name := range []string{"passwd", "group", "shadow", "gshadow"} {
		keep = append(keep, "/etc/"+name)
	}
	sum, err := restorer.Restore(ctx, r, node, "/", restorer.Options{
		Target: f.nroot, Exclude: keep, Owner: fsmeta.OwnerName,
		Names: fsmeta.NewNames(fsmeta.WithLookup(moved)),
		Warn:  func(p string, err error) { t.Errorf("restore %s: %v", p, err) },
	})
	if err != nil || sum.Errors > 0 {
		t.Fatalf("restore: %v %+v", err, sum)
	}

	old := accountsOf(collect(t, f.oldRoot))
	checked := 0
	err = filepath.WalkDir(f.oldRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.oldRoot, p)
		if rel == "." || slices.Contains(keep, "/"+rel) {
			return nil
		}
		var was, now syscall.Stat_t
		if err := syscall.Lstat(p, &was); err != nil {
			return err
		}
		if err := syscall.Lstat(filepath.Join(f.nroot, rel), &now); err != nil {
			return err
		}
		user, _ := old.UserName(was.Uid)
		group, _ := old.GroupName(was.Gid)
		wantUID, wantGID := moved.users[user], moved.groups[group]
		if now.Uid != wantUID || now.Gid != wantGID {
			t.Errorf("%s was %s:%s (%d:%d), restored as %d:%d; want %d:%d", rel, user, group, was.Uid, was.Gid, now.Uid, now.Gid, wantUID, wantGID)
		}
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < len(oldServerEntries) {
		t.Errorf("checked %d restored entries, want at least %d", checked, len(oldServerEntries))
	}
	// The ids that matter, spelled out.
	for rel, want := range map[string][2]uint32{
		"home/vmail/example.org/bob/Maildir/cur/1700000000.M1P1.mail1:2,S": {5000, 5000},
		"home/alice/Maildir/cur/1700000001.M2P2.mail1:2,RS":                {moved.users["alice"], moved.groups["alice"]},
		"var/mail/alice":                {moved.users["alice"], 8},
		"var/spool/cron/crontabs/alice": {moved.users["alice"], 105},
		"var/spool/postfix/active":      {110, 115},
		"etc/postfix/main.cf":           {0, 0},
	} {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(f.nroot, rel), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s is %d:%d, want %d:%d", rel, st.Uid, st.Gid, want[0], want[1])
		}
	}
}

func TestMigrateUsageErrors(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no subcommand", []string{"migrate"}, "migrate plan|apply"},
		{"unknown subcommand", []string{"migrate", "frobnicate"}, "choose plan or apply"},
		{"two snapshots", []string{"migrate", "plan", "latest", "abcd"}, "at most one snapshot"},
		{"unknown flag", []string{"migrate", "apply", "--frobnicate"}, "unknown flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.run(tc.args...).must(t, exitUsage)
			if !strings.Contains(r.stderr, tc.msg) {
				t.Errorf("stderr does not say %q:\n%s", tc.msg, r.stderr)
			}
		})
	}
}
