package main

import (
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/repo"
)

// version is the release; main builds from a checkout report "dev" plus
// the module version when one is known.
const version = "0.1.0-dev"

func newVersionCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			rev := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						rev = s.Value
					}
				}
			}
			if e.json {
				return e.printJSON(map[string]any{"version": version, "go": runtime.Version(), "format": repo.FormatVersion, "revision": rev})
			}
			e.info("godwit %s (repository format %d, %s %s/%s)\n", version, repo.FormatVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
