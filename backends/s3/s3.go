package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aws/smithy-go/logging"

	"github.com/godwit-backup/godwit/backends"
)

// defaultRegion is used when neither Config.Region, AWS_REGION nor the
// shared config names a region. Other providers mostly ignore the region
// but need one for signing; AWS answers a wrong one with the bucket's
// region, which the error message passes on.
const defaultRegion = "us-east-1"

// Backend is a repository under a prefix of an S3 bucket. It is safe for
// concurrent use by multiple goroutines; at most Connections requests are
// in flight at once (a Load holds its connection while fn runs).
//
// Transient failures (throttling, 5xx, dropped connections) are retried by
// the SDK's standard retryer; a cancelled context is never retried and its
// error is returned as it is.
type Backend struct {
	client    *s3.Client
	transport *http.Transport
	cfg       Config
	region    string
	location  string
	now       func() time.Time

	// noConditional is set once the server answered a conditional PUT
	// with 501 Not Implemented; Save then checks with HEAD instead.
	noConditional atomic.Bool
}

var _ backends.Backend = (*Backend)(nil)

// Create checks that the bucket exists and holds no repository under the
// prefix, and returns the backend. A missing bucket is an error saying so,
// with how to create it; an existing config is an error wrapping
// fs.ErrExist. With ObjectLockDays set, the bucket must have Object Lock
// enabled. Create does not write the config.
func Create(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := newBackend(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &cfg.Bucket}); err != nil {
		if st, code := status(err); st == http.StatusNotFound || code == "NoSuchBucket" {
			return nil, fmt.Errorf("create repository: %w", b.bucketMissing(err, false))
		}
		return nil, fmt.Errorf("create repository: %w", b.translateHead(ctx, err))
	}
	_, err = b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &cfg.Bucket, Key: aws.String(b.key(backends.Handle{Type: backends.ConfigFile}))})
	switch {
	case err == nil:
		return nil, &clearError{msg: fmt.Sprintf("repository %s already exists", b.location), errs: []error{fs.ErrExist}}
	case !isNotFound(err):
		return nil, fmt.Errorf("create repository: %w", b.translateHead(ctx, err))
	}
	if cfg.ObjectLockDays > 0 {
		out, err := b.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &cfg.Bucket})
		if err != nil && ctx.Err() == nil {
			if _, code := status(err); code == "ObjectLockConfigurationNotFoundError" || code == "ObjectLockConfigurationNotFound" {
				err = nil
			}
		}
		if err != nil {
			return nil, fmt.Errorf("create repository: %w", b.translate(ctx, err, false))
		}
		if out == nil || out.ObjectLockConfiguration == nil || out.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
			return nil, permanent(nil, "%s: bucket %s does not have Object Lock enabled; Object Lock can only be enabled when a bucket is created (aws s3api create-bucket --object-lock-enabled-for-bucket), or leave out --s3-object-lock-days", b.location, cfg.Bucket)
		}
	}
	return b, nil
}

// Open returns the backend for an existing repository. If the bucket or
// the config object does not exist, the error says "repository <location>
// does not exist" (or that the bucket does not exist) and wraps
// fs.ErrNotExist.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := newBackend(ctx, cfg)
	if err != nil {
		return nil, err
	}
	_, err = b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &cfg.Bucket, Key: aws.String(b.key(backends.Handle{Type: backends.ConfigFile}))})
	if err == nil {
		return b, nil
	}
	if !isNotFound(err) {
		return nil, fmt.Errorf("open repository: %w", b.translateHead(ctx, err))
	}
	// HEAD responses carry no error code: ask whether the bucket exists.
	if _, berr := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &cfg.Bucket}); berr != nil {
		if st, code := status(berr); st == http.StatusNotFound || code == "NoSuchBucket" {
			return nil, fmt.Errorf("open repository: %w", b.bucketMissing(berr, true))
		}
	}
	return nil, &clearError{msg: fmt.Sprintf("repository %s does not exist", b.location), errs: []error{fs.ErrNotExist}}
}

