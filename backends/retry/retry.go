package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/godwit-backup/godwit/backends"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxAttempts  = 6
	DefaultInitialDelay = 500 * time.Millisecond
	DefaultMaxDelay     = 30 * time.Second
)

// Options configures a Backend. The zero value gives the defaults.
type Options struct {
	// MaxAttempts is how many times a call is tried in all, the first
	// attempt included; 1 disables retrying. Zero or less means
	// DefaultMaxAttempts.
	MaxAttempts int

	// InitialDelay is the nominal wait after the first failed attempt; it
	// doubles after each further failure, up to MaxDelay (raised to
	// InitialDelay if lower). The wait actually used is drawn uniformly
	// from [d/2, d] for a nominal wait d, so that clients that failed
	// together do not retry together. Zero or less means
	// DefaultInitialDelay, respectively DefaultMaxDelay.
	InitialDelay time.Duration
	MaxDelay     time.Duration

	// Sleep waits for d, returning early with an error when ctx ends. It
	// may be called from many goroutines at once. Nil means a timer that
	// returns ctx.Err() when ctx ends first.
	Sleep func(ctx context.Context, d time.Duration) error

	// Rand draws the jitter. The Backend serializes its use, so it need
	// not be safe for concurrent use. Nil means the math/rand/v2
	// top-level functions.
	Rand *rand.Rand

	// Notify, if not nil, is called before each wait with the name of the
	// call ("save", "load", "stat", "list" or "remove"), its handle (for
	// List, the listed type and an empty Name), the number of the attempt
	// that failed (from 1), its error and the wait to come. It is called
	// from the goroutine making the call, possibly from many goroutines at
	// once, and must not block for long.
	Notify func(op string, h backends.Handle, attempt int, err error, delay time.Duration)
}

// Backend retries the calls of a wrapped backend that fail with transient
// errors. It is safe for concurrent use by multiple goroutines if the
// wrapped backend is; each call retries on its own goroutine and returns
// only when it has succeeded or given up, so no goroutine outlives a call.
//
// An error that is not retried is returned unchanged. When the attempts
// are used up, the last error is returned with "(gave up after N
// attempts)" added; when the context ends during a wait, the last error
// is returned with the context's error added, and both can be matched with
// errors.Is.
type Backend struct {
	be          backends.Backend
	maxAttempts int
	initial     time.Duration
	maxDelay    time.Duration
	sleep       func(ctx context.Context, d time.Duration) error
	notify      func(op string, h backends.Handle, attempt int, err error, delay time.Duration)

	randMu sync.Mutex
	rand   *rand.Rand // guarded by randMu; nil: top-level functions
}

var _ backends.Backend = (*Backend)(nil)

