package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Maildir++ folders every Maildir user has; list posts go to .INBOX.lists.
var maildirFolders = []string{"", ".Sent", ".Trash", ".Drafts", ".Archive", ".INBOX.lists"}

// mailEntry is one message file of a Maildir folder, as dovecot indexes it.
type mailEntry struct {
	uid   uint32
	base  string // file name without the ":2,flags" info
	flags string
	isNew bool
	size  int
}

// maildirName builds a dovecot-style file name base:
// <time>.M<usec>P<pid>Q<seq>.<host>,S=<size>,W=<size with CRLF>.
func maildirName(host string, date int64, seed uint64, seq int, msg []byte) string {
	lines := bytes.Count(msg, []byte("\n"))
	return fmt.Sprintf("%d.M%dP%dQ%d.%s,S=%d,W=%d", date, seed%1000000, 1000+(seed>>20)%60000, seq, host, len(msg), len(msg)+lines)
}

// parseMaildirName splits a file name into base and flags and reads the
// delivery time and size the base carries.
func parseMaildirName(name string) (base, flags string, date int64, size int) {
	base, flags, _ = strings.Cut(name, ":2,")
	if i := strings.IndexByte(base, '.'); i > 0 {
		date, _ = strconv.ParseInt(base[:i], 10, 64)
	}
	if i := strings.Index(base, ",S="); i >= 0 {
		rest := base[i+3:]
		if j := strings.IndexByte(rest, ','); j >= 0 {
			rest = rest[:j]
		}
		size, _ = strconv.Atoi(rest)
	}
	return base, flags, date, size
}

func (e mailEntry) fileName() string {
	if e.isNew {
		return e.base
	}
	return e.base + ":2," + e.flags
}

func (e mailEntry) path(folder string) string {
	if e.isNew {
		return filepath.Join(folder, "new", e.fileName())
	}
	return filepath.Join(folder, "cur", e.fileName())
}

func makeFolder(dir string) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	return nil
}

// writeMailFile writes a message file with its delivery time as mtime.
func writeMailFile(path string, msg []byte, date int64) error {
	if err := os.WriteFile(path, msg, 0o600); err != nil {
		return err
	}
	t := time.Unix(date, 0)
	return os.Chtimes(path, t, t)
}

// headerSnippet returns the header lines dovecot caches for a message.
func headerSnippet(msg []byte) []byte {
	end := bytes.Index(msg, []byte("\n\n"))
	if end < 0 {
		end = len(msg)
	}
	var out []byte
	for _, line := range bytes.Split(msg[:end], []byte("\n")) {
		for _, h := range []string{"From:", "To:", "Subject:", "Date:", "Message-ID:", "In-Reply-To:"} {
			if bytes.HasPrefix(line, []byte(h)) {
				out = append(out, line...)
				out = append(out, '\n')
			}
		}
	}
	return out
}

// writeUIDList writes dovecot-uidlist: a version 3 header, then one
// "<uid> :<base>" line per message in uid order.
func writeUIDList(dir string, validity, next uint32, entries []mailEntry) error {
	var b bytes.Buffer
	// The folder GUID must not depend on where the tree is: hash the path
	// from the user's directory down.
	parts := strings.Split(filepath.ToSlash(dir), "/")
	guid := fnv64(strings.Join(parts[max(len(parts)-3, 0):], "/"))
	fmt.Fprintf(&b, "3 V%d N%d G%08x%016x%08x\n", validity, next, validity, guid, uint32(guid>>7))
	for _, e := range entries {
		fmt.Fprintf(&b, "%d :%s\n", e.uid, e.base)
	}
	return os.WriteFile(filepath.Join(dir, "dovecot-uidlist"), b.Bytes(), 0o600)
}

// readUIDList reads dovecot-uidlist back: validity, next uid and base → uid.
func readUIDList(dir string) (validity, next uint32, uids map[string]uint32, err error) {
	f, err := os.Open(filepath.Join(dir, "dovecot-uidlist"))
	if err != nil {
		return 0, 0, nil, err
	}
	defer f.Close()
	uids = map[string]uint32{}
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			for _, field := range strings.Fields(line)[1:] {
				v, _ := strconv.ParseUint(field[1:], 10, 32)
				switch field[0] {
				case 'V':
					validity = uint32(v)
				case 'N':
					next = uint32(v)
				}
			}
			continue
		}
		uid, base, ok := strings.Cut(line, " :")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("%s: bad uid line %q", f.Name(), line)
		}
		uids[base] = uint32(n)
	}
	return validity, next, uids, sc.Err()
}

func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func flagBits(flags string, isNew bool) byte {
	var b byte
	for _, c := range flags {
		switch c {
		case 'S':
			b |= 1
		case 'R':
			b |= 2
		case 'F':
			b |= 4
		case 'T':
			b |= 8
		case 'D':
			b |= 16
		}
	}
	if isNew {
		b |= 32
	}
	return b
}

// writeIndex rewrites dovecot.index: a 256-byte header, then a 40-byte record
// per message (uid, flags, virtual size, received date, 16-byte guid). Like
// dovecot's, it is rewritten whole whenever a folder changes.
func writeIndex(dir string, validity, next uint32, entries []mailEntry) error {
	buf := make([]byte, 256, 256+40*len(entries))
	copy(buf, "DOVECOT-INDEX\x07\x03")
	binary.LittleEndian.PutUint32(buf[16:], validity)
	binary.LittleEndian.PutUint32(buf[20:], next)
	binary.LittleEndian.PutUint32(buf[24:], uint32(len(entries)))
	var rec [40]byte
	for _, e := range entries {
		_, _, date, size := parseMaildirName(e.base)
		clear(rec[:])
		binary.LittleEndian.PutUint32(rec[0:], e.uid)
		rec[4] = flagBits(e.flags, e.isNew)
		binary.LittleEndian.PutUint64(rec[8:], uint64(size))
		binary.LittleEndian.PutUint32(rec[16:], uint32(date))
		binary.LittleEndian.PutUint64(rec[24:], fnv64(e.base))
		binary.LittleEndian.PutUint64(rec[32:], fnv64(e.base+"guid"))
		buf = append(buf, rec[:]...)
	}
	return os.WriteFile(filepath.Join(dir, "dovecot.index"), buf, 0o600)
}

// appendFile appends data to dir/name, creating it with header if missing.
func appendFile(path string, header, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		data = append(append([]byte(nil), header...), data...)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cacheRecords encodes dovecot.index.cache records for new messages: uid,
// record size, received date, virtual size, cached header lines.
func cacheRecords(dst []byte, e mailEntry, snippet []byte) []byte {
	_, _, date, size := parseMaildirName(e.base)
	dst = binary.LittleEndian.AppendUint32(dst, e.uid)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(16+len(snippet)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(date))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(size))
	return append(dst, snippet...)
}

// Transaction log record types.
const (
	logAppend  = 1
	logFlags   = 2
	logExpunge = 3
)

func logRecord(dst []byte, typ uint32, e mailEntry, date int64) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, 24)
	dst = binary.LittleEndian.AppendUint32(dst, typ)
	dst = binary.LittleEndian.AppendUint32(dst, e.uid)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(flagBits(e.flags, e.isNew)))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(date))
	return dst
}

var (
	cacheHeader = []byte("DOVECOT-CACHE\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	logHeader   = []byte("DOVECOT-LOG\x01\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00")
)

// maildirSizeHeader is the quota line that starts maildirsize.
const maildirSizeHeader = "2147483648S,0C\n"
