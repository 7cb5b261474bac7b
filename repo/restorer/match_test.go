package restorer

import "testing"

func TestMatcherSelected(t *testing.T) {
	type probe struct {
		path  string
		isDir bool
		want  bool
	}
	cases := []struct {
		name             string
		include, exclude []string
		root             string
		probes           []probe
	}{
		{
			name: "no patterns select everything",
			root: "/",
			probes: []probe{
				{"/etc", true, true},
				{"/etc/passwd", false, true},
			},
		},
		{
			name:    "exclude by base name at any depth",
			exclude: []string{"*.lock"},
			root:    "/",
			probes: []probe{
				{"/var/mail/alice.lock", false, false},
				{"/x.lock", true, false},
				{"/var/mail/alice", false, true},
			},
		},
		{
			name:    "exclude by path",
			exclude: []string{"/var/cache/"},
			root:    "/",
			probes: []probe{
				{"/var/cache", true, false},
				{"/var/cached", true, true},
				{"/srv/var/cache", true, true},
			},
		},
		{
			name:    "include a directory by path",
			include: []string{"/home/alice/Maildir"},
			root:    "/",
			probes: []probe{
				{"/home", true, true},       // on the way
				{"/home/alice", true, true}, // on the way
				{"/home", false, false},     // a file cannot lead anywhere
				{"/home/bob", true, false},  // off the way
				{"/home/alice/notes", false, false},
				{"/home/alice/Maildir", true, true},
				{"/home/alice/Maildir/cur/1", false, true}, // below an include
				{"/home/alice/Maildir/cur", true, true},
				{"/etc", true, false},
			},
		},
		{
			name:    "include with a glob in the path",
			include: []string{"/etc/postfix/*.cf"},
			root:    "/",
			probes: []probe{
				{"/etc", true, true},
				{"/etc/postfix", true, true},
				{"/etc/postfix/main.cf", false, true},
				{"/etc/postfix/sasl", true, false},
				{"/etc/postfix/sasl/x.cf", false, false},
				{"/etc/hosts", false, false},
			},
		},
		{
			name:    "include by base name",
			include: []string{"*.cf"},
			root:    "/",
			probes: []probe{
				{"/etc", true, true},
				{"/etc/postfix/main.cf", false, true},
				{"/etc/hosts", false, false},
				{"/conf.cf", true, true},
				{"/conf.cf/inner", false, true},
			},
		},
		{
			name:    "exclude wins over include",
			include: []string{"/var/mail"},
			exclude: []string{"*.lock"},
			root:    "/",
			probes: []probe{
				{"/var/mail/alice", false, true},
				{"/var/mail/alice.lock", false, false},
			},
		},
		{
			name:    "directories above the root do not count as matching parents",
			include: []string{"mail"},
			root:    "/var/mail/alice",
			probes: []probe{
				{"/var/mail/alice/inbox", false, false},
				{"/var/mail/alice/mail", true, true},
				{"/var/mail/alice/mail/x", false, true},
			},
		},
		{
			name:    "the root itself counts as a matching parent",
			include: []string{"/var/mail"},
			root:    "/var/mail",
			probes: []probe{
				{"/var/mail/alice", false, true},
				{"/var/mail/sub", true, true},
				{"/var/mail/sub/x", false, true},
			},
		},
		{
			name:    "a path include above the root selects nothing below it",
			include: []string{"/var/mail"},
			root:    "/var/mail/alice",
			probes: []probe{
				{"/var/mail/alice/inbox", false, false},
				{"/var/mail/alice/cur", true, false},
			},
		},
		{
			name:    "a base-name include from the snapshot root",
			include: []string{"mail"},
			root:    "/",
			probes: []probe{
				{"/var/mail/alice", false, true},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMatcher(tc.include, tc.exclude)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.probes {
				if got := m.Selected(p.path, tc.root, p.isDir); got != p.want {
					t.Errorf("Selected(%q, dir=%v) = %v, want %v", p.path, p.isDir, got, p.want)
				}
			}
		})
	}
}

func TestNewMatcherRejectsBadPatterns(t *testing.T) {
	if _, err := NewMatcher([]string{"[a-"}, nil); err == nil {
		t.Error("bad include accepted")
	}
	if _, err := NewMatcher(nil, []string{"/x/["}); err == nil {
		t.Error("bad exclude accepted")
	}
	if _, err := NewMatcher([]string{"", "/"}, []string{""}); err != nil {
		t.Errorf("empty and root patterns rejected: %v", err)
	}
}
