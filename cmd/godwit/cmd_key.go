package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
)

func newKeyCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage owner keys and write keys",
		Long: `Manage the credentials that unlock the repository.

Owner keys (a passphrase, age or SSH keys) read and write everything. A write
key, made with "key write-key", can only add backups: install it on the
backed-up host and keep the owner credentials elsewhere.`,
	}
	cmd.AddCommand(newKeyListCommand(e), newKeyAddCommand(e), newKeyRemoveCommand(e),
		newKeyPasswdCommand(e), newKeyWriteKeyCommand(e))
	return cmd
}

func newKeyListCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the key objects and show the repository fingerprint",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := e.openRepo(ctx)
			if err != nil {
				return err
			}
			defer closeRepo(r)
			keys, err := r.ListKeys(ctx)
			if err != nil {
				return err
			}
			if e.json {
				out := keyListOutput{Repository: r.Config().ID, Fingerprint: r.Keys().Fingerprint(), Keys: []keyJSON{}, WriteKey: !r.CanReadData()}
				for _, k := range keys {
					out.Keys = append(out.Keys, keyJSON{ID: k.Name, Types: k.Types, Current: k.Current, Intact: k.Intact, Info: k.Info})
				}
				return e.printJSON(out)
			}
			e.info("repository %s\nfingerprint %s\n", r.Config().ID, r.Keys().Fingerprint())
			if !r.CanReadData() {
				e.info("(opened with a write key)\n")
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, " \tID\tType\tCreated\tHost\tRecipient")
			for _, k := range keys {
				cur, created, host, rcpt := " ", "", "", ""
				if k.Current {
					cur = "*"
				}
				if k.Info != nil {
					created = k.Info.Created.Local().Format("2006-01-02 15:04")
					host, rcpt = k.Info.Host, k.Info.Recipient
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cur, k.Name[:12], strings.Join(k.Types, ","), created, host, rcpt)
			}
			return tw.Flush()
		},
	}
}

// keyListOutput is the --json document of key list (docs/json.md).
type keyListOutput struct {
	Repository  string    `json:"repository"`
	Fingerprint string    `json:"fingerprint"`
	Keys        []keyJSON `json:"keys"`
	// WriteKey is true when the command was unlocked with a write key,
	// which can list the key objects but not see their details.
	WriteKey bool `json:"write_key"`
}

type keyJSON struct {
	ID      string   `json:"id"`
	Types   []string `json:"types"`
	Current bool     `json:"current"`
	// Intact is false when the object's name is not the hash of its
	// bytes: it was damaged, truncated or swapped.
	Intact bool `json:"intact"`
	// Info is known only for the key that unlocked the repository.
	Info *crypto.KeyInfo `json:"info,omitempty"`
}

// credentialFlags reads a new owner credential from --recipient or
// --new-password-file, or asks for a passphrase.
type credentialFlags struct {
	recipient       string
	newPasswordFile string
}

func (cf *credentialFlags) add(cmd *cobra.Command, withRecipient bool) {
	if withRecipient {
		cmd.Flags().StringVar(&cf.recipient, "recipient", "", "the new owner `RECIPIENT` (age1..., age1pq1..., SSH public key)")
	}
	cmd.Flags().StringVar(&cf.newPasswordFile, "new-password-file", "", "read the new passphrase from `FILE`")
}

func (cf *credentialFlags) credential(e *env) (crypto.Credential, error) {
	if cf.recipient != "" {
		c, err := crypto.ParseCredential(cf.recipient)
		if err != nil {
			return crypto.Credential{}, &usageError{fmt.Sprintf("--recipient: %v", err)}
		}
		return c, nil
	}
	var pass string
	if cf.newPasswordFile != "" {
		p, err := readSecretFile(cf.newPasswordFile)
		if err != nil {
			return crypto.Credential{}, err
		}
		pass = p
	} else {
		p1, err := e.prompt("new passphrase")
		if err != nil {
			return crypto.Credential{}, err
		}
		p2, err := e.prompt("the new passphrase again")
		if err != nil {
			return crypto.Credential{}, err
		}
		if p1 != p2 || p1 == "" {
			return crypto.Credential{}, errors.New("the passphrases are empty or do not match")
		}
		pass = p1
	}
	return crypto.PassphraseCredential(pass, e.scryptWorkFactor())
}

