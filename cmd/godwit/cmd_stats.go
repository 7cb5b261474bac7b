package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/walker"
)

// statsOutput is the --json document of stats (docs/json.md). Sections
// that the mode or the credential cannot fill in are left out.
type statsOutput struct {
	Mode               string            `json:"mode"`
	Snapshots          []string          `json:"snapshots"`
	Restore            *statsRestoreJSON `json:"restore,omitempty"`
	Blobs              *statsBlobsJSON   `json:"blobs,omitempty"`
	Repository         *statsRepoJSON    `json:"repository,omitempty"`
	DeduplicationRatio *float64          `json:"deduplication_ratio,omitempty"`
	CompressionRatio   *float64          `json:"compression_ratio,omitempty"`
}

type statsRestoreJSON struct {
	Files       uint64 `json:"files"`
	Dirs        uint64 `json:"dirs"`
	Others      uint64 `json:"others"`
	RestoreSize uint64 `json:"restore_size"`
}

type statsBlobsJSON struct {
	DataBlobs        int    `json:"data_blobs"`
	DataSize         uint64 `json:"data_size"`
	TreeBlobs        int    `json:"tree_blobs"`
	TreeSize         uint64 `json:"tree_size"`
	UncompressedSize uint64 `json:"uncompressed_size"`
	StoredSize       uint64 `json:"stored_size"`
	Missing          int    `json:"missing"`
}

type statsRepoJSON struct {
	Packs            int    `json:"packs"`
	PackSize         uint64 `json:"pack_size"`
	DataBlobs        int    `json:"data_blobs"`
	TreeBlobs        int    `json:"tree_blobs"`
	UncompressedSize uint64 `json:"uncompressed_size"`
	StoredSize       uint64 `json:"stored_size"`
}

const (
	statsModeRaw     = "raw"
	statsModeRestore = "restore-size"
)

