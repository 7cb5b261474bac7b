package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/internal/mailbox"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
)

const mailSourcesHelp = `Messages are looked for in two kinds of files:
  - Maildir messages: a file in <maildir>/cur/ or <maildir>/new/ (not tmp/,
    not dotfiles), wherever the Maildir is;
  - mbox files: a regular file directly in a var/mail/ or var/spool/mail/
    directory (/var/mail/alice; lock files and dotfiles excepted), and, in a
    home directory (/home/USER/), a file named "mbox" or any file under
    /home/USER/mail/ or /home/USER/Mail/ that begins with "From ".
--user USER keeps Maildirs under /home/USER/, mbox files there and the spool
/var/mail/USER (or /var/spool/mail/USER). The directories are recognised
wherever they appear in the snapshot, so a backup of a chroot or of a
restored tree is searched the same way.`

func newMailCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mail",
		Short: "Find and restore single mail messages",
		Long: `Search the Maildir and mbox messages of snapshots by header, and put single
messages back into a Maildir or an mbox without touching anything else.

` + mailSourcesHelp,
	}
	cmd.AddCommand(newMailFindCommand(e), newMailRestoreCommand(e))
	return cmd
}

func newMailFindCommand(e *env) *cobra.Command {
	var (
		all          bool
		user         string
		hosts, tags  []string
		qf           mailQueryFlags
		sinceS, tilS string
	)
	cmd := &cobra.Command{
		Use:   "find [SNAPSHOT|--all]",
		Short: "Search mail messages in snapshots by header",
		Long: `Search the mail messages of a snapshot (default: latest) or, with --all, of
every snapshot, newest first. Only message headers are read: a Maildir
message's first blobs up to the end of its header, and an mbox file streamed
blob by blob. From, To and Subject match a case-insensitive substring of the
decoded field; --message-id matches exactly, with or without angle brackets;
--since and --until take 2006-01-02 (local time, whole days) or RFC 3339 and
bound the Date field inclusively. A message found in several snapshots at
the same path with the same Message-ID is listed once, with the newest
snapshot, unless --verbose.

` + mailSourcesHelp + `

Needs an owner credential.`,
		Args: rangeArgs(0, 1, "at most one snapshot"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if all && len(args) > 0 {
				return &usageError{"mail find takes a snapshot or --all, not both"}
			}
			q, err := qf.query(sinceS, tilS)
			if err != nil {
				return err
			}
			r, err := e.openRepoWithIndex(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			if err := requireOwner(r, "mail find"); err != nil {
				return err
			}
			filter := snapshot.Filter{Hosts: hosts, Tags: tags}
			var snaps []*snapshot.Snapshot
			if all {
				list, err := r.Snapshots(ctx)
				if err != nil {
					e.warn("%v\n", err)
				}
				for i := len(list) - 1; i >= 0; i-- {
					if filter.Match(list[i]) {
						snaps = append(snaps, list[i])
					}
				}
			} else {
				ref := "latest"
				if len(args) == 1 {
					ref = args[0]
				}
				sn, err := r.FindSnapshot(ctx, ref, filter)
				if err != nil {
					return err
				}
				snaps = append(snaps, sn)
			}
			s := newMailSearch(ctx, r, q, user, e)
			dedup := all && !e.verbose
			if dedup {
				s.seen = map[string]bool{}
			}
			hits := []mailHit{}
			listed := map[string]bool{}
			for _, sn := range snaps {
				err := s.search(sn, "/", func(h mailHit) error {
					if dedup {
						k := h.dedupKey()
						if listed[k] {
							return nil
						}
						listed[k] = true
					}
					hits = append(hits, h)
					return nil
				})
				if err != nil {
					return err
				}
			}
			if err := e.printMailHits(hits); err != nil {
				return err
			}
			if !e.json {
				e.info("%d messages in %d snapshots\n", len(hits), len(snaps))
			}
			return s.err()
		},
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "search every snapshot, newest first")
	f.StringVar(&user, "user", "", "only the mailboxes of `USER` (/home/USER/..., /var/mail/USER)")
	f.StringArrayVar(&hosts, "host", nil, "only snapshots of `HOST` (repeatable)")
	f.StringArrayVar(&tags, "tag", nil, "only snapshots with `TAG` (repeatable; all must match)")
	qf.add(cmd)
	f.StringVar(&sinceS, "since", "", "only messages dated at or after `DATE` (2006-01-02 or RFC 3339)")
	f.StringVar(&tilS, "until", "", "only messages dated at or before `DATE` (2006-01-02 or RFC 3339)")
	return cmd
}

func newMailRestoreCommand(e *env) *cobra.Command {
	var msgID, where, toMaildir, toMbox string
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT --message-id ID (--to-maildir DIR | --to-mbox FILE)",
		Short: "Put one message from a snapshot back into a mailbox",
		Long: `Find the message with the given Message-ID in a snapshot and deliver it as a
new message: into DIR/new/ under a fresh unique name (DIR, tmp, new and cur
are created if missing), or appended to the mbox FILE under its dotlock and
fcntl lock, with mboxrd "From " quoting. Nothing else in the mailbox is
read, changed or removed.

The delivered message is owned like its mailbox: like the existing DIR or
FILE, or, when it does not exist yet, like the message in the snapshot.
Ownership is only set when running as root.

When several messages have the Message-ID, they are listed and --path must
choose one: the path of the file, or for an mbox message PATH#N as shown by
"mail find". --path may also name a directory to search only below it.

` + mailSourcesHelp + `

Needs an owner credential.`,
		Args: exactArgs(1, "one snapshot"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if msgID == "" {
				return &usageError{"mail restore needs --message-id ID (find it with 'godwit mail find')"}
			}
			if (toMaildir == "") == (toMbox == "") {
				return &usageError{"mail restore needs exactly one of --to-maildir DIR and --to-mbox FILE"}
			}
			r, err := e.openRepoWithIndex(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			if err := requireOwner(r, "mail restore"); err != nil {
				return err
			}
			// A shared lock keeps prune from deleting packs while the
			// message is read.
			lk, err := r.Lock(ctx, false, e.now)
			if err != nil {
				return err
			}
			defer lk.Release(ctx)
			sn, err := r.FindSnapshot(ctx, args[0], snapshot.Filter{})
			if err != nil {
				return err
			}
			hit, err := e.findOneMessage(ctx, r, sn, msgID, where)
			if err != nil {
				return err
			}
			msg, err := readMessage(ctx, repoBlobs{r}, hit)
			if err != nil {
				return fmt.Errorf("read %s: %w", quotePath(hit.displayPath()), err)
			}
			dest, err := e.deliver(hit, msg, toMaildir, toMbox)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"snapshot": sn.ID.String(), "source": hit.displayPath(), "message_id": hit.Header.MessageID, "delivered_to": dest})
			}
			e.info("restored %s from snapshot %s to %s\n", quotePath(hit.displayPath()), sn.ID.Short(), quotePath(dest))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&msgID, "message-id", "", "the Message-ID of the message to restore, with or without <>")
	f.StringVar(&where, "path", "", "the message's `PATH` (or PATH#N in an mbox), or a directory to search in")
	f.StringVar(&toMaildir, "to-maildir", "", "deliver into the Maildir `DIR` (new/)")
	f.StringVar(&toMbox, "to-mbox", "", "append to the mbox `FILE`")
	return cmd
}

