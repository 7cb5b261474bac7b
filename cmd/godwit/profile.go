package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/internal/metrics"
	"github.com/godwit-backup/godwit/internal/profile"
	"github.com/godwit-backup/godwit/internal/schedule"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/check"
	"github.com/godwit-backup/godwit/repo/forget"
	"github.com/godwit-backup/godwit/repo/snapshot"
)

// backupTargets point at the backup command's flag variables that a
// profile can set.
type backupTargets struct {
	excludes, excludeFiles, tags *[]string
	excludeCaches, oneFS         *bool
	host, preset                 *string
}

// profileRun is one run of the backup command with --profile or
// --metrics-file: it applies the profile, runs the hooks, the
// maintenance and writes the metrics around the backup itself.
type profileRun struct {
	e           *env
	name        string // --profile
	metricsFile string // --metrics-file
	t           backupTargets
	prof        *profile.Profile
	// snapshot is set by the backup command once a snapshot is written.
	snapshot *snapshot.Snapshot
}

// bindProfile adds --profile and --metrics-file to the backup command and
// wraps its Args and RunE so that a profile supplies what the flags and
// arguments leave out. Call it once, after the command's own flags are
// defined.
func bindProfile(e *env, cmd *cobra.Command, t backupTargets) *profileRun {
	pr := &profileRun{e: e, t: t}
	f := cmd.Flags()
	f.StringVar(&pr.name, "profile", "", "back up what profile `NAME` of the --config file says (flags given here win)")
	f.StringVar(&pr.metricsFile, "metrics-file", "", "write Prometheus text-format metrics of the run to `FILE` (for node_exporter's textfile collector)")
	args, runE := cmd.Args, cmd.RunE
	cmd.Args = func(cmd *cobra.Command, a []string) error {
		if pr.name != "" {
			return nil // checked once the profile is applied
		}
		return args(cmd, a)
	}
	cmd.RunE = func(cmd *cobra.Command, a []string) error {
		if pr.name == "" && pr.metricsFile == "" {
			return runE(cmd, a)
		}
		return pr.run(cmd, a, runE)
	}
	return pr
}

// configPath is --config, GODWIT_CONFIG or the default profile file.
func (e *env) configPath() string {
	return firstNonEmpty(e.config, e.getenv("GODWIT_CONFIG"), profile.DefaultPath)
}

func (pr *profileRun) run(cmd *cobra.Command, args []string, backup func(*cobra.Command, []string) error) error {
	e, ctx := pr.e, cmd.Context()
	start := e.now()
	var err error
	if pr.name != "" {
		if args, err = pr.apply(cmd, args); err != nil {
			pr.writeMetrics(start, err)
			return err
		}
	}
	p := pr.prof
	if p == nil {
		p = &profile.Profile{} // metrics without a profile: no hooks, no maintenance
	}
	if err = p.RunHooks(ctx, profile.Before, profile.RunInfo{Profile: p.Name}, os.Environ(), e.stderr); err != nil {
		err = fmt.Errorf("backup not started: %w", err)
	} else {
		err = backup(cmd, args)
		if pr.snapshot != nil && err == nil {
			err = pr.maintain(cmd)
		}
		if herr := p.RunHooks(ctx, profile.After, pr.info(err), os.Environ(), e.stderr); herr != nil {
			if err == nil {
				err = herr
			} else {
				e.warn("%v\n", herr)
			}
		}
	}
	if code := pr.exitCode(err); code != exitOK && code != exitIncomplete {
		if herr := p.RunHooks(ctx, profile.Failure, pr.info(err), os.Environ(), e.stderr); herr != nil {
			e.warn("%v\n", herr)
		}
	}
	if pr.name != "" {
		pr.writeStatus(start, err)
	}
	return pr.writeMetrics(start, err)
}

// writeStatus records the run for godwit schedule status; a failure to
// record it is a warning, not a failed backup.
func (pr *profileRun) writeStatus(start time.Time, err error) {
	st := schedule.Status{Start: start, End: pr.e.now(), ExitCode: pr.exitCode(err)}
	if pr.snapshot != nil {
		st.SnapshotID = pr.snapshot.ID.String()
	}
	if err != nil {
		st.Error = err.Error()
	}
	if werr := schedule.WriteStatus(pr.e.statusDir("/"), pr.name, st); werr != nil {
		pr.e.warn("record the run for godwit schedule status: %v\n", werr)
	}
}

