// Package tree is the encoding of directory listings: one tree blob per
// directory, its nodes sorted by name, encoded canonically so that the
// same directory always yields the same bytes and so the same blob id.
// It knows nothing of how blobs are stored.
package tree

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Tree is the content of one tree blob.
type Tree struct {
	Nodes []*Node `json:"nodes"`
}

// Insert adds n, keeping the nodes sorted; a duplicate name is an error.
func (t *Tree) Insert(n *Node) error {
	i := sort.Search(len(t.Nodes), func(i int) bool { return t.Nodes[i].Name >= n.Name })
	if i < len(t.Nodes) && t.Nodes[i].Name == n.Name {
		return fmt.Errorf("duplicate name %q in tree", n.Name)
	}
	t.Nodes = append(t.Nodes, nil)
	copy(t.Nodes[i+1:], t.Nodes[i:])
	t.Nodes[i] = n
	return nil
}

// Find returns the node called name, or nil.
func (t *Tree) Find(name string) *Node {
	i := sort.Search(len(t.Nodes), func(i int) bool { return string(t.Nodes[i].Name) >= name })
	if i < len(t.Nodes) && string(t.Nodes[i].Name) == name {
		return t.Nodes[i]
	}
	return nil
}

// Marshal returns the canonical encoding of t: JSON with the nodes sorted
// by the bytes of their names, times in UTC, and a trailing newline.
func Marshal(t *Tree) ([]byte, error) {
	nodes := make([]*Node, len(t.Nodes))
	copy(nodes, t.Nodes)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	for i := 1; i < len(nodes); i++ {
		if nodes[i].Name == nodes[i-1].Name {
			return nil, fmt.Errorf("duplicate name %q in tree", nodes[i].Name)
		}
	}
	canon := make([]*Node, len(nodes))
	for i, n := range nodes {
		if err := validName(n.Name); err != nil {
			return nil, err
		}
		c := *n
		c.MTime, c.ATime, c.CTime = c.MTime.UTC(), c.ATime.UTC(), c.CTime.UTC()
		if len(c.Xattrs) > 1 {
			c.Xattrs = append([]Xattr(nil), c.Xattrs...)
			sort.Slice(c.Xattrs, func(i, j int) bool { return c.Xattrs[i].Name < c.Xattrs[j].Name })
		}
		canon[i] = &c
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Tree{Nodes: canon}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes a tree blob and checks that its nodes are sorted and
// unique, as Marshal writes them.
func Unmarshal(data []byte) (*Tree, error) {
	var t Tree
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("decode tree: %w", err)
	}
	for i, n := range t.Nodes {
		if n == nil {
			return nil, fmt.Errorf("decode tree: null node")
		}
		if err := validName(n.Name); err != nil {
			return nil, fmt.Errorf("decode tree: %w", err)
		}
		if i > 0 && t.Nodes[i-1].Name >= n.Name {
			return nil, fmt.Errorf("decode tree: nodes not sorted at %q", n.Name)
		}
	}
	return &t, nil
}

// validName rejects names that cannot be a directory entry.
func validName(name RawString) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(string(name), "/\x00") {
		return fmt.Errorf("invalid name %q", name)
	}
	return nil
}
