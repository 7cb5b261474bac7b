// Package snapshot is the encoding of snapshot objects: when, where and
// what was backed up, and the root tree. It knows nothing of encryption
// or backends.
package snapshot

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/godwit-backup/godwit/repo/blob"
)

// Version is the snapshot object version this package writes and reads.
const Version = 1

// Snapshot is the plaintext of one snapshot object.
type Snapshot struct {
	Version  int       `json:"version"`
	Time     time.Time `json:"time"`
	Host     string    `json:"host"`
	Username string    `json:"username,omitempty"`
	Paths    []string  `json:"paths"`
	Tags     []string  `json:"tags,omitempty"`
	// Tree is the root tree blob: a tree for "/" whose descendants lead
	// to every backed-up path.
	Tree blob.ID `json:"tree"`
	// Manifest is the system manifest blob, if one was recorded.
	Manifest *blob.ID `json:"manifest,omitempty"`
	Summary  Summary  `json:"summary"`
	Program  string   `json:"program,omitempty"`
	// Incomplete is set when some files could not be read; the count is
	// in Summary.Errors (their names are not recorded here: a write key
	// can read snapshot objects).
	Incomplete bool `json:"incomplete,omitempty"`
	// Original is the snapshot this one was copied from (godwit copy),
	// in the repository it was first written to; nil when it is not a
	// copy.
	Original *blob.ID `json:"original,omitempty"`

	// ID is the object name; it is not part of the encoding.
	ID blob.ID `json:"-"`
}

// Summary holds the figures of the backup that wrote the snapshot.
type Summary struct {
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	FilesNew       uint64    `json:"files_new"`
	FilesChanged   uint64    `json:"files_changed"`
	FilesUnchanged uint64    `json:"files_unchanged"`
	Dirs           uint64    `json:"dirs"`
	Others         uint64    `json:"others"`
	BytesRead      uint64    `json:"bytes_read"`
	TotalSize      uint64    `json:"total_size"`
	BlobsAdded     uint64    `json:"blobs_added"`
	BytesAdded     uint64    `json:"bytes_added"`
	StoredAdded    uint64    `json:"stored_added"`
	Errors         uint64    `json:"errors"`
}

// Marshal encodes s.
func (s *Snapshot) Marshal() ([]byte, error) {
	c := *s
	c.Version = Version
	c.Time = c.Time.UTC()
	c.Summary.Start, c.Summary.End = c.Summary.Start.UTC(), c.Summary.End.UTC()
	c.Paths = sortedCopy(s.Paths)
	c.Tags = sortedCopy(s.Tags)
	return json.Marshal(&c)
}

func sortedCopy(s []string) []string {
	if s == nil {
		return nil
	}
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// Unmarshal decodes a snapshot object.
func Unmarshal(data []byte) (*Snapshot, error) {
	var s Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	if s.Version != Version {
		return nil, fmt.Errorf("decode snapshot: unsupported version %d", s.Version)
	}
	if s.Tree.IsNull() {
		return nil, fmt.Errorf("decode snapshot: no tree")
	}
	return &s, nil
}

// Filter selects snapshots by host, tags and paths; empty fields match
// everything.
type Filter struct {
	Hosts []string
	Tags  []string
	Paths []string
}

// Match reports whether s passes the filter: its host is one of Hosts,
// it has every tag of Tags, and it has every path of Paths.
func (f Filter) Match(s *Snapshot) bool {
	if len(f.Hosts) > 0 && !contains(f.Hosts, s.Host) {
		return false
	}
	for _, t := range f.Tags {
		for _, alt := range strings.Split(t, ",") {
			if !contains(s.Tags, alt) {
				return false
			}
		}
	}
	for _, p := range f.Paths {
		if !contains(s.Paths, p) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SortByTime sorts snapshots oldest first.
func SortByTime(list []*Snapshot) {
	sort.SliceStable(list, func(i, j int) bool { return list[i].Time.Before(list[j].Time) })
}
