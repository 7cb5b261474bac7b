package profile

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// seeds returns the TOML examples of docs/profiles.md and testdata/*.toml.
func seeds(t testing.TB) [][]byte {
	var out [][]byte
	files, err := filepath.Glob("testdata/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	doc, err := os.ReadFile("../../docs/profiles.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/profiles.md has no ```toml example")
	}
	for _, m := range blocks {
		out = append(out, m[1])
	}
	if len(files) < 3 {
		t.Fatalf("found %d seed files in testdata, want at least 3", len(files))
	}
	return out
}

func TestDocumentedExamplesLoad(t *testing.T) {
	for i, s := range seeds(t) {
		if _, err := Parse("seed.toml", s); err != nil {
			t.Errorf("seed %d: %v", i, err)
		}
	}
}

var errorLine = regexp.MustCompile(`^f\.toml:[1-9][0-9]*: `)

func FuzzLoadProfile(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Add([]byte("[profiles.a]\nretention = { keep-daily = \"7\" }\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("f.toml", data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !errorLine.MatchString(line) {
					t.Fatalf("error line without file and line number: %q", line)
				}
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *Error", err)
			}
			return
		}
		for _, name := range file.Names() {
			p, err := file.Profile(name)
			if err != nil || p.Name != name {
				t.Fatalf("profile %q: %v", name, err)
			}
			if p.Retention != nil && p.Retention.Policy().Empty() {
				t.Fatalf("profile %q: empty retention policy accepted", name)
			}
		}
	})
}
