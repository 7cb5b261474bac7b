// Package lock is the encoding and the conflict rules of lock objects:
// who holds a lock, whether it is exclusive, and when it goes stale. It
// knows nothing of encryption or backends.
package lock

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"time"
)

// StaleAfter is how long a lock lives without a refresh.
const StaleAfter = 30 * time.Minute

// RefreshEvery is how often a holder refreshes its lock.
const RefreshEvery = 5 * time.Minute

// Lock is the plaintext of a lock object.
type Lock struct {
	Time      time.Time `json:"time"`
	Exclusive bool      `json:"exclusive"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Username  string    `json:"username,omitempty"`
	// Nonce makes two locks taken in the same instant distinct.
	Nonce string `json:"nonce"`
}

func (l *Lock) Marshal() ([]byte, error) { return json.Marshal(l) }

func Unmarshal(data []byte) (*Lock, error) {
	var l Lock
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("decode lock: %w", err)
	}
	return &l, nil
}

// Conflicts reports whether a lock wanted in the given mode conflicts with
// l: an exclusive lock conflicts with every lock, a shared one only with
// exclusive locks.
func (l *Lock) Conflicts(exclusive bool) bool { return exclusive || l.Exclusive }

// Stale reports whether l can be ignored: not refreshed for StaleAfter,
// or held by a process on this host that no longer exists.
func (l *Lock) Stale(now time.Time, host string) bool {
	if now.Sub(l.Time) > StaleAfter {
		return true
	}
	if l.Host == host && l.PID > 0 {
		return !processExists(l.PID)
	}
	return false
}

func (l *Lock) String() string {
	kind := "shared"
	if l.Exclusive {
		kind = "exclusive"
	}
	return fmt.Sprintf("%s lock held by %s (pid %d) on %s since %s", kind, l.Username, l.PID, l.Host, l.Time.Format(time.RFC3339))
}

func processExists(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || err == syscall.EPERM
}
