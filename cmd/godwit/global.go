package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
)

// env is everything a command gets from outside: streams, environment,
// clock, and the global flags. Commands never read package state.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	// tty opens the controlling terminal for passphrase prompts; nil
	// when there is none.
	tty func() (*os.File, error)

	// Global flags.
	repo         string
	passwordFile string
	identityFile string
	cacheDir     string
	json         bool
	quiet        bool
	verbose      bool
	acceptFP     string
	cpuProfile   string
	config       string // --config: the profile file

	backend backendFlags
	remote  bool // the repository is on SFTP or S3

	exitCode    int    // set by commands that succeed with a non-zero code
	stopProfile func() // set when --cpu-profile started a profile
}

func newEnv() *env {
	return &env{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
		now:    time.Now,
		tty: func() (*os.File, error) {
			return os.OpenFile("/dev/tty", os.O_RDWR, 0)
		},
	}
}

func (e *env) addGlobalFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVarP(&e.repo, "repo", "r", "", "repository `LOCATION`: a directory, sftp://user@host[:port]/path or s3://bucket/prefix (env GODWIT_REPOSITORY)")
	f.StringVar(&e.passwordFile, "password-file", "", "read the repository passphrase from `FILE` (env GODWIT_PASSWORD_FILE, or GODWIT_PASSWORD)")
	f.StringVarP(&e.identityFile, "identity-file", "i", "", "unlock with an age identity, SSH private key or write key `FILE` (env GODWIT_IDENTITY_FILE)")
	f.StringVar(&e.cacheDir, "cache-dir", "", "local cache `DIR` (env GODWIT_CACHE_DIR; default ~/.cache/godwit, /var/cache/godwit for root)")
	f.StringVar(&e.config, "config", "", "read profiles from `FILE` (env GODWIT_CONFIG; default /etc/godwit/godwit.toml)")
	f.BoolVar(&e.json, "json", false, "print JSON on stdout; human text goes to stderr")
	f.BoolVarP(&e.quiet, "quiet", "q", false, "print only errors and warnings")
	f.BoolVarP(&e.verbose, "verbose", "v", false, "print more detail")
	e.backend.add(cmd)
	f.StringVar(&e.cpuProfile, "cpu-profile", "", "write a CPU profile to `FILE` (for performance work)")
	_ = f.MarkHidden("cpu-profile")
	f.StringVar(&e.acceptFP, "accept-fingerprint", "", "accept a repository whose fingerprint changed to `FP` (verify it with the owner first)")
}

// info prints human text unless --quiet; with --json it goes to stderr.
func (e *env) info(format string, args ...any) {
	if e.quiet {
		return
	}
	w := e.stdout
	if e.json {
		w = e.stderr
	}
	fmt.Fprintf(w, format, args...)
}

// warn always prints to stderr.
func (e *env) warn(format string, args ...any) {
	fmt.Fprintf(e.stderr, "warning: "+format, args...)
}

func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // Message-IDs keep their <>
	return enc.Encode(v)
}

// credentials names one repository and how to unlock it: the global
// --repo, --password-file and --identity-file flags, or copy's --from-*
// flags. Empty fields fall back to environment variables named with
// envPrefix (GODWIT_REPOSITORY, GODWIT_PASSWORD_FILE, GODWIT_PASSWORD,
// GODWIT_IDENTITY_FILE).
type credentials struct {
	repo, passwordFile, identityFile string
	flagPrefix                       string // "" or "from-"
	envPrefix                        string // "GODWIT_" or "GODWIT_FROM_"
	what                             string // "repository" or "source repository", for prompts
}

// mainCredentials returns the credentials of the repository given with
// --repo.
func (e *env) mainCredentials() credentials {
	return credentials{repo: e.repo, passwordFile: e.passwordFile, identityFile: e.identityFile, envPrefix: "GODWIT_", what: "repository"}
}

func (e *env) location() (string, error) { return e.locationOf(e.mainCredentials()) }

func (e *env) locationOf(c credentials) (string, error) {
	loc := c.repo
	if loc == "" {
		loc = e.getenv(c.envPrefix + "REPOSITORY")
	}
	if loc == "" {
		return "", &usageError{fmt.Sprintf("no %s given: use --%srepo or set %sREPOSITORY", c.what, c.flagPrefix, c.envPrefix)}
	}
	return loc, nil
}

// readSecretFile reads a passphrase file, dropping one trailing newline.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read passphrase: %w", err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	s = strings.TrimSuffix(s, "\r")
	if s == "" {
		return "", fmt.Errorf("passphrase file %s is empty", path)
	}
	return s, nil
}

