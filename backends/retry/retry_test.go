package retry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/backendtest"
	"github.com/godwit-backup/godwit/backends/faulty"
	"github.com/godwit-backup/godwit/backends/mem"
	"github.com/godwit-backup/godwit/backends/retry"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return retry.New(mem.New(), retry.Options{})
	})
}

// TestConformanceUnderSeededFaults runs the suite through the retry wrapper
// over a backend that fails about a fifth of all calls. Save and Remove get
// only faults that strike after the wrapped call (DropAfter, or a delay):
// after a transient failure that stored nothing, a retried Save that meets
// an identical object, or a retried Remove that meets no object, cannot
// tell that case from its own dropped answer and reports success by
// design, while the suite expects fs.ErrExist and fs.ErrNotExist there.
func TestConformanceUnderSeededFaults(t *testing.T) {
	seeded := faulty.Seeded(20260101, 0.2)
	plan := faulty.PlanFunc(func(op faulty.Op, h backends.Handle, n int) faulty.Fault {
		f := seeded.Decide(op, h, n)
		if (op == faulty.OpSave || op == faulty.OpRemove) && f.Kind == faulty.Transient {
			f.Kind = faulty.DropAfter
		}
		return f
	})
	var retries sync.Map // ops that were retried at least once
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return retry.New(faulty.New(mem.New(), plan), retry.Options{
			MaxAttempts: 30,
			Sleep:       noSleep,
			Rand:        rand.New(rand.NewPCG(1, 2)),
			Notify: func(op string, _ backends.Handle, _ int, _ error, _ time.Duration) {
				retries.Store(op, true)
			},
		})
	})
	// The suite removes too few objects for a remove to be sure to meet a
	// fault; TestRemoveAfterAmbiguousFailure covers that.
	for _, op := range []string{"save", "load", "stat", "list"} {
		if _, ok := retries.Load(op); !ok {
			t.Errorf("no %s was retried; the plan injected too few faults to test anything", op)
		}
	}
}

func noSleep(context.Context, time.Duration) error { return nil }

// script wraps a backend; each call first takes the next error scripted
// for its op and, if there is one, fails with it without calling the
// wrapped backend.
type script struct {
	be backends.Backend

	mu    sync.Mutex
	errs  map[string][]error
	calls map[string]int
}

func newScript(be backends.Backend, errs map[string][]error) *script {
	return &script{be: be, errs: errs, calls: make(map[string]int)}
}

func (s *script) next(op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	if len(s.errs[op]) == 0 {
		return nil
	}
	err := s.errs[op][0]
	s.errs[op] = s.errs[op][1:]
	return err
}

func (s *script) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *script) Location() string { return s.be.Location() }
func (s *script) Close() error     { return s.be.Close() }

func (s *script) Save(ctx context.Context, h backends.Handle, data []byte) error {
	if err := s.next("save"); err != nil {
		return err
	}
	return s.be.Save(ctx, h, data)
}

func (s *script) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := s.next("load"); err != nil {
		return err
	}
	return s.be.Load(ctx, h, length, offset, fn)
}

func (s *script) Stat(ctx context.Context, h backends.Handle) (backends.FileInfo, error) {
	if err := s.next("stat"); err != nil {
		return backends.FileInfo{}, err
	}
	return s.be.Stat(ctx, h)
}

func (s *script) List(ctx context.Context, t backends.FileType, fn func(backends.FileInfo) error) error {
	if err := s.next("list"); err != nil {
		return err
	}
	return s.be.List(ctx, t, fn)
}

func (s *script) Remove(ctx context.Context, h backends.Handle) error {
	if err := s.next("remove"); err != nil {
		return err
	}
	return s.be.Remove(ctx, h)
}

var (
	objA    = backends.Handle{Type: backends.PackFile, Name: "aa01"}
	objB    = backends.Handle{Type: backends.PackFile, Name: "bb02"}
	payload = bytes.Repeat([]byte("0123456789"), 100)

	errReset = errors.New("connection reset by peer")
)

// memWithA returns a mem backend holding payload under objA.
func memWithA(t *testing.T) *mem.Backend {
	t.Helper()
	m := mem.New()
	if err := m.Save(t.Context(), objA, payload); err != nil {
		t.Fatal(err)
	}
	return m
}

// call makes one call of op through be: Save stores objB, the others act
// on objA. For Load it returns the bytes fn read on its last call.
func call(ctx context.Context, be backends.Backend, op string) ([]byte, error) {
	switch op {
	case "save":
		return nil, be.Save(ctx, objB, []byte("new"))
	case "load":
		var got []byte
		err := be.Load(ctx, objA, 0, 0, func(rd io.Reader) error {
			var err error
			got, err = io.ReadAll(rd)
			return err
		})
		return got, err
	case "stat":
		_, err := be.Stat(ctx, objA)
		return nil, err
	case "list":
		return nil, be.List(ctx, backends.PackFile, func(backends.FileInfo) error { return nil })
	case "remove":
		return nil, be.Remove(ctx, objA)
	}
	panic("unknown op " + op)
}

var ops = []string{"save", "load", "stat", "list", "remove"}

// recorder collects the waits and notifications of a retry.Backend.
type recorder struct {
	mu      sync.Mutex
	sleeps  []time.Duration
	notices []string
}

func (r *recorder) options() retry.Options {
	return retry.Options{
		Sleep: func(_ context.Context, d time.Duration) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.sleeps = append(r.sleeps, d)
			return nil
		},
		Notify: func(op string, h backends.Handle, attempt int, err error, d time.Duration) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.notices = append(r.notices, fmt.Sprintf("%s %v #%d: %v", op, h, attempt, err))
		},
	}
}

func TestTransientErrorsAreRetriedUntilSuccess(t *testing.T) {
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			s := newScript(memWithA(t), map[string][]error{op: {errReset, errReset}})
			var rec recorder
			be := retry.New(s, rec.options())
			got, err := call(t.Context(), be, op)
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if op == "load" && !bytes.Equal(got, payload) {
				t.Errorf("load returned %d bytes, want the object", len(got))
			}
			if n := s.Calls(op); n != 3 {
				t.Errorf("%d calls, want 3", n)
			}
			if len(rec.sleeps) != 2 {
				t.Errorf("waited %d times, want 2", len(rec.sleeps))
			}
			h := objA
			switch op {
			case "save":
				h = objB
			case "list":
				h = backends.Handle{Type: backends.PackFile}
			}
			want := []string{
				fmt.Sprintf("%s %v #1: %v", op, h, errReset),
				fmt.Sprintf("%s %v #2: %v", op, h, errReset),
			}
			if !slices.Equal(rec.notices, want) {
				t.Errorf("notified %q, want %q", rec.notices, want)
			}
		})
	}
}

