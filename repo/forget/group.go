package forget

import (
	"fmt"
	"slices"
	"strings"

	"github.com/godwit-backup/godwit/repo/snapshot"
)

// GroupBy selects the snapshot fields that split snapshots into groups.
// The zero GroupBy puts all snapshots in one group.
type GroupBy struct{ Host, Paths, Tags bool }

// ParseGroupBy parses a comma-separated list of "host", "paths" and "tags"
// (the singular and plural forms are both accepted, spaces around words
// and empty words are ignored). The empty string means no grouping. An
// unknown word is an error.
func ParseGroupBy(s string) (GroupBy, error) {
	var g GroupBy
	for _, w := range strings.Split(s, ",") {
		switch strings.TrimSpace(w) {
		case "":
		case "host", "hosts":
			g.Host = true
		case "path", "paths":
			g.Paths = true
		case "tag", "tags":
			g.Tags = true
		default:
			return GroupBy{}, fmt.Errorf("unknown group-by field %q (want host, paths or tags)", strings.TrimSpace(w))
		}
	}
	return g, nil
}

// String returns the canonical form that ParseGroupBy accepts, such as
// "host,paths", or "" for no grouping.
func (g GroupBy) String() string {
	var words []string
	if g.Host {
		words = append(words, "host")
	}
	if g.Paths {
		words = append(words, "paths")
	}
	if g.Tags {
		words = append(words, "tags")
	}
	return strings.Join(words, ",")
}

// GroupKey identifies a group. Fields that are not grouped on are empty;
// Paths and Tags are sorted.
type GroupKey struct {
	Host  string   `json:"host,omitempty"`
	Paths []string `json:"paths,omitempty"`
	Tags  []string `json:"tags,omitempty"`
}

func keyOf(sn *snapshot.Snapshot, by GroupBy) GroupKey {
	var k GroupKey
	if by.Host {
		k.Host = sn.Host
	}
	if by.Paths {
		k.Paths = sortedCopy(sn.Paths)
	}
	if by.Tags {
		k.Tags = sortedCopy(sn.Tags)
	}
	return k
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func compareKeys(a, b GroupKey) int {
	if c := strings.Compare(a.Host, b.Host); c != 0 {
		return c
	}
	if c := slices.Compare(a.Paths, b.Paths); c != 0 {
		return c
	}
	return slices.Compare(a.Tags, b.Tags)
}

// mapKey encodes k as a string that is equal exactly for equal keys: every
// field is quoted and the lists are prefixed with their lengths.
func mapKey(k GroupKey) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q\x00%d", k.Host, len(k.Paths))
	for _, p := range k.Paths {
		fmt.Fprintf(&b, "\x00%q", p)
	}
	fmt.Fprintf(&b, "\x00%d", len(k.Tags))
	for _, t := range k.Tags {
		fmt.Fprintf(&b, "\x00%q", t)
	}
	return b.String()
}
