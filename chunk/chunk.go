package chunk

import (
	"errors"
	"fmt"
	"io"

	"github.com/restic/chunker"
)

// Default chunk sizes, used by every repository of format version 1;
// these are what a zero Options means.
const (
	DefaultMinSize     = 512 << 10 // 512 KiB
	DefaultMaxSize     = 8 << 20   // 8 MiB
	DefaultAverageBits = 20        // 2^20 bytes: 1 MiB on average
)

// Limits on Options, beyond which the Rabin fingerprint cannot work or chunks
// would no longer fit the repository's packs.
const (
	windowSize     = 64 // the chunker's sliding window; MinSize must cover it
	maxMaxSize     = 64 << 20
	minAverageBits = 1
	maxAverageBits = 30
	polynomialDeg  = 53
)

// Options sets the chunk sizes. The zero value of each field selects its
// default, so Options{} gives 512 KiB / 1 MiB / 8 MiB chunks.
type Options struct {
	MinSize     uint // smallest chunk except the last of an input; at least 64
	MaxSize     uint // largest chunk; at least MinSize, at most 64 MiB
	AverageBits int  // a cut is found every 2^AverageBits bytes on average; 1 to 30
}

// withDefaults returns o with zero fields replaced by their defaults.
func (o Options) withDefaults() Options {
	if o.MinSize == 0 {
		o.MinSize = DefaultMinSize
	}
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.AverageBits == 0 {
		o.AverageBits = DefaultAverageBits
	}
	return o
}

// check reports whether o, with defaults applied, is usable.
func (o Options) check() error {
	switch {
	case o.MinSize < windowSize:
		return fmt.Errorf("chunk: minimum size %d is below %d bytes", o.MinSize, windowSize)
	case o.MaxSize < o.MinSize:
		return fmt.Errorf("chunk: maximum size %d is below minimum size %d", o.MaxSize, o.MinSize)
	case o.MaxSize > maxMaxSize:
		return fmt.Errorf("chunk: maximum size %d exceeds %d bytes", o.MaxSize, maxMaxSize)
	case o.AverageBits < minAverageBits || o.AverageBits > maxAverageBits:
		return fmt.Errorf("chunk: average bits %d outside %d..%d", o.AverageBits, minAverageBits, maxAverageBits)
	}
	return nil
}

// CheckPolynomial reports whether pol can be a chunker polynomial: an
// irreducible polynomial of degree 53 over GF(2), as RandomPolynomial
// returns. Repositories call it when loading their config.
func CheckPolynomial(pol uint64) error {
	p := chunker.Pol(pol)
	if p.Deg() != polynomialDeg {
		return fmt.Errorf("chunk: polynomial has degree %d, want %d", p.Deg(), polynomialDeg)
	}
	if !p.Irreducible() {
		return errors.New("chunk: polynomial is not irreducible")
	}
	return nil
}

// RandomPolynomial returns a new random irreducible polynomial of degree 53,
// drawn from the system's cryptographic random source. Each repository gets
// one at init and keeps it secret.
func RandomPolynomial() (uint64, error) {
	p, err := chunker.RandomPolynomial()
	if err != nil {
		return 0, fmt.Errorf("chunk: %w", err)
	}
	return uint64(p), nil
}

var errNoInput = errors.New("chunk: Next called before Reset")

// Chunker splits a stream into content-defined chunks. Create one with New,
// give it an input with Reset and call Next until it returns io.EOF; Reset
// may then start another input, keeping the same polynomial and sizes.
//
// A Chunker is not safe for concurrent use; use one per goroutine. It keeps
// a 512 KiB read buffer, so reusing one across inputs saves allocations.
type Chunker struct {
	pol    chunker.Pol
	opts   Options
	cfgErr error            // invalid polynomial or options; permanent
	err    error            // read error of the current input; cleared by Reset
	rabin  *chunker.Chunker // nil until the first Reset
}

// New returns a Chunker for the polynomial pol and the sizes in opts (zero
// fields mean the defaults). If pol or opts are invalid, every call to Next
// returns an error saying why; CheckPolynomial lets callers find out
// earlier.
func New(pol uint64, opts Options) *Chunker {
	c := &Chunker{pol: chunker.Pol(pol), opts: opts.withDefaults()}
	if err := CheckPolynomial(pol); err != nil {
		c.cfgErr = err
	} else if err := c.opts.check(); err != nil {
		c.cfgErr = err
	}
	return c
}

// Format prints the Chunker's sizes but never its polynomial, which is a
// repository secret, whatever the verb.
func (c Chunker) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "chunk.Chunker{MinSize: %d, MaxSize: %d, AverageBits: %d, polynomial: redacted}",
		c.opts.MinSize, c.opts.MaxSize, c.opts.AverageBits)
}

// MaxSize returns the largest chunk Next can return: the capacity the
// buffer passed to Next should have.
func (c *Chunker) MaxSize() int { return int(c.opts.MaxSize) }

// Reset starts a new input read from r, discarding whatever remained of the
// previous one. The Chunker reads r in blocks of up to 512 KiB and may read
// ahead of the chunk it returns; it never closes r.
func (c *Chunker) Reset(r io.Reader) {
	c.err = nil
	if c.cfgErr != nil {
		return
	}
	if c.rabin == nil {
		c.rabin = chunker.NewWithBoundaries(r, c.pol, c.opts.MinSize, c.opts.MaxSize)
	} else {
		c.rabin.ResetWithBoundaries(r, c.pol, c.opts.MinSize, c.opts.MaxSize)
	}
	// The chunker's resets restore its default average; set ours each time.
	c.rabin.SetAverageBits(c.opts.AverageBits)
}

// Next returns the next chunk of the input. The returned slice aliases buf
// (the caller copies it if it keeps it past the next call); buf should have
// capacity MaxSize, or Next allocates a larger one. After the last chunk,
// Next returns (nil, io.EOF), and keeps doing so until Reset.
//
// An empty input has no chunks: the first call returns io.EOF. An error
// reading the input is returned wrapped, and again by every later call until
// Reset; the chunk being assembled is lost.
func (c *Chunker) Next(buf []byte) ([]byte, error) {
	switch {
	case c.cfgErr != nil:
		return nil, c.cfgErr
	case c.err != nil:
		return nil, c.err
	case c.rabin == nil:
		return nil, errNoInput
	}
	ch, err := c.rabin.Next(buf)
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		c.err = fmt.Errorf("chunk: %w", err)
		return nil, c.err
	}
	return ch.Data, nil
}