func TestPermanentErrorsAreReturnedAtOnce(t *testing.T) {
	errs := []error{
		fmt.Errorf("object: %w", fs.ErrNotExist),
		fmt.Errorf("object: %w", fs.ErrExist),
		fmt.Errorf("object: %w", fs.ErrPermission),
		fmt.Errorf("bucket missing: %w", backends.ErrPermanent),
		fmt.Errorf("request: %w", context.Canceled),
		fmt.Errorf("request: %w", context.DeadlineExceeded),
	}
	for _, op := range ops {
		for _, scripted := range errs {
			t.Run(op+"/"+scripted.Error(), func(t *testing.T) {
				s := newScript(memWithA(t), map[string][]error{op: {scripted}})
				var rec recorder
				_, err := call(t.Context(), retry.New(s, rec.options()), op)
				if err != scripted {
					t.Errorf("got %v, want the backend's error unchanged", err)
				}
				if n := s.Calls(op); n != 1 {
					t.Errorf("%d calls, want 1", n)
				}
				if len(rec.sleeps)+len(rec.notices) != 0 {
					t.Errorf("waited %v and notified %q", rec.sleeps, rec.notices)
				}
			})
		}
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	for _, tc := range []struct{ maxAttempts, want int }{{0, 6}, {1, 1}, {3, 3}, {-2, 6}} {
		always := slices.Repeat([]error{errReset}, 100)
		s := newScript(memWithA(t), map[string][]error{"stat": always})
		var rec recorder
		opts := rec.options()
		opts.MaxAttempts = tc.maxAttempts
		_, err := call(t.Context(), retry.New(s, opts), "stat")
		if !errors.Is(err, errReset) {
			t.Errorf("MaxAttempts %d: got %v, want the last error", tc.maxAttempts, err)
		}
		if got := strings.Contains(err.Error(), "gave up after"); got != (tc.want > 1) {
			t.Errorf("MaxAttempts %d: error %q", tc.maxAttempts, err)
		}
		if n := s.Calls("stat"); n != tc.want {
			t.Errorf("MaxAttempts %d: %d calls, want %d", tc.maxAttempts, n, tc.want)
		}
		if len(rec.sleeps) != tc.want-1 {
			t.Errorf("MaxAttempts %d: waited %d times, want %d", tc.maxAttempts, len(rec.sleeps), tc.want-1)
		}
	}
}

// sleeps returns the waits of one Stat that fails attempts-1 times.
func sleeps(t *testing.T, opts retry.Options, attempts int) []time.Duration {
	t.Helper()
	s := newScript(memWithA(t), map[string][]error{"stat": slices.Repeat([]error{errReset}, attempts-1)})
	var rec recorder
	o := rec.options()
	opts.Sleep, opts.MaxAttempts = o.Sleep, attempts
	if _, err := call(t.Context(), retry.New(s, opts), "stat"); err != nil {
		t.Fatal(err)
	}
	return rec.sleeps
}

func TestBackoffDoublesUpToMaxDelayWithJitter(t *testing.T) {
	tests := []struct {
		name             string
		initial, maxWait time.Duration
		want             []time.Duration // before jitter
	}{
		{"defaults", 0, 0, []time.Duration{
			500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
			16 * time.Second, 30 * time.Second, 30 * time.Second,
		}},
		{"small", 10 * time.Millisecond, 50 * time.Millisecond, []time.Duration{
			10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond,
		}},
		{"max below initial", time.Second, time.Millisecond, []time.Duration{time.Second, time.Second}},
		{"huge max", time.Hour, 1 << 62, []time.Duration{time.Hour, 2 * time.Hour, 4 * time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := retry.Options{InitialDelay: tc.initial, MaxDelay: tc.maxWait, Rand: rand.New(rand.NewPCG(7, 7))}
			got := sleeps(t, opts, len(tc.want)+1)
			if len(got) != len(tc.want) {
				t.Fatalf("waited %v, want %d waits", got, len(tc.want))
			}
			for i, d := range got {
				if d < tc.want[i]/2 || d > tc.want[i] {
					t.Errorf("wait %d: %v, want within [%v, %v]", i+1, d, tc.want[i]/2, tc.want[i])
				}
			}
			opts.Rand = rand.New(rand.NewPCG(7, 7))
			if again := sleeps(t, opts, len(tc.want)+1); !slices.Equal(got, again) {
				t.Errorf("the same Rand seed gave waits %v, then %v", got, again)
			}
		})
	}
}

func TestJitterSpansHalfToFullDelay(t *testing.T) {
	const base = 100 * time.Millisecond
	opts := retry.Options{InitialDelay: base, Rand: rand.New(rand.NewPCG(3, 4))}
	lo, hi := base, time.Duration(0)
	for range 200 {
		d := sleeps(t, opts, 2)[0]
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo > base*55/100 || hi < base*95/100 {
		t.Errorf("200 waits spread over [%v, %v], want most of [%v, %v]", lo, hi, base/2, base)
	}
}

func TestContextEndingDuringWaitStopsRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := newScript(memWithA(t), map[string][]error{"load": slices.Repeat([]error{errReset}, 10)})
	be := retry.New(s, retry.Options{Sleep: func(ctx context.Context, _ time.Duration) error {
		cancel()
		return ctx.Err()
	}})
	_, err := call(ctx, be, "load")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errReset) {
		t.Errorf("got %v, want context.Canceled and the last error", err)
	}
	if n := s.Calls("load"); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

func TestDefaultSleepEndsWithContext(t *testing.T) {
	s := newScript(memWithA(t), map[string][]error{"stat": {errReset}})
	be := retry.New(s, retry.Options{InitialDelay: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := call(ctx, be, "stat")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errReset) {
		t.Errorf("got %v, want context.DeadlineExceeded and the last error", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stat returned after %v", took)
	}
}

func TestErrorAfterContextEndedIsNotRetried(t *testing.T) {
	for _, op := range ops {
		ctx, cancel := context.WithCancel(t.Context())
		// The backend fails transiently and, meanwhile, the caller gives up.
		s := newScript(memWithA(t), map[string][]error{op: {errReset}})
		be := retry.New(cancelling{s, cancel}, retry.Options{Sleep: noSleep})
		_, err := call(ctx, be, op)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errReset) {
			t.Errorf("%s: got %v, want context.Canceled and the backend's error", op, err)
		}
		if n := s.Calls(op); n != 1 {
			t.Errorf("%s: %d calls, want 1", op, n)
		}
	}
}

// cancelling cancels a context whenever a call returns.
type cancelling struct {
	*script
	cancel context.CancelFunc
}

func (c cancelling) Save(ctx context.Context, h backends.Handle, data []byte) error {
	defer c.cancel()
	return c.script.Save(ctx, h, data)
}

func (c cancelling) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(io.Reader) error) error {
	defer c.cancel()
	return c.script.Load(ctx, h, length, offset, fn)
}

func (c cancelling) Stat(ctx context.Context, h backends.Handle) (backends.FileInfo, error) {
	defer c.cancel()
	return c.script.Stat(ctx, h)
}

func (c cancelling) List(ctx context.Context, t backends.FileType, fn func(backends.FileInfo) error) error {
	defer c.cancel()
	return c.script.List(ctx, t, fn)
}

func (c cancelling) Remove(ctx context.Context, h backends.Handle) error {
	defer c.cancel()
	return c.script.Remove(ctx, h)
}

func TestInvalidArgumentsAreNotRetried(t *testing.T) {
	s := newScript(memWithA(t), nil)
	be := retry.New(s, retry.Options{Sleep: noSleep})
	bad := backends.Handle{Type: backends.IndexFile, Name: "../x"}
	ctx := t.Context()
	_, statErr := be.Stat(ctx, bad)
	for what, err := range map[string]error{
		"save":           be.Save(ctx, bad, nil),
		"load":           be.Load(ctx, bad, 0, 0, func(io.Reader) error { return nil }),
		"load -1 length": be.Load(ctx, objA, -1, 0, func(io.Reader) error { return nil }),
		"load -1 offset": be.Load(ctx, objA, 0, -1, func(io.Reader) error { return nil }),
		"stat":           statErr,
		"list":           be.List(ctx, "bogus", func(backends.FileInfo) error { return nil }),
		"remove":         be.Remove(ctx, bad),
	} {
		if err == nil {
			t.Errorf("%s: got no error", what)
		}
	}
	for _, op := range ops {
		if n := s.Calls(op); n != 0 {
			t.Errorf("%s reached the backend %d times", op, n)
		}
	}
}

func TestSaveWhoseAnswerWasLostSucceeds(t *testing.T) {
	inner := mem.New()
	fb := faulty.New(inner, faulty.FailNth(faulty.OpSave, 1, faulty.Fault{Kind: faulty.DropAfter}))
	be := retry.New(fb, retry.Options{Sleep: noSleep})
	if err := be.Save(t.Context(), objA, payload); err != nil {
		t.Fatalf("save: %v", err)
	}
	got, err := backends.LoadAll(t.Context(), inner, objA)
	if err != nil || !bytes.Equal(got, payload) {
		t.Errorf("stored object: %d bytes, %v; want the saved data", len(got), err)
	}
	if n := fb.Calls(faulty.OpSave); n != 2 {
		t.Errorf("%d saves, want 2", n)
	}
}

func TestSaveAfterAmbiguousFailureComparesStoredObject(t *testing.T) {
	tests := []struct {
		name    string
		stored  []byte
		wantErr error
	}{
		{"same bytes", payload, nil},
		{"same size, other bytes", bytes.Repeat([]byte("x"), len(payload)), fs.ErrExist},
		{"prefix", payload[:999], fs.ErrExist},
		{"longer", append(bytes.Clone(payload), 'x'), fs.ErrExist},
		{"empty", []byte{}, fs.ErrExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inner := mem.New()
			if err := inner.Save(t.Context(), objA, tc.stored); err != nil {
				t.Fatal(err)
			}
			// The first attempt fails before it reaches the server; the
			// second finds the object stored by someone else.
			s := newScript(inner, map[string][]error{"save": {errReset}})
			err := retry.New(s, retry.Options{Sleep: noSleep}).Save(t.Context(), objA, payload)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
			if n := s.Calls("save"); n != 2 {
				t.Errorf("%d saves, want 2", n)
			}
		})
	}
}

