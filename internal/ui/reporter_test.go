package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock the test moves forward.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer is a bytes.Buffer that the test reads only after the
// reporter stopped; the mutex keeps the race detector honest about it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	clk   *clock
	ticks chan time.Time
	drawn chan struct{}
	out   *syncBuffer
	err   *syncBuffer
	rep   *Reporter
}

func start(t *testing.T, ctx context.Context, mode Mode) *fixture {
	t.Helper()
	f := &fixture{clk: newClock(), ticks: make(chan time.Time), drawn: make(chan struct{}), out: &syncBuffer{}, err: &syncBuffer{}}
	f.rep = Start(ctx, Options{Mode: mode, Out: f.out, Stderr: f.err, Width: 120, Now: f.clk.Now, Ticks: f.ticks, drawn: f.drawn})
	t.Cleanup(f.rep.Stop)
	return f
}

// tick makes the reporter draw once and waits until it has.
func (f *fixture) tick() {
	f.ticks <- f.clk.Now()
	<-f.drawn
}

func TestTerminalStatusShowsFilesBytesRateETAAndCurrentFile(t *testing.T) {
	f := start(t, context.Background(), Terminal)
	p := f.rep.Progress()
	p.SetTotal(10, 10<<20)
	p.AddFiles(4)
	p.AddBytes(4 << 20)
	p.Current("/var/mail/alice")
	f.clk.advance(2 * time.Second)
	f.tick()
	f.rep.Stop()
	out := f.out.String()
	for _, want := range []string{"0:02", "4/10 files", "4.0 MiB/10.0 MiB", "2.0 MiB/s", "ETA 0:03", "/var/mail/alice", "40% [", "\r"} {
		if !strings.Contains(out, want) {
			t.Errorf("status line lacks %q:\n%q", want, out)
		}
	}
	if !strings.HasSuffix(out, "\033[2K\r") {
		t.Errorf("status line not cleared at the end:\n%q", out)
	}
	if f.err.String() != "" {
		t.Errorf("stderr: %q", f.err.String())
	}
}

func TestTerminalStatusWithoutTotalsHasNoETA(t *testing.T) {
	f := start(t, context.Background(), Terminal)
	p := f.rep.Progress()
	p.AddFiles(3)
	p.AddBytes(3000)
	f.clk.advance(time.Second)
	f.tick()
	f.rep.Stop()
	out := f.out.String()
	if !strings.Contains(out, "3 files  2.9 KiB") {
		t.Errorf("status lacks the counts:\n%q", out)
	}
	if strings.Contains(out, "ETA") || strings.Contains(out, "%") {
		t.Errorf("status without totals shows an ETA or a percentage:\n%q", out)
	}
}

func TestTerminalStatusSwitchesToBarWhenTotalsArrive(t *testing.T) {
	f := start(t, context.Background(), Terminal)
	p := f.rep.Progress()
	p.AddBytes(100)
	f.clk.advance(time.Second)
	f.tick()
	p.SetTotal(2, 400)
	f.tick()
	f.rep.Stop()
	out := f.out.String()
	if !strings.Contains(out, "25% [") || !strings.Contains(out, "ETA 0:03") {
		t.Errorf("no bar after the totals arrived:\n%q", out)
	}
}

func TestTerminalWarningClearsStatusLineFirst(t *testing.T) {
	f := start(t, context.Background(), Terminal)
	f.rep.Progress().AddFiles(1)
	f.tick()
	f.rep.Warn("/etc/shadow", errors.New("permission denied"), "warning: /etc/shadow: permission denied\n")
	f.rep.Stop()
	if got := f.err.String(); got != "warning: /etc/shadow: permission denied\n" {
		t.Fatalf("stderr = %q", got)
	}
	out := f.out.String()
	clear := strings.Index(out, "\033[2K\r")
	redraw := strings.LastIndex(out, "1 files")
	if clear < 0 || redraw < clear {
		t.Errorf("status line not cleared before the warning and drawn again after:\n%q", out)
	}
}

func TestTerminalCutsCurrentFileToWidth(t *testing.T) {
	f := start(t, context.Background(), Terminal)
	long := "/home/" + strings.Repeat("d", 300) + "/end.txt"
	f.rep.Progress().Current(long)
	f.tick()
	f.rep.Stop()
	for _, line := range strings.Split(f.out.String(), "\r") {
		line = strings.TrimSuffix(line, "\033[0K")
		if n := len([]rune(line)); n >= 120 {
			t.Errorf("line of %d columns on a 120-column terminal: %q", n, line)
		}
	}
	if !strings.Contains(f.out.String(), "…") || !strings.Contains(f.out.String(), "end.txt") {
		t.Errorf("long name not cut from the front:\n%q", f.out.String())
	}
}

