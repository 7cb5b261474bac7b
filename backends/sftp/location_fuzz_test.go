package sftp

import "testing"

// FuzzParseLocation checks that no location makes ParseLocation panic, and
// that the Location of an accepted configuration parses back to the same
// configuration.
func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{
		"sftp://alice@example.com:2222/srv/godwit",
		"sftp://example.com/srv/godwit/",
		"sftp://backup@[2001:db8::1]:22/a/b",
		"sftp://bob@host/srv/a%20b",
		"sftp://host/srv/x/../y",
		"sftp:alice@example.com:/srv/godwit",
		"sftp:backup-alias:/",
		"sftp:u@[2001:db8::1]:/repo",
		"sftp:a@b@host:/repo",
		"sftp://user:secret@host/srv",
		"sftp:user:secret@host:/srv",
		"sftp:host:relative",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseLocation(s)
		if err != nil {
			return
		}
		loc := cfg.Location()
		again, err := ParseLocation(loc)
		if err != nil {
			t.Fatalf("ParseLocation(%q) = %+v, but its Location %q does not parse: %v", s, cfg, loc, err)
		}
		if !equalConfig(again, cfg) {
			t.Fatalf("ParseLocation(%q) = %+v, but its Location %q parses to %+v", s, cfg, loc, again)
		}
	})
}
