package sysinfo

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// writeTree creates files (path → content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const dpkgStatus = `Package: postfix
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 3.7.11-0+deb12u1
Description: High-performance mail transport agent
 Postfix is Wietse Venema's mail transport agent.
 .
 More text.

Package: dovecot-imapd
Status: install ok installed
Architecture: amd64
Version: 1:2.3.19.1+dfsg1-2.1+deb12u1

Package: dovecot-core
Status: install ok installed
Architecture: amd64
Version: 1:2.3.19.1+dfsg1-2.1+deb12u1

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u7

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1

Package: sendmail-bin
Status: deinstall ok config-files
Architecture: amd64
Version: 8.17.1.9-2
`

const extendedStates = `Package: dovecot-core
Architecture: amd64
Auto-Installed: 1

Package: libc6
Architecture: amd64
Auto-Installed: 1

Package: tzdata
Architecture: amd64
Auto-Installed: 1

Package: postfix
Architecture: amd64
Auto-Installed: 0
`

func oldServerRoot(t *testing.T) string {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/bash\n" +
			"postfix:x:108:114::/var/spool/postfix:/usr/sbin/nologin\n" +
			"vmail:x:5000:5000:Virtual Mail:/var/vmail:/usr/sbin/nologin\n" +
			"# a comment\n+@nis::::::\nbroken:x:notanumber:0::/:/bin/sh\n",
		"etc/group":  "root:x:0:\nmail:x:8:vmail\npostfix:x:114:\nvmail:x:5000:\n",
		"etc/shadow": "root:*:19000:0:99999:7:::\n",
		"etc/os-release": "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME='Debian GNU/Linux'\n" +
			"VERSION_ID=\"12\"\nID=debian\n# comment\nHOME_URL=\"https://www.debian.org/\"\n",
		"etc/hostname": "mail\n",
		"etc/hosts":    "127.0.0.1\tlocalhost\n203.0.113.5\tmail.example.org mail # the server\n",
		"etc/mailname": "example.org\n",
		"etc/aliases": "# See man 5 aliases\npostmaster: root\nroot: alice,\n\tbob\n" +
			"abuse:    postmaster\n",
		"var/lib/dpkg/status":         dpkgStatus,
		"var/lib/apt/extended_states": extendedStates,
	})
	wants := filepath.Join(root, "etc/systemd/system/multi-user.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"postfix.service", "ssh.service"} {
		if err := os.Symlink("/lib/systemd/system/"+u, filepath.Join(wants, u)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCollectReadsFakeRoot(t *testing.T) {
	root := oldServerRoot(t)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	m, err := Collect(root, now)
	if err != nil {
		t.Fatal(err)
	}
	want := &Manifest{
		Version:  ManifestVersion,
		Created:  now.UTC(),
		Hostname: "mail",
		FQDN:     "mail.example.org",
		Mailname: "example.org",
		OSRelease: map[string]string{
			"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "NAME": "Debian GNU/Linux",
			"VERSION_ID": "12", "ID": "debian", "HOME_URL": "https://www.debian.org/",
		},
		PackageManager: "dpkg",
		Packages: []Package{
			{Name: "dovecot-core", Version: "1:2.3.19.1+dfsg1-2.1+deb12u1", Arch: "amd64"},
			{Name: "dovecot-imapd", Version: "1:2.3.19.1+dfsg1-2.1+deb12u1", Arch: "amd64", Manual: true},
			{Name: "libc6", Version: "2.36-9+deb12u7", Arch: "amd64"},
			{Name: "postfix", Version: "3.7.11-0+deb12u1", Arch: "amd64", Manual: true},
			{Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "all"},
		},
		Users: []User{
			{Name: "root", UID: 0, GID: 0, Gecos: "root", Home: "/root", Shell: "/bin/bash"},
			{Name: "postfix", UID: 108, GID: 114, Home: "/var/spool/postfix", Shell: "/usr/sbin/nologin"},
			{Name: "vmail", UID: 5000, GID: 5000, Gecos: "Virtual Mail", Home: "/var/vmail", Shell: "/usr/sbin/nologin"},
		},
		Groups: []Group{
			{Name: "root", GID: 0},
			{Name: "mail", GID: 8, Members: []string{"vmail"}},
			{Name: "postfix", GID: 114},
			{Name: "vmail", GID: 5000},
		},
		EnabledUnits: []string{"postfix.service", "ssh.service"},
		Mail: []MailStack{
			{Name: "postfix", Version: "3.7.11-0+deb12u1"},
			{Name: "dovecot", Version: "1:2.3.19.1+dfsg1-2.1+deb12u1"},
		},
		Aliases: map[string]string{"postmaster": "root", "root": "alice, bob", "abuse": "postmaster"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Collect =\n%+v\nwant\n%+v", m, want)
	}
}

func TestCollectEmptyRootLeavesFieldsEmpty(t *testing.T) {
	now := time.Unix(1700000000, 0)
	m, err := Collect(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	want := &Manifest{Version: ManifestVersion, Created: now.UTC()}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Collect(empty) = %+v, want %+v", m, want)
	}
}

func TestCollectMissingRootFails(t *testing.T) {
	if _, err := Collect(filepath.Join(t.TempDir(), "nope"), time.Now()); err == nil {
		t.Fatal("Collect on a missing root succeeded")
	}
}

func TestCollectDoesNotFollowSymlinksOutOfRoot(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"passwd": "intruder:x:0:0::/:/bin/sh\n"})
	root := t.TempDir()
	writeTree(t, root, map[string]string{"usr/lib/os-release": "ID=debian\n"})
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(root, "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
	// Debian's /etc/os-release is a relative link into usr/lib.
	if err := os.Symlink("../usr/lib/os-release", filepath.Join(root, "etc", "os-release")); err != nil {
		t.Fatal(err)
	}
	m, err := Collect(root, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Users) != 0 {
		t.Errorf("Users = %+v, read through a symlink leaving the root", m.Users)
	}
	if m.OSRelease["ID"] != "debian" {
		t.Errorf("OSRelease = %v, want the relative link inside the root followed", m.OSRelease)
	}
}

func TestCollectUnreadableFileFails(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files regardless of their mode")
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{"etc/passwd": "root:x:0:0::/:/bin/sh\n"})
	if err := os.Chmod(filepath.Join(root, "etc/passwd"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Collect(root, time.Now()); err == nil {
		t.Fatal("Collect with an unreadable etc/passwd succeeded")
	}
}

func TestCollectFindsMailStackByBinaryWithoutPackages(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"usr/sbin/exim4":           "",
		"usr/sbin/sendmail":        "", // every MTA has one: not evidence of sendmail
		"usr/sbin/dovecot":         "",
		"var/lib/rpm/rpmdb.sqlite": "",
	})
	m, err := Collect(root, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []MailStack{{Name: "exim4"}, {Name: "dovecot"}}
	if !reflect.DeepEqual(m.Mail, want) {
		t.Errorf("Mail = %+v, want %+v", m.Mail, want)
	}
	if m.PackageManager != "rpm" || m.Packages != nil {
		t.Errorf("PackageManager = %q, Packages = %v; want rpm and none read from a non-live root", m.PackageManager, m.Packages)
	}
}

func TestFQDN(t *testing.T) {
	for _, tc := range []struct {
		name, hostname, hosts, want string
	}{
		{"debian style", "mail", "127.0.1.1 mail.example.org mail\n", "mail.example.org"},
		{"alias after short name", "mail", "10.0.0.1 mail mail.example.org\n", "mail.example.org"},
		{"hostname already qualified", "mx.example.net", "", "mx.example.net"},
		{"not listed", "mail", "127.0.0.1 localhost\n", ""},
		{"commented out", "mail", "#127.0.1.1 mail.example.org mail\n", ""},
		{"other host's domain ignored", "mail", "10.0.0.2 mailer.example.org mail\n", ""},
		{"no hostname", "", "127.0.1.1 mail.example.org mail\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fqdn(tc.hostname, []byte(tc.hosts)); got != tc.want {
				t.Errorf("fqdn(%q) = %q, want %q", tc.hostname, got, tc.want)
			}
		})
	}
}

func TestParseOSReleaseUnquotes(t *testing.T) {
	got := parseOSRelease([]byte("A=plain\nB=\"dq \\\"x\\\" \\$y\"\nC='sq \\n'\nnoequals\n=novalue\n"))
	want := map[string]string{"A": "plain", "B": `dq "x" $y`, "C": `sq \n`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseOSRelease = %q, want %q", got, want)
	}
}

func TestParseAliasesJoinsContinuationLines(t *testing.T) {
	in := "postmaster:root\n# c\n\nroot: a,\n  b,\n\tc\nbad line\n  orphan continuation\nx: \"|/usr/bin/prog arg\"\n"
	want := map[string]string{"postmaster": "root", "root": "a, b, c", "x": `"|/usr/bin/prog arg"`}
	if got := parseAliases([]byte(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("parseAliases = %q, want %q", got, want)
	}
}

func TestDpkgPackagesManualMatchesArchitecture(t *testing.T) {
	status := "Package: libfoo\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n" +
		"Package: libfoo\nStatus: install ok installed\nArchitecture: i386\nVersion: 1\n"
	ext := "Package: libfoo\nArchitecture: i386\nAuto-Installed: 1\n"
	want := []Package{
		{Name: "libfoo", Version: "1", Arch: "amd64", Manual: true},
		{Name: "libfoo", Version: "1", Arch: "i386"},
	}
	if got := dpkgPackages([]byte(status), []byte(ext)); !reflect.DeepEqual(got, want) {
		t.Errorf("dpkgPackages = %+v, want %+v", got, want)
	}
}

func TestParseRPMListSkipsKeys(t *testing.T) {
	in := "postfix\t3.5.9-24.el9\tx86_64\ngpg-pubkey\t8483c65d-5ccc5b19\t(none)\nbroken line\n"
	want := []Package{{Name: "postfix", Version: "3.5.9-24.el9", Arch: "x86_64"}}
	if got := parseRPMList([]byte(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("parseRPMList = %+v, want %+v", got, want)
	}
}

func TestMailDaemon(t *testing.T) {
	for _, tc := range []struct{ comm, cmdline, want string }{
		{"master", "/usr/lib/postfix/sbin/master\x00-w\x00", "postfix"},
		{"master", "/usr/sbin/other-master\x00", ""},
		{"exim4", "/usr/sbin/exim4\x00-bd\x00-q30m\x00", "exim4"},
		{"sendmail", "sendmail: MTA: accepting connections\x00", "sendmail"},
		{"sendmail", "/usr/sbin/sendmail\x00-t\x00", ""},
		{"dovecot", "/usr/sbin/dovecot\x00-F\x00", "dovecot"},
		{"bash", "bash\x00", ""},
	} {
		if got := mailDaemon(tc.comm, tc.cmdline); got != tc.want {
			t.Errorf("mailDaemon(%q, %q) = %q, want %q", tc.comm, tc.cmdline, got, tc.want)
		}
	}
}

func TestMailUnit(t *testing.T) {
	for unit, want := range map[string]string{
		"postfix.service": "postfix", "postfix@-.service": "postfix", "exim4.service": "exim4",
		"dovecot.socket": "dovecot", "sendmail.service": "sendmail", "ssh.service": "",
		"postfix-policyd.service": "",
	} {
		if got := mailUnit(unit); got != want {
			t.Errorf("mailUnit(%q) = %q, want %q", unit, got, want)
		}
	}
}

func TestMailProcessesScansProc(t *testing.T) {
	proc := t.TempDir()
	writeTree(t, proc, map[string]string{
		"1/comm": "systemd\n", "1/cmdline": "/sbin/init\x00",
		"812/comm": "master\n", "812/cmdline": "/usr/lib/postfix/sbin/master\x00-w\x00",
		"900/comm": "dovecot\n", "900/cmdline": "/usr/sbin/dovecot\x00",
		"901/comm":   "dovecot\n",
		"self/comm":  "dovecot\n",
		"42/cmdline": "no comm: exited\x00",
	})
	want := []string{"dovecot", "postfix"}
	if got := mailProcesses(proc); !reflect.DeepEqual(got, want) {
		t.Errorf("mailProcesses = %v, want %v", got, want)
	}
}
