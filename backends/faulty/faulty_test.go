package faulty_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/backendtest"
	"github.com/godwit-backup/godwit/backends/faulty"
	"github.com/godwit-backup/godwit/backends/mem"
)

func TestConformanceWithoutFaults(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return faulty.New(mem.New(), faulty.NoFaults)
	})
}

var (
	objA = backends.Handle{Type: backends.PackFile, Name: "aa01"}
	objB = backends.Handle{Type: backends.PackFile, Name: "bb02"}
)

// payload is the content of objA in every test.
var payload = bytes.Repeat([]byte("0123456789"), 100)

// setup returns a mem backend holding objA, and a faulty wrapper over it.
func setup(t *testing.T, plan faulty.Plan) (*mem.Backend, *faulty.Backend) {
	t.Helper()
	inner := mem.New()
	if err := inner.Save(t.Context(), objA, payload); err != nil {
		t.Fatal(err)
	}
	return inner, faulty.New(inner, plan)
}

// call makes one call of op through be: Save stores objB, the others act
// on objA. It returns whether fn was called (Load, List), what fn saw, and
// the call's error.
func call(ctx context.Context, be backends.Backend, op faulty.Op) (fnCalled bool, seen []byte, err error) {
	switch op {
	case faulty.OpSave:
		err = be.Save(ctx, objB, []byte("new object"))
	case faulty.OpLoad:
		err = be.Load(ctx, objA, 0, 0, func(rd io.Reader) error {
			fnCalled = true
			var rerr error
			seen, rerr = io.ReadAll(rd)
			return rerr
		})
	case faulty.OpStat:
		_, err = be.Stat(ctx, objA)
	case faulty.OpList:
		err = be.List(ctx, backends.PackFile, func(fi backends.FileInfo) error {
			fnCalled = true
			seen = append(seen, fi.Name...)
			return nil
		})
	case faulty.OpRemove:
		err = be.Remove(ctx, objA)
	}
	return fnCalled, seen, err
}

func exists(t *testing.T, be backends.Backend, h backends.Handle) bool {
	t.Helper()
	_, err := be.Stat(t.Context(), h)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat %v: %v", h, err)
	}
	return err == nil
}

func TestFailingFaultsDoNotReachBackend(t *testing.T) {
	for _, kind := range []faulty.Kind{faulty.Transient, faulty.Permanent} {
		for _, op := range faulty.Ops {
			t.Run(kind.String()+"/"+op.String(), func(t *testing.T) {
				inner, be := setup(t, faulty.FailNth(op, 1, faulty.Fault{Kind: kind}))
				fnCalled, _, err := call(t.Context(), be, op)
				if !errors.Is(err, faulty.ErrInjected) {
					t.Fatalf("got %v, want ErrInjected", err)
				}
				if got, want := errors.Is(err, backends.ErrPermanent), kind == faulty.Permanent; got != want {
					t.Errorf("error %v: wraps ErrPermanent = %v, want %v", err, got, want)
				}
				if fnCalled {
					t.Error("fn was called")
				}
				if exists(t, inner, objB) {
					t.Error("a failed save stored the object")
				}
				if !exists(t, inner, objA) {
					t.Error("a failed remove removed the object")
				}
				if _, _, err := call(t.Context(), be, op); err != nil {
					t.Errorf("second call: %v", err)
				}
			})
		}
	}
}

func TestDropAfterActsThenFails(t *testing.T) {
	for _, op := range faulty.Ops {
		t.Run(op.String(), func(t *testing.T) {
			inner, be := setup(t, faulty.FailNth(op, 1, faulty.Fault{Kind: faulty.DropAfter}))
			fnCalled, seen, err := call(t.Context(), be, op)
			if !errors.Is(err, faulty.ErrInjected) || errors.Is(err, backends.ErrPermanent) {
				t.Fatalf("got %v, want a transient injected error", err)
			}
			switch op {
			case faulty.OpSave:
				if !exists(t, inner, objB) {
					t.Error("save did not store the object")
				}
			case faulty.OpRemove:
				if exists(t, inner, objA) {
					t.Error("remove did not remove the object")
				}
			case faulty.OpLoad:
				if !fnCalled || !bytes.Equal(seen, payload) {
					t.Errorf("fn saw %d bytes, want the whole object", len(seen))
				}
			case faulty.OpList:
				if string(seen) != objA.Name {
					t.Errorf("list reported %q, want %q", seen, objA.Name)
				}
			}
		})
	}
}