// findOneMessage returns the only message of sn with the Message-ID id,
// below where if given, or an error listing the candidates.
func (e *env) findOneMessage(ctx context.Context, r *repo.Repository, sn *snapshot.Snapshot, id, where string) (mailHit, error) {
	start, exact := "/", ""
	if where != "" {
		start = "/" + strings.Trim(where, "/")
		if _, err := r.FindNode(ctx, sn.Tree, start); err != nil {
			// PATH#N names one message of an mbox.
			i := strings.LastIndexByte(start, '#')
			if i < 0 {
				return mailHit{}, fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
			}
			if _, aerr := strconv.Atoi(start[i+1:]); aerr != nil {
				return mailHit{}, fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
			}
			start, exact = start[:i], start
		}
	}
	s := newMailSearch(ctx, r, mailbox.Query{MessageID: id}, "", e)
	var hits []mailHit
	err := s.search(sn, start, func(h mailHit) error {
		if exact == "" || h.displayPath() == exact {
			hits = append(hits, h)
		}
		return nil
	})
	if err == nil {
		err = s.err()
	}
	switch {
	case len(hits) == 1:
		return hits[0], nil
	case err != nil:
		return mailHit{}, err
	case len(hits) == 0:
		return mailHit{}, fmt.Errorf("no message with Message-ID %s in snapshot %s", id, sn.ID.Short())
	}
	fmt.Fprintf(e.stderr, "messages with Message-ID %s in snapshot %s:\n", id, sn.ID.Short())
	for _, h := range hits {
		fmt.Fprintf(e.stderr, "  %s\n", quotePath(h.displayPath()))
	}
	return mailHit{}, fmt.Errorf("%d messages have Message-ID %s: choose one with --path", len(hits), id)
}

// deliver puts msg into the Maildir or mbox and returns where it went.
func (e *env) deliver(hit mailHit, msg []byte, toMaildir, toMbox string) (string, error) {
	uid, gid := int(hit.Node.UID), int(hit.Node.GID)
	target := toMaildir
	if target == "" {
		target = toMbox
	}
	if fi, err := os.Stat(target); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	chown := os.Geteuid() == 0
	if toMaildir != "" {
		host, _ := os.Hostname()
		return mailbox.DeliverMaildir(toMaildir, msg, uid, gid, chown, e.now(), host)
	}
	sender, date := "", e.now()
	if hit.Mbox != nil {
		sender, date = parseSeparator(hit.separator, date)
	}
	if err := mailbox.AppendMbox(toMbox, msg, sender, uid, gid, chown, date); err != nil {
		return "", err
	}
	return toMbox, nil
}