func TestJSONLinesParseAndEndWithOneSummary(t *testing.T) {
	f := start(t, context.Background(), JSONLines)
	p := f.rep.Progress()
	p.SetTotal(10, 1000)
	p.AddFiles(5)
	p.AddBytes(250)
	p.Current("/home/bob/mail")
	f.clk.advance(time.Second)
	f.tick()
	f.rep.Warn("/home/bob/x", errors.New("vanished"), "warning: /home/bob/x: vanished\n")
	p.AddFiles(5)
	p.AddBytes(750)
	p.Current("")
	if err := f.rep.Finish(map[string]any{"snapshot": "abc123", "files": 10}); err != nil {
		t.Fatal(err)
	}
	if err := f.rep.Finish(map[string]any{"snapshot": "again"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(f.out.String(), "\n"), "\n")
	var types []string
	var msgs []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		types = append(types, m["message_type"].(string))
		msgs = append(msgs, m)
	}
	if got := strings.Join(types, ","); got != "status,error,status,summary" {
		t.Fatalf("message types %s\n%s", got, f.out.String())
	}
	st := msgs[0]
	for k, want := range map[string]any{"percent_done": 0.25, "files_done": 5.0, "total_files": 10.0, "bytes_done": 250.0,
		"total_bytes": 1000.0, "seconds_elapsed": 1.0, "seconds_remaining": 3.0, "errors": 0.0, "unit": "files"} {
		if st[k] != want {
			t.Errorf("status %s = %v, want %v", k, st[k], want)
		}
	}
	if cur, _ := st["current_files"].([]any); len(cur) != 1 || cur[0] != "/home/bob/mail" {
		t.Errorf("current_files = %v", st["current_files"])
	}
	if e := msgs[1]; e["path"] != "/home/bob/x" || e["error"] != "vanished" {
		t.Errorf("error object %v", e)
	}
	if last := msgs[2]; last["percent_done"] != 1.0 || last["errors"] != 1.0 {
		t.Errorf("last status %v", last)
	}
	if sum := msgs[3]; sum["snapshot"] != "abc123" || sum["files"] != 10.0 {
		t.Errorf("summary %v", sum)
	}
	if f.err.String() != "warning: /home/bob/x: vanished\n" {
		t.Errorf("stderr = %q", f.err.String())
	}
}

func TestSilentPrintsOnlyWarnings(t *testing.T) {
	out, errb := &syncBuffer{}, &syncBuffer{}
	rep := Start(context.Background(), Options{Mode: Silent, Out: out, Stderr: errb})
	rep.Progress().SetTotal(1, 1)
	rep.Progress().AddBytes(1)
	rep.Warn("/a", errors.New("bad"), "warning: /a: bad\n")
	if err := rep.Finish(map[string]any{"x": 1}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "" {
		t.Errorf("silent reporter wrote %q", out.String())
	}
	if errb.String() != "warning: /a: bad\n" {
		t.Errorf("stderr = %q", errb.String())
	}
}

func TestReporterStopsWhenContextIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := start(t, ctx, JSONLines)
	cancel()
	select {
	case <-f.rep.done:
	case <-time.After(10 * time.Second):
		t.Fatal("reporter goroutine still running after cancel")
	}
	if err := f.rep.Finish(map[string]any{"error": "interrupted"}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(f.out.String(), `"message_type":"summary"}`+"\n") {
		t.Errorf("no summary after cancel: %q", f.out.String())
	}
}

func TestProgressCountsFromManyGoroutines(t *testing.T) {
	f := start(t, context.Background(), JSONLines)
	p := f.rep.Progress()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				p.AddBytes(2)
				p.AddFiles(1)
				p.Current("/x")
			}
		}()
	}
	for range 3 {
		f.tick()
	}
	wg.Wait()
	_ = f.rep.Finish(nil)
	lines := strings.Split(strings.TrimSpace(f.out.String()), "\n")
	var last Status
	if err := json.Unmarshal([]byte(lines[len(lines)-2]), &last); err != nil {
		t.Fatal(err)
	}
	if last.FilesDone != 8000 || last.BytesDone != 16000 {
		t.Errorf("final status %+v", last)
	}
}

func TestNilProgressIgnoresCalls(t *testing.T) {
	var p *Progress
	p.SetTotal(1, 1)
	p.AddFiles(1)
	p.AddBytes(1)
	p.Current("x")
	p.AddError()
}

func TestBytes(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}, {1 << 50, "1.0 PiB"},
	} {
		if got := Bytes(c.n); got != c.want {
			t.Errorf("Bytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0:00"}, {1500 * time.Millisecond, "0:02"}, {61 * time.Second, "1:01"},
		{3600 * time.Second, "1:00:00"}, {-time.Second, "0:00"},
	} {
		if got := Duration(c.d); got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestPrintableReplacesControlCharacters(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/etc/passwd", "/etc/passwd"},
		{"/tmp/a\x1b[2Jb", "/tmp/a?[2Jb"},
		{"/tmp/\nx", "/tmp/?x"},
		{"/tmp/\xffx", "/tmp/?x"},
		{"/tmp/é", "/tmp/é"},
	} {
		if got := printable(c.in); got != c.want {
			t.Errorf("printable(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
