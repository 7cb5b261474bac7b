package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadMailServerExample(t *testing.T) {
	f, err := Load("testdata/mailserver.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Names(), []string{"final", "mail", "maintenance"}; !slices.Equal(got, want) {
		t.Fatalf("profiles %v, want %v", got, want)
	}
	mail, err := f.Profile("mail")
	if err != nil {
		t.Fatal(err)
	}
	if mail.Name != "mail" || mail.Repository != "s3://example-backups/mx1" || mail.IdentityFile != "/etc/godwit/write.key" {
		t.Errorf("mail: %+v", mail)
	}
	if mail.Preset != "mailserver" || !slices.Equal(mail.Sources, []string{"/srv/sieve"}) || !slices.Equal(mail.Tags, []string{"nightly"}) {
		t.Errorf("mail sources: %+v", mail)
	}
	if mail.Schedule != "*-*-* 03:30:00" {
		t.Errorf("schedule %q", mail.Schedule)
	}
	// Inherited from [defaults].
	if mail.CacheDir != "/var/cache/godwit" || mail.Host != "mx1.example.org" {
		t.Errorf("defaults not inherited: cache-dir %q host %q", mail.CacheDir, mail.Host)
	}
	// [profiles.mail.hooks] replaces [defaults.hooks] whole: its timeout
	// is the default one.
	if mail.HookTimeout() != DefaultHookTimeout || len(mail.Hooks.Before) != 1 {
		t.Errorf("hooks %+v timeout %s", mail.Hooks, mail.HookTimeout())
	}
	m, _ := f.Profile("maintenance")
	if m.HookTimeout() != 10*time.Minute || m.Commands(Before) != nil {
		t.Errorf("maintenance inherits [defaults.hooks]: timeout %s, before %q", m.HookTimeout(), m.Commands(Before))
	}
	final, _ := f.Profile("final")
	if final.OneFileSystem == nil || !*final.OneFileSystem || final.ExcludeCaches != nil {
		t.Errorf("final switches: one-file-system %v exclude-caches %v", final.OneFileSystem, final.ExcludeCaches)
	}

	p := m.Retention.Policy()
	if p.Daily != 7 || p.Weekly != 5 || p.Monthly != 12 || p.Within != 48*time.Hour || len(p.Tags) != 1 {
		t.Errorf("policy %+v", p)
	}
	if g := m.Retention.Grouping(); !g.Host || g.Paths || g.Tags {
		t.Errorf("group-by %+v", g)
	}
	if !m.Retention.Prune || m.Check.Interval() != 7*24*time.Hour || m.Check.Subset() == nil || m.Check.Subset().Percent != 5 {
		t.Errorf("maintenance: %+v %+v", m.Retention, m.Check)
	}
}

func TestLoadInlineTables(t *testing.T) {
	f, err := Load("testdata/inline.toml")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := f.Profile("www")
	if p.HookTimeout() != 30*time.Second || p.Check.Interval() != 10*24*time.Hour || !p.Check.ReadData {
		t.Errorf("www: hooks %+v check %+v", p.Hooks, p.Check)
	}
	if g := p.Retention.Grouping(); !g.Host || !g.Paths {
		t.Errorf("default group-by is host,paths, got %+v", g)
	}
	if p.Env["GODWIT_SFTP_ARGS"] != "-p 2222" {
		t.Errorf("env %v", p.Env)
	}
}

func TestMissingProfileListsDefinedOnes(t *testing.T) {
	f, err := Load("testdata/mailserver.toml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Profile("mial")
	if !errors.Is(err, ErrNoProfile) {
		t.Fatalf("error %v, want ErrNoProfile", err)
	}
	for _, want := range []string{"testdata/mailserver.toml", `"mial"`, "final, mail, maintenance"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "godwit.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want one wrapping ErrNotExist", err)
	}
}