// New wraps be. Closing the returned Backend closes be.
//
// Save re-sends the same data on each attempt. When a Save that failed
// transiently is retried and the object then already exists, the earlier
// attempt may have stored it before its answer was lost (a local file
// system can fail to sync the directory after the object is in place; an
// S3 response can be lost). Save then reads the object back and reports
// success if it holds exactly data, the error wrapping fs.ErrExist
// otherwise. A Save whose first attempt finds the object present returns
// fs.ErrExist as usual.
//
// Load calls fn again on each attempt, as the backends.Backend contract
// allows. It retries when the wrapped backend fails or when the reader it
// passed to fn failed (fn's error is then returned if no attempt is left);
// an error that fn returns while its reader has not failed is fn's own,
// and is returned unchanged at once. A reader failing with
// io.ErrUnexpectedEOF may mean a range past the end of the object or a
// connection dropped mid-stream; Load asks the wrapped backend's Stat for
// the object's size and returns the error at once only if the object is
// shorter than the range needs, and retries otherwise (also when the Stat
// fails transiently). If the Stat finds the object gone, both errors are
// returned, and the result matches fs.ErrNotExist.
//
// Remove, retried after a failure that may have removed the object,
// reports success when the object is then missing, because the object is
// gone as the caller asked. A Remove whose first attempt finds the object
// missing returns fs.ErrNotExist as usual.
//
// List remembers the names it has passed to fn and, after a transient
// failure part way through, lists again from the start and passes only
// the names not yet seen, so fn is called once per object. It assumes, as
// the backends do, that fn is called from List's goroutine, one object at
// a time. An error from fn is returned unchanged and never retried.
func New(be backends.Backend, opts Options) *Backend {
	b := &Backend{
		be:          be,
		maxAttempts: opts.MaxAttempts,
		initial:     opts.InitialDelay,
		maxDelay:    opts.MaxDelay,
		sleep:       opts.Sleep,
		notify:      opts.Notify,
		rand:        opts.Rand,
	}
	if b.maxAttempts <= 0 {
		b.maxAttempts = DefaultMaxAttempts
	}
	if b.initial <= 0 {
		b.initial = DefaultInitialDelay
	}
	if b.maxDelay <= 0 {
		b.maxDelay = DefaultMaxDelay
	}
	b.maxDelay = max(b.maxDelay, b.initial)
	if b.sleep == nil {
		b.sleep = sleep
	}
	return b
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// transient reports whether err may go away if the call is repeated.
func transient(err error) bool {
	for _, target := range []error{
		context.Canceled, context.DeadlineExceeded,
		fs.ErrNotExist, fs.ErrExist, fs.ErrPermission,
		backends.ErrPermanent,
	} {
		if errors.Is(err, target) {
			return false
		}
	}
	return true
}

// delay returns the wait after the given failed attempt (from 1).
func (b *Backend) delay(attempt int) time.Duration {
	d := b.initial
	for i := 1; i < attempt && d < b.maxDelay; i++ {
		if d > b.maxDelay/2 {
			d = b.maxDelay
			break
		}
		d *= 2
	}
	half := d / 2
	n := int64(d-half) + 1
	b.randMu.Lock()
	defer b.randMu.Unlock()
	if b.rand != nil {
		return half + time.Duration(b.rand.Int64N(n))
	}
	return half + time.Duration(rand.Int64N(n))
}

// do calls attempt until it succeeds, says not to retry, the context ends
// or the attempts are used up.
func (b *Backend) do(ctx context.Context, op string, h backends.Handle, attempt func() (retry bool, err error)) error {
	for n := 1; ; n++ {
		again, err := attempt()
		if err == nil || !again {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			if errors.Is(err, cerr) {
				return err
			}
			return fmt.Errorf("%w (%w)", err, cerr)
		}
		if n >= b.maxAttempts {
			if n == 1 {
				return err
			}
			return fmt.Errorf("%w (gave up after %d attempts)", err, n)
		}
		d := b.delay(n)
		if b.notify != nil {
			b.notify(op, h, n, err, d)
		}
		if serr := b.sleep(ctx, d); serr != nil {
			return fmt.Errorf("%w (retry abandoned: %w)", err, serr)
		}
	}
}

// Location returns the wrapped backend's location.
func (b *Backend) Location() string { return b.be.Location() }

// Save stores data under h, retrying transient failures; see New for how
// a retry that finds the object already stored is resolved.
func (b *Backend) Save(ctx context.Context, h backends.Handle, data []byte) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	ambiguous := false // an earlier attempt may have stored the object
	return b.do(ctx, "save", h, func() (bool, error) {
		err := b.be.Save(ctx, h, data)
		switch {
		case err == nil:
			return false, nil
		case ambiguous && errors.Is(err, fs.ErrExist):
			same, lerr := b.holds(ctx, h, data)
			if lerr != nil {
				// Unresolved: the error must not match fs.ErrExist.
				return transient(lerr) || backends.IsNotExist(lerr),
					fmt.Errorf("%v; reading it back: %w", err, lerr)
			}
			if same {
				return false, nil
			}
			return false, err
		case !transient(err):
			return false, err
		}
		ambiguous = true
		return true, err
	})
}

// holds reports whether the stored object h consists of exactly data.
func (b *Backend) holds(ctx context.Context, h backends.Handle, data []byte) (bool, error) {
	var same bool
	err := b.be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		var err error
		same, err = equalContent(rd, data)
		return err
	})
	return same, err
}

