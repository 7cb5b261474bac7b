package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/internal/sysinfo"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/snapshot"
)

func newMigrateCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Plan and prepare the move of a backed-up server onto this machine",
		Long: `Compare the system manifest recorded with a snapshot (users, groups, packages,
mail stack, hostname, mailname, /etc/aliases) with this machine, or with the
system under --root, and prepare it for the restore.

  godwit migrate plan [SNAPSHOT]    print the migration checklist
  godwit migrate apply [SNAPSHOT]   create the missing groups and users

A snapshot carries a manifest when it includes /etc, or when it was taken with
backup --manifest or --preset mailserver.`,
		Args: exactArgs(0, "choose plan or apply"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return &usageError{"usage: godwit migrate plan|apply [SNAPSHOT]\nrun 'godwit migrate --help' for usage"}
		},
	}
	cmd.AddCommand(newMigratePlanCommand(e), newMigrateApplyCommand(e))
	return cmd
}

// migrateFlags are the flags plan and apply share.
type migrateFlags struct {
	ff   filterFlags
	root string
}

func (mf *migrateFlags) add(cmd *cobra.Command) {
	mf.ff.add(cmd)
	cmd.Flags().StringVar(&mf.root, "root", "/", "compare with the system rooted at `DIR` (e.g. a mounted disk) instead of this machine")
}

// migration is the plan from one snapshot's system to the target root.
type migration struct {
	sn   *snapshot.Snapshot
	root string
	plan *sysinfo.Plan
}

// loadMigration reads the manifest of the snapshot ref names, collects the
// system under root and compares them. The restore step of the plan names
// the snapshot's short id and root as the target.
func (e *env) loadMigration(ctx context.Context, ref string, mf *migrateFlags) (*migration, error) {
	root, err := filepath.Abs(mf.root)
	if err != nil {
		return nil, fmt.Errorf("--root: %w", err)
	}
	r, err := e.openRepoWithIndex(ctx)
	if err != nil {
		return nil, err
	}
	defer closeRepo(r)
	if err := requireOwner(r, "migrate"); err != nil {
		return nil, err
	}
	sn, err := r.FindSnapshot(ctx, ref, mf.ff.filter())
	if err != nil {
		return nil, err
	}
	snapM, err := loadManifest(ctx, r, sn)
	if err != nil {
		return nil, err
	}
	target, err := sysinfo.Collect(root, e.now())
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", root, err)
	}
	plan := sysinfo.MakePlan(snapM, target)
	restore := fmt.Sprintf("godwit restore %s --target %s ", sn.ID.Short(), shellWord(root))
	if root != "/" {
		// Names map through the accounts of the system being restored
		// into, not this (rescue) system's.
		restore += "--names-from " + shellWord(root) + " "
	}
	for i, s := range plan.Steps {
		plan.Steps[i] = strings.ReplaceAll(s, "godwit restore SNAPSHOT --target / ", restore)
	}
	return &migration{sn: sn, root: root, plan: plan}, nil
}

// migratePlanOutput is the --json document of migrate plan (docs/json.md).
type migratePlanOutput struct {
	Snapshot   string        `json:"snapshot"`
	TargetRoot string        `json:"target_root"`
	Plan       *sysinfo.Plan `json:"plan"`
}

func newMigratePlanCommand(e *env) *cobra.Command {
	var mf migrateFlags
	cmd := &cobra.Command{
		Use:   "plan [SNAPSHOT] [--root DIR]",
		Short: "Print the checklist for moving a snapshot's system onto this machine",
		Long: `Compare the snapshot's system manifest with this machine (or with the system
under --root, e.g. a mounted disk) and print the checklist in the order the
migration must happen: the groups and users to create with the same ids, the
conflicts (a name with another id, an id with another name) and the choices
they leave, the packages to install, the mail daemons to stop before the
mailboxes are restored, and the differences in hostname, mailname and
/etc/aliases. SNAPSHOT defaults to "latest". Needs an owner credential.`,
		Args: rangeArgs(0, 1, "at most one snapshot"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := e.loadMigration(cmd.Context(), snapshotArg(args), &mf)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(migratePlanOutput{Snapshot: m.sn.ID.String(), TargetRoot: m.root, Plan: m.plan})
			}
			printPlan(e.stdout, m)
			return nil
		},
	}
	mf.add(cmd)
	return cmd
}

