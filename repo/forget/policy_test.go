package forget

import (
	"strings"
	"testing"
	"time"
)

func TestPolicyEmpty(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		want   bool
	}{
		{"zero", Policy{}, true},
		{"negative within", Policy{Within: -time.Hour}, true},
		{"empty tag list", Policy{Tags: [][]string{}}, true},
		{"last", Policy{Last: 1}, false},
		{"hourly unlimited", Policy{Hourly: -1}, false},
		{"daily", Policy{Daily: 1}, false},
		{"weekly", Policy{Weekly: 1}, false},
		{"monthly", Policy{Monthly: 1}, false},
		{"yearly", Policy{Yearly: 1}, false},
		{"within", Policy{Within: time.Second}, false},
		{"tag", Policy{Tags: [][]string{{"x"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Empty(); got != tt.want {
				t.Errorf("Empty() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		policy  Policy
		wantErr string // empty for a valid policy
	}{
		{"empty policy is valid", Policy{}, ""},
		{"unlimited counts", Policy{Last: -1, Hourly: -1, Daily: -1, Weekly: -1, Monthly: -1, Yearly: -1}, ""},
		{"untagged entry", Policy{Tags: [][]string{{""}}}, ""},
		{"count below -1", Policy{Weekly: -2}, "keep weekly: invalid count -2"},
		{"negative within", Policy{Within: -time.Minute}, "keep within: negative duration -1m0s"},
		{"tag entry without tags", Policy{Tags: [][]string{{"a"}, {}}}, "keep tag: entry 2 has no tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPolicyString(t *testing.T) {
	tests := []struct {
		policy Policy
		want   string
	}{
		{Policy{}, "empty policy"},
		{Policy{Daily: 7, Weekly: 4}, "keep 7 daily, 4 weekly snapshots"},
		{Policy{Last: 3, Hourly: 24, Monthly: -1, Yearly: 2}, "keep 3 latest, 24 hourly, all monthly, 2 yearly snapshots"},
		{Policy{Within: 30 * 24 * time.Hour}, "keep all snapshots within 30d of the newest"},
		{Policy{Tags: [][]string{{"a", "b"}, {""}}}, `keep all snapshots tagged a,b or ""`},
		{Policy{Daily: 7, Tags: [][]string{{"keep"}}, Within: 36 * time.Hour},
			"keep 7 daily snapshots and all snapshots tagged keep and all snapshots within 1d12h of the newest"},
	}
	for _, tt := range tests {
		if got := tt.policy.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.policy, got, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{30 * 24 * time.Hour, "30d"},
		{36 * time.Hour, "1d12h"},
		{90 * time.Minute, "1h30m"},
		{24*time.Hour + time.Second, "1d1s"},
		{45 * time.Second, "45s"},
		{1500 * time.Millisecond, "1.5s"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestReasonString(t *testing.T) {
	tests := []struct {
		r    Reason
		want string
	}{
		{Reason{RuleDaily, "2026-11-28"}, "daily 2026-11-28"},
		{Reason{RuleYearly, "2024 (oldest)"}, "yearly 2024 (oldest)"},
		{Reason{Rule: RuleEmpty}, "empty policy"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}