func (pr *profileRun) exitCode(err error) int {
	if err != nil {
		return exitCode(err)
	}
	return pr.e.exitCode
}

func (pr *profileRun) info(err error) profile.RunInfo {
	info := profile.RunInfo{Profile: pr.name, ExitCode: pr.exitCode(err), Err: err}
	if pr.snapshot != nil {
		info.SnapshotID = pr.snapshot.ID.String()
	}
	return info
}

// apply loads the profile and sets every flag the command line left
// unset from it; it returns the paths to back up.
func (pr *profileRun) apply(cmd *cobra.Command, args []string) ([]string, error) {
	e := pr.e
	file, err := profile.Load(e.configPath())
	if err != nil {
		return nil, err
	}
	p, err := file.Profile(pr.name)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("--profile %s: %v", pr.name, err)}
	}
	pr.prof = p
	set := func(flag string) bool { return cmd.Flags().Changed(flag) }
	str := func(flag string, dst *string, v string) {
		if !set(flag) && v != "" {
			*dst = v
		}
	}
	str("repo", &e.repo, p.Repository)
	str("cache-dir", &e.cacheDir, p.CacheDir)
	str("host", pr.t.host, p.Host)
	str("preset", pr.t.preset, p.Preset)
	str("metrics-file", &pr.metricsFile, p.MetricsFile)
	masked := map[string]bool{}
	if !set("password-file") && !set("identity-file") {
		e.identityFile = p.IdentityFile
		if p.PasswordFile != "" {
			e.passwordFile = p.PasswordFile
			// The profile's passphrase beats an identity file from the
			// environment, as it beats GODWIT_PASSWORD.
			masked["GODWIT_IDENTITY_FILE"] = p.IdentityFile == ""
		}
	}
	for _, l := range []struct {
		flag string
		dst  *[]string
		v    []string
	}{
		{"exclude", pr.t.excludes, p.Exclude}, {"exclude-file", pr.t.excludeFiles, p.ExcludeFiles}, {"tag", pr.t.tags, p.Tags},
	} {
		if !set(l.flag) && l.v != nil {
			*l.dst = l.v
		}
	}
	if !set("exclude-caches") && p.ExcludeCaches != nil {
		*pr.t.excludeCaches = *p.ExcludeCaches
	}
	if !set("one-file-system") && p.OneFileSystem != nil {
		*pr.t.oneFS = *p.OneFileSystem
	}
	if len(args) == 0 {
		args = p.Sources
	}
	if len(args) == 0 && *pr.t.preset == "" {
		return nil, &usageError{fmt.Sprintf("profile %s has no sources and no preset: set sources in %s or give paths", p.Name, file.Path)}
	}

	environ, err := p.Environ()
	if err != nil {
		return nil, err
	}
	getenv := e.getenv
	overlay := map[string]string{}
	for k, v := range environ {
		if getenv(k) == "" {
			overlay[k] = v
			// The S3 SDK and ssh read the process environment.
			if err := os.Setenv(k, v); err != nil {
				return nil, fmt.Errorf("profile %s: set %s: %w", p.Name, k, err)
			}
		}
	}
	e.getenv = func(k string) string {
		if masked[k] {
			return ""
		}
		if v, ok := overlay[k]; ok {
			return v
		}
		return getenv(k)
	}
	return args, nil
}

// maintain runs the profile's retention and check after a backup that
// wrote a snapshot.
func (pr *profileRun) maintain(cmd *cobra.Command) error {
	p := pr.prof
	if p == nil || p.Retention == nil && p.Check == nil {
		return nil
	}
	e, ctx := pr.e, cmd.Context()
	r, err := e.openRepo(ctx)
	if err != nil {
		return fmt.Errorf("after the backup: %w", err)
	}
	defer closeRepo(r)
	if p.Retention != nil {
		if err := pr.retain(cmd, r); err != nil {
			return err
		}
	}
	if p.Check != nil {
		return pr.check(cmd, r)
	}
	return nil
}

