package snapshot

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/repo/blob"
)

func TestUnmarshalOfMarshalRoundTrips(t *testing.T) {
	zone := time.FixedZone("", 5*3600)
	start := time.Date(2025, 3, 4, 5, 6, 7, 8, zone)
	manifest := blob.ID{7}
	in := &Snapshot{
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
		ID:         blob.ID{0xee},
	}
	data, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "ee00") {
		t.Errorf("ID is part of the encoding: %s", data)
	}
	out, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	want := *in
	want.Version = Version
	want.Paths = []string{"/etc", "/var/mail"}
	want.Tags = []string{"cron", "nightly"}
	want.ID = blob.ID{}
	if !out.Time.Equal(start) || out.Time.Location() != time.UTC {
		t.Errorf("time %v, want %v in UTC", out.Time, start)
	}
	out.Time, want.Time = time.Time{}, time.Time{}
	if !out.Summary.Start.Equal(start) {
		t.Errorf("summary start %v, want %v", out.Summary.Start, start)
	}
	out.Summary.Start, out.Summary.End, want.Summary.Start, want.Summary.End = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(*out, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", *out, want)
	}
	if in.Paths[0] != "/var/mail" || in.Tags[0] != "nightly" {
		t.Error("Marshal sorted the caller's slices")
	}
}

func TestMarshalIsIndependentOfPathAndTagOrder(t *testing.T) {
	a := &Snapshot{Tree: blob.ID{1}, Paths: []string{"/b", "/a"}, Tags: []string{"y", "x"}}
	b := &Snapshot{Tree: blob.ID{1}, Paths: []string{"/a", "/b"}, Tags: []string{"x", "y"}}
	da, _ := a.Marshal()
	db, _ := b.Marshal()
	if string(da) != string(db) {
		t.Errorf("encodings differ:\n%s\n%s", da, db)
	}
}

func TestUnmarshalRejectsBadSnapshots(t *testing.T) {
	tree := `"tree":"` + strings.Repeat("01", 32) + `"`
	cases := []struct{ name, data, want string }{
		{"other version", `{"version":2,` + tree + `}`, "unsupported version 2"},
		{"no version", `{` + tree + `}`, "unsupported version 0"},
		{"no tree", `{"version":1}`, "no tree"},
		{"null tree", `{"version":1,"tree":"` + strings.Repeat("00", 32) + `"}`, "no tree"},
		{"not json", `snapshot`, "decode snapshot"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unmarshal([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Unmarshal = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestFilterMatch(t *testing.T) {
	sn := &Snapshot{Host: "mx1", Tags: []string{"daily", "mail"}, Paths: []string{"/etc", "/var/mail"}}
	cases := []struct {
		name string
		f    Filter
		want bool
	}{
		{"empty filter", Filter{}, true},
		{"host listed", Filter{Hosts: []string{"web", "mx1"}}, true},
		{"host not listed", Filter{Hosts: []string{"web"}}, false},
		{"one tag", Filter{Tags: []string{"mail"}}, true},
		{"every tag required", Filter{Tags: []string{"mail", "weekly"}}, false},
		{"comma means all of", Filter{Tags: []string{"daily,mail"}}, true},
		{"comma list with a missing tag", Filter{Tags: []string{"daily,weekly"}}, false},
		{"path present", Filter{Paths: []string{"/etc"}}, true},
		{"every path required", Filter{Paths: []string{"/etc", "/home"}}, false},
		{"path match is exact", Filter{Paths: []string{"/var"}}, false},
		{"all fields match", Filter{Hosts: []string{"mx1"}, Tags: []string{"daily"}, Paths: []string{"/var/mail"}}, true},
		{"host matches but tag does not", Filter{Hosts: []string{"mx1"}, Tags: []string{"x"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Match(sn); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSortByTimeIsOldestFirstAndStable(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	list := []*Snapshot{
		{Host: "c", Time: t0.Add(2 * time.Hour)},
		{Host: "a1", Time: t0},
		{Host: "b", Time: t0.Add(time.Hour).In(time.FixedZone("", 7200))},
		{Host: "a2", Time: t0},
	}
	SortByTime(list)
	var got []string
	for _, s := range list {
		got = append(got, s.Host)
	}
	if strings.Join(got, ",") != "a1,a2,b,c" {
		t.Errorf("order %v, want a1,a2,b,c", got)
	}
}

func TestSnapshotJSONUsesDocumentedFieldNames(t *testing.T) {
	data, err := (&Snapshot{Tree: blob.ID{1}, Host: "h"}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "time", "host", "paths", "tree", "summary"} {
		if _, ok := m[k]; !ok {
			t.Errorf("member %q missing from %s", k, data)
		}
	}
	for _, k := range []string{"manifest", "tags", "incomplete", "ID", "id"} {
		if _, ok := m[k]; ok {
			t.Errorf("member %q present in %s", k, data)
		}
	}
}
