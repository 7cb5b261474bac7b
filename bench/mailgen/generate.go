package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
)

// baseEnd is the simulated time at which a generated corpus ends
// (2024-03-01T00:00:00Z); its mail spans the two years before.
const (
	baseEnd  = 1709251200
	baseSpan = 2 * 365 * 86400
)

func seedBytes(seed uint64, stream uint64) [32]byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[0:], seed)
	binary.LittleEndian.PutUint64(s[8:], stream)
	copy(s[16:], "godwit-mailgen")
	return s
}

// generate writes a corpus of about size bytes into out, which must be
// empty or absent.
func generate(out string, size int64, seed uint64) error {
	if err := ensureEmpty(out); err != nil {
		return err
	}
	r := rand.New(rand.NewChaCha8(seedBytes(seed, 0)))
	nUsers := int(min(max(size/(4<<20), 6), 2000))
	w := newWorld(r, nUsers)
	p := newPlanner(w, r, baseEnd-baseSpan, baseEnd, int(max(size/100, 16<<10)))
	const etcAndRoot = 64 << 10
	for p.spent < size-etcAndRoot {
		p.step()
	}
	if err := w.writeEtc(out); err != nil {
		return fmt.Errorf("write etc: %w", err)
	}
	if err := writeRootSpool(out, w, rand.New(rand.NewPCG(seed, 7)), baseEnd-30*86400, 30); err != nil {
		return err
	}
	// Heaviest mailboxes first, so no large one is left for the end.
	order := make([]int, len(w.users))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(p.box[b]) - len(p.box[a]) })
	return parallel(len(order), func(i int) error {
		return writeUser(out, w, order[i], p.box[order[i]])
	})
}

func ensureEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("output directory %s is not empty", dir)
	}
	return nil
}

// parallel runs fn(0..n-1) on a few goroutines per CPU (the work is mostly
// waiting for the disk) and returns the first error; indices not yet started
// are skipped after an error.
func parallel(n int, fn func(i int) error) error {
	var (
		mu       sync.Mutex
		next     int
		firstErr error
		wg       sync.WaitGroup
	)
	for range min(4*runtime.GOMAXPROCS(0), max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := firstErr != nil || i >= n
				mu.Unlock()
				if stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func sortByDate(ds []delivery) {
	slices.SortStableFunc(ds, func(a, b delivery) int {
		if a.m.date != b.m.date {
			return int(a.m.date - b.m.date)
		}
		return a.seq - b.seq
	})
}

// writeUser writes one user's mailboxes.
func writeUser(out string, w *world, ui int, ds []delivery) error {
	u := &w.users[ui]
	home := filepath.Join(out, "home", u.name)
	if err := os.MkdirAll(home, 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(home, ".profile"), []byte(dotProfile), 0o644); err != nil {
		return err
	}
	ds = slices.Clone(ds)
	sortByDate(ds)
	if u.mbox {
		return writeMboxUser(out, w, ui, ds)
	}
	return writeMaildirUser(out, w, ui, ds)
}

func writeMboxUser(out string, w *world, ui int, ds []delivery) error {
	u := &w.users[ui]
	var spool, sent []byte
	var msg []byte
	var last, lastSent int64
	for _, d := range ds {
		msg = w.render(msg[:0], d.m, d.rcpt)
		if d.rcpt < 0 {
			sent = appendMboxMessage(sent, d.m.from.addr, d.m.date, msg)
			lastSent = d.m.date
			continue
		}
		if !d.isNew {
			msg = insertHeader(msg, "Status: RO")
		}
		spool = appendMboxMessage(spool, d.m.from.addr, d.m.date, msg)
		last = d.m.date
	}
	if err := os.MkdirAll(filepath.Join(out, "var/mail"), 0o775); err != nil {
		return err
	}
	if err := writeMailFile(filepath.Join(out, "var/mail", u.name), spool, max(last, baseEnd-baseSpan)); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "home", u.name, "mail"), 0o700); err != nil {
		return err
	}
	return writeMailFile(filepath.Join(out, "home", u.name, "mail", "Sent"), sent, max(lastSent, baseEnd-baseSpan))
}

// folderFiles collects what a Maildir folder's dovecot files need.
type folderFiles struct {
	entries []mailEntry
	cache   []byte
	log     []byte
}

