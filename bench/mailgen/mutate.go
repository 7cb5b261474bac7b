package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// mutateStats counts what one simulated day changed.
type mutateStats struct {
	delivered, seen, flagged, trashed, expunged, trashEmptied int
	spoolsAppended, spoolsRewritten                           int
}

func (s mutateStats) String() string {
	return fmt.Sprintf("%d delivered, %d new->cur, %d flag renames, %d moved to Trash, %d expunged, %d Trash folders emptied, %d mbox spools appended, %d rewritten in place",
		s.delivered, s.seen, s.flagged, s.trashed, s.expunged, s.trashEmptied, s.spoolsAppended, s.spoolsRewritten)
}

// mutate simulates the day after the newest message in the corpus at out:
// new deliveries (about 0.5% of the corpus), users reading mail (new/ to
// cur/ with flag renames), deletions to Trash and expunges, some Trash
// folders emptied, mbox spools appended and some rewritten in place with a
// message deleted from the middle. The result depends only on the tree and
// seed.
func mutate(out string, seed uint64) (mutateStats, error) {
	var st mutateStats
	w, err := loadWorld(out)
	if err != nil {
		return st, err
	}
	r := rand.New(rand.NewChaCha8(seedBytes(seed, 1)))
	w.makeContacts(r)
	for i := range w.users {
		w.users[i].weight = float64(logNormal(r, 1000, 1.0, 50, 20000))
	}
	w.index()
	now, total, err := scanCorpus(out)
	if err != nil {
		return st, err
	}
	start := now + 60
	p := newPlanner(w, r, start, start+86400, int(max(total/100, 16<<10)))
	p.day = true
	budget := max(total/200, 128<<10)
	for p.spent < budget {
		p.step()
	}
	for range 1 + r.IntN(2) {
		if err := forwardFromDisk(out, p); err != nil {
			return st, err
		}
	}
	for ui := range w.users {
		ur := rand.New(rand.NewPCG(seed, uint64(w.users[ui].uid)))
		ds := slices.Clone(p.box[ui])
		sortByDate(ds)
		st.delivered += len(ds)
		if w.users[ui].mbox {
			err = mutateMboxUser(out, w, ui, ds, ur, start, &st)
		} else {
			err = mutateMaildirUser(out, w, ui, ds, ur, start, &st)
		}
		if err != nil {
			return st, fmt.Errorf("user %s: %w", w.users[ui].name, err)
		}
	}
	if err := writeRootSpool(out, w, rand.New(rand.NewPCG(seed, 7)), start, 1); err != nil {
		return st, err
	}
	return st, nil
}

// scanCorpus returns the newest Maildir delivery time and the bytes under
// home/ and var/mail.
func scanCorpus(out string) (newest, total int64, err error) {
	for _, top := range []string{"home", "var/mail"} {
		err := filepath.WalkDir(filepath.Join(out, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
			if sub := filepath.Base(filepath.Dir(path)); sub == "cur" || sub == "new" {
				_, _, date, _ := parseMaildirName(d.Name())
				newest = max(newest, date)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, 0, fmt.Errorf("scan corpus: %w", err)
		}
	}
	if newest == 0 {
		newest = baseEnd
	}
	return newest, total, nil
}

// forwardFromDisk has a Maildir user forward a large message from their
// INBOX (likely one with attachments) to someone else, embedding its bytes.
func forwardFromDisk(out string, p *planner) error {
	w, r := p.w, p.r
	for range 20 {
		ui := r.IntN(len(w.users))
		if w.users[ui].mbox {
			continue
		}
		dir := filepath.Join(out, "home", w.users[ui].name, "Maildir", "cur")
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) == 0 {
			continue
		}
		e := entries[r.IntN(len(entries))]
		if _, _, _, size := parseMaildirName(e.Name()); size < 30<<10 {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("forward: %w", err)
		}
		m := &message{
			seed:     r.Uint64(),
			date:     p.start + r.Int64N(p.end-p.start),
			fromUser: ui,
			from:     w.users[ui].person(w.domain),
			bodyLen:  logNormal(r, 300, 0.8, 40, 4000),
			fwdRaw:   raw,
			subject:  "Fwd: " + headerValue(raw, "Subject"),
		}
		m.msgID = p.messageID(m.from.addr)
		var rcpts []int
		if v := w.pickUser(r); v != ui {
			rcpts = []int{v}
			m.to = []person{w.users[v].person(w.domain)}
		} else {
			m.to = []person{w.contact(r)}
		}
		p.deliver(m, rcpts, true)
		return nil
	}
	return nil
}

func headerValue(msg []byte, name string) string {
	end := bytes.Index(msg, []byte("\n\n"))
	if end < 0 {
		end = len(msg)
	}
	for _, line := range strings.Split(string(msg[:end]), "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			return v
		}
	}
	return ""
}

