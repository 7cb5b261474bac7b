package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/repo/repair"
)

func newRepairCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Rebuild the index or snapshots of a damaged repository",
		Long: `Repair a damaged repository. See docs/maintenance.md for when to use which:

  godwit repair index       rebuild the index from the pack headers
  godwit repair snapshots   drop files whose data is lost, keep the rest restorable

Both need an owner credential and take the exclusive lock.`,
	}
	logf := func(format string, args ...any) { e.info(format, args...) }
	index := &cobra.Command{
		Use:   "index",
		Short: "Rebuild the index from the headers of the packs",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, done, err := e.openExclusive(cmd, "repair index")
			if err != nil {
				return err
			}
			defer done()
			res, err := repair.RebuildIndex(ctx, r, logf)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(res)
			}
			e.info("indexed %d blobs in %d packs; wrote %d index objects, removed %d\n", res.Blobs, res.Packs, res.IndexWritten, res.IndexRemoved)
			if len(res.Unreadable) > 0 {
				return fmt.Errorf("%d packs could not be read and were left out of the index; run godwit check to see which files they affect, then godwit repair snapshots", len(res.Unreadable))
			}
			return nil
		},
	}
	var dryRun bool
	snaps := &cobra.Command{
		Use:   "snapshots",
		Short: "Drop files whose data is lost from every snapshot",
		Long: `Rewrite every snapshot that needs blobs the index does not have: files whose
content is lost are dropped, directories whose listing is lost become empty. The
repaired snapshot keeps its time, host and paths, gains the tag "repaired", and
replaces the original. --dry-run lists what would be dropped.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, done, err := e.openExclusive(cmd, "repair snapshots")
			if err != nil {
				return err
			}
			defer done()
			if err := r.LoadIndex(ctx); err != nil {
				return fmt.Errorf("%w (run godwit repair index first)", err)
			}
			res, err := repair.RepairSnapshots(ctx, r, dryRun, func(format string, args ...any) {
				if !e.json {
					e.info(format, args...)
				}
			})
			if err != nil {
				return err
			}
			if e.json {
				if res.Dropped == nil {
					res.Dropped = []string{}
				}
				return e.printJSON(res)
			}
			verb := "repaired"
			if dryRun {
				verb = "would repair"
			}
			e.info("%s %d of %d snapshots, dropping %d entries\n", verb, res.Repaired, res.Checked, len(res.Dropped))
			return nil
		},
	}
	snaps.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "only list what would be dropped")
	cmd.AddCommand(index, snaps)
	return cmd
}
