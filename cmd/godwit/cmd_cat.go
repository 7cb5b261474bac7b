package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/pack"
)

func newCatCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "cat config | snapshot ID | index ID | lock ID | pack ID | blob ID",
		Short: "Print a repository object, for debugging",
		Long: `Print the decrypted content of one repository object.

config, snapshot, index and lock objects are readable with a write key; pack
headers and blobs (file contents, names and listings) need an owner credential.
The secrets in the config are never printed.`,
		Args: rangeArgs(1, 2, "an object type and, except for config, an id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			kind := args[0]
			if (kind == "config") != (len(args) == 1) {
				return &usageError{"usage: godwit cat config | snapshot ID | index ID | lock ID | pack ID | blob ID"}
			}
			r, err := e.openRepo(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			switch kind {
			case "config":
				cfg := r.Config()
				cfg.Keys = nil
				return e.printJSON(cfg)
			case "snapshot", "index", "lock":
				t := map[string]backends.FileType{"snapshot": backends.SnapshotFile, "index": backends.IndexFile, "lock": backends.LockFile}[kind]
				_, plain, err := r.LoadMetaObject(ctx, t, args[1])
				if err != nil {
					return err
				}
				return e.printIndented(plain)
			case "pack":
				if err := requireOwner(r, "cat pack"); err != nil {
					return err
				}
				id, err := r.ResolvePack(ctx, args[1])
				if err != nil {
					return err
				}
				hdr, size, err := r.PackHeader(ctx, id)
				if err != nil {
					return err
				}
				return e.printJSON(packJSON(id, size, hdr))
			case "blob":
				if err := requireOwner(r, "cat blob"); err != nil {
					return err
				}
				return catBlob(cmd, e, r, args[1])
			}
			return &usageError{fmt.Sprintf("cat: unknown object type %q", kind)}
		},
	}
}

func (e *env) printIndented(plain []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, plain, "", "  "); err != nil {
		_, err = e.stdout.Write(plain)
		return err
	}
	buf.WriteByte('\n')
	_, err := e.stdout.Write(buf.Bytes())
	return err
}

func packJSON(id blob.ID, size int64, hdr *pack.Header) index.FilePack {
	p := &index.Pack{ID: id, Size: size, Frames: hdr.Frames}
	if len(hdr.Blobs) > 0 {
		p.Type = hdr.Blobs[0].Type
	}
	return index.NewFilePack(p, hdr.Blobs)
}

func catBlob(cmd *cobra.Command, e *env, r *repo.Repository, ref string) error {
	ctx := cmd.Context()
	id, err := blob.ParseID(ref)
	if err != nil {
		return &usageError{"cat blob needs a full 64-digit blob id"}
	}
	if err := r.LoadIndex(ctx); err != nil {
		e.warn("%v\n", err)
	}
	loc, ok := r.Index().Lookup(id)
	if !ok {
		return fmt.Errorf("blob %s is not in the index", id)
	}
	data, err := r.LoadBlob(ctx, loc.Type, id)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(data)
	return err
}
