package forget

import (
	"fmt"
	"strings"
	"time"
)

// Rule names used in Reason.Rule.
const (
	RuleTag     = "tag"
	RuleWithin  = "within"
	RuleLast    = "last"
	RuleHourly  = "hourly"
	RuleDaily   = "daily"
	RuleWeekly  = "weekly"
	RuleMonthly = "monthly"
	RuleYearly  = "yearly"
	// RuleEmpty is the only reason given when Apply runs an empty policy.
	RuleEmpty = "empty policy"
)

// Policy is a retention policy: which snapshots of a group to keep. The
// zero Policy is empty.
type Policy struct {
	// Counts of snapshots or periods to keep; 0 turns a rule off and -1
	// means unlimited.
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	// Within keeps every snapshot newer than Within before the newest
	// snapshot of its group; 0 turns the rule off.
	Within time.Duration
	// Tags keeps every snapshot that has all tags of any one entry.
	Tags [][]string
}

// Empty reports whether p has no rule, so that applying it would keep
// nothing. A negative Within counts as no rule.
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 &&
		p.Monthly == 0 && p.Yearly == 0 && p.Within <= 0 && len(p.Tags) == 0
}

// Validate reports the first invalid setting of p: a count below -1, a
// negative Within, or a tag entry without tags (which would keep every
// snapshot). It does not reject an empty policy; see Empty.
func (p Policy) Validate() error {
	for _, c := range p.counts() {
		if c.n < -1 {
			return fmt.Errorf("keep %s: invalid count %d (use -1 for unlimited)", c.rule, c.n)
		}
	}
	if p.Within < 0 {
		return fmt.Errorf("keep within: negative duration %s", p.Within)
	}
	for i, tags := range p.Tags {
		if len(tags) == 0 {
			return fmt.Errorf("keep tag: entry %d has no tags", i+1)
		}
	}
	return nil
}

type count struct {
	rule string
	n    int
}

// counts returns the counted rules in the order Apply evaluates them.
func (p Policy) counts() []count {
	return []count{
		{RuleLast, p.Last},
		{RuleHourly, p.Hourly},
		{RuleDaily, p.Daily},
		{RuleWeekly, p.Weekly},
		{RuleMonthly, p.Monthly},
		{RuleYearly, p.Yearly},
	}
}

// String summarises p for people, for example
// "keep 7 daily, 4 weekly, all monthly snapshots and all snapshots within
// 30d of the newest".
func (p Policy) String() string {
	if p.Empty() {
		return "empty policy"
	}
	var counted []string
	for _, c := range p.counts() {
		name := c.rule
		if name == RuleLast {
			name = "latest"
		}
		switch {
		case c.n > 0:
			counted = append(counted, fmt.Sprintf("%d %s", c.n, name))
		case c.n < 0:
			counted = append(counted, "all "+name)
		}
	}
	var parts []string
	if len(counted) > 0 {
		parts = append(parts, strings.Join(counted, ", ")+" snapshots")
	}
	if len(p.Tags) > 0 {
		entries := make([]string, len(p.Tags))
		for i, tags := range p.Tags {
			entries[i] = formatTags(tags)
		}
		parts = append(parts, "all snapshots tagged "+strings.Join(entries, " or "))
	}
	if p.Within > 0 {
		parts = append(parts, "all snapshots within "+formatDuration(p.Within)+" of the newest")
	}
	return "keep " + strings.Join(parts, " and ")
}

// formatTags writes one keep-tag entry; the empty tag, which stands for
// "no tags", is written as "".
func formatTags(tags []string) string {
	out := make([]string, len(tags))
	for i, t := range tags {
		if t == "" {
			t = `""`
		}
		out[i] = t
	}
	return strings.Join(out, ",")
}

// formatDuration writes d in days, hours, minutes and seconds, leaving out
// zero units: "30d", "1d12h", "90m" is "1h30m". Durations with a fraction
// of a second use time.Duration's own form.
func formatDuration(d time.Duration) string {
	if d <= 0 || d%time.Second != 0 {
		return d.String()
	}
	var b strings.Builder
	for _, u := range []struct {
		size time.Duration
		unit string
	}{
		{24 * time.Hour, "d"},
		{time.Hour, "h"},
		{time.Minute, "m"},
		{time.Second, "s"},
	} {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			d -= n * u.size
		}
	}
	return b.String()
}

// Reason is one rule that keeps a snapshot. Rule is one of the Rule
// constants; Period says which instance of the rule matched: the position
// for RuleLast, the period for the calendar rules, the duration for
// RuleWithin, the tags for RuleTag (see the package documentation).
type Reason struct {
	Rule   string `json:"rule"`
	Period string `json:"period,omitempty"`
}

// String returns "daily 2026-11-28", or the rule alone when it has no
// period.
func (r Reason) String() string {
	if r.Period == "" {
		return r.Rule
	}
	return r.Rule + " " + r.Period
}
