package lock

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestConflicts(t *testing.T) {
	cases := []struct {
		held, wanted bool // exclusive?
		want         bool
	}{
		{held: false, wanted: false, want: false},
		{held: false, wanted: true, want: true},
		{held: true, wanted: false, want: true},
		{held: true, wanted: true, want: true},
	}
	for _, tc := range cases {
		l := &Lock{Exclusive: tc.held}
		if got := l.Conflicts(tc.wanted); got != tc.want {
			t.Errorf("held exclusive=%v, wanted exclusive=%v: Conflicts = %v, want %v", tc.held, tc.wanted, got, tc.want)
		}
	}
}

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run a child process: %v", err)
	}
	return cmd.Process.Pid
}

func TestStale(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	dead := deadPID(t)
	cases := []struct {
		name string
		lock Lock
		want bool
	}{
		{"fresh, live process here", Lock{Time: now.Add(-time.Minute), Host: "here", PID: os.Getpid()}, false},
		{"just inside the timeout", Lock{Time: now.Add(-StaleAfter), Host: "elsewhere", PID: 1}, false},
		{"past the timeout", Lock{Time: now.Add(-StaleAfter - time.Second), Host: "elsewhere", PID: 1}, true},
		{"past the timeout, live process here", Lock{Time: now.Add(-StaleAfter - time.Second), Host: "here", PID: os.Getpid()}, true},
		{"dead process on this host", Lock{Time: now, Host: "here", PID: dead}, true},
		{"same pid on another host", Lock{Time: now, Host: "elsewhere", PID: dead}, false},
		{"no pid recorded", Lock{Time: now, Host: "here", PID: 0}, false},
		{"time in the future", Lock{Time: now.Add(time.Hour), Host: "elsewhere"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.lock.Stale(now, "here"); got != tc.want {
				t.Errorf("Stale = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnmarshalOfMarshalRoundTrips(t *testing.T) {
	in := Lock{Time: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), Exclusive: true, Host: "mx1", PID: 4242, Username: "root", Nonce: "00ff"}
	data, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Time.Equal(in.Time) {
		t.Errorf("time %v, want %v", out.Time, in.Time)
	}
	out.Time = in.Time
	if *out != in {
		t.Errorf("got %+v, want %+v", *out, in)
	}
	if _, err := Unmarshal([]byte("{")); err == nil {
		t.Error("Unmarshal accepted truncated JSON")
	}
}

func TestStringNamesHolderAndMode(t *testing.T) {
	l := Lock{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Exclusive: true, Host: "mx1", PID: 77, Username: "root"}
	s := l.String()
	for _, want := range []string{"exclusive", "root", "77", "mx1", "2025-01-02T03:04:05Z"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %q, missing %q", s, want)
		}
	}
	l.Exclusive = false
	if s := l.String(); !strings.HasPrefix(s, "shared") {
		t.Errorf("String() = %q, want a shared lock", s)
	}
}
