package repo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/mem"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
)

// saveMetaAs stores plaintext encrypted to M under its correct keyed name,
// as someone holding M and the blob-id key (a write key) could.
func saveMetaAs(t *testing.T, be backends.Backend, r *repo.Repository, ft backends.FileType, plain []byte) string {
	t.Helper()
	sealed, err := r.Keys().SealMeta(plain)
	if err != nil {
		t.Fatal(err)
	}
	name := blob.ID(r.Keys().MetaID(plain)).String()
	if err := be.Save(context.Background(), backends.Handle{Type: ft, Name: name}, sealed); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestForgedIndexEntryFailsBlobVerification replaces the index with one
// that is correctly named and encrypted but points every blob at another
// blob's place (another offset in the same frame, or another pack). Reading
// must fail with ErrCorrupt naming the pack, never return the other blob.
func TestForgedIndexEntryFailsBlobVerification(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 0)
	a, b := randomBytes(t, 1000), randomBytes(t, 1000)
	idA, _, _ := r.SaveBlob(ctx, blob.DataBlob, a)
	idB, _, _ := r.SaveBlob(ctx, blob.DataBlob, b)
	emptyTree, _ := tree.Marshal(&tree.Tree{})
	otherTree, _ := tree.Marshal(&tree.Tree{Nodes: []*tree.Node{{Name: tree.RawString("x"), Type: tree.File, Mode: 0o600}}})
	idT, _, _ := r.SaveBlob(ctx, blob.TreeBlob, emptyTree)
	idU, _, _ := r.SaveBlob(ctx, blob.TreeBlob, otherTree)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	files, err := r.IndexFiles(ctx)
	if err != nil || len(files) != 1 || files[0].Err != nil {
		t.Fatalf("IndexFiles = %v, %v", files, err)
	}
	genuine := files[0]

	// Swap the places of each pair of blobs: ids stay, locations lie.
	forged := *genuine.File
	forged.Packs = nil
	for _, p := range genuine.File.Packs {
		p.Blobs = append([]index.FileBlob(nil), p.Blobs...)
		if len(p.Blobs) != 2 {
			t.Fatalf("pack %s has %d blobs, want 2", p.ID.Short(), len(p.Blobs))
		}
		p.Blobs[0].ID, p.Blobs[1].ID = p.Blobs[1].ID, p.Blobs[0].ID
		forged.Packs = append(forged.Packs, p)
	}
	plain, err := forged.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Remove(ctx, backends.Handle{Type: backends.IndexFile, Name: genuine.Name}); err != nil {
		t.Fatal(err)
	}
	saveMetaAs(t, be, r, backends.IndexFile, plain)

	o := openRepo(t, be, testPassphrase)
	for _, c := range []struct {
		typ blob.Type
		id  blob.ID
	}{{blob.DataBlob, idA}, {blob.DataBlob, idB}, {blob.TreeBlob, idT}, {blob.TreeBlob, idU}} {
		got, err := o.LoadBlob(ctx, c.typ, c.id)
		var be *repo.BlobError
		if !errors.Is(err, repo.ErrCorrupt) || !errors.As(err, &be) || be.Pack.IsNull() {
			t.Errorf("LoadBlob(%s) through a forged index = %q, %v; want a BlobError naming the pack, wrapping ErrCorrupt", c.id.Short(), got, err)
		}
	}
	if _, err := o.LoadTree(ctx, idT); !errors.Is(err, repo.ErrCorrupt) {
		t.Errorf("LoadTree through a forged index = %v, want ErrCorrupt", err)
	}

	// Pointing the data blobs at the tree pack fails the same way.
	var dataPack, treePack index.FilePack
	for _, p := range genuine.File.Packs {
		if p.Type == blob.DataBlob {
			dataPack = p
		} else {
			treePack = p
		}
	}
	moved := treePack
	moved.Type = blob.DataBlob
	moved.Blobs = []index.FileBlob{treePack.Blobs[0], treePack.Blobs[1]}
	moved.Blobs[0].ID, moved.Blobs[1].ID = dataPack.Blobs[0].ID, dataPack.Blobs[1].ID
	plain, err = (&index.File{Packs: []index.FilePack{moved}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	other := mem.New()
	copyObjects(t, be, other)
	for _, n := range names(t, other, backends.IndexFile) {
		if err := other.Remove(ctx, backends.Handle{Type: backends.IndexFile, Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	saveMetaAs(t, other, r, backends.IndexFile, plain)
	o2 := openRepo(t, other, testPassphrase)
	for _, id := range []blob.ID{idA, idB} {
		if got, err := o2.LoadBlob(ctx, blob.DataBlob, id); !errors.Is(err, repo.ErrCorrupt) {
			t.Errorf("LoadBlob(%s) pointed at another pack = %q, %v; want ErrCorrupt", id.Short(), got, err)
		}
	}
}

// copyObjects copies every object of src to dst.
func copyObjects(t *testing.T, src, dst backends.Backend) {
	t.Helper()
	ctx := context.Background()
	for _, ft := range []backends.FileType{backends.KeyFile, backends.PackFile, backends.IndexFile, backends.SnapshotFile, backends.LockFile} {
		for _, n := range names(t, src, ft) {
			h := backends.Handle{Type: ft, Name: n}
			data, err := backends.LoadAll(ctx, src, h)
			if err != nil {
				t.Fatal(err)
			}
			if err := dst.Save(ctx, h, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg, err := backends.LoadAll(ctx, src, backends.Handle{Type: backends.ConfigFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Save(ctx, backends.Handle{Type: backends.ConfigFile}, cfg); err != nil {
		t.Fatal(err)
	}
}

// TestSwappedMetadataObjectFailsTheNameCheck puts one genuine metadata
// object's bytes under the name of another of the same type: both are
// valid age files encrypted to M, and only the keyed name tells them apart.
func TestSwappedMetadataObjectFailsTheNameCheck(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		ft   backends.FileType
		make func(r *repo.Repository, i int) []byte
	}{
		{backends.SnapshotFile, func(r *repo.Repository, i int) []byte {
			p, _ := (&snapshot.Snapshot{Time: t0.Add(time.Duration(i) * time.Hour), Host: "mx1", Paths: []string{"/etc"}, Tree: blob.ID{byte(i + 1)}}).Marshal()
			return p
		}},
		{backends.IndexFile, func(r *repo.Repository, i int) []byte {
			p, _ := (&index.File{Packs: []index.FilePack{{ID: blob.ID{byte(i + 1)}, Type: blob.DataBlob, Size: 100,
				Frames: []index.FileFrame{{Offset: 0, Length: 10, RawLength: 10}},
				Blobs:  []index.FileBlob{{ID: blob.ID{byte(i + 7)}, Frame: 0, Offset: 0, Length: 10}}}}}).Marshal()
			return p
		}},
		{backends.LockFile, func(r *repo.Repository, i int) []byte {
			return []byte(`{"time":"2025-01-01T00:00:00Z","exclusive":false,"host":"mx` + string(rune('1'+i)) + `","pid":1,"nonce":"00000000000000a` + string(rune('0'+i)) + `"}`)
		}},
	} {
		t.Run(string(tc.ft), func(t *testing.T) {
			be, r := newRepo(t, 0)
			a := saveMetaAs(t, be, r, tc.ft, tc.make(r, 0))
			b := saveMetaAs(t, be, r, tc.ft, tc.make(r, 1))
			sealedA, err := backends.LoadAll(ctx, be, backends.Handle{Type: tc.ft, Name: a})
			if err != nil {
				t.Fatal(err)
			}
			replace(t, be, backends.Handle{Type: tc.ft, Name: b}, sealedA)

			if _, plain, err := r.LoadMetaObject(ctx, tc.ft, a); err != nil || len(plain) == 0 {
				t.Errorf("the genuine object %s no longer loads: %v", a[:8], err)
			}
			_, plain, err := r.LoadMetaObject(ctx, tc.ft, b)
			if !errors.Is(err, repo.ErrCorrupt) || !strings.Contains(err.Error(), b) {
				t.Errorf("LoadMetaObject of the swapped object = %q, %v; want ErrCorrupt naming %s", plain, err, b)
			}
			if plain != nil {
				t.Errorf("the swapped object's plaintext was returned: %q", plain)
			}
		})
	}
}

// plantKeyObject stores a key object holding the attacker's keys, sealed
// to passphrase, as a storage provider who knows (or guessed) an owner's
// credential could.
func plantKeyObject(t *testing.T, be backends.Backend, attacker *crypto.Keys, passphrase string) string {
	t.Helper()
	c, err := crypto.PassphraseCredential(passphrase, 10)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := attacker.SealKeyObject(c, crypto.KeyInfo{Host: "attacker"})
	if err != nil {
		t.Fatal(err)
	}
	name := blob.Hash(sealed).String()
	if err := be.Save(context.Background(), backends.Handle{Type: backends.KeyFile, Name: name}, sealed); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestPlantedKeyObjectDoesNotRedirectTheOwner adds key objects that open
// with the owner's passphrase but hold an attacker's keys for the same
// repository id: the owner still gets the genuine keys.
func TestPlantedKeyObjectDoesNotRedirectTheOwner(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 0)
	// Several, so that some sort before the genuine key object.
	for range 4 {
		attacker, err := crypto.Generate(r.Keys().Scheme(), r.Config().ID, r.Polynomial())
		if err != nil {
			t.Fatal(err)
		}
		plantKeyObject(t, be, attacker, testPassphrase)
	}
	o, err := repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities(testPassphrase)})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Keys().Fingerprint() != r.Keys().Fingerprint() || o.Keys().DataRecipient() != r.Keys().DataRecipient() {
		t.Errorf("opened with fingerprint %s, want the genuine %s", o.Keys().Fingerprint(), r.Keys().Fingerprint())
	}
}

// TestPlantedKeyAndConfigChangeTheFingerprint replaces the config with
// the attacker's and plants a matching key object: the repository opens,
// but as a different repository, whose fingerprint differs from the
// genuine one in every part the attacker controls. The fingerprint pin is
// what refuses it (see cmd/godwit).
func TestPlantedKeyAndConfigChangeTheFingerprint(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 0)
	attacker, err := crypto.Generate(r.Keys().Scheme(), r.Config().ID, r.Polynomial())
	if err != nil {
		t.Fatal(err)
	}
	plantKeyObject(t, be, attacker, testPassphrase)
	cfg := r.Config()
	if cfg.Keys, err = attacker.MarshalConfigSecrets(); err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(cfg)
	sealed, err := attacker.SealMeta(plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, backends.Handle{Type: backends.ConfigFile}, sealed); err != nil {
		t.Fatal(err)
	}
	o, err := repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities(testPassphrase)})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Config().ID != r.Config().ID {
		t.Fatalf("opened repository %s, want the same id %s", o.Config().ID, r.Config().ID)
	}
	if o.Keys().Fingerprint() == r.Keys().Fingerprint() {
		t.Error("a repository with the attacker's keys has the genuine fingerprint")
	}
}

// TestWriteKeyRefusesConfigNamingAnotherDataRecipient replaces the config
// with one (encrypted to the genuine M) that names an attacker's data
// recipient: opening with the write key fails with ErrFingerprintPin and
// writes nothing.
func TestWriteKeyRefusesConfigNamingAnotherDataRecipient(t *testing.T) {
	ctx := context.Background()
	be, owner := newRepo(t, 0)
	wk, err := owner.Keys().NewWriteKey("mx1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	attacker, err := crypto.Generate(owner.Keys().Scheme(), owner.Config().ID, owner.Polynomial())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		secrets func() []byte
	}{
		{"all secrets the attacker's", func() []byte { s, _ := attacker.MarshalConfigSecrets(); return s }},
		{"only the data recipient the attacker's", func() []byte {
			s, _ := owner.Keys().MarshalConfigSecrets()
			return bytes.Replace(s, []byte(owner.Keys().DataRecipient()), []byte(attacker.DataRecipient()), 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := owner.Config()
			cfg.Keys = tc.secrets()
			plain, _ := json.Marshal(cfg)
			sealed, err := owner.Keys().SealMeta(plain)
			if err != nil {
				t.Fatal(err)
			}
			if err := be.Save(ctx, backends.Handle{Type: backends.ConfigFile}, sealed); err != nil {
				t.Fatal(err)
			}
			before := len(names(t, be, backends.PackFile)) + len(names(t, be, backends.IndexFile)) + len(names(t, be, backends.LockFile))
			w, err := repo.Open(ctx, be, repo.Unlocker{WriteKey: wk})
			if !errors.Is(err, crypto.ErrFingerprintPin) {
				if w != nil {
					w.Close()
				}
				t.Fatalf("write key Open of a redirected config = %v, want ErrFingerprintPin", err)
			}
			after := len(names(t, be, backends.PackFile)) + len(names(t, be, backends.IndexFile)) + len(names(t, be, backends.LockFile))
			if after != before {
				t.Errorf("%d objects written after the refusal", after-before)
			}
		})
	}
}
