package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/repo/tree"
	"github.com/godwit-backup/godwit/repo/walker"
)

// diffOutput is the --json document of diff (docs/json.md).
type diffOutput struct {
	Old     string           `json:"old"`
	New     string           `json:"new"`
	Path    string           `json:"path"`
	Changes []diffChangeJSON `json:"changes"`
	Stats   walker.DiffStats `json:"stats"`
}

type diffChangeJSON struct {
	Path   tree.RawString `json:"path"`
	Change string         `json:"change"`
	// Type is the entry's type in the new snapshot (the old one for a
	// removed entry); OldType is set only when the type changed.
	Type    tree.NodeType `json:"type"`
	OldType tree.NodeType `json:"old_type,omitempty"`
	Fields  []string      `json:"fields,omitempty"`
	// Size is the new size (the old one for a removed entry); OldSize is
	// set for modified and type-changed entries.
	Size    uint64  `json:"size"`
	OldSize *uint64 `json:"old_size,omitempty"`
}

var changeNames = map[walker.ChangeKind]string{
	walker.Added:        "added",
	walker.Removed:      "removed",
	walker.Modified:     "modified",
	walker.MetadataOnly: "metadata",
	walker.TypeChanged:  "type_changed",
}

func toDiffChangeJSON(c walker.Change) diffChangeJSON {
	out := diffChangeJSON{Path: tree.RawString(c.Path), Change: changeNames[c.Kind], Fields: c.Fields}
	n := c.New
	if n == nil {
		n = c.Old
	}
	out.Type, out.Size = n.Type, n.Size
	if c.Old != nil && c.New != nil {
		if c.Kind == walker.Modified || c.Kind == walker.TypeChanged {
			size := c.Old.Size
			out.OldSize = &size
		}
		if c.Old.Type != c.New.Type {
			out.OldType = c.Old.Type
		}
	}
	return out
}

func newDiffCommand(e *env) *cobra.Command {
	var ff filterFlags
	cmd := &cobra.Command{
		Use:   "diff SNAPSHOT1[:PATH] SNAPSHOT2[:PATH]",
		Short: "Show what changed between two snapshots",
		Long: `Compare two snapshots, or the same directory or file in both (SNAPSHOT:PATH; a
path given on one side only applies to both), and list every change in path
order:

  +  added           only in SNAPSHOT2
  -  removed         only in SNAPSHOT1
  M  modified        a file whose content differs (metadata may differ too)
  U  metadata only   same content, but mode, owner, mtime, xattrs or ACLs,
                     device number or symlink target differ
  T  type changed    e.g. a file replaced by a symlink or a directory

Directories are marked with a trailing "/". Everything below an added or
removed directory is listed. Contents are compared by their blob ids, so no
file data is read, and directories that are equal in both are skipped. atime,
ctime, inode and link count are not compared.

The summary counts the changes and the data blobs that changed files add and
remove. SNAPSHOT is an id prefix or "latest" (narrowed by --host, --tag,
--path). Needs an owner credential.`,
		Args: exactArgs(2, "two snapshots"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			refA, pathA, refB, pathB := diffRefs(args[0], args[1])
			r, err := e.openRepoWithIndex(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			if err := requireOwner(r, "diff"); err != nil {
				return err
			}
			snA, err := r.FindSnapshot(ctx, refA, ff.filter())
			if err != nil {
				return err
			}
			snB, err := r.FindSnapshot(ctx, refB, ff.filter())
			if err != nil {
				return err
			}
			a, err := r.FindNode(ctx, snA.Tree, pathA)
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", snA.ID.Short(), err)
			}
			b, err := r.FindNode(ctx, snB.Tree, pathB)
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", snB.ID.Short(), err)
			}
			out := diffOutput{Old: snA.ID.String(), New: snB.ID.String(), Path: pathA, Changes: []diffChangeJSON{}}
			if !e.json {
				e.info("comparing snapshot %s with %s\n", snA.ID.Short(), snB.ID.Short())
			}
			stats, err := walker.Diff(ctx, r, r.Index(), a, b, pathA, func(c walker.Change) error {
				if e.json {
					out.Changes = append(out.Changes, toDiffChangeJSON(c))
					return nil
				}
				_, err := fmt.Fprintln(e.stdout, diffLine(c))
				return err
			})
			if err != nil {
				return err
			}
			if e.json {
				out.Stats = stats
				return e.printJSON(out)
			}
			e.info("\n%d added, %d removed, %d modified, %d metadata only, %d type changed\n",
				stats.Added, stats.Removed, stats.Modified, stats.MetadataOnly, stats.TypeChanged)
			e.info("data added: %s in %d blobs; removed: %s in %d blobs\n",
				formatBytes(stats.AddedBytes), stats.AddedBlobs, formatBytes(stats.RemovedBytes), stats.RemovedBlobs)
			return nil
		},
	}
	ff.add(cmd)
	return cmd
}

// diffRefs splits the two SNAPSHOT[:PATH] arguments; a path given on one
// side only applies to both. Paths come back absolute.
func diffRefs(argA, argB string) (refA, pathA, refB, pathB string) {
	refA, pathA = splitSnapshotRef(argA)
	refB, pathB = splitSnapshotRef(argB)
	switch {
	case !strings.Contains(argA, ":") || pathA == "/":
		pathA = pathB
	case !strings.Contains(argB, ":") || pathB == "/":
		pathB = pathA
	}
	return refA, "/" + strings.Trim(pathA, "/"), refB, "/" + strings.Trim(pathB, "/")
}

// diffLine renders one change for people: marker, path (directories with
// a trailing slash) and, for metadata changes, which fields differ.
func diffLine(c walker.Change) string {
	n := c.New
	if n == nil {
		n = c.Old
	}
	p := c.Path
	if n.Type == tree.Dir && p != "/" {
		p += "/"
	}
	line := string(c.Kind) + "    " + quotePath(p)
	if len(c.Fields) > 0 {
		line += " (" + strings.Join(c.Fields, ", ") + ")"
	}
	if c.Kind == walker.TypeChanged {
		line += fmt.Sprintf(" (%s -> %s)", c.Old.Type, c.New.Type)
	}
	return line
}
