// Package crypto holds godwit's key hierarchy and is the only package that
// sees key bytes.
//
// A repository has two internal age identities: D, the data key, which reads
// packs (file contents and trees), and M, the metadata key, which reads the
// config, index, snapshot and lock objects. Owners hold both; a write key
// holds M only, plus a pin of D's recipient, so a backed-up host can add
// snapshots without being able to read any of them.
//
// Every object this package produces is a standard binary age file: with the
// identity written by [Keys.WriteIdentityFile], `age -d -i FILE` decrypts it.
//
// Owner credentials (a passphrase, an age X25519 or post-quantum recipient,
// an SSH key, an age plugin recipient) unlock key objects: an age file
// encrypted to exactly one credential whose plaintext holds D, M and the
// repository secrets (see [Keys.SealKeyObject]).
//
// age has no sender authentication. Anyone who knows an owner's public
// recipient can produce a key object that opens with that owner's identity,
// so callers must compare [Keys.Fingerprint] with the fingerprint pinned for
// the repository before trusting Keys from [OpenKeyObject]. Blob and metadata
// ids are keyed BLAKE3 hashes ([Keys.BlobID], [Keys.MetaID]); checking what
// is read against its id is what detects forged or swapped objects.
//
// This package imports no other godwit package and knows nothing of
// backends, the repository layout or the CLI.
package crypto
