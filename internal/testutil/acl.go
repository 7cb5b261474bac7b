//go:build linux

package testutil

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Extended attribute names under which Linux stores POSIX ACLs.
const (
	xattrACLAccess  = "system.posix_acl_access"
	xattrACLDefault = "system.posix_acl_default"
)

// Binary layout of a POSIX ACL extended attribute value (linux/posix_acl_xattr.h):
// a little-endian uint32 version, then entries of uint16 tag, uint16 perm, uint32 id.
const (
	aclVersion   = 0x0002
	aclHeaderLen = 4
	aclEntryLen  = 8
	aclUndefID   = 0xffffffff

	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

// aclEntry is one entry of a POSIX ACL. Perm holds the rwx bits (4, 2, 1).
type aclEntry struct {
	Tag  uint16
	Perm uint16
	ID   uint32
}

// encodeACL returns the extended attribute value for entries. The kernel
// rejects values whose entries are not sorted by tag and then by id, or that
// lack a mask while naming users or groups; encodeACL does not reorder.
func encodeACL(entries []aclEntry) []byte {
	b := make([]byte, aclHeaderLen, aclHeaderLen+aclEntryLen*len(entries))
	binary.LittleEndian.PutUint32(b, aclVersion)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.Tag)
		b = binary.LittleEndian.AppendUint16(b, e.Perm)
		b = binary.LittleEndian.AppendUint32(b, e.ID)
	}
	return b
}

// formatACL renders an ACL extended attribute value in the short text form of
// setfacl ("user::rw-,user:4242:r--,..."), or describes why it cannot.
func formatACL(value []byte) string {
	if len(value) < aclHeaderLen || (len(value)-aclHeaderLen)%aclEntryLen != 0 {
		return fmt.Sprintf("malformed acl (%d bytes) %x", len(value), value)
	}
	if v := binary.LittleEndian.Uint32(value); v != aclVersion {
		return fmt.Sprintf("acl version %d %x", v, value)
	}
	var parts []string
	for off := aclHeaderLen; off < len(value); off += aclEntryLen {
		tag := binary.LittleEndian.Uint16(value[off:])
		perm := binary.LittleEndian.Uint16(value[off+2:])
		id := binary.LittleEndian.Uint32(value[off+4:])
		var qualifier string
		switch tag {
		case aclUserObj:
			qualifier = "user:"
		case aclUser:
			qualifier = fmt.Sprintf("user:%d", id)
		case aclGroupObj:
			qualifier = "group:"
		case aclGroup:
			qualifier = fmt.Sprintf("group:%d", id)
		case aclMask:
			qualifier = "mask:"
		case aclOther:
			qualifier = "other:"
		default:
			qualifier = fmt.Sprintf("tag%#x:%d", tag, id)
		}
		parts = append(parts, qualifier+":"+rwx(perm))
	}
	return strings.Join(parts, ",")
}

func rwx(perm uint16) string {
	b := []byte("---")
	if perm&4 != 0 {
		b[0] = 'r'
	}
	if perm&2 != 0 {
		b[1] = 'w'
	}
	if perm&1 != 0 {
		b[2] = 'x'
	}
	if perm&^7 != 0 {
		return string(b) + fmt.Sprintf("+%#x", perm&^7)
	}
	return string(b)
}
