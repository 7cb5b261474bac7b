package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"golang.org/x/crypto/ssh"
)

const testPassphrase = "correct horse battery staple"

// credentialCase is one way an owner can hold a credential: the Credential
// to seal a key object to, and an identity file (or passphrase) to open it.
type credentialCase struct {
	name        string
	kind        string
	stanzaTypes []string
	credential  func(t *testing.T) Credential
	identities  func(t *testing.T) Identities
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func fixedPrompt(answer string) func(string) (string, error) {
	return func(string) (string, error) { return answer, nil }
}

func loadIdentities(t *testing.T, path string, prompt func(string) (string, error)) Identities {
	t.Helper()
	ids, wk, err := LoadIdentityFile(path, prompt)
	if err != nil {
		t.Fatalf("LoadIdentityFile: %v", err)
	}
	if wk != nil || ids.Empty() {
		t.Fatalf("LoadIdentityFile returned write key %v, identities %v", wk, ids)
	}
	return ids
}

func sshCase(name, kind string, signer func() (any, ssh.PublicKey), passphrase string) credentialCase {
	var once sync.Once
	var pub ssh.PublicKey
	var priv any
	keys := func() (any, ssh.PublicKey) {
		once.Do(func() { priv, pub = signer() })
		return priv, pub
	}
	return credentialCase{
		name:        name,
		kind:        kind,
		stanzaTypes: []string{kind},
		credential: func(t *testing.T) Credential {
			_, pub := keys()
			c, err := ParseCredential(string(ssh.MarshalAuthorizedKey(pub)) + " owner@laptop")
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		identities: func(t *testing.T) Identities {
			priv, _ := keys()
			var block *pem.Block
			var err error
			if passphrase == "" {
				block, err = ssh.MarshalPrivateKey(priv, "owner@laptop")
			} else {
				block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "owner@laptop", []byte(passphrase))
			}
			if err != nil {
				t.Fatal(err)
			}
			path := writeFile(t, "id_ssh", pem.EncodeToMemory(block))
			return loadIdentities(t, path, fixedPrompt(passphrase))
		},
	}
}

func ed25519Signer() (any, ssh.PublicKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return priv, sshPub
}

func rsaSigner() (any, ssh.PublicKey) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	sshPub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		panic(err)
	}
	return k, sshPub
}

// ageIdentityCase seals to a generated age identity; protect, if set, turns
// the identity file into a passphrase-protected one.
func ageIdentityCase(name, kind, stanza string, gen func() (string, string), protect func(t *testing.T, file []byte) []byte) credentialCase {
	var once sync.Once
	var secret, public string
	keys := func() (string, string) {
		once.Do(func() { secret, public = gen() })
		return secret, public
	}
	return credentialCase{
		name:        name,
		kind:        kind,
		stanzaTypes: []string{stanza},
		credential: func(t *testing.T) Credential {
			_, public := keys()
			c, err := ParseCredential(public)
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		identities: func(t *testing.T) Identities {
			secret, _ := keys()
			file := []byte("# created: 2025-01-01T00:00:00Z\n# public key: ...\n" + secret + "\n")
			if protect != nil {
				file = protect(t, file)
			}
			return loadIdentities(t, writeFile(t, "identity.txt", file), fixedPrompt(testPassphrase))
		},
	}
}

func genX25519() (string, string) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		panic(err)
	}
	return id.String(), id.Recipient().String()
}

func genPQ() (string, string) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		panic(err)
	}
	return id.String(), id.Recipient().String()
}

func passphraseProtect(armored bool) func(t *testing.T, file []byte) []byte {
	return func(t *testing.T, file []byte) []byte {
		t.Helper()
		r, err := age.NewScryptRecipient(testPassphrase)
		if err != nil {
			t.Fatal(err)
		}
		r.SetWorkFactor(10)
		var buf bytes.Buffer
		var dst io.Writer = &buf
		var a io.WriteCloser
		if armored {
			a = armor.NewWriter(&buf)
			dst = a
		}
		w, err := age.Encrypt(dst, r)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(file)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if a != nil {
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
		}
		return buf.Bytes()
	}
}

