package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/godwit-backup/godwit/internal/ui"
	"github.com/godwit-backup/godwit/repo/check"
)

const (
	msg1 = "From: alice@example.org\nTo: bob@example.org\nSubject: first\nMessage-ID: <1@example.org>\n\nhello\n"
	msg2 = "From: alice@example.org\nTo: bob@example.org\nSubject: second\nMessage-ID: <2@example.org>\n\nagain\n"
)

// inspectFixture is a repository with two snapshots of /data (under a
// --root), the second after one change of every kind.
type inspectFixture struct {
	c             *cli
	root          string
	first, second string // full snapshot ids
}

func newInspectFixture(t *testing.T) *inspectFixture {
	t.Helper()
	c := newCLI(t)
	f := &inspectFixture{c: c, root: filepath.Join(c.dir, "root")}
	data := filepath.Join(f.root, "data")
	for name, content := range map[string]string{
		"keep.txt": "unchanged", "edit.txt": "version one", "conf/main.cf": "a=1", "gone.txt": "bye bye",
		"kind": "a file", "Mail/cur/1.eml": msg1,
	} {
		writeFile(t, filepath.Join(data, name), []byte(content))
	}
	must(t, os.Link(filepath.Join(data, "keep.txt"), filepath.Join(data, "hard.txt")))
	writeFile(t, filepath.Join(f.root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"))
	writeFile(t, filepath.Join(f.root, "etc/group"), []byte("root:x:0:\n"))
	c.init()
	f.first = f.backup(t)

	writeFile(t, filepath.Join(data, "edit.txt"), []byte("version two, longer"))
	must(t, os.Chmod(filepath.Join(data, "conf/main.cf"), 0o600))
	must(t, os.Remove(filepath.Join(data, "gone.txt")))
	must(t, os.Remove(filepath.Join(data, "kind")))
	must(t, os.Symlink("keep.txt", filepath.Join(data, "kind")))
	writeFile(t, filepath.Join(data, "Mail/new/2.eml"), []byte(msg2))
	f.second = f.backup(t)
	return f
}

func (f *inspectFixture) backup(t *testing.T) string {
	t.Helper()
	f.c.owner("backup", "--root", f.root, "--manifest", "--host", "mail1", "/data").must(t, 0)
	var list []snapshotJSON
	must(t, json.Unmarshal([]byte(f.c.owner("snapshots", "--json").must(t, 0).stdout), &list))
	return list[len(list)-1].ID
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// decodeStrict decodes stdout into v, failing when stdout is not exactly
// one JSON document, has a field v does not know, or lacks a field of v
// that is not omitempty.
func decodeStrict(t *testing.T, stdout string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode into %T: %v\n%s", v, err, stdout)
	}
	if rest := strings.TrimSpace(stdout[dec.InputOffset():]); rest != "" {
		t.Fatalf("stdout holds more than one JSON document; after it: %.200q", rest)
	}
	var generic any
	must(t, json.Unmarshal([]byte(stdout), &generic))
	if missing := missingFields(reflect.TypeOf(v), generic, "$"); len(missing) > 0 {
		t.Errorf("%T: fields missing from the document: %v", v, missing)
	}
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()
)

// missingFields lists the paths of the fields of t, recursively, that are
// not marked omitempty and are absent from v (a generic JSON value).
func missingFields(t reflect.Type, v any, at string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if pt := reflect.PointerTo(t); pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		return nil
	}
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if !sf.IsExported() || tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				name = sf.Name
			}
			val, present := m[name]
			if !present {
				if !strings.Contains(opts, "omitempty") {
					out = append(out, at+"."+name)
				}
				continue
			}
			out = append(out, missingFields(sf.Type, val, at+"."+name)...)
		}
	case reflect.Slice, reflect.Array:
		list, _ := v.([]any)
		for _, el := range list {
			out = append(out, missingFields(t.Elem(), el, at+"[]")...)
		}
	case reflect.Map:
		m, _ := v.(map[string]any)
		for k, el := range m {
			out = append(out, missingFields(t.Elem(), el, at+"."+k)...)
		}
	}
	return out
}

// checkOutput is the summary line of check --json, which prints it from
// check.Summary and check.Problem after its progress lines.
type checkOutput struct {
	MessageType string          `json:"message_type"`
	Summary     check.Summary   `json:"summary"`
	Problems    []check.Problem `json:"problems"`
}

