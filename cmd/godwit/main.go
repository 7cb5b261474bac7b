// Command godwit is an encrypted, deduplicating backup tool for Linux
// servers. Each command lives in its own file; they parse flags, call the
// repo packages and render the result.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

func main() {
	// Most of the heap is pack buffers that die young: collecting at 50%
	// growth instead of 100% keeps peak memory near what is live, for a
	// small VPS, at little CPU cost. GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], newEnv())
	stop()
	os.Exit(code)
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
