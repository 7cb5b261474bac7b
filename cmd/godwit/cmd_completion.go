package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// shells are the shells godwit completion writes scripts for.
var shells = []string{"bash", "zsh", "fish", "powershell"}

func newCompletionCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the completion script for a shell on stdout.

  bash:        godwit completion bash > /etc/bash_completion.d/godwit
               (or ~/.local/share/bash-completion/completions/godwit)
  zsh:         godwit completion zsh > "${fpath[1]}/_godwit"
  fish:        godwit completion fish > ~/.config/fish/completions/godwit.fish
  powershell:  godwit completion powershell | Out-String | Invoke-Expression

The scripts ask godwit itself for completions, so they follow new commands
and flags without being regenerated.`,
		Args:                  exactArgs(1, "give one shell: "+fmt.Sprint(shells)),
		ValidArgs:             shells,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(e.stdout, true)
			case "zsh":
				return root.GenZshCompletion(e.stdout)
			case "fish":
				return root.GenFishCompletion(e.stdout, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(e.stdout)
			}
			return &usageError{fmt.Sprintf("completion: unknown shell %q; want one of %v", args[0], shells)}
		},
	}
}

func newManCommand(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "man --output DIR",
		Short: "Write man pages for every command",
		Long: `Write a man page (section 1) for godwit and each of its commands into DIR:
godwit.1, godwit-backup.1, godwit-key-add.1 and so on. Install them with, e.g.:

  godwit man --output /usr/local/share/man/man1 && mandb`,
		Args: exactArgs(0, "no arguments; give the directory with --output"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return &usageError{"man: give the directory to write to with --output DIR"}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			date := e.now()
			root := cmd.Root()
			root.DisableAutoGenTag = true
			hdr := &doc.GenManHeader{Title: "GODWIT", Section: "1", Source: "godwit " + version, Manual: "godwit manual", Date: &date}
			if err := doc.GenManTree(root, hdr, dir); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			e.info("man pages written to %s\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "output", "o", "", "write the pages into `DIR` (created if missing)")
	_ = cmd.MarkFlagDirname("output")
	return cmd
}