var credentialCases = []credentialCase{
	{
		name:        "passphrase",
		kind:        KindPassphrase,
		stanzaTypes: []string{"scrypt"},
		credential: func(t *testing.T) Credential {
			c, err := PassphraseCredential(testPassphrase, 10)
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		identities: func(t *testing.T) Identities { return PassphraseIdentities(testPassphrase) },
	},
	ageIdentityCase("x25519", KindX25519, "X25519", genX25519, nil),
	ageIdentityCase("pq", KindPQ, "mlkem768x25519", genPQ, nil),
	ageIdentityCase("passphrase-protected identity file", KindX25519, "X25519", genX25519, passphraseProtect(false)),
	ageIdentityCase("armored passphrase-protected identity file", KindPQ, "mlkem768x25519", genPQ, passphraseProtect(true)),
	sshCase("ssh-ed25519", KindSSHEd25519, ed25519Signer, ""),
	sshCase("ssh-rsa", KindSSHRSA, rsaSigner, ""),
	sshCase("encrypted ssh-ed25519", KindSSHEd25519, ed25519Signer, "ssh key passphrase"),
	sshCase("encrypted ssh-rsa", KindSSHRSA, rsaSigner, "ssh key passphrase"),
}

func TestKeyObjectRoundTripForEveryCredentialKind(t *testing.T) {
	owner := generate(t, SchemePQ)
	created := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range credentialCases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.credential(t)
			if c.Kind() != tc.kind {
				t.Errorf("Kind() = %q, want %q", c.Kind(), tc.kind)
			}
			obj, err := owner.SealKeyObject(c, KeyInfo{Kind: "ignored", Host: "laptop", Username: "alice", Created: created, Label: "main"})
			if err != nil {
				t.Fatal(err)
			}
			types, err := StanzaTypes(obj)
			if err != nil || !slices.Equal(types, tc.stanzaTypes) {
				t.Errorf("StanzaTypes = %v, %v; want %v", types, err, tc.stanzaTypes)
			}
			ids := tc.identities(t)
			if !ids.CanOpen(types) {
				t.Errorf("CanOpen(%v) = false", types)
			}
			k, info, err := OpenKeyObject(obj, ids)
			if err != nil {
				t.Fatalf("OpenKeyObject: %v", err)
			}
			want := KeyInfo{Kind: tc.kind, Recipient: c.public, Host: "laptop", Username: "alice", Created: created, Label: "main"}
			if info != want {
				t.Errorf("KeyInfo = %+v, want %+v", info, want)
			}
			if k.Fingerprint() != owner.Fingerprint() || k.BlobID([]byte("x")) != owner.BlobID([]byte("x")) || k.Polynomial() != testPolynomial {
				t.Error("opened keys differ from the sealed ones")
			}
			pack, _ := owner.SealData([]byte("pack"))
			if got, err := k.OpenData(pack); err != nil || string(got) != "pack" {
				t.Errorf("opened keys cannot read data: %v", err)
			}
		})
	}
}

func TestOpenKeyObjectWithOtherCredentialIsNoMatchingKey(t *testing.T) {
	owner := generate(t, SchemeX25519)
	ids := make([]Identities, len(credentialCases))
	for i, tc := range credentialCases {
		ids[i] = tc.identities(t)
	}
	for i, tc := range credentialCases {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := owner.SealKeyObject(tc.credential(t), KeyInfo{})
			if err != nil {
				t.Fatal(err)
			}
			for j, other := range credentialCases {
				if i == j {
					continue
				}
				_, _, err = OpenKeyObject(obj, ids[j])
				if !errors.Is(err, ErrNoMatchingKey) {
					t.Errorf("OpenKeyObject with %s identities = %v, want ErrNoMatchingKey", other.name, err)
				}
			}
		})
	}
}

