package tree

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/repo/blob"
)

func sampleNodes() []*Node {
	sub := blob.ID{1, 2, 3}
	zone := time.FixedZone("CEST", 2*3600)
	mtime := time.Date(2024, 5, 1, 12, 30, 0, 123456789, zone)
	return []*Node{
		{Name: "b.txt", Type: File, Mode: 0o644, UID: 1000, GID: 1000, User: "alice", Group: "alice", Size: 5,
			MTime: mtime, ATime: mtime.Add(time.Hour), CTime: mtime, Inode: 42, DeviceID: 2049, Links: 2,
			Content: []blob.ID{{9}, {8}}, Xattrs: []Xattr{{Name: "user.k", Value: []byte{0, 1, 2}}}},
		{Name: "a", Type: Dir, Mode: 0o755, MTime: mtime, ATime: mtime, CTime: mtime, Subtree: &sub},
		{Name: "link", Type: Symlink, Mode: 0o777, MTime: mtime, ATime: mtime, CTime: mtime, LinkTarget: "../x\xff"},
		{Name: "caf\xe9", Type: File, Mode: 0o600, MTime: mtime, ATime: mtime, CTime: mtime},
		{Name: "<&>", Type: FIFO, Mode: 0o600, MTime: mtime, ATime: mtime, CTime: mtime},
	}
}

func mustMarshal(t testing.TB, tr *Tree) []byte {
	t.Helper()
	data, err := Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestMarshalIgnoresInsertionOrder(t *testing.T) {
	nodes := sampleNodes()
	fwd := &Tree{}
	for _, n := range nodes {
		if err := fwd.Insert(n); err != nil {
			t.Fatal(err)
		}
	}
	rev := &Tree{}
	for i := len(nodes) - 1; i >= 0; i-- {
		rev.Nodes = append(rev.Nodes, nodes[i]) // unsorted on purpose
	}
	a, b := mustMarshal(t, fwd), mustMarshal(t, rev)
	if !bytes.Equal(a, b) {
		t.Errorf("encodings differ by insertion order:\n%s\n%s", a, b)
	}
	if rev.Nodes[0].Name != "<&>" {
		t.Error("Marshal reordered the caller's nodes")
	}
	if !bytes.HasSuffix(a, []byte("}\n")) {
		t.Error("encoding does not end in a newline")
	}
}

// TestMarshalMatchesFrozenEncoding pins the exact bytes of one tree: a
// change here changes every tree id and so breaks deduplication against
// existing repositories.
func TestMarshalMatchesFrozenEncoding(t *testing.T) {
	mtime := time.Date(2024, 5, 1, 12, 30, 0, 5, time.FixedZone("", -3600))
	sub := blob.ID{0xab}
	tr := &Tree{Nodes: []*Node{
		{Name: "f<\xff", Type: File, Mode: 0o640, UID: 8, GID: 12, User: "mail", Size: 3, MTime: mtime, Links: 1, Content: []blob.ID{{1}}},
		{Name: "d", Type: Dir, Mode: 0o755, Subtree: &sub},
	}}
	const want = `{"nodes":[` +
		`{"name":"d","type":"dir","mode":493,"uid":0,"gid":0,"mtime":"0001-01-01T00:00:00Z","atime":"0001-01-01T00:00:00Z","ctime":"0001-01-01T00:00:00Z",` +
		`"subtree":"ab00000000000000000000000000000000000000000000000000000000000000"},` +
		`{"name":{"base64":"Zjz/"},"type":"file","mode":416,"uid":8,"gid":12,"user":"mail","size":3,"mtime":"2024-05-01T13:30:00.000000005Z",` +
		`"atime":"0001-01-01T00:00:00Z","ctime":"0001-01-01T00:00:00Z","links":1,"content":["0100000000000000000000000000000000000000000000000000000000000000"]}` +
		"]}\n"
	if got := string(mustMarshal(t, tr)); got != want {
		t.Errorf("encoding changed:\n got %s\nwant %s", got, want)
	}
}

func TestMarshalNormalizesTimesToUTC(t *testing.T) {
	local := sampleNodes()
	utc := sampleNodes()
	for _, n := range utc {
		n.MTime, n.ATime, n.CTime = n.MTime.UTC(), n.ATime.UTC(), n.CTime.UTC()
	}
	a, b := mustMarshal(t, &Tree{Nodes: local}), mustMarshal(t, &Tree{Nodes: utc})
	if !bytes.Equal(a, b) {
		t.Errorf("time zone changes the encoding:\n%s\n%s", a, b)
	}
	if bytes.Contains(a, []byte("+02:00")) {
		t.Error("encoding keeps a time zone offset")
	}
	if local[0].MTime.Location().String() != "CEST" {
		t.Error("Marshal modified the caller's node times")
	}
}

func TestMarshalRejectsDuplicateNames(t *testing.T) {
	tr := &Tree{Nodes: []*Node{{Name: "x", Type: File}, {Name: "y", Type: File}, {Name: "x", Type: Dir}}}
	if _, err := Marshal(tr); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("Marshal = %v, want a duplicate name error", err)
	}
}

