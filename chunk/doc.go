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
// The package knows nothing of repositories, blobs, ids or encryption and
// imports no other godwit package.
package chunk
