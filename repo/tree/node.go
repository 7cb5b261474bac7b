package tree

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/godwit-backup/godwit/repo/blob"
)

// NodeType is the kind of file a node describes.
type NodeType string

const (
	File      NodeType = "file"
	Dir       NodeType = "dir"
	Symlink   NodeType = "symlink"
	CharDev   NodeType = "chardev"
	BlockDev  NodeType = "blockdev"
	FIFO      NodeType = "fifo"
	Socket    NodeType = "socket"
	Irregular NodeType = "irregular"
)

// RawString holds bytes that are usually, but not always, UTF-8: file
// names and symlink targets. Valid UTF-8 is encoded as a JSON string;
// anything else as {"base64": "..."}, so every name round-trips exactly.
type RawString string

func (s RawString) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(s)) {
		return json.Marshal(string(s))
	}
	return json.Marshal(struct {
		Base64 string `json:"base64"`
	}{base64.StdEncoding.EncodeToString([]byte(s))})
}

func (s *RawString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = RawString(v)
		return nil
	}
	var v struct {
		Base64 *string `json:"base64"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.Base64 == nil {
		return fmt.Errorf("raw string: want a string or {\"base64\": ...}")
	}
	raw, err := base64.StdEncoding.DecodeString(*v.Base64)
	if err != nil {
		return fmt.Errorf("raw string: %w", err)
	}
	*s = RawString(raw)
	return nil
}

// Xattr is one extended attribute. POSIX ACLs are stored as the
// system.posix_acl_access and system.posix_acl_default attributes, in the
// kernel's binary format.
type Xattr struct {
	Name  RawString `json:"name"`
	Value []byte    `json:"value"`
}

// Node is one entry of a directory: a file, a directory, a link or a
// special file, with all the metadata restore needs.
type Node struct {
	Name RawString `json:"name"`
	Type NodeType  `json:"type"`
	// Mode holds the permission bits and setuid, setgid and sticky
	// (st_mode & 07777); the file type is in Type.
	Mode  uint32    `json:"mode"`
	UID   uint32    `json:"uid"`
	GID   uint32    `json:"gid"`
	User  RawString `json:"user,omitempty"`
	Group RawString `json:"group,omitempty"`
	// Size is the file size in bytes (regular files only).
	Size  uint64    `json:"size,omitempty"`
	MTime time.Time `json:"mtime"`
	ATime time.Time `json:"atime"`
	CTime time.Time `json:"ctime"`
	// Inode, DeviceID and Links identify hardlinks: nodes of one snapshot
	// with the same DeviceID and Inode and Links > 1 are one file.
	Inode    uint64 `json:"inode,omitempty"`
	DeviceID uint64 `json:"device_id,omitempty"`
	Links    uint64 `json:"links,omitempty"`
	// Rdev is the device number of a character or block device.
	Rdev       uint64    `json:"rdev,omitempty"`
	LinkTarget RawString `json:"link_target,omitempty"`
	Xattrs     []Xattr   `json:"xattrs,omitempty"`
	// Content lists the data blobs of a regular file, in order.
	Content []blob.ID `json:"content,omitempty"`
	// Subtree is the tree blob of a directory.
	Subtree *blob.ID `json:"subtree,omitempty"`
	// Error is set when the node's content could not be read
	// consistently; Content then holds what was read, if anything.
	Error string `json:"error,omitempty"`
}