func TestOpenKeyObjectWrongPassphrase(t *testing.T) {
	owner := generate(t, SchemeX25519)
	c, _ := PassphraseCredential(testPassphrase, 10)
	obj, err := owner.SealKeyObject(c, KeyInfo{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ids := range []Identities{PassphraseIdentities("wrong"), PassphraseIdentities(""), {}} {
		if _, _, err := OpenKeyObject(obj, ids); !errors.Is(err, ErrNoMatchingKey) {
			t.Errorf("OpenKeyObject(%v) = %v, want ErrNoMatchingKey", ids, err)
		}
	}
	right := PassphraseIdentities("wrong").With(PassphraseIdentities(testPassphrase))
	if _, _, err := OpenKeyObject(obj, right); err != nil {
		t.Errorf("OpenKeyObject with the right passphrase second: %v", err)
	}
}

func TestOpenKeyObjectMalformedIsNotNoMatchingKey(t *testing.T) {
	owner := generate(t, SchemeX25519)
	cred, _ := PassphraseCredential(testPassphrase, 10)
	good, err := owner.SealKeyObject(cred, KeyInfo{})
	if err != nil {
		t.Fatal(err)
	}
	ids := PassphraseIdentities(testPassphrase)
	k, _, err := OpenKeyObject(good, ids)
	if err != nil {
		t.Fatal(err)
	}
	plain := func(s string) []byte {
		r, _ := age.NewScryptRecipient(testPassphrase)
		r.SetWorkFactor(10)
		var buf bytes.Buffer
		w, _ := age.Encrypt(&buf, r)
		w.Write([]byte(s))
		w.Close()
		return buf.Bytes()
	}
	valid := `{"version":1,"repository_id":"r1","data_identity":"` + k.data.secret + `","meta_identity":"` + k.meta.secret +
		`","blob_id_key":"` + strings.Repeat("ab", 32) + `","chunker_polynomial":"3da3358b4dc173","info":{"kind":"passphrase","created":"2025-01-01T00:00:00Z"}}`
	if _, _, err := OpenKeyObject(plain(valid), ids); err != nil {
		t.Fatalf("the valid document used below is rejected: %v", err)
	}
	tests := map[string]string{
		"not json":           "AGE-SECRET-KEY-1",
		"future version":     strings.Replace(valid, `"version":1`, `"version":2`, 1),
		"unknown member":     strings.Replace(valid, `{"version"`, `{"extra":1,"version"`, 1),
		"bad data identity":  strings.Replace(valid, k.data.secret, "AGE-SECRET-KEY-1XYZ", 1),
		"missing polynomial": strings.Replace(valid, `"chunker_polynomial":"3da3358b4dc173",`, "", 1),
		"tampered":           "",
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			obj := plain(doc)
			if name == "tampered" {
				obj = bytes.Clone(good)
				obj[len(obj)-1] ^= 1
			}
			_, _, err := OpenKeyObject(obj, ids)
			if err == nil || errors.Is(err, ErrNoMatchingKey) {
				t.Fatalf("OpenKeyObject = %v, want an error other than ErrNoMatchingKey", err)
			}
			if strings.Contains(err.Error(), "AGE-SECRET-KEY") {
				t.Errorf("error quotes key material: %v", err)
			}
		})
	}
}

func TestSealKeyObjectRejectsZeroCredential(t *testing.T) {
	if _, err := generate(t, SchemeX25519).SealKeyObject(Credential{}, KeyInfo{}); err == nil {
		t.Fatal("SealKeyObject accepted the zero Credential")
	}
}

func TestStanzaTypesRejectsNonAgeInput(t *testing.T) {
	if _, err := StanzaTypes([]byte("PK\x03\x04 not an age file")); err == nil {
		t.Fatal("StanzaTypes accepted a non-age file")
	}
}

