package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/backendtest"
)

const (
	plainBucket = "godwit-test"
	lockBucket  = "godwit-test-lock"
)

// testEndpoint returns the S3 server scripts/s3-server.sh started, and
// creates the test buckets on it. Without one the test is skipped, or
// fails in CI, where the server must have been started.
func testEndpoint(t *testing.T) string {
	t.Helper()
	endpoint := os.Getenv("GODWIT_TEST_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("GODWIT_TEST_S3_ENDPOINT is not set: the S3 test server was not started (bash scripts/s3-server.sh start DIR, then load DIR/env)")
		}
		t.Skip("GODWIT_TEST_S3_ENDPOINT is not set; start the S3 test server with: bash scripts/s3-server.sh start /tmp/godwit-s3 && set -a && . /tmp/godwit-s3/env && set +a")
	}
	client := rawClient(t, endpoint)
	for _, bucket := range []struct {
		name string
		lock bool
	}{{plainBucket, false}, {lockBucket, true}} {
		in := &s3.CreateBucketInput{Bucket: aws.String(bucket.name)}
		if bucket.lock {
			in.ObjectLockEnabledForBucket = aws.Bool(true)
		}
		_, err := client.CreateBucket(t.Context(), in)
		var owned *types.BucketAlreadyOwnedByYou
		var exists *types.BucketAlreadyExists
		if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
			t.Fatalf("create bucket %s: %v", bucket.name, err)
		}
	}
	return endpoint
}

// rawClient returns an SDK client for checking what the backend stored.
func rawClient(t *testing.T, endpoint string) *s3.Client {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
}

// freshPrefix returns a prefix no other test uses.
func freshPrefix(t *testing.T) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "test/" + hex.EncodeToString(b)
}

func testConfig(endpoint, bucket, prefix string) Config {
	return Config{Endpoint: endpoint, Bucket: bucket, Prefix: prefix, PathStyle: true}
}

// create returns a backend for a new repository at cfg, and removes the
// repository's objects when the test ends.
func create(t *testing.T, cfg Config) *Backend {
	t.Helper()
	be, err := Create(t.Context(), cfg)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { removeAll(t, cfg) })
	return be
}

// removeAll deletes every object under cfg.Prefix, as far as retention
// allows.
func removeAll(t *testing.T, cfg Config) {
	client := rawClient(t, os.Getenv("GODWIT_TEST_S3_ENDPOINT"))
	ctx := context.Background()
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: &cfg.Bucket, Prefix: aws.String(cfg.Prefix + "/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Logf("clean up %s: %v", cfg.location(), err)
			return
		}
		for _, obj := range page.Contents {
			if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &cfg.Bucket, Key: obj.Key}); err != nil {
				t.Logf("clean up %s: %v", cfg.location(), err)
			}
		}
	}
}

func TestConformance(t *testing.T) {
	endpoint := testEndpoint(t)
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return create(t, testConfig(endpoint, plainBucket, freshPrefix(t)))
	})
}

