package forget

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/snapshot"
)

// history is a fixed set of snapshot times in UTC spanning two years,
// newest first. Tests name snapshots by their 1-based position here.
// Weekdays and ISO weeks are noted where they matter.
var history = []string{
	"2025-11-28 18:30", //  1 Fri 2025-W48
	"2025-11-28 18:10", //  2 same hour as 1
	"2025-11-28 09:00", //  3 same day as 1
	"2025-11-27 23:59", //  4 Thu
	"2025-11-27 00:00", //  5 first instant of the day of 4
	"2025-11-26 12:00", //  6 Wed
	"2025-11-24 08:00", //  7 Mon 2025-W48
	"2025-11-23 22:00", //  8 Sun 2025-W47
	"2025-11-20 10:00", //  9 Thu 2025-W47
	"2025-11-15 10:00", // 10 Sat 2025-W46
	"2025-11-01 00:00", // 11 first instant of November, 2025-W44
	"2025-10-31 23:59", // 12 Fri 2025-W44
	"2025-10-15 12:00", // 13
	"2025-09-15 12:00", // 14
	"2025-08-15 12:00", // 15
	"2025-07-15 12:00", // 16
	"2025-06-01 12:00", // 17
	"2025-05-01 12:00", // 18
	"2025-03-10 12:00", // 19
	"2025-01-01 00:00", // 20 first instant of 2025, 2025-W01
	"2024-12-31 23:00", // 21 Tue, ISO week 2025-W01
	"2024-12-30 12:00", // 22 Mon, ISO week 2025-W01
	"2024-12-15 12:00", // 23 Sun 2024-W50
	"2024-11-15 12:00", // 24
	"2024-09-15 12:00", // 25
	"2024-06-15 12:00", // 26
	"2024-03-15 12:00", // 27
	"2024-01-15 12:00", // 28
	"2024-01-02 12:00", // 29 Tue 2024-W01
	"2024-01-01 08:00", // 30 Mon 2024-W01, oldest
}