func TestCanOpenMatchesStanzaTypes(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	pq, _ := age.GenerateHybridIdentity()
	pass := PassphraseIdentities(testPassphrase)
	native := Identities{ids: []age.Identity{x, pq}}
	tests := []struct {
		name  string
		ids   Identities
		types []string
		want  bool
	}{
		{"passphrase opens scrypt", pass, []string{"scrypt"}, true},
		{"passphrase skips x25519", pass, []string{"X25519"}, false},
		{"passphrase skips scrypt among others", pass, []string{"scrypt", "X25519"}, false},
		{"age identities open x25519", native, []string{"X25519"}, true},
		{"age identities open pq", native, []string{"mlkem768x25519"}, true},
		{"age identities skip scrypt", native, []string{"scrypt"}, false},
		{"age identities skip ssh", native, []string{"ssh-ed25519"}, false},
		{"empty opens nothing", Identities{}, []string{"X25519"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ids.CanOpen(tt.types); got != tt.want {
				t.Fatalf("CanOpen(%v) = %v, want %v", tt.types, got, tt.want)
			}
		})
	}
}

func TestLoadIdentityFileProtectedWithoutPromptSaysNoTerminal(t *testing.T) {
	file := passphraseProtect(false)(t, []byte(must(genX25519)+"\n"))
	_, _, err := LoadIdentityFile(writeFile(t, "protected.age", file), nil)
	if err == nil || !strings.Contains(err.Error(), "no terminal") {
		t.Fatalf("LoadIdentityFile = %v, want an error saying no terminal is available", err)
	}
}

func TestLoadIdentityFileEncryptedSSHKeyWithoutPrompt(t *testing.T) {
	priv, pub := ed25519Signer()
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := LoadIdentityFile(writeFile(t, "id", pem.EncodeToMemory(block)), nil)
	if err != nil {
		t.Fatalf("loading an encrypted SSH key must not need its passphrase yet: %v", err)
	}
	owner := generate(t, SchemeX25519)
	c, _ := ParseCredential(string(ssh.MarshalAuthorizedKey(pub)))
	obj, _ := owner.SealKeyObject(c, KeyInfo{})
	_, _, err = OpenKeyObject(obj, ids)
	if err == nil || errors.Is(err, ErrNoMatchingKey) || !strings.Contains(err.Error(), "no terminal") {
		t.Fatalf("OpenKeyObject = %v, want an error saying no terminal is available", err)
	}
}

func TestLoadIdentityFileWrongPassphraseIsNoMatchingKey(t *testing.T) {
	file := passphraseProtect(true)(t, []byte(must(genPQ)+"\n"))
	_, _, err := LoadIdentityFile(writeFile(t, "protected.age", file), fixedPrompt("wrong"))
	if !errors.Is(err, ErrNoMatchingKey) {
		t.Fatalf("LoadIdentityFile = %v, want ErrNoMatchingKey", err)
	}
}

func TestLoadIdentityFileRejectsBadFiles(t *testing.T) {
	_, recipient := genX25519()
	x, _ := age.GenerateX25519Identity()
	var notPassphrase bytes.Buffer
	w, _ := age.Encrypt(&notPassphrase, x.Recipient())
	w.Write([]byte("AGE-SECRET-KEY-1...\n"))
	w.Close()
	tests := map[string][]byte{
		"recipient instead of identity": []byte(recipient + "\n"),
		"empty":                         []byte("# only a comment\n\n"),
		"garbage":                       []byte("hello\n"),
		"age file not for a passphrase": notPassphrase.Bytes(),
		"broken pem":                    []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := LoadIdentityFile(writeFile(t, "f", data), fixedPrompt(testPassphrase)); err == nil {
				t.Fatal("LoadIdentityFile accepted the file")
			}
		})
	}
	if _, _, err := LoadIdentityFile(filepath.Join(t.TempDir(), "missing"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
}

func must(gen func() (string, string)) string {
	s, _ := gen()
	return s
}
