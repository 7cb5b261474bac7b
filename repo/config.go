package repo

import (
	"encoding/json"
	"fmt"
	"time"
)

// FormatVersion is the repository format this binary writes and the
// newest it can read.
const FormatVersion = 1

// DefaultPackSize is the target size of a pack's plaintext.
const DefaultPackSize = 16 << 20

// Config is the plaintext of the config object (encrypted to M).
type Config struct {
	Version     int       `json:"version"`
	ID          string    `json:"id"`
	Created     time.Time `json:"created"`
	PackSize    int       `json:"pack_size"`
	Compression string    `json:"compression"`
	Scheme      string    `json:"scheme"`
	// Keys holds the secrets: the data recipient, the blob-id key and the
	// chunker polynomial (see crypto.Keys.MarshalConfigSecrets).
	Keys json.RawMessage `json:"keys"`
}

func (c *Config) validate() error {
	if c.Version > FormatVersion {
		return fmt.Errorf("repository format version %d is newer than this godwit supports (%d): upgrade godwit: %w", c.Version, FormatVersion, ErrNewerVersion)
	}
	if c.Version < 1 {
		return fmt.Errorf("invalid repository format version %d", c.Version)
	}
	if c.ID == "" || len(c.ID) > 128 {
		return fmt.Errorf("invalid repository id %q", c.ID)
	}
	if c.PackSize < 1<<20 || c.PackSize > 1<<30 {
		return fmt.Errorf("invalid pack size %d", c.PackSize)
	}
	if c.Compression != "zstd" {
		return fmt.Errorf("unsupported compression %q", c.Compression)
	}
	return nil
}
