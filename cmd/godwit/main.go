// Command godwit is an encrypted, deduplicating backup tool for Linux
// servers. Each command lives in its own file; they parse flags, call the
// repo packages and render the result.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	// Most of the heap is pack buffers that die young: collecting at 50%
	// growth instead of 100% keeps peak memory near what is live, for a
	// small VPS, at little CPU cost. GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	disableCoreDumps()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], newEnv())
	stop()
	os.Exit(code)
}

// disableCoreDumps keeps the keys godwit holds in memory out of core
// files: a crash, or SIGQUIT with GOTRACEBACK=crash, writes no core, and
// other processes of the same user cannot attach to godwit or read its
// memory and environment under /proc. Child processes (hooks) start with
// a core size limit of 0 but may raise it again. Failures are ignored:
// they only leave the system's defaults in place.
func disableCoreDumps() {
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_CORE, &lim) == nil {
		lim.Cur = 0
		_ = unix.Setrlimit(unix.RLIMIT_CORE, &lim)
	}
}

// bigHeap is the live heap above which godwit collects at 30% growth
// instead of 50%.
const bigHeap = 64 << 20

// tightenGC lowers the garbage collector's allowance when what stays live
// is large (the index of a big repository, the files cache of a million
// files): the allowance is a share of the live heap, and 50% of 120 MB is
// 60 MB of garbage on top of it. Call it once the long-lived data is
// loaded; it costs one collection. GOGC in the environment still wins.
func tightenGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if m.HeapAlloc > bigHeap {
		debug.SetGCPercent(30)
	}
}

// ioBoundGC makes the garbage collector run at 30% heap growth for a
// command that waits on the disk or the network rather than the CPU (a
// restore): more frequent collections cost time it has to spare, and keep
// its peak memory lower. GOGC in the environment still wins.
func ioBoundGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(30)
	}
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, env *env) int {
	root := newRootCommand(env)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if env.stopProfile != nil {
		env.stopProfile()
	}
	if err == nil {
		return env.exitCode
	}
	if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown shorthand flag") {
		err = &usageError{err.Error() + "\nrun 'godwit --help' for usage"}
	}
	code := exitCode(err)
	if code != exitIncomplete {
		fmt.Fprintf(env.stderr, "godwit: %v\n", err)
	}
	return code
}
