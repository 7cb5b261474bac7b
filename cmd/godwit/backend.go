package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/local"
	"github.com/godwit-backup/godwit/backends/retry"
	"github.com/godwit-backup/godwit/backends/s3"
	"github.com/godwit-backup/godwit/backends/sftp"
)

// defaultConnections is the number of parallel requests to a remote
// repository, and of packs uploaded at once.
const defaultConnections = 5

// backendFlags configure the remote backends.
type backendFlags struct {
	sftpCommand    string
	sftpArgs       string
	s3Region       string
	s3PathStyle    string
	s3StorageClass string
	s3LockDays     int
	connections    int
}

func (b *backendFlags) add(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&b.sftpCommand, "sftp-command", "", "run `COMMAND` instead of ssh to reach the SFTP server (split at spaces; env GODWIT_SFTP_COMMAND)")
	f.StringVar(&b.sftpArgs, "sftp-args", "", "extra ssh `ARGS` for sftp repositories, e.g. \"-i ~/.ssh/backup -p 2222\" (env GODWIT_SFTP_ARGS)")
	f.StringVar(&b.s3Region, "s3-region", "", "S3 `REGION` (default: from the AWS environment or config)")
	f.StringVar(&b.s3PathStyle, "s3-path-style", "", "use path-style S3 addressing: true or false (default: true for s3:http(s):// locations)")
	f.StringVar(&b.s3StorageClass, "s3-storage-class", "", "S3 storage `CLASS` for new objects, e.g. STANDARD_IA")
	f.IntVar(&b.s3LockDays, "s3-object-lock-days", 0, "set Object Lock retention of `N` days on every new object (the bucket must have Object Lock enabled)")
	f.IntVar(&b.connections, "connections", 0, "parallel connections to a remote repository, and packs uploaded at once (default 5 remote, 2 local)")
}

// openBackend opens the backend at the repository location, wrapped with
// retries for remote ones. create makes a new, empty repository layout.
func (e *env) openBackend(ctx context.Context, create bool) (backends.Backend, error) {
	loc, err := e.location()
	if err != nil {
		return nil, err
	}
	return e.openBackendAt(ctx, loc, create)
}

// openBackendAt is openBackend for the repository at loc.
func (e *env) openBackendAt(ctx context.Context, loc string, create bool) (backends.Backend, error) {
	var (
		be     backends.Backend
		remote bool
	)
	switch {
	case strings.HasPrefix(loc, "sftp:"):
		cfg, err := sftp.ParseLocation(loc)
		if err != nil {
			return nil, &usageError{err.Error()}
		}
		cmdline := firstNonEmpty(e.backend.sftpCommand, e.getenv("GODWIT_SFTP_COMMAND"))
		if cmdline != "" {
			cfg.Command = strings.Fields(cmdline)
		}
		cfg.SSHOptions = strings.Fields(firstNonEmpty(e.backend.sftpArgs, e.getenv("GODWIT_SFTP_ARGS")))
		cfg.Connections = e.backend.connections
		remote = true
		if create {
			be, err = sftp.Create(ctx, cfg)
		} else {
			be, err = sftp.Open(ctx, cfg)
		}
		if err != nil {
			return nil, e.openError(err)
		}
	case strings.HasPrefix(loc, "s3:"):
		cfg, err := s3.ParseLocation(loc)
		if err != nil {
			return nil, &usageError{err.Error()}
		}
		switch e.backend.s3PathStyle {
		case "":
		case "true":
			cfg.PathStyle = true
		case "false":
			cfg.PathStyle = false
		default:
			return nil, &usageError{"--s3-path-style wants true or false"}
		}
		if e.backend.s3Region != "" {
			cfg.Region = e.backend.s3Region
		}
		cfg.StorageClass = e.backend.s3StorageClass
		cfg.ObjectLockDays = e.backend.s3LockDays
		cfg.Connections = e.backend.connections
		remote = true
		if create {
			be, err = s3.Create(ctx, cfg)
		} else {
			be, err = s3.Open(ctx, cfg)
		}
		if err != nil {
			return nil, e.openError(err)
		}
	case strings.Contains(loc, "://"):
		return nil, &usageError{fmt.Sprintf("repository %q: unknown scheme; use a directory, sftp://user@host/path or s3://bucket/prefix", loc)}
	default:
		abs, err := filepath.Abs(loc)
		if err != nil {
			return nil, err
		}
		if create {
			be, err = local.Create(ctx, abs)
		} else {
			be, err = local.Open(ctx, abs)
		}
		if err != nil {
			return nil, e.openError(err)
		}
	}
	e.remote = remote
	if remote {
		be = retry.New(be, retry.Options{
			Notify: func(op string, h backends.Handle, attempt int, err error, delay time.Duration) {
				e.warn("%s %s failed (attempt %d), retrying in %s: %v\n", op, h, attempt, delay.Round(time.Millisecond), err)
			},
		})
	}
	return be, nil
}

// restoreWorkers is how many packs a restore fetches at once: the
// connection count for a remote repository, 2 for a local one (the disk
// is the limit, and each worker holds a pack in memory).
func (e *env) restoreWorkers() int {
	switch {
	case e.backend.connections > 0:
		return e.backend.connections
	case e.remote:
		return defaultConnections
	}
	return 2
}

func (e *env) openError(err error) error {
	if backends.IsNotExist(err) {
		return fmt.Errorf("%w: %v", errNoRepository, err)
	}
	return err
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
