// Package restorer rebuilds a file system tree from a snapshot: contents,
// ownership, modes, times, xattrs and ACLs, links and special files. It
// needs owner keys (it reads trees and packs).
//
// A restore walks the tree once, creating directories, links, special
// files and every regular file at its full size, and plans where each
// content blob goes. It then reads each needed pack once (only the ranges
// it needs when that is cheaper), several packs in parallel, and writes
// every blob to all the files and offsets that use it. A file's metadata is
// set when its last blob is written; directories' metadata last, bottom-up.
//
// A restore is resumable: a regular file whose size and mtime already
// equal the snapshot's is taken as complete and skipped, and the mtime is
// set only after a file was written completely.
package restorer
