package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestCompletionPrintsAScriptForEveryShell(t *testing.T) {
	tests := []struct {
		shell string
		want  string // a line only that shell's script has
	}{
		{"bash", "complete -o default -F __start_godwit godwit"},
		{"zsh", "#compdef godwit"},
		{"fish", "complete -c godwit"},
		{"powershell", "Register-ArgumentCompleter"},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			out := newCLI(t).run("completion", tt.shell).must(t, 0).stdout
			if !strings.Contains(out, tt.want) || !strings.Contains(out, "__complete") {
				t.Errorf("%s script lacks %q or the __complete call:\n%.400s", tt.shell, tt.want, out)
			}
		})
	}
	newCLI(t).run("completion", "tcsh").must(t, exitUsage)
	newCLI(t).run("completion").must(t, exitUsage)
}

func TestCompleteSuggestsCommandsAndFlagValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
		not  []string
	}{
		{"subcommand prefix", []string{"__complete", "ba"}, []string{"backup"}, []string{"restore"}},
		{"copy is a command", []string{"__complete", "co"}, []string{"copy", "completion"}, nil},
		{"shells", []string{"__complete", "completion", ""}, []string{"bash", "zsh", "fish", "powershell"}, nil},
		{"backup presets", []string{"__complete", "backup", "--preset", ""}, []string{"mailserver"}, nil},
		{"restore owner modes", []string{"__complete", "restore", "--owner", ""}, []string{"numeric", "name", "none"}, nil},
		{"copy flags", []string{"__complete", "copy", "--from-"}, []string{"--from-repo", "--from-password-file", "--from-identity-file"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := newCLI(t).run(tt.args...).must(t, 0).stdout
			words := map[string]bool{}
			for _, line := range strings.Split(out, "\n") {
				word, _, _ := strings.Cut(line, "\t")
				words[word] = true
			}
			for _, w := range tt.want {
				if !words[w] {
					t.Errorf("completions lack %q:\n%s", w, out)
				}
			}
			for _, w := range tt.not {
				if words[w] {
					t.Errorf("completions offer %q:\n%s", w, out)
				}
			}
		})
	}
}

// visibleCommands returns the man page base names of every command a
// user can run, as godwit man names them.
func visibleCommands(cmd *cobra.Command) map[string]*cobra.Command {
	out := map[string]*cobra.Command{strings.ReplaceAll(cmd.CommandPath(), " ", "-"): cmd}
	for _, sub := range cmd.Commands() {
		if !sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand() {
			continue
		}
		for k, v := range visibleCommands(sub) {
			out[k] = v
		}
	}
	return out
}

func TestManWritesAPageForEveryCommandWithItsFlags(t *testing.T) {
	c := newCLI(t)
	dir := filepath.Join(c.dir, "man", "man1")
	c.run("man", "--output", dir).must(t, 0)
	cmds := visibleCommands(newRootCommand(newEnv()))
	for _, name := range []string{"godwit", "godwit-backup", "godwit-copy", "godwit-key-add", "godwit-man"} {
		if cmds[name] == nil {
			t.Fatalf("command %s missing from the command tree", name)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(cmds) {
		t.Errorf("%d man pages for %d visible commands", len(entries), len(cmds))
	}
	for name, cmd := range cmds {
		data, err := os.ReadFile(filepath.Join(dir, name+".1"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// A page may start with .nh (no hyphenation) before its header.
		page := strings.TrimPrefix(string(data), ".nh\n")
		if !strings.HasPrefix(page, `.TH "GODWIT" "1"`) {
			t.Errorf("%s.1 does not start with a .TH header: %.80q", name, page)
		}
		cmd.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			bold := `\fB--` + f.Name + `\fP`
			escaped := `\fB\-\-` + strings.ReplaceAll(f.Name, "-", `\-`) + `\fP`
			if !f.Hidden && !strings.Contains(page, bold) && !strings.Contains(page, escaped) {
				t.Errorf("%s.1 does not document --%s", name, f.Name)
			}
		})
	}
}

func TestManNeedsAnOutputDirectory(t *testing.T) {
	newCLI(t).run("man").must(t, exitUsage)
}
