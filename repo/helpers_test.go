package repo_test

import (
	"context"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/mem"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
)

const testPassphrase = "pw"

// newRepo initialises a repository with one passphrase key on a fresh
// in-memory backend.
func newRepo(t *testing.T, packSize int) (*mem.Backend, *repo.Repository) {
	t.Helper()
	c, err := crypto.PassphraseCredential(testPassphrase, 10)
	if err != nil {
		t.Fatal(err)
	}
	be := mem.New()
	r, err := repo.Init(context.Background(), be, repo.InitOptions{
		Credentials: []crypto.Credential{c},
		PackSize:    packSize,
		Host:        "test-host",
		Now:         time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return be, r
}

// openRepo opens be with the passphrase and loads the index.
func openRepo(t *testing.T, be backends.Backend, passphrase string) *repo.Repository {
	t.Helper()
	ctx := context.Background()
	r, err := repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities(passphrase)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

// names lists the objects of type ft.
func names(t *testing.T, be backends.Backend, ft backends.FileType) []string {
	t.Helper()
	var out []string
	err := be.List(context.Background(), ft, func(fi backends.FileInfo) error {
		out = append(out, fi.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// replace overwrites an existing object with data.
func replace(t *testing.T, be backends.Backend, h backends.Handle, data []byte) {
	t.Helper()
	ctx := context.Background()
	if err := be.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, h, data); err != nil {
		t.Fatal(err)
	}
}
