package s3

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// DefaultConnections is the number of parallel requests a Backend makes
// when Config.Connections is zero.
const DefaultConnections = 5

// Config says where a repository is kept on S3 and how objects are
// written. It holds no credentials: those come from the standard AWS chain
// (environment, shared config and credentials files with AWS_PROFILE,
// container and instance roles).
type Config struct {
	// Endpoint is "" for AWS, or the URL of another provider's service,
	// such as "https://s3.example.com:9000" or "http://127.0.0.1:7070".
	Endpoint string
	// Bucket must exist; Prefix (no leading or trailing slash, may be
	// empty) is the "directory" the repository's objects are kept under.
	Bucket, Prefix string
	// Region defaults to AWS_REGION or the shared config's region, and to
	// "us-east-1" when neither is set.
	Region string
	// PathStyle addresses the bucket as https://host/bucket/key instead of
	// https://bucket.host/key. ParseLocation sets it for locations with an
	// endpoint; clear it afterwards for providers that need virtual-host
	// addressing.
	PathStyle bool
	// StorageClass, such as "STANDARD_IA", is set on every new object;
	// "" leaves the bucket's default.
	StorageClass string
	// ObjectLockDays, when positive, puts every new object except locks
	// under Object Lock retention (GOVERNANCE mode) until that many days
	// after it was saved. The bucket must have Object Lock enabled.
	ObjectLockDays int
	// Connections limits parallel requests; 0 means DefaultConnections.
	Connections int
}

// ParseLocation parses a repository location:
//
//	s3://bucket/prefix                     AWS
//	s3:https://host[:port]/bucket/prefix   another provider
//	s3:http://host[:port]/bucket/prefix    another provider, without TLS
//
// The prefix may be empty. Locations with an endpoint get PathStyle set.
// Credentials in the location (user:password@host) are refused: they
// would end up in shell history, process listings and messages.
func ParseLocation(s string) (Config, error) {
	var cfg Config
	var rest string
	switch {
	case strings.HasPrefix(s, "s3://"):
		rest = strings.TrimPrefix(s, "s3://")
	case strings.HasPrefix(s, "s3:http://"), strings.HasPrefix(s, "s3:https://"):
		u, err := url.Parse(strings.TrimPrefix(s, "s3:"))
		if err != nil {
			return Config{}, fmt.Errorf("parse s3 location %q: %w", s, err)
		}
		if u.User != nil {
			return Config{}, fmt.Errorf("s3 location %s: credentials in the location are not supported; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE", redact(u))
		}
		if u.Host == "" {
			return Config{}, fmt.Errorf("s3 location %q: missing host", s)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return Config{}, fmt.Errorf("s3 location %q: unexpected query or fragment", s)
		}
		cfg.Endpoint = u.Scheme + "://" + u.Host
		cfg.PathStyle = true
		rest = strings.TrimPrefix(u.Path, "/")
	default:
		return Config{}, fmt.Errorf("s3 location %q: want s3://bucket/prefix or s3:https://host:port/bucket/prefix", s)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if err := checkBucket(bucket); err != nil {
		return Config{}, fmt.Errorf("s3 location %q: %w", s, err)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		for _, seg := range strings.Split(prefix, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return Config{}, fmt.Errorf("s3 location %q: invalid prefix %q", s, prefix)
			}
		}
	}
	cfg.Bucket, cfg.Prefix = bucket, prefix
	return cfg, nil
}

// redact returns u without its password, for messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// checkBucket accepts bucket names S3 providers use: AWS's rules, plus the
// upper case letters and underscores some other providers allow.
func checkBucket(name string) error {
	if name == "" {
		return errors.New("missing bucket name")
	}
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters long", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("invalid bucket name %q", name)
		}
	}
	return nil
}

// location returns the repository location in the form ParseLocation
// accepts. It names no credentials, as Config holds none.
func (c Config) location() string {
	loc := "s3://" + c.Bucket
	if c.Endpoint != "" {
		loc = "s3:" + strings.TrimSuffix(c.Endpoint, "/") + "/" + c.Bucket
	}
	if c.Prefix != "" {
		loc += "/" + c.Prefix
	}
	return loc
}
