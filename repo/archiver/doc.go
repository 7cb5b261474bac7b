// Package archiver backs up file system trees into a repository: it walks
// the given paths, reads and chunks files, saves their content and one
// tree blob per directory, and writes the snapshot last. It works with a
// write key: it never reads back trees or packs.
//
// Problems with single files (unreadable, vanished, changing while read)
// are reported to Options.Warn and counted; they never abort the backup.
package archiver