// retain forgets the snapshots of the backed-up host that the profile's
// policy does not keep, then prunes when the profile says so.
func (pr *profileRun) retain(cmd *cobra.Command, r *repo.Repository) error {
	e, ctx, ret := pr.e, cmd.Context(), pr.prof.Retention
	if ret.Prune {
		if err := requireOwner(r, "retention with prune = true"); err != nil {
			return err
		}
	}
	lk, err := r.Lock(ctx, true, e.now)
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	defer lk.Release(ctx)
	all, err := r.Snapshots(ctx)
	if err != nil {
		return fmt.Errorf("forget: %w (nothing was removed)", err)
	}
	mine := snapshot.Filter{Hosts: []string{pr.snapshot.Host}}
	var list []*snapshot.Snapshot
	for _, sn := range all {
		if mine.Match(sn) {
			list = append(list, sn)
		}
	}
	removed, _, err := removeSnapshots(ctx, e, r, notKept(forget.Apply(list, ret.Policy(), ret.Grouping(), time.Local)))
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	e.info("retention (%s): removed %s\n", ret.Policy(), plural(removed, "snapshot"))
	lk.Release(ctx)
	if !ret.Prune || removed == 0 {
		return nil
	}
	plan, err := runPrune(cmd, e, r, pruneFlags{maxUnused: 5}, false)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	if !e.json {
		printPrune(e, plan, false)
	}
	return nil
}

// checkState is the profile's record of its last check of a repository.
type checkState struct {
	LastCheck time.Time `json:"last_check"`
}

// check runs the profile's check when it is due and records when it
// passed.
func (pr *profileRun) check(cmd *cobra.Command, r *repo.Repository) error {
	e, ctx, c := pr.e, cmd.Context(), pr.prof.Check
	statePath := filepath.Join(e.cacheBase(), r.Config().ID, "profile-"+pr.prof.Name+"-check.json")
	var st checkState
	if b, err := os.ReadFile(statePath); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			e.warn("%s: %v; checking now\n", statePath, err)
		}
	}
	now := e.now()
	if !c.Due(st.LastCheck, now) {
		return nil
	}
	opts := check.Options{ReadData: c.ReadData}
	if s := c.Subset(); s != nil {
		sub := *s
		sub.Seed = uint64(now.UnixNano())
		opts.ReadData, opts.Subset = true, &sub
	}
	lk, err := r.Lock(ctx, false, e.now)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	defer lk.Release(ctx)
	sum, err := check.Check(ctx, r, opts, func(p check.Problem) {
		level := "warning"
		if p.Severe {
			level = "error"
		}
		fmt.Fprintf(e.stderr, "%s: %s: %s\n", level, p.Object, p.What)
	})
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if sum.Severe > 0 {
		return fmt.Errorf("check found %d problems that lose data (%s)", sum.Severe, plural(sum.Problems, "problem"))
	}
	e.info("check: %d snapshots, %d packs, %d blobs; %s\n", sum.Snapshots, sum.Packs, sum.Blobs, plural(sum.Problems, "problem"))
	b, _ := json.Marshal(checkState{LastCheck: now})
	if err := os.MkdirAll(filepath.Dir(statePath), 0o700); err == nil {
		err = os.WriteFile(statePath, b, 0o600)
	}
	if err != nil {
		e.warn("record the check time: %v\n", err)
	}
	return nil
}

// writeMetrics writes the metrics file, when there is one, and returns
// err, or the metrics error when err is nil.
func (pr *profileRun) writeMetrics(start time.Time, err error) error {
	if pr.metricsFile == "" {
		return err
	}
	run := metrics.Run{Profile: pr.name, Start: start, End: pr.e.now(), ExitCode: pr.exitCode(err)}
	if sn := pr.snapshot; sn != nil {
		s := sn.Summary
		run.Success = true
		run.AddedBytes, run.Errors = s.BytesAdded, s.Errors
		run.Files = s.FilesNew + s.FilesChanged + s.FilesUnchanged
	}
	if merr := metrics.Write(pr.metricsFile, run); merr != nil {
		if err == nil {
			return merr
		}
		pr.e.warn("%v\n", merr)
	}
	return err
}
