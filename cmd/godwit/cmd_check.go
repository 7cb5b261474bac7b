package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/repo/check"
)

func newCheckCommand(e *env) *cobra.Command {
	var (
		readData bool
		subset   string
	)
	cmd := &cobra.Command{
		Use:   "check [--read-data | --read-data-subset N/M|P%]",
		Short: "Verify the repository",
		Long: `Verify the repository's structure: every snapshot's trees and blobs are in the
index, every indexed pack exists with the right size, no pack is unindexed.
--read-data also downloads every pack and verifies every blob against its id;
--read-data-subset 3/30 reads one thirtieth of the packs (run 1/30 ... 30/30 on
successive days to cover everything), 10% a random tenth.

With a write key, check verifies what it can see: pack presence, sizes and
(with --read-data) ciphertext hashes. Exits 1 when it finds a problem that loses
data.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			opts := check.Options{ReadData: readData}
			if subset != "" {
				s, err := check.ParseSubset(subset)
				if err != nil {
					return &usageError{err.Error()}
				}
				opts.ReadData, opts.Subset = true, &s
			}
			r, err := e.openRepo(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			lk, err := r.Lock(ctx, false, e.now)
			if err != nil {
				return err
			}
			defer lk.Release(ctx)
			if !r.CanReadData() {
				e.info("opened with a write key: checking packs, sizes and hashes only\n")
			}
			rep := e.startProgress(ctx, "packs")
			defer rep.Stop()
			opts.Progress = rep.Progress()
			var problems []check.Problem
			sum, err := check.Check(ctx, r, opts, func(p check.Problem) {
				problems = append(problems, p)
				level := "warning"
				if p.Severe {
					level = "error"
				}
				var text strings.Builder
				fmt.Fprintf(&text, "%s: %s: %s\n", level, p.Object, p.What)
				for _, a := range p.Affected {
					fmt.Fprintf(&text, "    affects %s\n", quotePath(a))
				}
				rep.Warn(p.Object, errors.New(p.What), text.String())
			})
			if err != nil {
				return err
			}
			if e.json {
				if problems == nil {
					problems = []check.Problem{}
				}
				_ = rep.Finish(map[string]any{"summary": sum, "problems": problems})
			} else {
				rep.Stop()
				what := "structure"
				if opts.ReadData {
					what = fmt.Sprintf("structure and the data of %d packs", sum.PacksRead)
				}
				e.info("checked %s: %d snapshots, %d packs, %d blobs\n", what, sum.Snapshots, sum.Packs, sum.Blobs)
			}
			if sum.Severe > 0 {
				return fmt.Errorf("check found %d problems that lose data (%s)", sum.Severe, plural(sum.Problems, "problem"))
			}
			if sum.Problems > 0 {
				e.info("%s that do not lose data (see the warnings)\n", plural(sum.Problems, "problem"))
			} else {
				e.info("no problems found\n")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&readData, "read-data", false, "download and verify every pack")
	cmd.Flags().StringVar(&subset, "read-data-subset", "", "download and verify a subset of packs: `N/M` or P%")
	return cmd
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, strings.TrimSuffix(word, "s"))
}
