package sftp

import (
	"slices"
	"strings"
	"testing"
)

func TestParseLocationAcceptsURLAndScpForms(t *testing.T) {
	tests := []struct {
		in   string
		want Config
	}{
		{"sftp://alice@example.com:2222/srv/godwit", Config{User: "alice", Host: "example.com", Port: 2222, Path: "/srv/godwit"}},
		{"sftp://alice@example.com/srv/godwit", Config{User: "alice", Host: "example.com", Path: "/srv/godwit"}},
		{"sftp://example.com/srv/godwit/", Config{Host: "example.com", Path: "/srv/godwit"}},
		{"sftp://backup@[2001:db8::1]:22/a/b", Config{User: "backup", Host: "2001:db8::1", Port: 22, Path: "/a/b"}},
		{"sftp://bob@host/srv/a%20b", Config{User: "bob", Host: "host", Path: "/srv/a b"}},
		{"sftp://host/srv/x/../y", Config{Host: "host", Path: "/srv/y"}},
		{"sftp:alice@example.com:/srv/godwit", Config{User: "alice", Host: "example.com", Path: "/srv/godwit"}},
		{"sftp:example.com:/srv/godwit", Config{Host: "example.com", Path: "/srv/godwit"}},
		{"sftp:backup-alias:/", Config{Host: "backup-alias", Path: "/"}},
		{"sftp:u@[2001:db8::1]:/repo", Config{User: "u", Host: "2001:db8::1", Path: "/repo"}},
		{"sftp:a@b@host:/repo", Config{User: "a@b", Host: "host", Path: "/repo"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLocation(tc.in)
			if err != nil {
				t.Fatalf("ParseLocation(%q): %v", tc.in, err)
			}
			if !equalConfig(got, tc.want) {
				t.Errorf("ParseLocation(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			// The location string parses back to the same configuration.
			again, err := ParseLocation(got.Location())
			if err != nil || !equalConfig(again, got) {
				t.Errorf("ParseLocation(%q) = %+v, %v; want %+v", got.Location(), again, err, got)
			}
		})
	}
}

func equalConfig(a, b Config) bool {
	return a.User == b.User && a.Host == b.Host && a.Port == b.Port && a.Path == b.Path &&
		slices.Equal(a.Command, b.Command) && slices.Equal(a.SSHOptions, b.SSHOptions) && a.Connections == b.Connections
}

func TestParseLocationRejectsBadLocations(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"sftp:host:relative/path", "relative"},
		{"sftp:host:", "missing path"},
		{"sftp:host", "missing ':'"},
		{"sftp://host", "missing path"},
		{"sftp://user@:22/srv", "missing host"},
		{"sftp://host:99999/srv", "invalid port"},
		{"sftp://host:x/srv", "port"},
		{"sftp://user:secret@host/srv", "passwords"},
		{"sftp:user:secret@host:/srv", "passwords"},
		{"sftp://-oProxyCommand=x/srv", "starts with '-'"},
		{"sftp:-oProxyCommand=x:/srv", "starts with '-'"},
		{"sftp://-l@host/srv", "starts with '-'"},
		{"sftp:u@[::1/srv", "missing ']'"},
		{"sftp://host/srv?x=1", "query"},
		{"s3://bucket/prefix", "not an sftp location"},
		{"/srv/godwit", "not an sftp location"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseLocation(tc.in)
			if err == nil {
				t.Fatalf("ParseLocation(%q): got no error", tc.in)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseLocation(%q): got %q, want it to mention %q", tc.in, err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseLocation(%q): error %q shows the password", tc.in, err)
			}
		})
	}
}

func TestCommandChecksHostKeysBeforeUserOptions(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{
			"host only",
			Config{Host: "h", Path: "/r"},
			[]string{"ssh", "-o", "StrictHostKeyChecking=yes", "-s", "--", "h", "sftp"},
		},
		{
			"user, port and options",
			Config{User: "u", Host: "h", Port: 2222, Path: "/r", SSHOptions: []string{"-o", "StrictHostKeyChecking=no", "-i", "k"}},
			[]string{"ssh", "-p", "2222", "-l", "u", "-o", "StrictHostKeyChecking=yes", "-o", "StrictHostKeyChecking=no", "-i", "k", "-s", "--", "h", "sftp"},
		},
		{
			"own command",
			Config{Host: "h", Path: "/r", Command: []string{"plink", "-batch", "h", "-s", "sftp"}},
			[]string{"plink", "-batch", "h", "-s", "sftp"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.command(); !slices.Equal(got, tc.want) {
				t.Errorf("command() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConnectFailureSaysWhatToDo(t *testing.T) {
	cfg := Config{User: "alice", Host: "backup.example", Port: 2222, Path: "/srv/godwit"}
	tests := []struct {
		name      string
		stderr    string
		want      []string
		permanent bool
	}{
		{
			"unknown host key",
			"No ED25519 host key is known for [backup.example]:2222 and you have requested strict checking.\r\nHost key verification failed.\r\n",
			[]string{"host key", "known_hosts", "ssh-keyscan -p 2222 backup.example", "Host key verification failed."},
			true,
		},
		{
			"changed host key",
			"@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\nHost key verification failed.\r\n",
			[]string{"host key has changed", "ssh-keygen -R '[backup.example]:2222'"},
			true,
		},
		{
			"authentication",
			"alice@backup.example: Permission denied (publickey).\r\n",
			[]string{"authentication failed for alice", "authorized_keys", "ssh-add -l", "ssh -p 2222 alice@backup.example"},
			true,
		},
		{
			"no sftp subsystem",
			"subsystem request failed on channel 0\r\n",
			[]string{"does not offer SFTP", "Subsystem sftp"},
			true,
		},
		{
			"refused",
			"ssh: connect to host backup.example port 2222: Connection refused\r\n",
			[]string{"refused the connection"},
			false,
		},
		{
			"unknown failure",
			"something odd\n",
			[]string{"ssh did not start an SFTP session", "something odd"},
			false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := connectFailure(cfg, tc.stderr, errUnexpectedEOFForTest)
			msg := err.Error()
			for _, w := range append(tc.want, "sftp://alice@backup.example:2222/srv/godwit") {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if got := isPermanent(err); got != tc.permanent {
				t.Errorf("permanent = %v, want %v", got, tc.permanent)
			}
		})
	}
}

func TestTailBufferKeepsLastBytes(t *testing.T) {
	tb := &tailBuffer{max: 8}
	for _, s := range []string{"abc", "defgh", "ijk", ""} {
		if n, err := tb.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("write %q: %d, %v", s, n, err)
		}
	}
	if got := tb.String(); got != "defghijk" {
		t.Errorf("got %q, want %q", got, "defghijk")
	}
}
