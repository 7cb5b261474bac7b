package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Mode says how a Reporter shows progress.
type Mode int

const (
	// Silent shows no progress: warnings are printed as they come, and
	// Finish prints nothing (the caller prints its human summary).
	Silent Mode = iota
	// Terminal redraws one status line on a terminal.
	Terminal
	// JSONLines writes one JSON status object per line, error objects
	// for warnings, and a summary object at the end.
	JSONLines
)

// Default redraw intervals.
const (
	TerminalInterval = 250 * time.Millisecond
	JSONInterval     = time.Second
)

// Options configures a Reporter.
type Options struct {
	Mode Mode
	// Out receives the progress: the terminal for Terminal, the JSON
	// lines stream (stdout) for JSONLines.
	Out io.Writer
	// Stderr receives the human text of warnings.
	Stderr io.Writer
	// Unit names what the file counts count: "files" (the default) or
	// "packs".
	Unit string
	// Interval between redraws; 0 means TerminalInterval or JSONInterval.
	Interval time.Duration
	// Width is the terminal's width in columns; 0 asks Out when it is a
	// terminal, and means 80 otherwise.
	Width int
	// Now gives the time; nil means time.Now.
	Now func() time.Time
	// Ticks, when set, drives the redraws instead of a ticker running
	// every Interval.
	Ticks <-chan time.Time

	// drawn, when set, is sent to after each redraw (for tests, which
	// must know a tick's drawing is done before they go on).
	drawn chan<- struct{}
}

// Reporter samples a Progress and shows it. Start it with Start; it runs
// one goroutine that ends when Stop or Finish is called or the context
// is cancelled. The caller must call Stop or Finish before it returns.
// Warn, Stop and Finish may be called from any goroutine.
type Reporter struct {
	opts  Options
	prog  Progress
	start time.Time
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex // serializes all output
	stopped bool       // the status line is gone for good
	bar     *progressbar.ProgressBar
	known   bool // bar shows a known total
}

// Start starts reporting. In Silent mode no goroutine is started.
func Start(ctx context.Context, opts Options) *Reporter {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Unit == "" {
		opts.Unit = "files"
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	if opts.Interval <= 0 {
		opts.Interval = TerminalInterval
		if opts.Mode == JSONLines {
			opts.Interval = JSONInterval
		}
	}
	r := &Reporter{
		opts:  opts,
		start: opts.Now(),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if opts.Mode == Silent {
		close(r.done)
		return r
	}
	ticks := opts.Ticks
	var ticker *time.Ticker
	if ticks == nil {
		ticker = time.NewTicker(opts.Interval)
		ticks = ticker.C
	}
	go r.loop(ctx, ticks, ticker)
	return r
}

// Progress returns the counters the operation updates.
func (r *Reporter) Progress() *Progress { return &r.prog }

func (r *Reporter) loop(ctx context.Context, ticks <-chan time.Time, ticker *time.Ticker) {
	defer close(r.done)
	if ticker != nil {
		defer ticker.Stop()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.stop:
			return
		case <-ticks:
			r.mu.Lock()
			if !r.stopped {
				r.draw()
			}
			r.mu.Unlock()
			if r.opts.drawn != nil {
				r.opts.drawn <- struct{}{}
			}
		}
	}
}

// Warn reports a problem with one path. line is the human text, a whole
// line, written to Options.Stderr; on a terminal the status line is
// cleared first and drawn again after. In JSONLines mode an error object
// is also written to Out. The problem is counted in the status.
func (r *Reporter) Warn(path string, err error, line string) {
	r.prog.AddError()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.opts.Mode == JSONLines:
		r.writeJSON(errorMessage{MessageType: "error", Path: path, Error: errText(err)})
	case r.opts.Mode == Terminal && !r.stopped && r.bar != nil:
		_ = r.bar.Clear()
		io.WriteString(r.opts.Stderr, line)
		r.draw()
		return
	}
	io.WriteString(r.opts.Stderr, line)
}

// Stop ends the reporting and clears the status line. It may be called
// more than once; after it Warn writes only the text of warnings.
func (r *Reporter) Stop() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	r.stopped = true
	if r.bar != nil {
		_ = r.bar.Clear()
	}
}

