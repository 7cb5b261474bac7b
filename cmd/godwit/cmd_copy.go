package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/copier"
	"github.com/godwit-backup/godwit/repo/snapshot"
)

func newCopyCommand(e *env) *cobra.Command {
	var (
		ff   filterFlags
		from = credentials{flagPrefix: "from-", envPrefix: "GODWIT_FROM_", what: "source repository"}
	)
	cmd := &cobra.Command{
		Use:   "copy --from-repo SOURCE [flags] [SNAPSHOT...]",
		Short: "Copy snapshots from another repository into this one",
		Long: `Copy snapshots from the repository given with --from-repo into the one given
with --repo, re-encrypting them to the destination's keys and storing only the
data the destination does not already hold.

SNAPSHOT is an id prefix or "latest" (narrowed by --host, --tag and --path);
without SNAPSHOT arguments every snapshot matching the filters is copied.
Snapshots already in the destination (copied before, or with the same time,
host, paths and tags) are skipped, so copy can run on a schedule.

The source needs an owner credential: --from-password-file, --from-identity-file
(env GODWIT_FROM_REPOSITORY, GODWIT_FROM_PASSWORD_FILE, GODWIT_FROM_PASSWORD,
GODWIT_FROM_IDENTITY_FILE). The destination may be opened with a write key.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCopy(cmd.Context(), e, from, ff.filter(), args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&from.repo, "from-repo", "", "source repository `LOCATION` (env GODWIT_FROM_REPOSITORY)")
	f.StringVar(&from.passwordFile, "from-password-file", "", "read the source repository passphrase from `FILE` (env GODWIT_FROM_PASSWORD_FILE, or GODWIT_FROM_PASSWORD)")
	f.StringVar(&from.identityFile, "from-identity-file", "", "unlock the source with an age identity or SSH private key `FILE` (env GODWIT_FROM_IDENTITY_FILE)")
	ff.add(cmd)
	return cmd
}

func runCopy(ctx context.Context, e *env, from credentials, filter snapshot.Filter, refs []string) error {
	if _, err := e.locationOf(from); err != nil {
		return err
	}
	// The source is opened first: openRepoOf sizes each repository's
	// uploads for its own backend.
	src, err := e.openRepoOf(ctx, from)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer closeRepo(src)
	if err := requireOwner(src, "reading the source repository"); err != nil {
		return err
	}
	dst, err := e.openRepo(ctx)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	defer closeRepo(dst)
	if src.Config().ID == dst.Config().ID {
		return &usageError{"--from-repo and --repo are the same repository"}
	}
	srcLock, err := src.Lock(ctx, false, e.now)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer srcLock.Release(context.WithoutCancel(ctx))
	dstLock, err := dst.Lock(ctx, false, e.now)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	defer dstLock.Release(context.WithoutCancel(ctx))
	for _, r := range []*repo.Repository{src, dst} {
		if err := r.LoadIndex(ctx); err != nil {
			e.warn("%v\n", err)
		}
	}

	snaps, err := selectSnapshots(ctx, e, src, filter, refs)
	if err != nil {
		return err
	}
	existing, err := dst.Snapshots(ctx)
	if err != nil {
		e.warn("destination: %v\n", err)
	}
	mapPath := filepath.Join(e.cacheBase(), dst.Config().ID, "copy-from-"+src.Config().ID+".idmap")
	idMap, err := copier.OpenIDMap(mapPath, src.Config().ID, dst.Config().ID)
	if err != nil {
		e.warn("%v (copying without it)\n", err)
		idMap = nil
	}

	out := copyJSON{Copied: []copiedJSON{}, Skipped: []copiedJSON{}}
	c := copier.New(src, dst, copier.Options{
		Map:       idMap,
		CheckLock: func() error { return firstErr(srcLock.Err(), dstLock.Err()) },
		Warn:      func(err error) { e.warn("%v\n", err) },
		Report: func(ev copier.Event) {
			if ev.Copy == nil {
				out.Skipped = append(out.Skipped, copiedJSON{Source: ev.Source.ID.String(), Copy: ev.Existing.ID.String()})
				e.info("snapshot %s (%s, %s) skipped: already in the destination as %s\n",
					ev.Source.ID.Short(), ev.Source.Host, ev.Source.Time.Local().Format("2006-01-02 15:04:05"), ev.Existing.ID.Short())
				return
			}
			out.Copied = append(out.Copied, copiedJSON{Source: ev.Source.ID.String(), Copy: ev.Copy.ID.String()})
			e.info("snapshot %s (%s, %s) copied as %s: added %s in %d new blobs\n",
				ev.Source.ID.Short(), ev.Source.Host, ev.Source.Time.Local().Format("2006-01-02 15:04:05"), ev.Copy.ID.Short(),
				formatBytes(ev.Stats.BytesAdded), ev.Stats.BlobsAdded)
		},
	})
	stats, err := c.Run(ctx, snaps, existing)
	if err != nil {
		dst.Abort()
		return fmt.Errorf("copy stopped after %d snapshots (those are complete; the next copy reuses what was uploaded): %w", stats.Copied, err)
	}
	out.Stats = stats
	if e.json {
		return e.printJSON(out)
	}
	e.info("%d snapshots copied, %d skipped; read %s from the source, added %s (%s stored)\n",
		stats.Copied, stats.Skipped, formatBytes(stats.BytesRead), formatBytes(stats.BytesAdded), formatBytes(stats.StoredAdded))
	return nil
}

type copiedJSON struct {
	Source string `json:"source"`
	Copy   string `json:"copy"`
}

type copyJSON struct {
	Copied  []copiedJSON `json:"copied"`
	Skipped []copiedJSON `json:"skipped"`
	Stats   copier.Stats `json:"stats"`
}

// selectSnapshots resolves the snapshot references of copy: every
// readable snapshot that passes filter when refs is empty (warning about
// unreadable ones), else each reference ("latest" narrowed by filter, or
// an id prefix), once each.
func selectSnapshots(ctx context.Context, e *env, r *repo.Repository, filter snapshot.Filter, refs []string) ([]*snapshot.Snapshot, error) {
	if len(refs) == 0 {
		list, err := r.Snapshots(ctx)
		if err != nil && len(list) == 0 {
			return nil, fmt.Errorf("source: %w", err)
		}
		if err != nil {
			e.warn("source: %v (copying the others)\n", err)
		}
		var out []*snapshot.Snapshot
		for _, sn := range list {
			if filter.Match(sn) {
				out = append(out, sn)
			}
		}
		return out, nil
	}
	seen := map[string]bool{}
	var out []*snapshot.Snapshot
	for _, ref := range refs {
		sn, err := r.FindSnapshot(ctx, ref, filter)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		if !seen[sn.ID.String()] {
			seen[sn.ID.String()] = true
			out = append(out, sn)
		}
	}
	return out, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
