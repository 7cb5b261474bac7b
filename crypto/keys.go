package crypto

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"filippo.io/age"
	"github.com/zeebo/blake3"
)

// Scheme selects the kind of age identity used for D and M.
type Scheme string

const (
	// SchemePQ is the post-quantum hybrid identity (ML-KEM-768 + X25519),
	// the default. Recipients look like age1pq1...
	SchemePQ Scheme = "pq"
	// SchemeX25519 is the classic age X25519 identity, for compatibility
	// with age versions that predate post-quantum recipients.
	SchemeX25519 Scheme = "x25519"
)

var (
	// ErrWriteOnly is returned by every operation that needs the data key D
	// when the Keys came from a write key.
	ErrWriteOnly = errors.New("this is a write key: it can add backups but cannot read them; use an owner credential (--password-file or --identity-file)")

	// ErrNoMatchingKey means the passphrase is wrong or no identity matches
	// the recipients of a key object or passphrase-protected identity file.
	ErrNoMatchingKey = errors.New("wrong passphrase or no matching identity")

	// ErrFingerprintPin means a repository config does not agree with the
	// keys that opened it: another data recipient than the one pinned in a
	// write key or held by an owner key object, another repository id, or
	// other secrets. A storage provider that replaces the config gets this.
	ErrFingerprintPin = errors.New("repository config does not match the pinned keys")

	errSecretsNotLoaded = errors.New("repository config secrets not loaded yet")
)

const (
	fingerprintContext = "godwit repository fingerprint v1"
	dataPinContext     = "godwit data recipient pin v1"
	// metaIDContext derives the key for metadata object names from the
	// blob-id key (BLAKE3 derive_key mode), so that a metadata name can never
	// equal a blob id.
	metaIDContext = "godwit 2025-01-01 metadata object id v1"
)

// keyPair is one repository-internal age identity (D or M) and its recipient.
type keyPair struct {
	scheme    Scheme
	identity  age.Identity
	recipient age.Recipient
	secret    string // AGE-SECRET-KEY-...
	public    string // age1...
}

func generateKeyPair(s Scheme) (*keyPair, error) {
	switch s {
	case SchemePQ:
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			return nil, fmt.Errorf("generate post-quantum identity: %w", err)
		}
		r := id.Recipient()
		return &keyPair{scheme: s, identity: id, recipient: r, secret: id.String(), public: r.String()}, nil
	case SchemeX25519:
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, fmt.Errorf("generate x25519 identity: %w", err)
		}
		r := id.Recipient()
		return &keyPair{scheme: s, identity: id, recipient: r, secret: id.String(), public: r.String()}, nil
	}
	return nil, fmt.Errorf("unknown key scheme %q (want %q or %q)", s, SchemePQ, SchemeX25519)
}

// parseKeyPair parses an age identity string of either scheme. Errors never
// include the string.
func parseKeyPair(secret string) (*keyPair, error) {
	switch {
	case strings.HasPrefix(secret, "AGE-SECRET-KEY-PQ-1"):
		id, err := age.ParseHybridIdentity(secret)
		if err != nil {
			return nil, errors.New("malformed post-quantum identity")
		}
		r := id.Recipient()
		return &keyPair{scheme: SchemePQ, identity: id, recipient: r, secret: secret, public: r.String()}, nil
	case strings.HasPrefix(secret, "AGE-SECRET-KEY-1"):
		id, err := age.ParseX25519Identity(secret)
		if err != nil {
			return nil, errors.New("malformed x25519 identity")
		}
		r := id.Recipient()
		return &keyPair{scheme: SchemeX25519, identity: id, recipient: r, secret: secret, public: r.String()}, nil
	}
	return nil, errors.New("unknown identity type")
}

// Format redacts: a keyPair never prints its secret.
func (p *keyPair) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, "crypto.keyPair{"+p.public+", secret redacted}")
}

// parseDataRecipient parses D's recipient as found in a config.
func parseDataRecipient(s string) (age.Recipient, error) {
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		r, err := age.ParseHybridRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("malformed data recipient: %w", err)
		}
		return r, nil
	case strings.HasPrefix(s, "age1"):
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("malformed data recipient: %w", err)
		}
		return r, nil
	}
	return nil, errors.New("malformed data recipient: want an age1pq1 or age1 recipient")
}

// configSecrets are the secrets a repository config carries. They are
// immutable once built; Keys swaps the whole value atomically.
type configSecrets struct {
	polynomial          uint64
	blobIDKey           [32]byte
	dataRecipient       age.Recipient
	dataRecipientString string
	blobHashers         sync.Pool // *blake3.Hasher keyed with blobIDKey
	metaHashers         sync.Pool // *blake3.Hasher keyed with the derived metadata key
}

