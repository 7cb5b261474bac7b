package main

import (
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

func newRootCommand(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "godwit",
		Short: "Encrypted, deduplicating backups for Linux servers",
		Long: `godwit backs up directory trees into an encrypted, deduplicated repository
and restores them with their ownership and metadata. The backed-up host
can hold a write key that adds backups but cannot read them.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err.Error() + "\nrun '" + cmd.CommandPath() + " --help' for usage"}
	})
	e.addGlobalFlags(root)
	root.AddCommand(
		newInitCommand(e),
		newBackupCommand(e),
		newSnapshotsCommand(e),
		newLsCommand(e),
		newDiffCommand(e),
		newFindCommand(e),
		newStatsCommand(e),
		newRestoreCommand(e),
		newForgetCommand(e),
		newCheckCommand(e),
		newPruneCommand(e),
		newUnlockCommand(e),
		newRepairCommand(e),
		newKeyCommand(e),
		newCatCommand(e),
		newMigrateCommand(e),
		newMailCommand(e),
		newScheduleCommand(e),
		newCopyCommand(e),
		newCompletionCommand(e),
		newManCommand(e),
		newVersionCommand(e),
	)
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if e.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(e.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		e.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return nil
	}
	return root
}

// args returns a cobra positional-argument check that reports a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return &usageError{"usage: " + cmd.UseLine() + " (" + what + ")"}
		}
		return nil
	}
}

func rangeArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return &usageError{"usage: " + cmd.UseLine() + " (" + what + ")"}
		}
		return nil
	}
}