// Every problem in the file names the file, the line and the key.
func TestErrorsNameFileLineAndKey(t *testing.T) {
	const head = "[profiles.mail]\nrepository = \"/srv/backup\"\n"
	tests := []struct {
		name, doc, want string
	}{
		{"unknown key", head + "[profiles.mail.retention]\nkeep-daly = 7\n",
			"godwit.toml:4: profiles.mail.retention.keep-daly: unknown key"},
		{"unknown top-level table", "[global]\nx = 1\n", "godwit.toml:1: global: unknown key"},
		{"string for integer", head + "[profiles.mail.retention]\nkeep-daily = \"7\"\n",
			"godwit.toml:4: profiles.mail.retention.keep-daily: want an integer, got a string"},
		{"integer for string", head + "host = 7\n", "godwit.toml:3: profiles.mail.host: want a string, got an integer"},
		{"string for array", head + "sources = \"/etc\"\n", "godwit.toml:3: profiles.mail.sources: want an array of strings, got a string"},
		{"string for bool", head + "one-file-system = \"yes\"\n", "godwit.toml:3: profiles.mail.one-file-system: want true or false, got a string"},
		{"syntax error", head + "sources = [\"/etc\"\n", "godwit.toml:3: array is incomplete"},
		{"relative source", head + "sources = [\"etc\"]\n", `godwit.toml:3: profiles.mail.sources: "etc" is not an absolute path`},
		{"unknown preset", head + "preset = \"web\"\n", `godwit.toml:3: profiles.mail.preset: unknown preset "web"`},
		{"bad keep-within", head + "\n[profiles.mail.retention]\nkeep-daily = 1\nkeep-within = \"3x\"\n",
			`godwit.toml:6: profiles.mail.retention.keep-within: "3x": unknown unit`},
		{"empty retention", head + "[profiles.mail.retention]\nprune = true\n", "godwit.toml:3: profiles.mail.retention: no keep rule"},
		{"negative count", head + "[profiles.mail.retention]\nkeep-last = -2\n", "godwit.toml:4: profiles.mail.retention.keep-last: invalid count -2"},
		{"bad group-by", head + "[profiles.mail.retention]\nkeep-last = 2\ngroup-by = \"hostname\"\n", "godwit.toml:5: profiles.mail.retention.group-by: unknown group-by field"},
		{"bad check interval", head + "[profiles.mail.check]\nevery = \"fortnightly\"\n", "godwit.toml:4: profiles.mail.check.every:"},
		{"bad subset", head + "[profiles.mail.check]\nread-data-subset = \"0%\"\n", "godwit.toml:4: profiles.mail.check.read-data-subset:"},
		{"bad hook timeout", head + "[profiles.mail.hooks]\ntimeout = \"soon\"\n", "godwit.toml:4: profiles.mail.hooks.timeout:"},
		{"empty hook", head + "[profiles.mail.hooks]\nbefore = [\"true\", \" \"]\n", "godwit.toml:4: profiles.mail.hooks.before: empty command"},
		{"half s3 credentials", head + "s3-access-key-id = \"AK\"\n", "godwit.toml:3: profiles.mail.s3-access-key-id: s3-access-key-id and s3-secret-access-key-file go together"},
		{"schedule with newline", head + "schedule = \"daily\\nExecStart=/bin/sh\"\n", "godwit.toml:3: profiles.mail.schedule:"},
		{"bad env name", head + "[profiles.mail.env]\n\"A-B\" = \"x\"\n", `godwit.toml:4: profiles.mail.env.A-B: invalid environment variable name`},
		{"error in defaults", "[defaults]\nmetrics-file = \"m.prom\"\n", `godwit.toml:2: defaults.metrics-file: "m.prom" is not an absolute path`},
		{"bad profile name", "[profiles.\"mail server\"]\nrepository = \"/x\"\n", `godwit.toml:1: profiles."mail server": invalid profile name`},
		{"inline table key", "[profiles.w]\nhooks = { before = [\"\"] }\n", "godwit.toml:2: profiles.w.hooks.before: empty command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("/etc/godwit/godwit.toml", []byte(tt.doc))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "/etc/") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tt.want)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error %v is not a *Error with a line", err)
			}
		})
	}
}

