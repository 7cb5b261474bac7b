package fsmeta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Names of the extended attributes that hold POSIX ACLs.
const (
	XattrACLAccess  = "system.posix_acl_access"
	XattrACLDefault = "system.posix_acl_default"
)

// ACLTag is the kind of an ACL entry, with the kernel's values.
type ACLTag uint16

const (
	ACLUserObj  ACLTag = 0x01 // the file's owner
	ACLUser     ACLTag = 0x02 // a named user (ID is a uid)
	ACLGroupObj ACLTag = 0x04 // the file's group
	ACLGroup    ACLTag = 0x08 // a named group (ID is a gid)
	ACLMask     ACLTag = 0x10 // the upper bound for group class entries
	ACLOther    ACLTag = 0x20 // everyone else
)

func (t ACLTag) String() string {
	switch t {
	case ACLUserObj:
		return "user_obj"
	case ACLUser:
		return "user"
	case ACLGroupObj:
		return "group_obj"
	case ACLGroup:
		return "group"
	case ACLMask:
		return "mask"
	case ACLOther:
		return "other"
	}
	return fmt.Sprintf("tag(%#x)", uint16(t))
}

// ACLUndefinedID is the id the kernel writes in entries that name no
// user or group (every tag but ACLUser and ACLGroup).
const ACLUndefinedID = 0xffffffff

// Permission bits of an ACL entry.
const (
	ACLRead    = 0x4
	ACLWrite   = 0x2
	ACLExecute = 0x1
)

// ACLEntry is one entry of a POSIX ACL.
type ACLEntry struct {
	Tag  ACLTag
	Perm uint16 // ACLRead|ACLWrite|ACLExecute
	ID   uint32 // uid for ACLUser, gid for ACLGroup, else ACLUndefinedID
}

// ACL is a POSIX ACL as stored in the system.posix_acl_access and
// system.posix_acl_default extended attributes.
type ACL []ACLEntry

const (
	aclVersion    = 2
	aclHeaderSize = 4
	aclEntrySize  = 8
)

// ErrMalformedACL is wrapped by every error ParseACL returns.
var ErrMalformedACL = errors.New("malformed posix acl")

// ParseACL decodes the kernel's binary ACL format: a little-endian
// 32-bit version (2), then entries of a 16-bit tag, 16-bit permissions
// and 32-bit id. It checks the structure (version, length, known tags,
// permission bits), not the semantics (order of entries, presence of a
// mask), so that every value the kernel hands out parses and Marshal
// gives back the same bytes.
func ParseACL(b []byte) (ACL, error) {
	if len(b) < aclHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrMalformedACL, len(b), aclHeaderSize)
	}
	if v := binary.LittleEndian.Uint32(b); v != aclVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformedACL, v, aclVersion)
	}
	body := b[aclHeaderSize:]
	if len(body)%aclEntrySize != 0 {
		return nil, fmt.Errorf("%w: %d bytes of entries, not a multiple of %d", ErrMalformedACL, len(body), aclEntrySize)
	}
	acl := make(ACL, 0, len(body)/aclEntrySize)
	for i := 0; i < len(body); i += aclEntrySize {
		e := ACLEntry{
			Tag:  ACLTag(binary.LittleEndian.Uint16(body[i:])),
			Perm: binary.LittleEndian.Uint16(body[i+2:]),
			ID:   binary.LittleEndian.Uint32(body[i+4:]),
		}
		switch e.Tag {
		case ACLUserObj, ACLUser, ACLGroupObj, ACLGroup, ACLMask, ACLOther:
		default:
			return nil, fmt.Errorf("%w: entry %d: unknown tag %#x", ErrMalformedACL, len(acl), uint16(e.Tag))
		}
		if e.Perm&^(ACLRead|ACLWrite|ACLExecute) != 0 {
			return nil, fmt.Errorf("%w: entry %d: permissions %#x", ErrMalformedACL, len(acl), e.Perm)
		}
		acl = append(acl, e)
	}
	return acl, nil
}

// Marshal encodes a in the kernel's binary format, entries in the order
// given. It does not validate a: the kernel rejects an ACL it cannot use
// when the value is written.
func (a ACL) Marshal() []byte {
	b := make([]byte, aclHeaderSize, aclHeaderSize+len(a)*aclEntrySize)
	binary.LittleEndian.PutUint32(b, aclVersion)
	for _, e := range a {
		b = binary.LittleEndian.AppendUint16(b, uint16(e.Tag))
		b = binary.LittleEndian.AppendUint16(b, e.Perm)
		b = binary.LittleEndian.AppendUint32(b, e.ID)
	}
	return b
}

// mapIDs returns a copy of a with the ids of ACLUser and ACLGroup entries
// replaced by user(id) and group(id), sorted the way the kernel and
// libacl keep ACLs (by tag, then id). It fails when two entries would end
// up with the same tag and id, since merging them would change whom the
// ACL grants what.
func (a ACL) mapIDs(user, group func(uint32) uint32) (ACL, error) {
	out := make(ACL, len(a))
	copy(out, a)
	for i := range out {
		switch out[i].Tag {
		case ACLUser:
			out[i].ID = user(out[i].ID)
		case ACLGroup:
			out[i].ID = group(out[i].ID)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Tag != out[j].Tag {
			return out[i].Tag < out[j].Tag
		}
		return (out[i].Tag == ACLUser || out[i].Tag == ACLGroup) && out[i].ID < out[j].ID
	})
	for i := 1; i < len(out); i++ {
		p, e := out[i-1], out[i]
		if (e.Tag == ACLUser || e.Tag == ACLGroup) && p.Tag == e.Tag && p.ID == e.ID {
			return nil, fmt.Errorf("two %s entries map to id %d", e.Tag, e.ID)
		}
	}
	return out, nil
}