// newBackend validates cfg, loads the AWS configuration and checks that
// credentials can be found. It makes no request to the bucket.
func newBackend(ctx context.Context, cfg Config) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkBucket(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3: invalid endpoint %q: want https://host[:port]", cfg.Endpoint)
		}
		if u.User != nil {
			return nil, fmt.Errorf("s3: endpoint %s: credentials in the endpoint are not supported; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE", redact(u))
		}
	}
	if cfg.Connections < 0 || cfg.ObjectLockDays < 0 {
		return nil, fmt.Errorf("s3: negative connections (%d) or object lock days (%d)", cfg.Connections, cfg.ObjectLockDays)
	}
	if cfg.Connections == 0 {
		cfg.Connections = DefaultConnections
	}

	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxConnsPerHost = cfg.Connections
		tr.MaxIdleConnsPerHost = cfg.Connections
	})
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithHTTPClient(httpClient)}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultRegion
	}
	awsCfg.Logger = logging.Nop{} // errors are returned, never logged
	// The loaded client has the environment's settings applied (such as
	// AWS_CA_BUNDLE); keep its transport where Close can reach it.
	var transport *http.Transport
	if bc, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient); ok {
		transport = bc.GetTransport()
	} else {
		transport = httpClient.GetTransport()
	}
	awsCfg.HTTPClient = &http.Client{
		Transport: transport,
		// S3 redirects name the right region; they are reported, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	b := &Backend{
		transport: transport,
		cfg:       cfg,
		region:    awsCfg.Region,
		location:  cfg.location(),
		now:       time.Now,
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, permanent(err, "%s: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE for a profile in ~/.aws/credentials, or run with an instance role", b.location)
	}
	b.client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return b, nil
}

// Location returns the repository location in the form ParseLocation
// accepts, without credentials.
func (b *Backend) Location() string { return b.location }

// Connections returns the number of parallel requests the backend makes,
// for callers that size their upload pipeline to it.
func (b *Backend) Connections() int { return b.cfg.Connections }

func (b *Backend) key(h backends.Handle) string { return b.objectKey(backends.Path(h)) }

func (b *Backend) objectKey(rel string) string {
	if b.cfg.Prefix == "" {
		return rel
	}
	return b.cfg.Prefix + "/" + rel
}

// Save stores data under h with a single PUT, which S3 makes visible
// atomically. Objects other than config are created with If-None-Match: *,
// so saving over an existing object fails with an error wrapping
// fs.ErrExist and leaves it as it was. On a server that does not implement
// conditional writes (501), Save checks with HEAD first; two writers
// racing for the same new name may then both succeed, the later one
// replacing the object (harmless for content-named objects, whose bytes
// are the same). If a PUT succeeded but its response was lost, the SDK's
// retry gets 412 and Save reports fs.ErrExist for an object it wrote.
//
// Every PUT carries a CRC32C checksum the server verifies, the configured
// storage class and, with ObjectLockDays, GOVERNANCE retention until that
// many days from now (not for locks, which must be removable when the
// operation holding them ends).
func (b *Backend) Save(ctx context.Context, h backends.Handle, data []byte) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	rel := backends.Path(h)
	if err := b.save(ctx, h, data); err != nil {
		return fmt.Errorf("save %s: %w", rel, err)
	}
	return nil
}

