package main

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/tree"
)

// splitSnapshotRef splits "ID:path" into its parts; path defaults to "/".
func splitSnapshotRef(ref string) (string, string) {
	id, path, ok := strings.Cut(ref, ":")
	if !ok || path == "" {
		return id, "/"
	}
	return id, path
}

func newLsCommand(e *env) *cobra.Command {
	var (
		ff   filterFlags
		long bool
	)
	cmd := &cobra.Command{
		Use:   "ls SNAPSHOT [PATH]",
		Short: "List the files in a snapshot",
		Long: `List the files of a snapshot, recursively, from PATH (default: the root).
SNAPSHOT is an id prefix or "latest" (narrowed by --host, --tag, --path).
Needs an owner credential: file names are not readable with a write key.`,
		Args: rangeArgs(1, 2, "a snapshot and optionally a path"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ref, path := splitSnapshotRef(args[0])
			if len(args) == 2 {
				path = args[1]
			}
			r, err := e.openRepoWithIndex(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			if err := requireOwner(r, "ls"); err != nil {
				return err
			}
			sn, err := r.FindSnapshot(ctx, ref, ff.filter())
			if err != nil {
				return err
			}
			start := "/" + strings.Trim(path, "/")
			node, err := r.FindNode(ctx, sn.Tree, start)
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
			}
			var items []lsJSON
			emit := func(p string, n *tree.Node) {
				if e.json {
					items = append(items, toLsJSON(p, n))
					return
				}
				if long {
					fmt.Fprintf(e.stdout, "%s %8s %8s %10d %s %s%s\n", modeString(n), ownerName(string(n.User), n.UID), ownerName(string(n.Group), n.GID),
						n.Size, n.MTime.Local().Format("2006-01-02 15:04:05"), quotePath(p), linkSuffix(n))
				} else {
					fmt.Fprintln(e.stdout, quotePath(p))
				}
			}
			if node.Type == tree.Dir && start != "/" {
				emit(start, node)
			} else if node.Type != tree.Dir {
				emit(start, node)
			}
			if node.Type == tree.Dir && node.Subtree != nil {
				if err := walkTree(ctx, r, *node.Subtree, start, emit); err != nil {
					return err
				}
			}
			if e.json {
				if items == nil {
					items = []lsJSON{}
				}
				return e.printJSON(lsOutput{Snapshot: sn.ID.String(), Nodes: items})
			}
			return nil
		},
	}
	ff.add(cmd)
	cmd.Flags().BoolVarP(&long, "long", "l", false, "long listing: mode, owner, size, mtime")
	return cmd
}

// walkTree calls fn for every node below the tree, depth first.
func walkTree(ctx context.Context, r *repo.Repository, id blob.ID, dir string, fn func(string, *tree.Node)) error {
	t, err := r.LoadTree(ctx, id)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	for _, n := range t.Nodes {
		p := strings.TrimSuffix(dir, "/") + "/" + string(n.Name)
		fn(p, n)
		if n.Type == tree.Dir && n.Subtree != nil {
			if err := walkTree(ctx, r, *n.Subtree, p, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// lsOutput is the --json document of ls (docs/json.md).
type lsOutput struct {
	Snapshot string   `json:"snapshot"`
	Nodes    []lsJSON `json:"nodes"`
}

type lsJSON struct {
	Path       string         `json:"path"`
	Name       tree.RawString `json:"name"`
	Type       tree.NodeType  `json:"type"`
	Mode       uint32         `json:"mode"`
	UID        uint32         `json:"uid"`
	GID        uint32         `json:"gid"`
	User       tree.RawString `json:"user,omitempty"`
	Group      tree.RawString `json:"group,omitempty"`
	Size       uint64         `json:"size"`
	MTime      string         `json:"mtime"`
	LinkTarget tree.RawString `json:"link_target,omitempty"`
}

func toLsJSON(p string, n *tree.Node) lsJSON {
	return lsJSON{Path: p, Name: n.Name, Type: n.Type, Mode: n.Mode, UID: n.UID, GID: n.GID, User: n.User, Group: n.Group,
		Size: n.Size, MTime: n.MTime.Format("2006-01-02T15:04:05.999999999Z07:00"), LinkTarget: n.LinkTarget}
}

func ownerName(name string, id uint32) string {
	if name != "" {
		return name
	}
	return fmt.Sprint(id)
}

func linkSuffix(n *tree.Node) string {
	if n.Type == tree.Symlink {
		return " -> " + quotePath(string(n.LinkTarget))
	}
	return ""
}

func modeString(n *tree.Node) string {
	m := fs.FileMode(n.Mode & 0o777)
	switch n.Type {
	case tree.Dir:
		m |= fs.ModeDir
	case tree.Symlink:
		m |= fs.ModeSymlink
	case tree.CharDev:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case tree.BlockDev:
		m |= fs.ModeDevice
	case tree.FIFO:
		m |= fs.ModeNamedPipe
	case tree.Socket:
		m |= fs.ModeSocket
	}
	if n.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m.String()
}