// progressError is the line a long-running command prints with --json for
// each file or object it could not handle (internal/ui writes it).
type progressError struct {
	MessageType string `json:"message_type"`
	Path        string `json:"path"`
	Error       string `json:"error"`
}

// progressSchemas are the lines before the summary in the output of the
// commands that print JSON lines, by message_type.
var progressSchemas = map[string]func() any{
	"status": func() any { return &ui.Status{} },
	"error":  func() any { return &progressError{} },
}

// decodeLines checks JSON-lines output: progress lines, then one summary
// line that decodes strictly into summary.
func decodeLines(t *testing.T, stdout string, summary any) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	for _, line := range lines[:len(lines)-1] {
		var head struct {
			MessageType string `json:"message_type"`
		}
		must(t, json.Unmarshal([]byte(line), &head))
		schema, ok := progressSchemas[head.MessageType]
		if !ok {
			t.Fatalf("line of unknown message_type %q before the summary: %s", head.MessageType, line)
		}
		decodeStrict(t, line, schema())
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, `"message_type":"summary"`) {
		t.Fatalf("last line is not the summary: %s", last)
	}
	decodeStrict(t, last, summary)
}

// jsonSchemas maps each data command, as docs/json.md names it, to a
// fresh value of its documented Go type.
var jsonSchemas = map[string]func() any{
	"snapshots":    func() any { return &[]snapshotJSON{} },
	"ls":           func() any { return &lsOutput{} },
	"find":         func() any { return &findOutput{} },
	"diff":         func() any { return &diffOutput{} },
	"stats":        func() any { return &statsOutput{} },
	"check":        func() any { return &checkOutput{} },
	"forget":       func() any { return &forgetOutput{} },
	"key list":     func() any { return &keyListOutput{} },
	"migrate plan": func() any { return &migratePlanOutput{} },
	"mail find":    func() any { return &mailFindOutput{} },
}

func TestJSONOfEveryDataCommandIsOneDocumentOfItsType(t *testing.T) {
	f := newInspectFixture(t)
	cases := []struct {
		schema string
		args   []string
		lines  bool // JSON lines: progress, then the summary
	}{
		{"snapshots", []string{"snapshots"}, false},
		{"ls", []string{"ls", "latest", "/data"}, false},
		{"find", []string{"find", "*.eml", "kind"}, false},
		{"diff", []string{"diff", f.first, f.second}, false},
		{"stats", []string{"stats"}, false},
		{"check", []string{"check", "--read-data"}, true},
		{"forget", []string{"forget", "--dry-run", "--keep-last", "1"}, false},
		{"key list", []string{"key", "list"}, false},
		{"migrate plan", []string{"migrate", "plan", "--root", f.root}, false},
		{"mail find", []string{"mail", "find", "--all", "--verbose"}, false},
	}
	tested := map[string]bool{}
	for _, tc := range cases {
		tested[tc.schema] = true
		t.Run(tc.schema, func(t *testing.T) {
			out := f.c.owner(append([]string{"--json"}, tc.args...)...).must(t, 0)
			if tc.lines {
				decodeLines(t, out.stdout, jsonSchemas[tc.schema]())
				return
			}
			decodeStrict(t, out.stdout, jsonSchemas[tc.schema]())
		})
	}
	for name := range jsonSchemas {
		if !tested[name] {
			t.Errorf("no case runs %q", name)
		}
	}
}