func (b *Backend) save(ctx context.Context, h backends.Handle, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := b.key(h)
	in := &s3.PutObjectInput{
		Bucket:            &b.cfg.Bucket,
		Key:               &key,
		Body:              bytes.NewReader(data),
		ContentLength:     aws.Int64(int64(len(data))),
		ContentType:       aws.String("application/octet-stream"),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
	}
	if b.cfg.StorageClass != "" {
		in.StorageClass = types.StorageClass(b.cfg.StorageClass)
	}
	if b.cfg.ObjectLockDays > 0 && h.Type != backends.LockFile {
		in.ObjectLockMode = types.ObjectLockModeGovernance
		in.ObjectLockRetainUntilDate = aws.Time(b.now().Add(time.Duration(b.cfg.ObjectLockDays) * 24 * time.Hour))
	}
	conditional := h.Type != backends.ConfigFile
	if conditional && b.noConditional.Load() {
		if err := b.checkAbsent(ctx, key); err != nil {
			return err
		}
	} else if conditional {
		in.IfNoneMatch = aws.String("*")
	}

	_, err := b.client.PutObject(ctx, in)
	if err != nil && in.IfNoneMatch != nil && ctx.Err() == nil {
		if st, code := status(err); st == http.StatusNotImplemented || code == "NotImplemented" {
			b.noConditional.Store(true)
			if err := b.checkAbsent(ctx, key); err != nil {
				return err
			}
			in.IfNoneMatch = nil
			in.Body = bytes.NewReader(data)
			_, err = b.client.PutObject(ctx, in)
		}
	}
	if err == nil {
		return nil
	}
	if st, code := status(err); ctx.Err() == nil && (st == http.StatusPreconditionFailed || code == "PreconditionFailed") {
		return errExist
	}
	if _, code := status(err); ctx.Err() == nil && b.cfg.ObjectLockDays > 0 && code == "InvalidRequest" {
		return permanent(err, "%s: the server refused Object Lock retention (%v); the bucket needs Object Lock enabled, or leave out --s3-object-lock-days", b.location, err)
	}
	return b.translate(ctx, err, false)
}

// checkAbsent returns an error wrapping fs.ErrExist if key exists.
func (b *Backend) checkAbsent(ctx context.Context, key string) error {
	_, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.cfg.Bucket, Key: &key})
	switch {
	case err == nil:
		return errExist
	case isNotFound(err) && ctx.Err() == nil:
		return nil
	default:
		return b.translateHead(ctx, err)
	}
}

// Load calls fn with a reader over length bytes of h from offset (length
// 0: to the end), fetched with one ranged GET; see backends.Backend. Where
// the range extends past the end of the object the reader returns the
// bytes that exist and then io.ErrUnexpectedEOF. The response body is
// closed when fn returns; Load returns fn's error unchanged. A missing
// object wraps fs.ErrNotExist and fn is not called.
func (b *Backend) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	rel, err := backends.CheckLoad(ctx, h, length, offset)
	if err != nil {
		return err
	}
	key := b.key(h)
	in := &s3.GetObjectInput{Bucket: &b.cfg.Bucket, Key: &key}
	switch {
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+int64(length)-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		if st, code := status(err); ctx.Err() == nil && (st == http.StatusRequestedRangeNotSatisfiable || code == "InvalidRange") {
			return b.loadPastEnd(ctx, h, length, offset, fn)
		}
		return fmt.Errorf("load %s: %w", rel, b.translate(ctx, err, false))
	}
	defer out.Body.Close()

	var rd io.Reader = out.Body
	if in.Range != nil && out.ContentRange == nil {
		// The server ignored the range and sent the whole object.
		if n, err := io.CopyN(io.Discard, rd, offset); err != nil {
			if errors.Is(err, io.EOF) && n < offset {
				return fn(errReader{io.ErrUnexpectedEOF})
			}
			return fmt.Errorf("load %s: %w", rel, b.translate(ctx, err, false))
		}
	}
	if length > 0 {
		rd = &exactReader{r: io.LimitReader(rd, int64(length)), left: int64(length)}
	}
	return fn(rd)
}

// loadPastEnd handles a range the server found unsatisfiable: the offset
// is at or past the end of the object (or the object is empty). An offset
// exactly at the end with length 0 reads nothing; anything else reads
// io.ErrUnexpectedEOF.
func (b *Backend) loadPastEnd(ctx context.Context, h backends.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	if length == 0 {
		fi, err := b.Stat(ctx, h)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		if fi.Size == offset {
			return fn(bytes.NewReader(nil))
		}
	}
	return fn(errReader{io.ErrUnexpectedEOF})
}

