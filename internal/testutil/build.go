//go:build linux

package testutil

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Owner is a numeric owner, as stored in an inode.
type Owner struct {
	UID, GID uint32
}

// ServerTree describes what BuildServerTree made. Every path is relative to
// Root, separated by '/', and may hold any byte but '/' and NUL (several are
// not valid UTF-8). Tests use the fields to name entries of each kind when
// they check or mutate a restored copy.
type ServerTree struct {
	Root string

	// Privileged reports whether the tree was built as root. When false,
	// the root-only parts are missing and Skipped lists them.
	Privileged bool
	Skipped    []string

	// SizedFiles maps each boundary size (0, 1, 4095, ... 8 MiB + 1) to the
	// regular file of exactly that size.
	SizedFiles map[int64]string
	// MaildirMessages are the message files in the Maildirs (cur/ and new/).
	MaildirMessages []string
	// Mbox is an mbox spool holding MboxMessages messages.
	Mbox         string
	MboxMessages int
	// Sparse is a file of SparseSize bytes (over 100 MiB) that is mostly
	// holes; SparseData lists the offsets and lengths of its data extents.
	Sparse     string
	SparseSize int64
	SparseData [][2]int64

	// Modes holds the permission bits (including 04000 setuid, 02000 setgid
	// and 01000 sticky) given to every entry except symlinks.
	Modes map[string]uint32
	// Owners holds the entries chowned to a specific owner, root included.
	// It is empty when not Privileged: everything then belongs to the builder.
	Owners map[string]Owner
	// MTimes holds the modification time given to every entry, root
	// included ("."); each has a non-zero nanosecond part.
	MTimes map[string]time.Time
	// Xattrs maps entries to the names of the extended attributes set on
	// them, ACLs included.
	Xattrs map[string][]string
	// ACLs carry system.posix_acl_access; DefaultACLs are directories that
	// carry system.posix_acl_default.
	ACLs        []string
	DefaultACLs []string

	// Symlinks maps each symlink to its target (raw bytes).
	Symlinks map[string]string
	// Hardlinks lists groups of names for one inode, each group sorted.
	Hardlinks [][]string
	FIFOs     []string
	// Devices are character and block device nodes (Privileged only).
	Devices []string
	// EmptyDirs are directories with no entries.
	EmptyDirs []string
	// OddNames are entries whose names hold spaces, control characters,
	// a leading dash, non-ASCII UTF-8 or bytes that are not UTF-8.
	OddNames []string
	// Deep is a file 30 directories below a top-level directory.
	Deep string
}

// Path returns the absolute path of rel inside the tree.
func (s *ServerTree) Path(rel string) string {
	return filepath.Join(s.Root, filepath.FromSlash(rel))
}

// Sizes of the boundary files: around 4 KiB pages, the chunker's 512 KiB
// minimum and 1 MiB average, a 256 KiB read size, and just over 8 MiB.
var boundarySizes = []int64{
	0, 1, 4095, 4096,
	256<<10 - 1, 256 << 10, 256<<10 + 1,
	512<<10 - 1, 512 << 10, 512<<10 + 1,
	1<<20 - 1, 1 << 20, 1<<20 + 1,
	8<<20 + 1,
}

const sparseSize = 130 << 20

// Numeric owners with no name on a typical machine, and root. Ids above
// 65535 catch restores that truncate to 16 bits.
var (
	ownerRoot       = Owner{0, 0}
	ownerAlice      = Owner{5001, 5002}
	ownerBob        = Owner{70000, 70001}
	ownerWWW        = Owner{4242, 4343}
	ownerRootShared = Owner{0, 4343} // root, with the group shared by services
)

