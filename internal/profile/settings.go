package profile

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/godwit-backup/godwit/repo/check"
	"github.com/godwit-backup/godwit/repo/forget"
)

// Retention is a profile's [retention] table: the forget policy applied
// after each backup of the profile.
type Retention struct {
	KeepLast    int      `toml:"keep-last"`
	KeepHourly  int      `toml:"keep-hourly"`
	KeepDaily   int      `toml:"keep-daily"`
	KeepWeekly  int      `toml:"keep-weekly"`
	KeepMonthly int      `toml:"keep-monthly"`
	KeepYearly  int      `toml:"keep-yearly"`
	KeepWithin  string   `toml:"keep-within"`
	KeepTag     []string `toml:"keep-tag"`
	// GroupBy is as forget --group-by; unset means "host,paths".
	GroupBy *string `toml:"group-by"`
	// Prune runs prune after forget removed snapshots.
	Prune bool `toml:"prune"`

	policy  forget.Policy
	groupBy forget.GroupBy
}

// Policy returns the forget policy; Load validated it.
func (r *Retention) Policy() forget.Policy { return r.policy }

// Grouping returns how snapshots are grouped before the policy applies.
func (r *Retention) Grouping() forget.GroupBy { return r.groupBy }

// Check is a profile's [check] table: a repository check after a backup
// once Every has passed since the last one.
type Check struct {
	// Every is "daily", "weekly", "monthly", a number of days such as
	// "10d", or a duration such as "36h"; "" checks after every backup.
	Every          string `toml:"every"`
	ReadData       bool   `toml:"read-data"`
	ReadDataSubset string `toml:"read-data-subset"`

	interval time.Duration
	subset   *check.Subset
}

// Interval is the parsed Every; 0 means after every backup.
func (c *Check) Interval() time.Duration { return c.interval }

// Subset is the parsed ReadDataSubset, or nil.
func (c *Check) Subset() *check.Subset { return c.subset }

// Due reports whether a check is due at now when the last one ran at last
// (the zero time for never). A last time in the future (a clock that was
// set back) makes a check due.
func (c *Check) Due(last, now time.Time) bool {
	if last.IsZero() || last.After(now) {
		return true
	}
	return now.Sub(last) >= c.interval
}

// DefaultHookTimeout bounds each hook command when [hooks] sets no
// timeout.
const DefaultHookTimeout = 15 * time.Minute

// Hooks is a profile's [hooks] table: shell commands run with /bin/sh -c.
type Hooks struct {
	Before  []string `toml:"before"`
	After   []string `toml:"after"`
	Failure []string `toml:"failure"`
	// Timeout bounds each command, as a duration ("90s", "10m"); unset
	// means DefaultHookTimeout.
	Timeout string `toml:"timeout"`

	timeout time.Duration
}

// Env is a profile's [env] table. Its values may be credentials, so it
// prints and marshals its keys only.
type Env map[string]string

// String lists the keys with their values redacted.
func (e Env) String() string {
	var b strings.Builder
	b.WriteString("map[")
	for i, k := range slices.Sorted(maps.Keys(e)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + ":[redacted]")
	}
	b.WriteString("]")
	return b.String()
}

// GoString is String: %#v must not print values either.
func (e Env) GoString() string { return "profile.Env" + e.String() }

// Format prints String for every verb.
func (e Env) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, e.GoString())
		return
	}
	fmt.Fprint(f, e.String())
}

// MarshalJSON writes the keys with redacted values.
func (e Env) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(e))
	for k := range e {
		m[k] = "[redacted]"
	}
	return json.Marshal(m)
}

type failFunc func(key, format string, args ...any) error

// validate checks the table at prefix and fills the parsed fields.
func (p *Profile) validate(prefix string, fail failFunc) error {
	key := func(k string) string { return prefix + "." + k }
	for _, s := range []struct{ k, v string }{
		{"password-file", p.PasswordFile}, {"identity-file", p.IdentityFile}, {"cache-dir", p.CacheDir},
		{"s3-secret-access-key-file", p.S3SecretAccessKeyFile}, {"metrics-file", p.MetricsFile},
	} {
		if s.v != "" && !filepath.IsAbs(s.v) {
			return fail(key(s.k), "%q is not an absolute path", s.v)
		}
	}
	for _, l := range []struct {
		k string
		v []string
	}{{"sources", p.Sources}, {"exclude-file", p.ExcludeFiles}} {
		for _, v := range l.v {
			if !filepath.IsAbs(v) {
				return fail(key(l.k), "%q is not an absolute path", v)
			}
		}
	}
	for _, x := range p.Exclude {
		if x == "" {
			return fail(key("exclude"), "empty pattern")
		}
	}
	for _, t := range p.Tags {
		if t == "" || strings.Contains(t, ",") {
			return fail(key("tags"), "tag %q: tags are non-empty and hold no comma", t)
		}
	}
	switch p.Preset {
	case "", "mailserver":
	default:
		return fail(key("preset"), "unknown preset %q (the only preset is mailserver)", p.Preset)
	}
	if (p.S3AccessKeyID == "") != (p.S3SecretAccessKeyFile == "") {
		return fail(key("s3-access-key-id"), "s3-access-key-id and s3-secret-access-key-file go together")
	}
	if strings.ContainsFunc(p.Schedule, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return fail(key("schedule"), "%q holds a line break or control character", p.Schedule)
	}
	if strings.ContainsFunc(p.Host, unicode.IsControl) {
		return fail(key("host"), "%q holds a control character", p.Host)
	}
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		if !validEnvName(k) {
			return fail(key("env."+keyPart(k)), "invalid environment variable name")
		}
	}
	if r := p.Retention; r != nil {
		if err := r.validate(key("retention"), fail); err != nil {
			return err
		}
	}
	if c := p.Check; c != nil {
		if err := c.validate(key("check"), fail); err != nil {
			return err
		}
	}
	if h := p.Hooks; h != nil {
		if err := h.validate(key("hooks"), fail); err != nil {
			return err
		}
	}
	return nil
}

