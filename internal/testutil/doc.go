// Package testutil builds and compares file trees for restore-fidelity tests.
//
// BuildServerTree lays out a small mail server (etc, home/*/Maildir, var/mail,
// var/spool, var/www, usr/lib/cgi-bin) that holds every kind of metadata a
// restore must rebuild: boundary file sizes, a sparse file over 100 MiB,
// nameless numeric owners, setuid/setgid/sticky modes, nanosecond times on
// files, directories and symlinks, user and trusted extended attributes, POSIX
// access and default ACLs, file capabilities, symlinks of every shape,
// hardlink groups, a FIFO, device nodes, empty directories and names that are
// not valid UTF-8. CompareTrees then walks two trees and names every
// difference, so a test can assert that backup followed by restore gave back
// the tree it started from.
//
// Parts that need root (foreign owners, device nodes, trusted.* and
// security.* attributes, unreadable files) are built only when the process
// runs with effective uid 0; ServerTree.Privileged and ServerTree.Skipped say
// what was left out. RequireRoot skips a test when not root, and fails it
// instead when the environment variable CI is "true", so that root-only
// coverage is never skipped silently in continuous integration.
//
// The package is Linux-only and depends on the standard library and
// golang.org/x/sys/unix; it knows nothing of the repository format, the
// archiver or the restorer, and must not import them.
package testutil
