// Package restorer rebuilds a file system tree from a snapshot: contents,
// ownership, modes, times, xattrs and ACLs, links and special files. It
// needs owner keys (it reads trees and packs).
//
// A restore is resumable: a regular file whose size and mtime already
// equal the snapshot's is taken as complete and skipped, and the mtime is
// set only after a file was written completely.
package restorer
