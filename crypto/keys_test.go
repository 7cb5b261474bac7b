package crypto

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

const (
	testRepoID     = "5f3c9a0e1b2d4c6f"
	testPolynomial = uint64(0x3DA3358B4DC173)
)

var schemes = []Scheme{SchemePQ, SchemeX25519}

func generate(t *testing.T, scheme Scheme) *Keys {
	t.Helper()
	k, err := Generate(scheme, testRepoID, testPolynomial)
	if err != nil {
		t.Fatalf("Generate(%s): %v", scheme, err)
	}
	return k
}

func TestGenerateRecipientsMatchScheme(t *testing.T) {
	prefixes := map[Scheme]string{SchemePQ: "age1pq1", SchemeX25519: "age1"}
	for _, scheme := range schemes {
		t.Run(string(scheme), func(t *testing.T) {
			k := generate(t, scheme)
			for name, r := range map[string]string{"data": k.DataRecipient(), "meta": k.MetaRecipient()} {
				if !strings.HasPrefix(r, prefixes[scheme]) || (scheme == SchemeX25519 && strings.HasPrefix(r, "age1pq1")) {
					t.Errorf("%s recipient %q does not match scheme %s", name, r, scheme)
				}
			}
			if k.DataRecipient() == k.MetaRecipient() {
				t.Error("D and M are the same key")
			}
			if !k.CanReadData() || k.Polynomial() != testPolynomial || k.RepositoryID() != testRepoID || k.Scheme() != scheme {
				t.Errorf("accessors: CanReadData=%v Polynomial=%x RepositoryID=%q Scheme=%q",
					k.CanReadData(), k.Polynomial(), k.RepositoryID(), k.Scheme())
			}
		})
	}
}

func TestGenerateRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name   string
		scheme Scheme
		repoID string
		pol    uint64
	}{
		{"unknown scheme", "rsa", testRepoID, testPolynomial},
		{"empty repository id", SchemeX25519, "", testPolynomial},
		{"repository id with newline", SchemeX25519, "abc\ndef", testPolynomial},
		{"repository id with space", SchemeX25519, "abc def", testPolynomial},
		{"zero polynomial", SchemeX25519, testRepoID, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Generate(tt.scheme, tt.repoID, tt.pol); err == nil {
				t.Fatal("Generate succeeded")
			}
		})
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 64<<10 - 1, 64 << 10, 64<<10 + 1, 200 << 10}
	for _, scheme := range schemes {
		k := generate(t, scheme)
		for _, size := range sizes {
			plaintext := bytes.Repeat([]byte{0xa5, 0x17, 0x3c}, size/3+1)[:size]
			t.Run(fmt.Sprintf("%s/%d", scheme, size), func(t *testing.T) {
				meta, err := k.SealMeta(plaintext)
				if err != nil {
					t.Fatal(err)
				}
				got, err := k.OpenMeta(meta)
				if err != nil || !bytes.Equal(got, plaintext) {
					t.Fatalf("OpenMeta: %v (equal=%v)", err, bytes.Equal(got, plaintext))
				}
				data, err := k.SealData(plaintext)
				if err != nil {
					t.Fatal(err)
				}
				got, err = k.OpenData(data)
				if err != nil || !bytes.Equal(got, plaintext) {
					t.Fatalf("OpenData: %v (equal=%v)", err, bytes.Equal(got, plaintext))
				}
				if _, err := k.OpenData(meta); err == nil {
					t.Error("OpenData opened an object encrypted to M")
				}
				if _, err := k.OpenMeta(data); err == nil {
					t.Error("OpenMeta opened an object encrypted to D")
				}
			})
		}
	}
}

func TestOpenRejectsTamperedCiphertext(t *testing.T) {
	k := generate(t, SchemeX25519)
	ct, err := k.SealMeta([]byte("index contents"))
	if err != nil {
		t.Fatal(err)
	}
	ct[len(ct)-3] ^= 1
	if _, err := k.OpenMeta(ct); err == nil {
		t.Fatal("OpenMeta accepted a tampered object")
	}
}

