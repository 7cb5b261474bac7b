package chunk

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/zeebo/blake3"
)

// testPol is a fixed irreducible polynomial of degree 53.
const testPol = 0x3DA3358B4DC173

// pseudoRandom returns n deterministic pseudo-random bytes for seed.
func pseudoRandom(seed string, n int) []byte {
	var s [32]byte
	copy(s[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

// chunkAll splits data with c and returns copies of the chunks.
func chunkAll(t *testing.T, c *Chunker, data []byte) [][]byte {
	t.Helper()
	c.Reset(bytes.NewReader(data))
	buf := make([]byte, c.MaxSize())
	var chunks [][]byte
	for {
		ch, err := c.Next(buf)
		if err == io.EOF {
			return chunks
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		chunks = append(chunks, bytes.Clone(ch))
	}
}

func lengths(chunks [][]byte) []int {
	ls := make([]int, len(chunks))
	for i, ch := range chunks {
		ls[i] = len(ch)
	}
	return ls
}

// TestChunkBoundariesAreFrozen pins the cut points of the default options.
// If it fails, chunking changed and new backups would no longer deduplicate
// against existing repositories: that is a format change, not a refactor.
func TestChunkBoundariesAreFrozen(t *testing.T) {
	want := []struct {
		length int
		blake3 string
	}{
		{605644, "3d0111a50b8770ceef9df93116ce11a34a4402d92d2f7e999a22829ee3019b4a"},
		{3144102, "028325e930ed5347e573cff0f04fcc1900c98a7c96c9ddac390429768346cdf0"},
		{1069120, "1c67e120049b69b91ed85a5e061ac7517e69d85a1b9861321a24dd5bf773f56c"},
		{2145507, "b2a70a530ef893a72a1f49ac08ba2f0ea45f24d63ee01d44878cb744b275a0e4"},
		{5769295, "758344aa6aad665b66e5bee83dd40194f212115acf0275a95227655729db10a2"},
		{632653, "8421ddec181fee85565efc13815964519c75acbcd31a9e57dcaeaf833b634190"},
		{2143341, "01732cba9e3cdb04b572c8c9336dbe83eb235f2fd941a7cc56ee77df38cdac55"},
		{2096267, "6a30566d471172b64fd902442560c61fc0161c600ddba44f131e47009bf51b6f"},
		{884943, "aeb7aaf43d1633b2f1434bb2bd95fb7623035cec84b06d6007366c50dcf5242f"},
		{1262300, "51d45fa2d7690c514d3e6ffe61af1409be633b3f204fd18949045950b1ceee31"},
		{1218348, "b39b0d73c3b7ff6b18bcf576809cfb7842c4db5e9df9eeea0914f4cd09c503db"},
	}
	data := pseudoRandom("godwit chunk boundaries v1 seed!", 20<<20)
	got := chunkAll(t, New(testPol, Options{}), data)
	if len(got) != len(want) {
		t.Fatalf("got %d chunks %v, want %d", len(got), lengths(got), len(want))
	}
	for i, ch := range got {
		sum := blake3.Sum256(ch)
		if len(ch) != want[i].length || hex.EncodeToString(sum[:]) != want[i].blake3 {
			t.Errorf("chunk %d: length %d blake3 %x, want length %d blake3 %s",
				i, len(ch), sum, want[i].length, want[i].blake3)
		}
	}
}

func TestChunkingIsDeterministicAndLossless(t *testing.T) {
	data := pseudoRandom("deterministic", 12<<20)
	first := chunkAll(t, New(testPol, Options{}), data)
	second := chunkAll(t, New(testPol, Options{}), data)
	if len(first) < 2 {
		t.Fatalf("got %d chunks from 12 MiB, want several", len(first))
	}
	if !bytes.Equal(bytes.Join(first, nil), data) {
		t.Fatal("chunks do not concatenate to the input")
	}
	if !slices.EqualFunc(first, second, bytes.Equal) {
		t.Fatalf("chunks differ between runs: %v vs %v", lengths(first), lengths(second))
	}
}

func TestChunkSizesStayWithinBounds(t *testing.T) {
	opts := Options{MinSize: 4 << 10, MaxSize: 32 << 10, AverageBits: 14}
	// Zeroes never produce a Rabin cut, so they exercise MaxSize.
	data := append(pseudoRandom("bounds", 2<<20), make([]byte, 1<<20)...)
	chunks := chunkAll(t, New(testPol, opts), data)
	for i, ch := range chunks {
		last := i == len(chunks)-1
		if len(ch) > int(opts.MaxSize) || (!last && len(ch) < int(opts.MinSize)) {
			t.Errorf("chunk %d of %d has length %d, outside %d..%d", i, len(chunks), len(ch), opts.MinSize, opts.MaxSize)
		}
	}
	if !bytes.Equal(bytes.Join(chunks, nil), data) {
		t.Fatal("chunks do not concatenate to the input")
	}
}

func TestEmptyInputHasNoChunks(t *testing.T) {
	c := New(testPol, Options{})
	c.Reset(bytes.NewReader(nil))
	for range 2 {
		if ch, err := c.Next(make([]byte, 0, 16)); ch != nil || err != io.EOF {
			t.Fatalf("Next = (%d bytes, %v), want (nil, io.EOF)", len(ch), err)
		}
	}
}

func TestInputBelowMinSizeIsOneChunk(t *testing.T) {
	for _, n := range []int{1, 64, 1000, DefaultMinSize - 1, DefaultMinSize} {
		data := pseudoRandom("small", n)
		chunks := chunkAll(t, New(testPol, Options{}), data)
		if len(chunks) != 1 || !bytes.Equal(chunks[0], data) {
			t.Errorf("%d bytes: got chunks of %v, want one chunk of the whole input", n, lengths(chunks))
		}
	}
}

func TestNextReturnsSliceOfCallersBuffer(t *testing.T) {
	c := New(testPol, Options{})
	c.Reset(bytes.NewReader(pseudoRandom("alias", 1000)))
	buf := make([]byte, c.MaxSize())
	ch, err := c.Next(buf)
	if err != nil {
		t.Fatal(err)
	}
	if &ch[0] != &buf[0] {
		t.Fatal("chunk does not alias the buffer passed to Next")
	}
}

// TestResetKeepsAverage guards against the chunker's Reset restoring its
// default average: a reused Chunker must cut exactly like a fresh one.
func TestResetKeepsAverage(t *testing.T) {
	opts := Options{MinSize: 16 << 10, MaxSize: 1 << 20, AverageBits: 16}
	a := pseudoRandom("reset a", 4<<20)
	b := pseudoRandom("reset b", 3<<20)

	fresh := lengths(chunkAll(t, New(testPol, opts), a))
	withDefaultAverage := lengths(chunkAll(t, New(testPol, Options{MinSize: opts.MinSize, MaxSize: opts.MaxSize}), a))
	if len(fresh) == len(withDefaultAverage) {
		t.Fatalf("average bits do not change the chunking (%d chunks both); the test cannot detect a lost average", len(fresh))
	}

	reused := New(testPol, opts)
	chunkAll(t, reused, b)
	chunkAll(t, reused, a[:1<<20])
	if again := lengths(chunkAll(t, reused, a)); !slices.Equal(again, fresh) {
		t.Fatalf("reused chunker cut %v, fresh chunker cut %v", again, fresh)
	}
}

func TestResetAbandonsUnreadInput(t *testing.T) {
	c := New(testPol, Options{MinSize: 4 << 10, MaxSize: 64 << 10, AverageBits: 12})
	c.Reset(bytes.NewReader(pseudoRandom("abandoned", 1<<20)))
	if _, err := c.Next(nil); err != nil {
		t.Fatal(err)
	}
	second := pseudoRandom("second", 10<<10)
	got := chunkAll(t, c, second)
	if !bytes.Equal(bytes.Join(got, nil), second) {
		t.Fatal("chunks after Reset contain data from the previous input")
	}
}

func TestReadErrorIsStickyUntilReset(t *testing.T) {
	boom := errors.New("disk on fire")
	c := New(testPol, Options{})
	c.Reset(io.MultiReader(bytes.NewReader(pseudoRandom("err", 100)), iotest.ErrReader(boom)))
	for range 2 {
		if _, err := c.Next(nil); !errors.Is(err, boom) {
			t.Fatalf("Next error = %v, want %v", err, boom)
		}
	}
	if got := chunkAll(t, c, []byte("fine")); len(got) != 1 {
		t.Fatalf("after Reset got %d chunks, want 1", len(got))
	}
}

func TestNextBeforeResetFails(t *testing.T) {
	if _, err := New(testPol, Options{}).Next(nil); err == nil {
		t.Fatal("Next before Reset succeeded")
	}
}

func TestInvalidConfigurationIsReportedByNext(t *testing.T) {
	for _, tc := range []struct {
		name string
		pol  uint64
		opts Options
	}{
		{"zero polynomial", 0, Options{}},
		{"reducible polynomial", 1<<53 | 1<<1, Options{}},
		{"polynomial of degree 54", 1<<54 | 1, Options{}},
		{"minimum below window", testPol, Options{MinSize: 63}},
		{"maximum below minimum", testPol, Options{MinSize: 1 << 20, MaxSize: 1 << 19}},
		{"maximum too large", testPol, Options{MaxSize: 1 << 30}},
		{"average bits negative", testPol, Options{AverageBits: -1}},
		{"average bits too large", testPol, Options{AverageBits: 31}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.pol, tc.opts)
			c.Reset(bytes.NewReader([]byte("data")))
			if _, err := c.Next(nil); err == nil || err == io.EOF {
				t.Fatalf("Next error = %v, want a configuration error", err)
			}
		})
	}
}

func TestRandomPolynomialIsValidAndFresh(t *testing.T) {
	p1, err := RandomPolynomial()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := RandomPolynomial()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []uint64{p1, p2} {
		if err := CheckPolynomial(p); err != nil {
			t.Errorf("RandomPolynomial returned %#x: %v", p, err)
		}
	}
	if p1 == p2 {
		t.Errorf("two random polynomials are equal: %#x", p1)
	}
}

func TestDifferentPolynomialsCutDifferently(t *testing.T) {
	other, err := RandomPolynomial()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{MinSize: 4 << 10, MaxSize: 256 << 10, AverageBits: 14}
	data := pseudoRandom("polynomials", 4<<20)
	a := lengths(chunkAll(t, New(testPol, opts), data))
	b := lengths(chunkAll(t, New(other, opts), data))
	if slices.Equal(a, b) {
		t.Fatalf("polynomials %#x and %#x cut the same boundaries", uint64(testPol), other)
	}
}

func TestFormattingNeverShowsThePolynomial(t *testing.T) {
	c := New(testPol, Options{})
	secrets := []string{fmt.Sprintf("%d", uint64(testPol)), fmt.Sprintf("%x", uint64(testPol)), fmt.Sprintf("%X", uint64(testPol)), fmt.Sprintf("%o", uint64(testPol))}
	for _, verb := range []string{"%v", "%+v", "%#v", "%d", "%x", "%X", "%o", "%s", "%q"} {
		for _, v := range []any{c, *c} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("Sprintf(%q, %T) = %q shows the polynomial", verb, v, out)
				}
			}
		}
	}
}
