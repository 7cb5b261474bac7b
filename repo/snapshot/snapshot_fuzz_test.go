package snapshot

import (
	"testing"
	"time"

	"github.com/godwit-backup/godwit/internal/testutil"
	"github.com/godwit-backup/godwit/repo/blob"
)

// FuzzSnapshotUnmarshal checks that no snapshot object makes Unmarshal
// panic, and that a decoded snapshot encodes, decodes and encodes again to
// the same bytes.
func FuzzSnapshotUnmarshal(f *testing.F) {
	start := time.Date(2025, 3, 4, 5, 6, 7, 8, time.FixedZone("", 5*3600))
	manifest := blob.ID{7}
	seeds := []*Snapshot{
		{
			Time:       start,
			Host:       "mx1",
			Username:   "root",
			Paths:      []string{"/var/mail", "/etc"},
			Tags:       []string{"nightly", "cron"},
			Tree:       blob.ID{1, 2},
			Manifest:   &manifest,
			Program:    "godwit 1.0",
			Incomplete: true,
			Summary:    Summary{Start: start, End: start.Add(time.Minute), FilesNew: 3, BytesRead: 99, Errors: 1},
		},
		{Time: time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC), Host: "backup", Paths: []string{"/"}, Tree: blob.ID{0xff}},
	}
	for _, s := range seeds {
		data, err := s.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Unmarshal(data)
		if err != nil {
			return
		}
		out, err := s.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a decoded snapshot: %v", err)
		}
		testutil.CheckStableEncoding(t, out, func(b []byte) ([]byte, error) {
			again, err := Unmarshal(b)
			if err != nil {
				return nil, err
			}
			return again.Marshal()
		})
	})
}
