package repo

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/chunk"
	"github.com/godwit-backup/godwit/crypto"
)

// FuzzReadConfig seals arbitrary config plaintext to M and decodes it with
// readConfig, using owner keys and fresh write-only keys of the same
// repository. It must not panic; a config readConfig accepts must have a
// version from 1 to FormatVersion, and must read back the same after
// encoding it again.
func FuzzReadConfig(f *testing.F) {
	pol, err := chunk.RandomPolynomial()
	if err != nil {
		f.Fatal(err)
	}
	const id = "0123456789abcdef0123456789abcdef"
	owner, err := crypto.Generate(crypto.SchemeX25519, id, pol)
	if err != nil {
		f.Fatal(err)
	}
	wk, err := owner.NewWriteKey("mx1", time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		f.Fatal(err)
	}
	writeKey, err := wk.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	secrets, err := owner.MarshalConfigSecrets()
	if err != nil {
		f.Fatal(err)
	}
	good := Config{
		Version:     FormatVersion,
		ID:          id,
		Created:     time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		PackSize:    DefaultPackSize,
		Compression: "zstd",
		Scheme:      string(crypto.SchemeX25519),
		Keys:        secrets,
	}
	newer := good
	newer.Version = FormatVersion + 1
	other := good
	other.ID = "fedcba9876543210fedcba9876543210"
	for _, c := range []Config{good, newer, other} {
		plain, err := json.Marshal(&c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(plain)
	}
	f.Add([]byte(strings.Replace(string(mustJSON(f, good)), `"zstd"`, `"none"`, 1)))

	// keysFor returns the keys to read with: the owner's, or fresh
	// write-only keys that have not loaded any config yet.
	keysFor := func(t *testing.T, writeOnly bool) *crypto.Keys {
		if !writeOnly {
			return owner
		}
		w, err := crypto.ParseWriteKey(writeKey)
		if err != nil {
			t.Fatal(err)
		}
		return w.Keys()
	}
	f.Fuzz(func(t *testing.T, plain []byte) {
		sealed, err := owner.SealMeta(plain)
		if err != nil {
			t.Fatal(err)
		}
		for _, writeOnly := range []bool{false, true} {
			cfg, err := readConfig(keysFor(t, writeOnly), sealed, "fuzz")
			if err != nil {
				continue
			}
			if cfg.Version < 1 || cfg.Version > FormatVersion {
				t.Fatalf("readConfig accepted version %d", cfg.Version)
			}
			out := mustJSON(t, cfg)
			resealed, err := owner.SealMeta(out)
			if err != nil {
				t.Fatal(err)
			}
			again, err := readConfig(keysFor(t, writeOnly), resealed, "fuzz")
			if err != nil {
				t.Fatalf("re-encoded config rejected: %v\n%s", err, out)
			}
			if out2 := mustJSON(t, again); !bytes.Equal(out, out2) {
				t.Fatalf("config encoding is not stable:\n%s\n%s", out, out2)
			}
		}
	})
}

func mustJSON(tb testing.TB, c Config) []byte {
	tb.Helper()
	b, err := json.Marshal(&c)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
