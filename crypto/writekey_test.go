package crypto

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var writeKeyTime = time.Date(2025, 6, 1, 8, 30, 0, 0, time.UTC)

func newWriteKey(t *testing.T, owner *Keys) *WriteKey {
	t.Helper()
	wk, err := owner.NewWriteKey("mail.example.org", writeKeyTime)
	if err != nil {
		t.Fatal(err)
	}
	return wk
}

func marshalSecrets(t *testing.T, k *Keys) []byte {
	t.Helper()
	doc, err := k.MarshalConfigSecrets()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestWriteKeyRoundTrip(t *testing.T) {
	for _, scheme := range schemes {
		t.Run(string(scheme), func(t *testing.T) {
			owner := generate(t, scheme)
			data, err := newWriteKey(t, owner).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !IsWriteKey(data) {
				t.Fatal("IsWriteKey(Marshal()) = false")
			}
			first, _, _ := strings.Cut(string(data), "\n")
			if first != "# godwit write key: it can add backups to repository "+testRepoID+" but cannot read them." {
				t.Errorf("first line = %q", first)
			}
			wk, err := ParseWriteKey(data)
			if err != nil {
				t.Fatal(err)
			}
			if wk.Host() != "mail.example.org" || wk.RepositoryID() != testRepoID || !wk.Created().Equal(writeKeyTime) {
				t.Errorf("parsed host %q, repository %q, created %v", wk.Host(), wk.RepositoryID(), wk.Created())
			}
			if wk.Keys().MetaRecipient() != owner.MetaRecipient() {
				t.Error("write key holds another M")
			}
			again, err := wk.Marshal()
			if err != nil || !bytes.Equal(again, data) {
				t.Errorf("Marshal(ParseWriteKey(x)) != x:\n%s\n%s", again, data)
			}
		})
	}
}

func TestWriteOnlyKeysAddButCannotRead(t *testing.T) {
	owner := generate(t, SchemePQ)
	wk := newWriteKey(t, owner)
	k := wk.Keys()
	if k.CanReadData() {
		t.Fatal("write-only Keys claim to read data")
	}
	if k.Fingerprint() != "" || k.DataRecipient() != "" || k.Polynomial() != 0 {
		t.Error("write-only Keys know config secrets before LoadConfigSecrets")
	}
	if _, err := k.SealData([]byte("x")); err == nil {
		t.Error("SealData before LoadConfigSecrets succeeded")
	}

	// The config is readable with M.
	config, err := owner.SealMeta(marshalSecrets(t, owner))
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := k.OpenMeta(config)
	if err != nil {
		t.Fatalf("write key cannot open the config: %v", err)
	}
	if err := k.LoadConfigSecrets(testRepoID, secrets); err != nil {
		t.Fatal(err)
	}
	if k.Fingerprint() != owner.Fingerprint() {
		t.Errorf("write key fingerprint %s, owner %s", k.Fingerprint(), owner.Fingerprint())
	}
	if k.BlobID([]byte("blob")) != owner.BlobID([]byte("blob")) || k.MetaID([]byte("m")) != owner.MetaID([]byte("m")) || k.Polynomial() != testPolynomial {
		t.Error("write key hashes differently from the owner")
	}

	pack, err := k.SealData([]byte("new mail"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := owner.OpenData(pack); err != nil || string(got) != "new mail" {
		t.Errorf("owner cannot read what the writer wrote: %v", err)
	}
	snapshot, err := k.SealMeta([]byte("snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := owner.OpenMeta(snapshot); err != nil || string(got) != "snapshot" {
		t.Errorf("owner cannot read the writer's metadata: %v", err)
	}

	if _, err := k.OpenData(pack); !errors.Is(err, ErrWriteOnly) {
		t.Errorf("OpenData = %v, want ErrWriteOnly", err)
	}
	if _, _, err := k.DecryptDataAt(bytes.NewReader(pack), int64(len(pack))); !errors.Is(err, ErrWriteOnly) {
		t.Errorf("DecryptDataAt = %v, want ErrWriteOnly", err)
	}
	cred, _ := PassphraseCredential(testPassphrase, 10)
	if _, err := k.SealKeyObject(cred, KeyInfo{}); !errors.Is(err, ErrWriteOnly) {
		t.Errorf("SealKeyObject = %v, want ErrWriteOnly", err)
	}
	if _, err := k.NewWriteKey("other", writeKeyTime); !errors.Is(err, ErrWriteOnly) {
		t.Errorf("NewWriteKey = %v, want ErrWriteOnly", err)
	}
	if _, err := k.RotateMeta(); !errors.Is(err, ErrWriteOnly) {
		t.Errorf("RotateMeta = %v, want ErrWriteOnly", err)
	}
	var out bytes.Buffer
	if err := k.WriteIdentityFile(&out, "data"); !errors.Is(err, ErrWriteOnly) {
		t.Errorf("WriteIdentityFile(data) = %v, want ErrWriteOnly", err)
	}
	if err := k.WriteIdentityFile(&out, "meta"); err != nil {
		t.Errorf("WriteIdentityFile(meta) = %v", err)
	}
}

func TestBlobIDPanicsBeforeConfigSecrets(t *testing.T) {
	k := newWriteKey(t, generate(t, SchemeX25519)).Keys()
	defer func() {
		if recover() == nil {
			t.Fatal("BlobID without a key did not panic")
		}
	}()
	k.BlobID([]byte("x"))
}

func TestWriteKeyRefusesConfigNotMatchingPin(t *testing.T) {
	owner := generate(t, SchemePQ)
	attacker := generate(t, SchemePQ)
	doc := marshalSecrets(t, owner)
	redirected := strings.Replace(string(doc), owner.DataRecipient(), attacker.DataRecipient(), 1)
	tests := []struct {
		name   string
		repoID string
		doc    []byte
	}{
		{"config naming another data recipient", testRepoID, []byte(redirected)},
		{"config of another repository", testRepoID, marshalSecrets(t, attacker)},
		{"other repository id", "ffff0000", doc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newWriteKey(t, owner).Keys()
			if err := k.LoadConfigSecrets(tt.repoID, tt.doc); !errors.Is(err, ErrFingerprintPin) {
				t.Fatalf("LoadConfigSecrets = %v, want ErrFingerprintPin", err)
			}
			if k.DataRecipient() != "" {
				t.Fatal("a refused config was loaded")
			}
			if _, err := k.SealData([]byte("x")); err == nil {
				t.Fatal("write key encrypts after a refused config")
			}
		})
	}
}

func TestWriteKeyRefusesChangedConfigAfterLoad(t *testing.T) {
	owner := generate(t, SchemeX25519)
	k := newWriteKey(t, owner).Keys()
	doc := marshalSecrets(t, owner)
	if err := k.LoadConfigSecrets(testRepoID, doc); err != nil {
		t.Fatal(err)
	}
	if err := k.LoadConfigSecrets(testRepoID, doc); err != nil {
		t.Fatalf("loading the same config twice: %v", err)
	}
	var m map[string]string
	json.Unmarshal(doc, &m)
	m["blob_id_key"] = strings.Repeat("00", 32)
	changed, _ := json.Marshal(m)
	if err := k.LoadConfigSecrets(testRepoID, changed); !errors.Is(err, ErrFingerprintPin) {
		t.Fatalf("LoadConfigSecrets = %v, want ErrFingerprintPin", err)
	}
}

func TestParseWriteKeyIsStrict(t *testing.T) {
	owner := generate(t, SchemeX25519)
	valid, err := newWriteKey(t, owner).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	v := string(valid)
	tests := map[string]string{
		"future version":        strings.Replace(v, `"version": 1`, `"version": 2`, 1),
		"missing version":       strings.Replace(v, `"version": 1,`, ``, 1),
		"unknown member":        strings.Replace(v, `"version": 1,`, `"version": 1, "data_identity": "x",`, 1),
		"trailing data":         v + "{}\n",
		"no magic line":         strings.TrimPrefix(v, "# godwit write key:"),
		"leading blank line":    "\n" + v,
		"empty host":            strings.Replace(v, `"mail.example.org"`, `""`, 1),
		"short pin":             strings.Replace(v, `"data_recipient_pin": "`, `"data_recipient_pin": "0`, 1),
		"non-hex pin":           strings.Replace(v, `"data_recipient_pin": "`, `"data_recipient_pin": "A`, 1),
		"missing meta identity": strings.Replace(v, owner.meta.secret, "", 1),
		"bad repository id":     strings.Replace(v, `"repository_id": "`+testRepoID, `"repository_id": "a b`, 1),
		"missing created":       strings.Replace(v, `"created": "2025-06-01T08:30:00Z",`, ``, 1),
		"only comments":         "# godwit write key: nothing\n",
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if data == v {
				t.Fatal("mutation did not change the file")
			}
			_, err := ParseWriteKey([]byte(data))
			if err == nil {
				t.Fatal("ParseWriteKey accepted the file")
			}
			if strings.Contains(err.Error(), "AGE-SECRET-KEY") {
				t.Errorf("error quotes key material: %v", err)
			}
		})
	}
}

func TestLoadIdentityFileReturnsWriteKey(t *testing.T) {
	owner := generate(t, SchemePQ)
	data, err := newWriteKey(t, owner).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ids, wk, err := LoadIdentityFile(writeFile(t, "write.key", data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ids.Empty() || wk == nil || wk.Keys().MetaRecipient() != owner.MetaRecipient() {
		t.Fatalf("LoadIdentityFile = %v, %v", ids, wk)
	}
}

func TestNewWriteKeyValidatesArguments(t *testing.T) {
	owner := generate(t, SchemeX25519)
	tests := []struct {
		name    string
		host    string
		created time.Time
	}{
		{"empty host", "", writeKeyTime},
		{"host with newline", "a\nb", writeKeyTime},
		{"zero time", "mail", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := owner.NewWriteKey(tt.host, tt.created); err == nil {
				t.Fatal("NewWriteKey succeeded")
			}
		})
	}
}

func FuzzParseWriteKey(f *testing.F) {
	for _, scheme := range schemes {
		owner, err := Generate(scheme, testRepoID, testPolynomial)
		if err != nil {
			f.Fatal(err)
		}
		wk, err := owner.NewWriteKey("host", writeKeyTime)
		if err != nil {
			f.Fatal(err)
		}
		data, err := wk.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		wk, err := ParseWriteKey(data)
		if err != nil {
			return
		}
		out, err := wk.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseWriteKey(out)
		if err != nil {
			t.Fatalf("re-parsing a marshaled write key: %v", err)
		}
		out2, err := again.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("marshal is not stable: %v", err)
		}
	})
}
