package sysinfo

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func oldServer() *Manifest {
	return &Manifest{
		Version: ManifestVersion, Hostname: "mail", Mailname: "example.org", PackageManager: "dpkg",
		Packages: []Package{
			{Name: "postfix", Manual: true}, {Name: "dovecot-imapd", Manual: true},
			{Name: "dovecot-core"}, {Name: "mutt", Manual: true}, {Name: "rsync", Manual: true},
		},
		Users: []User{
			{Name: "root", UID: 0, GID: 0, Home: "/root", Shell: "/bin/bash"},
			{Name: "mail", UID: 8, GID: 8, Home: "/var/mail", Shell: "/usr/sbin/nologin"},
			{Name: "sshd", UID: 105, GID: 65534, Home: "/run/sshd", Shell: "/usr/sbin/nologin"},
			{Name: "postfix", UID: 108, GID: 114, Home: "/var/spool/postfix", Shell: "/usr/sbin/nologin"},
			{Name: "dovecot", UID: 109, GID: 116, Home: "/usr/lib/dovecot", Shell: "/usr/sbin/nologin"},
			{Name: "dovenull", UID: 110, GID: 117, Home: "/nonexistent", Shell: "/usr/sbin/nologin"},
			{Name: "alice", UID: 1000, GID: 1000, Home: "/home/alice", Shell: "/bin/bash"},
			{Name: "bob", UID: 1001, GID: 1001, Gecos: "Bob Builder", Home: "/home/bob", Shell: "/bin/bash"},
			{Name: "vmail", UID: 5000, GID: 5000, Gecos: "Virtual Mail", Home: "/var/vmail", Shell: "/usr/sbin/nologin"},
			{Name: "nobody", UID: 65534, GID: 65534, Home: "/nonexistent", Shell: "/usr/sbin/nologin"},
		},
		Groups: []Group{
			{Name: "root", GID: 0}, {Name: "mail", GID: 8, Members: []string{"vmail"}},
			{Name: "postfix", GID: 114}, {Name: "postdrop", GID: 115}, {Name: "dovecot", GID: 116},
			{Name: "dovenull", GID: 117}, {Name: "alice", GID: 1000}, {Name: "bob", GID: 1001},
			{Name: "mailadmins", GID: 1500, Members: []string{"bob", "alice"}},
			{Name: "vmail", GID: 5000}, {Name: "nogroup", GID: 65534},
		},
		OwnerUIDs: []uint32{0, 108, 1000, 1001, 4242, 5000},
		OwnerGIDs: []uint32{0, 8, 115, 1000, 1001, 5000},
		Mail:      []MailStack{{Name: "postfix"}, {Name: "dovecot"}},
		Aliases:   map[string]string{"postmaster": "root", "root": "alice", "abuse": "root"},
	}
}

func newServer() *Manifest {
	return &Manifest{
		Version: ManifestVersion, Hostname: "vps-1234", Mailname: "example.org", PackageManager: "dpkg",
		Packages: []Package{{Name: "postfix", Manual: true}, {Name: "rsync"}},
		Users: []User{
			{Name: "root", UID: 0, GID: 0},
			{Name: "mail", UID: 8, GID: 8},
			{Name: "dovecot", UID: 109, GID: 116},
			{Name: "postfix", UID: 110, GID: 118},
			{Name: "alice", UID: 1000, GID: 1000},
			{Name: "carol", UID: 5000, GID: 5000},
		},
		Groups: []Group{
			{Name: "root", GID: 0}, {Name: "mail", GID: 8}, {Name: "dovecot", GID: 116},
			{Name: "postfix", GID: 118}, {Name: "postdrop", GID: 119}, {Name: "alice", GID: 1000},
			{Name: "carol", GID: 5000}, {Name: "nogroup", GID: 65534},
		},
		EnabledUnits: []string{"postfix.service", "ssh.service"},
		RunningMail:  []string{"postfix"},
		Aliases:      map[string]string{"postmaster": "root", "root": "admin", "webmaster": "root"},
	}
}

func TestMakePlanCreatesMissingAccountsWithSameIDs(t *testing.T) {
	p := MakePlan(oldServer(), newServer())

	wantGroups := []Group{{Name: "dovenull", GID: 117}, {Name: "bob", GID: 1001}, {Name: "mailadmins", GID: 1500, Members: []string{"bob", "alice"}}}
	if !reflect.DeepEqual(p.CreateGroups, wantGroups) {
		t.Errorf("CreateGroups = %+v, want %+v", p.CreateGroups, wantGroups)
	}
	if len(p.CreateUsers) != 1 || p.CreateUsers[0].Name != "bob" {
		t.Errorf("CreateUsers = %+v, want bob only (sshd is neither an owner nor mail-related)", p.CreateUsers)
	}
	wantGroupadd := []string{"groupadd -g 117 dovenull", "groupadd -g 1001 bob", "groupadd -g 1500 mailadmins"}
	if got := p.GroupaddCommands(); !reflect.DeepEqual(got, wantGroupadd) {
		t.Errorf("GroupaddCommands = %q, want %q", got, wantGroupadd)
	}
	wantUseradd := []string{"useradd -u 1001 -g 1001 -G mailadmins -c 'Bob Builder' -d /home/bob -s /bin/bash -M bob"}
	if got := p.UseraddCommands(); !reflect.DeepEqual(got, wantUseradd) {
		t.Errorf("UseraddCommands = %q, want %q", got, wantUseradd)
	}
	if got := names(p.NewIDGroups, p.NewIDUsers); got != "vmail | dovenull vmail" {
		t.Errorf("NewIDGroups | NewIDUsers = %q, want %q", got, "vmail | dovenull vmail")
	}
}

