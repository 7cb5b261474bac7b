package crypto

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// writeKeyMagic starts every write key file; IsWriteKey looks for it.
const writeKeyMagic = "# godwit write key:"

// writeKeyVersion is the version of the write key document below.
const writeKeyVersion = 1

// writeKeyJSON is the JSON document of a write key file. A write key file is
// UTF-8 text:
//
//	# godwit write key: it can add backups to repository <id> but cannot read them.
//	# Keep it on the backed-up host only; the owner key stays offline.
//	{
//	  "version": 1,
//	  "repository_id": "<id>",
//	  "host": "<host name>",
//	  "created": "<RFC 3339 time>",
//	  "data_recipient_pin": "<64 hex digits>",
//	  "meta_identity": "AGE-SECRET-KEY-PQ-1..."
//	}
//
// The first line must start with "# godwit write key:". Further lines that
// start with '#' are comments. The rest is exactly one JSON object: unknown
// members, missing members, trailing data and any version but 1 are errors.
// data_recipient_pin is the hex BLAKE3 hash of the length-prefixed
// "godwit data recipient pin v1" and D's recipient string (see Fingerprint
// for the length prefix); meta_identity is M as an age identity string.
type writeKeyJSON struct {
	Version          int       `json:"version"`
	RepositoryID     string    `json:"repository_id"`
	Host             string    `json:"host"`
	Created          time.Time `json:"created"`
	DataRecipientPin string    `json:"data_recipient_pin"`
	MetaIdentity     string    `json:"meta_identity"`
}

// WriteKey is a write key: M, the repository id, a pin of D's recipient, the
// host it was made for and its creation time. It never prints M (String,
// %v, %#v and JSON show only the repository id, host and creation time);
// Marshal is the only way to get the secret file contents.
type WriteKey struct {
	host    string
	created time.Time
	keys    *Keys // write-only
}

// NewWriteKey makes a write key for host from owner Keys. host must be
// non-empty. It returns ErrWriteOnly for write-only Keys.
func (k *Keys) NewWriteKey(host string, created time.Time) (*WriteKey, error) {
	if k.data == nil {
		return nil, ErrWriteOnly
	}
	if err := checkHost(host); err != nil {
		return nil, err
	}
	if created.IsZero() {
		return nil, errors.New("new write key: creation time is zero")
	}
	return &WriteKey{
		host:    host,
		created: created.UTC(),
		keys:    &Keys{repoID: k.repoID, meta: k.meta, dataPin: k.dataPin},
	}, nil
}

func checkHost(host string) error {
	if host == "" || len(host) > 255 {
		return errors.New("host name must be 1 to 255 characters")
	}
	if strings.ContainsAny(host, "\r\n\x00") {
		return errors.New("host name must not contain line breaks")
	}
	return nil
}

// Marshal returns the write key file described at writeKeyJSON. The result
// is a secret: the CLI writes it with mode 0600.
func (w *WriteKey) Marshal() ([]byte, error) {
	doc, err := json.MarshalIndent(writeKeyJSON{
		Version:          writeKeyVersion,
		RepositoryID:     w.keys.repoID,
		Host:             w.host,
		Created:          w.created,
		DataRecipientPin: w.keys.dataPin,
		MetaIdentity:     w.keys.meta.secret,
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal write key: %w", err)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%s it can add backups to repository %s but cannot read them.\n", writeKeyMagic, w.keys.repoID)
	buf.WriteString("# Keep it on the backed-up host only; the owner key stays offline.\n")
	buf.Write(doc)
	buf.WriteByte('\n')
	clear(doc)
	return buf.Bytes(), nil
}

// IsWriteKey reports whether data looks like a write key file (starts with
// the "# godwit write key:" line). It does not validate the rest.
func IsWriteKey(data []byte) bool {
	return bytes.HasPrefix(data, []byte(writeKeyMagic))
}

// ParseWriteKey parses a write key file strictly (see writeKeyJSON for the
// format). Errors never quote the file's contents.
func ParseWriteKey(data []byte) (*WriteKey, error) {
	if !IsWriteKey(data) {
		return nil, errors.New("parse write key: not a godwit write key")
	}
	rest := data
	for len(rest) > 0 && rest[0] == '#' {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			rest = nil
			break
		}
		rest = rest[i+1:]
	}
	var doc writeKeyJSON
	if err := decodeStrict(rest, &doc); err != nil {
		return nil, fmt.Errorf("parse write key: %w", err)
	}
	if doc.Version != writeKeyVersion {
		return nil, fmt.Errorf("parse write key: unsupported version %d (this godwit knows %d)", doc.Version, writeKeyVersion)
	}
	if err := checkRepoID(doc.RepositoryID); err != nil {
		return nil, fmt.Errorf("parse write key: %w", err)
	}
	if err := checkHost(doc.Host); err != nil {
		return nil, fmt.Errorf("parse write key: %w", err)
	}
	if doc.Created.IsZero() {
		return nil, errors.New("parse write key: missing creation time")
	}
	if pin, err := hex.DecodeString(doc.DataRecipientPin); err != nil || len(pin) != 32 || strings.ToLower(doc.DataRecipientPin) != doc.DataRecipientPin {
		return nil, errors.New("parse write key: data_recipient_pin: want 64 lowercase hex digits")
	}
	m, err := parseKeyPair(doc.MetaIdentity)
	if err != nil {
		return nil, fmt.Errorf("parse write key: meta_identity: %w", err)
	}
	return &WriteKey{
		host:    doc.Host,
		created: doc.Created.UTC(),
		keys:    &Keys{repoID: doc.RepositoryID, meta: m, dataPin: doc.DataRecipientPin},
	}, nil
}

// Host returns the host the write key was made for.
func (w *WriteKey) Host() string { return w.host }

// RepositoryID returns the id of the repository the write key is for.
func (w *WriteKey) RepositoryID() string { return w.keys.repoID }

// Created returns when the write key was made, in UTC.
func (w *WriteKey) Created() time.Time { return w.created }

// Keys returns the write-only Keys (M only). Every call returns the same
// Keys; call LoadConfigSecrets on it after decrypting the config, before
// hashing or encrypting data.
func (w *WriteKey) Keys() *Keys { return w.keys }

func (w *WriteKey) describe() string {
	return fmt.Sprintf("crypto.WriteKey{repository %s, host %q, created %s}",
		w.keys.repoID, w.host, w.created.Format(time.RFC3339))
}

// String describes w without key material.
func (w *WriteKey) String() string { return w.describe() }

// GoString describes w without key material.
func (w *WriteKey) GoString() string { return w.describe() }

// Format prints the same description for every verb.
func (w *WriteKey) Format(f fmt.State, verb rune) { formatRedacted(f, verb, w.describe()) }

// MarshalJSON encodes the public facts only: repository id, host, creation
// time. Use Marshal for the key file.
func (w *WriteKey) MarshalJSON() ([]byte, error) {
	return jsonMarshal(struct {
		RepositoryID string    `json:"repository_id"`
		Host         string    `json:"host"`
		Created      time.Time `json:"created"`
	}{w.keys.repoID, w.host, w.created})
}