func newMigrateApplyCommand(e *env) *cobra.Command {
	var (
		mf             migrateFlags
		allowConflicts bool
		dryRun         bool
	)
	cmd := &cobra.Command{
		Use:   "apply [SNAPSHOT] [--root DIR]",
		Short: "Create the snapshot's missing groups and users with their ids",
		Long: `Create the groups and users that migrate plan lists, with groupadd and useradd
and the snapshot's ids, on this machine or in the system under --root. Homes
are left to the restore.

With conflicts it creates nothing unless --allow-conflicts is given: then the
accounts whose id is taken here are created with new ids, and the restore must
use --owner name so their files follow the names.

Needs root (or a writable --root) and an owner credential.`,
		Args: rangeArgs(0, 1, "at most one snapshot"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := e.loadMigration(cmd.Context(), snapshotArg(args), &mf)
			if err != nil {
				return err
			}
			p := m.plan
			if len(p.Conflicts) > 0 && !allowConflicts {
				fmt.Fprintf(e.stderr, "conflicts between snapshot %s and %s:\n", m.sn.ID.Short(), m.root)
				printConflicts(e.stderr, p.Conflicts)
				if e.json {
					_ = e.printJSON(map[string]any{"snapshot": m.sn.ID.String(), "target_root": m.root,
						"commands": []string{}, "conflicts": p.Conflicts, "error": sysinfo.ErrConflicts.Error()})
				}
				return fmt.Errorf("%w: nothing was created; --allow-conflicts creates the accounts whose id is taken with new ids, and the restore must then use --owner name", sysinfo.ErrConflicts)
			}
			run := sysinfo.ExecRunner
			if dryRun {
				run = func(string, ...string) ([]byte, error) { return nil, nil }
			}
			log, err := sysinfo.Apply(p, m.root, allowConflicts, run)
			if e.json {
				if log == nil {
					log = []string{}
				}
				if jerr := e.printJSON(map[string]any{"snapshot": m.sn.ID.String(), "target_root": m.root,
					"dry_run": dryRun, "commands": log, "error": errString(err)}); jerr != nil && err == nil {
					err = jerr
				}
			} else {
				for _, entry := range log {
					line, out, _ := strings.Cut(entry, "\n")
					if dryRun {
						line = "would run: " + line
					}
					fmt.Fprintln(e.stdout, line)
					if out != "" {
						fmt.Fprintln(e.stdout, indent(out, "    "))
					}
				}
			}
			if err != nil {
				return err
			}
			switch {
			case len(log) == 0:
				e.info("nothing to create: every account the snapshot needs exists in %s with the same ids\n", m.root)
			case dryRun:
				e.info("dry run: %d commands not run\n", len(log))
			default:
				e.info("created %d groups and %d users in %s\n", createdGroups(p, allowConflicts), createdUsers(p, allowConflicts), m.root)
			}
			if len(p.Conflicts) > 0 {
				e.info("restore with --owner name: the snapshot has %d conflicts with the accounts here\n", len(p.Conflicts))
			}
			return nil
		},
	}
	mf.add(cmd)
	f := cmd.Flags()
	f.BoolVar(&allowConflicts, "allow-conflicts", false, "create the accounts whose id is taken here with new ids (then restore with --owner name)")
	f.BoolVarP(&dryRun, "dry-run", "n", false, "print the commands without running them")
	return cmd
}

func snapshotArg(args []string) string {
	if len(args) == 0 {
		return "latest"
	}
	return args[0]
}

func createdGroups(p *sysinfo.Plan, allowConflicts bool) int {
	if allowConflicts {
		return len(p.CreateGroups) + len(p.NewIDGroups)
	}
	return len(p.CreateGroups)
}

