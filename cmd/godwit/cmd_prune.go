package main

import (
	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/prune"
)

// pruneFlags are shared by prune and forget --prune.
type pruneFlags struct {
	maxUnused      float64
	maxRepackBytes int64
	// progress is set by the prune command only: forget --prune prints
	// one JSON document, not progress lines.
	progress prune.Progress
}

func (pf *pruneFlags) add(cmd *cobra.Command) {
	cmd.Flags().Float64Var(&pf.maxUnused, "max-unused", 5, "repack partly used packs until at most `PERCENT` of the repository is unused")
	cmd.Flags().Int64Var(&pf.maxRepackBytes, "max-repack-size", 0, "repack at most `BYTES` of packs in this run (0: no limit)")
}

func newPruneCommand(e *env) *cobra.Command {
	var (
		pf     pruneFlags
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete data no snapshot uses",
		Long: `Delete packs that hold nothing any snapshot uses, repack partly used packs
while more than --max-unused percent of the repository is unused, and rewrite
the index. The new index is written before anything is deleted. Needs an owner
credential and takes the exclusive lock.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := e.openOwnerRepo(cmd, "prune")
			if err != nil {
				return err
			}
			defer closeRepo(r)
			rep := e.startProgress(cmd.Context(), "packs")
			defer rep.Stop()
			pf.progress = rep.Progress()
			plan, err := runPrune(cmd, e, r, pf, dryRun)
			if err != nil {
				return err
			}
			if e.json {
				return rep.Finish(map[string]any{"dry_run": dryRun, "plan": plan})
			}
			rep.Stop()
			printPrune(e, plan, dryRun)
			return nil
		},
	}
	pf.add(cmd)
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "only show what would be deleted and repacked")
	return cmd
}

// runPrune takes the exclusive lock and prunes.
func runPrune(cmd *cobra.Command, e *env, r *repo.Repository, pf pruneFlags, dryRun bool) (prune.Plan, error) {
	ctx := cmd.Context()
	if pf.maxUnused < 0 || pf.maxUnused > 100 {
		return prune.Plan{}, &usageError{"--max-unused wants a percentage from 0 to 100"}
	}
	lk, err := r.Lock(ctx, true, e.now)
	if err != nil {
		return prune.Plan{}, err
	}
	defer lk.Release(ctx)
	plan, err := prune.Run(ctx, r, prune.Options{
		MaxUnused:      pf.maxUnused / 100,
		MaxRepackBytes: pf.maxRepackBytes,
		DryRun:         dryRun,
		Progress:       pf.progress,
		Log: func(format string, args ...any) {
			if e.verbose {
				e.info(format, args...)
			}
		},
	})
	return plan, err
}

func printPrune(e *env, plan prune.Plan, dryRun bool) {
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	e.info("%d snapshots use %d blobs; %d blobs are unused\n", plan.Snapshots, plan.UsedBlobs, plan.UnusedBlobs)
	e.info("%s %d unused packs (%s) and %d unindexed packs (%s)\n", verb, plan.DeletePacks, formatBytes(uint64(plan.DeleteBytes)),
		plan.UnindexedPacks, formatBytes(uint64(plan.UnindexedBytes)))
	verb = "repacked"
	if dryRun {
		verb = "would repack"
	}
	e.info("%s %d partly used packs (%s)\n", verb, plan.RepackPacks, formatBytes(uint64(plan.RepackBytes)))
	if plan.Retained > 0 {
		e.info("%d objects are under retention (S3 Object Lock) and stay until it ends; a later prune removes them\n", plan.Retained)
	}
	e.info("space freed: %s of %s; unused space left: about %s\n", formatBytes(uint64(max(plan.Freed, 0))),
		formatBytes(uint64(plan.TotalBytes)), formatBytes(uint64(plan.UnusedAfter)))
}

func newUnlockCommand(e *env) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "unlock",
		Short: "Remove stale locks",
		Long: `Remove locks left by processes that died: locks not refreshed for 30 minutes,
and locks of processes on this host that no longer exist. --remove-all removes
every lock; use it only when you are sure no other godwit process runs.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := e.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer closeRepo(r)
			n, err := r.RemoveLocks(cmd.Context(), all, e.now)
			if err != nil {
				return err
			}
			e.info("removed %s\n", plural(n, "lock"))
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "remove-all", false, "remove all locks, not only stale ones")
	return cmd
}
