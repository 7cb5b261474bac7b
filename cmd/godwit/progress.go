package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/term"

	"github.com/godwit-backup/godwit/internal/ui"
)

// startProgress starts the progress report of a long command: a status
// line on stderr when it is a terminal (and not --quiet), JSON lines on
// stdout with --json, and nothing otherwise. unit is what the counts
// count, "files" or "packs". GODWIT_PROGRESS_FPS sets the redraws per
// second. The caller must call Stop or Finish on the result.
func (e *env) startProgress(ctx context.Context, unit string) *ui.Reporter {
	opts := ui.Options{Out: e.stderr, Stderr: e.stderr, Unit: unit, Now: e.now}
	switch {
	case e.json:
		opts.Mode, opts.Out = ui.JSONLines, e.stdout
	case !e.quiet && isTerminal(e.stderr):
		opts.Mode = ui.Terminal
	}
	if fps, err := strconv.ParseFloat(e.getenv("GODWIT_PROGRESS_FPS"), 64); err == nil && fps > 0 {
		opts.Interval = time.Duration(float64(time.Second) / min(fps, 60))
	}
	return ui.Start(ctx, opts)
}

// warnVia returns a Warn function for the archiver or restorer that
// prints through rep, so that warnings do not garble the status line and
// reach --json readers as error objects.
func (e *env) warnVia(rep *ui.Reporter) func(path string, err error) {
	return func(path string, err error) {
		rep.Warn(path, err, fmt.Sprintf("warning: %s: %s\n", quotePath(path), escapeText(err.Error())))
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