func names(gs []Group, us []User) string {
	var a, b []string
	for _, g := range gs {
		a = append(a, g.Name)
	}
	for _, u := range us {
		b = append(b, u.Name)
	}
	return strings.Join(a, " ") + " | " + strings.Join(b, " ")
}

func TestMakePlanReportsConflictsWithAdvice(t *testing.T) {
	p := MakePlan(oldServer(), newServer())
	want := []struct {
		kind, name     string
		wantID, haveID uint32
		haveName       string
		advice         []string // substrings
		notAdvice      string
	}{
		{ConflictGroupName, "postfix", 114, 118, "postfix", []string{"--owner name maps them", "best mapped"}, ""},
		{ConflictGroupName, "postdrop", 115, 119, "postdrop", []string{"--owner name maps them"}, ""},
		{ConflictGroupID, "vmail", 5000, 5000, "carol", []string{"belongs to carol", "groupadd vmail", "--owner name", "groupmod -g 1002 carol"}, ""},
		{ConflictUserName, "postfix", 108, 110, "postfix", []string{"--owner name maps them", "uid 110"}, ""},
		{ConflictUserID, "dovenull", 110, 110, "postfix", []string{"belongs to postfix", "useradd -r -g 117 -d /nonexistent -s /usr/sbin/nologin -M dovenull", "best mapped"}, "usermod"},
		{ConflictUserID, "vmail", 5000, 5000, "carol", []string{"useradd -g vmail -G mail -c 'Virtual Mail' -d /var/vmail -s /usr/sbin/nologin -M vmail", "usermod -u 1002 carol"}, ""},
	}
	if len(p.Conflicts) != len(want) {
		t.Fatalf("Conflicts = %+v, want %d", p.Conflicts, len(want))
	}
	for i, w := range want {
		c := p.Conflicts[i]
		if c.Kind != w.kind || c.Name != w.name || c.WantID != w.wantID || c.HaveID != w.haveID || c.HaveName != w.haveName {
			t.Errorf("conflict %d = %+v, want %s %s %d/%d %s", i, c, w.kind, w.name, w.wantID, w.haveID, w.haveName)
		}
		if w.notAdvice != "" && strings.Contains(c.Advice, w.notAdvice) {
			t.Errorf("conflict %d (%s %s) advice %q contains %q", i, c.Kind, c.Name, c.Advice, w.notAdvice)
		}
		for _, sub := range w.advice {
			if !strings.Contains(c.Advice, sub) {
				t.Errorf("conflict %d (%s %s) advice %q lacks %q", i, c.Kind, c.Name, c.Advice, sub)
			}
		}
	}
}

func TestMakePlanOffersRenumberingOnlyWhenTheIDIsFree(t *testing.T) {
	snap := &Manifest{Users: []User{{Name: "alice", UID: 1000, GID: 100}, {Name: "dave", UID: 1003, GID: 100}}}
	target := &Manifest{Users: []User{{Name: "alice", UID: 1005, GID: 100}, {Name: "dave", UID: 1004, GID: 100}, {Name: "erin", UID: 1003, GID: 100}}}
	p := MakePlan(snap, target)
	if len(p.Conflicts) != 2 {
		t.Fatalf("Conflicts = %+v, want 2", p.Conflicts)
	}
	if a := p.Conflicts[0].Advice; !strings.Contains(a, "usermod -u 1000 alice") {
		t.Errorf("alice advice %q lacks the renumbering command", a)
	}
	if a := p.Conflicts[1].Advice; strings.Contains(a, "usermod") || !strings.Contains(a, "uid 1003 belongs to erin") {
		t.Errorf("dave advice %q: want renumbering refused because erin has 1003", a)
	}
}

