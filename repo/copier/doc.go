// Package copier copies snapshots from one repository into another,
// re-encrypting them to the destination's keys and deduplicating against
// what the destination already stores.
//
// Blob ids are keyed per repository, so the same plaintext has different
// ids in the two repositories: the copier reads each blob's plaintext
// from the source, saves it into the destination (which computes the
// destination id), and rewrites trees bottom-up so that their content
// and subtree ids name destination blobs. A source tree shared between
// snapshots is translated once per run; an IDMap carries the translation
// across runs, so a daily copy reads from the source only what is new.
//
// The source needs an owner credential (it must decrypt packs); the
// destination needs only a write key. The package knows nothing of
// backends, locks, credentials or the command line: the caller opens
// both repositories, takes the locks and loads the indexes.
package copier
