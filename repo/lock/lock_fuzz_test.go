package lock

import (
	"testing"
	"time"

	"github.com/godwit-backup/godwit/internal/testutil"
)

// FuzzLockUnmarshal checks that no lock object makes Unmarshal, Stale or
// String panic, and that a decoded lock encodes, decodes and encodes again
// to the same bytes.
func FuzzLockUnmarshal(f *testing.F) {
	seeds := []Lock{
		{Time: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), Exclusive: true, Host: "mx1", PID: 4242, Username: "root", Nonce: "00ff"},
		{Time: time.Date(2025, 6, 7, 8, 9, 10, 0, time.FixedZone("", -7*3600)), Host: "web", PID: 1, Nonce: "a1b2c3d4e5f60718"},
	}
	for _, l := range seeds {
		data, err := l.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	now := time.Date(2025, 1, 2, 3, 10, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Unmarshal(data)
		if err != nil {
			return
		}
		// A foreign host keeps the check from probing local processes
		// with fuzzed pids.
		_ = l.Stale(now, "fuzz.invalid")
		_ = l.String()
		out, err := l.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a decoded lock: %v", err)
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