func newConfigSecrets(blobIDKey [32]byte, polynomial uint64, dataRecipient string) (*configSecrets, error) {
	if polynomial == 0 {
		return nil, errors.New("chunker polynomial is zero")
	}
	r, err := parseDataRecipient(dataRecipient)
	if err != nil {
		return nil, err
	}
	var metaKey [32]byte
	blake3.DeriveKey(metaIDContext, blobIDKey[:], metaKey[:])
	s := &configSecrets{
		polynomial:          polynomial,
		blobIDKey:           blobIDKey,
		dataRecipient:       r,
		dataRecipientString: dataRecipient,
	}
	s.blobHashers.New = func() any { return mustKeyed(blobIDKey) }
	s.metaHashers.New = func() any { return mustKeyed(metaKey) }
	return s, nil
}

func mustKeyed(key [32]byte) *blake3.Hasher {
	h, err := blake3.NewKeyed(key[:])
	if err != nil {
		// NewKeyed fails only for keys that are not 32 bytes long.
		panic("crypto: blake3.NewKeyed: " + err.Error())
	}
	return h
}

func keyedSum(pool *sync.Pool, data []byte) [32]byte {
	h := pool.Get().(*blake3.Hasher)
	h.Reset()
	h.Write(data)
	var sum [32]byte
	h.Sum(sum[:0])
	pool.Put(h)
	return sum
}

// Keys is unlocked key material for one repository. Owner Keys hold D and M
// and the config secrets; write-only Keys hold M only, plus the config
// secrets after LoadConfigSecrets.
//
// Keys is safe for concurrent use. LoadConfigSecrets may run concurrently
// with other methods, but methods that need the config secrets (BlobID,
// MetaID, EncryptData, ...) see them only once it has returned.
//
// Keys never prints key material: %v, %+v, %#v, %s, %x and JSON show only
// the repository id and the fingerprint. A Keys must not be copied.
type Keys struct {
	repoID  string
	data    *keyPair // D; nil for write-only Keys
	meta    *keyPair // M; never nil
	dataPin string   // pin of D's recipient, see dataRecipientPin

	mu      sync.Mutex // serializes LoadConfigSecrets
	secrets atomic.Pointer[configSecrets]
}

// Generate makes fresh D and M of the given scheme and a random 32-byte
// blob-id key, for a repository with the given id and chunker polynomial,
// which the caller generates. repoID must be 1 to 128 characters from
// [A-Za-z0-9_-]; polynomial must be nonzero.
func Generate(scheme Scheme, repoID string, polynomial uint64) (*Keys, error) {
	if err := checkRepoID(repoID); err != nil {
		return nil, err
	}
	d, err := generateKeyPair(scheme)
	if err != nil {
		return nil, err
	}
	m, err := generateKeyPair(scheme)
	if err != nil {
		return nil, err
	}
	var blobIDKey [32]byte
	if _, err := rand.Read(blobIDKey[:]); err != nil {
		return nil, fmt.Errorf("generate blob-id key: %w", err)
	}
	return newOwnerKeys(repoID, d, m, blobIDKey, polynomial)
}

func newOwnerKeys(repoID string, d, m *keyPair, blobIDKey [32]byte, polynomial uint64) (*Keys, error) {
	s, err := newConfigSecrets(blobIDKey, polynomial, d.public)
	if err != nil {
		return nil, err
	}
	k := &Keys{repoID: repoID, data: d, meta: m, dataPin: dataRecipientPin(d.public)}
	k.secrets.Store(s)
	return k, nil
}

func checkRepoID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("invalid repository id of %d characters: want 1 to 128", len(id))
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			// The value is not quoted: it comes from decrypted key
			// material and must not end up in logs.
			return fmt.Errorf("invalid repository id: only letters, digits, '-' and '_' are allowed")
		}
	}
	return nil
}

// RepositoryID returns the id of the repository these keys belong to.
func (k *Keys) RepositoryID() string { return k.repoID }

// Scheme returns the scheme of M (and, for repositories made by Generate,
// of D).
func (k *Keys) Scheme() Scheme { return k.meta.scheme }

// Polynomial returns the chunker polynomial, a secret. It returns 0 for
// write-only Keys before LoadConfigSecrets.
func (k *Keys) Polynomial() uint64 {
	if s := k.secrets.Load(); s != nil {
		return s.polynomial
	}
	return 0
}

// CanReadData reports whether k holds D. It is false for write-only Keys.
func (k *Keys) CanReadData() bool { return k.data != nil }

// DataRecipient returns D's recipient string (age1pq1... or age1...). It
// returns "" for write-only Keys before LoadConfigSecrets.
func (k *Keys) DataRecipient() string {
	if s := k.secrets.Load(); s != nil {
		return s.dataRecipientString
	}
	return ""
}

