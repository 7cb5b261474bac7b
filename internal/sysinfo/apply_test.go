package sysinfo

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// recorder is a Runner that records the commands and fails the one whose
// line contains failOn.
type recorder struct {
	cmds   []string
	failOn string
}

func (r *recorder) run(name string, args ...string) ([]byte, error) {
	line := render(append([]string{name}, args...))
	r.cmds = append(r.cmds, line)
	if r.failOn != "" && strings.Contains(line, r.failOn) {
		return []byte(name + ": GID '1001' already exists\n"), errors.New("exit status 4")
	}
	return nil, nil
}

func TestApplyRefusesConflicts(t *testing.T) {
	p := MakePlan(oldServer(), newServer())
	r := &recorder{}
	log, err := Apply(p, "/", false, r.run)
	if !errors.Is(err, ErrConflicts) {
		t.Fatalf("Apply error = %v, want ErrConflicts", err)
	}
	if len(r.cmds) != 0 || len(log) != 0 {
		t.Errorf("Apply ran %q despite conflicts", r.cmds)
	}
}

func TestApplyRunsGroupsBeforeUsers(t *testing.T) {
	p := MakePlan(oldServer(), newServer())
	for _, tc := range []struct {
		name string
		root string
		want []string
	}{
		{"running system", "/", []string{
			"groupadd -g 117 dovenull",
			"groupadd -g 1001 bob",
			"groupadd -g 1500 mailadmins",
			"groupadd vmail",
			"useradd -u 1001 -g 1001 -G mailadmins -c 'Bob Builder' -d /home/bob -s /bin/bash -M bob",
			"useradd -r -g 117 -d /nonexistent -s /usr/sbin/nologin -M dovenull",
			"useradd -g vmail -G mail -c 'Virtual Mail' -d /var/vmail -s /usr/sbin/nologin -M vmail",
		}},
		{"mounted disk", "/mnt/new/", []string{
			"groupadd --root /mnt/new -g 117 dovenull",
			"groupadd --root /mnt/new -g 1001 bob",
			"groupadd --root /mnt/new -g 1500 mailadmins",
			"groupadd --root /mnt/new vmail",
			"useradd --root /mnt/new -u 1001 -g 1001 -G mailadmins -c 'Bob Builder' -d /home/bob -s /bin/bash -M bob",
			"useradd --root /mnt/new -r -g 117 -d /nonexistent -s /usr/sbin/nologin -M dovenull",
			"useradd --root /mnt/new -g vmail -G mail -c 'Virtual Mail' -d /var/vmail -s /usr/sbin/nologin -M vmail",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			log, err := Apply(p, tc.root, true, r.run)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.cmds, tc.want) {
				t.Errorf("ran\n%s\nwant\n%s", strings.Join(r.cmds, "\n"), strings.Join(tc.want, "\n"))
			}
			if !reflect.DeepEqual(log, tc.want) {
				t.Errorf("log = %q, want the commands", log)
			}
		})
	}
}

func TestApplyStopsAtFirstFailure(t *testing.T) {
	p := MakePlan(oldServer(), newServer())
	r := &recorder{failOn: "-g 1001 bob"}
	log, err := Apply(p, "/", true, r.run)
	if err == nil || !strings.Contains(err.Error(), "groupadd -g 1001 bob: exit status 4: groupadd: GID '1001' already exists") {
		t.Fatalf("Apply error = %v, want the failed command with its output", err)
	}
	want := []string{"groupadd -g 117 dovenull", "groupadd -g 1001 bob\ngroupadd: GID '1001' already exists"}
	if !reflect.DeepEqual(log, want) {
		t.Errorf("log = %q, want %q", log, want)
	}
	if len(r.cmds) != 2 {
		t.Errorf("ran %q after a failure", r.cmds)
	}
}

func TestApplyRejectsUnsafeAccounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		plan Plan
	}{
		{"group name looks like an option", Plan{CreateGroups: []Group{{Name: "-o", GID: 5}}}},
		{"user name with a colon", Plan{CreateUsers: []User{{Name: "a:b", UID: 5}}}},
		{"relative home", Plan{CreateUsers: []User{{Name: "a", UID: 5, Home: "home/a"}}}},
		{"newline in gecos", Plan{CreateUsers: []User{{Name: "a", UID: 5, Gecos: "x\nroot::0:0::/:/bin/sh"}}}},
		{"bad supplementary group", Plan{CreateUsers: []User{{Name: "a", UID: 5}}, Memberships: map[string][]string{"a": {"--badgroup"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			if _, err := Apply(&tc.plan, "/", false, r.run); err == nil {
				t.Error("Apply accepted the plan")
			}
			if len(r.cmds) != 0 {
				t.Errorf("ran %q", r.cmds)
			}
		})
	}
}

// TestApplyCreatesAccountsInRealRoot runs the real groupadd and useradd with
// --root on copies of the account files.
func TestApplyCreatesAccountsInRealRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("useradd --root needs root")
	}
	for _, tool := range []string{"groupadd", "useradd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/passwd":  "root:x:0:0:root:/root:/bin/bash\nmail:x:8:8:mail:/var/mail:/usr/sbin/nologin\ncarol:x:5000:5000::/home/carol:/bin/sh\n",
		"etc/group":   "root:x:0:\nmail:x:8:\ncarol:x:5000:\n",
		"etc/shadow":  "root:*:19000:0:99999:7:::\nmail:*:19000:0:99999:7:::\ncarol:*:19000:0:99999:7:::\n",
		"etc/gshadow": "root:*::\nmail:*::\ncarol:!::\n",
	})
	snap := &Manifest{
		Users: []User{
			{Name: "bob", UID: 1001, GID: 1001, Gecos: "Bob Builder", Home: "/home/bob", Shell: "/bin/bash"},
			{Name: "vmail", UID: 5000, GID: 5000, Home: "/var/vmail", Shell: "/usr/sbin/nologin"},
		},
		Groups: []Group{{Name: "mail", GID: 8, Members: []string{"vmail"}}, {Name: "bob", GID: 1001}, {Name: "vmail", GID: 5000}},
	}
	target, err := Collect(root, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	p := MakePlan(snap, target)
	if _, err := Apply(p, root, false, ExecRunner); !errors.Is(err, ErrConflicts) {
		t.Fatalf("Apply error = %v, want ErrConflicts (vmail's ids belong to carol)", err)
	}
	if _, err := Apply(p, root, true, ExecRunner); err != nil {
		t.Fatal(err)
	}
	after, err := Collect(root, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	user := func(name string) User {
		for _, u := range after.Users {
			if u.Name == name {
				return u
			}
		}
		t.Fatalf("user %s missing from %s/etc/passwd", name, root)
		return User{}
	}
	group := func(name string) Group {
		for _, g := range after.Groups {
			if g.Name == name {
				return g
			}
		}
		t.Fatalf("group %s missing from %s/etc/group", name, root)
		return Group{}
	}
	if got, want := user("bob"), snap.Users[0]; got != want {
		t.Errorf("bob = %+v, want %+v", got, want)
	}
	vmail, vmailGroup := user("vmail"), group("vmail")
	if vmail.UID == 5000 || vmailGroup.GID == 5000 || vmail.GID != vmailGroup.GID {
		t.Errorf("vmail = %+v, group %+v; want new ids, the user in its own group", vmail, vmailGroup)
	}
	if g := group("mail"); !reflect.DeepEqual(g.Members, []string{"vmail"}) {
		t.Errorf("mail members = %q, want vmail", g.Members)
	}
	if g := group("bob"); g.GID != 1001 {
		t.Errorf("group bob = %+v, want gid 1001", g)
	}
	shadow, err := os.ReadFile(filepath.Join(root, "etc/shadow"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(shadow, []byte("\nbob:")) || !bytes.Contains(shadow, []byte("\nvmail:")) {
		t.Errorf("etc/shadow lacks the new users:\n%s", shadow)
	}
	if _, err := os.Stat(filepath.Join(root, "home/bob")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("home/bob exists (err %v); useradd -M must leave it to the restore", err)
	}
}
