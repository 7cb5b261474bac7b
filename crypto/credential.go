package crypto

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/plugin"
)

// Credential kinds, as recorded in KeyInfo.Kind.
const (
	KindPassphrase = "passphrase"
	KindX25519     = "x25519"
	KindPQ         = "pq"
	KindSSHEd25519 = "ssh-ed25519"
	KindSSHRSA     = "ssh-rsa"
	KindPlugin     = "plugin"
)

const (
	defaultWorkFactor = 16 // 64 MiB and about a quarter second; see docs/decisions.md
	minWorkFactor     = 10
	// maxWorkFactor is the highest work factor age's scrypt identity accepts
	// by default; a key object sealed above it could never be opened.
	maxWorkFactor = 22
)

// Credential is one owner credential to seal a key object to: a passphrase
// or a public recipient. The zero Credential is invalid. A passphrase
// Credential holds the passphrase; it never prints it (String returns
// "passphrase", JSON holds only kind and recipient).
type Credential struct {
	recipient age.Recipient
	kind      string
	public    string // public recipient string; "" for a passphrase
}

// PassphraseCredential returns a Credential that seals with age's scrypt
// recipient. workFactor is log2 of the scrypt cost: 0 means age's default
// (18); otherwise it must be between 10 and 22 (the highest that age's
// scrypt identity accepts when opening).
func PassphraseCredential(passphrase string, workFactor int) (Credential, error) {
	if workFactor == 0 {
		workFactor = defaultWorkFactor
	}
	if workFactor < minWorkFactor || workFactor > maxWorkFactor {
		return Credential{}, fmt.Errorf("scrypt work factor %d out of range [%d, %d]", workFactor, minWorkFactor, maxWorkFactor)
	}
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return Credential{}, fmt.Errorf("passphrase credential: %w", err)
	}
	r.SetWorkFactor(workFactor)
	return Credential{recipient: r, kind: KindPassphrase}, nil
}

// ParseCredential parses a public recipient as the age CLI does for -r:
// "age1pq1..." (post-quantum), "age1..." (X25519), "ssh-ed25519 AAAA...
// [comment]", "ssh-rsa AAAA... [comment]", and plugin recipients
// "age1NAME1..." (the plugin binary age-plugin-NAME runs when sealing; its
// messages go to stderr and its questions to the terminal). Leading and
// trailing white space is ignored. Errors do not quote s, in case a secret
// was pasted by mistake.
func ParseCredential(s string) (Credential, error) {
	s = strings.TrimSpace(s)
	var (
		r    age.Recipient
		kind string
		err  error
	)
	switch {
	case strings.HasPrefix(s, "AGE-"):
		return Credential{}, errors.New("this is an identity (a secret key), not a recipient: use the public key (age1...)")
	case strings.HasPrefix(s, "age1pq1"):
		r, err = age.ParseHybridRecipient(s)
		kind = KindPQ
	case strings.HasPrefix(s, "age1") && strings.Count(s, "1") > 1:
		// Bech32 data never contains '1', so a second one ends a plugin name.
		r, err = plugin.NewRecipient(s, stderrUI())
		kind = KindPlugin
	case strings.HasPrefix(s, "age1"):
		r, err = age.ParseX25519Recipient(s)
		kind = KindX25519
	case strings.HasPrefix(s, "ssh-ed25519 "):
		r, err = agessh.ParseRecipient(s)
		kind = KindSSHEd25519
	case strings.HasPrefix(s, "ssh-rsa "):
		r, err = agessh.ParseRecipient(s)
		kind = KindSSHRSA
	default:
		return Credential{}, errors.New("unknown recipient type: want age1..., age1pq1..., ssh-ed25519, ssh-rsa or a plugin recipient")
	}
	if err != nil {
		return Credential{}, fmt.Errorf("malformed %s recipient: %w", kind, err)
	}
	return Credential{recipient: r, kind: kind, public: s}, nil
}

// ParseCredentialsFile reads recipients one per line, like age -R: lines
// starting with '#' and blank lines are skipped. Unlike age, an unsupported
// SSH key is an error rather than skipped, so no owner credential is ever
// silently left out. An input without recipients is an error.
func ParseCredentialsFile(r io.Reader) ([]Credential, error) {
	const sizeLimit = 16 << 20
	lr := &io.LimitedReader{R: r, N: sizeLimit + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(nil, 64<<10)
	var creds []Credential
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("recipients file: line %d is not valid UTF-8", n)
		}
		c, err := ParseCredential(line)
		if err != nil {
			return nil, fmt.Errorf("recipients file: line %d: %w", n, err)
		}
		creds = append(creds, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("recipients file: %w", err)
	}
	if lr.N == 0 {
		return nil, errors.New("recipients file is too long")
	}
	if len(creds) == 0 {
		return nil, errors.New("recipients file: no recipients found")
	}
	return creds, nil
}

// Kind returns one of the Kind constants; "" for the zero Credential.
func (c Credential) Kind() string { return c.kind }

// String returns the public recipient, or "passphrase".
func (c Credential) String() string {
	if c.kind == KindPassphrase {
		return KindPassphrase
	}
	return c.public
}

// GoString describes c without the passphrase.
func (c Credential) GoString() string {
	return fmt.Sprintf("crypto.Credential{%s: %s}", c.kind, c.String())
}

// Format prints String for every verb but %#v (GoString), so no verb can
// show a passphrase.
func (c Credential) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		formatRedacted(f, verb, c.GoString())
		return
	}
	formatRedacted(f, verb, c.String())
}

// MarshalJSON encodes the kind and the public recipient only.
func (c Credential) MarshalJSON() ([]byte, error) {
	return jsonMarshal(struct {
		Kind      string `json:"kind"`
		Recipient string `json:"recipient,omitempty"`
	}{c.kind, c.public})
}

// stderrUI is the plugin UI used when sealing: messages go to stderr,
// questions to the terminal.
func stderrUI() *plugin.ClientUI {
	printf := func(format string, v ...any) { fmt.Fprintf(os.Stderr, format+"\n", v...) }
	return plugin.NewTerminalUI(printf, func(format string, v ...any) {
		fmt.Fprintf(os.Stderr, "warning: "+format+"\n", v...)
	})
}