// MetaRecipient returns M's recipient string; it is never "".
func (k *Keys) MetaRecipient() string { return k.meta.public }

// Fingerprint returns the repository fingerprint: the unkeyed BLAKE3 hash of
// the length-prefixed fields
//
//	"godwit repository fingerprint v1", repository id, D's recipient, M's recipient
//
// (each preceded by its length as a big-endian uint64), of which the first 16
// bytes are shown as lowercase hex in groups of four digits joined by ":",
// e.g. "3f2a:91c0:5d7e:0b44:c1d2:e3f4:0516:2738".
//
// Write-only Keys know D's recipient only after LoadConfigSecrets; before
// that Fingerprint returns "". After it, the fingerprint equals the owner's.
// Rotating M changes the fingerprint.
func (k *Keys) Fingerprint() string {
	s := k.secrets.Load()
	if s == nil {
		return ""
	}
	return fingerprint(k.repoID, s.dataRecipientString, k.meta.public)
}

func fingerprint(repoID, dataRecipient, metaRecipient string) string {
	sum := lengthPrefixedHash(fingerprintContext, repoID, dataRecipient, metaRecipient)
	h := hex.EncodeToString(sum[:16])
	groups := make([]string, 0, len(h)/4)
	for i := 0; i < len(h); i += 4 {
		groups = append(groups, h[i:i+4])
	}
	return strings.Join(groups, ":")
}

// dataRecipientPin is what a write key stores in place of D's recipient: the
// hex BLAKE3 hash of the length-prefixed "godwit data recipient pin v1" and
// the recipient string.
func dataRecipientPin(dataRecipient string) string {
	sum := lengthPrefixedHash(dataPinContext, dataRecipient)
	return hex.EncodeToString(sum[:])
}

func lengthPrefixedHash(fields ...string) [32]byte {
	h := blake3.New()
	var n [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.WriteString(f)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func (k *Keys) mustSecrets() *configSecrets {
	s := k.secrets.Load()
	if s == nil {
		panic("crypto: keyed hash on write-only Keys before LoadConfigSecrets")
	}
	return s
}

// BlobID returns the keyed BLAKE3-256 hash of data with the blob-id key.
// It panics on write-only Keys before LoadConfigSecrets, since no key is
// known then.
func (k *Keys) BlobID(data []byte) [32]byte {
	return keyedSum(&k.mustSecrets().blobHashers, data)
}

// MetaID returns the keyed BLAKE3-256 hash of data used to name metadata
// objects. Its key is derived from the blob-id key with a distinct context,
// so a metadata name never equals a blob id. It panics like BlobID.
func (k *Keys) MetaID(data []byte) [32]byte {
	return keyedSum(&k.mustSecrets().metaHashers, data)
}

// EncryptData starts a binary age file encrypted to D's recipient, written
// to dst. It works for write-only Keys (after LoadConfigSecrets): they hold
// D's recipient, not D. The caller must Close the returned WriteCloser for
// the last chunk to be encrypted and flushed; Close does not close dst.
// After a write error, the file is unusable and must be discarded.
func (k *Keys) EncryptData(dst io.Writer) (io.WriteCloser, error) {
	s := k.secrets.Load()
	if s == nil {
		return nil, fmt.Errorf("encrypt data: %w", errSecretsNotLoaded)
	}
	w, err := age.Encrypt(dst, s.dataRecipient)
	if err != nil {
		return nil, fmt.Errorf("encrypt data: %w", err)
	}
	return w, nil
}

// EncryptMeta is like EncryptData, but encrypts to M's recipient.
func (k *Keys) EncryptMeta(dst io.Writer) (io.WriteCloser, error) {
	w, err := age.Encrypt(dst, k.meta.recipient)
	if err != nil {
		return nil, fmt.Errorf("encrypt metadata: %w", err)
	}
	return w, nil
}

// SealData encrypts plaintext to D's recipient as one age file.
func (k *Keys) SealData(plaintext []byte) ([]byte, error) {
	return seal(plaintext, k.EncryptData)
}

// SealMeta encrypts plaintext to M's recipient as one age file.
func (k *Keys) SealMeta(plaintext []byte) ([]byte, error) {
	return seal(plaintext, k.EncryptMeta)
}

// SealedSizeHint returns a size that holds an age file of n plaintext
// bytes to one of godwit's recipients: the payload nonce, a 16-byte tag per
// 64 KiB chunk, and room for a header with one hybrid post-quantum stanza
// (about 1.6 KiB). It is a capacity hint for buffers, not an exact size; a
// plugin recipient with a larger stanza only costs one regrowth.
func SealedSizeHint(n int) int {
	const chunk, tag, nonce, header = 64 << 10, 16, 16, 4 << 10
	return n + (n/chunk+1)*tag + nonce + header
}

func seal(plaintext []byte, encrypt func(io.Writer) (io.WriteCloser, error)) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(SealedSizeHint(len(plaintext)))
	w, err := encrypt(&buf)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return buf.Bytes(), nil
}

// OpenMeta decrypts an age file encrypted to M. A file not encrypted to M
// (forged, corrupted, or from another repository or an earlier M) is an
// error; so is any authentication failure.
func (k *Keys) OpenMeta(ciphertext []byte) ([]byte, error) {
	return open(ciphertext, k.meta.identity, "metadata")
}

// OpenData decrypts an age file encrypted to D. It returns ErrWriteOnly for
// write-only Keys.
func (k *Keys) OpenData(ciphertext []byte) ([]byte, error) {
	if k.data == nil {
		return nil, ErrWriteOnly
	}
	return open(ciphertext, k.data.identity, "data")
}

func open(ciphertext []byte, id age.Identity, what string) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(ciphertext), id)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", what, notForKey(err, what))
	}
	plaintext, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", what, err)
	}
	return plaintext, nil
}