func TestDecryptDataAtReadsRanges(t *testing.T) {
	k := generate(t, SchemePQ)
	plaintext := make([]byte, 300<<10)
	for i := range plaintext {
		plaintext[i] = byte(i * 7)
	}
	ct, err := k.SealData(plaintext)
	if err != nil {
		t.Fatal(err)
	}
	r, size, err := k.DecryptDataAt(bytes.NewReader(ct), int64(len(ct)))
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(plaintext)) {
		t.Fatalf("size = %d, want %d", size, len(plaintext))
	}
	for _, rng := range [][2]int{{0, 10}, {64<<10 - 5, 64<<10 + 5}, {len(plaintext) - 100, len(plaintext)}} {
		buf := make([]byte, rng[1]-rng[0])
		if _, err := r.ReadAt(buf, int64(rng[0])); err != nil && err != io.EOF {
			t.Fatalf("ReadAt %v: %v", rng, err)
		}
		if !bytes.Equal(buf, plaintext[rng[0]:rng[1]]) {
			t.Errorf("ReadAt %v returned wrong bytes", rng)
		}
	}
	if _, _, err := k.DecryptDataAt(bytes.NewReader(ct), int64(len(ct))-1); err == nil {
		t.Error("DecryptDataAt accepted a wrong ciphertext size")
	}
}

func TestBlobIDIsKeyed(t *testing.T) {
	a := generate(t, SchemeX25519)
	b := generate(t, SchemeX25519)
	data := []byte("the same attachment sent to twenty users")
	first := a.BlobID(data)
	if a.BlobID(data) != first {
		t.Fatal("BlobID is not deterministic")
	}
	if a.BlobID(data) == b.BlobID(data) {
		t.Error("two repositories with different keys give the same blob id")
	}
	if a.BlobID(data) == blake3.Sum256(data) {
		t.Error("BlobID equals the unkeyed BLAKE3 hash")
	}
	key := a.secrets.Load().blobIDKey
	h, err := blake3.NewKeyed(key[:])
	if err != nil {
		t.Fatal(err)
	}
	h.Write(data)
	if got := a.BlobID(data); !bytes.Equal(got[:], h.Sum(nil)) {
		t.Error("BlobID is not keyed BLAKE3-256 with the blob-id key")
	}
	if a.MetaID(data) == a.BlobID(data) {
		t.Error("MetaID equals BlobID for the same data")
	}
	if a.MetaID(data) == b.MetaID(data) {
		t.Error("MetaID is not keyed")
	}
}