func TestDropAfterReturnsBackendErrorUnchanged(t *testing.T) {
	_, be := setup(t, faulty.FailNth(faulty.OpSave, 1, faulty.Fault{Kind: faulty.DropAfter}))
	err := be.Save(t.Context(), objA, []byte("other"))
	if !errors.Is(err, fs.ErrExist) || errors.Is(err, faulty.ErrInjected) {
		t.Errorf("save over existing: got %v, want the backend's fs.ErrExist", err)
	}
}

func TestTruncateCutsLoad(t *testing.T) {
	tests := []struct {
		name   string
		keep   int
		offset int64
		length int
		want   []byte
	}{
		{"nothing", 0, 0, 0, nil},
		{"prefix", 10, 0, 0, payload[:10]},
		{"all but last byte", 999, 0, 0, payload[:999]},
		{"whole object, then no clean end", 1000, 0, 0, payload},
		{"keep beyond object", 5000, 0, 0, payload},
		{"inside a range", 7, 100, 50, payload[100:107]},
		{"whole range", 50, 100, 50, payload[100:150]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, be := setup(t, faulty.FailNth(faulty.OpLoad, 1, faulty.Fault{Kind: faulty.Truncate, Keep: tc.keep}))
			var got []byte
			err := be.Load(t.Context(), objA, tc.length, tc.offset, func(rd io.Reader) error {
				var err error
				got, err = io.ReadAll(rd)
				return err
			})
			if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, faulty.ErrInjected) {
				t.Errorf("got %v, want io.ErrUnexpectedEOF and ErrInjected", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("read %d bytes, want the first %d of the range", len(got), len(tc.want))
			}
		})
	}
}

func TestTruncateCutsList(t *testing.T) {
	for _, tc := range []struct{ keep, want int }{{0, 0}, {2, 2}, {5, 5}, {9, 5}} {
		inner := mem.New()
		for _, name := range []string{"aa1", "aa2", "aa3", "aa4", "aa5"} {
			if err := inner.Save(t.Context(), backends.Handle{Type: backends.IndexFile, Name: name}, nil); err != nil {
				t.Fatal(err)
			}
		}
		be := faulty.New(inner, faulty.FailNth(faulty.OpList, 1, faulty.Fault{Kind: faulty.Truncate, Keep: tc.keep}))
		got := 0
		err := be.List(t.Context(), backends.IndexFile, func(backends.FileInfo) error {
			got++
			return nil
		})
		if !errors.Is(err, faulty.ErrInjected) {
			t.Errorf("keep %d: got %v, want ErrInjected", tc.keep, err)
		}
		if got != tc.want {
			t.Errorf("keep %d: fn called %d times, want %d", tc.keep, got, tc.want)
		}
	}
}

func TestTruncatedListReturnsCallbackError(t *testing.T) {
	_, be := setup(t, faulty.FailNth(faulty.OpList, 1, faulty.Fault{Kind: faulty.Truncate, Keep: 5}))
	errStop := errors.New("stop")
	err := be.List(t.Context(), backends.PackFile, func(backends.FileInfo) error { return errStop })
	if err != errStop {
		t.Errorf("got %v, want the callback's error unchanged", err)
	}
}

func TestDelayWaitsBeforeCall(t *testing.T) {
	const delay = 30 * time.Millisecond
	_, be := setup(t, faulty.FailNth(faulty.OpStat, 1, faulty.Fault{Delay: delay}))
	start := time.Now()
	if _, err := be.Stat(t.Context(), objA); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("stat took %v, want at least %v", took, delay)
	}
}