func notForKey(err error, what string) error {
	if e := new(age.NoIdentityMatchError); errors.As(err, &e) {
		return fmt.Errorf("object is not encrypted to this repository's %s key", what)
	}
	return err
}

// DecryptDataAt gives random access to the plaintext of an age file
// encrypted to D, whose ciphertext is src with exactly encryptedSize bytes.
// It returns the plaintext as an io.ReaderAt and its size. Before returning
// it reads and authenticates the header and the final chunk. ReadAt on the
// result may be called concurrently and reads src in 64 KiB chunks. It
// returns ErrWriteOnly for write-only Keys.
func (k *Keys) DecryptDataAt(src io.ReaderAt, encryptedSize int64) (io.ReaderAt, int64, error) {
	if k.data == nil {
		return nil, 0, ErrWriteOnly
	}
	r, size, err := age.DecryptReaderAt(src, encryptedSize, k.data.identity)
	if err != nil {
		return nil, 0, fmt.Errorf("decrypt data: %w", notForKey(err, "data"))
	}
	return r, size, nil
}

// WriteIdentityFile writes D ("data") or M ("meta") as an age identity file
// that the age CLI accepts with -i, for disaster recovery: with it,
// `age -d -i FILE` decrypts the repository's objects without godwit. The
// output is a secret. It returns ErrWriteOnly for "data" on write-only Keys.
func (k *Keys) WriteIdentityFile(w io.Writer, which string) error {
	var p *keyPair
	switch which {
	case "data":
		if k.data == nil {
			return ErrWriteOnly
		}
		p = k.data
	case "meta":
		p = k.meta
	default:
		return fmt.Errorf("unknown key %q: want \"data\" or \"meta\"", which)
	}
	_, err := fmt.Fprintf(w, "# godwit repository %s: %s key (%s), keep it secret\n# public key: %s\n%s\n",
		k.repoID, which, p.scheme, p.public, p.secret)
	if err != nil {
		return fmt.Errorf("write identity file: %w", err)
	}
	return nil
}

// RotateMeta returns new owner Keys with a fresh M of the same scheme and
// everything else unchanged, for revoking write keys. The new Keys have a
// new fingerprint. It returns ErrWriteOnly for write-only Keys.
func (k *Keys) RotateMeta() (*Keys, error) {
	if k.data == nil {
		return nil, ErrWriteOnly
	}
	m, err := generateKeyPair(k.meta.scheme)
	if err != nil {
		return nil, err
	}
	s := k.secrets.Load()
	return newOwnerKeys(k.repoID, k.data, m, s.blobIDKey, s.polynomial)
}

func (k *Keys) describe() string {
	kind := "owner"
	if k.data == nil {
		kind = "write-only"
	}
	fp := k.Fingerprint()
	if fp == "" {
		fp = "unknown"
	}
	return fmt.Sprintf("crypto.Keys{repository %s, %s, fingerprint %s}", k.repoID, kind, fp)
}

// String describes k without key material.
func (k *Keys) String() string { return k.describe() }

// GoString describes k without key material.
func (k *Keys) GoString() string { return k.describe() }

// Format prints the same description for every verb, so no verb can show
// key material.
func (k *Keys) Format(f fmt.State, verb rune) { formatRedacted(f, verb, k.describe()) }

// MarshalJSON encodes only public facts: the repository id, whether D is
// held, and the fingerprint (empty when unknown).
func (k *Keys) MarshalJSON() ([]byte, error) {
	return jsonMarshal(struct {
		RepositoryID string `json:"repository_id"`
		CanReadData  bool   `json:"can_read_data"`
		Fingerprint  string `json:"fingerprint"`
	}{k.repoID, k.CanReadData(), k.Fingerprint()})
}

func formatRedacted(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	io.WriteString(f, s)
}
