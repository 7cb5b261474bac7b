package ui

import "sync/atomic"

// Progress counts what an operation has done and how much there is to do.
// Its methods may be called from any goroutine at any time, cost a few
// atomic operations and never block. A nil *Progress ignores every call.
type Progress struct {
	totalFiles atomic.Uint64
	totalBytes atomic.Uint64
	totalKnown atomic.Bool
	filesDone  atomic.Uint64
	bytesDone  atomic.Uint64
	errors     atomic.Uint64
	current    atomic.Pointer[string]
}

// SetTotal records how many files (or packs) and bytes the operation will
// process; until it is called no percentage or ETA is shown.
func (p *Progress) SetTotal(files, bytes uint64) {
	if p == nil {
		return
	}
	p.totalFiles.Store(files)
	p.totalBytes.Store(bytes)
	p.totalKnown.Store(true)
}

// AddFiles counts n more files (or packs) done.
func (p *Progress) AddFiles(n uint64) {
	if p != nil {
		p.filesDone.Add(n)
	}
}

// AddBytes counts n more bytes done.
func (p *Progress) AddBytes(n uint64) {
	if p != nil {
		p.bytesDone.Add(n)
	}
}

// Current names the file (or pack) being worked on; "" clears it.
func (p *Progress) Current(name string) {
	if p == nil {
		return
	}
	if name == "" {
		p.current.Store(nil)
		return
	}
	p.current.Store(&name)
}

// AddError counts one error or warning.
func (p *Progress) AddError() {
	if p != nil {
		p.errors.Add(1)
	}
}

// counts is one consistent-enough reading of the counters.
type counts struct {
	totalFiles, totalBytes uint64
	totalKnown             bool
	filesDone, bytesDone   uint64
	errors                 uint64
	current                string
}

func (p *Progress) read() counts {
	c := counts{
		totalFiles: p.totalFiles.Load(),
		totalBytes: p.totalBytes.Load(),
		totalKnown: p.totalKnown.Load(),
		filesDone:  p.filesDone.Load(),
		bytesDone:  p.bytesDone.Load(),
		errors:     p.errors.Load(),
	}
	if s := p.current.Load(); s != nil {
		c.current = *s
	}
	return c
}