func TestDelayEndsWithContext(t *testing.T) {
	inner, be := setup(t, faulty.FailNth(faulty.OpSave, 1, faulty.Fault{Delay: time.Hour}))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := be.Save(ctx, objB, []byte("x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("save returned after %v", took)
	}
	if exists(t, inner, objB) {
		t.Error("save stored the object after its context ended")
	}
}

func TestDoneContextFailsBeforePlan(t *testing.T) {
	asked := 0
	_, be := setup(t, faulty.PlanFunc(func(faulty.Op, backends.Handle, int) faulty.Fault {
		asked++
		return faulty.Fault{Kind: faulty.Transient}
	}))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, op := range faulty.Ops {
		if _, _, err := call(ctx, be, op); !errors.Is(err, context.Canceled) || errors.Is(err, faulty.ErrInjected) {
			t.Errorf("%v: got %v, want context.Canceled only", op, err)
		}
		if n := be.Calls(op); n != 1 {
			t.Errorf("%v: Calls = %d, want 1", op, n)
		}
	}
	if asked != 0 {
		t.Errorf("plan asked %d times, want 0", asked)
	}
}

func TestCallsCountsEachOpAndPassesNumberToPlan(t *testing.T) {
	type decision struct {
		op faulty.Op
		n  int
	}
	var asked []decision
	_, be := setup(t, faulty.PlanFunc(func(op faulty.Op, _ backends.Handle, n int) faulty.Fault {
		asked = append(asked, decision{op, n})
		return faulty.Fault{}
	}))
	ops := []faulty.Op{faulty.OpLoad, faulty.OpStat, faulty.OpLoad, faulty.OpList, faulty.OpLoad, faulty.OpStat}
	for _, op := range ops {
		if _, _, err := call(t.Context(), be, op); err != nil {
			t.Fatalf("%v: %v", op, err)
		}
	}
	want := []decision{
		{faulty.OpLoad, 1}, {faulty.OpStat, 1}, {faulty.OpLoad, 2},
		{faulty.OpList, 1}, {faulty.OpLoad, 3}, {faulty.OpStat, 2},
	}
	if !slices.Equal(asked, want) {
		t.Errorf("plan asked %v, want %v", asked, want)
	}
	for op, n := range map[faulty.Op]int{faulty.OpLoad: 3, faulty.OpStat: 2, faulty.OpList: 1, faulty.OpSave: 0, faulty.OpRemove: 0} {
		if got := be.Calls(op); got != n {
			t.Errorf("Calls(%v) = %d, want %d", op, got, n)
		}
	}
}

func TestFailNthFailsOnlyNthCall(t *testing.T) {
	_, be := setup(t, faulty.FailNth(faulty.OpStat, 3, faulty.Fault{Kind: faulty.Transient}))
	var failed []int
	for i := 1; i <= 5; i++ {
		if _, err := be.Stat(t.Context(), objA); err != nil {
			failed = append(failed, i)
		}
		if _, _, err := call(t.Context(), be, faulty.OpLoad); err != nil {
			t.Errorf("load %d: %v", i, err)
		}
	}
	if !slices.Equal(failed, []int{3}) {
		t.Errorf("failed stats %v, want [3]", failed)
	}
}

// decisions returns what plan decides for a fixed grid of calls.
func decisions(plan faulty.Plan) []faulty.Fault {
	var out []faulty.Fault
	for _, op := range faulty.Ops {
		for _, name := range []string{"aa01", "bb02", "cc03"} {
			for n := 1; n <= 200; n++ {
				out = append(out, plan.Decide(op, backends.Handle{Type: backends.PackFile, Name: name}, n))
			}
		}
	}
	return out
}

func TestSeededPlanIsReproducible(t *testing.T) {
	a := decisions(faulty.Seeded(42, 0.3))
	if b := decisions(faulty.Seeded(42, 0.3)); !slices.Equal(a, b) {
		t.Error("the same seed gave different decisions")
	}
	if c := decisions(faulty.Seeded(43, 0.3)); slices.Equal(a, c) {
		t.Error("different seeds gave the same decisions")
	}
	// Retries of different objects meet different faults.
	plan := faulty.Seeded(42, 0.3)
	var forA, forB []faulty.Fault
	for n := 1; n <= 100; n++ {
		forA = append(forA, plan.Decide(faulty.OpLoad, objA, n))
		forB = append(forB, plan.Decide(faulty.OpLoad, objB, n))
	}
	if slices.Equal(forA, forB) {
		t.Error("two handles got the same decisions")
	}
}

func TestSeededPlanUsesEveryRecoverableKind(t *testing.T) {
	type kinds struct{ transient, dropAfter, truncate, delay bool }
	plan := faulty.Seeded(5, 1)
	for op, want := range map[faulty.Op]kinds{
		faulty.OpSave:   {true, true, false, true},
		faulty.OpLoad:   {true, true, true, true},
		faulty.OpStat:   {true, true, false, true},
		faulty.OpList:   {true, true, true, true},
		faulty.OpRemove: {true, true, false, true},
	} {
		var got kinds
		for n := 1; n <= 500; n++ {
			f := plan.Decide(op, objA, n)
			switch f.Kind {
			case faulty.Transient:
				got.transient = true
			case faulty.DropAfter:
				got.dropAfter = true
			case faulty.Truncate:
				got.truncate = true
			case faulty.None:
				got.delay = got.delay || f.Delay > 0
			}
		}
		if got != want {
			t.Errorf("%v: kinds seen %+v, want %+v", op, got, want)
		}
	}
}

func TestSeededPlanInjectsAboutRateOfRecoverableFaults(t *testing.T) {
	for _, rate := range []float64{0, 0.1, 0.5, 1} {
		faults := 0
		all := decisions(faulty.Seeded(7, rate))
		for i, f := range all {
			op := faulty.Ops[i/600]
			if f != (faulty.Fault{}) {
				faults++
			}
			if f.Kind == faulty.Permanent {
				t.Errorf("rate %v: %v call got a permanent fault", rate, op)
			}
			if f.Kind == faulty.Truncate && op != faulty.OpLoad && op != faulty.OpList {
				t.Errorf("rate %v: %v call got a truncation", rate, op)
			}
		}
		got := float64(faults) / float64(len(all))
		if got < rate-0.05 || got > rate+0.05 {
			t.Errorf("rate %v: %.3f of calls got a fault", rate, got)
		}
	}
}

// TestSeededPlanReplaysOnNewBackend checks the end-to-end promise: the same
// sequence of calls on a fresh Backend meets the same faults.
func TestSeededPlanReplaysOnNewBackend(t *testing.T) {
	run := func() []string {
		_, be := setup(t, faulty.Seeded(99, 0.4))
		var outcomes []string
		for range 40 {
			for _, op := range []faulty.Op{faulty.OpLoad, faulty.OpStat, faulty.OpList} {
				_, seen, err := call(t.Context(), be, op)
				outcome := "ok"
				if err != nil {
					outcome = err.Error()
				}
				outcomes = append(outcomes, fmt.Sprintf("%s, %d bytes", outcome, len(seen)))
			}
		}
		return outcomes
	}
	first := run()
	if second := run(); !slices.Equal(first, second) {
		t.Error("the same calls met different faults on a new backend")
	}
	ok := slices.ContainsFunc(first, func(s string) bool { return s[:2] == "ok" })
	failed := slices.ContainsFunc(first, func(s string) bool { return s[:2] != "ok" })
	if !ok || !failed {
		t.Errorf("at rate 0.4 want both successes and failures, got %v", first)
	}
}

func TestConcurrentCallsAreCounted(t *testing.T) {
	_, be := setup(t, faulty.Seeded(1, 0.5))
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				call(t.Context(), be, faulty.OpStat)
			}
		})
	}
	wg.Wait()
	if got := be.Calls(faulty.OpStat); got != workers*each {
		t.Errorf("Calls(stat) = %d, want %d", got, workers*each)
	}
}