func TestInsertKeepsNodesSortedAndRejectsDuplicates(t *testing.T) {
	tr := &Tree{}
	for _, name := range []RawString{"m", "a", "z", "b"} {
		if err := tr.Insert(&Node{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, n := range tr.Nodes {
		got = append(got, string(n.Name))
	}
	if strings.Join(got, ",") != "a,b,m,z" {
		t.Errorf("nodes are %v, want sorted", got)
	}
	if err := tr.Insert(&Node{Name: "m"}); err == nil {
		t.Error("Insert accepted a duplicate name")
	}
	if n := tr.Find("m"); n == nil || n.Name != "m" {
		t.Errorf("Find(m) = %v", n)
	}
	if n := tr.Find("c"); n != nil {
		t.Errorf("Find(c) = %v, want nil", n)
	}
}

func TestUnmarshalOfMarshalRoundTrips(t *testing.T) {
	data := mustMarshal(t, &Tree{Nodes: sampleNodes()})
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Nodes) != 5 {
		t.Fatalf("%d nodes, want 5", len(got.Nodes))
	}
	f := got.Find("b.txt")
	if f == nil || f.Size != 5 || f.Links != 2 || len(f.Content) != 2 || f.Content[1] != (blob.ID{8}) ||
		!bytes.Equal(f.Xattrs[0].Value, []byte{0, 1, 2}) || f.User != "alice" {
		t.Errorf("file node did not round-trip: %+v", f)
	}
	want := sampleNodes()[0].MTime
	if !f.MTime.Equal(want) || f.MTime.Nanosecond() != want.Nanosecond() {
		t.Errorf("mtime %v, want %v", f.MTime, want)
	}
	if d := got.Find("a"); d == nil || d.Subtree == nil || *d.Subtree != (blob.ID{1, 2, 3}) {
		t.Errorf("directory node did not round-trip: %+v", d)
	}
	if !bytes.Equal(mustMarshal(t, got), data) {
		t.Error("Marshal(Unmarshal(x)) != x")
	}
}

func TestRawStringEncodesNonUTF8AsBase64(t *testing.T) {
	cases := []struct {
		in   RawString
		json string
	}{
		{"plain", `"plain"`},
		{"caf\u00e9", `"café"`},
		{"", `""`},
		{"caf\xe9", `{"base64":"Y2Fm6Q=="}`},
		{"\xff\xfe", `{"base64":"//4="}`},
	}
	for _, tc := range cases {
		t.Run(tc.json, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.json {
				t.Errorf("Marshal(%q) = %s, want %s", tc.in, b, tc.json)
			}
			var back RawString
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back != tc.in {
				t.Errorf("round trip gives %q, want %q", back, tc.in)
			}
		})
	}
}

func TestNonUTF8NamesAndTargetsRoundTrip(t *testing.T) {
	name := RawString("mail-\x80\xff")
	target := RawString("/var/\xc3\x28")
	data := mustMarshal(t, &Tree{Nodes: []*Node{{Name: name, Type: Symlink, LinkTarget: target}}})
	if !bytes.Contains(data, []byte(`"name":{"base64":`)) || !bytes.Contains(data, []byte(`"link_target":{"base64":`)) {
		t.Errorf("non-UTF-8 bytes not in base64 form: %s", data)
	}
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Nodes[0].Name != name || got.Nodes[0].LinkTarget != target {
		t.Errorf("got name %q target %q, want %q %q", got.Nodes[0].Name, got.Nodes[0].LinkTarget, name, target)
	}
}

func TestRawStringRejectsMalformedObjects(t *testing.T) {
	for _, in := range []string{`{}`, `{"base64":"!!"}`, `{"base64":1}`, `5`, `[]`} {
		var s RawString
		if err := json.Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("Unmarshal(%s) = %q, want an error", in, s)
		}
	}
}

func TestUnmarshalRejectsInvalidTrees(t *testing.T) {
	node := func(name string) string { return `{"name":` + name + `,"type":"file"}` }
	cases := []struct {
		name  string
		nodes []string
		want  string
	}{
		{"unsorted", []string{node(`"b"`), node(`"a"`)}, "not sorted"},
		{"duplicate", []string{node(`"a"`), node(`"a"`)}, "not sorted"},
		{"empty name", []string{node(`""`)}, "invalid name"},
		{"dot", []string{node(`"."`)}, "invalid name"},
		{"dot dot", []string{node(`".."`)}, "invalid name"},
		{"slash", []string{node(`"a/b"`)}, "invalid name"},
		{"NUL", []string{node(`"a\u0000b"`)}, "invalid name"},
		{"slash in base64 name", []string{node(`{"base64":"YS9i"}`)}, "invalid name"},
		{"null node", []string{`null`}, "null node"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := `{"nodes":[` + strings.Join(tc.nodes, ",") + `]}`
			_, err := Unmarshal([]byte(data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Unmarshal(%s) = %v, want an error containing %q", data, err, tc.want)
			}
		})
	}
	if _, err := Unmarshal([]byte(`{"nodes":`)); err == nil {
		t.Error("Unmarshal accepted truncated JSON")
	}
}

func FuzzTreeUnmarshal(f *testing.F) {
	seeds := [][]*Node{
		sampleNodes(),
		nil,
		{{Name: "only", Type: Dir}},
		{{Name: "\x01\x02\xfe", Type: Symlink, LinkTarget: "\x00\xff"}},
	}
	for _, nodes := range seeds {
		f.Add(mustMarshal(f, &Tree{Nodes: nodes}))
	}
	f.Add([]byte(`{"nodes":[{"name":"b"},{"name":"a"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := Unmarshal(data)
		if err != nil {
			return
		}
		first, err := Marshal(tr)
		if err != nil {
			// Times that only overflow once converted to UTC (year 9999
			// with a negative offset) cannot be encoded; everything else
			// that decodes must.
			if strings.Contains(err.Error(), "year outside of range") {
				return
			}
			t.Fatalf("accepted tree does not encode: %v", err)
		}
		back, err := Unmarshal(first)
		if err != nil {
			t.Fatalf("Unmarshal rejects Marshal's output: %v\n%s", err, first)
		}
		second, err := Marshal(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("encoding not stable:\n%s\n%s", first, second)
		}
	})
}
