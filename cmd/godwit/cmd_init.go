package main

import (
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
)

func newInitCommand(e *env) *cobra.Command {
	var (
		recipients     []string
		recipientsFile string
		x25519         bool
		packSizeMiB    int
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a new repository",
		Long: `Create a new, empty repository and its owner keys.

Owner credentials unlock the repository: a passphrase (--password-file,
GODWIT_PASSWORD, or asked on the terminal), and/or age or SSH public keys
(--recipient, --recipients-file). Each credential gets its own key object.
The repository fingerprint is printed; keep it to verify the repository later.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var creds []crypto.Credential
			for _, r := range recipients {
				c, err := crypto.ParseCredential(r)
				if err != nil {
					return &usageError{fmt.Sprintf("--recipient %q: %v", r, err)}
				}
				creds = append(creds, c)
			}
			if recipientsFile != "" {
				f, err := os.Open(recipientsFile)
				if err != nil {
					return err
				}
				cs, err := crypto.ParseCredentialsFile(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", recipientsFile, err)
				}
				creds = append(creds, cs...)
			}
			pass, ok, err := e.newPassphrase(len(creds) == 0)
			if err != nil {
				return err
			}
			if ok {
				c, err := crypto.PassphraseCredential(pass, e.scryptWorkFactor())
				if err != nil {
					return err
				}
				creds = append([]crypto.Credential{c}, creds...)
			}
			if len(creds) == 0 {
				return &usageError{"no owner credential: give --password-file, --recipient or --recipients-file, or run on a terminal to be asked for a passphrase"}
			}
			scheme := crypto.SchemePQ
			if x25519 {
				scheme = crypto.SchemeX25519
			}
			be, err := e.openBackend(ctx, true)
			if err != nil {
				return err
			}
			defer be.Close()
			host, _ := os.Hostname()
			r, err := repo.Init(ctx, be, repo.InitOptions{
				Scheme:      scheme,
				PackSize:    packSizeMiB << 20,
				Credentials: creds,
				Host:        host,
				Username:    currentUser(),
				Now:         e.now(),
			})
			if err != nil {
				return err
			}
			defer r.Close()
			if err := e.pinNew(be.Location(), r); err != nil {
				e.warn("could not pin the fingerprint: %v\n", err)
			}
			if e.json {
				return e.printJSON(map[string]any{
					"id": r.Config().ID, "location": be.Location(), "fingerprint": r.Keys().Fingerprint(),
					"keys": len(creds), "scheme": string(scheme),
				})
			}
			e.info("created repository %s at %s\n", r.Config().ID, be.Location())
			e.info("fingerprint: %s\n", r.Keys().Fingerprint())
			e.info("owner keys: %d (%s)\n", len(creds), describeCreds(creds))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&recipients, "recipient", nil, "owner `RECIPIENT`: age1..., age1pq1..., or an SSH public key (repeatable)")
	f.StringVar(&recipientsFile, "recipients-file", "", "read owner recipients from `FILE`, one per line")
	f.IntVar(&packSizeMiB, "pack-size", 16, "target pack size in `MiB` (1 to 1024); larger packs mean fewer objects on remote storage")
	f.BoolVar(&x25519, "x25519", false, "use X25519 data and metadata keys instead of post-quantum hybrid ones (for age clients older than 1.3)")
	return cmd
}

func describeCreds(cs []crypto.Credential) string {
	s := ""
	for i, c := range cs {
		if i > 0 {
			s += ", "
		}
		s += c.Kind()
	}
	return s
}

// newPassphrase gets a passphrase for a new key: from the file or
// environment, or asked twice on the terminal when ask is set.
func (e *env) newPassphrase(ask bool) (string, bool, error) {
	pass, ok, err := e.passphrase(false)
	if err != nil || ok || !ask {
		return pass, ok, err
	}
	p1, err := e.prompt("new repository passphrase")
	if err != nil {
		return "", false, err
	}
	if p1 == "" {
		return "", false, fmt.Errorf("empty passphrase")
	}
	p2, err := e.prompt("the passphrase again")
	if err != nil {
		return "", false, err
	}
	if p1 != p2 {
		return "", false, fmt.Errorf("the passphrases do not match")
	}
	return p1, true, nil
}

// scryptWorkFactor reads GODWIT_SCRYPT_WORK_FACTOR (log2 of scrypt's N)
// for slow machines and test suites; 0 means age's default.
func (e *env) scryptWorkFactor() int {
	n, _ := strconv.Atoi(e.getenv("GODWIT_SCRYPT_WORK_FACTOR"))
	return n
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
