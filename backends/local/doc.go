// Package local keeps a godwit repository in a directory on a local file
// system (or any file system the kernel mounts: NFS, a USB disk).
//
// The layout is the one every backend uses:
//
//	config
//	keys/<name>
//	data/<first two characters of name>/<name>
//	index/<name>
//	snapshots/<name>
//	locks/<name>
//
// Directories are created 0700 and objects 0600. Every object is written to
// a temporary file in its final directory (named ".tmp-*", which List never
// reports), synced, and then linked into place with link(2), which fails
// rather than replace an existing object; only config is moved with
// rename(2), which replaces it. The directory is synced afterwards, so an
// object that Save reported as stored survives a crash. A crash in the
// middle of Save can leave a ".tmp-*" file behind; such files are never
// read and may be deleted at any time no Save is running.
//
// The file system must support hard links (ext4, XFS, Btrfs, ZFS and NFS
// do; FAT and exFAT do not).
//
// The package knows nothing of the repository format: objects are opaque
// bytes, and it never decrypts or interprets them.
package local
