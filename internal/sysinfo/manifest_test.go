package sysinfo

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

func sampleManifest() *Manifest {
	return &Manifest{
		Version:        ManifestVersion,
		Created:        time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC),
		Hostname:       "mail",
		FQDN:           "mail.example.org",
		Mailname:       "example.org",
		OSRelease:      map[string]string{"ID": "debian", "VERSION_ID": "12"},
		PackageManager: "dpkg",
		Packages:       []Package{{Name: "postfix", Version: "3.7.11-0+deb12u1", Arch: "amd64", Manual: true}},
		Users:          []User{{Name: "vmail", UID: 5000, GID: 5000, Gecos: "Virtual Mail", Home: "/var/vmail", Shell: "/usr/sbin/nologin"}},
		Groups:         []Group{{Name: "mail", GID: 8, Members: []string{"vmail"}}},
		OwnerUIDs:      []uint32{0, 5000},
		OwnerGIDs:      []uint32{0, 8, 5000},
		EnabledUnits:   []string{"postfix.service"},
		Mail:           []MailStack{{Name: "postfix", Version: "3.7.11-0+deb12u1"}},
		RunningMail:    []string{"postfix"},
		Aliases:        map[string]string{"postmaster": "root"},
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := sampleManifest()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip =\n%+v\nwant\n%+v", got, m)
	}
}

func TestMarshalSetsVersionAndIsDeterministic(t *testing.T) {
	m := sampleManifest()
	m.Version = 0
	a, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 0 {
		t.Error("Marshal modified its receiver")
	}
	b, _ := sampleManifest().Marshal()
	if !bytes.Equal(a, b) {
		t.Errorf("Marshal not deterministic:\n%s\n%s", a, b)
	}
	if !bytes.Contains(a, []byte(`"version":1`)) {
		t.Errorf("Marshal output lacks the version: %s", a)
	}
}

func TestMarshalRejectsUnknownVersion(t *testing.T) {
	m := sampleManifest()
	m.Version = ManifestVersion + 1
	if _, err := m.Marshal(); !errors.Is(err, ErrVersion) {
		t.Errorf("Marshal(version %d) error = %v, want ErrVersion", m.Version, err)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	for _, tc := range []struct {
		name, in    string
		wantVersion bool // the error wraps ErrVersion
	}{
		{"no version", `{"hostname":"mail"}`, true},
		{"newer version", `{"version":2,"hostname":{"changed":"type"}}`, true},
		{"zero version", `{"version":0}`, true},
		{"negative version", `{"version":-1}`, true},
		{"null", `null`, true},
		{"not json", `version: 1`, false},
		{"trailing data", `{"version":1} {}`, false},
		{"wrong field type", `{"version":1,"users":[{"uid":"x"}]}`, false},
		{"uid out of range", `{"version":1,"users":[{"uid":4294967296}]}`, false},
		{"empty", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Unmarshal([]byte(tc.in))
			if err == nil {
				t.Fatalf("Unmarshal(%s) = %+v, want an error", tc.in, m)
			}
			if errors.Is(err, ErrVersion) != tc.wantVersion {
				t.Errorf("Unmarshal(%s) error = %v, ErrVersion wrapped = %v, want %v", tc.in, err, !tc.wantVersion, tc.wantVersion)
			}
		})
	}
}

// FuzzUnmarshal checks that whatever Unmarshal accepts, Marshal encodes and
// Unmarshal decodes again to the same manifest and the same bytes.
func FuzzUnmarshal(f *testing.F) {
	b, err := sampleManifest().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"created":"2025-03-01T12:00:00+01:00","aliases":{"a":"b\u00ff"}}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Unmarshal(data)
		if err != nil {
			return
		}
		first, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of an accepted manifest: %v", err)
		}
		m2, err := Unmarshal(first)
		if err != nil {
			t.Fatalf("Unmarshal of Marshal output: %v\n%s", err, first)
		}
		second, err := m2.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("not stable:\n%s\n%s", first, second)
		}
	})
}
