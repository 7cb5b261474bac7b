// Package fsmeta reads and restores Linux file metadata: everything a
// tree.Node records about a file besides its content (type, mode,
// ownership and owner names, times, inode, device, link count, device
// numbers, symlink targets, extended attributes and POSIX ACLs).
//
// Lstat turns a path into a node for backup; Create and Apply turn a node
// back into a file system object on restore. The package also holds a
// codec for the kernel's binary system.posix_acl_access and
// system.posix_acl_default values, used to map the user and group ids
// inside ACLs by name.
//
// fsmeta works on paths only. It knows nothing of repositories, blobs,
// encryption or how trees are stored, and it never reads file content.
// The implementation is Linux only.
package fsmeta
