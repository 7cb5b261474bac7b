package s3

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/godwit-backup/godwit/backends"
)

// ErrRetention is wrapped by the error of a Remove refused because the
// object is under Object Lock retention.
var ErrRetention = backends.ErrRetained

var (
	errNotExist = &clearError{msg: "object does not exist", errs: []error{fs.ErrNotExist}}
	errExist    = &clearError{msg: "object already exists", errs: []error{fs.ErrExist}}
)

// clearError is an error whose message is a complete sentence for the
// user; it still matches the errors it wraps (backends.ErrPermanent,
// fs.ErrNotExist, the SDK's error).
type clearError struct {
	msg  string
	errs []error
}

func (e *clearError) Error() string   { return e.msg }
func (e *clearError) Unwrap() []error { return e.errs }

// permanent returns a clearError that wraps backends.ErrPermanent and the
// cause.
func permanent(cause error, format string, args ...any) error {
	errs := []error{backends.ErrPermanent}
	if cause != nil {
		errs = append(errs, cause)
	}
	return &clearError{msg: fmt.Sprintf(format, args...), errs: errs}
}

// status returns the HTTP status code and the S3 error code of err, or 0
// and "" when err carries no response.
func status(err error) (int, string) {
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode(), code
	}
	return 0, code
}

// bucketRegion returns the region S3 says the bucket is in, if it says.
func bucketRegion(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get("X-Amz-Bucket-Region")
	}
	return ""
}

// isNotFound reports whether err says the object (or, for HEAD requests,
// which carry no error body, possibly the bucket) does not exist.
func isNotFound(err error) bool {
	st, code := status(err)
	return code == "NoSuchKey" || code == "NotFound" || (st == http.StatusNotFound && code != "NoSuchBucket")
}

// translate turns an SDK error from an operation on the repository into
// one the user can act on. It returns:
//   - the context's error if ctx is done (never retried);
//   - an error wrapping fs.ErrNotExist for a missing object;
//   - a clearError wrapping backends.ErrPermanent, naming the location and
//     what to do, for a missing bucket, refused credentials, denied
//     access, a wrong region, clock skew and an exhausted quota;
//   - err unchanged otherwise (network errors, server errors the SDK
//     already retried).
//
// deleting says whether the request was a delete, whose denial usually
// means append-only credentials.
func (b *Backend) translate(ctx context.Context, err error, deleting bool) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	st, code := status(err)
	loc := b.location
	switch {
	case code == "NoSuchBucket":
		return b.bucketMissing(err, false)
	case isNotFound(err):
		return errNotExist
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "InvalidToken" ||
		code == "ExpiredToken" || code == "TokenRefreshRequired" || code == "InvalidSecurity":
		return permanent(err, "%s: the server rejected the credentials (%s); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the profile in AWS_PROFILE", loc, code)
	case code == "RequestTimeTooSkewed":
		return permanent(err, "%s: the local clock differs too much from the server's (%s); set the time, for example with NTP (timedatectl set-ntp true)", loc, code)
	case code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" || code == "IncorrectEndpoint" ||
		st == http.StatusMovedPermanently:
		hint := "set the bucket's region with --s3-region or AWS_REGION"
		if r := bucketRegion(err); r != "" {
			hint = fmt.Sprintf("the bucket is in region %s; use --s3-region %s or AWS_REGION=%s", r, r, r)
		}
		return permanent(err, "%s: wrong region %s for the bucket (%s); %s", loc, b.region, errCode(st, code), hint)
	case code == "QuotaExceeded" || code == "XMinioStorageFull" || code == "InsufficientStorage" ||
		code == "StorageQuotaExceeded" || st == http.StatusInsufficientStorage:
		return permanent(err, "%s: the storage quota is exhausted or the server is full (%s); free space (godwit forget --prune) or raise the quota", loc, errCode(st, code))
	case deleting && (code == "AccessDenied" || st == http.StatusForbidden):
		return permanent(err, "%s: deleting is not permitted with these credentials (%s); append-only credentials can only remove locks, run this with owner credentials", loc, errCode(st, code))
	case code == "AccessDenied" || code == "AllAccessDisabled" || code == "AccountProblem" || st == http.StatusForbidden:
		return permanent(err, "%s: access denied (%s); check that the credentials and the bucket policy allow this operation", loc, errCode(st, code))
	}
	return err
}

// translateHead is translate for the error of a HEAD request. A HEAD
// response has no body, so a 403 does not say whether the credentials were
// rejected or access was denied: translateHead asks again with a GET-type
// request (a one-key listing under the prefix) whose error names the cause.
func (b *Backend) translateHead(ctx context.Context, err error) error {
	if st, code := status(err); ctx.Err() == nil && st == http.StatusForbidden && (code == "" || code == "Forbidden") {
		dir := b.objectKey("")
		_, lerr := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.cfg.Bucket, Prefix: &dir, MaxKeys: aws.Int32(1)})
		if _, lcode := status(lerr); lcode != "" && lcode != "AccessDenied" {
			return b.translate(ctx, lerr, false)
		}
	}
	return b.translate(ctx, err, false)
}

func errCode(st int, code string) string {
	switch {
	case code != "" && st != 0:
		return fmt.Sprintf("S3 error %s, HTTP %d", code, st)
	case code != "":
		return "S3 error " + code
	default:
		return fmt.Sprintf("HTTP %d", st)
	}
}

// bucketMissing returns the error for a bucket that does not exist. It
// wraps fs.ErrNotExist only if asked to: where a missing repository is
// expected (Open), not where a caller would take it for one missing object.
func (b *Backend) bucketMissing(cause error, notExist bool) error {
	hint := fmt.Sprintf("create it first (for example: aws s3 mb s3://%s) or check its name", b.cfg.Bucket)
	if b.cfg.Endpoint != "" {
		hint = fmt.Sprintf("create it first (for example: aws --endpoint-url %s s3 mb s3://%s) or check its name", b.cfg.Endpoint, b.cfg.Bucket)
	}
	errs := []error{backends.ErrPermanent, cause}
	if notExist {
		errs = append(errs, fs.ErrNotExist)
	}
	return &clearError{
		msg:  fmt.Sprintf("%s: bucket %s does not exist; %s", b.location, b.cfg.Bucket, hint),
		errs: errs,
	}
}

func retentionError(until time.Time) error {
	return &clearError{
		msg: fmt.Sprintf("object is under Object Lock retention until %s and cannot be removed before then",
			until.UTC().Format(time.RFC3339)),
		errs: []error{ErrRetention, backends.ErrPermanent},
	}
}
