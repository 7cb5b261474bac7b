package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/internal/profile"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/forget"
	"github.com/godwit-backup/godwit/repo/prune"
	"github.com/godwit-backup/godwit/repo/snapshot"
)

func newForgetCommand(e *env) *cobra.Command {
	var (
		ff       filterFlags
		pf       pruneFlags
		policy   forget.Policy
		within   string
		keepTags []string
		groupBy  string
		dryRun   bool
		doPrune  bool
	)
	cmd := &cobra.Command{
		Use:   "forget [flags] [SNAPSHOT...]",
		Short: "Remove snapshots by a retention policy, or by id",
		Long: `Remove snapshots, either those named by id or those a retention policy does
not keep. Policies work as in restic: --keep-daily 7 keeps the newest snapshot of
each of the 7 most recent days that have snapshots, and so on; a snapshot kept
by any rule stays. Snapshots are grouped by --group-by (default host,paths) and
each group is treated on its own. --keep-within 30d keeps everything within 30
days of the group's newest snapshot. --dry-run shows what would be kept and why.

forget only removes snapshot objects; their data stays until prune (or --prune)
deletes it. Needs an owner credential for --prune; forget alone works with any
credential that can read snapshots.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if within != "" {
				d, err := profile.ParseDuration(within)
				if err != nil {
					return &usageError{fmt.Sprintf("--keep-within %v", err)}
				}
				policy.Within = d
			}
			for _, t := range keepTags {
				policy.Tags = append(policy.Tags, strings.Split(t, ","))
			}
			if err := policy.Validate(); err != nil {
				return &usageError{err.Error()}
			}
			if policy.Empty() && len(args) == 0 {
				return &usageError{"forget needs snapshot ids or a policy (--keep-last, --keep-daily, ...); nothing was removed"}
			}
			if !policy.Empty() && len(args) > 0 {
				return &usageError{"give either snapshot ids or a policy, not both"}
			}
			by, err := forget.ParseGroupBy(groupBy)
			if err != nil {
				return &usageError{err.Error()}
			}
			r, err := e.openRepo(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			if doPrune {
				if err := requireOwner(r, "forget --prune"); err != nil {
					return err
				}
			}
			lk, err := r.Lock(ctx, true, e.now)
			if err != nil {
				return err
			}
			defer lk.Release(ctx)

			var remove []*snapshot.Snapshot
			var groups []forget.Group
			if len(args) > 0 {
				for _, ref := range args {
					sn, err := r.FindSnapshot(ctx, ref, snapshot.Filter{})
					if err != nil {
						return err
					}
					remove = append(remove, sn)
				}
			} else {
				all, err := r.Snapshots(ctx)
				if err != nil {
					return fmt.Errorf("%w (forget needs to read every snapshot; nothing was removed)", err)
				}
				f := ff.filter()
				var list []*snapshot.Snapshot
				for _, sn := range all {
					if f.Match(sn) {
						list = append(list, sn)
					}
				}
				groups = forget.Apply(list, policy, by, time.Local)
				remove = notKept(groups)
			}
			out := forgetJSON(groups, remove, dryRun)
			if !e.json {
				printForget(e, policy, groups, remove, dryRun)
			}
			if dryRun {
				if e.json {
					return e.printJSON(out)
				}
				return nil
			}
			removed, retained, err := removeSnapshots(ctx, e, r, remove)
			if err != nil {
				return err
			}
			out.Removed, out.Retained = removed, retained
			if !e.json {
				e.info("removed %s\n", plural(removed, "snapshot"))
			}
			if doPrune && removed > 0 {
				lk.Release(ctx)
				plan, err := runPrune(cmd, e, r, pf, false)
				if err != nil {
					return err
				}
				out.Prune = &plan
				if !e.json {
					printPrune(e, plan, false)
				}
			}
			if e.json {
				return e.printJSON(out)
			}
			return nil
		},
	}
	ff.add(cmd)
	pf.add(cmd)
	f := cmd.Flags()
	f.IntVar(&policy.Last, "keep-last", 0, "keep the `N` newest snapshots (-1: all)")
	f.IntVar(&policy.Hourly, "keep-hourly", 0, "keep the newest snapshot of each of the last `N` hours that have one")
	f.IntVar(&policy.Daily, "keep-daily", 0, "keep the newest snapshot of each of the last `N` days that have one")
	f.IntVar(&policy.Weekly, "keep-weekly", 0, "keep the newest snapshot of each of the last `N` ISO weeks that have one")
	f.IntVar(&policy.Monthly, "keep-monthly", 0, "keep the newest snapshot of each of the last `N` months that have one")
	f.IntVar(&policy.Yearly, "keep-yearly", 0, "keep the newest snapshot of each of the last `N` years that have one")
	f.StringVar(&within, "keep-within", "", "keep every snapshot within `DURATION` (e.g. 30d, 2w, 1y, 36h) of the newest")
	f.StringArrayVar(&keepTags, "keep-tag", nil, "keep snapshots that have all of the comma-separated `TAGS` (repeatable)")
	f.StringVar(&groupBy, "group-by", "host,paths", "group snapshots by `FIELDS` (host, paths, tags; empty for one group)")
	f.BoolVarP(&dryRun, "dry-run", "n", false, "show what would be removed, and why the rest is kept")
	f.BoolVar(&doPrune, "prune", false, "run prune afterwards")
	return cmd
}

// notKept returns the snapshots that forget's decisions do not keep.
func notKept(groups []forget.Group) []*snapshot.Snapshot {
	var remove []*snapshot.Snapshot
	for _, g := range groups {
		for _, d := range g.Decisions {
			if !d.Keep {
				remove = append(remove, d.Snapshot)
			}
		}
	}
	return remove
}

// removeSnapshots removes the snapshot objects of remove. One that object
// lock retention protects stays, with a warning, and is counted as
// retained; any other error stops the removal.
func removeSnapshots(ctx context.Context, e *env, r *repo.Repository, remove []*snapshot.Snapshot) (removed, retained int, err error) {
	for _, sn := range remove {
		err := r.Remove(ctx, backends.Handle{Type: backends.SnapshotFile, Name: sn.ID.String()})
		switch {
		case errors.Is(err, backends.ErrRetained):
			retained++
			e.warn("snapshot %s stays: %v\n", sn.ID.Short(), err)
		case err != nil:
			return removed, retained, err
		default:
			removed++
		}
	}
	return removed, retained, nil
}

func printForget(e *env, p forget.Policy, groups []forget.Group, remove []*snapshot.Snapshot, dryRun bool) {
	if len(groups) > 0 {
		e.info("policy: %s\n", p)
	}
	for _, g := range groups {
		e.info("\nsnapshots of host %q, paths %s, tags %s:\n", g.Key.Host, strings.Join(g.Key.Paths, " "), strings.Join(g.Key.Tags, ","))
		w := e.stdout
		if e.quiet {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTime\tAction\tReasons")
		for _, d := range g.Decisions {
			action := "remove"
			if d.Keep {
				action = "keep"
			}
			var reasons []string
			for _, r := range d.Reasons {
				reasons = append(reasons, r.String())
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Snapshot.ID.Short(), d.Snapshot.Time.Local().Format("2006-01-02 15:04:05"), action, strings.Join(reasons, "; "))
		}
		tw.Flush()
	}
	if dryRun {
		e.info("\nwould remove %s (dry run: nothing changed)\n", plural(len(remove), "snapshot"))
	}
}

// forgetOutput is the --json document of forget (docs/json.md).
type forgetOutput struct {
	DryRun bool `json:"dry_run"`
	// Groups is empty when snapshots were named by id.
	Groups []forgetGroupJSON `json:"groups"`
	// Remove lists the snapshots to remove; Removed and Retained count
	// those that were removed and those under retention that stay (both
	// 0 in a dry run).
	Remove   []string `json:"remove"`
	Removed  int      `json:"removed"`
	Retained int      `json:"retained"`
	// Prune is the prune plan, with --prune when something was removed.
	Prune *prune.Plan `json:"prune,omitempty"`
}

type forgetGroupJSON struct {
	Key       forget.GroupKey      `json:"group"`
	Decisions []forgetDecisionJSON `json:"snapshots"`
}

type forgetDecisionJSON struct {
	ID      string          `json:"id"`
	Time    time.Time       `json:"time"`
	Keep    bool            `json:"keep"`
	Reasons []forget.Reason `json:"reasons"`
}

func forgetJSON(groups []forget.Group, remove []*snapshot.Snapshot, dryRun bool) *forgetOutput {
	out := &forgetOutput{DryRun: dryRun, Groups: []forgetGroupJSON{}, Remove: []string{}}
	for _, g := range groups {
		gj := forgetGroupJSON{Key: g.Key, Decisions: []forgetDecisionJSON{}}
		for _, d := range g.Decisions {
			reasons := d.Reasons
			if reasons == nil {
				reasons = []forget.Reason{}
			}
			gj.Decisions = append(gj.Decisions, forgetDecisionJSON{ID: d.Snapshot.ID.String(), Time: d.Snapshot.Time, Keep: d.Keep, Reasons: reasons})
		}
		out.Groups = append(out.Groups, gj)
	}
	for _, sn := range remove {
		out.Remove = append(out.Remove, sn.ID.String())
	}
	return out
}
