package forget

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/godwit-backup/godwit/repo/snapshot"
)

// Decision is the verdict on one snapshot. Reasons lists every rule that
// keeps it; it is empty when Keep is false.
type Decision struct {
	Snapshot *snapshot.Snapshot
	Keep     bool
	Reasons  []Reason
}

// Group is the verdict on one group of snapshots, newest first.
type Group struct {
	Key       GroupKey
	Decisions []Decision
}

// Apply groups the snapshots of list by the fields by selects and applies
// p to each group, as the package documentation describes. Period
// boundaries (hours, days, ISO weeks, months, years) are those of loc; a
// nil loc means UTC.
//
// Apply neither reorders list nor modifies the snapshots; the Decisions
// point at the snapshots of list. nil entries are ignored. An empty policy
// keeps every snapshot. Apply is safe for concurrent use.
func Apply(list []*snapshot.Snapshot, p Policy, by GroupBy, loc *time.Location) []Group {
	if loc == nil {
		loc = time.UTC
	}
	index := make(map[string]int)
	var groups []Group
	var members [][]*snapshot.Snapshot
	for _, sn := range list {
		if sn == nil {
			continue
		}
		k := keyOf(sn, by)
		mk := mapKey(k)
		i, ok := index[mk]
		if !ok {
			i = len(groups)
			index[mk] = i
			groups = append(groups, Group{Key: k})
			members = append(members, nil)
		}
		members[i] = append(members[i], sn)
	}
	for i := range groups {
		groups[i].Decisions = applyGroup(members[i], p, loc)
	}
	slices.SortFunc(groups, func(a, b Group) int { return compareKeys(a.Key, b.Key) })
	return groups
}

// counter is the state of one counted rule while a group is visited.
type counter struct {
	rule string
	left int    // periods still to keep; -1 for unlimited, 0 when done
	last string // the period of the last snapshot this rule kept
}

func applyGroup(snaps []*snapshot.Snapshot, p Policy, loc *time.Location) []Decision {
	slices.SortStableFunc(snaps, newestFirst)
	decisions := make([]Decision, len(snaps))
	if p.Empty() {
		for i, sn := range snaps {
			decisions[i] = Decision{Snapshot: sn, Keep: true, Reasons: []Reason{{Rule: RuleEmpty}}}
		}
		return decisions
	}

	var counters []counter
	for _, c := range p.counts() {
		if c.n == 0 {
			continue
		}
		counters = append(counters, counter{rule: c.rule, left: max(c.n, -1)})
	}

	var cutoff time.Time
	if p.Within > 0 && len(snaps) > 0 {
		cutoff = snaps[0].Time.Add(-p.Within)
	}

	for pos, sn := range snaps {
		var reasons []Reason
		for _, tags := range p.Tags {
			if hasTags(sn, tags) {
				reasons = append(reasons, Reason{Rule: RuleTag, Period: formatTags(tags)})
			}
		}
		if p.Within > 0 && sn.Time.After(cutoff) {
			reasons = append(reasons, Reason{Rule: RuleWithin, Period: formatDuration(p.Within)})
		}
		oldest := pos == len(snaps)-1
		local := sn.Time.In(loc)
		for i := range counters {
			c := &counters[i]
			if c.left == 0 {
				continue
			}
			period := periodOf(c.rule, local, pos)
			if period == c.last && !oldest {
				continue
			}
			r := Reason{Rule: c.rule, Period: period}
			if period == c.last {
				r.Period += " (oldest)"
			}
			reasons = append(reasons, r)
			c.last = period
			if c.left > 0 {
				c.left--
			}
		}
		decisions[pos] = Decision{Snapshot: sn, Keep: len(reasons) > 0, Reasons: reasons}
	}
	return decisions
}

// periodOf returns the period of a counted rule that holds t, the local
// time of the snapshot at position pos (0 for the newest) of its group.
func periodOf(rule string, t time.Time, pos int) string {
	switch rule {
	case RuleLast:
		return strconv.Itoa(pos + 1)
	case RuleHourly:
		return t.Format("2006-01-02 15:00")
	case RuleDaily:
		return t.Format("2006-01-02")
	case RuleWeekly:
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case RuleMonthly:
		return t.Format("2006-01")
	case RuleYearly:
		return t.Format("2006")
	}
	panic("forget: unknown rule " + rule)
}

// newestFirst orders snapshots by descending time, then descending ID.
func newestFirst(a, b *snapshot.Snapshot) int {
	if c := b.Time.Compare(a.Time); c != 0 {
		return c
	}
	return bytes.Compare(b.ID[:], a.ID[:])
}

// hasTags reports whether sn has every tag of tags; the empty tag matches
// a snapshot without tags.
func hasTags(sn *snapshot.Snapshot, tags []string) bool {
	for _, t := range tags {
		if t == "" {
			if len(sn.Tags) != 0 {
				return false
			}
			continue
		}
		if !slices.Contains(sn.Tags, t) {
			return false
		}
	}
	return true
}
