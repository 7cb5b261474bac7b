package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/internal/ui"
	"github.com/godwit-backup/godwit/repo/archiver"
	"github.com/godwit-backup/godwit/repo/snapshot"
)

func newBackupCommand(e *env) *cobra.Command {
	var (
		excludes      []string
		excludeFiles  []string
		excludeCaches bool
		oneFS         bool
		tags          []string
		host          string
		force         bool
		timeFlag      string
		root          string
		preset        string
		manifest      bool
		mboxLock      bool
		retries       int
		pr            *profileRun // set below; the profile, hooks and metrics of this run
	)
	cmd := &cobra.Command{
		Use:   "backup [flags] PATH...",
		Short: "Back up files and directories",
		Long: `Back up the given paths into a new snapshot.

Works with an owner credential or with a write key (-i /etc/godwit/write.key):
a write key deduplicates against everything stored but cannot read anything back.
Files that cannot be read, vanish, or keep changing while read are reported; the
snapshot is still written and the exit code is 3.

--preset mailserver backs up /etc /home /var/mail /var/spool/cron /var/www and
/usr/lib/cgi-bin (those that exist), without dovecot's index files, with the
system manifest (users, groups, packages, mail stack) that godwit migrate uses.
A manifest is also stored whenever /etc is backed up, or with --manifest.

--root DIR backs up the system whose root is DIR, e.g. a dead server's disk
mounted from a rescue system: DIR/etc is recorded as /etc, and the manifest and
user names come from DIR's files.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && preset == "" {
				return &usageError{"usage: " + cmd.UseLine() + " (give at least one path, or --preset mailserver)"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			switch preset {
			case "":
			case "mailserver":
				args = append(presetPaths(firstNonEmpty(root, "/")), args...)
				excludes = append(excludes, mailserverExcludes...)
				excludeCaches, manifest = true, true
				if len(args) == 0 {
					return fmt.Errorf("none of the mail server paths exist under %s", firstNonEmpty(root, "/"))
				}
			default:
				return &usageError{fmt.Sprintf("--preset %q: the only preset is mailserver", preset)}
			}
			if root != "" {
				if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
					return &usageError{fmt.Sprintf("--root %s: not a directory", root)}
				}
			}
			for _, path := range excludeFiles {
				f, err := os.Open(path)
				if err != nil {
					return fmt.Errorf("exclude file: %w", err)
				}
				ps, err := archiver.ReadPatterns(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("exclude file %s: %w", path, err)
				}
				excludes = append(excludes, ps...)
			}
			now := e.now
			if timeFlag != "" {
				t, err := time.ParseInLocation("2006-01-02 15:04:05", timeFlag, time.Local)
				if err != nil {
					return &usageError{fmt.Sprintf("--time %q: want \"YYYY-MM-DD hh:mm:ss\"", timeFlag)}
				}
				start := e.now()
				now = func() time.Time { return t.Add(e.now().Sub(start)) }
			}
			ex, err := archiver.NewExcluder(excludes)
			if err != nil {
				return &usageError{err.Error()}
			}
			r, err := e.openRepoWithIndex(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			lk, err := r.Lock(ctx, false, e.now)
			if err != nil {
				return err
			}
			defer lk.Release(ctx)

			if host == "" {
				host, _ = os.Hostname()
			}
			cachePath := filepath.Join(e.cacheBase(), r.Config().ID, "files")
			fc := archiver.NewFilesCache(cachePath)
			if !force {
				if fc, err = archiver.LoadFilesCache(cachePath); err != nil {
					e.warn("%v\n", err)
				}
			}
			tightenGC()
			names, err := namesUnder(root, e.now())
			if err != nil {
				return err
			}
			opts := archiver.Options{
				Root:          root,
				Names:         names,
				Retries:       retryOption(retries),
				Excluder:      ex,
				ExcludeCaches: excludeCaches,
				OneFileSystem: oneFS,
				Host:          host,
				Username:      currentUser(),
				Tags:          tags,
				Now:           now,
				FilesCache:    fc,
				Program:       "godwit " + version,
				CheckLock:     lk.Err,
				Warn: func(path string, err error) {
					e.warn("%s: %v\n", quotePath(path), err)
				},
			}
			if manifest || includesEtc(args, root) {
				opts.Manifest = manifestFunc(firstNonEmpty(root, "/"), e.now)
			}
			if mboxLock {
				opts.LockMbox = lockMbox
			}
			rep := e.startProgress(ctx, "files")
			defer rep.Stop()
			opts.Progress, opts.Warn = rep.Progress(), e.warnVia(rep)
			a := archiver.New(r, opts)
			sn, err := a.Run(ctx, args)
			if err != nil {
				r.Abort()
				if errors.Is(err, archiver.ErrNothingToBackUp) {
					return fmt.Errorf("%w: no snapshot written", err)
				}
				return fmt.Errorf("backup failed, no snapshot written (the next backup reuses what was uploaded): %w", err)
			}
			pr.snapshot = sn
			printBackupSummary(e, rep, sn)
			if sn.Incomplete {
				e.exitCode = exitIncomplete
				e.warn("snapshot %s is incomplete: %d files could not be read completely (see above)\n", sn.ID.Short(), sn.Summary.Errors)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&excludes, "exclude", "e", nil, "exclude `PATTERN` (glob; with a slash matched against the whole path) (repeatable)")
	f.StringArrayVar(&excludeFiles, "exclude-file", nil, "read exclude patterns from `FILE` (repeatable)")
	f.BoolVar(&excludeCaches, "exclude-caches", false, "skip the contents of directories holding a valid CACHEDIR.TAG")
	f.BoolVarP(&oneFS, "one-file-system", "x", false, "do not cross file system boundaries")
	f.StringArrayVar(&tags, "tag", nil, "add `TAG` to the snapshot (repeatable)")
	f.StringVar(&host, "host", "", "record `NAME` as the host (default: the hostname)")
	f.StringVar(&timeFlag, "time", "", "record `TIME` (\"YYYY-MM-DD hh:mm:ss\", local time) as the snapshot time instead of now")
	f.StringVar(&root, "root", "", "back up the system whose root is `DIR` (paths are recorded as seen inside it)")
	f.StringVar(&preset, "preset", "", "back up a preset set of paths: `mailserver`")
	_ = cmd.RegisterFlagCompletionFunc("preset", cobra.FixedCompletions([]string{"mailserver"}, cobra.ShellCompDirectiveNoFileComp))
	f.BoolVar(&manifest, "manifest", false, "store the system manifest even when /etc is not backed up")
	f.BoolVar(&mboxLock, "mbox-lock", false, "take the mbox dotlock (USER.lock) while reading spools in /var/mail")
	f.IntVar(&retries, "retries", 3, "read a file that changes while it is read up to `N` more times")
	f.BoolVar(&force, "force", false, "re-read every file instead of trusting the files cache")
	pr = bindProfile(e, cmd, backupTargets{excludes: &excludes, excludeFiles: &excludeFiles, tags: &tags,
		excludeCaches: &excludeCaches, oneFS: &oneFS, host: &host, preset: &preset})
	return cmd
}

func printBackupSummary(e *env, rep *ui.Reporter, sn *snapshot.Snapshot) {
	s := sn.Summary
	if e.json {
		_ = rep.Finish(map[string]any{
			"snapshot": sn.ID.String(), "time": sn.Time, "paths": sn.Paths, "incomplete": sn.Incomplete,
			"summary": s, "duration_seconds": s.End.Sub(s.Start).Seconds(),
		})
		return
	}
	rep.Stop()
	e.info("files: %d new, %d changed, %d unchanged; %d directories, %d other\n",
		s.FilesNew, s.FilesChanged, s.FilesUnchanged, s.Dirs, s.Others)
	e.info("read %s of %s; added %s in %d new blobs, %s stored\n",
		formatBytes(s.BytesRead), formatBytes(s.TotalSize), formatBytes(s.BytesAdded), s.BlobsAdded, formatBytes(s.StoredAdded))
	e.info("snapshot %s saved in %s\n", sn.ID.Short(), s.End.Sub(s.Start).Round(time.Millisecond))
}

// retryOption turns --retries N into archiver.Options.Retries, where 0
// means the default: no retries is -1 there.
func retryOption(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