// Finish stops the reporting like Stop and, in JSONLines mode, writes a
// last status object and then summary as one object with message_type
// "summary". In the other modes it writes nothing: the caller prints its
// own summary afterwards. Finish writes the summary only once; later
// calls return nil.
func (r *Reporter) Finish(summary map[string]any) error {
	r.mu.Lock()
	first := !r.stopped
	r.mu.Unlock()
	r.Stop()
	if !first || r.opts.Mode != JSONLines {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writeJSON(r.status(r.prog.read()))
	out := make(map[string]any, len(summary)+1)
	maps.Copy(out, summary)
	out["message_type"] = "summary"
	return r.writeJSON(out)
}

// Status is the JSON object written at every tick in JSONLines mode.
type Status struct {
	MessageType      string   `json:"message_type"` // "status"
	Unit             string   `json:"unit"`         // what the file counts count
	SecondsElapsed   float64  `json:"seconds_elapsed"`
	SecondsRemaining *uint64  `json:"seconds_remaining,omitempty"`
	PercentDone      float64  `json:"percent_done"` // a fraction, 0 to 1
	TotalFiles       uint64   `json:"total_files"`
	FilesDone        uint64   `json:"files_done"`
	TotalBytes       uint64   `json:"total_bytes"`
	BytesDone        uint64   `json:"bytes_done"`
	CurrentFiles     []string `json:"current_files"`
	Errors           uint64   `json:"errors"`
}

type errorMessage struct {
	MessageType string `json:"message_type"` // "error"
	Path        string `json:"path"`
	Error       string `json:"error"`
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (r *Reporter) status(c counts) Status {
	elapsed := r.opts.Now().Sub(r.start)
	s := Status{
		MessageType:    "status",
		Unit:           r.opts.Unit,
		SecondsElapsed: elapsed.Seconds(),
		TotalFiles:     c.totalFiles,
		FilesDone:      c.filesDone,
		TotalBytes:     c.totalBytes,
		BytesDone:      c.bytesDone,
		CurrentFiles:   []string{},
		Errors:         c.errors,
	}
	if c.current != "" {
		s.CurrentFiles = append(s.CurrentFiles, c.current)
	}
	s.PercentDone = fraction(c)
	if eta, ok := remaining(c, elapsed); ok {
		secs := uint64(eta.Round(time.Second) / time.Second)
		s.SecondsRemaining = &secs
	}
	return s
}

// fraction is the share done, from bytes when their total is known, else
// from files; 0 without totals and never above 1.
func fraction(c counts) float64 {
	var f float64
	switch {
	case !c.totalKnown:
		return 0
	case c.totalBytes > 0:
		f = float64(c.bytesDone) / float64(c.totalBytes)
	case c.totalFiles > 0:
		f = float64(c.filesDone) / float64(c.totalFiles)
	default:
		return 1
	}
	return min(f, 1)
}

// remaining estimates the time left from the average rate so far.
func remaining(c counts, elapsed time.Duration) (time.Duration, bool) {
	f := fraction(c)
	if !c.totalKnown || f <= 0 || elapsed <= 0 {
		return 0, false
	}
	return time.Duration(float64(elapsed) * (1 - f) / f), true
}

// writeJSON writes v as one line; r.mu must be held.
func (r *Reporter) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("progress: %w", err)
	}
	_, err = r.opts.Out.Write(append(b, '\n'))
	return err
}

// draw shows the current status; r.mu must be held.
func (r *Reporter) draw() {
	c := r.prog.read()
	if r.opts.Mode == JSONLines {
		r.writeJSON(r.status(c))
		return
	}
	elapsed := r.opts.Now().Sub(r.start)
	known := c.totalKnown && (c.totalBytes > 0 || c.totalFiles > 0)
	if r.bar == nil || known != r.known {
		if r.bar != nil {
			_ = r.bar.Clear()
		}
		r.bar, r.known = newBar(r.opts.Out, known), known
	}
	text := statusText(c, elapsed, r.opts.Unit, r.width()-barColumns)
	if known {
		// 1000 would finish the bar, which then draws no more.
		_ = r.bar.Set64(min(int64(fraction(c)*1000), 999))
	}
	r.bar.Describe(text)
}

// barWidth is the width of the bar itself; barColumns is everything on the
// line that is not the status text, with one column left free so that
// the terminal never wraps.
const (
	barWidth   = 20
	barColumns = barWidth + 12
)

func newBar(w io.Writer, known bool) *progressbar.ProgressBar {
	max := int64(1000)
	if !known {
		max = -1
	}
	return progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(barWidth),
		progressbar.OptionUseANSICodes(true),
		progressbar.OptionThrottle(0),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionSetSpinnerChangeInterval(0), // no goroutine of its own
		progressbar.OptionSpinnerType(14),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetTheme(progressbar.Theme{
			Saucer: "=", SaucerHead: ">", SaucerPadding: " ", BarStart: "[", BarEnd: "]",
		}),
	)
}

func (r *Reporter) width() int {
	if r.opts.Width > 0 {
		return r.opts.Width
	}
	if f, ok := r.opts.Out.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}
