package chunk

import (
	"bytes"
	"fmt"
	"io"
)

// Kind says how a MailChunker reads its input: as opaque bytes, as an mbox
// spool, or as one RFC 5322 message (a Maildir file). Callers choose it with
// Detect or from the path; a wrong choice costs deduplication, never data.
type Kind int

const (
	Plain   Kind = iota // no structure: cut exactly like Chunker
	Mbox                // a sequence of messages, each starting with a "From " line
	Message             // one message: header, blank line, body
)

// String returns "plain", "mbox" or "message".
func (k Kind) String() string {
	switch k {
	case Plain:
		return "plain"
	case Mbox:
		return "mbox"
	case Message:
		return "message"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Limits of the mail-aware splitter. They are part of the repository
// format: changing any of them moves cut points.
const (
	// LargePart is the smallest body of a leaf MIME entity that is cut out
	// of its message into chunks of its own.
	LargePart = 64 << 10

	mailMaxLine     = 8 << 10  // longer lines are read in pieces that carry no structure
	mailMaxHeader   = 1 << 20  // a longer header block makes the rest of its entity opaque
	mailMaxBoundary = 200      // longer multipart boundaries are ignored (RFC 2046 allows 70)
	mailMaxDepth    = 16       // deeper multipart nesting is ignored
	mailDetectLimit = 4 << 10  // bytes of the head Detect reads
	mailBatch       = 64 << 10 // bytes the splitter classifies ahead of its reader per Read
	mailBufSize     = mailBatch + LargePart + 2*mailMaxLine
)

// Detect guesses the Kind of a file from its first bytes (a few KiB are
// enough; Detect reads at most 4 KiB of head).
//
// It returns Mbox when head starts with a plausible mbox separator line:
// "From ", a sender with no white space, a space, and a rest containing a
// digit (the date), ended by a newline within the 4 KiB. It returns Message
// when head starts with RFC 5322 header fields ("Name: value" lines, where
// Name is printable ASCII without colon or space, and folded continuation
// lines) up to a blank line or the end of the 4 KiB, and one of the fields
// is From, To, Subject, Received, Message-ID, Date, Return-Path or
// MIME-Version (case-insensitive). Anything else is Plain.
func Detect(head []byte) Kind {
	if len(head) > mailDetectLimit {
		head = head[:mailDetectLimit]
	}
	if plausibleFromLine(head) {
		return Mbox
	}
	if looksLikeHeader(head) {
		return Message
	}
	return Plain
}

// plausibleFromLine reports whether head starts with an mbox "From " line.
func plausibleFromLine(head []byte) bool {
	rest, ok := bytes.CutPrefix(head, []byte("From "))
	if !ok {
		return false
	}
	nl := bytes.IndexByte(rest, '\n')
	if nl < 0 {
		return false
	}
	line := bytes.TrimRight(rest[:nl], "\r")
	sender, date, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(sender) == 0 || bytes.ContainsAny(sender, "\t") {
		return false
	}
	return bytes.ContainsAny(date, "0123456789")
}

// mailFields are the header fields of which Detect wants at least one.
var mailFields = []string{"from", "to", "subject", "received", "message-id", "date", "return-path", "mime-version"}

// looksLikeHeader reports whether head starts with a header block that
// names at least one of mailFields.
func looksLikeHeader(head []byte) bool {
	known, fields := false, 0
	for len(head) > 0 {
		nl := bytes.IndexByte(head, '\n')
		if nl < 0 {
			break // a line cut off by the end of head says nothing
		}
		line := bytes.TrimSuffix(head[:nl], []byte("\r"))
		head = head[nl+1:]
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if fields == 0 {
				return false
			}
			continue
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok || !fieldName(name) {
			return false
		}
		fields++
		for _, f := range mailFields {
			if bytes.EqualFold(name, []byte(f)) {
				known = true
			}
		}
	}
	return known
}

// fieldName reports whether name is an RFC 5322 field name.
func fieldName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// MailChunker splits mail into chunks whose boundaries follow the
// structure of the mail, so that messages and large attachments
// deduplicate wherever they recur. Create one with NewMail and use it like
// Chunker: Reset, then Next until io.EOF. A MailChunker is not safe for
// concurrent use; reusing one across inputs saves allocations.
//
// # Cut rules
//
// These rules are part of the repository format and frozen by tests. The
// input is divided into regions at cut points; each region is then split by
// the content-defined chunker exactly as Chunker splits a whole input of
// the same bytes (the Rabin state restarts at each region, so a region's
// chunks depend only on its bytes; a region shorter than the minimum size is
// one chunk, and no chunk exceeds the maximum size). Cut points are always
// at the start of a line, and a cut never makes an empty region. The input
// is read as lines ending in LF (a CR before it is part of the line); a line
// longer than 8 KiB is read in 8 KiB pieces, and only the first piece is a
// line start that can carry structure.
//
// Plain: no cut points; the chunks are those of Chunker.
//
// Mbox: every line that starts with "From " (at offset 0 or after a LF)
// begins a new message and is a cut point. mboxrd and mboxo writers quote
// such lines inside messages as ">From ", and base64 never contains a space,
// so the cut cannot fall inside an attachment. Every message boundary is a
// cut point, however small the message: merging small messages into one
// region would make a message's chunks depend on its neighbours, and then
// deleting or expunging one message would re-upload the messages around
// it. Small messages cost index entries instead (about 48 bytes each in
// memory) and are grouped into shared compression frames by the packer.
// On the mbox spools of the mailgen benchmark corpus (1,178 messages of
// 60 KB on average in 71 MB) this gives about 20,800 chunks per GiB,
// against about 1,050 for plain chunking: some 1 MiB of index memory per
// GiB of mbox. Over the whole corpus (Maildir and mbox, 336 MB), the bytes
// of distinct chunks drop from 256 MB with plain chunking to 83 MB, as
// recurring attachments are stored once. After its "From " line each
// message is parsed as a Message; text before the first "From " line is
// parsed as a Message too.
//
// Message: a MIME entity is a header block (every line up to the first
// empty line, "\n" or "\r\n"; lines starting with a space or tab continue
// the previous field) followed by a body. Only the first Content-Type field
// counts (field name case-insensitive); it is parsed as a media type and
// parameters, with case-insensitive names and token or quoted-string
// values (backslash escapes resolved; no comments, no RFC 2231). The body
// of an entity is:
//   - for multipart/* with a boundary parameter of 1 to 200 bytes, nested
//     at most 16 deep: a preamble, then parts, each an entity, delimited by
//     lines "--boundary", optionally followed by "--" (the closing
//     delimiter), then only spaces, tabs, CR and LF. Delimiter lines are
//     matched against the innermost multipart first; a delimiter line of an
//     enclosing multipart also ends every multipart nested inside it. Text
//     after the closing delimiter (the epilogue) has no structure.
//   - for message/rfc822 or message/global: an entity again (a forwarded
//     message).
//   - for any other type, for no Content-Type, and for a Content-Type
//     field longer than 8 KiB or a multipart without a usable boundary: a
//     leaf body. (multipart/digest parts without a Content-Type are leaves
//     too, not messages.)
//
// A leaf body ends where the first line that ends its entity begins: a
// delimiter line of any enclosing multipart, a "From " line in an mbox, or
// the end of input. A leaf body of LargePart (64 KiB) or more, counted from
// its first byte to the start of that line, is its own region: both its
// start and its end are cut points. The line break before a delimiter line
// therefore belongs to the body region, so the same base64 attachment with
// the same line wrapping yields the same chunks in every message, mailbox
// or forward it appears in, whatever the line endings around it.
//
// A header block longer than 1 MiB makes the rest of its entity, up to the
// line that ends it, text without structure. Delimiter lines of enclosing
// multiparts and, in an mbox, "From " lines are recognised everywhere,
// inside header blocks, preambles and epilogues too, and end the entity
// they interrupt.
//
// # Resources
//
// The splitter reads forward only and holds a 144 KiB look-ahead buffer,
// besides the Rabin chunker's own 512 KiB buffer and the caller's buffer.
// Malformed input never fails: it only loses mail-aware cut points.
type MailChunker struct {
	cdc      *Chunker
	split    splitter
	plain    bool
	inRegion bool
	started  bool
	err      error // read error of the current input; cleared by Reset
}

// NewMail returns a MailChunker for the polynomial pol and the sizes in opts
// (zero fields mean the defaults), with the same validation as New: if pol
// or opts are invalid, every call to Next returns an error saying why.
func NewMail(pol uint64, opts Options) *MailChunker {
	return &MailChunker{cdc: New(pol, opts)}
}

// Format prints the MailChunker's sizes but never its polynomial, which is
// a repository secret, whatever the verb.
func (m MailChunker) Format(f fmt.State, verb rune) {
	o := m.cdc.opts
	fmt.Fprintf(f, "chunk.MailChunker{MinSize: %d, MaxSize: %d, AverageBits: %d, polynomial: redacted}",
		o.MinSize, o.MaxSize, o.AverageBits)
}

// MaxSize returns the largest chunk Next can return: the capacity the
// buffer passed to Next should have.
func (m *MailChunker) MaxSize() int { return m.cdc.MaxSize() }

// Reset starts a new input read from r as content of the given kind,
// discarding whatever remained of the previous one. The MailChunker reads
// ahead of the chunk it returns and never closes r. An unknown kind is
// treated as Plain.
func (m *MailChunker) Reset(r io.Reader, kind Kind) {
	m.err = nil
	m.started = true
	m.plain = kind != Mbox && kind != Message
	if m.plain {
		m.cdc.Reset(r)
		m.inRegion = true
		return
	}
	m.split.reset(r, kind == Mbox)
	m.inRegion = false
}

// Next returns the next chunk of the input. The returned slice aliases buf
// (the caller copies it if it keeps it past the next call); buf should have
// capacity MaxSize, or Next allocates a larger one. After the last chunk,
// Next returns (nil, io.EOF), and keeps doing so until Reset.
//
// An empty input has no chunks. An error reading the input is returned
// wrapped, and again by every later call until Reset; the chunk being
// assembled is lost.
func (m *MailChunker) Next(buf []byte) ([]byte, error) {
	switch {
	case m.cdc.cfgErr != nil:
		return nil, m.cdc.cfgErr
	case m.err != nil:
		return nil, m.err
	case !m.started:
		return nil, errNoInput
	}
	for {
		if m.inRegion {
			ch, err := m.cdc.Next(buf)
			if err == nil {
				return ch, nil
			}
			if err != io.EOF {
				m.err = err
				return nil, err
			}
			if m.plain {
				return nil, io.EOF
			}
			m.inRegion = false
		}
		if !m.split.nextRegion() {
			return nil, io.EOF
		}
		m.cdc.Reset(&m.split)
		m.inRegion = true
	}
}

// Parser states of the splitter.
type mailState uint8

const (
	stHeader    mailState = iota // in the header block of an entity
	stBodyStart                  // at the first line of a leaf body, size not yet known
	stText                       // in text without cut points: preamble, epilogue, small or opaque body
	stLargeBody                  // in a leaf body of at least LargePart bytes
)

// splitter parses mail ahead of the chunker and serves as its reader: Read
// returns the bytes of the current region, then io.EOF at the region's end.
// The parser runs ahead of Read by up to mailBatch bytes; it decides cuts
// only at its own position, s.safe, and stops there when it cuts, so the
// region ends once Read has returned the bytes before s.safe.
type splitter struct {
	r    io.Reader
	mbox bool

	buf    []byte // buf[lo:hi] is input read but not yet returned by Read
	lo, hi int
	safe   int // buf[lo:safe] has been parsed and may be returned
	eof    bool
	err    error // read error; returned once the data before it is used up

	region int  // bytes returned in the current region
	cut    bool // the current region ends at safe
	ended  bool // the current region ended at the end of input

	st      mailState
	midLine bool     // safe is inside a line longer than mailMaxLine
	bounds  [][]byte // delimiters ("--" + boundary) of the enclosing multiparts, outermost first
	hdrLen  int      // bytes of the current header block
	ctype   []byte   // value of the entity's first Content-Type field
	inCtype bool     // the last header line was the Content-Type field
	ctSeen  bool     // a Content-Type field was seen in this header
	ctBad   bool     // the Content-Type field was too long to use
}

func (s *splitter) reset(r io.Reader, mbox bool) {
	if s.buf == nil {
		s.buf = make([]byte, mailBufSize)
	}
	*s = splitter{r: r, mbox: mbox, buf: s.buf, bounds: s.bounds[:0], ctype: s.ctype[:0]}
	s.resetHeader()
}

func (s *splitter) resetHeader() {
	s.st = stHeader
	s.hdrLen = 0
	s.ctype = s.ctype[:0]
	s.inCtype, s.ctSeen, s.ctBad = false, false, false
}

// nextRegion starts the next region and reports whether there is one.
func (s *splitter) nextRegion() bool {
	if s.ended {
		return false
	}
	s.cut = false
	s.region = 0
	return true
}

// Read implements io.Reader for the chunker: it returns bytes of the
// current region, and io.EOF at its end. It parses up to mailBatch bytes
// ahead per call, so the chunker's reads are served in large pieces.
func (s *splitter) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	want := min(len(p), mailBatch)
	for s.safe-s.lo < want && !s.cut && !s.ended {
		if err := s.step(); err == io.EOF {
			s.ended = true
		} else if err != nil {
			if s.lo < s.safe {
				break // hand out what was parsed; the error comes next time
			}
			return 0, err
		}
	}
	if s.lo == s.safe {
		return 0, io.EOF
	}
	n := copy(p, s.buf[s.lo:s.safe])
	s.lo += n
	s.region += n
	return n, nil
}

// fill reads more input after buf[hi], compacting the buffer first if the
// look-ahead from safe might not fit.
func (s *splitter) fill() {
	if s.eof || s.err != nil {
		return
	}
	for range 100 {
		n, err := s.r.Read(s.buf[s.hi:])
		s.hi += n
		if err == io.EOF {
			s.eof = true
			return
		}
		if err != nil {
			s.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	s.err = io.ErrNoProgress
}

// compact moves buf[lo:hi] to the start of buf, so that the look-ahead of a
// step fits behind safe.
func (s *splitter) compact() {
	if len(s.buf)-s.safe >= LargePart+2*mailMaxLine {
		return
	}
	n := copy(s.buf, s.buf[s.lo:s.hi])
	s.safe -= s.lo
	s.hi = n
	s.lo = 0
}

// line returns the line starting at buf[i]: up to and including its LF, or
// mailMaxLine bytes when no LF comes within them (complete is then false),
// or what remains before the end of input. An empty line means the end of
// input; an error is a read error.
func (s *splitter) line(i int) (line []byte, complete bool, err error) {
	for {
		end := min(s.hi, i+mailMaxLine)
		if j := bytes.IndexByte(s.buf[i:end], '\n'); j >= 0 {
			return s.buf[i : i+j+1], true, nil
		}
		if end-i >= mailMaxLine {
			return s.buf[i:end], false, nil
		}
		if s.eof {
			return s.buf[i:s.hi], true, nil
		}
		if s.err != nil {
			return nil, false, s.err
		}
		s.fill()
	}
}

// step parses at safe: it either moves safe forward, or ends the region at
// safe (s.cut), or changes state without reading. It returns io.EOF at the
// end of input.
func (s *splitter) step() error {
	s.compact()
	if s.st == stBodyStart {
		end, large, err := s.bodyEnd()
		if err != nil {
			return err
		}
		if !large {
			s.safe = end
			s.st = stText
			return nil
		}
		s.st = stLargeBody
		if s.regionStarted() {
			s.cut = true
		}
		return nil
	}

	line, complete, err := s.line(s.safe)
	if err != nil {
		return err
	}
	if len(line) == 0 {
		return io.EOF
	}
	if s.midLine {
		s.midLine = !complete
		s.safe += len(line)
		if s.st == stHeader {
			if s.inCtype {
				s.ctBad = true // a Content-Type line longer than mailMaxLine
			}
			s.countHeader(len(line))
		}
		return nil
	}

	if s.mbox && bytes.HasPrefix(line, []byte("From ")) {
		if s.regionStarted() {
			s.cut = true
			return nil
		}
		s.bounds = s.bounds[:0]
		s.resetHeader()
		s.advance(line, complete)
		return nil
	}
	if depth, closing, ok := s.delimiter(line); ok {
		if s.st == stLargeBody && s.regionStarted() {
			s.cut = true
			return nil
		}
		s.bounds = s.bounds[:depth+1]
		if closing {
			s.bounds = s.bounds[:depth]
			s.st = stText
		} else {
			s.resetHeader()
		}
		s.advance(line, complete)
		return nil
	}

	s.advance(line, complete)
	if s.st != stHeader {
		return nil
	}
	if isBlankLine(line) {
		s.endHeader()
		return nil
	}
	if line[0] == ' ' || line[0] == '\t' {
		if s.inCtype {
			s.appendCtype(line, complete)
		}
	} else {
		s.inCtype = false
		if v, ok := cutPrefixFold(line, "content-type:"); ok && !s.ctSeen {
			s.ctSeen, s.inCtype = true, true
			s.appendCtype(v, complete)
		}
	}
	s.countHeader(len(line))
	return nil
}

// regionStarted reports whether the current region has any bytes before
// safe, so that a cut at safe would not make an empty region.
func (s *splitter) regionStarted() bool { return s.region > 0 || s.lo < s.safe }

func (s *splitter) advance(line []byte, complete bool) {
	s.safe += len(line)
	s.midLine = !complete
}

func (s *splitter) appendCtype(v []byte, complete bool) {
	if !complete || len(s.ctype)+len(v) > mailMaxLine {
		s.ctBad = true
		return
	}
	s.ctype = append(s.ctype, v...)
}

// countHeader adds n bytes to the header block and gives up on it when it
// grows too large.
func (s *splitter) countHeader(n int) {
	s.hdrLen += n
	if s.hdrLen > mailMaxHeader {
		s.st = stText
	}
}

// endHeader decides, at the blank line ending a header block, what the body
// of the entity is.
func (s *splitter) endHeader() {
	if s.ctBad || !s.ctSeen {
		s.st = stBodyStart
		return
	}
	multipart, message, boundary := parseContentType(s.ctype)
	switch {
	case multipart && len(boundary) > 0 && len(boundary) <= mailMaxBoundary && len(s.bounds) < mailMaxDepth:
		var d []byte // reuse the storage of a delimiter popped earlier
		if len(s.bounds) < cap(s.bounds) {
			d = s.bounds[:len(s.bounds)+1][len(s.bounds)][:0]
		}
		d = append(append(d, "--"...), boundary...)
		s.bounds = append(s.bounds, d)
		s.st = stText
	case message:
		s.resetHeader()
	default:
		s.st = stBodyStart
	}
}

// bodyEnd looks ahead from safe, the start of a leaf body, for the line
// that ends the body. It returns the offset of that line when it starts
// less than LargePart bytes ahead, and large otherwise.
func (s *splitter) bodyEnd() (end int, large bool, err error) {
	i, mid := s.safe, false
	for i-s.safe < LargePart {
		line, complete, err := s.line(i)
		if err != nil {
			return 0, false, err
		}
		if len(line) == 0 || (!mid && s.endsEntity(line)) {
			return i, false, nil
		}
		i += len(line)
		mid = !complete
	}
	return 0, true, nil
}

// endsEntity reports whether a line ends the current leaf body.
func (s *splitter) endsEntity(line []byte) bool {
	if s.mbox && bytes.HasPrefix(line, []byte("From ")) {
		return true
	}
	_, _, ok := s.delimiter(line)
	return ok
}

// delimiter reports whether line is a delimiter line of an enclosing
// multipart, which one (an index into s.bounds, innermost checked first),
// and whether it closes it.
func (s *splitter) delimiter(line []byte) (depth int, closing, ok bool) {
	if len(line) < 3 || line[0] != '-' || line[1] != '-' {
		return 0, false, false
	}
	for i := len(s.bounds) - 1; i >= 0; i-- {
		rest, found := bytes.CutPrefix(line, s.bounds[i])
		if !found {
			continue
		}
		rest, closing = bytes.CutPrefix(rest, []byte("--"))
		if len(bytes.TrimLeft(rest, " \t\r\n")) == 0 {
			return i, closing, true
		}
	}
	return 0, false, false
}

// isBlankLine reports whether line is "\n" or "\r\n".
func isBlankLine(line []byte) bool {
	return string(line) == "\n" || string(line) == "\r\n"
}

// cutPrefixFold is bytes.CutPrefix with an ASCII case-insensitive prefix.
func cutPrefixFold(s []byte, prefix string) ([]byte, bool) {
	if len(s) < len(prefix) || !bytes.EqualFold(s[:len(prefix)], []byte(prefix)) {
		return s, false
	}
	return s[len(prefix):], true
}

// parseContentType reads a Content-Type field value (with folding line
// breaks): whether the media type is multipart/*, whether it is an
// encapsulated message, and the boundary parameter, empty if absent or
// malformed. It is deliberately small and frozen, since cut points depend
// on it.
func parseContentType(v []byte) (multipart, message bool, boundary []byte) {
	v = trimSpace(v)
	typ, params, _ := bytes.Cut(v, []byte(";"))
	typ = trimSpace(typ)
	multipart = len(typ) > len("multipart/") && bytes.EqualFold(typ[:len("multipart/")], []byte("multipart/"))
	message = bytes.EqualFold(typ, []byte("message/rfc822")) || bytes.EqualFold(typ, []byte("message/global"))
	for len(params) > 0 {
		params = trimSpace(params)
		eq := bytes.IndexAny(params, "=;")
		if eq < 0 || params[eq] == ';' {
			if eq < 0 {
				return multipart, message, nil
			}
			params = params[eq+1:]
			continue
		}
		name := trimSpace(params[:eq])
		params = trimSpace(params[eq+1:])
		var value []byte
		if len(params) > 0 && params[0] == '"' {
			var ok bool
			value, params, ok = quotedString(params[1:])
			if !ok {
				return multipart, message, nil
			}
		} else {
			end := bytes.IndexAny(params, "; \t\r\n")
			if end < 0 {
				end = len(params)
			}
			value, params = params[:end], params[end:]
		}
		if bytes.EqualFold(name, []byte("boundary")) {
			return multipart, message, value
		}
		if i := bytes.IndexByte(params, ';'); i >= 0 {
			params = params[i+1:]
		} else {
			params = nil
		}
	}
	return multipart, message, nil
}

// quotedString reads the rest of a quoted string after its opening quote,
// resolving backslash escapes; it returns the value and what follows the
// closing quote.
func quotedString(s []byte) (value, rest []byte, ok bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			return value, s[i+1:], true
		case '\\':
			i++
			if i == len(s) {
				return nil, nil, false
			}
		}
		value = append(value, s[i])
	}
	return nil, nil, false
}

func trimSpace(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }
