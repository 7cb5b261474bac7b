package s3

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/godwit-backup/godwit/backends"
)

// responseError builds the error the SDK returns for an S3 error response.
func responseError(statusCode int, code string, header http.Header) error {
	if header == nil {
		header = http.Header{}
	}
	return &smithy.OperationError{
		ServiceID:     "S3",
		OperationName: "PutObject",
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: statusCode, Header: header}},
				Err:      &smithy.GenericAPIError{Code: code, Message: "message from the server"},
			},
		},
	}
}

func TestTranslateGivesOneClearMessagePerCause(t *testing.T) {
	b := &Backend{
		cfg:      Config{Bucket: "mybucket", Prefix: "host1"},
		location: "s3://mybucket/host1",
		region:   "us-east-1",
	}
	tests := []struct {
		name     string
		err      error
		deleting bool
		want     []string
	}{
		{"missing bucket", responseError(404, "NoSuchBucket", nil), false,
			[]string{"bucket mybucket does not exist", "aws s3 mb s3://mybucket"}},
		{"rejected key id", responseError(403, "InvalidAccessKeyId", nil), false,
			[]string{"rejected the credentials", "AWS_ACCESS_KEY_ID"}},
		{"rejected signature", responseError(403, "SignatureDoesNotMatch", nil), false,
			[]string{"rejected the credentials", "AWS_SECRET_ACCESS_KEY"}},
		{"clock skew", responseError(403, "RequestTimeTooSkewed", nil), false,
			[]string{"local clock", "NTP"}},
		{"wrong region named by the server", responseError(301, "PermanentRedirect", http.Header{"X-Amz-Bucket-Region": {"eu-central-1"}}), false,
			[]string{"wrong region us-east-1", "--s3-region eu-central-1"}},
		{"wrong region in the signature", responseError(400, "AuthorizationHeaderMalformed", nil), false,
			[]string{"wrong region us-east-1", "--s3-region"}},
		{"quota", responseError(403, "QuotaExceeded", nil), false,
			[]string{"quota", "raise the quota"}},
		{"disk full", responseError(507, "InsufficientStorage", nil), false,
			[]string{"quota", "free space"}},
		{"append-only delete", responseError(403, "AccessDenied", nil), true,
			[]string{"deleting is not permitted", "owner credentials"}},
		{"access denied", responseError(403, "AccessDenied", nil), false,
			[]string{"access denied", "bucket policy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := b.translate(context.Background(), tc.err, tc.deleting)
			if !errors.Is(err, backends.ErrPermanent) {
				t.Errorf("got %v, want an error wrapping backends.ErrPermanent", err)
			}
			for _, want := range append(tc.want, b.location) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestTranslateKeepsTransientAndMissingErrors(t *testing.T) {
	b := &Backend{cfg: Config{Bucket: "mybucket"}, location: "s3://mybucket"}
	missing := b.translate(context.Background(), responseError(404, "NoSuchKey", nil), false)
	if !errors.Is(missing, fs.ErrNotExist) || errors.Is(missing, backends.ErrPermanent) {
		t.Errorf("missing key: got %v, want fs.ErrNotExist only", missing)
	}
	server := responseError(503, "SlowDown", nil)
	if got := b.translate(context.Background(), server, false); got != server || errors.Is(got, backends.ErrPermanent) {
		t.Errorf("throttling: got %v, want the error unchanged", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := b.translate(ctx, server, false); !errors.Is(got, context.Canceled) {
		t.Errorf("cancelled context: got %v, want context.Canceled", got)
	}
}
