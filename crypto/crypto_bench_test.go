package crypto

import (
	"crypto/rand"
	"testing"
)

func benchKeys(b *testing.B) *Keys {
	k, err := Generate(SchemePQ, "bench", 0x3DA3358B4DC173)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// BenchmarkSealPack measures the encryption stage on a 16 MiB pack.
func BenchmarkSealPack(b *testing.B) {
	k := benchKeys(b)
	data := make([]byte, 16<<20)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := k.SealData(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlobID measures the hashing stage (keyed BLAKE3) on 1 MiB
// chunks.
func BenchmarkBlobID(b *testing.B) {
	k := benchKeys(b)
	data := make([]byte, 1<<20)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		k.BlobID(data)
	}
}