func TestDiffListsEachKindOfChangeInPathOrder(t *testing.T) {
	f := newInspectFixture(t)
	var got diffOutput
	decodeStrict(t, f.c.owner("--json", "diff", f.first[:8], f.second[:8]).must(t, 0).stdout, &got)
	var lines []string
	for _, ch := range got.Changes {
		lines = append(lines, ch.Change+" "+string(ch.Path)+" "+strings.Join(ch.Fields, ","))
	}
	want := []string{
		"metadata /data mtime",
		"metadata /data/Mail mtime",
		"added /data/Mail/new ",
		"added /data/Mail/new/2.eml ",
		"metadata /data/conf/main.cf mode",
		"modified /data/edit.txt mtime",
		"removed /data/gone.txt ",
		"type_changed /data/kind ",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	st := got.Stats
	if st.Added != 2 || st.Removed != 1 || st.Modified != 1 || st.MetadataOnly != 3 || st.TypeChanged != 1 {
		t.Errorf("stats %+v", st)
	}
	// Added: "version two, longer" and msg2; removed: "version one",
	// "bye bye" and "a file".
	if st.AddedBlobs != 2 || st.AddedBytes != uint64(19+len(msg2)) || st.RemovedBlobs != 3 || st.RemovedBytes != 11+7+6 {
		t.Errorf("blob stats %+v", st)
	}
	for _, ch := range got.Changes {
		if ch.Path == "/data/kind" && (ch.Type != "symlink" || ch.OldType != "file" || ch.OldSize == nil || *ch.OldSize != 6) {
			t.Errorf("type change %+v, want file (6 bytes) to symlink", ch)
		}
	}

	human := f.c.owner("diff", f.first[:8], f.second[:8]).must(t, 0).stdout
	for _, line := range []string{"M    /data/edit.txt (mtime)\n", "T    /data/kind (file -> symlink)\n", "+    /data/Mail/new/\n", "U    /data/conf/main.cf (mode)\n"} {
		if !strings.Contains(human, line) {
			t.Errorf("diff output lacks %q:\n%s", line, human)
		}
	}
}

func TestDiffWithAPathComparesOnlyThatDirectory(t *testing.T) {
	f := newInspectFixture(t)
	for _, args := range [][]string{
		{f.first[:8] + ":/data/Mail", f.second[:8]},
		{f.first[:8], "latest:data/Mail/"},
	} {
		var got diffOutput
		decodeStrict(t, f.c.owner(append([]string{"--json", "diff"}, args...)...).must(t, 0).stdout, &got)
		var paths []string
		for _, ch := range got.Changes {
			paths = append(paths, string(ch.Path))
		}
		if want := []string{"/data/Mail", "/data/Mail/new", "/data/Mail/new/2.eml"}; !slices.Equal(paths, want) || got.Path != "/data/Mail" {
			t.Errorf("diff %v: path %q, changes %v; want %v", args, got.Path, paths, want)
		}
	}
}

func TestFindReportsEachSnapshotsMatches(t *testing.T) {
	f := newInspectFixture(t)
	cases := []struct {
		name string
		args []string
		want []string // snapshot (1 or 2) and path
	}{
		{"base name", []string{"*.eml"}, []string{"1 /data/Mail/cur/1.eml", "2 /data/Mail/cur/1.eml", "2 /data/Mail/new/2.eml"}},
		{"full path", []string{"/data/*/new"}, []string{"2 /data/Mail/new"}},
		{"case differs", []string{"mail"}, nil},
		{"ignore case", []string{"--ignore-case", "mail"}, []string{"1 /data/Mail", "2 /data/Mail"}},
		{"one snapshot", []string{"--snapshot", "latest", "gone.txt", "edit.txt"}, []string{"2 /data/edit.txt"}},
		{"mtime in the future", []string{"--oldest", "2999-01-01", "*.txt"}, nil},
		{"mtime before", []string{"--newest", "2000-01-01T00:00:00Z", "*.txt"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got findOutput
			decodeStrict(t, f.c.owner(append([]string{"--json", "find"}, tc.args...)...).must(t, 0).stdout, &got)
			var lines []string
			for _, m := range got.Matches {
				which := map[string]string{f.first: "1", f.second: "2"}[m.Snapshot]
				lines = append(lines, which+" "+string(m.Path))
			}
			if !slices.Equal(lines, tc.want) {
				t.Errorf("matches %v, want %v", lines, tc.want)
			}
		})
	}
	out := f.c.owner("find", "1.eml").must(t, 0)
	if !strings.Contains(out.stdout, "snapshot "+f.first[:8]) || !strings.Contains(out.stdout, "snapshot "+f.second[:8]) ||
		!strings.Contains(out.stdout, "/data/Mail/cur/1.eml") || !strings.Contains(out.stdout, "2 matches in 2 of 2 snapshots") {
		t.Errorf("find output:\n%s", out.stdout)
	}
	if r := f.c.owner("find", "[x").must(t, exitUsage); !strings.Contains(r.stderr, "syntax error in pattern") {
		t.Errorf("bad pattern error: %s", r.stderr)
	}
}

func TestStatsCountsRestoreSizeBlobsAndRatios(t *testing.T) {
	f := newInspectFixture(t)
	first := uint64(len("unchanged") + len("version one") + len("a=1") + len("bye bye") + len("a file") + len(msg1))
	second := uint64(len("unchanged") + len("version two, longer") + len("a=1") + len(msg1) + len(msg2))
	unique := first + uint64(len("version two, longer")+len(msg2))
	cases := []struct {
		name      string
		args      []string
		files     uint64
		size      uint64
		dataBytes uint64
		repo      bool
	}{
		{"repository", nil, 11, first + second, unique, true},
		{"one snapshot", []string{f.first[:8]}, 6, first, first, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got statsOutput
			decodeStrict(t, f.c.owner(append([]string{"--json", "stats"}, tc.args...)...).must(t, 0).stdout, &got)
			if got.Restore == nil || got.Blobs == nil {
				t.Fatalf("stats lacks sections: %+v", got)
			}
			if got.Restore.Files != tc.files || got.Restore.RestoreSize != tc.size {
				t.Errorf("files %d, restore size %d; want %d, %d", got.Restore.Files, got.Restore.RestoreSize, tc.files, tc.size)
			}
			if got.Blobs.DataSize != tc.dataBytes || got.Blobs.Missing != 0 || got.Blobs.StoredSize == 0 {
				t.Errorf("blobs %+v, want %d data bytes", *got.Blobs, tc.dataBytes)
			}
			if want := float64(tc.size) / float64(tc.dataBytes); got.DeduplicationRatio == nil || *got.DeduplicationRatio != want {
				t.Errorf("deduplication ratio %v, want %v", got.DeduplicationRatio, want)
			}
			if got.CompressionRatio == nil || (got.Repository != nil) != tc.repo {
				t.Errorf("compression ratio %v, repository section %+v", got.CompressionRatio, got.Repository)
			}
		})
	}
	var rs statsOutput
	decodeStrict(t, f.c.owner("--json", "stats", "--mode", "restore-size").must(t, 0).stdout, &rs)
	if rs.Restore == nil || rs.Blobs != nil || rs.Repository != nil || rs.DeduplicationRatio != nil {
		t.Errorf("restore-size mode shows more than files: %+v", rs)
	}
	f.c.owner("stats", "--mode", "sizes").must(t, exitUsage)
}