func TestUnknownKeysAreAllReported(t *testing.T) {
	_, err := Parse("p.toml", []byte("[profiles.a]\nrepo = \"/x\"\nsource = [\"/etc\"]\n"))
	if err == nil {
		t.Fatal("no error")
	}
	want := "p.toml:2: profiles.a.repo: unknown key\np.toml:3: profiles.a.source: unknown key"
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

func TestProfileSettingsOverrideDefaults(t *testing.T) {
	doc := `
[defaults]
repository = "/srv/a"
exclude = ["*.tmp"]
tags = ["d"]
exclude-caches = true
[defaults.env]
A = "1"
B = "2"
[defaults.retention]
keep-last = 3

[profiles.x]
repository = "/srv/b"
exclude = []
exclude-caches = false
[profiles.x.env]
B = "3"

[profiles.y]
`
	f, err := Parse("p.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	x, _ := f.Profile("x")
	if x.Repository != "/srv/b" || len(x.Exclude) != 0 || *x.ExcludeCaches || !slices.Equal(x.Tags, []string{"d"}) {
		t.Errorf("x: %+v", x)
	}
	if x.Env["A"] != "1" || x.Env["B"] != "3" || x.Retention.Policy().Last != 3 {
		t.Errorf("x env %v retention %+v", x.Env, x.Retention)
	}
	y, _ := f.Profile("y")
	if y.Repository != "/srv/a" || !slices.Equal(y.Exclude, []string{"*.tmp"}) || y.Env["B"] != "2" {
		t.Errorf("y: %+v", y)
	}
	// Inherited tables are copies: changing one profile's leaves the other's.
	y.Retention.KeepLast = 9
	x.Exclude = append(x.Exclude, "z")
	if x.Retention.KeepLast != 3 || len(y.Exclude) != 1 {
		t.Error("profiles share inherited state")
	}
}

func TestEnvNeverPrintsValues(t *testing.T) {
	p := &Profile{Env: Env{"AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}}
	j, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		fmt.Sprint(p.Env), fmt.Sprintf("%v", p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p),
		fmt.Sprintf("%s", p.Env), fmt.Sprintf("%q", p.Env), fmt.Sprintf("%x", p.Env), string(j),
	} {
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, fmt.Sprintf("%x", "s3cr3t")) {
			t.Errorf("value printed: %s", s)
		}
		if !strings.Contains(s, "AWS_SECRET_ACCESS_KEY") {
			t.Errorf("key not printed: %s", s)
		}
	}
}

func TestEnvironReadsS3Secret(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "s3")
	if err := os.WriteFile(secret, []byte("wJalrXUtnFEMI\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &Profile{Name: "m", S3AccessKeyID: "AKIA1", S3SecretAccessKeyFile: secret, Env: Env{"AWS_REGION": "eu-west-1"}}
	env, err := p.Environ()
	if err != nil {
		t.Fatal(err)
	}
	if env["AWS_ACCESS_KEY_ID"] != "AKIA1" || env["AWS_SECRET_ACCESS_KEY"] != "wJalrXUtnFEMI" || env["AWS_REGION"] != "eu-west-1" {
		t.Errorf("environ %v", env)
	}
	p.S3SecretAccessKeyFile = filepath.Join(dir, "missing")
	if _, err := p.Environ(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing secret file: %v", err)
	}
}

func TestCheckDue(t *testing.T) {
	now := time.Date(2025, 3, 10, 3, 0, 0, 0, time.UTC)
	weekly := &Check{interval: 7 * 24 * time.Hour}
	tests := []struct {
		name string
		c    *Check
		last time.Time
		want bool
	}{
		{"never checked", weekly, time.Time{}, true},
		{"checked yesterday", weekly, now.Add(-24 * time.Hour), false},
		{"checked a week ago", weekly, now.Add(-7 * 24 * time.Hour), true},
		{"clock set back", weekly, now.Add(time.Hour), true},
		{"every backup", &Check{}, now.Add(-time.Minute), true},
	}
	for _, tt := range tests {
		if got := tt.c.Due(tt.last, now); got != tt.want {
			t.Errorf("%s: Due = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90s", 90 * time.Second, true},
		{"36h", 36 * time.Hour, true},
		{"30d", 30 * 24 * time.Hour, true},
		{"1y6m", (365 + 180) * 24 * time.Hour, true},
		{"2w1d", 15 * 24 * time.Hour, true},
		{"-5s", 0, false},
		{"d", 0, false},
		{"5", 0, false},
		{"5q", 0, false},
		{"99999999999999999999y", 0, false},
		{"300000y", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