func TestSaveOverExistingObjectFailsAtOnce(t *testing.T) {
	fb := faulty.New(memWithA(t), faulty.NoFaults)
	err := retry.New(fb, retry.Options{Sleep: noSleep}).Save(t.Context(), objA, payload)
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("got %v, want fs.ErrExist", err)
	}
	if s, l := fb.Calls(faulty.OpSave), fb.Calls(faulty.OpLoad); s != 1 || l != 0 {
		t.Errorf("%d saves and %d loads, want 1 and 0", s, l)
	}
}

func TestSaveRetriesWhenReadingBackFails(t *testing.T) {
	plan := faulty.PlanFunc(func(op faulty.Op, _ backends.Handle, n int) faulty.Fault {
		switch {
		case op == faulty.OpSave && n == 1:
			return faulty.Fault{Kind: faulty.DropAfter}
		case op == faulty.OpLoad && n == 1:
			return faulty.Fault{Kind: faulty.Truncate, Keep: 10}
		}
		return faulty.Fault{}
	})
	fb := faulty.New(mem.New(), plan)
	if err := retry.New(fb, retry.Options{Sleep: noSleep}).Save(t.Context(), objA, payload); err != nil {
		t.Fatalf("save: %v", err)
	}
	if s, l := fb.Calls(faulty.OpSave), fb.Calls(faulty.OpLoad); s != 3 || l != 2 {
		t.Errorf("%d saves and %d loads, want 3 and 2", s, l)
	}
}

