package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/repo/snapshot"
)

// filterFlags are the --host, --tag and --path flags that narrow "latest"
// and listings.
type filterFlags struct {
	hosts, tags, paths []string
}

func (ff *filterFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&ff.hosts, "host", nil, "only snapshots of `HOST` (repeatable)")
	f.StringArrayVar(&ff.tags, "tag", nil, "only snapshots with `TAG` (repeatable; all must match)")
	f.StringArrayVar(&ff.paths, "path", nil, "only snapshots that include `PATH` (repeatable)")
}

func (ff *filterFlags) filter() snapshot.Filter {
	return snapshot.Filter{Hosts: ff.hosts, Tags: ff.tags, Paths: ff.paths}
}

type snapshotJSON struct {
	ID         string           `json:"id"`
	ShortID    string           `json:"short_id"`
	Time       time.Time        `json:"time"`
	Host       string           `json:"host"`
	Username   string           `json:"username,omitempty"`
	Paths      []string         `json:"paths"`
	Tags       []string         `json:"tags,omitempty"`
	Tree       string           `json:"tree"`
	Incomplete bool             `json:"incomplete,omitempty"`
	Manifest   string           `json:"manifest,omitempty"`
	Summary    snapshot.Summary `json:"summary"`
}

func toSnapshotJSON(sn *snapshot.Snapshot) snapshotJSON {
	out := snapshotJSON{
		ID: sn.ID.String(), ShortID: sn.ID.Short(), Time: sn.Time, Host: sn.Host, Username: sn.Username,
		Paths: sn.Paths, Tags: sn.Tags, Tree: sn.Tree.String(), Incomplete: sn.Incomplete, Summary: sn.Summary,
	}
	if sn.Manifest != nil {
		out.Manifest = sn.Manifest.String()
	}
	return out
}

func newSnapshotsCommand(e *env) *cobra.Command {
	var ff filterFlags
	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "List snapshots",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := e.openRepo(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			list, err := r.Snapshots(ctx)
			if err != nil {
				e.warn("%v\n", err)
			}
			f := ff.filter()
			out := []snapshotJSON{}
			for _, sn := range list {
				if f.Match(sn) {
					out = append(out, toSnapshotJSON(sn))
				}
			}
			if e.json {
				return e.printJSON(out)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTime\tHost\tTags\tSize\tPaths")
			for _, s := range out {
				mark := ""
				if s.Incomplete {
					mark = " (incomplete)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%s\n", s.ShortID, s.Time.Local().Format("2006-01-02 15:04:05"),
					s.Host, strings.Join(s.Tags, ","), formatBytes(s.Summary.TotalSize), strings.Join(s.Paths, " "), mark)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			e.info("%d snapshots\n", len(out))
			return nil
		},
	}
	ff.add(cmd)
	return cmd
}