// prompt asks on the terminal without echo.
func (e *env) prompt(what string) (string, error) {
	if e.tty == nil {
		return "", errors.New("no terminal to ask for the " + what + ": use --password-file")
	}
	tty, err := e.tty()
	if err != nil {
		return "", fmt.Errorf("no terminal to ask for the %s (use --password-file or GODWIT_PASSWORD_FILE): %w", what, err)
	}
	defer tty.Close()
	fmt.Fprintf(tty, "Enter %s: ", what)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	return string(b), nil
}

// passphrase returns the passphrase from --password-file,
// GODWIT_PASSWORD_FILE, GODWIT_PASSWORD or the terminal; ok is false when
// none was given and there is no terminal.
func (e *env) passphrase(ask bool) (string, bool, error) {
	return e.passphraseOf(e.mainCredentials(), ask)
}

func (e *env) passphraseOf(c credentials, ask bool) (string, bool, error) {
	path := c.passwordFile
	if path == "" {
		path = e.getenv(c.envPrefix + "PASSWORD_FILE")
	}
	if path != "" {
		s, err := readSecretFile(path)
		return s, err == nil, err
	}
	if s := e.getenv(c.envPrefix + "PASSWORD"); s != "" {
		return s, true, nil
	}
	if !ask {
		return "", false, nil
	}
	s, err := e.prompt(c.what + " passphrase")
	if err != nil {
		return "", false, err
	}
	return s, true, nil
}

func (e *env) identityPathOf(c credentials) string {
	if c.identityFile != "" {
		return c.identityFile
	}
	return e.getenv(c.envPrefix + "IDENTITY_FILE")
}

// unlockerOf collects the credentials given on the command line for one
// repository.
func (e *env) unlockerOf(c credentials) (repo.Unlocker, error) {
	if path := e.identityPathOf(c); path != "" {
		ids, wk, err := crypto.LoadIdentityFile(path, e.prompt)
		if err != nil {
			return repo.Unlocker{}, fmt.Errorf("identity file %s: %w", path, err)
		}
		return repo.Unlocker{Identities: ids, WriteKey: wk}, nil
	}
	pass, ok, err := e.passphraseOf(c, true)
	if err != nil {
		return repo.Unlocker{}, err
	}
	if !ok {
		return repo.Unlocker{}, fmt.Errorf("no passphrase or identity given: %w", crypto.ErrNoMatchingKey)
	}
	return repo.Unlocker{Identities: crypto.PassphraseIdentities(pass)}, nil
}

// openRepo opens and unlocks the repository and checks its fingerprint
// against the one pinned on first use. It does not load the index.
func (e *env) openRepo(ctx context.Context) (*repo.Repository, error) {
	return e.openRepoOf(ctx, e.mainCredentials())
}

// openRepoOf is openRepo for the repository named by c.
func (e *env) openRepoOf(ctx context.Context, c credentials) (*repo.Repository, error) {
	loc, err := e.locationOf(c)
	if err != nil {
		return nil, err
	}
	be, err := e.openBackendAt(ctx, loc, false)
	if err != nil {
		return nil, err
	}
	u, err := e.unlockerOf(c)
	if err != nil {
		be.Close()
		return nil, err
	}
	r, err := repo.Open(ctx, be, u)
	if err != nil {
		be.Close()
		return nil, err
	}
	// A passphrase unlock allocated scrypt's 64 MiB, dead from now on.
	// Collecting it before the index loads lets the heap reuse that
	// memory instead of growing past it: peak memory is the larger of the
	// two, not their sum.
	runtime.GC()
	if err := e.checkPin(be.Location(), r); err != nil {
		be.Close()
		return nil, err
	}
	if n := e.backend.connections; n > 0 {
		r.SetUploads(n)
	} else if e.remote {
		r.SetUploads(defaultConnections)
	}
	return r, nil
}

// openRepoWithIndex opens the repository and loads its index.
func (e *env) openRepoWithIndex(ctx context.Context) (*repo.Repository, error) {
	r, err := e.openRepo(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.LoadIndex(ctx); err != nil {
		e.warn("%v\n", err)
	}
	return r, nil
}

// requireOwner fails with a clear message when r was opened with a write
// key.
func requireOwner(r *repo.Repository, what string) error {
	if r.CanReadData() {
		return nil
	}
	return fmt.Errorf("%s needs an owner credential: %w", what, crypto.ErrWriteOnly)
}

func (e *env) cacheBase() string {
	if e.cacheDir != "" {
		return e.cacheDir
	}
	if d := e.getenv("GODWIT_CACHE_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/cache/godwit"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "godwit")
	}
	return filepath.Join(os.TempDir(), "godwit-cache")
}

func closeRepo(r *repo.Repository) {
	r.Close()
	r.Backend().Close()
}
