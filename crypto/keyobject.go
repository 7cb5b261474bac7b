package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
)

// keyObjectVersion is the version of the key object plaintext below.
const keyObjectVersion = 1

// KeyInfo describes an owner key object. It holds no secrets and is stored
// inside the (encrypted) key object.
type KeyInfo struct {
	Kind      string    `json:"kind"`                // one of the Kind constants
	Recipient string    `json:"recipient,omitempty"` // public recipient string; empty for passphrase
	Host      string    `json:"host,omitempty"`
	Username  string    `json:"username,omitempty"`
	Created   time.Time `json:"created"`
	Label     string    `json:"label,omitempty"`
}

// keyObjectJSON is the plaintext of a key object (keys/<id>):
//
//	{"version": 1, "repository_id": "...",
//	 "data_identity": "AGE-SECRET-KEY-PQ-1...", "meta_identity": "AGE-SECRET-KEY-PQ-1...",
//	 "blob_id_key": "<64 hex>", "chunker_polynomial": "<16 hex>",
//	 "info": {KeyInfo}}
type keyObjectJSON struct {
	Version           int     `json:"version"`
	RepositoryID      string  `json:"repository_id"`
	DataIdentity      string  `json:"data_identity"`
	MetaIdentity      string  `json:"meta_identity"`
	BlobIDKey         string  `json:"blob_id_key"`
	ChunkerPolynomial string  `json:"chunker_polynomial"`
	Info              KeyInfo `json:"info"`
}

// SealKeyObject returns a key object: a binary age file encrypted to c alone
// (for a passphrase, scrypt is then the only recipient, as age requires),
// whose plaintext is a JSON document holding D, M, the blob-id key, the
// chunker polynomial, the repository id and info. It sets info.Kind and
// info.Recipient from c. Sealing to a plugin recipient runs the plugin. It
// returns ErrWriteOnly for write-only Keys.
func (k *Keys) SealKeyObject(c Credential, info KeyInfo) ([]byte, error) {
	if k.data == nil {
		return nil, ErrWriteOnly
	}
	if c.recipient == nil {
		return nil, errors.New("seal key object: empty credential")
	}
	info.Kind = c.kind
	info.Recipient = c.public
	s := k.secrets.Load()
	plaintext, err := jsonMarshal(keyObjectJSON{
		Version:           keyObjectVersion,
		RepositoryID:      k.repoID,
		DataIdentity:      k.data.secret,
		MetaIdentity:      k.meta.secret,
		BlobIDKey:         hex.EncodeToString(s.blobIDKey[:]),
		ChunkerPolynomial: fmt.Sprintf("%016x", s.polynomial),
		Info:              info,
	})
	if err != nil {
		return nil, fmt.Errorf("seal key object: %w", err)
	}
	defer clear(plaintext)
	out, err := seal(plaintext, func(w io.Writer) (io.WriteCloser, error) {
		return age.Encrypt(w, c.recipient)
	})
	if err != nil {
		return nil, fmt.Errorf("seal key object for %s: %w", c.kind, err)
	}
	return out, nil
}

// OpenKeyObject tries ids against one key object. When no identity matches
// (including a wrong passphrase, and empty ids), the error wraps
// ErrNoMatchingKey. A key object that decrypts but is malformed, an
// identity that fails for another reason (a plugin error, a passphrase
// prompt that failed), or a tampered file is a different error.
//
// age has no sender authentication: the caller must check the returned
// Keys' Fingerprint against the one pinned for the repository.
func OpenKeyObject(ciphertext []byte, ids Identities) (*Keys, KeyInfo, error) {
	if ids.Empty() {
		return nil, KeyInfo{}, fmt.Errorf("open key object: no identities given: %w", ErrNoMatchingKey)
	}
	r, err := age.Decrypt(bytes.NewReader(ciphertext), ids.ids...)
	if e := new(age.NoIdentityMatchError); errors.As(err, &e) {
		return nil, KeyInfo{}, fmt.Errorf("open key object: %w", ErrNoMatchingKey)
	}
	if err != nil {
		return nil, KeyInfo{}, fmt.Errorf("open key object: %w", err)
	}
	plaintext, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, KeyInfo{}, fmt.Errorf("open key object: %w", err)
	}
	defer clear(plaintext)
	k, info, err := parseKeyObject(plaintext)
	if err != nil {
		return nil, KeyInfo{}, fmt.Errorf("open key object: malformed contents: %w", err)
	}
	return k, info, nil
}

func parseKeyObject(plaintext []byte) (*Keys, KeyInfo, error) {
	var doc keyObjectJSON
	if err := decodeStrict(plaintext, &doc); err != nil {
		return nil, KeyInfo{}, err
	}
	if doc.Version != keyObjectVersion {
		return nil, KeyInfo{}, fmt.Errorf("unsupported key object version %d (this godwit knows %d)", doc.Version, keyObjectVersion)
	}
	if err := checkRepoID(doc.RepositoryID); err != nil {
		return nil, KeyInfo{}, err
	}
	d, err := parseKeyPair(doc.DataIdentity)
	if err != nil {
		return nil, KeyInfo{}, fmt.Errorf("data identity: %w", err)
	}
	m, err := parseKeyPair(doc.MetaIdentity)
	if err != nil {
		return nil, KeyInfo{}, fmt.Errorf("meta identity: %w", err)
	}
	blobIDKey, err := parseBlobIDKey(doc.BlobIDKey)
	if err != nil {
		return nil, KeyInfo{}, err
	}
	pol, err := parsePolynomial(doc.ChunkerPolynomial)
	if err != nil {
		return nil, KeyInfo{}, err
	}
	k, err := newOwnerKeys(doc.RepositoryID, d, m, blobIDKey, pol)
	if err != nil {
		return nil, KeyInfo{}, err
	}
	return k, doc.Info, nil
}

// StanzaTypes returns the recipient stanza types in an age file's header
// ("scrypt", "X25519", "mlkem768x25519", "ssh-ed25519", "ssh-rsa", or a
// plugin's own type such as "piv-p256"), in header order, without
// decrypting anything, so callers can try only the key objects a
// credential can possibly open (see Identities.CanOpen).
func StanzaTypes(ciphertext []byte) ([]string, error) {
	_, err := age.Decrypt(bytes.NewReader(ciphertext), stanzaRecorder{})
	if e := new(age.NoIdentityMatchError); errors.As(err, &e) {
		return e.StanzaTypes, nil
	}
	if err == nil {
		return nil, errors.New("read age header: unexpected success")
	}
	return nil, fmt.Errorf("read age header: %w", err)
}

// stanzaRecorder is an identity that matches nothing, so that age.Decrypt
// parses the header and reports its stanza types.
type stanzaRecorder struct{}

func (stanzaRecorder) Unwrap([]*age.Stanza) ([]byte, error) { return nil, age.ErrIncorrectIdentity }
