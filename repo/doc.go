// Package repo opens, creates and unlocks godwit repositories, and saves
// and loads blobs, trees, index objects and snapshots on a backend. It is
// the layer between the format packages (pack, index, tree, snapshot,
// lock) and the commands: the archiver and restorer call it, and it calls
// package crypto for every encryption and every keyed id.
//
// A Repository opened with a write key can add blobs and snapshots and
// read metadata (config, index, snapshots, locks); every operation that
// needs the data key returns an error wrapping crypto.ErrWriteOnly.
package repo
