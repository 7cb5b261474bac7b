package crypto

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"filippo.io/age/plugin"
	"golang.org/x/crypto/ssh"
)

func authorizedKey(t *testing.T, pub any) string {
	t.Helper()
	p, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(p)))
}

func TestParseCredentialKinds(t *testing.T) {
	_, xPub := genX25519()
	_, pqPub := genPQ()
	_, edPub := ed25519Signer()
	edLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(edPub)))
	pluginRecipient := plugin.EncodeRecipient("yubikey", []byte{1, 2, 3, 4, 5, 6, 7, 8})
	tests := []struct {
		in, kind, str string
	}{
		{xPub, KindX25519, xPub},
		{"  " + xPub + "\n", KindX25519, xPub},
		{pqPub, KindPQ, pqPub},
		{edLine + " alice@laptop", KindSSHEd25519, edLine + " alice@laptop"},
		{pluginRecipient, KindPlugin, pluginRecipient},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			c, err := ParseCredential(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind() != tt.kind || c.String() != tt.str {
				t.Errorf("ParseCredential = %s %q, want %s %q", c.Kind(), c.String(), tt.kind, tt.str)
			}
		})
	}
}

func TestParseCredentialRejects(t *testing.T) {
	x := must(genX25519)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"identity":         x,
		"empty":            "",
		"garbage":          "hello world",
		"bad checksum":     "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
		"short rsa key":    authorizedKey(t, &small.PublicKey),
		"ecdsa key":        authorizedKey(t, &ec.PublicKey),
		"github shorthand": "github:alice",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseCredential(in)
			if err == nil {
				t.Fatal("ParseCredential accepted it")
			}
			if strings.Contains(err.Error(), "AGE-SECRET-KEY") {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

func TestPassphraseCredentialWorkFactor(t *testing.T) {
	tests := []struct {
		workFactor int
		ok         bool
	}{
		{0, true}, {9, false}, {10, true}, {22, true}, {23, false}, {-1, false},
	}
	for _, tt := range tests {
		_, err := PassphraseCredential(testPassphrase, tt.workFactor)
		if (err == nil) != tt.ok {
			t.Errorf("PassphraseCredential(work factor %d) = %v, want ok=%v", tt.workFactor, err, tt.ok)
		}
	}
	if _, err := PassphraseCredential("", 10); err == nil {
		t.Error("PassphraseCredential accepted an empty passphrase")
	}
}

func TestParseCredentialsFile(t *testing.T) {
	_, a := genX25519()
	_, b := genPQ()
	in := "# owners\n\n" + a + "\n  # laptop\n" + b + "\r\n"
	creds, err := ParseCredentialsFile(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 2 || creds[0].String() != a || creds[1].String() != b {
		t.Fatalf("ParseCredentialsFile = %v", creds)
	}

	bad := map[string]string{
		"no recipients":   "# nothing\n\n",
		"identity inside": a + "\n" + must(genX25519) + "\n",
		"malformed line":  a + "\nage1nope\n",
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseCredentialsFile(strings.NewReader(in)); err == nil {
				t.Fatal("ParseCredentialsFile accepted it")
			}
		})
	}
}

func TestSealKeyObjectToMissingPluginFails(t *testing.T) {
	c, err := ParseCredential(plugin.EncodeRecipient("godwitnosuchplugin", []byte{1}))
	if err != nil {
		t.Fatal(err)
	}
	var notFound *plugin.NotFoundError
	if _, err := generate(t, SchemeX25519).SealKeyObject(c, KeyInfo{}); !errors.As(err, &notFound) {
		t.Fatalf("SealKeyObject = %v, want plugin.NotFoundError", err)
	}
}

// TestPluginIdentityOpensKeyObject runs a real plugin, age-plugin-batchpass,
// which reads the passphrase from AGE_PASSPHRASE.
func TestPluginIdentityOpensKeyObject(t *testing.T) {
	if _, err := exec.LookPath("age-plugin-batchpass"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("age-plugin-batchpass not on PATH")
		}
		t.Skip("age-plugin-batchpass not on PATH")
	}
	owner := generate(t, SchemePQ)
	c, _ := PassphraseCredential(testPassphrase, 10)
	obj, err := owner.SealKeyObject(c, KeyInfo{})
	if err != nil {
		t.Fatal(err)
	}
	file := "# passphrase from the environment\n" + plugin.EncodeIdentity("batchpass", nil) + "\n"
	ids := loadIdentities(t, writeFile(t, "plugin.txt", []byte(file)), nil)
	types, _ := StanzaTypes(obj)
	if !ids.CanOpen(types) {
		t.Error("CanOpen rules out a plugin identity")
	}

	t.Setenv("AGE_PASSPHRASE", testPassphrase)
	k, _, err := OpenKeyObject(obj, ids)
	if err != nil {
		t.Fatalf("OpenKeyObject with plugin identity: %v", err)
	}
	if k.Fingerprint() != owner.Fingerprint() {
		t.Error("plugin opened other keys")
	}
}