// parseSeparator returns the envelope sender and date of an mbox "From "
// line; the date is def when it cannot be parsed.
func parseSeparator(sep string, def time.Time) (string, time.Time) {
	f := strings.Fields(sep)
	if len(f) < 2 || f[0] != "From" {
		return "", def
	}
	if len(f) >= 7 {
		if t, err := time.Parse(time.ANSIC, strings.Join(f[2:7], " ")); err == nil {
			return f[1], t
		}
	}
	return f[1], def
}

// mailQueryFlags are the header filters of mail find.
type mailQueryFlags struct{ from, to, subject, messageID string }

func (qf *mailQueryFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&qf.from, "from", "", "From contains `TEXT` (case-insensitive)")
	f.StringVar(&qf.to, "to", "", "To contains `TEXT` (case-insensitive)")
	f.StringVar(&qf.subject, "subject", "", "Subject contains `TEXT` (case-insensitive)")
	f.StringVar(&qf.messageID, "message-id", "", "Message-ID is `ID` (with or without <>)")
}

func (qf *mailQueryFlags) query(since, until string) (mailbox.Query, error) {
	q := mailbox.Query{From: qf.from, To: qf.to, Subject: qf.subject, MessageID: qf.messageID}
	var err error
	if q.Since, err = parseMailDate("--since", since, false); err != nil {
		return q, err
	}
	q.Until, err = parseMailDate("--until", until, true)
	return q, err
}

// parseMailDate accepts an RFC 3339 time or a local date; a date stands
// for its first instant, or its last when end is true.
func parseMailDate(flag, s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, time.Local)
	if err != nil {
		return time.Time{}, &usageError{fmt.Sprintf("%s %q: want a date (2006-01-02) or an RFC 3339 time (2006-01-02T15:04:05Z)", flag, s)}
	}
	if end {
		t = t.AddDate(0, 0, 1).Add(-time.Nanosecond)
	}
	return t, nil
}

// mailHit is one message found in a snapshot.
type mailHit struct {
	Snapshot *snapshot.Snapshot
	Path     string     // the Maildir message or the mbox file
	Node     *tree.Node // the file's node
	Mbox     *mboxPos   // nil for a Maildir message
	Header   mailbox.Header

	separator string // the mbox "From " line
}

// mboxPos locates a message in an mbox file; Number counts from 1.
type mboxPos struct {
	Number int   `json:"number"`
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
}

// displayPath is the path, with "#N" for an mbox message.
func (h mailHit) displayPath() string {
	if h.Mbox == nil {
		return h.Path
	}
	return h.Path + "#" + strconv.Itoa(h.Mbox.Number)
}

// dedupKey identifies a message across snapshots: its path and
// Message-ID, or for a message without one its path and main fields.
func (h mailHit) dedupKey() string {
	if id := strings.Trim(strings.TrimSpace(h.Header.MessageID), "<>"); id != "" {
		return h.Path + "\x00" + id
	}
	return strings.Join([]string{h.Path, "", h.Header.From, h.Header.Subject, h.Header.Date.String()}, "\x00")
}

// mailFindOutput is the --json document of mail find (docs/json.md).
type mailFindOutput struct {
	Messages []mailHitJSON `json:"messages"`
}

type mailHitJSON struct {
	Snapshot  string         `json:"snapshot"`
	Path      tree.RawString `json:"path"`
	Mbox      *mboxPos       `json:"mbox,omitempty"`
	MessageID string         `json:"message_id"`
	From      string         `json:"from"`
	To        string         `json:"to"`
	Subject   string         `json:"subject"`
	// Date is omitted when the message has no usable Date field.
	Date *time.Time `json:"date,omitempty"`
}

func (e *env) printMailHits(hits []mailHit) error {
	if e.json {
		out := make([]mailHitJSON, len(hits))
		for i, h := range hits {
			out[i] = mailHitJSON{Snapshot: h.Snapshot.ID.String(), Path: tree.RawString(h.Path), Mbox: h.Mbox, MessageID: h.Header.MessageID,
				From: h.Header.From, To: h.Header.To, Subject: h.Header.Subject}
			if d := h.Header.Date; !d.IsZero() {
				out[i].Date = &d
			}
		}
		return e.printJSON(mailFindOutput{Messages: out})
	}
	if len(hits) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "Snapshot\tDate\tFrom\tSubject\tPath")
	for _, h := range hits {
		date := "-"
		if !h.Header.Date.IsZero() {
			date = h.Header.Date.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.Snapshot.ID.Short(), date, cell(h.Header.From, 32), cell(h.Header.Subject, 60), quotePath(h.displayPath()))
	}
	return tw.Flush()
}

// cell makes header text safe for one table cell: control characters
// (which a decoded header may hold) become spaces, and text longer than
// max runes is cut with an ellipsis.
func cell(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}