// historyTags are the tags of some snapshots of history, by position.
var historyTags = map[int][]string{
	2:  {"manual"},
	11: {"monthly"},
	20: {"yearly", "important"},
	25: {"important"},
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// historySnapshots returns the snapshots of history on host "mx1", in an
// order other than newest first, with ID{n} for position n.
func historySnapshots(t *testing.T) []*snapshot.Snapshot {
	t.Helper()
	list := make([]*snapshot.Snapshot, len(history))
	for i, s := range history {
		list[i] = &snapshot.Snapshot{
			Time:  mustTime(t, s),
			Host:  "mx1",
			Paths: []string{"/etc", "/var/mail"},
			Tags:  historyTags[i+1],
			ID:    blob.ID{byte(i + 1)},
		}
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
	return list
}

// kept returns the positions (the first ID byte) of the kept snapshots
// of the single group in groups, and checks the group's invariants.
func kept(t *testing.T, groups []Group) []int {
	t.Helper()
	if len(groups) != 1 {
		t.Fatalf("got %d groups, want 1", len(groups))
	}
	var out []int
	for _, d := range groups[0].Decisions {
		if d.Keep != (len(d.Reasons) > 0) {
			t.Errorf("snapshot %d: Keep %v with reasons %v", d.Snapshot.ID[0], d.Keep, d.Reasons)
		}
		if d.Keep {
			out = append(out, int(d.Snapshot.ID[0]))
		}
	}
	return out
}

func span(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func except(from, to int, skip ...int) []int {
	var s []int
	for _, i := range span(from, to) {
		if !slices.Contains(skip, i) {
			s = append(s, i)
		}
	}
	return s
}

func TestApplyKeepsExpectedSnapshotsOfHistory(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		want   []int
	}{
		{"last 3", Policy{Last: 3}, []int{1, 2, 3}},
		{"hourly 5", Policy{Hourly: 5}, []int{1, 3, 4, 5, 6}},
		{"daily 7", Policy{Daily: 7}, []int{1, 4, 6, 7, 8, 9, 10}},
		{"weekly 4", Policy{Weekly: 4}, []int{1, 8, 10, 11}},
		{"monthly 6", Policy{Monthly: 6}, []int{1, 12, 14, 15, 16, 17}},
		{"yearly 2", Policy{Yearly: 2}, []int{1, 21}},
		{"yearly 5 keeps the oldest while count is left", Policy{Yearly: 5}, []int{1, 21, 30}},
		{"weekly 20 counts ISO weeks across new year", Policy{Weekly: 20},
			[]int{1, 8, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 23, 24, 25, 26, 27, 28, 29, 30}},
		{"7 daily, 4 weekly, 12 monthly", Policy{Daily: 7, Weekly: 4, Monthly: 12},
			[]int{1, 4, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21, 24, 25}},
		{"within 30 days", Policy{Within: 30 * 24 * time.Hour}, span(1, 12)},
		{"within 1 hour", Policy{Within: time.Hour}, []int{1, 2}},
		{"tag important", Policy{Tags: [][]string{{"important"}}}, []int{20, 25}},
		{"tags yearly+important or monthly", Policy{Tags: [][]string{{"yearly", "important"}, {"monthly"}}}, []int{11, 20}},
		{"tags important+manual match no snapshot", Policy{Tags: [][]string{{"important", "manual"}}}, nil},
		{"empty tag keeps untagged", Policy{Tags: [][]string{{""}}}, except(1, 30, 2, 11, 20, 25)},
		{"last unlimited", Policy{Last: -1}, span(1, 30)},
		{"daily unlimited", Policy{Daily: -1}, except(1, 30, 2, 3, 5)},
		{"monthly unlimited keeps the oldest", Policy{Monthly: -1},
			[]int{1, 12, 14, 15, 16, 17, 18, 19, 20, 21, 24, 25, 26, 27, 28, 30}},
		{"count below -1 is unlimited", Policy{Yearly: -7}, []int{1, 21, 30}},
		{"last 2 and tag", Policy{Last: 2, Tags: [][]string{{"important"}}}, []int{1, 2, 20, 25}},
		{"empty policy keeps everything", Policy{}, span(1, 30)},
		{"negative within is no rule", Policy{Within: -time.Hour}, span(1, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kept(t, Apply(historySnapshots(t), tt.policy, GroupBy{Host: true, Paths: true}, time.UTC))
			if !slices.Equal(got, tt.want) {
				t.Errorf("kept %v, want %v", got, tt.want)
			}
		})
	}
}

func TestApplyListsEveryReasonOfKeptSnapshots(t *testing.T) {
	p := Policy{
		Last:    1,
		Daily:   7,
		Weekly:  4,
		Monthly: 12,
		Yearly:  3,
		Within:  36 * time.Hour,
		Tags:    [][]string{{"important"}, {"yearly"}},
	}
	groups := Apply(historySnapshots(t), p, GroupBy{}, time.UTC)
	got := make(map[int][]Reason)
	for _, d := range groups[0].Decisions {
		got[int(d.Snapshot.ID[0])] = d.Reasons
	}
	want := map[int][]Reason{
		1: {{RuleWithin, "1d12h"}, {RuleLast, "1"}, {RuleDaily, "2025-11-28"}, {RuleWeekly, "2025-W48"},
			{RuleMonthly, "2025-11"}, {RuleYearly, "2025"}},
		2:  {{RuleWithin, "1d12h"}},
		4:  {{RuleWithin, "1d12h"}, {RuleDaily, "2025-11-27"}},
		5:  nil,
		8:  {{RuleDaily, "2025-11-23"}, {RuleWeekly, "2025-W47"}},
		11: {{RuleWeekly, "2025-W44"}},
		12: {{RuleMonthly, "2025-10"}},
		20: {{RuleTag, "important"}, {RuleTag, "yearly"}, {RuleMonthly, "2025-01"}},
		21: {{RuleMonthly, "2024-12"}, {RuleYearly, "2024"}},
		25: {{RuleTag, "important"}, {RuleMonthly, "2024-09"}},
		30: {{RuleYearly, "2024 (oldest)"}},
		13: nil,
		29: nil,
	}
	for n, w := range want {
		if !reflect.DeepEqual(got[n], w) {
			t.Errorf("snapshot %d: reasons %v, want %v", n, got[n], w)
		}
	}
}

func TestApplyPeriodStartsAtItsFirstInstant(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		newer  string // at the first instant of a period
		older  string // one minute earlier
		want   [2]string
	}{
		{"hour", Policy{Hourly: 2}, "2025-11-27 14:00", "2025-11-27 13:59", [2]string{"2025-11-27 14:00", "2025-11-27 13:00"}},
		{"day", Policy{Daily: 2}, "2025-11-27 00:00", "2025-11-26 23:59", [2]string{"2025-11-27", "2025-11-26"}},
		{"ISO week starts Monday", Policy{Weekly: 2}, "2025-11-24 00:00", "2025-11-23 23:59", [2]string{"2025-W48", "2025-W47"}},
		{"ISO week 1 starts in December", Policy{Weekly: 2}, "2024-12-30 00:00", "2024-12-29 23:59", [2]string{"2025-W01", "2024-W52"}},
		{"month", Policy{Monthly: 2}, "2025-03-01 00:00", "2025-02-28 23:59", [2]string{"2025-03", "2025-02"}},
		{"year", Policy{Yearly: 2}, "2025-01-01 00:00", "2024-12-31 23:59", [2]string{"2025", "2024"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list := []*snapshot.Snapshot{
				{Time: mustTime(t, tt.older), ID: blob.ID{2}},
				{Time: mustTime(t, tt.newer), ID: blob.ID{1}},
			}
			g := Apply(list, tt.policy, GroupBy{}, time.UTC)
			var got [2]string
			for i, d := range g[0].Decisions {
				if len(d.Reasons) != 1 {
					t.Fatalf("snapshot %d: reasons %v, want one", i+1, d.Reasons)
				}
				got[i] = d.Reasons[0].Period
			}
			if got != tt.want {
				t.Errorf("periods %q, want %q", got, tt.want)
			}
		})
	}
}

func TestApplyWithinExcludesSnapshotExactlyAtCutoff(t *testing.T) {
	newest := mustTime(t, "2025-11-28 12:00")
	list := []*snapshot.Snapshot{
		{Time: newest, ID: blob.ID{1}},
		{Time: newest.Add(-24*time.Hour + time.Nanosecond), ID: blob.ID{2}},
		{Time: newest.Add(-24 * time.Hour), ID: blob.ID{3}},
	}
	got := kept(t, Apply(list, Policy{Within: 24 * time.Hour}, GroupBy{}, time.UTC))
	if want := []int{1, 2}; !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
}

func TestApplyUsesLocationForPeriods(t *testing.T) {
	// 23:30 UTC on the 27th is 00:30 on the 28th in UTC+1.
	list := []*snapshot.Snapshot{
		{Time: mustTime(t, "2025-11-28 12:00"), ID: blob.ID{1}},
		{Time: mustTime(t, "2025-11-27 23:30"), ID: blob.ID{2}},
		{Time: mustTime(t, "2025-11-27 10:00"), ID: blob.ID{3}},
	}
	tests := []struct {
		name    string
		loc     *time.Location
		want    []int
		periods []string
	}{
		{"UTC", time.UTC, []int{1, 2}, []string{"2025-11-28", "2025-11-27"}},
		{"nil is UTC", nil, []int{1, 2}, []string{"2025-11-28", "2025-11-27"}},
		{"UTC+1", time.FixedZone("UTC+1", 3600), []int{1, 3}, []string{"2025-11-28", "2025-11-27"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Apply(list, Policy{Daily: 2}, GroupBy{}, tt.loc)
			if got := kept(t, g); !slices.Equal(got, tt.want) {
				t.Errorf("kept %v, want %v", got, tt.want)
			}
			var periods []string
			for _, d := range g[0].Decisions {
				for _, r := range d.Reasons {
					periods = append(periods, r.Period)
				}
			}
			if !slices.Equal(periods, tt.periods) {
				t.Errorf("periods %q, want %q", periods, tt.periods)
			}
		})
	}
}

func TestApplyKeepsHostsIndependently(t *testing.T) {
	at := func(s string) time.Time { return mustTime(t, s) }
	list := []*snapshot.Snapshot{
		{Time: at("2025-11-01 10:00"), Host: "mx1", ID: blob.ID{1}},
		{Time: at("2025-11-03 12:00"), Host: "web", ID: blob.ID{2}},
		{Time: at("2025-11-02 10:00"), Host: "mx1", ID: blob.ID{3}},
		{Time: at("2025-11-04 10:00"), Host: "web", ID: blob.ID{4}},
		{Time: at("2025-11-02 09:00"), Host: "mx1", ID: blob.ID{5}},
	}
	// Within is measured from each group's newest snapshot: mx1's
	// backups stopped two days before web's, and it still keeps a day.
	groups := Apply(list, Policy{Within: 24 * time.Hour}, GroupBy{Host: true}, time.UTC)
	type result struct {
		host string
		kept []byte
		all  []byte
	}
	var got []result
	for _, g := range groups {
		r := result{host: g.Key.Host}
		for _, d := range g.Decisions {
			r.all = append(r.all, d.Snapshot.ID[0])
			if d.Keep {
				r.kept = append(r.kept, d.Snapshot.ID[0])
			}
		}
		got = append(got, r)
	}
	want := []result{
		{host: "mx1", kept: []byte{3, 5}, all: []byte{3, 5, 1}},
		{host: "web", kept: []byte{4, 2}, all: []byte{4, 2}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestApplyGroupsByFieldsAsSets(t *testing.T) {
	at := mustTime(t, "2025-11-01 10:00")
	list := []*snapshot.Snapshot{
		{Time: at, Host: "mx1", Paths: []string{"/var/mail", "/etc"}, Tags: []string{"b", "a"}, ID: blob.ID{1}},
		{Time: at.Add(time.Hour), Host: "mx1", Paths: []string{"/etc", "/var/mail"}, Tags: []string{"a", "b"}, ID: blob.ID{2}},
		{Time: at, Host: "mx1", Paths: []string{"/etc"}, ID: blob.ID{3}},
		{Time: at, Host: "mx0", Paths: []string{"/etc", "/var/mail"}, Tags: []string{"a"}, ID: blob.ID{4}},
	}
	tests := []struct {
		by      string
		keys    []GroupKey
		members [][]byte
	}{
		{"", []GroupKey{{}}, [][]byte{{2, 4, 3, 1}}},
		{"host", []GroupKey{{Host: "mx0"}, {Host: "mx1"}}, [][]byte{{4}, {2, 3, 1}}},
		{"paths", []GroupKey{{Paths: []string{"/etc"}}, {Paths: []string{"/etc", "/var/mail"}}}, [][]byte{{3}, {2, 4, 1}}},
		{"host,paths", []GroupKey{
			{Host: "mx0", Paths: []string{"/etc", "/var/mail"}},
			{Host: "mx1", Paths: []string{"/etc"}},
			{Host: "mx1", Paths: []string{"/etc", "/var/mail"}},
		}, [][]byte{{4}, {3}, {2, 1}}},
		{"tags", []GroupKey{{}, {Tags: []string{"a"}}, {Tags: []string{"a", "b"}}}, [][]byte{{3}, {4}, {2, 1}}},
		{"host,paths,tags", []GroupKey{
			{Host: "mx0", Paths: []string{"/etc", "/var/mail"}, Tags: []string{"a"}},
			{Host: "mx1", Paths: []string{"/etc"}},
			{Host: "mx1", Paths: []string{"/etc", "/var/mail"}, Tags: []string{"a", "b"}},
		}, [][]byte{{4}, {3}, {2, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.by, func(t *testing.T) {
			by, err := ParseGroupBy(tt.by)
			if err != nil {
				t.Fatal(err)
			}
			groups := Apply(list, Policy{Last: 1}, by, time.UTC)
			var keys []GroupKey
			var members [][]byte
			for _, g := range groups {
				keys = append(keys, g.Key)
				var ids []byte
				for _, d := range g.Decisions {
					ids = append(ids, d.Snapshot.ID[0])
				}
				members = append(members, ids)
			}
			if !reflect.DeepEqual(keys, tt.keys) {
				t.Errorf("keys %+v, want %+v", keys, tt.keys)
			}
			if !reflect.DeepEqual(members, tt.members) {
				t.Errorf("members %v, want %v", members, tt.members)
			}
		})
	}
}

func TestApplyDoesNotDependOnInputOrderOrChangeInput(t *testing.T) {
	p := Policy{Daily: 3, Weekly: 2, Monthly: 2, Tags: [][]string{{"important"}}}
	base := historySnapshots(t)
	// Two snapshots with the same time: the tie is broken by ID.
	twin := *base[0]
	twin.ID = blob.ID{0xff}
	base = append(base, &twin)
	want := Apply(base, p, GroupBy{Host: true}, time.UTC)

	for seed := range uint64(20) {
		list := slices.Clone(base)
		rand.New(rand.NewPCG(seed, 7)).Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
		before := slices.Clone(list)
		got := Apply(list, p, GroupBy{Host: true}, time.UTC)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: result differs from the first ordering", seed)
		}
		if !slices.Equal(list, before) {
			t.Fatalf("seed %d: Apply reordered its input", seed)
		}
	}
}

func TestApplyIgnoresNilAndEmptyInput(t *testing.T) {
	if g := Apply(nil, Policy{Last: 1}, GroupBy{Host: true}, time.UTC); len(g) != 0 {
		t.Errorf("Apply(nil) = %+v, want no groups", g)
	}
	sn := &snapshot.Snapshot{Time: mustTime(t, "2025-11-01 10:00"), Host: "mx1"}
	g := Apply([]*snapshot.Snapshot{nil, sn, nil}, Policy{Last: 1}, GroupBy{Host: true}, time.UTC)
	if len(g) != 1 || len(g[0].Decisions) != 1 || g[0].Decisions[0].Snapshot != sn {
		t.Errorf("got %+v, want one group holding only the non-nil snapshot", g)
	}
}

func TestApplyEmptyPolicyGivesItsReason(t *testing.T) {
	g := Apply(historySnapshots(t)[:3], Policy{}, GroupBy{}, time.UTC)
	for _, d := range g[0].Decisions {
		if !d.Keep || !reflect.DeepEqual(d.Reasons, []Reason{{Rule: RuleEmpty}}) {
			t.Errorf("snapshot %d: keep %v reasons %v, want kept for %q", d.Snapshot.ID[0], d.Keep, d.Reasons, RuleEmpty)
		}
	}
}
