package testutil

import (
	"bytes"
	"testing"
)

// CheckStableEncoding checks that an encoding reaches a fixed point after
// one round: out, decoded and encoded again by reencode, gives the same
// bytes. Fuzz targets of decoders call it with the encoding of what they
// decoded.
func CheckStableEncoding(t testing.TB, out []byte, reencode func([]byte) ([]byte, error)) {
	t.Helper()
	out2, err := reencode(out)
	if err != nil {
		t.Fatalf("decoding and encoding again: %v\n%s", err, out)
	}
	if !bytes.Equal(out, out2) {
		t.Fatalf("encoding is not stable:\n%s\n%s", out, out2)
	}
}
