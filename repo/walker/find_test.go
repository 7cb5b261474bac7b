package walker

import (
	"context"
	"slices"
	"testing"

	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/tree"
)

func TestMatcherMatchesBaseNamesOrFullPaths(t *testing.T) {
	cases := []struct {
		patterns   []string
		ignoreCase bool
		path       string
		want       bool
	}{
		{[]string{"*.cf"}, false, "/etc/postfix/main.cf", true},
		{[]string{"*.cf"}, false, "/etc/postfix.cf/x", false},
		{[]string{"main.cf"}, false, "/main.cf", true},
		{[]string{"/etc/*/main.cf"}, false, "/etc/postfix/main.cf", true},
		{[]string{"/etc/*/main.cf"}, false, "/srv/etc/postfix/main.cf", false},
		{[]string{"/etc/postfix/"}, false, "/etc/postfix", true},
		{[]string{"etc/postfix"}, false, "/etc/postfix", false},
		{[]string{"Maildir"}, false, "/home/a/maildir", false},
		{[]string{"Maildir"}, true, "/home/a/maildir", true},
		{[]string{"/HOME/*/MAIL*"}, true, "/home/a/Maildir", true},
		{[]string{"*.txt", "*.cf"}, false, "/etc/a.cf", true},
		{[]string{"?"}, false, "/a/b", true},
	}
	for _, tc := range cases {
		m, err := NewMatcher(tc.patterns, tc.ignoreCase)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match(tc.path); got != tc.want {
			t.Errorf("%q (ignore case %v) Match(%q) = %v, want %v", tc.patterns, tc.ignoreCase, tc.path, got, tc.want)
		}
	}
}

func TestNewMatcherRejectsBadPatterns(t *testing.T) {
	for _, ps := range [][]string{nil, {""}, {"[a"}, {"ok", "\\"}} {
		if _, err := NewMatcher(ps, false); err == nil {
			t.Errorf("NewMatcher(%q) accepted", ps)
		}
	}
}

func findAll(t *testing.T, f *Finder, root blob.ID) []string {
	t.Helper()
	var got []string
	if err := f.Find(context.Background(), root, func(m Match) error {
		got = append(got, m.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestFinderReportsEverySnapshotButLoadsSharedSubtreesOnce(t *testing.T) {
	m := newMemTrees()
	mail := m.dir(t, "Maildir", m.dir(t, "cur", file("1.eml", "a"), file("2.eml", "b")), m.dir(t, "new"))
	home := m.dir(t, "home", m.dir(t, "alice", mail))
	snap1 := m.save(t, home, file("x.eml", "x"))
	snap2 := m.save(t, home, m.dir(t, "var", file("y.eml", "y")))
	mt, err := NewMatcher([]string{"*.eml"}, false)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFinder(m, mt, nil)
	got1 := findAll(t, f, snap1)
	loadsAfterFirst := m.loads[*home.Subtree]
	got2 := findAll(t, f, snap2)
	want1 := []string{"/home/alice/Maildir/cur/1.eml", "/home/alice/Maildir/cur/2.eml", "/x.eml"}
	want2 := []string{"/home/alice/Maildir/cur/1.eml", "/home/alice/Maildir/cur/2.eml", "/var/y.eml"}
	if !slices.Equal(got1, want1) || !slices.Equal(got2, want2) {
		t.Errorf("first snapshot %v, want %v\nsecond %v, want %v", got1, want1, got2, want2)
	}
	if loadsAfterFirst != 1 || m.loads[*home.Subtree] != 1 || m.loads[*mail.Subtree] != 1 {
		t.Errorf("shared subtrees loaded %d and %d times, want once", m.loads[*home.Subtree], m.loads[*mail.Subtree])
	}
}

func TestFinderFullPathPatternsTellApartTheSameSubtreeAtTwoPlaces(t *testing.T) {
	m := newMemTrees()
	conf := m.dir(t, "conf", file("main.cf", "x"))
	snap := m.save(t, m.dir(t, "etc", conf), m.dir(t, "srv", conf))
	mt, err := NewMatcher([]string{"/etc/*/main.cf"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := findAll(t, NewFinder(m, mt, nil), snap); !slices.Equal(got, []string{"/etc/conf/main.cf"}) {
		t.Errorf("found %v, want only /etc/conf/main.cf", got)
	}
}

func TestFinderReportsMatchingDirectoriesAndAppliesKeep(t *testing.T) {
	m := newMemTrees()
	snap := m.save(t, m.dir(t, "log", file("log", "1"), with(file("log.1", "2"), func(n *tree.Node) { n.Size = 100 })))
	mt, err := NewMatcher([]string{"log*"}, false)
	if err != nil {
		t.Fatal(err)
	}
	got := findAll(t, NewFinder(m, mt, nil), snap)
	if want := []string{"/log", "/log/log", "/log/log.1"}; !slices.Equal(got, want) {
		t.Errorf("found %v, want %v", got, want)
	}
	big := func(n *tree.Node) bool { return n.Size >= 100 }
	got = findAll(t, NewFinder(m, mt, big), snap)
	if want := []string{"/log/log.1"}; !slices.Equal(got, want) {
		t.Errorf("with keep: found %v, want %v", got, want)
	}
}
