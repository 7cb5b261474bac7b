package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/godwit-backup/godwit/internal/mailbox"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
)

// mailSearch walks snapshots for messages matching a query. It is used
// by one goroutine. Unreadable files and trees are reported with warn and
// counted; the walk goes on.
type mailSearch struct {
	ctx  context.Context
	r    *repo.Repository
	src  blobSource
	q    mailbox.Query
	user string
	e    *env

	// seen, when not nil, holds the directories and files (path and
	// content) already searched in another snapshot: they are skipped,
	// since every message in them was reported already.
	seen map[string]bool
	// cache holds the matching messages of file contents already read,
	// by the hash of their blob list.
	cache  map[blob.ID][]mailHit
	failed int
}

func newMailSearch(ctx context.Context, r *repo.Repository, q mailbox.Query, user string, e *env) *mailSearch {
	return &mailSearch{ctx: ctx, r: r, src: repoBlobs{r}, q: q, user: user, e: e, cache: map[blob.ID][]mailHit{}}
}

// err reports whether some files could not be searched.
func (s *mailSearch) err() error {
	if s.failed == 0 {
		return nil
	}
	return fmt.Errorf("%d files or directories could not be searched (see the warnings above)", s.failed)
}

func (s *mailSearch) warn(p string, err error) {
	s.failed++
	s.e.warn("%s: %v\n", quotePath(p), err)
}

// search calls fn for every matching message of sn below start.
func (s *mailSearch) search(sn *snapshot.Snapshot, start string, fn func(mailHit) error) error {
	node, err := s.r.FindNode(s.ctx, sn.Tree, start)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
	}
	if node.Type != tree.Dir {
		return s.file(sn, start, node, fn)
	}
	return s.dir(sn, strings.TrimSuffix(start, "/"), node, fn)
}