func TestMakePlanPackagesAndMail(t *testing.T) {
	p := MakePlan(oldServer(), newServer())
	if want := []string{"dovecot-imapd", "mutt"}; !reflect.DeepEqual(p.Packages, want) {
		t.Errorf("Packages = %q, want %q (manual and missing only)", p.Packages, want)
	}
	if want := "apt-get install dovecot-imapd mutt"; p.AptLine != want {
		t.Errorf("AptLine = %q, want %q", p.AptLine, want)
	}
	if want := []string{"postfix"}; !reflect.DeepEqual(p.RunningMailDaemons, want) {
		t.Errorf("RunningMailDaemons = %q, want %q", p.RunningMailDaemons, want)
	}
	if want := [2]string{"mail", "vps-1234"}; p.HostnameDiff != want {
		t.Errorf("HostnameDiff = %q, want %q", p.HostnameDiff, want)
	}
	if p.MailnameDiff != [2]string{} {
		t.Errorf("MailnameDiff = %q, want none", p.MailnameDiff)
	}
	want := []string{"- abuse: root", "~ root: alice -> admin", "+ webmaster: root"}
	if !reflect.DeepEqual(p.AliasesDiff, want) {
		t.Errorf("AliasesDiff = %q, want %q", p.AliasesDiff, want)
	}
}

func TestMakePlanAptLineOnlyForDpkgTargets(t *testing.T) {
	snap := &Manifest{Packages: []Package{{Name: "postfix", Manual: true}}}
	p := MakePlan(snap, &Manifest{PackageManager: "rpm"})
	if p.AptLine != "" || len(p.Packages) != 1 {
		t.Errorf("AptLine = %q, Packages = %q; want no apt line for an rpm target but the package listed", p.AptLine, p.Packages)
	}
}

func TestMakePlanStepsInMigrationOrder(t *testing.T) {
	p := MakePlan(oldServer(), newServer())
	all := strings.Join(p.Steps, "\n")
	order := []string{
		"Lower the TTL",
		"systemctl stop postfix",
		"groupadd -g 117 dovenull",
		"groupadd -g 1500 mailadmins",
		"useradd -u 1001",
		"Resolve conflict group-name postfix",
		"Resolve conflict user-id vmail",
		"apt-get install dovecot-imapd mutt",
		"starts dovecot; stop it again before restoring: systemctl stop dovecot",
		"godwit restore SNAPSHOT --target / --owner name --exclude /etc/passwd",
		"uid 4242 have no account",
		"hostnamectl set-hostname mail",
		"/etc/aliases differs in 3 entries",
		"systemctl start dovecot postfix",
		"doveconf -n >/dev/null; postfix check",
		"Point the MX record",
	}
	last := -1
	for _, s := range order {
		i := strings.Index(all, s)
		if i < 0 {
			t.Errorf("steps lack %q:\n%s", s, all)
			continue
		}
		if i < last {
			t.Errorf("step %q comes too early:\n%s", s, all)
		}
		last = i
	}
	if strings.Contains(all, "mailname differs") {
		t.Errorf("steps mention the mailname, which is the same:\n%s", all)
	}
}

func TestMakePlanSameSystemNeedsNothing(t *testing.T) {
	m := oldServer()
	p := MakePlan(m, oldServer())
	if len(p.CreateGroups)+len(p.CreateUsers)+len(p.NewIDGroups)+len(p.NewIDUsers)+len(p.Conflicts)+len(p.Packages)+len(p.AliasesDiff) != 0 {
		t.Errorf("plan against itself is not empty: %+v", p)
	}
	if p.HostnameDiff != [2]string{} || p.AptLine != "" {
		t.Errorf("plan against itself has diffs: %+v", p)
	}
	all := strings.Join(p.Steps, "\n")
	if !strings.Contains(all, "--owner numeric") {
		t.Errorf("steps without conflicts should restore numerically:\n%s", all)
	}
	if !reflect.DeepEqual(m, oldServer()) {
		t.Error("MakePlan modified the snapshot manifest")
	}
}

func TestMakePlanCreatesUserWhosePrimaryGroupMovedByName(t *testing.T) {
	// The group keeps its name but has another gid here: useradd must name
	// it, or the user would join whatever group has the old gid.
	snap := &Manifest{
		Users:  []User{{Name: "opendkim", UID: 120, GID: 125, Home: "/run/opendkim", Shell: "/usr/sbin/nologin"}},
		Groups: []Group{{Name: "opendkim", GID: 125}},
	}
	target := &Manifest{Groups: []Group{{Name: "opendkim", GID: 130}, {Name: "other", GID: 125}}}
	p := MakePlan(snap, target)
	want := []string{"useradd -u 120 -g opendkim -d /run/opendkim -s /usr/sbin/nologin -M opendkim"}
	if got := p.UseraddCommands(); !reflect.DeepEqual(got, want) {
		t.Errorf("UseraddCommands = %q, want %q", got, want)
	}
}

func TestPlanJSONKeepsWhatApplyNeeds(t *testing.T) {
	p := MakePlan(oldServer(), newServer())
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, p) {
		t.Errorf("plan JSON round trip =\n%+v\nwant\n%+v", back, *p)
	}
	a, _ := Apply(p, "/", true, (&recorder{}).run)
	b2, _ := Apply(&back, "/", true, (&recorder{}).run)
	if !reflect.DeepEqual(a, b2) {
		t.Errorf("Apply after JSON ran %q, want %q", b2, a)
	}
}