// equalContent reads rd until it differs from want or ends, and reports
// whether it held exactly want. Only io.EOF counts as the end.
func equalContent(rd io.Reader, want []byte) (bool, error) {
	buf := make([]byte, 32<<10)
	for {
		n, err := rd.Read(buf)
		if n > len(want) || !bytes.Equal(buf[:n], want[:n]) {
			return false, nil
		}
		want = want[n:]
		if err == io.EOF {
			return len(want) == 0, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// watchedReader remembers the first error other than io.EOF that its
// reader returned.
type watchedReader struct {
	r   io.Reader
	err error
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err != nil && err != io.EOF && w.err == nil {
		w.err = err
	}
	return n, err
}

// Load calls fn with a reader over the range of h, retrying transient
// failures of the backend or of the reader; see New for which failures
// those are. fn may be called more than once and must be idempotent.
func (b *Backend) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if length < 0 || offset < 0 {
		return fmt.Errorf("load %s: invalid range: offset %d, length %d", h, offset, length)
	}
	return b.do(ctx, "load", h, func() (bool, error) {
		var rd *watchedReader
		var fnErr error
		err := b.be.Load(ctx, h, length, offset, func(r io.Reader) error {
			rd = &watchedReader{r: r}
			fnErr = fn(rd)
			return fnErr
		})
		if err == nil {
			return false, nil
		}
		cause := err
		if fnErr != nil {
			if rd.err == nil {
				return false, err // fn's own error
			}
			cause = rd.err
		}
		if !transient(cause) {
			return false, err
		}
		if errors.Is(cause, io.ErrUnexpectedEOF) {
			past, serr := b.pastEnd(ctx, h, length, offset)
			switch {
			case past:
				return false, err
			case backends.IsNotExist(serr):
				return false, fmt.Errorf("%w; %w", err, serr)
			}
		}
		return true, err
	})
}

// pastEnd reports whether the range extends past the end of h.
func (b *Backend) pastEnd(ctx context.Context, h backends.Handle, length int, offset int64) (bool, error) {
	fi, err := b.be.Stat(ctx, h)
	if err != nil {
		return false, err
	}
	return offset+int64(length) > fi.Size, nil
}

// Stat returns the size of h, retrying transient failures.
func (b *Backend) Stat(ctx context.Context, h backends.Handle) (backends.FileInfo, error) {
	if err := h.Valid(); err != nil {
		return backends.FileInfo{}, fmt.Errorf("stat: %w", err)
	}
	var fi backends.FileInfo
	err := b.do(ctx, "stat", h, func() (bool, error) {
		var err error
		fi, err = b.be.Stat(ctx, h)
		return transient(err), err
	})
	if err != nil {
		return backends.FileInfo{}, err
	}
	return fi, nil
}

// List calls fn once for every object of type t, retrying transient
// failures; see New.
func (b *Backend) List(ctx context.Context, t backends.FileType, fn func(backends.FileInfo) error) error {
	if !slices.Contains(backends.AllTypes, t) {
		return fmt.Errorf("list: invalid file type %q", t)
	}
	seen := make(map[string]struct{})
	return b.do(ctx, "list", backends.Handle{Type: t}, func() (bool, error) {
		fnFailed := false
		err := b.be.List(ctx, t, func(fi backends.FileInfo) error {
			if _, dup := seen[fi.Name]; dup {
				return nil
			}
			if err := fn(fi); err != nil {
				fnFailed = true
				return err
			}
			seen[fi.Name] = struct{}{}
			return nil
		})
		if err == nil || fnFailed {
			return false, err
		}
		return transient(err), err
	})
}

// Remove deletes h, retrying transient failures; see New for how a retry
// that finds the object gone is resolved.
func (b *Backend) Remove(ctx context.Context, h backends.Handle) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	ambiguous := false // an earlier attempt may have removed the object
	return b.do(ctx, "remove", h, func() (bool, error) {
		err := b.be.Remove(ctx, h)
		switch {
		case err == nil:
			return false, nil
		case ambiguous && backends.IsNotExist(err):
			return false, nil
		case !transient(err):
			return false, err
		}
		ambiguous = true
		return true, err
	})
}

// Close closes the wrapped backend; it is not retried.
func (b *Backend) Close() error { return b.be.Close() }
