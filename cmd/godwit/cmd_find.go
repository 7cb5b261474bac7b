package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
	"github.com/godwit-backup/godwit/repo/walker"
)

// findOutput is the --json document of find (docs/json.md).
type findOutput struct {
	Patterns          []string        `json:"patterns"`
	SnapshotsSearched int             `json:"snapshots_searched"`
	Matches           []findMatchJSON `json:"matches"`
}

type findMatchJSON struct {
	Snapshot string         `json:"snapshot"`
	Path     tree.RawString `json:"path"`
	Type     tree.NodeType  `json:"type"`
	Mode     uint32         `json:"mode"`
	Size     uint64         `json:"size"`
	MTime    time.Time      `json:"mtime"`
}

func newFindCommand(e *env) *cobra.Command {
	var (
		ff            filterFlags
		snapshots     []string
		ignoreCase    bool
		oldestS, newS string
	)
	cmd := &cobra.Command{
		Use:   "find [flags] PATTERN...",
		Short: "Find files by name in snapshots",
		Long: `Search every snapshot (or those chosen with --snapshot, --host, --tag, --path)
for entries that match any PATTERN, and print, per snapshot, each match's
mode, size, mtime and path.

Patterns are shell globs (*, ?, [abc]). A pattern without a slash matches the
base name at any depth ("*.cf", "Maildir"); a pattern with a slash matches the
whole path from the snapshot root ("/etc/postfix/*.cf", "/home/*/Maildir").
Quote patterns so the shell does not expand them.

--oldest and --newest keep entries whose mtime is at or after, or at or before,
a date (2006-01-02, local time, a whole day) or an RFC 3339 time. Snapshots are
searched oldest first; directories shared with a snapshot already searched are
not read again, but their matches are listed for every snapshot that has them.
Needs an owner credential.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &usageError{"usage: " + cmd.UseLine() + " (at least one pattern)"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			m, err := walker.NewMatcher(args, ignoreCase)
			if err != nil {
				return &usageError{err.Error()}
			}
			oldest, err := parseMailDate("--oldest", oldestS, false)
			if err != nil {
				return err
			}
			newest, err := parseMailDate("--newest", newS, true)
			if err != nil {
				return err
			}
			r, err := e.openRepoWithIndex(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			if err := requireOwner(r, "find"); err != nil {
				return err
			}
			var snaps []*snapshot.Snapshot
			if len(snapshots) > 0 {
				for _, ref := range snapshots {
					sn, err := r.FindSnapshot(ctx, ref, ff.filter())
					if err != nil {
						return err
					}
					snaps = append(snaps, sn)
				}
			} else {
				list, err := r.Snapshots(ctx)
				if err != nil {
					e.warn("%v\n", err)
				}
				f := ff.filter()
				for _, sn := range list {
					if f.Match(sn) {
						snaps = append(snaps, sn)
					}
				}
			}
			keep := func(n *tree.Node) bool {
				return (oldest.IsZero() || !n.MTime.Before(oldest)) && (newest.IsZero() || !n.MTime.After(newest))
			}
			finder := walker.NewFinder(r, m, keep)
			out := findOutput{Patterns: args, SnapshotsSearched: len(snaps), Matches: []findMatchJSON{}}
			total, withMatches := 0, 0
			for _, sn := range snaps {
				n := 0
				err := finder.Find(ctx, sn.Tree, func(mt walker.Match) error {
					n++
					if e.json {
						out.Matches = append(out.Matches, findMatchJSON{Snapshot: sn.ID.String(), Path: tree.RawString(mt.Path),
							Type: mt.Node.Type, Mode: mt.Node.Mode, Size: mt.Node.Size, MTime: mt.Node.MTime})
						return nil
					}
					if n == 1 {
						fmt.Fprintf(e.stdout, "snapshot %s of %s, host %s:\n", sn.ID.Short(), sn.Time.Local().Format("2006-01-02 15:04:05"), sn.Host)
					}
					_, err := fmt.Fprintf(e.stdout, "  %s %10d %s %s%s\n", modeString(mt.Node), mt.Node.Size,
						mt.Node.MTime.Local().Format("2006-01-02 15:04:05"), quotePath(mt.Path), linkSuffix(mt.Node))
					return err
				})
				if err != nil {
					return fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
				}
				total += n
				if n > 0 {
					withMatches++
				}
			}
			if e.json {
				return e.printJSON(out)
			}
			e.info("%d matches in %d of %s\n", total, withMatches, plural(len(snaps), "snapshot"))
			return nil
		},
	}
	ff.add(cmd)
	f := cmd.Flags()
	f.StringArrayVarP(&snapshots, "snapshot", "s", nil, "search only snapshot `ID` (repeatable; \"latest\" is narrowed by --host, --tag, --path)")
	f.BoolVar(&ignoreCase, "ignore-case", false, "match patterns without regard to case")
	f.StringVarP(&oldestS, "oldest", "O", "", "only entries modified at or after `DATE`")
	f.StringVarP(&newS, "newest", "N", "", "only entries modified at or before `DATE`")
	return cmd
}