func TestRemoveAfterAmbiguousFailure(t *testing.T) {
	tests := []struct {
		name    string
		fault   faulty.Kind
		present bool
		wantErr error
	}{
		{"answer lost", faulty.DropAfter, true, nil},
		{"failed, then gone", faulty.Transient, false, nil},
		{"failed, then removed", faulty.Transient, true, nil},
		{"missing at first attempt", faulty.None, false, fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inner := mem.New()
			if tc.present {
				if err := inner.Save(t.Context(), objA, payload); err != nil {
					t.Fatal(err)
				}
			}
			fb := faulty.New(inner, faulty.FailNth(faulty.OpRemove, 1, faulty.Fault{Kind: tc.fault}))
			err := retry.New(fb, retry.Options{Sleep: noSleep}).Remove(t.Context(), objA)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
			if _, err := inner.Stat(t.Context(), objA); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("object still there: %v", err)
			}
		})
	}
}

func TestLoadRetriesCutStreamAndCallsFnAgain(t *testing.T) {
	tests := []struct {
		name           string
		offset         int64
		length, keep   int
		wantCalls      int
		wantFnArgument []byte
	}{
		{"whole object", 0, 0, 100, 2, payload},
		{"range to the end", 900, 100, 99, 2, payload[900:]},
		{"range inside", 10, 20, 0, 2, payload[10:30]},
		{"cut beyond the range", 10, 20, 5000, 2, payload[10:30]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fb := faulty.New(memWithA(t), faulty.FailNth(faulty.OpLoad, 1, faulty.Fault{Kind: faulty.Truncate, Keep: tc.keep}))
			be := retry.New(fb, retry.Options{Sleep: noSleep})
			var seen [][]byte
			err := be.Load(t.Context(), objA, tc.length, tc.offset, func(rd io.Reader) error {
				got, err := io.ReadAll(rd)
				seen = append(seen, got)
				return err
			})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(seen) != tc.wantCalls || !bytes.Equal(seen[len(seen)-1], tc.wantFnArgument) {
				t.Errorf("fn called %d times, last read %d bytes; want %d calls reading %d bytes",
					len(seen), len(seen[len(seen)-1]), tc.wantCalls, len(tc.wantFnArgument))
			}
			if n := fb.Calls(faulty.OpStat); n != 1 {
				t.Errorf("%d stats, want 1 to tell a cut stream from a short object", n)
			}
		})
	}
}

