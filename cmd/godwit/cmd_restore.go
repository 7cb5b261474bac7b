package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/internal/fsmeta"
	"github.com/godwit-backup/godwit/repo/restorer"
)

func newRestoreCommand(e *env) *cobra.Command {
	var (
		ff        filterFlags
		target    string
		includes  []string
		excludes  []string
		owner     string
		sparse    bool
		namesFrom string
	)
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT[:PATH] --target DIR",
		Short: "Restore a snapshot, or part of it",
		Long: `Restore a snapshot under DIR, rebuilding contents, ownership, modes, times,
xattrs and ACLs, symlinks, hardlinks and special files. With SNAPSHOT:PATH only
that file or directory is restored (a directory's contents go straight into DIR).

--owner numeric (default) keeps the numeric uid/gid, like tar --numeric-owner;
--owner name maps users and groups by name on this machine, falling back to the
numeric id; --owner none leaves ownership alone. Ownership needs root.

A restore can be run again after it was interrupted: files already complete are
skipped. Needs an owner credential.`,
		Args: exactArgs(1, "one snapshot"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ioBoundGC()
			ctx := cmd.Context()
			if target == "" {
				return &usageError{"restore needs --target DIR"}
			}
			var om fsmeta.OwnerMode
			switch owner {
			case "numeric":
				om = fsmeta.OwnerNumeric
			case "name":
				om = fsmeta.OwnerName
			case "none":
				om = fsmeta.OwnerNone
			default:
				return &usageError{fmt.Sprintf("--owner %q: want numeric, name or none", owner)}
			}
			ref, path := splitSnapshotRef(args[0])
			r, err := e.openRepoWithIndex(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			if err := requireOwner(r, "restore"); err != nil {
				return err
			}
			// A shared lock keeps prune from deleting packs mid-restore.
			lk, err := r.Lock(ctx, false, e.now)
			if err != nil {
				return err
			}
			defer lk.Release(ctx)
			sn, err := r.FindSnapshot(ctx, ref, ff.filter())
			if err != nil {
				return err
			}
			src := "/" + strings.Trim(path, "/")
			node, err := r.FindNode(ctx, sn.Tree, src)
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
			}
			names, err := namesUnder(namesFrom, e.now())
			if err != nil {
				return err
			}
			var sourceNames *fsmeta.Names
			if om == fsmeta.OwnerName && sn.Manifest != nil {
				if m, err := loadManifest(ctx, r, sn); err != nil {
					e.warn("%v: ids in ACLs are not mapped by name\n", err)
				} else {
					sourceNames = fsmeta.NewNames(fsmeta.WithLookup(manifestNames{m}))
				}
			}
			rep := e.startProgress(ctx, "files")
			defer rep.Stop()
			sum, err := restorer.Restore(ctx, r, node, src, restorer.Options{
				Workers:     e.restoreWorkers(),
				Names:       names,
				SourceNames: sourceNames,
				Target:      target,
				Include:     includes,
				Exclude:     excludes,
				Owner:       om,
				Sparse:      sparse,
				Progress:    rep.Progress(),
				Warn:        e.warnVia(rep),
			})
			if !e.json {
				rep.Stop()
			}
			if sum.ChownSkipped > 0 && om != fsmeta.OwnerNone {
				e.warn("not running as root: ownership was not restored for %d entries\n", sum.ChownSkipped)
			}
			if e.json {
				_ = rep.Finish(map[string]any{"snapshot": sn.ID.String(), "target": target, "summary": sum, "error": errString(err)})
			} else {
				e.info("restored %d files (%s), %d directories, %d hardlinks, %d other from snapshot %s to %s\n",
					sum.Files-sum.Skipped, formatBytes(sum.Bytes), sum.Dirs, sum.Links, sum.Others, sn.ID.Short(), target)
				if sum.Skipped > 0 {
					e.info("%d files were already complete and skipped\n", sum.Skipped)
				}
			}
			if err != nil {
				if errors.Is(err, restorer.ErrDiskFull) {
					return err
				}
				return fmt.Errorf("restore stopped: %w", err)
			}
			if sum.Errors > 0 {
				return fmt.Errorf("%d entries could not be restored completely (see the warnings above)", sum.Errors)
			}
			return nil
		},
	}
	ff.add(cmd)
	f := cmd.Flags()
	f.StringVarP(&target, "target", "t", "", "restore under `DIR`")
	f.StringArrayVar(&includes, "include", nil, "restore only paths matching `PATTERN` (glob; repeatable)")
	f.StringArrayVar(&excludes, "exclude", nil, "do not restore paths matching `PATTERN` (glob; repeatable)")
	f.StringVar(&owner, "owner", "numeric", "ownership: numeric, name or none")
	_ = cmd.RegisterFlagCompletionFunc("owner", cobra.FixedCompletions([]string{"numeric", "name", "none"}, cobra.ShellCompDirectiveNoFileComp))
	f.StringVar(&namesFrom, "names-from", "", "with --owner name, look users and groups up in `DIR`/etc/passwd and DIR/etc/group (restoring into a mounted system)")
	f.BoolVar(&sparse, "sparse", false, "leave holes where files have runs of zero blocks")
	return cmd
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