func (s *mailSearch) dir(sn *snapshot.Snapshot, dir string, node *tree.Node, fn func(mailHit) error) error {
	if node.Subtree == nil {
		return nil
	}
	if s.seen != nil {
		k := dir + "/\x00" + string(node.Subtree[:])
		if s.seen[k] {
			return nil
		}
		s.seen[k] = true
	}
	t, err := s.r.LoadTree(s.ctx, *node.Subtree)
	if err != nil {
		if cerr := s.ctx.Err(); cerr != nil {
			return cerr
		}
		s.warn(dir+"/", err)
		return nil
	}
	for _, n := range t.Nodes {
		p := dir + "/" + string(n.Name)
		var err error
		switch n.Type {
		case tree.Dir:
			err = s.dir(sn, p, n, fn)
		case tree.File:
			err = s.file(sn, p, n, fn)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// file reports the matching messages of one file, if it is a Maildir
// message or an mbox.
func (s *mailSearch) file(sn *snapshot.Snapshot, p string, n *tree.Node, fn func(mailHit) error) error {
	kind := mailKindOf(p, s.user)
	if kind == notMail || n.Type != tree.File || len(n.Content) == 0 {
		return nil
	}
	key := contentKey(n.Content)
	if s.seen != nil {
		k := p + "\x00" + string(key[:])
		if s.seen[k] {
			return nil
		}
		s.seen[k] = true
	}
	found, ok := s.cache[key]
	if !ok {
		var err error
		found, err = s.read(p, n, kind)
		if err != nil {
			if cerr := s.ctx.Err(); cerr != nil {
				return cerr
			}
			s.warn(p, err)
			return nil
		}
		s.cache[key] = found
	}
	for _, h := range found {
		h.Snapshot, h.Path, h.Node = sn, p, n
		if err := fn(h); err != nil {
			return err
		}
	}
	return nil
}

// read returns the matching messages of a file, without snapshot and path.
func (s *mailSearch) read(p string, n *tree.Node, kind mailKind) ([]mailHit, error) {
	cr := newContentReader(s.ctx, s.src, n.Content)
	if kind == maildirMessage {
		h, err := mailbox.ParseHeader(cr)
		if errors.Is(err, mailbox.ErrHeaderTooLarge) {
			s.e.warn("%s: %v; skipped\n", quotePath(p), err)
			return nil, nil
		}
		if err != nil || !s.q.Match(h) {
			return nil, err
		}
		return []mailHit{{Header: h}}, nil
	}
	if kind == homeMbox {
		first, err := cr.peek()
		if err != nil || !bytes.HasPrefix(first, []byte("From ")) {
			return nil, err
		}
	}
	var (
		found  []mailHit
		number int
	)
	err := mailbox.ScanMbox(cr, func(off, length int64, sep string, h mailbox.Header) error {
		number++
		if s.q.Match(h) {
			found = append(found, mailHit{Header: h, Mbox: &mboxPos{Number: number, Offset: off, Length: length}, separator: sep})
		}
		return s.ctx.Err()
	})
	return found, err
}

// readMessage returns the whole message of a hit: the Maildir file, or
// the mbox message unquoted and without its separator.
func readMessage(ctx context.Context, src blobSource, h mailHit) ([]byte, error) {
	cr := newContentReader(ctx, src, h.Node.Content)
	if h.Mbox == nil {
		return io.ReadAll(cr)
	}
	if err := cr.skip(h.Mbox.Offset); err != nil {
		return nil, err
	}
	buf := make([]byte, h.Mbox.Length)
	if _, err := io.ReadFull(cr, buf); err != nil {
		return nil, fmt.Errorf("message %d: %w", h.Mbox.Number, err)
	}
	return mailbox.ExtractMboxMessage(bytes.NewReader(buf), 0, h.Mbox.Length)
}

// mailKind says how a file is searched.
type mailKind int

const (
	notMail        mailKind = iota
	maildirMessage          // <maildir>/cur/<name> or <maildir>/new/<name>
	spoolMbox               // var/mail/<user>, var/spool/mail/<user>
	homeMbox                // mbox files in a home directory, if they start with "From "
)

// mailKindOf classifies a snapshot path by the rules in mailSourcesHelp;
// with user set, only that user's mailboxes count.
func mailKindOf(p, user string) mailKind {
	home, rest := homeOf(p)
	if mailbox.IsMaildirMessage(p) {
		if user == "" || home == user {
			return maildirMessage
		}
		return notMail
	}
	dir, name := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasSuffix(dir, "/var/mail") || strings.HasSuffix(dir, "/var/spool/mail") {
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".lock") || (user != "" && name != user) {
			return notMail
		}
		return spoolMbox
	}
	if home == "" || (user != "" && home != user) {
		return notMail
	}
	if name == "mbox" || strings.HasPrefix(rest, "mail/") || strings.HasPrefix(rest, "Mail/") {
		return homeMbox
	}
	return notMail
}

// homeOf returns the user of a path under /home/USER/ and the part of the
// path below the home directory.
func homeOf(p string) (user, rest string) {
	i := strings.Index(p, "/home/")
	if i < 0 {
		return "", ""
	}
	user, rest, ok := strings.Cut(p[i+len("/home/"):], "/")
	if !ok || user == "" {
		return "", ""
	}
	return user, rest
}

// contentKey identifies a file's content by its blob list.
func contentKey(ids []blob.ID) blob.ID {
	buf := make([]byte, 0, len(ids)*len(blob.ID{}))
	for _, id := range ids {
		buf = append(buf, id[:]...)
	}
	return blob.Hash(buf)
}

// blobSource loads data blobs and tells their sizes without loading them.
type blobSource interface {
	LoadBlob(ctx context.Context, t blob.Type, id blob.ID) ([]byte, error)
	// BlobSize returns the plaintext length of a blob; ok is false when
	// it is unknown.
	BlobSize(id blob.ID) (size int64, ok bool)
}

// repoBlobs is the blobSource of a repository with its index loaded.
type repoBlobs struct{ *repo.Repository }

func (r repoBlobs) BlobSize(id blob.ID) (int64, bool) {
	loc, ok := r.Index().Lookup(id)
	return int64(loc.Length), ok
}

// contentReader reads a file's content from its blob list, loading one
// blob at a time and only when the reader gets to it, so at most one blob
// is held. It is used by one goroutine; after an error every Read returns
// it.
type contentReader struct {
	ctx context.Context
	src blobSource
	ids []blob.ID // blobs not loaded yet
	cur []byte    // rest of the current blob
	err error
}

func newContentReader(ctx context.Context, src blobSource, ids []blob.ID) *contentReader {
	return &contentReader{ctx: ctx, src: src, ids: ids}
}

// fill makes cur non-empty, loading the next blob if needed; it returns
// io.EOF after the last blob.
func (c *contentReader) fill() error {
	for len(c.cur) == 0 && c.err == nil {
		if len(c.ids) == 0 {
			return io.EOF
		}
		id := c.ids[0]
		c.ids = c.ids[1:]
		c.cur, c.err = c.src.LoadBlob(c.ctx, blob.DataBlob, id)
	}
	return c.err
}

func (c *contentReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, c.err
	}
	if err := c.fill(); err != nil {
		return 0, err
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

// peek returns the unread part of the current blob, loading the first
// blob if none is loaded; it is empty at the end of the content.
func (c *contentReader) peek() ([]byte, error) {
	if err := c.fill(); err != nil && err != io.EOF {
		return nil, err
	}
	return c.cur, nil
}

// skip discards n bytes. Whole blobs whose size the source knows are
// skipped without loading them.
func (c *contentReader) skip(n int64) error {
	for n > 0 {
		if len(c.cur) > 0 {
			d := min(n, int64(len(c.cur)))
			c.cur = c.cur[d:]
			n -= d
			continue
		}
		if c.err == nil && len(c.ids) > 0 {
			if size, ok := c.src.BlobSize(c.ids[0]); ok && size <= n {
				c.ids = c.ids[1:]
				n -= size
				continue
			}
		}
		if err := c.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}
