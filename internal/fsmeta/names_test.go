package fsmeta

import (
	"sync"
	"sync/atomic"
	"testing"
)

// mapLookup is a Lookup over fixed tables that counts its calls.
type mapLookup struct {
	users, groups map[uint32]string
	calls         atomic.Int64
}

func (m *mapLookup) UserName(uid uint32) (string, bool) {
	m.calls.Add(1)
	name, ok := m.users[uid]
	return name, ok
}

func (m *mapLookup) GroupName(gid uint32) (string, bool) {
	m.calls.Add(1)
	name, ok := m.groups[gid]
	return name, ok
}

func (m *mapLookup) UserID(name string) (uint32, bool) {
	m.calls.Add(1)
	return reverse(m.users, name)
}

func (m *mapLookup) GroupID(name string) (uint32, bool) {
	m.calls.Add(1)
	return reverse(m.groups, name)
}

func reverse(m map[uint32]string, name string) (uint32, bool) {
	for id, n := range m {
		if n == name {
			return id, true
		}
	}
	return 0, false
}

func TestNamesCachesHitsAndMisses(t *testing.T) {
	l := &mapLookup{
		users:  map[uint32]string{1000: "alice"},
		groups: map[uint32]string{100: "users"},
	}
	n := NewNames(WithLookup(l))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if got := n.User(1000); got != "alice" {
					t.Errorf("User(1000) = %q, want alice", got)
				}
				if got := n.User(4242); got != "" {
					t.Errorf("User(4242) = %q, want none", got)
				}
				if got := n.Group(100); got != "users" {
					t.Errorf("Group(100) = %q, want users", got)
				}
				if got := n.Group(4343); got != "" {
					t.Errorf("Group(4343) = %q, want none", got)
				}
				if id, ok := n.LookupUser("alice"); !ok || id != 1000 {
					t.Errorf("LookupUser(alice) = %d, %v", id, ok)
				}
				if _, ok := n.LookupUser("mallory"); ok {
					t.Error("LookupUser(mallory) found an id")
				}
				if id, ok := n.LookupGroup("users"); !ok || id != 100 {
					t.Errorf("LookupGroup(users) = %d, %v", id, ok)
				}
				if _, ok := n.LookupGroup("wheel"); ok {
					t.Error("LookupGroup(wheel) found an id")
				}
			}
		})
	}
	wg.Wait()
	if got := l.calls.Load(); got != 8 {
		t.Errorf("lookup called %d times, want 8 (once per distinct question)", got)
	}
}

func TestNamesLookupOfEmptyNameFindsNothing(t *testing.T) {
	l := &mapLookup{users: map[uint32]string{7: ""}, groups: map[uint32]string{7: ""}}
	n := NewNames(WithLookup(l))
	if _, ok := n.LookupUser(""); ok {
		t.Error("LookupUser(\"\") found an id")
	}
	if _, ok := n.LookupGroup(""); ok {
		t.Error("LookupGroup(\"\") found an id")
	}
}

func TestNamesReadsThisMachinesAccounts(t *testing.T) {
	n := NewNames()
	if got := n.User(0); got != "root" {
		t.Errorf("User(0) = %q, want root", got)
	}
	if got := n.Group(0); got != "root" {
		t.Errorf("Group(0) = %q, want root", got)
	}
	if id, ok := n.LookupUser("root"); !ok || id != 0 {
		t.Errorf("LookupUser(root) = %d, %v", id, ok)
	}
	if id, ok := n.LookupGroup("root"); !ok || id != 0 {
		t.Errorf("LookupGroup(root) = %d, %v", id, ok)
	}
	if _, ok := n.LookupUser("no-such-user-godwit"); ok {
		t.Error("LookupUser found an id for a user that does not exist")
	}
}
