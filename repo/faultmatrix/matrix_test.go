package faultmatrix_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/faulty"
	"github.com/godwit-backup/godwit/backends/mem"
	"github.com/godwit-backup/godwit/backends/retry"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/check"
)

// defaultSeeds is how many fault schedules each operation runs, half of
// them behind the retry wrapper. GODWIT_FAULT_SEEDS overrides it.
const defaultSeeds = 200

// runTimeout bounds one run: an operation that has not returned by then
// is taken to hang.
const runTimeout = 60 * time.Second

func seedCount(t *testing.T) int {
	s := os.Getenv("GODWIT_FAULT_SEEDS")
	if s == "" {
		return defaultSeeds
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("GODWIT_FAULT_SEEDS=%q: want a positive number", s)
	}
	return n
}

// schedule returns the fault plan of a seed, a description of it, and
// whether the run goes through the retry wrapper. The low bits of the seed
// pick the combination, so that every few seeds cover all of them: odd
// seeds script one fault of any kind (permanent errors included) into the
// nth call of one kind, even seeds get faulty.Seeded at one of three rates,
// which injects only faults a retry can get past; every other pair of
// seeds runs behind the retry wrapper.
//
// calls holds how many calls of each faulty.Op a run without faults
// makes; a scripted fault hits one of those calls.
func schedule(seed int, calls [5]int) (plan faulty.Plan, desc string, withRetry, permanent bool) {
	withRetry = seed>>1%2 == 1
	if seed%2 == 1 {
		rng := rand.New(rand.NewPCG(uint64(seed), 0x6661756c74))
		var ops []faulty.Op
		for _, op := range faulty.Ops {
			if calls[op] > 0 {
				ops = append(ops, op)
			}
		}
		op := ops[rng.IntN(len(ops))]
		n := 1 + rng.IntN(calls[op])
		var f faulty.Fault
		switch rng.IntN(5) {
		case 0:
			f.Kind = faulty.Transient
		case 1:
			f.Kind = faulty.Permanent
		case 2:
			f = faulty.Fault{Kind: faulty.Truncate, Keep: rng.IntN(1 << rng.IntN(18))}
		case 3:
			f.Kind = faulty.DropAfter
		default:
			f.Delay = 5 * time.Millisecond
		}
		desc = fmt.Sprintf("%s on %s #%d", kindName(f), op, n)
		return faulty.FailNth(op, n, f), desc, withRetry, f.Kind == faulty.Permanent
	}
	rate := []float64{0.05, 0.1, 0.2}[seed>>2%3]
	return faulty.Seeded(int64(seed), rate), fmt.Sprintf("seeded at rate %.2f", rate), withRetry, false
}

// kinds are the fault kinds counted; a Fault of Kind None with a delay
// counts as "delay".
var kinds = []string{"transient", "permanent", "truncate", "drop-after", "delay"}

func kindName(f faulty.Fault) string {
	switch f.Kind {
	case faulty.Transient:
		return "transient"
	case faulty.Permanent:
		return "permanent"
	case faulty.Truncate:
		return "truncate"
	case faulty.DropAfter:
		return "drop-after"
	}
	if f.Delay > 0 {
		return "delay"
	}
	return ""
}

// countingPlan counts the faults its plan injects, by kind.
type countingPlan struct {
	plan   faulty.Plan
	counts [5]atomic.Int64 // indexed like kinds
}

func (c *countingPlan) Decide(op faulty.Op, h backends.Handle, n int) faulty.Fault {
	f := c.plan.Decide(op, h, n)
	if i := slices.Index(kinds, kindName(f)); i >= 0 {
		c.counts[i].Add(1)
	}
	return f
}

func (c *countingPlan) injected() [5]int {
	var out [5]int
	for i := range out {
		out[i] = int(c.counts[i].Load())
	}
	return out
}

