package mailbox

import (
	"bytes"
	"testing"
)

func FuzzScanMbox(f *testing.F) {
	for _, data := range testMboxes(f) {
		f.Add(data)
	}
	for _, m := range roundTripMessages {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var next int64
		r := bytes.NewReader(data)
		err := ScanMbox(bytes.NewReader(data), func(offset, length int64, separator string, h Header) error {
			if offset != next || length <= 0 {
				t.Fatalf("message at %d+%d, want offset %d and positive length", offset, length, next)
			}
			next = offset + length
			if separator != "" && !bytes.HasPrefix(data[offset:], []byte(separator)) {
				t.Fatalf("separator %q not at offset %d", separator, offset)
			}
			msg, err := ExtractMboxMessage(r, offset, length)
			if err != nil {
				t.Fatalf("ExtractMboxMessage(%d, %d): %v", offset, length, err)
			}
			if int64(len(msg)) > length {
				t.Fatalf("extracted %d bytes from a %d-byte message", len(msg), length)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if next != int64(len(data)) {
			t.Fatalf("messages cover %d of %d bytes", next, len(data))
		}
	})
}
