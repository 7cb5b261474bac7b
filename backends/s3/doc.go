// Package s3 keeps a repository under a prefix of an S3 bucket, on AWS or
// on any service that speaks the S3 API (with path-style addressing for
// the ones that need it). It implements backends.Backend and knows nothing
// of the repository format: objects are opaque bytes named
//
//	<prefix>/config
//	<prefix>/keys/<name>
//	<prefix>/data/<first 2 characters of name>/<name>
//	<prefix>/index/<name>
//	<prefix>/snapshots/<name>
//	<prefix>/locks/<name>
//
// # Locations
//
// ParseLocation reads "s3://bucket/prefix" (AWS; the region comes from
// Config.Region, AWS_REGION or the shared config) and
// "s3:https://host:port/bucket/prefix" (another provider). Credentials
// never appear in a location: they come from the standard AWS chain
// (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE with
// ~/.aws/credentials and ~/.aws/config, container and instance roles), and
// Location and error messages name only the bucket and prefix.
//
// # Writes
//
// Every object is written with one PUT, which S3 makes visible atomically,
// carrying a CRC32C checksum the server verifies. Objects other than the
// config are created with If-None-Match: *, so an existing object is never
// replaced; on servers that answer that header with 501 Not Implemented
// the backend falls back to HEAD-then-PUT (see Backend.Save for the race
// that leaves). With Config.ObjectLockDays, every new object except locks
// carries GOVERNANCE-mode retention until that many days after it was
// written: nobody holding the writer's credentials can delete or
// overwrite-destroy the stored versions before then. GOVERNANCE, not
// COMPLIANCE, so that an account administrator (with
// s3:BypassGovernanceRetention) can still clean up a repository created by
// mistake; the writer's policy below does not grant that permission, which
// makes GOVERNANCE as strong as COMPLIANCE against a stolen writer key.
// Remove refuses objects under retention with an error wrapping
// ErrRetention that says until when.
//
// # Errors
//
// A missing bucket, rejected credentials, denied access, a wrong region,
// clock skew, a delete the credentials do not allow and an exhausted quota
// each give one message naming the location and what to do, wrapping
// backends.ErrPermanent. Transient failures are retried by the SDK's
// standard retryer; a cancelled context is returned as it is.
//
// # IAM policies
//
// Hosts that run scheduled backups with a write key should get S3
// credentials that can add objects but delete only locks. Replace BUCKET
// and PREFIX. The Deny statement makes S3 (AWS, since 2024) refuse any PUT
// without If-None-Match, so these credentials cannot overwrite existing
// objects either; the config is written only by owners.
//
//	{
//	  "Version": "2012-10-17",
//	  "Statement": [
//	    {"Effect": "Allow", "Action": "s3:ListBucket",
//	     "Resource": "arn:aws:s3:::BUCKET",
//	     "Condition": {"StringLike": {"s3:prefix": ["PREFIX/*"]}}},
//	    {"Effect": "Allow",
//	     "Action": ["s3:GetObject", "s3:PutObject", "s3:PutObjectRetention", "s3:GetObjectRetention"],
//	     "Resource": "arn:aws:s3:::BUCKET/PREFIX/*"},
//	    {"Effect": "Allow", "Action": "s3:DeleteObject",
//	     "Resource": "arn:aws:s3:::BUCKET/PREFIX/locks/*"},
//	    {"Effect": "Deny", "Action": "s3:PutObject",
//	     "Resource": "arn:aws:s3:::BUCKET/PREFIX/*",
//	     "Condition": {"Null": {"s3:if-none-match": "true"}}}
//	  ]
//	}
//
// Owners (init, key management, forget and prune) need to write the config
// and delete any object:
//
//	{
//	  "Version": "2012-10-17",
//	  "Statement": [
//	    {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketObjectLockConfiguration"],
//	     "Resource": "arn:aws:s3:::BUCKET",
//	     "Condition": {"StringLike": {"s3:prefix": ["PREFIX/*", ""]}}},
//	    {"Effect": "Allow",
//	     "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
//	                "s3:PutObjectRetention", "s3:GetObjectRetention"],
//	     "Resource": "arn:aws:s3:::BUCKET/PREFIX/*"}
//	  ]
//	}
//
// Without Object Lock, a versioned bucket with a lifecycle rule that
// expires noncurrent versions after some days gives similar protection
// against deletion, but the writer's s3:PutObject can still replace the
// current version of an object on servers that ignore the Deny condition.
package s3