// addFlag returns flags with c added, in the ASCII order Maildir requires.
func addFlag(flags string, c byte) string {
	if strings.IndexByte(flags, c) >= 0 {
		return flags
	}
	b := []byte(flags + string(c))
	slices.Sort(b)
	return string(b)
}

// folderState is a Maildir folder being changed: its messages by base name
// and the dovecot records to append when it is saved.
type folderState struct {
	dir            string
	validity, next uint32
	entries        map[string]*mailEntry
	cache, log     []byte
}

func loadFolder(dir string) (*folderState, error) {
	validity, next, uids, err := readUIDList(dir)
	if err != nil {
		return nil, err
	}
	f := &folderState{dir: dir, validity: validity, next: next, entries: map[string]*mailEntry{}}
	for _, sub := range []string{"new", "cur"} {
		names, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			base, flags, _, size := parseMaildirName(n.Name())
			uid := uids[base]
			if uid == 0 {
				uid = f.next
				f.next++
			}
			f.entries[base] = &mailEntry{uid: uid, base: base, flags: flags, isNew: sub == "new", size: size}
		}
	}
	return f, nil
}

// sorted returns the folder's messages in uid order.
func (f *folderState) sorted() []*mailEntry {
	out := make([]*mailEntry, 0, len(f.entries))
	for _, e := range f.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *mailEntry) int { return int(a.uid) - int(b.uid) })
	return out
}

func (f *folderState) setFlags(e *mailEntry, flags string, date int64) error {
	old := e.path(f.dir)
	e.flags, e.isNew = flags, false
	if err := os.Rename(old, e.path(f.dir)); err != nil {
		return err
	}
	f.log = logRecord(f.log, logFlags, *e, date)
	return nil
}

func (f *folderState) expunge(e *mailEntry, date int64) error {
	if err := os.Remove(e.path(f.dir)); err != nil {
		return err
	}
	delete(f.entries, e.base)
	f.log = logRecord(f.log, logExpunge, *e, date)
	return nil
}

func (f *folderState) moveTo(e *mailEntry, g *folderState, date int64) error {
	ne := *e
	ne.uid, ne.isNew, ne.flags = g.next, false, addFlag(e.flags, 'S')
	g.next++
	if err := os.Rename(e.path(f.dir), ne.path(g.dir)); err != nil {
		return err
	}
	delete(f.entries, e.base)
	g.entries[ne.base] = &ne
	f.log = logRecord(f.log, logExpunge, *e, date)
	g.log = logRecord(g.log, logAppend, ne, date)
	return nil
}

func (f *folderState) add(e mailEntry, msg []byte, date int64) error {
	e.uid = f.next
	f.next++
	if err := writeMailFile(e.path(f.dir), msg, date); err != nil {
		return err
	}
	f.entries[e.base] = &e
	f.cache = cacheRecords(f.cache, e, headerSnippet(msg))
	f.log = logRecord(f.log, logAppend, e, date)
	return nil
}

// save rewrites dovecot-uidlist and dovecot.index and appends to the cache
// and transaction log, as dovecot does after a sync.
func (f *folderState) save() error {
	list := f.sorted()
	entries := make([]mailEntry, len(list))
	for i, e := range list {
		entries[i] = *e
	}
	if err := writeUIDList(f.dir, f.validity, f.next, entries); err != nil {
		return err
	}
	if err := writeIndex(f.dir, f.validity, f.next, entries); err != nil {
		return err
	}
	if len(f.cache) > 0 {
		if err := appendFile(filepath.Join(f.dir, "dovecot.index.cache"), cacheHeader, f.cache); err != nil {
			return err
		}
	}
	if len(f.log) > 0 {
		return appendFile(filepath.Join(f.dir, "dovecot.index.log"), logHeader, f.log)
	}
	return nil
}