// tally counts the outcomes of one operation's runs.
type tally struct {
	mu        sync.Mutex
	runs      [2]int    // by mode: without, with retry
	succeeded [2]int    // reported success
	failed    [2]int    // reported a failure naming the fault
	faultless [2]int    // runs in which the plan injected nothing
	faults    [2][5]int // faults injected, by mode and kind
	failedBy  [2][5]int // failed runs in which a fault of the kind was injected
	unindexed int       // runs that left packs no index lists (allowed)
	locks     int       // runs that left their lock behind (allowed)
}

func (t *tally) add(mode int, ok bool, injected [5]int, unindexed, locks bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.runs[mode]++
	if ok {
		t.succeeded[mode]++
	} else {
		t.failed[mode]++
	}
	total := 0
	for i, n := range injected {
		total += n
		t.faults[mode][i] += n
		if !ok && n > 0 {
			t.failedBy[mode][i]++
		}
	}
	if total == 0 {
		t.faultless[mode]++
	}
	if unindexed {
		t.unindexed++
	}
	if locks {
		t.locks++
	}
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%-6s %5s %9s %6s %9s", "mode", "runs", "succeeded", "failed", "faultless")
	for _, k := range kinds {
		fmt.Fprintf(&b, " %15s", k)
	}
	b.WriteString("   (per kind: faults injected / failed runs with one)\n")
	for mode, name := range []string{"plain", "retry"} {
		fmt.Fprintf(&b, "%-6s %5d %9d %6d %9d", name, t.runs[mode], t.succeeded[mode], t.failed[mode], t.faultless[mode])
		for i := range kinds {
			fmt.Fprintf(&b, " %15s", fmt.Sprintf("%d / %d", t.faults[mode][i], t.failedBy[mode][i]))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "runs that left unindexed packs: %d; runs that left their lock: %d\n", t.unindexed, t.locks)
	return b.String()
}

// TestFaultMatrix runs every operation under many fault schedules, on the
// bare faulty backend and behind the retry wrapper, and checks after every
// run that nothing was lost, nothing was reported falsely and the next run
// succeeds. A failing run is named by its seed: rerun it alone with
// go test -run 'TestFaultMatrix/backup/seeds/17$' ./repo/faultmatrix.
func TestFaultMatrix(t *testing.T) {
	seeds := seedCount(t)
	for _, op := range operations {
		t.Run(op.name, func(t *testing.T) {
			w := buildWorld(t, op.base)
			probe(t, op, w)
			var tl tally
			t.Run("seeds", func(t *testing.T) {
				for seed := 1; seed <= seeds; seed++ {
					t.Run(strconv.Itoa(seed), func(t *testing.T) {
						t.Parallel()
						runOne(t, op, w, seed, &tl)
					})
				}
			})
			t.Logf("%s, seeds 1-%d:\n%s", op.name, seeds, &tl)
		})
	}
}

// probe runs op once without faults and records how many calls of each
// kind it makes.
func probe(t *testing.T, op operation, w *world) {
	t.Helper()
	clean, err := w.base.backend(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	be := faulty.New(clean, faulty.NoFaults)
	if o := op.run(t.Context(), w, be, t.TempDir()); !op.succeeded(o) {
		t.Fatalf("%s without faults: %v %v", op.name, o.err, o.warnings)
	}
	var calls [5]int
	for _, o := range faulty.Ops {
		calls[o] = be.Calls(o)
	}
	w.calls[op.name] = calls
	t.Logf("%s makes %d saves, %d loads, %d stats, %d lists and %d removes without faults", op.name,
		calls[faulty.OpSave], calls[faulty.OpLoad], calls[faulty.OpStat], calls[faulty.OpList], calls[faulty.OpRemove])
}

// runOne runs op once under the schedule of seed and checks the result.
func runOne(t *testing.T, op operation, w *world, seed int, tl *tally) {
	plan, desc, withRetry, permanent := schedule(seed, w.calls[op.name])
	if withRetry {
		desc += ", with retry"
	}
	runPlan(t, op, w, plan, desc, withRetry, permanent, tl)
}

// runPlan runs op once under plan and checks the result; desc describes
// the plan in messages.
func runPlan(t *testing.T, op operation, w *world, plan faulty.Plan, desc string, withRetry, permanent bool, tl *tally) {
	setup, cancel := context.WithTimeout(t.Context(), runTimeout)
	defer cancel()
	clean, err := w.base.backend(setup)
	if err != nil {
		t.Fatal(err)
	}
	cp := &countingPlan{plan: plan}
	var be backends.Backend = faulty.New(clean, cp)
	if withRetry {
		be = retry.New(be, retry.Options{
			InitialDelay: time.Microsecond,
			Sleep:        func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		})
	}
	target := t.TempDir()

	ctx, cancelRun := context.WithTimeout(t.Context(), runTimeout)
	defer cancelRun()
	o, panicked := protect(func() outcome { return op.run(ctx, w, be, target) })
	if panicked != "" {
		t.Fatalf("%s: panic: %s", desc, panicked)
	}
	if errors.Is(o.err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Fatalf("%s: did not finish within %v: %v", desc, runTimeout, o.err)
	}
	injected := cp.injected()
	ok := op.succeeded(o)

	verify, cancelVerify := context.WithTimeout(t.Context(), runTimeout)
	defer cancelVerify()
	if !ok {
		for _, err := range append([]error{o.err}, o.warnings...) {
			if err != nil && !namesFault(err) {
				t.Errorf("%s: reported a problem that does not name the injected fault: %v", desc, err)
			}
		}
		if injected == [5]int{} {
			t.Errorf("%s: failed though no fault was injected: %v %v", desc, o.err, o.warnings)
		}
		if withRetry && !permanent {
			t.Errorf("%s: the retry wrapper did not absorb faults a retry gets past: %v %v", desc, o.err, o.warnings)
		}
	} else if op.effects != nil {
		if err := op.effects(w, target); err != nil {
			t.Errorf("%s: reported success, but %v", desc, err)
		}
	}
	unindexed, locks, err := verifyRepo(verify, w, clean, op, o, !ok)
	if err != nil {
		t.Errorf("%s (the operation reported %v %v): afterwards %v", desc, o.err, o.warnings, err)
	}
	if !ok || unindexed > 0 || locks > 0 {
		// The next clean run succeeds: the repository is not wedged. (A
		// run that succeeded and left nothing behind is not run again.)
		again := op.run(verify, w, clean, target)
		if !op.succeeded(again) {
			t.Errorf("%s: the next run without faults failed: %v %v", desc, again.err, again.warnings)
		} else if op.effects != nil {
			if err := op.effects(w, target); err != nil {
				t.Errorf("%s: the next run without faults reported success, but %v", desc, err)
			}
		}
		// Packs a failed backup left stay until a prune removes them.
		if _, _, err := verifyRepo(verify, w, clean, op, again, unindexed > 0 && !op.prunes); err != nil {
			t.Errorf("%s: after the next run without faults: %v", desc, err)
		}
	}
	mode := 0
	if withRetry {
		mode = 1
	}
	tl.add(mode, ok, injected, unindexed > 0, locks > 0)
}

// namesFault reports whether err says that the injected fault caused it.
func namesFault(err error) bool {
	return errors.Is(err, faulty.ErrInjected) || strings.Contains(err.Error(), faulty.ErrInjected.Error())
}

// protect runs fn and turns a panic into a message with its stack.
func protect(fn func() outcome) (o outcome, panicked string) {
	defer func() {
		if p := recover(); p != nil {
			panicked = fmt.Sprintf("%v\n%s", p, debug.Stack())
		}
	}()
	return fn(), ""
}

// verifyRepo checks the repository on the clean backend after a run that
// reported o: with stale locks removed (the process that held them has
// ended), check --read-data finds nothing (with allowUnindexed, nothing but
// packs no index lists, which only an interrupted backup or prune
// leaves), every
// snapshot op promised is there, none it removed is, and every snapshot
// there reads back bit-identical to the version it was taken of. It
// returns how many unindexed packs and leftover locks it found.
func verifyRepo(ctx context.Context, w *world, be *mem.Backend, op operation, o outcome, allowUnindexed bool) (unindexed, locks int, err error) {
	r, err := repo.Open(ctx, be, w.unlocker())
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	locks, err = r.RemoveLocks(ctx, true, time.Now)
	if err != nil {
		return 0, 0, err
	}
	var problems []string
	_, err = check.Check(ctx, r, check.Options{ReadData: true}, func(p check.Problem) {
		if allowUnindexed && !p.Severe && strings.HasPrefix(p.What, "pack is not in any index") {
			unindexed++
			return
		}
		problems = append(problems, p.Object+": "+p.What)
	})
	if err != nil {
		return unindexed, locks, fmt.Errorf("check: %w", err)
	}
	if len(problems) > 0 {
		return unindexed, locks, fmt.Errorf("check found: %s", strings.Join(problems, "; "))
	}
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		return unindexed, locks, err
	}
	must, gone, newVersion := op.expect(w, o)
	present := map[blob.ID]bool{}
	for _, sn := range snaps {
		present[sn.ID] = true
		if slices.Contains(gone, sn.ID) {
			return unindexed, locks, fmt.Errorf("snapshot %s was reported removed but is there", sn.ID.Short())
		}
		if slices.Contains(w.snaps, sn.ID) {
			// The base snapshot was read back when the base was built:
			// its object is named by the keyed hash of its content, and
			// check has just found every blob it needs indexed and every
			// stored blob matching its keyed id.
			continue
		}
		if newVersion < 0 {
			return unindexed, locks, fmt.Errorf("unexpected snapshot %s", sn.ID.Short())
		}
		got, err := snapshotVersion(ctx, r, sn, w.src)
		if err != nil {
			return unindexed, locks, fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
		}
		if d := diff(got, w.vers[newVersion]); d != "" {
			return unindexed, locks, fmt.Errorf("snapshot %s differs from what was backed up: %s", sn.ID.Short(), d)
		}
	}
	for _, id := range must {
		if !present[id] {
			return unindexed, locks, fmt.Errorf("snapshot %s is missing", id.Short())
		}
	}
	return unindexed, locks, nil
}

// firstOf returns a plan that injects f into the first call of op on an
// object of type ft.
func firstOf(op faulty.Op, ft backends.FileType, f faulty.Fault) faulty.Plan {
	var done atomic.Bool
	return faulty.PlanFunc(func(o faulty.Op, h backends.Handle, _ int) faulty.Fault {
		if o == op && h.Type == ft && done.CompareAndSwap(false, true) {
			return f
		}
		return faulty.Fault{}
	})
}

// TestFaultMatrixRegressions replays, as scripted faults, the schedules
// with which the matrix first found each bug it found.
func TestFaultMatrixRegressions(t *testing.T) {
	transient := faulty.Fault{Kind: faulty.Transient}
	tests := []struct {
		name string
		op   string
		plan faulty.Plan
	}{
		// Restore reported every file as lost data.
		{"restore after an index object failed to load", "restore", firstOf(faulty.OpLoad, backends.IndexFile, transient)},
		// Check reported the packs of that index object as unindexed.
		{"check after an index object failed to load", "check", firstOf(faulty.OpLoad, backends.IndexFile, transient)},
		// Prune found the repository locked by the forget before it.
		{"prune after the forget's lock could not be removed", "forget+prune", firstOf(faulty.OpRemove, backends.LockFile, transient)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := slices.IndexFunc(operations, func(op operation) bool { return op.name == tc.op })
			op := operations[i]
			var tl tally
			runPlan(t, op, buildWorld(t, op.base), tc.plan, tc.name, false, false, &tl)
			if tl.faultless[0] > 0 {
				t.Error("the fault was not injected")
			}
		})
	}
}
