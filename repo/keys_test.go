package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
)

func TestAddKeyOpensWithTheNewPassphrase(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 0)
	c, _ := crypto.PassphraseCredential("second", 10)
	name, info, err := r.AddKey(ctx, c, crypto.KeyInfo{Host: "laptop", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != "passphrase" || info.Recipient != "" {
		t.Errorf("info = %+v", info)
	}
	o := openRepo(t, be, "second")
	if got, _ := o.CurrentKey(); got != name {
		t.Errorf("unlocked with %q, want the added key %q", got, name)
	}
	if o.Config().ID != r.Config().ID {
		t.Error("the new key opens another repository")
	}
}

func TestListKeysMarksTheCurrentKey(t *testing.T) {
	ctx := context.Background()
	_, r := newRepo(t, 0)
	current, _ := r.CurrentKey()
	c, _ := crypto.PassphraseCredential("second", 10)
	if _, _, err := r.AddKey(ctx, c, crypto.KeyInfo{}); err != nil {
		t.Fatal(err)
	}
	keys, err := r.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("%d keys, want 2", len(keys))
	}
	for _, k := range keys {
		if k.Current != (k.Name == current) {
			t.Errorf("key %s: Current = %v", k.Name, k.Current)
		}
		if k.Current != (k.Info != nil) {
			t.Errorf("key %s: Info known = %v, want only for the current key", k.Name, k.Info != nil)
		}
		if len(k.Types) != 1 || k.Types[0] != "scrypt" {
			t.Errorf("key %s: stanza types %v, want [scrypt]", k.Name, k.Types)
		}
	}
}

func TestRemoveKeyRules(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 0)
	current, _ := r.CurrentKey()

	err := r.RemoveKey(ctx, current)
	if err == nil || !strings.Contains(err.Error(), "last key") {
		t.Errorf("removing the only key = %v, want a last-key error", err)
	}

	c, _ := crypto.PassphraseCredential("second", 10)
	second, _, err := r.AddKey(ctx, c, crypto.KeyInfo{})
	if err != nil {
		t.Fatal(err)
	}
	err = r.RemoveKey(ctx, current)
	if err == nil || !strings.Contains(err.Error(), "unlocked with") {
		t.Errorf("removing the current key = %v, want a refusal", err)
	}
	if err := r.RemoveKey(ctx, strings.Repeat("0", 64)); err == nil {
		t.Error("removing a key that does not exist succeeded")
	}

	if resolved, err := r.ResolveKeyName(ctx, second[:10]); err != nil || resolved != second {
		t.Errorf("ResolveKeyName = %q, %v; want %q", resolved, err, second)
	}

	if err := r.RemoveKey(ctx, second); err != nil {
		t.Fatal(err)
	}
	_, err = repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities("second")})
	if !errors.Is(err, crypto.ErrNoMatchingKey) {
		t.Errorf("Open with a removed key = %v, want ErrNoMatchingKey", err)
	}
	openRepo(t, be, testPassphrase)

	// Unlocked with the second key, the first one may go.
	if _, _, err := r.AddKey(ctx, c, crypto.KeyInfo{}); err != nil {
		t.Fatal(err)
	}
	o := openRepo(t, be, "second")
	if err := o.RemoveKey(ctx, current); err != nil {
		t.Errorf("removing another key = %v", err)
	}
	if _, err := repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities(testPassphrase)}); !errors.Is(err, crypto.ErrNoMatchingKey) {
		t.Errorf("Open with the removed first key = %v, want ErrNoMatchingKey", err)
	}
}
