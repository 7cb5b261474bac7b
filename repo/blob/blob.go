// Package blob defines the identifiers shared by every layer of the
// repository format: 32-byte ids and the two blob types. It holds no key
// material; keyed ids are computed by package crypto.
package blob

import (
	"encoding/hex"
	"fmt"

	"github.com/zeebo/blake3"
)

// ID is a 32-byte identifier: a keyed BLAKE3 hash for blobs and metadata
// objects, a plain BLAKE3 hash of the ciphertext for packs.
type ID [32]byte

// Hash returns the unkeyed BLAKE3-256 hash of data, as used for pack ids.
func Hash(data []byte) ID { return ID(blake3.Sum256(data)) }

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first eight hex digits, for display.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsNull reports whether id is all zeroes.
func (id ID) IsNull() bool { return id == ID{} }

// ParseID parses a 64-digit hex id.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, fmt.Errorf("invalid id %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("invalid id %q: %w", s, err)
	}
	return id, nil
}

func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// Type is the kind of a blob. Data blobs hold file contents; tree blobs
// hold directory listings. They are stored in separate packs.
type Type uint8

const (
	InvalidType Type = 0
	DataBlob    Type = 1
	TreeBlob    Type = 2
)

func (t Type) String() string {
	switch t {
	case DataBlob:
		return "data"
	case TreeBlob:
		return "tree"
	}
	return fmt.Sprintf("invalid(%d)", uint8(t))
}

func (t Type) MarshalText() ([]byte, error) {
	if t != DataBlob && t != TreeBlob {
		return nil, fmt.Errorf("invalid blob type %d", uint8(t))
	}
	return []byte(t.String()), nil
}

func (t *Type) UnmarshalText(b []byte) error {
	switch string(b) {
	case "data":
		*t = DataBlob
	case "tree":
		*t = TreeBlob
	default:
		return fmt.Errorf("invalid blob type %q", b)
	}
	return nil
}

// Handle names a blob: its type and id.
type Handle struct {
	Type Type
	ID   ID
}

func (h Handle) String() string { return h.Type.String() + "/" + h.ID.Short() }