func TestBlobIDConcurrentUse(t *testing.T) {
	k := generate(t, SchemeX25519)
	want := k.BlobID([]byte("x"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if k.BlobID([]byte("x")) != want {
					t.Error("BlobID changed under concurrent use")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestFingerprintFormatAndDependencies(t *testing.T) {
	k := generate(t, SchemePQ)
	fp := k.Fingerprint()
	if !regexp.MustCompile(`^[0-9a-f]{4}(:[0-9a-f]{4}){7}$`).MatchString(fp) {
		t.Fatalf("fingerprint %q is not 8 groups of 4 hex digits", fp)
	}
	d, m := k.DataRecipient(), k.MetaRecipient()
	if fingerprint(testRepoID, d, m) != fp {
		t.Error("Fingerprint differs from fingerprint(id, D, M)")
	}
	if fingerprint("other", d, m) == fp || fingerprint(testRepoID, m, d) == fp {
		t.Error("fingerprint does not depend on repository id and recipient order")
	}
	// Length prefixes keep field boundaries: moving a character across a
	// boundary changes the fingerprint.
	if fingerprint("ab", "c", "d") == fingerprint("a", "bc", "d") {
		t.Error("fingerprint fields are not length-prefixed")
	}
}

// TestFingerprintStable freezes the fingerprint construction: a change to it
// would make every pinned fingerprint mismatch.
func TestFingerprintStable(t *testing.T) {
	got := fingerprint("r", "age1d", "age1m")
	h := blake3.New()
	for _, f := range []string{fingerprintContext, "r", "age1d", "age1m"} {
		h.Write([]byte{0, 0, 0, 0, 0, 0, 0, byte(len(f))})
		h.Write([]byte(f))
	}
	sum := hex.EncodeToString(h.Sum(nil)[:16])
	want := strings.Join([]string{sum[0:4], sum[4:8], sum[8:12], sum[12:16], sum[16:20], sum[20:24], sum[24:28], sum[28:32]}, ":")
	if got != want {
		t.Fatalf("fingerprint = %s, want %s", got, want)
	}
	if fingerprintContext != "godwit repository fingerprint v1" {
		t.Fatalf("fingerprint context changed to %q", fingerprintContext)
	}
}

func TestRotateMetaKeepsDataAndSecrets(t *testing.T) {
	k := generate(t, SchemeX25519)
	data, err := k.SealData([]byte("pack"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := k.RotateMeta()
	if err != nil {
		t.Fatal(err)
	}
	if r.MetaRecipient() == k.MetaRecipient() || r.Fingerprint() == k.Fingerprint() {
		t.Error("RotateMeta kept M")
	}
	if r.DataRecipient() != k.DataRecipient() || r.BlobID([]byte("a")) != k.BlobID([]byte("a")) || r.Polynomial() != k.Polynomial() {
		t.Error("RotateMeta changed D or the config secrets")
	}
	if _, err := r.OpenData(data); err != nil {
		t.Errorf("rotated keys cannot open old packs: %v", err)
	}
	old, _ := k.SealMeta([]byte("snapshot"))
	if _, err := r.OpenMeta(old); err == nil {
		t.Error("rotated keys open metadata of the old M")
	}
}

func TestConfigSecretsRoundTrip(t *testing.T) {
	k := generate(t, SchemePQ)
	doc, err := k.MarshalConfigSecrets()
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]string
	if err := json.Unmarshal(doc, &fields); err != nil {
		t.Fatal(err)
	}
	if fields["data_recipient"] != k.DataRecipient() || len(fields["blob_id_key"]) != 64 || fields["chunker_polynomial"] != fmt.Sprintf("%016x", testPolynomial) {
		t.Errorf("config secrets = %s", doc)
	}
	if err := k.LoadConfigSecrets(testRepoID, doc); err != nil {
		t.Errorf("owner rejects its own config: %v", err)
	}
}

func TestOwnerLoadConfigSecretsRejectsReplacedConfig(t *testing.T) {
	k := generate(t, SchemePQ)
	other := generate(t, SchemePQ)
	doc, _ := k.MarshalConfigSecrets()
	otherDoc, _ := other.MarshalConfigSecrets()
	var mine, theirs map[string]string
	json.Unmarshal(doc, &mine)
	json.Unmarshal(otherDoc, &theirs)
	mixed := func(field string) []byte {
		m := map[string]string{}
		for k, v := range mine {
			m[k] = v
		}
		m[field] = theirs[field]
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name   string
		repoID string
		doc    []byte
	}{
		{"other data recipient", testRepoID, mixed("data_recipient")},
		{"other blob-id key", testRepoID, mixed("blob_id_key")},
		{"other polynomial", testRepoID, []byte(strings.Replace(string(doc), fmt.Sprintf("%016x", testPolynomial), "0000000000000003", 1))},
		{"other repository id", "0000", doc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := k.LoadConfigSecrets(tt.repoID, tt.doc)
			if !errors.Is(err, ErrFingerprintPin) {
				t.Fatalf("LoadConfigSecrets = %v, want ErrFingerprintPin", err)
			}
			if k.DataRecipient() != mine["data_recipient"] {
				t.Fatal("a rejected config changed the keys")
			}
		})
	}
}

func TestLoadConfigSecretsRejectsMalformed(t *testing.T) {
	k := generate(t, SchemeX25519)
	doc, _ := k.MarshalConfigSecrets()
	tests := map[string]string{
		"unknown member": strings.Replace(string(doc), "{", `{"extra":"1",`, 1),
		"trailing data":  string(doc) + "{}",
		"short key":      strings.Replace(string(doc), `"blob_id_key":"`, `"blob_id_key":"00`, 1),
		"not json":       "data_recipient=age1",
		"bad recipient":  strings.Replace(string(doc), k.DataRecipient(), "age1nope", 1),
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			err := k.LoadConfigSecrets(testRepoID, []byte(doc))
			if err == nil {
				t.Fatal("LoadConfigSecrets accepted a malformed document")
			}
		})
	}
}

func TestKeysNeverPrintSecrets(t *testing.T) {
	k := generate(t, SchemePQ)
	wk, err := k.NewWriteKey("mail.example.org", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pass, err := PassphraseCredential("correct horse battery staple", 10)
	if err != nil {
		t.Fatal(err)
	}
	s := k.secrets.Load()
	secrets := []string{
		k.data.secret, k.meta.secret,
		hex.EncodeToString(s.blobIDKey[:]),
		fmt.Sprintf("%x", s.polynomial),
		"correct horse battery staple",
		hex.EncodeToString([]byte("correct horse battery staple")),
		// Byte slices and arrays print as decimal lists.
		strings.Trim(fmt.Sprint([]byte("correct horse battery staple")), "[]"),
		strings.Trim(fmt.Sprint(s.blobIDKey[:]), "[]"),
	}
	ids := PassphraseIdentities("correct horse battery staple")
	values := map[string]any{
		"Keys": k, "WriteKey": wk, "Credential": pass, "Identities": ids,
		"write-only Keys": wk.Keys(), "struct holding Keys": struct{ K *Keys }{k},
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			js, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			out := fmt.Sprintf("%v %+v %#v %s %x %q %d", v, v, v, v, v, v, v) + string(js)
			for _, secret := range secrets {
				if strings.Contains(out, secret) || strings.Contains(strings.ToLower(out), strings.ToLower(secret)) {
					t.Errorf("output contains a secret: %s", out)
				}
			}
		})
	}
}

func TestWriteIdentityFileRejectsUnknownKey(t *testing.T) {
	k := generate(t, SchemeX25519)
	if err := k.WriteIdentityFile(io.Discard, "owner"); err == nil {
		t.Fatal("WriteIdentityFile accepted an unknown key name")
	}
}

// ageBinary returns the reference age CLI, or skips the test when it is
// missing (outside CI).
func ageBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GODWIT_AGE_BIN"); p != "" {
		return p
	}
	p, err := exec.LookPath("age")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("age CLI not found: set GODWIT_AGE_BIN or put age on PATH")
		}
		t.Skip("age CLI not found; set GODWIT_AGE_BIN to run this test")
	}
	return p
}

func TestReferenceAgeDecryptsObjects(t *testing.T) {
	age := ageBinary(t)
	for _, scheme := range schemes {
		t.Run(string(scheme), func(t *testing.T) {
			k := generate(t, scheme)
			dir := t.TempDir()
			plaintext := bytes.Repeat([]byte("From alice@example.org\n"), 5000)
			for _, which := range []string{"data", "meta"} {
				seal := k.SealData
				if which == "meta" {
					seal = k.SealMeta
				}
				ct, err := seal(plaintext)
				if err != nil {
					t.Fatal(err)
				}
				var idFile bytes.Buffer
				if err := k.WriteIdentityFile(&idFile, which); err != nil {
					t.Fatal(err)
				}
				idPath := filepath.Join(dir, which+".key")
				ctPath := filepath.Join(dir, which+".age")
				os.WriteFile(idPath, idFile.Bytes(), 0o600)
				os.WriteFile(ctPath, ct, 0o600)
				out, err := exec.Command(age, "-d", "-i", idPath, ctPath).Output()
				if err != nil {
					t.Fatalf("age -d %s: %v", which, err)
				}
				if !bytes.Equal(out, plaintext) {
					t.Errorf("age -d %s returned other plaintext", which)
				}
			}
		})
	}
}