func writeMaildirUser(out string, w *world, ui int, ds []delivery) error {
	u := &w.users[ui]
	root := filepath.Join(out, "home", u.name, "Maildir")
	folders := map[string]*folderFiles{}
	for _, f := range maildirFolders {
		if err := makeFolder(filepath.Join(root, f)); err != nil {
			return err
		}
		folders[f] = &folderFiles{}
	}
	var msg []byte
	var total int64
	for _, d := range ds {
		folder := d.folder
		if d.rcpt < 0 {
			folder = ".Sent"
		}
		ff := folders[folder]
		msg = w.render(msg[:0], d.m, d.rcpt)
		e := mailEntry{
			uid:   uint32(len(ff.entries) + 1),
			base:  maildirName(w.host, d.m.date, d.m.seed^uint64(ui)*0x9e3779b97f4a7c15, d.seq, msg),
			flags: d.flags,
			isNew: d.isNew,
			size:  len(msg),
		}
		if err := writeMailFile(filepath.Join(root, folder, e.path("")), msg, d.m.date); err != nil {
			return err
		}
		ff.entries = append(ff.entries, e)
		ff.cache = cacheRecords(ff.cache, e, headerSnippet(msg))
		ff.log = logRecord(ff.log, logAppend, e, d.m.date)
		total += int64(len(msg))
	}
	for i, name := range maildirFolders {
		ff := folders[name]
		dir := filepath.Join(root, name)
		validity := uint32(baseEnd-baseSpan) + uint32(i)
		next := uint32(len(ff.entries) + 1)
		if err := writeUIDList(dir, validity, next, ff.entries); err != nil {
			return err
		}
		if err := writeIndex(dir, validity, next, ff.entries); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "dovecot.index.cache"), append(slices.Clone(cacheHeader), ff.cache...), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "dovecot.index.log"), append(slices.Clone(logHeader), ff.log...), 0o600); err != nil {
			return err
		}
	}
	size := maildirSizeHeader + strconv.FormatInt(total, 10) + " " + strconv.Itoa(len(ds)) + "\n"
	if err := os.WriteFile(filepath.Join(root, "maildirsize"), []byte(size), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "subscriptions"), []byte("Sent\nTrash\nDrafts\nArchive\nINBOX.lists\n"), 0o600)
}

// writeRootSpool appends days of daily cron reports, starting at from, to
// var/mail/root.
func writeRootSpool(out string, w *world, r *rand.Rand, from int64, days int) error {
	var spool []byte
	var msg []byte
	for d := 0; d < days; d++ {
		date := from + int64(d)*86400 + 6*3600 + 25*60
		msg = append(msg[:0], "Return-Path: <root@"...)
		msg = append(msg, w.host...)
		msg = append(msg, ">\nDelivered-To: root@"...)
		msg = append(msg, w.host...)
		msg = append(msg, "\nFrom: root@"...)
		msg = append(msg, w.host...)
		msg = append(msg, " (Cron Daemon)\nTo: root@"...)
		msg = append(msg, w.host...)
		msg = append(msg, "\nSubject: Cron <root@mail> test -x /usr/sbin/anacron || run-parts --report /etc/cron.daily\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nDate: "...)
		msg = append(msg, rfc5322(date)...)
		msg = append(msg, "\nMessage-ID: <"...)
		msg = strconv.AppendInt(msg, date, 10)
		msg = append(msg, ".cron@"...)
		msg = append(msg, w.host...)
		msg = append(msg, ">\n\n/etc/cron.daily/logrotate:\n"...)
		for i := 0; i < 20+r.IntN(40); i++ {
			msg = append(msg, time.Unix(date-int64(r.IntN(86400)), 0).UTC().Format("Jan _2 15:04:05")...)
			msg = append(msg, " mail postfix/smtpd["...)
			msg = strconv.AppendInt(msg, int64(1000+r.IntN(60000)), 10)
			msg = append(msg, "]: "...)
			msg = appendWords(msg, r, 6+r.IntN(8))
			msg = append(msg, '\n')
		}
		spool = appendMboxMessage(spool, "root@"+w.host, date, msg)
	}
	dir := filepath.Join(out, "var/mail")
	if err := os.MkdirAll(dir, 0o775); err != nil {
		return err
	}
	if err := appendFile(filepath.Join(dir, "root"), nil, spool); err != nil {
		return fmt.Errorf("root spool: %w", err)
	}
	t := time.Unix(from+int64(days)*86400, 0)
	return os.Chtimes(filepath.Join(dir, "root"), t, t)
}

const dotProfile = `# ~/.profile: executed by the command interpreter for login shells.
if [ -n "$BASH_VERSION" ]; then
    if [ -f "$HOME/.bashrc" ]; then
        . "$HOME/.bashrc"
    fi
fi
if [ -d "$HOME/bin" ] ; then
    PATH="$HOME/bin:$PATH"
fi
`