// openExclusive opens the repository with an owner credential and takes
// the exclusive lock. done releases both.
func (e *env) openExclusive(cmd *cobra.Command, what string) (r *repo.Repository, done func(), err error) {
	r, err = e.openOwnerRepo(cmd, what)
	if err != nil {
		return nil, nil, err
	}
	ctx := cmd.Context()
	lk, err := r.Lock(ctx, true, e.now)
	if err != nil {
		closeRepo(r)
		return nil, nil, err
	}
	return r, func() { lk.Release(ctx); closeRepo(r) }, nil
}

func (e *env) openOwnerRepo(cmd *cobra.Command, what string) (*repo.Repository, error) {
	r, err := e.openRepo(cmd.Context())
	if err != nil {
		return nil, err
	}
	if err := requireOwner(r, what); err != nil {
		closeRepo(r)
		return nil, err
	}
	return r, nil
}

func newKeyAddCommand(e *env) *cobra.Command {
	var cf credentialFlags
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add an owner credential (a passphrase or a recipient)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := e.openOwnerRepo(cmd, "key add")
			if err != nil {
				return err
			}
			defer closeRepo(r)
			c, err := cf.credential(e)
			if err != nil {
				return err
			}
			host, _ := os.Hostname()
			name, _, err := r.AddKey(cmd.Context(), c, crypto.KeyInfo{Host: host, Username: currentUser(), Created: e.now()})
			if err != nil {
				return err
			}
			e.info("added key %s (%s)\n", name[:12], c.Kind())
			return nil
		},
	}
	cf.add(cmd, true)
	return cmd
}

func newKeyRemoveCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Remove an owner key object",
		Args:  exactArgs(1, "one key id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, done, err := e.openExclusive(cmd, "key remove")
			if err != nil {
				return err
			}
			defer done()
			name, err := r.ResolveKeyName(ctx, args[0])
			if err != nil {
				return err
			}
			if err := r.RemoveKey(ctx, name); err != nil {
				return err
			}
			e.info("removed key %s\n", name[:12])
			return nil
		},
	}
}

func newKeyPasswdCommand(e *env) *cobra.Command {
	var cf credentialFlags
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Change the passphrase of the key used to unlock",
		Long:  "Replace the key object this command is unlocked with by one sealed to a new passphrase.",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, done, err := e.openExclusive(cmd, "key passwd")
			if err != nil {
				return err
			}
			defer done()
			c, err := cf.credential(e)
			if err != nil {
				return err
			}
			old, info := r.CurrentKey()
			info.Created = e.now()
			name, _, err := r.AddKey(ctx, c, info)
			if err != nil {
				return err
			}
			if err := r.Backend().Remove(ctx, keyHandle(old)); err != nil {
				return fmt.Errorf("new key %s added, but removing the old key %s failed: %w", name[:12], old[:12], err)
			}
			e.info("passphrase changed: key %s replaces %s\n", name[:12], old[:12])
			return nil
		},
	}
	cf.add(cmd, false)
	return cmd
}

func newKeyWriteKeyCommand(e *env) *cobra.Command {
	var output, host string
	cmd := &cobra.Command{
		Use:   "write-key --output FILE [--host NAME]",
		Short: "Create a write key for a backed-up host",
		Long: `Create a write key: it can add backups (with full deduplication) and list
snapshots, but cannot read any file content, file name or directory listing.
Copy it to the backed-up host (mode 0600) and back up with -i FILE there.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return &usageError{"write-key needs --output FILE"}
			}
			r, err := e.openOwnerRepo(cmd, "key write-key")
			if err != nil {
				return err
			}
			defer closeRepo(r)
			if host == "" {
				host, _ = os.Hostname()
			}
			wk, err := r.Keys().NewWriteKey(host, e.now())
			if err != nil {
				return err
			}
			data, err := wk.Marshal()
			if err != nil {
				return err
			}
			f, err := os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s exists; remove it first or choose another --output", output)
			}
			if err != nil {
				return err
			}
			if _, err := f.Write(data); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			e.info("wrote write key for host %s to %s (repository %s, fingerprint %s)\n", host, output, r.Config().ID, r.Keys().Fingerprint())
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the key to `FILE` (must not exist)")
	cmd.Flags().StringVar(&host, "host", "", "the host `NAME` the key is for (default: this hostname)")
	return cmd
}

func keyHandle(name string) backends.Handle {
	return backends.Handle{Type: backends.KeyFile, Name: name}
}