func createdUsers(p *sysinfo.Plan, allowConflicts bool) int {
	if allowConflicts {
		return len(p.CreateUsers) + len(p.NewIDUsers)
	}
	return len(p.CreateUsers)
}

// printPlan renders a plan for people: the numbered checklist, then the
// details by topic.
func printPlan(w io.Writer, m *migration) {
	p := m.plan
	fmt.Fprintf(w, "Migration of snapshot %s (host %s, %s) to %s\n", m.sn.ID.Short(), m.sn.Host,
		m.sn.Time.Local().Format("2006-01-02 15:04:05"), m.root)
	if m.root != "/" {
		fmt.Fprintf(w, "The account commands below act on %s; migrate apply --root %s runs them there.\n", m.root, shellWord(m.root))
	}
	fmt.Fprintln(w, "\nChecklist:")
	for i, s := range p.Steps {
		fmt.Fprintf(w, "%3d. %s\n", i+1, s)
	}
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	section("Groups to create with the snapshot's gids", withRoot(p.GroupaddCommands(), m.root))
	section("Users to create with the snapshot's uids", withRoot(p.UseraddCommands(), m.root))
	if len(p.Conflicts) > 0 {
		fmt.Fprintln(w, "\nConflicts:")
		printConflicts(w, p.Conflicts)
	}
	switch {
	case p.AptLine != "":
		section("Packages to install", []string{p.AptLine})
	case len(p.Packages) > 0:
		section("Packages to install", []string{strings.Join(p.Packages, " ")})
	}
	if len(p.RunningMailDaemons) > 0 {
		section("Mail daemons enabled or running here (stop them before /var/mail and the Maildirs are restored)",
			[]string{"systemctl stop " + strings.Join(p.RunningMailDaemons, " ")})
	}
	var diffs []string
	if p.HostnameDiff != [2]string{} {
		diffs = append(diffs, fmt.Sprintf("hostname: snapshot %q, here %q", p.HostnameDiff[0], p.HostnameDiff[1]))
	}
	if p.MailnameDiff != [2]string{} {
		diffs = append(diffs, fmt.Sprintf("mailname: snapshot %q, here %q", p.MailnameDiff[0], p.MailnameDiff[1]))
	}
	if len(p.AliasesDiff) > 0 {
		diffs = append(diffs, "/etc/aliases (- only in the snapshot, + only here, ~ changed):")
		for _, d := range p.AliasesDiff {
			diffs = append(diffs, "  "+d)
		}
	}
	section("Differences", diffs)
}

func printConflicts(w io.Writer, cs []sysinfo.Conflict) {
	for _, c := range cs {
		fmt.Fprintf(w, "  %s %s: %s\n", c.Kind, c.Name, c.Advice)
	}
}

// withRoot adds --root DIR to groupadd/useradd command lines for a target
// other than this machine, as migrate apply runs them.
func withRoot(cmds []string, root string) []string {
	if root == "/" {
		return cmds
	}
	out := make([]string, len(cmds))
	for i, c := range cmds {
		name, rest, _ := strings.Cut(c, " ")
		out[i] = name + " --root " + shellWord(root) + " " + rest
	}
	return out
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

// shellWord quotes s for a POSIX shell when it needs quoting.
func shellWord(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// loadManifest reads a snapshot's system manifest. Needs owner keys.
func loadManifest(ctx context.Context, r *repo.Repository, sn *snapshot.Snapshot) (*sysinfo.Manifest, error) {
	if sn.Manifest == nil {
		return nil, fmt.Errorf("snapshot %s has no system manifest: a snapshot gets one when it includes /etc, or with godwit backup --manifest or --preset mailserver", sn.ID.Short())
	}
	data, err := r.LoadBlob(ctx, blob.DataBlob, *sn.Manifest)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: manifest: %w", sn.ID.Short(), err)
	}
	m, err := sysinfo.Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
	}
	return m, nil
}
