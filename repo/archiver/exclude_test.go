package archiver

import (
	"reflect"
	"strings"
	"testing"
)

func TestExcluder(t *testing.T) {
	ex, err := NewExcluder([]string{"*.tmp", "dovecot.index*", "/var/cache/*", "/home/*/.cache/", "  ", ""})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want bool
	}{
		{"/a.tmp", true},
		{"/home/alice/deep/x.tmp", true},
		{"/home/alice/x.tmp.keep", false},
		{"/var/mail/dovecot.index.log", true},
		{"/var/cache/apt", true},
		{"/var/cache", false},
		{"/var/cache/apt/archives", false}, // not descended into: its parent is excluded
		{"/srv/var/cache/apt", false},
		{"/home/bob/.cache", true},
		{"/home/bob/sub/.cache", false},
		{"/home/bob/.cachefile", false},
		{"/etc/passwd", false},
	}
	for _, tc := range cases {
		if got := ex.Excluded(tc.path); got != tc.want {
			t.Errorf("Excluded(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	var none *Excluder
	if none.Excluded("/anything") {
		t.Error("a nil Excluder excludes")
	}
}

func TestNewExcluderRejectsBadPatterns(t *testing.T) {
	cases := []struct{ pattern, want string }{
		{"!*.log", "negation"},
		{"  !keep", "negation"},
		{"[a-", "syntax error"},
		{"/var/[", "syntax error"},
	}
	for _, tc := range cases {
		_, err := NewExcluder([]string{"*.ok", tc.pattern})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewExcluder(%q) = %v, want an error containing %q", tc.pattern, err, tc.want)
		}
	}
}

func TestReadPatternsSkipsCommentsAndBlanks(t *testing.T) {
	in := "# caches\n*.tmp\n\n   \n  /var/cache/*  \n\t# indented comment\nfoo#bar\n"
	got, err := ReadPatterns(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"*.tmp", "/var/cache/*", "foo#bar"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadPatterns = %q, want %q", got, want)
	}
}