func TestLoadPastEndIsNotRetried(t *testing.T) {
	errParse := errors.New("parse failed")
	// Whether fn passes the reader's error on or replaces it with its own,
	// the failure is recognised as a range past the end.
	callbacks := map[string]func(rd io.Reader) error{
		"fn returns reader error": func(rd io.Reader) error {
			_, err := io.ReadAll(rd)
			return err
		},
		"fn hides reader error": func(rd io.Reader) error {
			if _, err := io.ReadAll(rd); err != nil {
				return errParse
			}
			return nil
		},
	}
	for name, fn := range callbacks {
		for _, r := range []struct {
			offset int64
			length int
		}{{995, 10}, {0, 1001}, {1001, 0}, {2000, 10}} {
			fb := faulty.New(memWithA(t), faulty.NoFaults)
			be := retry.New(fb, retry.Options{Sleep: noSleep})
			err := be.Load(t.Context(), objA, r.length, r.offset, fn)
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, errParse) {
				t.Errorf("%s, offset %d length %d: got %v, want fn's error", name, r.offset, r.length, err)
			}
			if l, s := fb.Calls(faulty.OpLoad), fb.Calls(faulty.OpStat); l != 1 || s != 1 {
				t.Errorf("%s, offset %d length %d: %d loads and %d stats, want 1 and 1", name, r.offset, r.length, l, s)
			}
		}
	}
}

func TestLoadOfObjectRemovedBetweenAttemptsReportsNotExist(t *testing.T) {
	inner := memWithA(t)
	plan := faulty.PlanFunc(func(op faulty.Op, h backends.Handle, n int) faulty.Fault {
		switch op {
		case faulty.OpLoad:
			if n == 1 {
				return faulty.Fault{Kind: faulty.Truncate, Keep: 10}
			}
		case faulty.OpStat:
			// Another client removes the object while the stream is cut.
			if err := inner.Remove(t.Context(), h); err != nil {
				t.Errorf("remove behind the wrapper: %v", err)
			}
		}
		return faulty.Fault{}
	})
	fb := faulty.New(inner, plan)
	_, err := call(t.Context(), retry.New(fb, retry.Options{Sleep: noSleep}), "load")
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("got %v, want fs.ErrNotExist and io.ErrUnexpectedEOF", err)
	}
	if n := fb.Calls(faulty.OpLoad); n != 1 {
		t.Errorf("%d loads, want 1", n)
	}
}

