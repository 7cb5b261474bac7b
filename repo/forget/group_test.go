package forget

import (
	"strings"
	"testing"
)

func TestParseGroupBy(t *testing.T) {
	tests := []struct {
		in      string
		want    GroupBy
		wantErr bool
	}{
		{"", GroupBy{}, false},
		{"host", GroupBy{Host: true}, false},
		{"hosts", GroupBy{Host: true}, false},
		{"host,paths", GroupBy{Host: true, Paths: true}, false},
		{"paths,host", GroupBy{Host: true, Paths: true}, false},
		{" host , path ", GroupBy{Host: true, Paths: true}, false},
		{"tags", GroupBy{Tags: true}, false},
		{"tag,,host", GroupBy{Host: true, Tags: true}, false},
		{"host,paths,tags", GroupBy{Host: true, Paths: true, Tags: true}, false},
		{"hostname", GroupBy{}, true},
		{"HOST", GroupBy{}, true},
		{"host;paths", GroupBy{}, true},
		{"host,paths,user", GroupBy{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseGroupBy(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseGroupBy(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseGroupBy(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseGroupByErrorNamesTheWord(t *testing.T) {
	_, err := ParseGroupBy("host, user ")
	if err == nil || !strings.Contains(err.Error(), `"user"`) {
		t.Errorf("error %v does not name %q", err, "user")
	}
}

func TestGroupByStringParsesBack(t *testing.T) {
	for _, host := range []bool{false, true} {
		for _, paths := range []bool{false, true} {
			for _, tags := range []bool{false, true} {
				g := GroupBy{Host: host, Paths: paths, Tags: tags}
				back, err := ParseGroupBy(g.String())
				if err != nil || back != g {
					t.Errorf("ParseGroupBy(%q) = %+v, %v; want %+v", g.String(), back, err, g)
				}
			}
		}
	}
	if s := (GroupBy{Host: true, Paths: true}).String(); s != "host,paths" {
		t.Errorf("String() = %q, want %q", s, "host,paths")
	}
}

func FuzzParseGroupBy(f *testing.F) {
	for _, s := range []string{"", "host", "host,paths", "tags,paths", " hosts , tag ", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGroupBy(s)
		if err != nil {
			return
		}
		back, err := ParseGroupBy(g.String())
		if err != nil || back != g {
			t.Errorf("ParseGroupBy(%q) = %+v but its String %q parses to %+v, %v", s, g, g.String(), back, err)
		}
	})
}

func TestMapKeySeparatesFields(t *testing.T) {
	keys := []GroupKey{
		{},
		{Host: "a"},
		{Paths: []string{"a"}},
		{Tags: []string{"a"}},
		{Paths: []string{"a", "b"}},
		{Paths: []string{"a,b"}},
		{Paths: []string{"a\x00b"}},
		{Paths: []string{"a"}, Tags: []string{"b"}},
		{Host: "a", Paths: []string{"b"}},
		{Host: "a\x00b"},
	}
	seen := make(map[string]int)
	for i, k := range keys {
		mk := mapKey(k)
		if j, ok := seen[mk]; ok {
			t.Errorf("keys %+v and %+v encode the same", keys[j], k)
		}
		seen[mk] = i
	}
}
