package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo/blob"
)

// KeyObject describes one keys/ object as far as it can be seen without
// opening it: the recipient types in its age header.
type KeyObject struct {
	Name    string
	Types   []string
	Current bool
	// Intact reports whether the name is the BLAKE3 hash of the object's
	// bytes; a key object that was damaged, truncated or swapped is not.
	Intact bool
	// Info is known only for the key object that unlocked the repository.
	Info *crypto.KeyInfo
}

// AddKey seals the repository's keys to a new owner credential and stores
// the key object, named by the hash of its ciphertext. Needs owner keys.
func (r *Repository) AddKey(ctx context.Context, c crypto.Credential, info crypto.KeyInfo) (string, crypto.KeyInfo, error) {
	if !r.keys.CanReadData() {
		return "", info, fmt.Errorf("add key: %w", crypto.ErrWriteOnly)
	}
	info.Created = info.Created.UTC()
	sealed, err := r.keys.SealKeyObject(c, info)
	if err != nil {
		return "", info, fmt.Errorf("add key: %w", err)
	}
	name := blob.Hash(sealed).String()
	if err := r.be.Save(ctx, backends.Handle{Type: backends.KeyFile, Name: name}, sealed); err != nil {
		return "", info, fmt.Errorf("save keys/%s: %w", name, err)
	}
	info.Kind, info.Recipient = c.Kind(), ""
	if c.Kind() != "passphrase" {
		info.Recipient = c.String()
	}
	return name, info, nil
}

// ListKeys describes every key object.
func (r *Repository) ListKeys(ctx context.Context) ([]KeyObject, error) {
	names, err := r.listNames(ctx, backends.KeyFile)
	if err != nil {
		return nil, err
	}
	var out []KeyObject
	for _, name := range names {
		data, err := backends.LoadAll(ctx, r.be, backends.Handle{Type: backends.KeyFile, Name: name})
		if err != nil {
			return nil, fmt.Errorf("load keys/%s: %w", name, err)
		}
		types, err := crypto.StanzaTypes(data)
		if err != nil {
			types = []string{"unreadable: " + err.Error()}
		}
		ko := KeyObject{Name: name, Types: types, Current: name == r.keyName, Intact: blob.Hash(data).String() == name}
		if ko.Current {
			info := r.keyInfo
			ko.Info = &info
		}
		out = append(out, ko)
	}
	return out, nil
}

// RemoveKey deletes a key object. It refuses to remove the key that
// unlocked the repository (use another credential) or the last key.
func (r *Repository) RemoveKey(ctx context.Context, name string) error {
	if !r.keys.CanReadData() {
		return fmt.Errorf("remove key: %w", crypto.ErrWriteOnly)
	}
	names, err := r.listNames(ctx, backends.KeyFile)
	if err != nil {
		return err
	}
	found := false
	for _, n := range names {
		if n == name {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("remove key: no key object %q: %w", name, errNotFound)
	}
	if len(names) == 1 {
		return errors.New("remove key: it is the last key; the repository would become unreadable")
	}
	if name == r.keyName {
		return errors.New("remove key: it is the key this command was unlocked with; unlock with another credential to remove it")
	}
	return r.be.Remove(ctx, backends.Handle{Type: backends.KeyFile, Name: name})
}

// ResolveKeyName expands a unique prefix of a key object name.
func (r *Repository) ResolveKeyName(ctx context.Context, prefix string) (string, error) {
	names, err := r.listNames(ctx, backends.KeyFile)
	if err != nil {
		return "", err
	}
	return uniquePrefix("key", prefix, names)
}

var errNotFound = errors.New("not found")

func uniquePrefix(what, prefix string, names []string) (string, error) {
	if prefix == "" {
		return "", fmt.Errorf("empty %s id", what)
	}
	var match string
	n := 0
	for _, name := range names {
		if len(name) >= len(prefix) && name[:len(prefix)] == prefix {
			match = name
			n++
		}
	}
	switch n {
	case 0:
		return "", fmt.Errorf("no %s matches %q: %w", what, prefix, errNotFound)
	case 1:
		return match, nil
	}
	return "", fmt.Errorf("%s id %q is ambiguous (%d matches): give more digits", what, prefix, n)
}