func (r *Retention) validate(prefix string, fail failFunc) error {
	key := func(k string) string { return prefix + "." + k }
	for _, c := range []struct {
		k string
		n int
	}{
		{"keep-last", r.KeepLast}, {"keep-hourly", r.KeepHourly}, {"keep-daily", r.KeepDaily},
		{"keep-weekly", r.KeepWeekly}, {"keep-monthly", r.KeepMonthly}, {"keep-yearly", r.KeepYearly},
	} {
		if c.n < -1 {
			return fail(key(c.k), "invalid count %d (use -1 for unlimited)", c.n)
		}
	}
	p := forget.Policy{
		Last: r.KeepLast, Hourly: r.KeepHourly, Daily: r.KeepDaily,
		Weekly: r.KeepWeekly, Monthly: r.KeepMonthly, Yearly: r.KeepYearly,
	}
	if r.KeepWithin != "" {
		d, err := ParseDuration(r.KeepWithin)
		if err != nil {
			return fail(key("keep-within"), "%v", err)
		}
		p.Within = d
	}
	for _, t := range r.KeepTag {
		tags := strings.Split(t, ",")
		if slices.Contains(tags, "") {
			return fail(key("keep-tag"), "%q: want comma-separated non-empty tags", t)
		}
		p.Tags = append(p.Tags, tags)
	}
	if err := p.Validate(); err != nil {
		return fail(prefix, "%v", err)
	}
	if p.Empty() {
		return fail(prefix, "no keep rule (keep-last, keep-daily, ...): forget would remove nothing")
	}
	g := "host,paths"
	if r.GroupBy != nil {
		g = *r.GroupBy
	}
	by, err := forget.ParseGroupBy(g)
	if err != nil {
		return fail(key("group-by"), "%v", err)
	}
	r.policy, r.groupBy = p, by
	return nil
}

func (c *Check) validate(prefix string, fail failFunc) error {
	switch c.Every {
	case "":
	case "daily":
		c.interval = 24 * time.Hour
	case "weekly":
		c.interval = 7 * 24 * time.Hour
	case "monthly":
		c.interval = 30 * 24 * time.Hour
	default:
		d, err := ParseDuration(c.Every)
		if err != nil || d <= 0 {
			return fail(prefix+".every", "%q: want daily, weekly, monthly, a number of days like \"10d\", or a duration like \"36h\"", c.Every)
		}
		c.interval = d
	}
	if c.ReadDataSubset != "" {
		if c.ReadData {
			return fail(prefix+".read-data-subset", "give read-data or read-data-subset, not both")
		}
		s, err := check.ParseSubset(c.ReadDataSubset)
		if err != nil {
			return fail(prefix+".read-data-subset", "%v", err)
		}
		c.subset = &s
	}
	return nil
}

func (h *Hooks) validate(prefix string, fail failFunc) error {
	for _, l := range []struct {
		k string
		v []string
	}{{"before", h.Before}, {"after", h.After}, {"failure", h.Failure}} {
		for _, c := range l.v {
			if strings.TrimSpace(c) == "" {
				return fail(prefix+"."+l.k, "empty command")
			}
		}
	}
	h.timeout = DefaultHookTimeout
	if h.Timeout != "" {
		d, err := ParseDuration(h.Timeout)
		if err != nil || d <= 0 {
			return fail(prefix+".timeout", "%q: want a positive duration like \"90s\" or \"10m\"", h.Timeout)
		}
		h.timeout = d
	}
	return nil
}

// ParseDuration accepts Go durations ("36h", "90s") and the units d (day),
// w (week), m (month, 30 days) and y (year, 365 days), combined as in
// "1y6m"; in the second form m is a month, not a minute.
func ParseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("%q: negative duration", s)
		}
		return d, nil
	}
	units := map[byte]time.Duration{'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'm': 30 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	const max = time.Duration(1<<63 - 1)
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("%q: want a number and a unit (h, d, w, m, y), like 30d or 1y6m", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		u, ok := units[rest[i]]
		if !ok {
			return 0, fmt.Errorf("%q: unknown unit %q (use h, d, w, m or y)", s, rest[i])
		}
		if err != nil || n > int64((max-total)/u) {
			return 0, fmt.Errorf("%q: too long", s)
		}
		total += time.Duration(n) * u
		rest = rest[i+1:]
	}
	return total, nil
}

func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
