package crypto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"filippo.io/age/plugin"
	"golang.org/x/crypto/ssh"
)

// Identities are what a user unlocks key objects with: a passphrase, age
// identities, SSH private keys, plugin identities. The zero Identities is
// empty. Identities never print their secrets. Opening with Identities that
// hold an encrypted SSH key or a plugin identity may prompt the user; such
// Identities must not be used from several goroutines at once.
type Identities struct {
	ids        []age.Identity
	passphrase bool
}

// PassphraseIdentities returns Identities holding age's scrypt identity for
// passphrase, with age's default maximum work factor. An empty passphrase
// gives empty Identities (age never seals to an empty passphrase).
func PassphraseIdentities(passphrase string) Identities {
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return Identities{}
	}
	return Identities{ids: []age.Identity{id}, passphrase: true}
}

// Empty reports whether ids holds no identity.
func (ids Identities) Empty() bool { return len(ids.ids) == 0 }

// With returns Identities holding those of ids and then those of other.
func (ids Identities) With(other Identities) Identities {
	return Identities{
		ids:        append(slices.Clip(ids.ids), other.ids...),
		passphrase: ids.passphrase || other.passphrase,
	}
}

// CanOpen reports whether some identity in ids might open an age file with
// the given stanza types (from StanzaTypes), without running any identity:
// a passphrase opens only a file whose single stanza is "scrypt", age and
// SSH identities open files with their own stanza type, and plugin
// identities may open anything. Use it to skip key objects that cannot
// match, saving scrypt work and passphrase prompts.
func (ids Identities) CanOpen(stanzaTypes []string) bool {
	for _, id := range ids.ids {
		for _, t := range stanzaTypes {
			if identityMayMatch(id, t, len(stanzaTypes)) {
				return true
			}
		}
	}
	return false
}

func identityMayMatch(id age.Identity, stanzaType string, nStanzas int) bool {
	switch id := id.(type) {
	case *age.ScryptIdentity:
		return stanzaType == "scrypt" && nStanzas == 1
	case *age.X25519Identity:
		return stanzaType == "X25519"
	case *age.HybridIdentity:
		return stanzaType == "mlkem768x25519"
	case *agessh.Ed25519Identity:
		return stanzaType == "ssh-ed25519"
	case *agessh.RSAIdentity:
		return stanzaType == "ssh-rsa"
	case *agessh.EncryptedSSHIdentity:
		switch id.Recipient().(type) {
		case *agessh.Ed25519Recipient:
			return stanzaType == "ssh-ed25519"
		case *agessh.RSARecipient:
			return stanzaType == "ssh-rsa"
		}
		return true
	case *plugin.Identity:
		// Plugins may produce any stanza type, native ones included
		// (age-plugin-batchpass writes "scrypt"); they check for
		// themselves before asking for a touch or a PIN.
		return true
	}
	return true
}

func (ids Identities) describe() string {
	if ids.passphrase {
		return fmt.Sprintf("crypto.Identities{%d, with passphrase}", len(ids.ids))
	}
	return fmt.Sprintf("crypto.Identities{%d}", len(ids.ids))
}

// String describes ids without secrets.
func (ids Identities) String() string { return ids.describe() }

// GoString describes ids without secrets.
func (ids Identities) GoString() string { return ids.describe() }

// Format prints the same description for every verb.
func (ids Identities) Format(f fmt.State, verb rune) { formatRedacted(f, verb, ids.describe()) }

// MarshalJSON encodes only the number of identities.
func (ids Identities) MarshalJSON() ([]byte, error) {
	return jsonMarshal(struct {
		Count      int  `json:"count"`
		Passphrase bool `json:"passphrase"`
	}{len(ids.ids), ids.passphrase})
}

var errNoTerminal = errors.New("a passphrase is needed but no terminal is available")

// identityFileLimit bounds what LoadIdentityFile reads.
const identityFileLimit = 16 << 20

