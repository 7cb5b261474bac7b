package fsmeta

import (
	"os/user"
	"strconv"
	"sync"
)

// Lookup is a source of user and group names: the accounts of this
// machine by default, or, for example, the accounts recorded in a
// snapshot's system manifest. Each method reports false when there is no
// such account. Implementations must be safe for concurrent use.
type Lookup interface {
	UserName(uid uint32) (string, bool)
	GroupName(gid uint32) (string, bool)
	UserID(name string) (uint32, bool)
	GroupID(name string) (uint32, bool)
}

// NamesOption configures NewNames.
type NamesOption func(*Names)

// WithLookup makes Names answer from l instead of this machine's
// accounts.
func WithLookup(l Lookup) NamesOption {
	return func(n *Names) { n.lookup = l }
}

// Names caches lookups between user and group ids and names. Every answer
// is cached, including "no such account", so each id or name is looked up
// at most once. Names is safe for concurrent use; the zero value is not
// usable, call NewNames.
type Names struct {
	lookup Lookup

	mu         sync.Mutex
	userNames  map[uint32]string
	groupNames map[uint32]string
	userIDs    map[string]idResult
	groupIDs   map[string]idResult
}

type idResult struct {
	id uint32
	ok bool
}

// NewNames returns an empty cache over this machine's accounts (through
// os/user: /etc/passwd and /etc/group, or NSS when built with cgo), or
// over the Lookup given with WithLookup.
func NewNames(opts ...NamesOption) *Names {
	n := &Names{
		lookup:     systemLookup{},
		userNames:  make(map[uint32]string),
		groupNames: make(map[uint32]string),
		userIDs:    make(map[string]idResult),
		groupIDs:   make(map[string]idResult),
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

// User returns the name of uid, or "" when uid has no name.
func (n *Names) User(uid uint32) string {
	return cachedName(n, n.userNames, uid, n.lookup.UserName)
}

// Group returns the name of gid, or "" when gid has no name.
func (n *Names) Group(gid uint32) string {
	return cachedName(n, n.groupNames, gid, n.lookup.GroupName)
}

// LookupUser returns the uid of the user called name.
func (n *Names) LookupUser(name string) (uint32, bool) {
	return cachedID(n, n.userIDs, name, n.lookup.UserID)
}

// LookupGroup returns the gid of the group called name.
func (n *Names) LookupGroup(name string) (uint32, bool) {
	return cachedID(n, n.groupIDs, name, n.lookup.GroupID)
}

// cachedName and cachedID hold the lock during the lookup itself, so
// concurrent callers asking for the same id wait for one lookup instead
// of each doing their own.
func cachedName(n *Names, cache map[uint32]string, id uint32, look func(uint32) (string, bool)) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if name, ok := cache[id]; ok {
		return name
	}
	name, _ := look(id)
	cache[id] = name
	return name
}

func cachedID(n *Names, cache map[string]idResult, name string, look func(string) (uint32, bool)) (uint32, bool) {
	if name == "" {
		return 0, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if r, ok := cache[name]; ok {
		return r.id, r.ok
	}
	id, ok := look(name)
	cache[name] = idResult{id, ok}
	return id, ok
}

// systemLookup answers from this machine's accounts. Any lookup error,
// not only "unknown user", counts as no name: a name is an annotation,
// the numeric id is what is restored.
type systemLookup struct{}

func (systemLookup) UserName(uid uint32) (string, bool) {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return "", false
	}
	return u.Username, true
}

func (systemLookup) GroupName(gid uint32) (string, bool) {
	g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10))
	if err != nil {
		return "", false
	}
	return g.Name, true
}

func (systemLookup) UserID(name string) (uint32, bool) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, false
	}
	return parseID(u.Uid)
}

func (systemLookup) GroupID(name string) (uint32, bool) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, false
	}
	return parseID(g.Gid)
}

func parseID(s string) (uint32, bool) {
	id, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(id), true
}
