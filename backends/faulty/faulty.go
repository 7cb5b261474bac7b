package faulty

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/godwit-backup/godwit/backends"
)

// ErrInjected is wrapped by every error the package makes up, so a test can
// tell an injected failure from one of the wrapped backend.
var ErrInjected = errors.New("injected fault")

// Op is a kind of backend call a Plan is asked about.
type Op uint8

const (
	OpSave Op = iota
	OpLoad
	OpStat
	OpList
	OpRemove
	numOps
)

// Ops lists every Op.
var Ops = []Op{OpSave, OpLoad, OpStat, OpList, OpRemove}

// String returns the lower-case name of the call: "save", "load", "stat",
// "list" or "remove".
func (o Op) String() string {
	switch o {
	case OpSave:
		return "save"
	case OpLoad:
		return "load"
	case OpStat:
		return "stat"
	case OpList:
		return "list"
	case OpRemove:
		return "remove"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Kind is what a Fault does to a call.
type Kind uint8

const (
	// None passes the call through (after Fault.Delay, if any).
	None Kind = iota

	// Transient fails the call with an error wrapping ErrInjected, without
	// calling the wrapped backend: the request was refused, or the
	// connection dropped before the server acted. A Save stores nothing.
	Transient

	// Permanent fails the call like Transient, with an error that also
	// wraps backends.ErrPermanent, as a wrong credential or a missing
	// bucket does.
	Permanent

	// Truncate cuts a stream short. For Load, the reader passed to fn
	// returns at most Fault.Keep bytes and then an error wrapping both
	// ErrInjected and io.ErrUnexpectedEOF; it never reports a clean end of
	// the stream, so a range shorter than Keep also fails, after all of its
	// bytes. (A callback that stops reading before the cut does not see
	// the fault.) For List, fn is called for at most Keep objects and List
	// then fails with an error wrapping ErrInjected. For other calls
	// Truncate is the same as Transient.
	Truncate

	// DropAfter calls the wrapped backend, then, if it succeeded, fails
	// with an error wrapping ErrInjected: the server acted but its answer
	// was lost. A Save has stored the object, a Remove has removed it, a
	// Load has run fn to completion, a List has reported every object. If
	// the wrapped backend fails, its error is returned unchanged.
	DropAfter
)

// String returns the name of the kind, for messages.
func (k Kind) String() string {
	switch k {
	case None:
		return "none"
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Truncate:
		return "truncate"
	case DropAfter:
		return "drop-after"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Fault is what to do to one call. The zero Fault passes the call through.
type Fault struct {
	Kind Kind

	// Delay is how long to wait before the call does anything else, for
	// every Kind. A context that ends during the wait fails the call with
	// the context's error.
	Delay time.Duration

	// Keep is, for Truncate, how many bytes (Load) or objects (List) get
	// through before the stream is cut.
	Keep int
}

// Plan decides the fault for each call. n is the call's number among calls
// of the same op on the same Backend, counting from 1; for List, h has the
// listed type and an empty Name. Decide is called from the goroutine
// making the call, possibly from many goroutines at once, so it must be
// safe for concurrent use.
type Plan interface {
	Decide(op Op, h backends.Handle, n int) Fault
}

// Backend injects the faults its Plan decides into calls of the wrapped
// backend. It is safe for concurrent use by multiple goroutines if the
// wrapped backend and the plan are.
//
// A call whose context is already done is counted, but fails with the
// context's error without consulting the plan, as a real backend fails
// it before sending anything.
type Backend struct {
	be    backends.Backend
	plan  Plan
	calls [numOps]atomic.Int64
}

var _ backends.Backend = (*Backend)(nil)

// New wraps be, injecting the faults plan decides; a nil plan is
// NoFaults. Closing the returned Backend closes be.
func New(be backends.Backend, plan Plan) *Backend {
	if plan == nil {
		plan = NoFaults
	}
	return &Backend{be: be, plan: plan}
}

// Calls returns how many calls of op the Backend has received so far,
// whatever their outcome.
func (b *Backend) Calls(op Op) int {
	if op >= numOps {
		return 0
	}
	return int(b.calls[op].Load())
}

// begin counts the call, asks the plan and waits out the fault's delay.
func (b *Backend) begin(ctx context.Context, op Op, h backends.Handle) (Fault, error) {
	n := int(b.calls[op].Add(1))
	if err := ctx.Err(); err != nil {
		return Fault{}, fmt.Errorf("%s %s: %w", op, target(op, h), err)
	}
	f := b.plan.Decide(op, h, n)
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return Fault{}, fmt.Errorf("%s %s: %w", op, target(op, h), ctx.Err())
		case <-t.C:
		}
	}
	switch f.Kind {
	case Transient:
		return f, fmt.Errorf("%s %s: %w (transient)", op, target(op, h), ErrInjected)
	case Permanent:
		return f, fmt.Errorf("%s %s: %w: %w", op, target(op, h), ErrInjected, backends.ErrPermanent)
	case Truncate:
		if op != OpLoad && op != OpList {
			return f, fmt.Errorf("%s %s: %w (transient)", op, target(op, h), ErrInjected)
		}
	}
	return f, nil
}

// dropped is the error of a call whose answer was lost.
func dropped(op Op, h backends.Handle) error {
	return fmt.Errorf("%s %s: %w (connection dropped after the request completed)", op, target(op, h), ErrInjected)
}

func target(op Op, h backends.Handle) string {
	if op == OpList {
		return string(h.Type)
	}
	return h.String()
}

// Location returns the wrapped backend's location.
func (b *Backend) Location() string { return b.be.Location() }

// Save passes the call through unless the plan injects a fault; see Kind
// for what each fault does to a Save.
func (b *Backend) Save(ctx context.Context, h backends.Handle, data []byte) error {
	f, err := b.begin(ctx, OpSave, h)
	if err != nil {
		return err
	}
	if err := b.be.Save(ctx, h, data); err != nil {
		return err
	}
	if f.Kind == DropAfter {
		return dropped(OpSave, h)
	}
	return nil
}

// Load passes the call through unless the plan injects a fault; see Kind
// for what each fault does to a Load.
func (b *Backend) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	f, err := b.begin(ctx, OpLoad, h)
	if err != nil {
		return err
	}
	inner := fn
	if f.Kind == Truncate {
		inner = func(rd io.Reader) error {
			return fn(&cutReader{r: rd, left: max(f.Keep, 0), h: h})
		}
	}
	if err := b.be.Load(ctx, h, length, offset, inner); err != nil {
		return err
	}
	if f.Kind == DropAfter {
		return dropped(OpLoad, h)
	}
	return nil
}

// cutReader passes on at most left bytes of r, then fails. It never
// returns io.EOF: a stream that ends before the cut fails in its place.
type cutReader struct {
	r         io.Reader
	left      int
	delivered int
	h         backends.Handle
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, c.err()
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= n
	c.delivered += n
	if err == io.EOF {
		return n, c.err()
	}
	return n, err
}

func (c *cutReader) err() error {
	return fmt.Errorf("load %s: %w: connection dropped after %d bytes: %w", c.h, ErrInjected, c.delivered, io.ErrUnexpectedEOF)
}

// Stat passes the call through unless the plan injects a fault; see Kind
// for what each fault does to a Stat.
func (b *Backend) Stat(ctx context.Context, h backends.Handle) (backends.FileInfo, error) {
	f, err := b.begin(ctx, OpStat, h)
	if err != nil {
		return backends.FileInfo{}, err
	}
	fi, err := b.be.Stat(ctx, h)
	if err != nil {
		return backends.FileInfo{}, err
	}
	if f.Kind == DropAfter {
		return backends.FileInfo{}, dropped(OpStat, h)
	}
	return fi, nil
}

// errCut stops the wrapped listing when a Truncate fault's objects have
// been reported.
var errCut = errors.New("listing cut")

// List passes the call through unless the plan injects a fault; see Kind
// for what each fault does to a List. An error from fn is returned
// unchanged.
func (b *Backend) List(ctx context.Context, t backends.FileType, fn func(backends.FileInfo) error) error {
	h := backends.Handle{Type: t}
	f, err := b.begin(ctx, OpList, h)
	if err != nil {
		return err
	}
	if f.Kind != Truncate {
		if err := b.be.List(ctx, t, fn); err != nil {
			return err
		}
		if f.Kind == DropAfter {
			return dropped(OpList, h)
		}
		return nil
	}

	reported := 0
	err = b.be.List(ctx, t, func(fi backends.FileInfo) error {
		if reported >= f.Keep {
			return errCut
		}
		reported++
		return fn(fi)
	})
	if err != nil && err != errCut {
		return err
	}
	return fmt.Errorf("list %s: %w: connection dropped after %d objects", t, ErrInjected, reported)
}

// Remove passes the call through unless the plan injects a fault; see
// Kind for what each fault does to a Remove.
func (b *Backend) Remove(ctx context.Context, h backends.Handle) error {
	f, err := b.begin(ctx, OpRemove, h)
	if err != nil {
		return err
	}
	if err := b.be.Remove(ctx, h); err != nil {
		return err
	}
	if f.Kind == DropAfter {
		return dropped(OpRemove, h)
	}
	return nil
}

// Close closes the wrapped backend; no fault is injected.
func (b *Backend) Close() error { return b.be.Close() }