func TestLoadReturnsCallbackErrorAtOnce(t *testing.T) {
	fb := faulty.New(memWithA(t), faulty.NoFaults)
	errBad := errors.New("bad checksum")
	calls := 0
	err := retry.New(fb, retry.Options{Sleep: noSleep}).Load(t.Context(), objA, 0, 0, func(rd io.Reader) error {
		calls++
		if _, err := io.ReadAll(rd); err != nil {
			return err
		}
		return errBad
	})
	if err != errBad {
		t.Errorf("got %v, want the callback's error unchanged", err)
	}
	if calls != 1 {
		t.Errorf("fn called %d times, want 1", calls)
	}
}

func TestLoadRetriesWhenFnHidesReaderFailure(t *testing.T) {
	fb := faulty.New(memWithA(t), faulty.FailNth(faulty.OpLoad, 1, faulty.Fault{Kind: faulty.Truncate, Keep: 10}))
	calls := 0
	err := retry.New(fb, retry.Options{Sleep: noSleep}).Load(t.Context(), objA, 0, 0, func(rd io.Reader) error {
		calls++
		if _, err := io.ReadAll(rd); err != nil {
			return errors.New("parse failed") // does not wrap the reader's error
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("got %v after %d calls of fn, want success after 2", err, calls)
	}
}

func TestListReportsEachObjectOnceAcrossRetries(t *testing.T) {
	inner := mem.New()
	var want []string
	for i := range 10 {
		h := backends.Handle{Type: backends.IndexFile, Name: fmt.Sprintf("idx%02d", i)}
		if err := inner.Save(t.Context(), h, nil); err != nil {
			t.Fatal(err)
		}
		want = append(want, h.Name)
	}
	plan := faulty.PlanFunc(func(op faulty.Op, _ backends.Handle, n int) faulty.Fault {
		switch {
		case op == faulty.OpList && n == 1:
			return faulty.Fault{Kind: faulty.Truncate, Keep: 3}
		case op == faulty.OpList && n == 2:
			return faulty.Fault{Kind: faulty.Truncate, Keep: 7}
		case op == faulty.OpList && n == 3:
			return faulty.Fault{Kind: faulty.DropAfter}
		}
		return faulty.Fault{}
	})
	fb := faulty.New(inner, plan)
	var got []string
	err := retry.New(fb, retry.Options{Sleep: noSleep}).List(t.Context(), backends.IndexFile, func(fi backends.FileInfo) error {
		got = append(got, fi.Name)
		return nil
	})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("fn saw %v, want each of %v once", got, want)
	}
	if n := fb.Calls(faulty.OpList); n != 4 {
		t.Errorf("%d lists, want 4", n)
	}
}

func TestListReturnsCallbackErrorAtOnce(t *testing.T) {
	s := newScript(memWithA(t), nil)
	errStop := errors.New("stop")
	err := retry.New(s, retry.Options{Sleep: noSleep}).List(t.Context(), backends.PackFile, func(backends.FileInfo) error {
		return errStop
	})
	if err != errStop {
		t.Errorf("got %v, want the callback's error unchanged", err)
	}
	if n := s.Calls("list"); n != 1 {
		t.Errorf("%d lists, want 1", n)
	}
}

func TestPermanentInjectedFaultIsNotRetried(t *testing.T) {
	for _, op := range faulty.Ops {
		fb := faulty.New(memWithA(t), faulty.FailNth(op, 1, faulty.Fault{Kind: faulty.Permanent}))
		_, err := call(t.Context(), retry.New(fb, retry.Options{Sleep: noSleep}), op.String())
		if !errors.Is(err, backends.ErrPermanent) {
			t.Errorf("%v: got %v, want backends.ErrPermanent", op, err)
		}
		if n := fb.Calls(op); n != 1 {
			t.Errorf("%v: %d calls, want 1", op, n)
		}
	}
}