// BuildServerTree creates, under root (which must exist and be empty), a
// small mail server tree that exercises everything a restore must preserve,
// and returns its description. Contents are deterministic: the same build
// gives the same bytes, modes, owners and times. Run as root it also creates
// foreign owners, device nodes, trusted.* and security.capability attributes
// and an unreadable (mode 0000) file; otherwise it leaves those out and
// lists them in ServerTree.Skipped. Directory metadata is applied last,
// deepest first, so that directory mtimes stay as set. Any failure ends the
// test with t.Fatal, so it must be called from the test goroutine.
func BuildServerTree(t testing.TB, root string) *ServerTree {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("build server tree: %v", err)
	}
	if len(entries) != 0 {
		t.Fatalf("build server tree: %s is not empty", root)
	}
	b := &builder{
		t:    t,
		root: root,
		rng:  rand.NewChaCha8([32]byte([]byte("godwit restore fidelity tree 001"))),
		dirs: map[string]meta{},
		tree: &ServerTree{
			Root:       root,
			Privileged: os.Geteuid() == 0,
			SizedFiles: map[int64]string{},
			Modes:      map[string]uint32{},
			Owners:     map[string]Owner{},
			MTimes:     map[string]time.Time{},
			Xattrs:     map[string][]string{},
			Symlinks:   map[string]string{},
		},
	}
	b.layout()
	b.finish()
	return b.tree
}

// meta is what an entry gets beyond its contents.
type meta struct {
	mode   uint32
	owner  *Owner // nil: left as created
	xattrs []xattr
}

type xattr struct {
	name  string
	value []byte
}

// needsRoot reports whether an unprivileged process may not set the attribute.
func (x xattr) needsRoot() bool {
	return strings.HasPrefix(x.name, "trusted.") || strings.HasPrefix(x.name, "security.")
}

type builder struct {
	t    testing.TB
	root string
	tree *ServerTree
	rng  *rand.ChaCha8
	tick int64
	dirs map[string]meta // every directory below root, applied in finish

	ownersLeft int // chowns skipped because not privileged
}

func (b *builder) abs(rel string) string {
	return filepath.Join(b.root, filepath.FromSlash(rel))
}

func (b *builder) fatal(op, rel string, err error) {
	b.t.Helper()
	b.t.Fatalf("build server tree: %s %q: %v", op, rel, err)
}

func (b *builder) skip(what string) {
	b.tree.Skipped = append(b.tree.Skipped, what)
}

// nextTimes returns a distinct access and modification time, both with a
// non-zero nanosecond part.
func (b *builder) nextTimes() (atime, mtime time.Time) {
	b.tick++
	base := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	mtime = base.Add(time.Duration(b.tick)*(time.Hour+7*time.Second) + time.Duration(b.tick*7919%999_999_999+1))
	atime = mtime.Add(36*time.Hour + time.Duration(b.tick*104729%999_999_999+1))
	return atime, mtime
}

// dir registers rel and its missing parents (with mode 0755) and creates them.
// Metadata is applied by finish, after the contents exist. Extended attributes
// are set at once, so a default ACL is inherited by entries created later.
func (b *builder) dir(rel string, m meta) {
	b.t.Helper()
	for p := path.Dir(rel); p != "."; p = path.Dir(p) {
		if _, ok := b.dirs[p]; !ok {
			b.dirs[p] = meta{mode: 0o755}
		}
	}
	b.dirs[rel] = m
	if err := os.MkdirAll(b.abs(rel), 0o755); err != nil {
		b.fatal("mkdir", rel, err)
	}
	b.setXattrs(rel, m.xattrs)
}

func (b *builder) parent(rel string) {
	b.t.Helper()
	if p := path.Dir(rel); p != "." {
		if _, ok := b.dirs[p]; !ok {
			b.dir(p, meta{mode: 0o755})
		}
	}
}

