package crypto

import (
	"bytes"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// configSecretsJSON is the "keys" member of the repository config:
//
//	{"data_recipient": "age1pq1...", "blob_id_key": "<64 hex digits>",
//	 "chunker_polynomial": "<1 to 16 hex digits>"}
type configSecretsJSON struct {
	DataRecipient     string `json:"data_recipient"`
	BlobIDKey         string `json:"blob_id_key"`
	ChunkerPolynomial string `json:"chunker_polynomial"`
}

// MarshalConfigSecrets returns the secret part of the repository config as a
// JSON object with the members data_recipient (D's recipient string),
// blob_id_key (64 lowercase hex digits) and chunker_polynomial (lowercase
// hex, 16 digits). The repo package embeds it as the "keys" member of the
// config document, which is encrypted to M. The result is a secret.
func (k *Keys) MarshalConfigSecrets() ([]byte, error) {
	s := k.secrets.Load()
	if s == nil {
		return nil, fmt.Errorf("marshal config secrets: %w", errSecretsNotLoaded)
	}
	return jsonMarshal(configSecretsJSON{
		DataRecipient:     s.dataRecipientString,
		BlobIDKey:         hex.EncodeToString(s.blobIDKey[:]),
		ChunkerPolynomial: fmt.Sprintf("%016x", s.polynomial),
	})
}

// LoadConfigSecrets takes the repository id and the "keys" member of a
// decrypted config. All failures to agree wrap ErrFingerprintPin:
//
//   - repoID must equal the id in the key object or write key;
//   - for owner Keys (and write-only Keys that already loaded secrets), the
//     data recipient, blob-id key and polynomial must equal those held
//     (otherwise the config was replaced);
//   - for write-only Keys, the pin of the data recipient must equal the one
//     in the write key; then the secrets are filled in.
//
// A malformed document is a different error. After any error k is
// unchanged. LoadConfigSecrets is safe to call concurrently and repeatedly.
func (k *Keys) LoadConfigSecrets(repoID string, data []byte) error {
	var doc configSecretsJSON
	if err := decodeStrict(data, &doc); err != nil {
		return fmt.Errorf("load config secrets: %w", err)
	}
	blobIDKey, err := parseBlobIDKey(doc.BlobIDKey)
	if err != nil {
		return fmt.Errorf("load config secrets: %w", err)
	}
	pol, err := parsePolynomial(doc.ChunkerPolynomial)
	if err != nil {
		return fmt.Errorf("load config secrets: %w", err)
	}
	if repoID != k.repoID {
		return fmt.Errorf("config is for repository %q, keys for %q: %w", repoID, k.repoID, ErrFingerprintPin)
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	if have := k.secrets.Load(); have != nil {
		switch {
		case doc.DataRecipient != have.dataRecipientString:
			return fmt.Errorf("config names another data recipient than the key: %w", ErrFingerprintPin)
		case subtle.ConstantTimeCompare(blobIDKey[:], have.blobIDKey[:]) != 1:
			return fmt.Errorf("config holds another blob-id key than the key: %w", ErrFingerprintPin)
		case pol != have.polynomial:
			return fmt.Errorf("config holds another chunker polynomial than the key: %w", ErrFingerprintPin)
		}
		return nil
	}
	if dataRecipientPin(doc.DataRecipient) != k.dataPin {
		return fmt.Errorf("config names another data recipient than the write key pins: %w", ErrFingerprintPin)
	}
	s, err := newConfigSecrets(blobIDKey, pol, doc.DataRecipient)
	if err != nil {
		return fmt.Errorf("load config secrets: %w", err)
	}
	k.secrets.Store(s)
	return nil
}

func parseBlobIDKey(s string) ([32]byte, error) {
	var key [32]byte
	if len(s) != 64 {
		return key, errors.New("blob-id key: want 64 hex digits")
	}
	if _, err := hex.Decode(key[:], []byte(s)); err != nil {
		return key, errors.New("blob-id key: want 64 hex digits")
	}
	return key, nil
}

func parsePolynomial(s string) (uint64, error) {
	if len(s) == 0 || len(s) > 16 {
		return 0, errors.New("chunker polynomial: want 1 to 16 hex digits")
	}
	pol, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, errors.New("chunker polynomial: want 1 to 16 hex digits")
	}
	if pol == 0 {
		return 0, errors.New("chunker polynomial is zero")
	}
	return pol, nil
}

// decodeStrict decodes exactly one JSON value into v, rejecting unknown
// members and trailing data. Errors never quote the input, which may hold
// secrets.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return fmt.Errorf("malformed JSON at offset %d", syntax.Offset)
		case errors.As(err, &typ):
			return fmt.Errorf("malformed JSON: member %q has the wrong type", typ.Field)
		}
		// Unknown-field and EOF errors name only member names.
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("malformed JSON: trailing data")
	}
	return nil
}

func jsonMarshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return b, nil
}
