package s3

import "testing"

// FuzzParseLocation checks that no location makes ParseLocation panic, and
// that the location string of an accepted configuration parses back to the
// same configuration.
func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{
		"s3://bucket/prefix",
		"s3://bucket/",
		"s3://my.bucket-1/a/b/c/",
		"s3:https://s3.example.com/bucket/prefix",
		"s3:https://s3.example.com:9000/bucket",
		"s3:http://127.0.0.1:7070/bucket/host/mail",
		"s3:http://[::1]:7070/Legacy_Bucket/p",
		"s3:https://key:secret@s3.example.com/bucket",
		"s3://bucket/a//b",
		"s3://bucket/../x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseLocation(s)
		if err != nil {
			return
		}
		loc := cfg.location()
		again, err := ParseLocation(loc)
		if err != nil {
			t.Fatalf("ParseLocation(%q) = %+v, but its location %q does not parse: %v", s, cfg, loc, err)
		}
		if again != cfg {
			t.Fatalf("ParseLocation(%q) = %+v, but its location %q parses to %+v", s, cfg, loc, again)
		}
	})
}
