// Package chunk splits file contents into content-defined chunks, the unit
// of deduplication in a godwit repository.
//
// Cut points come from a Rabin fingerprint over a sliding window
// (github.com/restic/chunker) with the repository's secret polynomial, so
// the same content yields the same chunks in every backup of a repository,
// while boundaries differ between repositories: chunk lengths, which
// encrypted blob sizes approximate, do not match those a third party
// computes for a known file. Chunks are between MinSize and MaxSize bytes
// (512 KiB and 8 MiB by default) and about 2^AverageBits bytes on average
// (1 MiB by default); the last chunk of an input may be shorter than
// MinSize.
//
// Changing the polynomial, the sizes or the algorithm changes every chunk
// boundary and defeats deduplication against existing snapshots; the
// boundaries are therefore part of the repository format and frozen by
// tests.
//
// Mail gets content-aware cut points on top (MailChunker, with Detect to
// choose the Kind of a file). In an mbox spool every message starts a new
// chunk, so deleting a message from the middle of a spool leaves the
// chunks of every other message unchanged; in an mbox message or a Maildir
// file, the body of every MIME leaf part of 64 KiB or more (an attachment)
// is cut out into chunks of its own, so the same attachment received by
// twenty users, or forwarded inside another message, is stored once.
// Between these cut points, and inside large parts, the content-defined
// chunker cuts as usual. The cut rules depend only on the bytes of the
// input, are documented on MailChunker and are frozen by tests like the
// plain boundaries.
//
// The package knows nothing of repositories, blobs, ids or encryption and
// imports no other godwit package.
package chunk
