package s3

import (
	"strings"
	"testing"
)

func TestParseLocation(t *testing.T) {
	tests := []struct {
		in   string
		want Config
	}{
		{"s3://bucket/prefix", Config{Bucket: "bucket", Prefix: "prefix"}},
		{"s3://bucket", Config{Bucket: "bucket"}},
		{"s3://bucket/", Config{Bucket: "bucket"}},
		{"s3://my.bucket-1/a/b/c/", Config{Bucket: "my.bucket-1", Prefix: "a/b/c"}},
		{"s3:https://s3.example.com/bucket/prefix", Config{Endpoint: "https://s3.example.com", Bucket: "bucket", Prefix: "prefix", PathStyle: true}},
		{"s3:https://s3.example.com:9000/bucket", Config{Endpoint: "https://s3.example.com:9000", Bucket: "bucket", PathStyle: true}},
		{"s3:http://127.0.0.1:7070/bucket/host/mail", Config{Endpoint: "http://127.0.0.1:7070", Bucket: "bucket", Prefix: "host/mail", PathStyle: true}},
		{"s3:http://[::1]:7070/Legacy_Bucket/p", Config{Endpoint: "http://[::1]:7070", Bucket: "Legacy_Bucket", Prefix: "p", PathStyle: true}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLocation(tc.in)
			if err != nil {
				t.Fatalf("ParseLocation(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseLocation(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseLocationRejects(t *testing.T) {
	tests := []struct {
		in      string
		wantMsg string
	}{
		{"", "want s3://bucket/prefix"},
		{"s3:/bucket", "want s3://bucket/prefix"},
		{"s3:bucket/prefix", "want s3://bucket/prefix"},
		{"s3:ftp://host/bucket", "want s3://bucket/prefix"},
		{"sftp://host/path", "want s3://bucket/prefix"},
		{"s3://", "missing bucket"},
		{"s3:https://host:9000/", "missing bucket"},
		{"s3:https:///bucket", "missing host"},
		{"s3://ab/prefix", "3 to 63"},
		{"s3://bucket name/prefix", "invalid bucket name"},
		{"s3://bucket/a//b", "invalid prefix"},
		{"s3://bucket/a/../b", "invalid prefix"},
		{"s3:https://host/bucket/p?x=1", "unexpected query"},
		{"s3:https://key:secret@host/bucket/p", "credentials in the location are not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseLocation(tc.in)
			if err == nil {
				t.Fatalf("ParseLocation(%q): got no error", tc.in)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("ParseLocation(%q): error %q does not contain %q", tc.in, err, tc.wantMsg)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseLocation(%q): error %q shows the password", tc.in, err)
			}
		})
	}
}

func TestLocationRoundTrips(t *testing.T) {
	for _, loc := range []string{
		"s3://bucket/prefix",
		"s3://bucket",
		"s3://bucket/a/b",
		"s3:https://s3.example.com:9000/bucket/prefix",
		"s3:http://127.0.0.1:7070/bucket",
	} {
		cfg, err := ParseLocation(loc)
		if err != nil {
			t.Fatalf("ParseLocation(%q): %v", loc, err)
		}
		if got := cfg.location(); got != loc {
			t.Errorf("location of ParseLocation(%q) = %q", loc, got)
		}
	}
}
