package crypto

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

// fuzzWorkFactor is the scrypt work factor of the passphrase key objects
// the fuzz targets open; the identity refuses anything higher, so a
// mutated header cannot make one execution cost seconds.
const fuzzWorkFactor = 10

var fuzzCreated = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// fuzzOwners returns owner Keys of every scheme.
func fuzzOwners(f *testing.F) []*Keys {
	f.Helper()
	var out []*Keys
	for _, scheme := range schemes {
		k, err := Generate(scheme, testRepoID, testPolynomial)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

// keyObjectPlaintext returns the plaintext SealKeyObject encrypts for k.
func keyObjectPlaintext(f *testing.F, k *Keys, info KeyInfo) []byte {
	f.Helper()
	s := k.secrets.Load()
	b, err := jsonMarshal(keyObjectJSON{
		Version:           keyObjectVersion,
		RepositoryID:      k.repoID,
		DataIdentity:      k.data.secret,
		MetaIdentity:      k.meta.secret,
		BlobIDKey:         hex.EncodeToString(s.blobIDKey[:]),
		ChunkerPolynomial: fmt.Sprintf("%016x", s.polynomial),
		Info:              info,
	})
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// checkNoSecrets fails when err quotes key material.
func checkNoSecrets(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "AGE-SECRET-KEY") {
		t.Fatalf("error quotes key material: %v", err)
	}
}

// FuzzOpenKeyObject feeds arbitrary age files to OpenKeyObject with a
// passphrase identity (scrypt work factor at most 10) and an X25519
// identity. It must not panic, must not quote key material in errors, and
// a key object it opens must hold D and the secrets.
func FuzzOpenKeyObject(f *testing.F) {
	x, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	scrypt, err := age.NewScryptIdentity(testPassphrase)
	if err != nil {
		f.Fatal(err)
	}
	scrypt.SetMaxWorkFactor(fuzzWorkFactor)
	ids := Identities{ids: []age.Identity{scrypt, x}, passphrase: true}

	pass, err := PassphraseCredential(testPassphrase, fuzzWorkFactor)
	if err != nil {
		f.Fatal(err)
	}
	xcred, err := ParseCredential(x.Recipient().String())
	if err != nil {
		f.Fatal(err)
	}
	for _, owner := range fuzzOwners(f) {
		for _, c := range []Credential{pass, xcred} {
			obj, err := owner.SealKeyObject(c, KeyInfo{Host: "mx1", Username: "root", Created: fuzzCreated, Label: "laptop"})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(obj)
		}
	}
	f.Fuzz(func(t *testing.T, ciphertext []byte) {
		k, info, err := OpenKeyObject(ciphertext, ids)
		checkNoSecrets(t, err)
		if err != nil {
			return
		}
		if !k.CanReadData() || k.Fingerprint() == "" || k.Polynomial() == 0 {
			t.Fatalf("opened key object lacks D or secrets: %v, %+v", k, info)
		}
	})
}

// FuzzParseKeyObject fuzzes the key object plaintext parser, which is
// otherwise reachable only through a successful decryption. A parsed key
// object sealed again and reopened must give the same keys and info.
func FuzzParseKeyObject(f *testing.F) {
	x, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	xcred, err := ParseCredential(x.Recipient().String())
	if err != nil {
		f.Fatal(err)
	}
	xids := Identities{ids: []age.Identity{x}}
	for _, owner := range fuzzOwners(f) {
		f.Add(keyObjectPlaintext(f, owner, KeyInfo{Kind: KindPassphrase, Created: fuzzCreated}))
		f.Add(keyObjectPlaintext(f, owner, KeyInfo{Kind: KindX25519, Recipient: x.Recipient().String(), Host: "mx1", Username: "root", Created: fuzzCreated, Label: "laptop"}))
	}
	f.Fuzz(func(t *testing.T, plaintext []byte) {
		k, info, err := parseKeyObject(plaintext)
		checkNoSecrets(t, err)
		if err != nil {
			return
		}
		obj, err := k.SealKeyObject(xcred, info)
		if err != nil {
			t.Fatalf("SealKeyObject of a parsed key object: %v", err)
		}
		again, info2, err := OpenKeyObject(obj, xids)
		if err != nil {
			t.Fatalf("OpenKeyObject of a resealed key object: %v", err)
		}
		if again.Fingerprint() != k.Fingerprint() || again.RepositoryID() != k.RepositoryID() {
			t.Fatalf("resealed key object has fingerprint %s, want %s", again.Fingerprint(), k.Fingerprint())
		}
		s1, err1 := k.MarshalConfigSecrets()
		s2, err2 := again.MarshalConfigSecrets()
		if err1 != nil || err2 != nil || !bytes.Equal(s1, s2) {
			t.Fatalf("resealed key object has other secrets (%v, %v)", err1, err2)
		}
		want := info
		want.Kind, want.Recipient = KindX25519, x.Recipient().String()
		if !info2.Created.Equal(want.Created) {
			t.Fatalf("created %v, want %v", info2.Created, want.Created)
		}
		info2.Created = want.Created
		if info2 != want {
			t.Fatalf("info %+v, want %+v", info2, want)
		}
	})
}

// writeOnlyCopy returns fresh write-only Keys as ParseWriteKey builds them
// from wk, with no config secrets loaded yet.
func writeOnlyCopy(wk *WriteKey) *Keys {
	return &Keys{repoID: wk.keys.repoID, meta: wk.keys.meta, dataPin: wk.keys.dataPin}
}

// FuzzLoadConfigSecrets feeds arbitrary repository ids and "keys" members
// to owner Keys and to fresh write-only Keys of the same repository. It
// must not panic; after an error the Keys are unchanged; owner Keys accept
// only their own secrets; write-only Keys that accept a document name the
// owner's data recipient, accept it again, and accept their own re-encoding.
func FuzzLoadConfigSecrets(f *testing.F) {
	owners := fuzzOwners(f)
	writeKeys := make([]*WriteKey, len(owners))
	for i, owner := range owners {
		wk, err := owner.NewWriteKey("mx1", fuzzCreated)
		if err != nil {
			f.Fatal(err)
		}
		data, err := wk.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		if writeKeys[i], err = ParseWriteKey(data); err != nil {
			f.Fatal(err)
		}
		secrets, err := owner.MarshalConfigSecrets()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(testRepoID, secrets)
		f.Add("other-repo", secrets)
		f.Add(testRepoID, bytes.Replace(secrets, []byte(`"chunker_polynomial":"00`), []byte(`"chunker_polynomial":"`), 1))
	}
	f.Add(testRepoID, []byte(`{"data_recipient":"age1","blob_id_key":"`+strings.Repeat("0", 64)+`","chunker_polynomial":"1"}`))

	f.Fuzz(func(t *testing.T, repoID string, data []byte) {
		for i, owner := range owners {
			before, err := owner.MarshalConfigSecrets()
			if err != nil {
				t.Fatal(err)
			}
			err = owner.LoadConfigSecrets(repoID, data)
			checkNoSecrets(t, err)
			after, err2 := owner.MarshalConfigSecrets()
			if err2 != nil || !bytes.Equal(before, after) {
				t.Fatalf("owner secrets changed (load error %v)", err)
			}
			if err == nil && repoID != owner.RepositoryID() {
				t.Fatalf("owner keys accepted repository id %q", repoID)
			}

			wo := writeOnlyCopy(writeKeys[i])
			err = wo.LoadConfigSecrets(repoID, data)
			checkNoSecrets(t, err)
			if err != nil {
				if _, err := wo.MarshalConfigSecrets(); err == nil {
					t.Fatal("failed LoadConfigSecrets left secrets in write-only keys")
				}
				continue
			}
			if wo.DataRecipient() != owner.DataRecipient() || wo.Fingerprint() != owner.Fingerprint() {
				t.Fatalf("write-only keys accepted data recipient %q, owner has %q", wo.DataRecipient(), owner.DataRecipient())
			}
			if err := wo.LoadConfigSecrets(repoID, data); err != nil {
				t.Fatalf("loading the same secrets twice: %v", err)
			}
			out, err := wo.MarshalConfigSecrets()
			if err != nil {
				t.Fatal(err)
			}
			fresh := writeOnlyCopy(writeKeys[i])
			if err := fresh.LoadConfigSecrets(repoID, out); err != nil {
				t.Fatalf("re-encoded secrets rejected: %v", err)
			}
			if err := wo.LoadConfigSecrets(repoID, out); err != nil {
				t.Fatalf("re-encoded secrets differ from the loaded ones: %v", err)
			}
		}
	})
}

// FuzzStanzaTypes checks that no input makes StanzaTypes panic, and that
// every stanza type it reports is non-empty.
func FuzzStanzaTypes(f *testing.F) {
	x, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		f.Fatal(err)
	}
	pass, err := PassphraseCredential(testPassphrase, fuzzWorkFactor)
	if err != nil {
		f.Fatal(err)
	}
	creds := []Credential{pass}
	for _, r := range []string{x.Recipient().String(), pq.Recipient().String()} {
		c, err := ParseCredential(r)
		if err != nil {
			f.Fatal(err)
		}
		creds = append(creds, c)
	}
	owner := fuzzOwners(f)[0]
	for _, c := range creds {
		obj, err := owner.SealKeyObject(c, KeyInfo{Created: fuzzCreated})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(obj)
	}
	// An age file with two X25519 stanzas, as age writes for several
	// recipients.
	var buf bytes.Buffer
	y, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	w, err := age.Encrypt(&buf, x.Recipient(), y.Recipient())
	if err != nil {
		f.Fatal(err)
	}
	if _, err := w.Write([]byte("{}")); err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())

	f.Fuzz(func(t *testing.T, data []byte) {
		types, err := StanzaTypes(data)
		if err != nil {
			return
		}
		for _, typ := range types {
			if typ == "" {
				t.Fatalf("empty stanza type in %q", types)
			}
		}
	})
}