// LoadIdentityFile reads an identity file as the age CLI does for -i:
//
//   - age identity files: one identity per line (AGE-SECRET-KEY-1...,
//     AGE-SECRET-KEY-PQ-1..., plugin identities AGE-PLUGIN-...), '#'
//     comments and blank lines skipped;
//   - SSH private keys (ed25519, RSA); for an encrypted one, prompt is
//     called the first time the key matches a key object, and the public
//     key comes from the file or from path + ".pub";
//   - passphrase-protected identity files (an age file, armored or binary,
//     encrypted with a passphrase, containing an age identity file): prompt
//     is called at once; a wrong passphrase wraps ErrNoMatchingKey.
//
// If the file is a godwit write key it returns (Identities{}, wk, nil).
//
// prompt receives a short description of what is to be unlocked, such as
// `identity file "/root/key.age"`, and returns the passphrase. It may be
// nil when no terminal is available: then anything needing a passphrase
// fails with an error saying so. Plugins show messages on stderr and ask
// their questions through prompt.
func LoadIdentityFile(path string, prompt func(what string) (string, error)) (Identities, *WriteKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return Identities{}, nil, fmt.Errorf("load identity file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, identityFileLimit+1))
	if err != nil {
		return Identities{}, nil, fmt.Errorf("load identity file %q: %w", path, err)
	}
	if len(data) > identityFileLimit {
		return Identities{}, nil, fmt.Errorf("load identity file %q: file too long", path)
	}
	defer clear(data)

	if IsWriteKey(data) {
		wk, err := ParseWriteKey(data)
		if err != nil {
			return Identities{}, nil, fmt.Errorf("load identity file %q: %w", path, err)
		}
		return Identities{}, wk, nil
	}

	trimmed := bytes.TrimSpace(data)
	var ids []age.Identity
	switch {
	case bytes.HasPrefix(data, []byte("age-encryption.org/")) || bytes.HasPrefix(trimmed, []byte(armor.Header)):
		ids, err = decryptIdentityFile(path, data, prompt)
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		ids, err = parseSSHIdentity(path, data, prompt)
	default:
		ids, err = parseIdentityLines(bytes.NewReader(data), prompt)
	}
	if err != nil {
		return Identities{}, nil, fmt.Errorf("load identity file %q: %w", path, err)
	}
	return Identities{ids: ids}, nil, nil
}

// decryptIdentityFile opens a passphrase-protected identity file.
func decryptIdentityFile(path string, data []byte, prompt func(string) (string, error)) ([]age.Identity, error) {
	ciphertext := data
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte(armor.Header)) {
		var err error
		ciphertext, err = io.ReadAll(armor.NewReader(bytes.NewReader(data)))
		if err != nil {
			return nil, err
		}
	}
	types, err := StanzaTypes(ciphertext)
	if err != nil {
		return nil, err
	}
	if len(types) != 1 || types[0] != "scrypt" {
		return nil, errors.New("identity file is encrypted with age but not with a passphrase")
	}
	if prompt == nil {
		return nil, errNoTerminal
	}
	pass, err := prompt(fmt.Sprintf("identity file %q", path))
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, fmt.Errorf("incorrect passphrase: %w", ErrNoMatchingKey)
	}
	plain, err := age.Decrypt(bytes.NewReader(ciphertext), id)
	if e := new(age.NoIdentityMatchError); errors.As(err, &e) {
		return nil, fmt.Errorf("incorrect passphrase: %w", ErrNoMatchingKey)
	}
	if err != nil {
		return nil, err
	}
	contents, err := io.ReadAll(io.LimitReader(plain, identityFileLimit))
	if err != nil {
		return nil, err
	}
	defer clear(contents)
	return parseIdentityLines(bytes.NewReader(contents), prompt)
}

// parseSSHIdentity parses an SSH private key; encrypted keys ask prompt for
// their passphrase only when they match a file.
func parseSSHIdentity(path string, pemBytes []byte, prompt func(string) (string, error)) ([]age.Identity, error) {
	id, err := agessh.ParseIdentity(pemBytes)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		pub := missing.PublicKey
		if pub == nil {
			pub, err = readPubFile(path + ".pub")
			if err != nil {
				return nil, err
			}
		}
		key := slices.Clone(pemBytes) // the caller clears its copy
		ask := func() ([]byte, error) {
			if prompt == nil {
				return nil, errNoTerminal
			}
			p, err := prompt(fmt.Sprintf("SSH key %q", path))
			return []byte(p), err
		}
		eid, err := agessh.NewEncryptedSSHIdentity(pub, key, ask)
		if err != nil {
			return nil, fmt.Errorf("encrypted SSH key: %w", err)
		}
		return []age.Identity{eid}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("malformed SSH private key: %w", err)
	}
	return []age.Identity{id}, nil
}

func readPubFile(path string) (ssh.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encrypted SSH key in an old format needs its public key: %w", err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", path, err)
	}
	return pub, nil
}

// parseIdentityLines parses an age identity file. Errors name line numbers,
// never contents.
func parseIdentityLines(r io.Reader, prompt func(string) (string, error)) ([]age.Identity, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<10)
	var ids []age.Identity
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("line %d is not valid UTF-8", n)
		}
		id, err := parseIdentity(line, prompt)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("no identities found")
	}
	return ids, nil
}

func parseIdentity(s string, prompt func(string) (string, error)) (age.Identity, error) {
	switch {
	case strings.HasPrefix(s, "AGE-PLUGIN-"):
		id, err := plugin.NewIdentity(s, promptUI(prompt))
		if err != nil {
			return nil, errors.New("malformed plugin identity")
		}
		return id, nil
	case strings.HasPrefix(s, "AGE-SECRET-KEY-PQ-1"):
		id, err := age.ParseHybridIdentity(s)
		if err != nil {
			return nil, errors.New("malformed post-quantum identity")
		}
		return id, nil
	case strings.HasPrefix(s, "AGE-SECRET-KEY-1"):
		id, err := age.ParseX25519Identity(s)
		if err != nil {
			return nil, errors.New("malformed x25519 identity")
		}
		return id, nil
	case strings.HasPrefix(s, "age1"), strings.HasPrefix(s, "ssh-"):
		return nil, errors.New("this is a recipient (a public key), not an identity")
	}
	return nil, errors.New("unknown identity type")
}

// promptUI is the plugin UI used when unlocking: messages go to stderr and
// questions go through prompt.
func promptUI(prompt func(string) (string, error)) *plugin.ClientUI {
	ask := func(name, question string) (string, error) {
		if prompt == nil {
			return "", errNoTerminal
		}
		return prompt(fmt.Sprintf("age-plugin-%s: %s", name, question))
	}
	return &plugin.ClientUI{
		DisplayMessage: func(name, message string) error {
			fmt.Fprintf(os.Stderr, "age-plugin-%s: %s\n", name, message)
			return nil
		},
		RequestValue: func(name, question string, _ bool) (string, error) {
			return ask(name, question)
		},
		Confirm: func(name, question, yes, no string) (bool, error) {
			if no == "" {
				_, err := ask(name, fmt.Sprintf("%s (press enter for %q)", question, yes))
				return err == nil, err
			}
			answer, err := ask(name, fmt.Sprintf("%s (type %q or %q)", question, yes, no))
			if err != nil {
				return false, err
			}
			return strings.EqualFold(strings.TrimSpace(answer), yes), nil
		},
		WaitTimer: func(name string) {
			fmt.Fprintf(os.Stderr, "waiting on age-plugin-%s...\n", name)
		},
	}
}