// TestConformanceWithoutConditionalWrites runs the suite against a server
// that answers conditional PUTs with 501, as some S3 providers do.
func TestConformanceWithoutConditionalWrites(t *testing.T) {
	endpoint := testEndpoint(t)
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.Header.Get("If-None-Match") != "" {
			refused.Add(1)
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNotImplemented)
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>conditional writes are not implemented</Message></Error>`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()

	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return create(t, testConfig(srv.URL, plainBucket, freshPrefix(t)))
	})
	if refused.Load() == 0 {
		t.Error("no conditional PUT reached the server")
	}
}

func TestSaveStoresCRC32CChecksum(t *testing.T) {
	endpoint := testEndpoint(t)
	cfg := testConfig(endpoint, plainBucket, freshPrefix(t))
	be := create(t, cfg)
	h := backends.Handle{Type: backends.PackFile, Name: "abcdef"}
	if err := be.Save(t.Context(), h, []byte("pack contents")); err != nil {
		t.Fatal(err)
	}
	out, err := rawClient(t, endpoint).HeadObject(t.Context(), &s3.HeadObjectInput{
		Bucket:       aws.String(plainBucket),
		Key:          aws.String(cfg.Prefix + "/data/ab/abcdef"),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatalf("head data/ab/abcdef: %v", err)
	}
	if aws.ToString(out.ChecksumCRC32C) == "" {
		t.Errorf("object has no CRC32C checksum: %+v", out)
	}
}

func TestCreateOnMissingBucketSaysSo(t *testing.T) {
	endpoint := testEndpoint(t)
	cfg := testConfig(endpoint, "godwit-no-such-bucket", "repo")
	_, err := Create(t.Context(), cfg)
	if err == nil {
		t.Fatal("create in a missing bucket: got no error")
	}
	for _, want := range []string{"s3:" + endpoint + "/godwit-no-such-bucket/repo", "bucket godwit-no-such-bucket does not exist", "create it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("create in a missing bucket: error %q does not contain %q", err, want)
		}
	}
	if !errors.Is(err, backends.ErrPermanent) {
		t.Errorf("create in a missing bucket: error %v does not wrap backends.ErrPermanent", err)
	}

	_, err = Open(t.Context(), cfg)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "bucket godwit-no-such-bucket does not exist") {
		t.Errorf("open in a missing bucket: got %v, want the missing bucket error wrapping fs.ErrNotExist", err)
	}
}

func TestCreateRefusesExistingRepository(t *testing.T) {
	endpoint := testEndpoint(t)
	cfg := testConfig(endpoint, plainBucket, freshPrefix(t))
	be := create(t, cfg)
	if err := be.Save(t.Context(), backends.Handle{Type: backends.ConfigFile}, []byte("config")); err != nil {
		t.Fatal(err)
	}
	_, err := Create(t.Context(), cfg)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("create over a repository: got %v, want an error wrapping fs.ErrExist", err)
	}
	opened, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if got, err := backends.LoadAll(t.Context(), opened, backends.Handle{Type: backends.ConfigFile}); err != nil || string(got) != "config" {
		t.Errorf("load config after open: got %q, %v", got, err)
	}
}

func TestOpenWithoutConfigWrapsErrNotExist(t *testing.T) {
	endpoint := testEndpoint(t)
	cfg := testConfig(endpoint, plainBucket, freshPrefix(t))
	_, err := Open(t.Context(), cfg)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open: got %v, want fs.ErrNotExist", err)
	}
	if want := "repository " + cfg.location() + " does not exist"; err.Error() != want {
		t.Errorf("open: got %q, want %q", err, want)
	}
}

func TestObjectLockRefusesRemoveUnderRetention(t *testing.T) {
	endpoint := testEndpoint(t)
	cfg := testConfig(endpoint, lockBucket, freshPrefix(t))
	cfg.ObjectLockDays = 1
	be := create(t, cfg)
	h := backends.Handle{Type: backends.SnapshotFile, Name: "snap1"}
	data := []byte("snapshot")
	before := time.Now()
	if err := be.Save(t.Context(), h, data); err != nil {
		t.Fatalf("save: %v", err)
	}

	err := be.Remove(t.Context(), h)
	if !errors.Is(err, ErrRetention) || !errors.Is(err, backends.ErrPermanent) {
		t.Fatalf("remove under retention: got %v, want ErrRetention and backends.ErrPermanent", err)
	}
	msg := err.Error()
	i := strings.Index(msg, "retention until ")
	if i < 0 {
		t.Fatalf("remove under retention: error %q does not say until when", msg)
	}
	until, perr := time.Parse(time.RFC3339, strings.Fields(msg[i+len("retention until "):])[0])
	if perr != nil {
		t.Fatalf("remove under retention: error %q: date: %v", msg, perr)
	}
	if d := until.Sub(before); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("retention until %v, want about one day after %v", until, before)
	}

	got, err := backends.LoadAll(t.Context(), be, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("load after refused remove: got %q, %v; want %q", got, err, data)
	}

	// Locks carry no retention: the operation holding one must be able to
	// remove it.
	lock := backends.Handle{Type: backends.LockFile, Name: "lock1"}
	if err := be.Save(t.Context(), lock, []byte("lock")); err != nil {
		t.Fatalf("save lock: %v", err)
	}
	if err := be.Remove(t.Context(), lock); err != nil {
		t.Errorf("remove lock: %v", err)
	}
}

func TestObjectLockNeedsLockEnabledBucket(t *testing.T) {
	endpoint := testEndpoint(t)
	cfg := testConfig(endpoint, plainBucket, freshPrefix(t))
	cfg.ObjectLockDays = 1
	_, err := Create(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), "does not have Object Lock enabled") {
		t.Errorf("create with object lock days on a plain bucket: got %v, want an error saying the bucket lacks Object Lock", err)
	}
}

func TestWrongCredentialsNameLocationWithoutSecret(t *testing.T) {
	endpoint := testEndpoint(t)
	const secret = "wrong-secret-must-not-be-shown"
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	cfg := testConfig(endpoint, plainBucket, freshPrefix(t))
	for _, op := range []struct {
		name string
		fn   func() error
	}{
		{"create", func() error { _, err := Create(t.Context(), cfg); return err }},
		{"open", func() error { _, err := Open(t.Context(), cfg); return err }},
	} {
		err := op.fn()
		if err == nil {
			t.Fatalf("%s with a wrong secret key: got no error", op.name)
		}
		msg := err.Error()
		for _, want := range []string{cfg.location(), "rejected the credentials", "AWS_SECRET_ACCESS_KEY"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s with a wrong secret key: error %q does not contain %q", op.name, msg, want)
			}
		}
		if strings.Contains(msg, secret) {
			t.Errorf("%s with a wrong secret key: error %q shows the secret", op.name, msg)
		}
		if !errors.Is(err, backends.ErrPermanent) {
			t.Errorf("%s with a wrong secret key: error %v does not wrap backends.ErrPermanent", op.name, err)
		}
	}
}

func TestLoadCancelledContextIsNotRetried(t *testing.T) {
	endpoint := testEndpoint(t)
	be := create(t, testConfig(endpoint, plainBucket, freshPrefix(t)))
	h := backends.Handle{Type: backends.IndexFile, Name: "idx"}
	if err := be.Save(t.Context(), h, []byte("index")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	start := time.Now()
	_, err := backends.LoadAll(ctx, be, h)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("load with an expired context: got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("load with an expired context took %v", d)
	}
}
