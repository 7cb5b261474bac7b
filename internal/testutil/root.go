//go:build linux

package testutil

import (
	"os"
	"testing"
)

// RequireRoot skips the calling test unless the process runs with effective
// uid 0. When the environment variable CI is "true" it fails the test instead
// of skipping it, so that root-only restore checks cannot silently vanish
// from a CI run that lost its privileges. Call it from the test goroutine,
// like t.Skip.
func RequireRoot(t testing.TB) {
	t.Helper()
	switch rootVerdict(os.Geteuid(), os.Getenv("CI")) {
	case verdictFail:
		t.Fatalf("test needs root (euid %d) and CI=true forbids skipping it", os.Geteuid())
	case verdictSkip:
		t.Skipf("test needs root (euid %d)", os.Geteuid())
	}
}

type verdict int

const (
	verdictRun verdict = iota
	verdictSkip
	verdictFail
)

func rootVerdict(euid int, ci string) verdict {
	switch {
	case euid == 0:
		return verdictRun
	case ci == "true":
		return verdictFail
	default:
		return verdictSkip
	}
}