func TestStatsWithAWriteKeyShowsTheIndexFiguresOnly(t *testing.T) {
	f := newInspectFixture(t)
	wk := filepath.Join(f.c.dir, "write.key")
	f.c.owner("key", "write-key", "--output", wk).must(t, 0)
	writer := func(args ...string) result {
		return f.c.run(append([]string{"--repo", f.c.repo, "-i", wk}, args...)...)
	}
	var got statsOutput
	decodeStrict(t, writer("--json", "stats").must(t, 0).stdout, &got)
	if got.Restore != nil || got.Blobs != nil || got.Repository == nil || len(got.Snapshots) != 2 {
		t.Fatalf("write-key stats: %+v", got)
	}
	if p := got.Repository; p.Packs == 0 || p.PackSize == 0 || p.DataBlobs < 8 || p.StoredSize == 0 || got.CompressionRatio == nil {
		t.Errorf("repository figures %+v", *p)
	}
	for _, args := range [][]string{{"stats", "latest"}, {"stats", "--mode", "restore-size"}, {"diff", "latest", "latest"}, {"find", "x"}} {
		if r := writer(args...); r.code == 0 || !strings.Contains(r.stderr, "owner credential") {
			t.Errorf("%v with a write key: exit %d, stderr %s", args, r.code, r.stderr)
		}
	}
}

func TestJSONDocExamplesParseIntoTheirTypes(t *testing.T) {
	doc, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- example: "
	seen := map[string]bool{}
	rest := string(doc)
	for {
		i := strings.Index(rest, marker)
		if i < 0 {
			break
		}
		rest = rest[i+len(marker):]
		name, after, ok := strings.Cut(rest, " -->\n```json\n")
		if !ok {
			t.Fatalf("example marker %.40q is not followed by a json block", rest)
		}
		body, _, ok := strings.Cut(after, "```")
		if !ok {
			t.Fatalf("example %q: unterminated block", name)
		}
		schema, ok := jsonSchemas[name]
		if !ok {
			schema, ok = progressSchemas[strings.TrimPrefix(name, "progress ")]
		}
		if !ok {
			t.Errorf("docs/json.md has an example for unknown command %q", name)
			continue
		}
		seen[name] = true
		t.Run(name, func(t *testing.T) { decodeStrict(t, body, schema()) })
	}
	for name := range jsonSchemas {
		if !seen[name] {
			t.Errorf("docs/json.md has no example for %q", name)
		}
	}
	for name := range progressSchemas {
		if !seen["progress "+name] {
			t.Errorf("docs/json.md has no example for \"progress %s\"", name)
		}
	}
}