func newStatsCommand(e *env) *cobra.Command {
	var (
		ff   filterFlags
		mode string
	)
	cmd := &cobra.Command{
		Use:   "stats [SNAPSHOT...] [--mode raw|restore-size]",
		Short: "Show sizes, deduplication and compression of snapshots or the repository",
		Long: `Show how much the given snapshots (default: every snapshot, narrowed by
--host, --tag, --path) hold and how much space they take.

--mode restore-size counts the files and their sizes: what restoring every
snapshot would write (a hardlinked file once per snapshot).
--mode raw (default) adds the distinct blobs the snapshots use, each counted
once: their uncompressed size and the size they take in the packs after
compression, with
  deduplication ratio = restore size / uncompressed size of the data blobs
  compression ratio   = uncompressed size / stored size
Without SNAPSHOT arguments it also shows the repository's index: every pack
and blob stored, used or not.

Reading snapshots' trees needs an owner credential. With a write key, stats
without SNAPSHOT arguments shows the index figures only.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if mode != statsModeRaw && mode != statsModeRestore {
				return &usageError{fmt.Sprintf("--mode %q: want raw or restore-size", mode)}
			}
			r, err := e.openRepoWithIndex(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			if !r.CanReadData() && (len(args) > 0 || mode == statsModeRestore) {
				return requireOwner(r, "stats of snapshots' contents")
			}
			snaps, err := statsSnapshots(cmd, r, args, ff.filter())
			if err != nil {
				return err
			}
			out := statsOutput{Mode: mode, Snapshots: []string{}}
			for _, sn := range snaps {
				out.Snapshots = append(out.Snapshots, sn.ID.String())
			}
			if r.CanReadData() {
				var locate walker.Locator
				if mode == statsModeRaw {
					locate = r.Index()
				}
				c := walker.NewCounter(r, locate)
				for _, sn := range snaps {
					if err := c.AddSnapshot(ctx, sn.Tree); err != nil {
						return fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
					}
				}
				s := c.Stats()
				out.Restore = &statsRestoreJSON{Files: s.Files, Dirs: s.Dirs, Others: s.Others, RestoreSize: s.RestoreSize}
				if mode == statsModeRaw {
					out.Blobs = &statsBlobsJSON{DataBlobs: s.DataBlobs, DataSize: s.DataBytes, TreeBlobs: s.TreeBlobs, TreeSize: s.TreeBytes,
						UncompressedSize: s.DataBytes + s.TreeBytes, StoredSize: s.StoredBytes, Missing: s.MissingBlobs}
					out.DeduplicationRatio = ratio(s.RestoreSize, s.DataBytes)
					out.CompressionRatio = ratio(s.DataBytes+s.TreeBytes, s.StoredBytes)
					if s.MissingBlobs > 0 {
						e.warn("%d blobs the snapshots use are not in the index; run godwit check\n", s.MissingBlobs)
					}
				}
			} else {
				e.info("opened with a write key: showing the index figures only\n")
			}
			if len(args) == 0 && mode == statsModeRaw {
				is := walker.CountIndex(r.Index())
				out.Repository = &statsRepoJSON{Packs: is.Packs, PackSize: is.PackBytes, DataBlobs: is.DataBlobs, TreeBlobs: is.TreeBlobs,
					UncompressedSize: is.UncompressedBytes, StoredSize: is.StoredBytes}
				if out.CompressionRatio == nil {
					out.CompressionRatio = ratio(is.UncompressedBytes, is.StoredBytes)
				}
			}
			if e.json {
				return e.printJSON(out)
			}
			printStats(e, out)
			return nil
		},
	}
	ff.add(cmd)
	cmd.Flags().StringVar(&mode, "mode", statsModeRaw, "what to count: raw (blobs and stored size) or restore-size (files only)")
	return cmd
}

// statsSnapshots resolves the SNAPSHOT arguments, or lists every snapshot
// that passes the filter.
func statsSnapshots(cmd *cobra.Command, r *repo.Repository, args []string, f snapshot.Filter) ([]*snapshot.Snapshot, error) {
	ctx := cmd.Context()
	var out []*snapshot.Snapshot
	if len(args) > 0 {
		for _, ref := range args {
			sn, err := r.FindSnapshot(ctx, ref, f)
			if err != nil {
				return nil, err
			}
			out = append(out, sn)
		}
		return out, nil
	}
	list, err := r.Snapshots(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w (stats needs every snapshot)", err)
	}
	for _, sn := range list {
		if f.Match(sn) {
			out = append(out, sn)
		}
	}
	return out, nil
}

// ratio returns a/b, or nil when b is 0.
func ratio(a, b uint64) *float64 {
	if b == 0 {
		return nil
	}
	v := float64(a) / float64(b)
	return &v
}

func printStats(e *env, s statsOutput) {
	w := e.stdout
	fmt.Fprintf(w, "snapshots:           %d\n", len(s.Snapshots))
	if rs := s.Restore; rs != nil {
		fmt.Fprintf(w, "files:               %d (and %d directories, %d other)\n", rs.Files, rs.Dirs, rs.Others)
		fmt.Fprintf(w, "restore size:        %s (%d bytes)\n", formatBytes(rs.RestoreSize), rs.RestoreSize)
	}
	if b := s.Blobs; b != nil {
		fmt.Fprintf(w, "unique blobs:        %d data (%s), %d tree (%s)\n", b.DataBlobs, formatBytes(b.DataSize), b.TreeBlobs, formatBytes(b.TreeSize))
		fmt.Fprintf(w, "uncompressed size:   %s (%d bytes)\n", formatBytes(b.UncompressedSize), b.UncompressedSize)
		fmt.Fprintf(w, "stored size:         %s (%d bytes)\n", formatBytes(b.StoredSize), b.StoredSize)
	}
	if s.DeduplicationRatio != nil {
		fmt.Fprintf(w, "deduplication ratio: %.2f\n", *s.DeduplicationRatio)
	}
	if s.CompressionRatio != nil {
		fmt.Fprintf(w, "compression ratio:   %.2f\n", *s.CompressionRatio)
	}
	if p := s.Repository; p != nil {
		fmt.Fprintf(w, "repository:          %d packs, %s; %d data and %d tree blobs indexed, %s uncompressed, %s stored\n",
			p.Packs, formatBytes(p.PackSize), p.DataBlobs, p.TreeBlobs, formatBytes(p.UncompressedSize), formatBytes(p.StoredSize))
	}
}