func mutateMaildirUser(out string, w *world, ui int, ds []delivery, r *rand.Rand, today int64, st *mutateStats) error {
	root := filepath.Join(out, "home", w.users[ui].name, "Maildir")
	folders := map[string]*folderState{}
	for _, name := range maildirFolders {
		f, err := loadFolder(filepath.Join(root, name))
		if err != nil {
			return err
		}
		folders[name] = f
	}
	inbox, lists, trash := folders[""], folders[".INBOX.lists"], folders[".Trash"]
	var quota []byte
	t := today + int64(r.IntN(86400))

	// The user reads mail: most of new/ moves to cur/ as seen.
	for _, f := range []*folderState{inbox, lists} {
		for _, e := range f.sorted() {
			if e.isNew && r.IntN(10) < 9 {
				if err := f.setFlags(e, "S", t); err != nil {
					return err
				}
				st.seen++
			}
		}
	}
	// Replies and flags rename files in cur/; some mail is deleted.
	for _, e := range inbox.sorted() {
		if e.isNew {
			continue
		}
		var err error
		switch x := r.IntN(1000); {
		case x < 20:
			err = inbox.setFlags(e, addFlag(e.flags, 'R'), t)
			st.flagged++
		case x < 25:
			err = inbox.setFlags(e, addFlag(e.flags, 'F'), t)
			st.flagged++
		case x < 35:
			err = inbox.moveTo(e, trash, t)
			st.trashed++
		case x < 38:
			quota = fmt.Appendf(quota, "-%d -1\n", e.size)
			err = inbox.expunge(e, t)
			st.expunged++
		}
		if err != nil {
			return err
		}
	}
	for _, e := range lists.sorted() {
		if !e.isNew && r.IntN(100) < 3 {
			quota = fmt.Appendf(quota, "-%d -1\n", e.size)
			if err := lists.expunge(e, t); err != nil {
				return err
			}
			st.expunged++
		}
	}
	if r.IntN(10) < 3 && len(trash.entries) > 0 {
		for _, e := range trash.sorted() {
			quota = fmt.Appendf(quota, "-%d -1\n", e.size)
			if err := trash.expunge(e, t); err != nil {
				return err
			}
		}
		st.trashEmptied++
	}
	// Today's deliveries and sent mail.
	var msg []byte
	for _, d := range ds {
		name := d.folder
		if d.rcpt < 0 {
			name = ".Sent"
		}
		msg = w.render(msg[:0], d.m, d.rcpt)
		e := mailEntry{
			base:  maildirName(w.host, d.m.date, d.m.seed^uint64(ui)*0x9e3779b97f4a7c15, d.seq, msg),
			flags: d.flags,
			isNew: d.isNew,
			size:  len(msg),
		}
		if err := folders[name].add(e, msg, d.m.date); err != nil {
			return err
		}
		quota = fmt.Appendf(quota, "%d 1\n", len(msg))
	}
	for _, name := range maildirFolders {
		if err := folders[name].save(); err != nil {
			return err
		}
	}
	if len(quota) == 0 {
		return nil
	}
	return appendFile(filepath.Join(root, "maildirsize"), []byte(maildirSizeHeader), quota)
}

func mutateMboxUser(out string, w *world, ui int, ds []delivery, r *rand.Rand, today int64, st *mutateStats) error {
	u := &w.users[ui]
	spoolPath := filepath.Join(out, "var/mail", u.name)
	spool, err := os.ReadFile(spoolPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// The user reads mail: the client rewrites the spool in place, marking
	// unread messages read and dropping one deleted from the middle.
	if entries := splitMbox(spool); len(entries) >= 3 && r.IntN(4) < 3 {
		drop := 1 + r.IntN(len(entries)-2)
		rewritten := make([]byte, 0, len(spool))
		for i, e := range entries {
			if i == drop {
				continue
			}
			if !bytes.Contains(headerOf(e), []byte("\nStatus: ")) {
				e = insertHeader(e, "Status: RO")
			}
			rewritten = append(rewritten, e...)
		}
		f, err := os.OpenFile(spoolPath, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return err
		}
		if _, err := f.Write(rewritten); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		st.spoolsRewritten++
	}
	var in, sent, msg []byte
	for _, d := range ds {
		msg = w.render(msg[:0], d.m, d.rcpt)
		if d.rcpt < 0 {
			sent = appendMboxMessage(sent, d.m.from.addr, d.m.date, msg)
		} else {
			in = appendMboxMessage(in, d.m.from.addr, d.m.date, msg)
		}
	}
	stamp := time.Unix(today+86400, 0)
	if len(in) > 0 {
		if err := appendFile(spoolPath, nil, in); err != nil {
			return err
		}
		st.spoolsAppended++
	}
	if _, err := os.Stat(spoolPath); err == nil {
		if err := os.Chtimes(spoolPath, stamp, stamp); err != nil {
			return err
		}
	}
	if len(sent) > 0 {
		p := filepath.Join(out, "home", u.name, "mail", "Sent")
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := appendFile(p, nil, sent); err != nil {
			return err
		}
		return os.Chtimes(p, stamp, stamp)
	}
	return nil
}

func headerOf(msg []byte) []byte {
	if end := bytes.Index(msg, []byte("\n\n")); end >= 0 {
		return msg[:end+1]
	}
	return msg
}
