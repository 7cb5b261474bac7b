package fsmeta

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// kernelACL is the kernel's encoding of the ACL user::rw-, user:1000:r--,
// group::r--, group:100:rwx, mask::rwx, other::--- (written to and read
// back from a real file in TestACLRoundTripsThroughTheKernel).
const kernelACL = "02000000" +
	"01000600ffffffff" +
	"02000400e8030000" +
	"04000400ffffffff" +
	"0800070064000000" +
	"10000700ffffffff" +
	"20000000ffffffff"

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseACLDecodesKernelFormat(t *testing.T) {
	raw := mustHex(t, kernelACL)
	acl, err := ParseACL(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := ACL{
		{ACLUserObj, ACLRead | ACLWrite, ACLUndefinedID},
		{ACLUser, ACLRead, 1000},
		{ACLGroupObj, ACLRead, ACLUndefinedID},
		{ACLGroup, ACLRead | ACLWrite | ACLExecute, 100},
		{ACLMask, ACLRead | ACLWrite | ACLExecute, ACLUndefinedID},
		{ACLOther, 0, ACLUndefinedID},
	}
	if !reflect.DeepEqual(acl, want) {
		t.Fatalf("ParseACL = %v, want %v", acl, want)
	}
	if got := acl.Marshal(); !bytes.Equal(got, raw) {
		t.Fatalf("Marshal = %x, want %x", got, raw)
	}
}

func TestParseACLAcceptsHeaderOnly(t *testing.T) {
	acl, err := ParseACL(mustHex(t, "02000000"))
	if err != nil {
		t.Fatal(err)
	}
	if len(acl) != 0 {
		t.Fatalf("ParseACL = %v, want no entries", acl)
	}
}

func TestParseACLRejectsMalformedInput(t *testing.T) {
	tests := []struct {
		name, hex, want string
	}{
		{"empty", "", "0 bytes"},
		{"short header", "0200", "2 bytes"},
		{"version 1", "01000000", "version 1"},
		{"version 3", "03000000" + "01000600ffffffff", "version 3"},
		{"truncated entry", "02000000" + "01000600ffff", "not a multiple"},
		{"unknown tag", "02000000" + "40000600ffffffff", "unknown tag 0x40"},
		{"zero tag", "02000000" + "00000600ffffffff", "unknown tag 0x0"},
		{"permission beyond rwx", "02000000" + "01000800ffffffff", "permissions 0x8"},
		{"bad second entry", "02000000" + "01000600ffffffff" + "03000600ffffffff", "entry 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseACL(mustHex(t, tt.hex))
			if err == nil {
				t.Fatal("ParseACL succeeded")
			}
			if !errors.Is(err, ErrMalformedACL) {
				t.Errorf("error %v does not wrap ErrMalformedACL", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestMapIDsMapsNamedEntriesAndSorts(t *testing.T) {
	acl := ACL{
		{ACLUserObj, 6, ACLUndefinedID},
		{ACLUser, 4, 10},
		{ACLUser, 6, 20},
		{ACLGroupObj, 4, ACLUndefinedID},
		{ACLGroup, 4, 30},
		{ACLMask, 6, ACLUndefinedID},
		{ACLOther, 0, ACLUndefinedID},
	}
	users := map[uint32]uint32{10: 500, 20: 5}
	groups := map[uint32]uint32{30: 300}
	got, err := acl.mapIDs(
		func(id uint32) uint32 { return users[id] },
		func(id uint32) uint32 { return groups[id] },
	)
	if err != nil {
		t.Fatal(err)
	}
	want := ACL{
		{ACLUserObj, 6, ACLUndefinedID},
		{ACLUser, 6, 5},
		{ACLUser, 4, 500},
		{ACLGroupObj, 4, ACLUndefinedID},
		{ACLGroup, 4, 300},
		{ACLMask, 6, ACLUndefinedID},
		{ACLOther, 0, ACLUndefinedID},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mapIDs = %v, want %v", got, want)
	}
	if acl[1].ID != 10 {
		t.Fatal("mapIDs modified its receiver")
	}
}

func TestMapIDsRejectsEntriesThatCollide(t *testing.T) {
	acl := ACL{
		{ACLUserObj, 6, ACLUndefinedID},
		{ACLUser, 4, 10},
		{ACLUser, 6, 20},
		{ACLGroupObj, 4, ACLUndefinedID},
		{ACLMask, 6, ACLUndefinedID},
		{ACLOther, 0, ACLUndefinedID},
	}
	same := func(uint32) uint32 { return 7 }
	if _, err := acl.mapIDs(same, same); err == nil {
		t.Fatal("mapIDs merged two user entries without an error")
	}
}

func FuzzParseACL(f *testing.F) {
	seeds := []string{
		kernelACL,
		"02000000",
		"02000000" + "01000700ffffffff" + "04000500ffffffff" + "20000500ffffffff",
		"02000000" + "02000400e8030000",
		"01000000",
		"02000000" + "40000600ffffffff",
	}
	for _, s := range seeds {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		acl, err := ParseACL(b)
		if err != nil {
			return
		}
		out := acl.Marshal()
		if !bytes.Equal(out, b) {
			t.Fatalf("Marshal(ParseACL(%x)) = %x", b, out)
		}
		again, err := ParseACL(out)
		if err != nil {
			t.Fatalf("ParseACL of Marshal output: %v", err)
		}
		if !reflect.DeepEqual(again, acl) {
			t.Fatalf("ParseACL(Marshal(a)) = %v, want %v", again, acl)
		}
	})
}