// exactReader returns io.ErrUnexpectedEOF if r ends before left bytes.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// Stat returns the size of h; a missing object wraps fs.ErrNotExist.
func (b *Backend) Stat(ctx context.Context, h backends.Handle) (backends.FileInfo, error) {
	if err := h.Valid(); err != nil {
		return backends.FileInfo{}, fmt.Errorf("stat: %w", err)
	}
	rel := backends.Path(h)
	out, err := b.head(ctx, h)
	if err != nil {
		return backends.FileInfo{}, fmt.Errorf("stat %s: %w", rel, err)
	}
	return backends.FileInfo{Name: h.Name, Size: aws.ToInt64(out.ContentLength)}, nil
}

func (b *Backend) head(ctx context.Context, h backends.Handle) (*s3.HeadObjectOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.cfg.Bucket, Key: aws.String(b.key(h))})
	if err != nil {
		return nil, b.translateHead(ctx, err)
	}
	return out, nil
}

// List calls fn for every object of type t, one page of ListObjectsV2 at a
// time; for ConfigFile it reports the config, with an empty Name, if there
// is one. Keys under the type's prefix that are not valid object names
// (and packs outside the data/<2 chars>/ directory their name belongs in)
// are skipped. An object saved or removed while List runs may or may not
// be reported. An error from fn stops the listing and is returned
// unchanged.
func (b *Backend) List(ctx context.Context, t backends.FileType, fn func(backends.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", t, err)
	}
	switch t {
	case backends.ConfigFile:
		out, err := b.head(ctx, backends.Handle{Type: t})
		if backends.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", t, err)
		}
		return fn(backends.FileInfo{Size: aws.ToInt64(out.ContentLength)})
	case backends.KeyFile, backends.PackFile, backends.IndexFile, backends.SnapshotFile, backends.LockFile:
	default:
		return fmt.Errorf("list: invalid file type %q", t)
	}

	dir := b.objectKey(string(t)) + "/"
	pages := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: &b.cfg.Bucket,
		Prefix: &dir,
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", t, b.translate(ctx, err, false))
		}
		for _, obj := range page.Contents {
			name, ok := objectName(t, strings.TrimPrefix(aws.ToString(obj.Key), dir))
			if !ok {
				continue
			}
			if err := fn(backends.FileInfo{Name: name, Size: aws.ToInt64(obj.Size)}); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", t, err)
		}
	}
	return nil
}

// objectName returns the object name for a key relative to the type's
// directory: "name", or "xx/name" for packs, where xx is the start of name.
func objectName(t backends.FileType, rel string) (string, bool) {
	name := rel
	if t == backends.PackFile {
		sub, n, ok := strings.Cut(rel, "/")
		if !ok || len(sub) != 2 || !strings.HasPrefix(n, sub) {
			return "", false
		}
		name = n
	}
	if (backends.Handle{Type: t, Name: name}).Valid() != nil {
		return "", false
	}
	return name, true
}

// Remove deletes h. It asks for the object first, as S3 reports success
// for deleting a missing key: a missing object wraps fs.ErrNotExist. An
// object under Object Lock retention is not deleted (on a versioned bucket
// S3 would only hide it behind a delete marker): the error says until when
// and wraps ErrRetention and backends.ErrPermanent. A delete the
// credentials do not permit is an error saying so.
func (b *Backend) Remove(ctx context.Context, h backends.Handle) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	rel := backends.Path(h)
	out, err := b.head(ctx, h)
	if err != nil {
		return fmt.Errorf("remove %s: %w", rel, err)
	}
	if until := out.ObjectLockRetainUntilDate; out.ObjectLockMode != "" && until != nil && until.After(b.now()) {
		return fmt.Errorf("remove %s: %w", rel, retentionError(*until))
	}
	_, err = b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.cfg.Bucket, Key: aws.String(b.key(h))})
	if err != nil {
		return fmt.Errorf("remove %s: %w", rel, b.translate(ctx, err, true))
	}
	return nil
}

// Close releases idle connections. Requests still running complete; the
// backend must not be used afterwards.
func (b *Backend) Close() error {
	b.transport.CloseIdleConnections()
	return nil
}