// file creates a regular file holding data and gives it m and fresh times.
func (b *builder) file(rel string, data []byte, m meta) {
	b.t.Helper()
	b.parent(rel)
	f, err := os.OpenFile(b.abs(rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		b.fatal("create", rel, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.fatal("write", rel, err)
	}
	b.apply(rel, m)
	b.setTimes(rel)
}

// apply sets owner, then mode (chown clears setuid and setgid), then
// extended attributes (chown also clears security.capability).
func (b *builder) apply(rel string, m meta) {
	b.t.Helper()
	b.chown(rel, m.owner)
	if err := unix.Chmod(b.abs(rel), m.mode); err != nil {
		b.fatal("chmod", rel, err)
	}
	b.tree.Modes[rel] = m.mode
	b.setXattrs(rel, m.xattrs)
}

func (b *builder) chown(rel string, o *Owner) {
	b.t.Helper()
	if o == nil {
		return
	}
	if !b.tree.Privileged {
		b.ownersLeft++
		return
	}
	if err := unix.Lchown(b.abs(rel), int(o.UID), int(o.GID)); err != nil {
		b.fatal("chown", rel, err)
	}
	b.tree.Owners[rel] = *o
}

func (b *builder) setXattrs(rel string, xs []xattr) {
	b.t.Helper()
	for _, x := range xs {
		if x.needsRoot() && !b.tree.Privileged {
			b.skip(fmt.Sprintf("extended attribute %s on %q (needs root)", x.name, rel))
			continue
		}
		if err := unix.Lsetxattr(b.abs(rel), x.name, x.value, 0); err != nil {
			b.fatal("setxattr "+x.name, rel, err)
		}
		b.tree.Xattrs[rel] = append(b.tree.Xattrs[rel], x.name)
		switch x.name {
		case xattrACLAccess:
			b.tree.ACLs = append(b.tree.ACLs, rel)
		case xattrACLDefault:
			b.tree.DefaultACLs = append(b.tree.DefaultACLs, rel)
		}
	}
}

func (b *builder) setTimes(rel string) {
	b.t.Helper()
	atime, mtime := b.nextTimes()
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, b.abs(rel), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		b.fatal("utimensat", rel, err)
	}
	b.tree.MTimes[rel] = mtime
}

func (b *builder) symlink(rel, target string, owner *Owner) {
	b.t.Helper()
	b.parent(rel)
	if err := os.Symlink(target, b.abs(rel)); err != nil {
		b.fatal("symlink", rel, err)
	}
	b.chown(rel, owner)
	b.setTimes(rel)
	b.tree.Symlinks[rel] = target
}

// hardlink adds the name rel for the inode of existing. The inode's times
// are not touched; its ctime changes, which no restore can preserve anyway.
func (b *builder) hardlink(rel, existing string) {
	b.t.Helper()
	b.parent(rel)
	if err := os.Link(b.abs(existing), b.abs(rel)); err != nil {
		b.fatal("link", rel, err)
	}
	b.tree.Modes[rel] = b.tree.Modes[existing]
	b.tree.MTimes[rel] = b.tree.MTimes[existing]
	if o, ok := b.tree.Owners[existing]; ok {
		b.tree.Owners[rel] = o
	}
	if xs, ok := b.tree.Xattrs[existing]; ok {
		b.tree.Xattrs[rel] = xs
	}
}

// node creates a FIFO or a device node; kind is unix.S_IFIFO, S_IFCHR or S_IFBLK.
func (b *builder) node(rel string, kind uint32, major, minor uint32, m meta) {
	b.t.Helper()
	b.parent(rel)
	if err := unix.Mknod(b.abs(rel), kind|0o600, int(unix.Mkdev(major, minor))); err != nil {
		b.fatal("mknod", rel, err)
	}
	b.apply(rel, m)
	b.setTimes(rel)
	if kind == unix.S_IFIFO {
		b.tree.FIFOs = append(b.tree.FIFOs, rel)
	} else {
		b.tree.Devices = append(b.tree.Devices, rel)
	}
}

// finish applies directory metadata deepest first, then the root's times,
// and records which directories are empty.
func (b *builder) finish() {
	b.t.Helper()
	rels := make([]string, 0, len(b.dirs))
	for rel := range b.dirs {
		rels = append(rels, rel)
	}
	slices.SortFunc(rels, func(x, y string) int {
		if d := strings.Count(y, "/") - strings.Count(x, "/"); d != 0 {
			return d
		}
		return strings.Compare(x, y)
	})
	for _, rel := range rels {
		entries, err := os.ReadDir(b.abs(rel))
		if err != nil {
			b.fatal("readdir", rel, err)
		}
		if len(entries) == 0 {
			b.tree.EmptyDirs = append(b.tree.EmptyDirs, rel)
		}
		m := b.dirs[rel]
		b.chown(rel, m.owner)
		if err := unix.Chmod(b.abs(rel), m.mode); err != nil {
			b.fatal("chmod", rel, err)
		}
		b.tree.Modes[rel] = m.mode
		b.setTimes(rel)
	}
	b.setTimes(".")
	slices.Sort(b.tree.EmptyDirs)
	if b.ownersLeft > 0 {
		b.skip(fmt.Sprintf("ownership: %d entries left owned by uid %d instead of their numeric owners (needs root)", b.ownersLeft, os.Geteuid()))
	}
}

// Content generators. All draw from b.rng, so a build is deterministic.

func (b *builder) random(n int) []byte {
	p := make([]byte, n)
	_, _ = b.rng.Read(p) // ChaCha8.Read never fails
	return p
}

// mailText returns n bytes of repetitive, highly compressible mail-log text.
func mailText(n int, seed int) []byte {
	var buf bytes.Buffer
	for i := seed; buf.Len() < n; i++ {
		fmt.Fprintf(&buf, "Mar  %2d 09:%02d:%02d mx1 postfix/smtpd[%d]: connect from mail%d.example.org[192.0.2.%d]\n",
			1+i%28, i%60, (i*7)%60, 4000+i%97, i%13, i%250)
		fmt.Fprintf(&buf, "Mar  %2d 09:%02d:%02d mx1 postfix/local[%d]: %05X: to=<alice@example.com>, relay=local, status=sent (delivered to maildir)\n",
			1+i%28, i%60, (i*11)%60, 5000+i%89, i*2654435761%0xFFFFF)
	}
	return buf.Bytes()[:n]
}

// mixed alternates 16 KiB of random bytes with 16 KiB of text.
func (b *builder) mixed(n int) []byte {
	const seg = 16 << 10
	p := make([]byte, 0, n)
	for i := 0; len(p) < n; i++ {
		k := min(seg, n-len(p))
		if i%2 == 0 {
			p = append(p, b.random(k)...)
		} else {
			p = append(p, mailText(k, i)...)
		}
	}
	return p
}

var (
	senders = []string{
		"Bob Example <bob@example.org>", "Carol <carol@example.net>",
		"\"Dörte Müller\" <doerte@example.de>", "noreply@shop.example.com",
		"Mailer-Daemon <MAILER-DAEMON@mx1.example.com>",
	}
	subjects = []string{
		"Re: meeting on Thursday", "Invoice 2024-0317", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?=",
		"Your order has shipped", "Undelivered Mail Returned to Sender", "Fwd: photos",
	}
)

// message returns an RFC 5322 message; every third one carries a base64
// attachment of random bytes.
func (b *builder) message(i int, to string) []byte {
	var buf bytes.Buffer
	from := senders[i%len(senders)]
	date := time.Date(2024, 2, 1, 8, 0, 0, 0, time.FixedZone("CET", 3600)).Add(time.Duration(i) * 97 * time.Minute)
	fmt.Fprintf(&buf, "Return-Path: <%s>\n", strings.Trim(from[strings.LastIndex(from, " ")+1:], "<>"))
	fmt.Fprintf(&buf, "Delivered-To: %s\n", to)
	fmt.Fprintf(&buf, "Received: from mail%d.example.org (mail%d.example.org [192.0.2.%d])\n\tby mx1.example.com (Postfix) with ESMTPS id 4T%06X\n\tfor <%s>; %s\n",
		i%7, i%7, 10+i%200, i*2654435761%0xFFFFFF, to, date.Format(time.RFC1123Z))
	fmt.Fprintf(&buf, "Date: %s\nFrom: %s\nTo: %s\nSubject: %s\nMessage-ID: <%d.%d@example.org>\nMIME-Version: 1.0\n",
		date.Format(time.RFC1123Z), from, to, subjects[i%len(subjects)], date.Unix(), i)
	body := fmt.Sprintf("Hello,\n\nthis is message %d.\nFrom the archive: the meeting moved to room 4.\n\n-- \nsent from mx1\n", i)
	if i%3 != 0 {
		fmt.Fprintf(&buf, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n%s", body)
		return buf.Bytes()
	}
	boundary := fmt.Sprintf("=_godwit_%04d", i)
	fmt.Fprintf(&buf, "Content-Type: multipart/mixed; boundary=\"%s\"\n\n--%s\nContent-Type: text/plain; charset=utf-8\n\n%s\n--%s\n", boundary, boundary, body, boundary)
	fmt.Fprintf(&buf, "Content-Type: application/octet-stream; name=\"scan%d.pdf\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"scan%d.pdf\"\n\n", i, i)
	att := b.random(3000 + 1000*(i%5))
	enc := []byte(base64.StdEncoding.EncodeToString(att))
	for len(enc) > 76 {
		buf.Write(enc[:76])
		buf.WriteByte('\n')
		enc = enc[76:]
	}
	buf.Write(enc)
	fmt.Fprintf(&buf, "\n--%s--\n", boundary)
	return buf.Bytes()
}

// maildirName returns a Dovecot-style unique name; messages in cur/ carry flags.
func maildirName(i int, data []byte, cur bool) string {
	name := fmt.Sprintf("%d.M%dP%d.mx1,S=%d,W=%d", 1706774400+i*5821, 100000+i*37, 2000+i, len(data), len(data)+bytes.Count(data, []byte("\n")))
	if cur {
		name += ":2,S"
	}
	return name
}

func (b *builder) maildir(dir string, owner *Owner, to string, first, nCur, nNew int) []string {
	dm := meta{mode: 0o700, owner: owner}
	for _, sub := range []string{"cur", "new", "tmp"} {
		b.dir(dir+"/"+sub, dm)
	}
	var names []string
	for i := first; i < first+nCur+nNew; i++ {
		data := b.message(i, to)
		cur := i < first+nCur
		sub := "new"
		if cur {
			sub = "cur"
		}
		rel := dir + "/" + sub + "/" + maildirName(i, data, cur)
		b.file(rel, data, meta{mode: 0o600, owner: owner})
		names = append(names, rel)
	}
	b.tree.MaildirMessages = append(b.tree.MaildirMessages, names...)
	return names
}

func (b *builder) mbox(rel string, owner *Owner, to string, n int, m meta) {
	var buf bytes.Buffer
	for i := range n {
		date := time.Date(2024, 2, 10, 7, 0, 0, 0, time.UTC).Add(time.Duration(i) * 131 * time.Minute)
		fmt.Fprintf(&buf, "From bob@example.org %s\n", date.Format("Mon Jan _2 15:04:05 2006"))
		msg := b.message(200+i, to)
		if i == 1 {
			// A body line that mbox must escape.
			msg = append(msg, ">From the archive, quoted.\n"...)
		}
		buf.Write(msg)
		buf.WriteByte('\n')
	}
	m.owner = owner
	b.file(rel, buf.Bytes(), m)
	b.tree.Mbox = rel
	b.tree.MboxMessages = n
}

// sparse creates a file of size bytes with data at the start, in the middle
// and at the end, and holes elsewhere.
func (b *builder) sparse(rel string, size int64, m meta) {
	b.t.Helper()
	b.parent(rel)
	f, err := os.OpenFile(b.abs(rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		b.fatal("create", rel, err)
	}
	extents := [][2]int64{{0, 64 << 10}, {size / 2, 64 << 10}, {size - 4096, 4096}}
	err = f.Truncate(size)
	for i, e := range extents {
		if err != nil {
			break
		}
		var data []byte
		if i == 1 {
			data = mailText(int(e[1]), 7)
		} else {
			data = b.random(int(e[1]))
		}
		_, err = f.WriteAt(data, e[0])
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.fatal("write sparse", rel, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(b.abs(rel), &st); err != nil {
		b.fatal("stat", rel, err)
	}
	if st.Blocks*512 >= size {
		b.fatal("write sparse", rel, errors.New("file system allocated every block; holes are not supported"))
	}
	b.apply(rel, m)
	b.setTimes(rel)
	b.tree.Sparse, b.tree.SparseSize, b.tree.SparseData = rel, size, extents
}

// fileCapability returns a security.capability value (VFS_CAP_REVISION_2,
// effective) granting cap.
func fileCapability(capability uint) []byte {
	v := make([]byte, 20)
	binary.LittleEndian.PutUint32(v[0:], 0x02000000|0x1)
	binary.LittleEndian.PutUint32(v[4:], 1<<capability) // permitted, low word
	return v
}

func ref(o Owner) *Owner { return &o }
