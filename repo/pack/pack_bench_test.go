package pack

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"testing"
)

// mailFrame is 1 MiB of what packs mostly hold on a mail server: headers,
// quoted text and base64 attachments.
func mailFrame() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	for i := 0; buf.Len() < FrameSize; i++ {
		fmt.Fprintf(&buf, "Received: from mx%d.example.net by mail1.example.org with ESMTPS id %x\n", i%7, rng.Uint64())
		fmt.Fprintf(&buf, "Subject: Re: quarterly report %d\nFrom: user%d@example.net\n\n> on the previous message\n", i, i%50)
		att := make([]byte, 3000)
		for j := range att {
			att[j] = byte(rng.Uint32())
		}
		buf.WriteString(base64.StdEncoding.EncodeToString(att))
		buf.WriteString("\n\n")
	}
	return buf.Bytes()[:FrameSize]
}

// BenchmarkCompressMailFrame measures the compression stage.
func BenchmarkCompressMailFrame(b *testing.B) {
	c, err := NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	raw := mailFrame()
	b.SetBytes(int64(len(raw)))
	var out []byte
	for b.Loop() {
		out, _ = c.compress(out[:0], raw)
	}
	b.ReportMetric(float64(len(raw))/float64(len(out)), "ratio")
}

func BenchmarkDecompressMailFrame(b *testing.B) {
	c, err := NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	raw := mailFrame()
	stored, compressed := c.compress(nil, raw)
	if !compressed {
		b.Fatal("mail did not compress")
	}
	f := Frame{Length: uint32(len(stored)), RawLength: uint32(len(raw)), Compressed: true}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := c.ReadFrame(bytes.NewReader(stored), f); err != nil {
			b.Fatal(err)
		}
	}
}
