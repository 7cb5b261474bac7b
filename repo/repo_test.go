package repo_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/mem"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/pack"
)

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenWithTheInitPassphrase(t *testing.T) {
	be, r := newRepo(t, 0)
	o := openRepo(t, be, testPassphrase)
	if o.Config().ID != r.Config().ID {
		t.Errorf("opened repository %s, initialised %s", o.Config().ID, r.Config().ID)
	}
	if o.Config().PackSize != repo.DefaultPackSize {
		t.Errorf("pack size %d, want the default %d", o.Config().PackSize, repo.DefaultPackSize)
	}
	if !o.CanReadData() {
		t.Error("owner open cannot read data")
	}
	if o.Polynomial() != r.Polynomial() || o.Keys().Fingerprint() != r.Keys().Fingerprint() {
		t.Error("opened repository has other keys than the initialised one")
	}
	name, info := o.CurrentKey()
	if name == "" || info.Kind != "passphrase" || info.Host != "test-host" {
		t.Errorf("CurrentKey = %q, %+v", name, info)
	}
}

func TestOpenWithWrongPassphraseFailsWithNoMatchingKey(t *testing.T) {
	be, _ := newRepo(t, 0)
	for _, ids := range []crypto.Identities{crypto.PassphraseIdentities("wrong"), {}} {
		_, err := repo.Open(context.Background(), be, repo.Unlocker{Identities: ids})
		if !errors.Is(err, crypto.ErrNoMatchingKey) {
			t.Errorf("Open = %v, want ErrNoMatchingKey", err)
		}
	}
}

func TestOpenEmptyBackendSaysRepositoryDoesNotExist(t *testing.T) {
	_, err := repo.Open(context.Background(), mem.New(), repo.Unlocker{Identities: crypto.PassphraseIdentities(testPassphrase)})
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open = %v, want a does-not-exist error wrapping fs.ErrNotExist", err)
	}
}

func TestInitRefusesExistingRepository(t *testing.T) {
	be, _ := newRepo(t, 0)
	c, _ := crypto.PassphraseCredential("other", 10)
	_, err := repo.Init(context.Background(), be, repo.InitOptions{Credentials: []crypto.Credential{c}, Now: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Init = %v, want an already-exists error", err)
	}
	if _, err := repo.Init(context.Background(), mem.New(), repo.InitOptions{Now: time.Now()}); err == nil {
		t.Error("Init without a credential succeeded")
	}
}

func TestOpenRejectsNewerFormatVersion(t *testing.T) {
	be, r := newRepo(t, 0)
	ctx := context.Background()
	h := backends.Handle{Type: backends.ConfigFile}
	sealed, err := backends.LoadAll(ctx, be, h)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := r.Keys().OpenMeta(sealed)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(plain, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["version"] = repo.FormatVersion + 1
	plain, _ = json.Marshal(cfg)
	sealed, err = r.Keys().SealMeta(plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, h, sealed); err != nil {
		t.Fatal(err)
	}
	_, err = repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities(testPassphrase)})
	if !errors.Is(err, repo.ErrNewerVersion) {
		t.Errorf("Open = %v, want ErrNewerVersion", err)
	}
}

func TestSaveBlobDeduplicates(t *testing.T) {
	ctx := context.Background()
	_, r := newRepo(t, 0)
	data := []byte("the same content")
	id1, new1, err := r.SaveBlob(ctx, blob.DataBlob, data)
	if err != nil || !new1 {
		t.Fatalf("first SaveBlob = %v, %v", new1, err)
	}
	id2, new2, err := r.SaveBlob(ctx, blob.DataBlob, data)
	if err != nil || new2 {
		t.Fatalf("second SaveBlob = %v, %v, want not new", new2, err)
	}
	if id1 != id2 || id1 != r.BlobID(data) {
		t.Errorf("ids %s and %s differ", id1.Short(), id2.Short())
	}
	if s := r.SaveStats(); s.Blobs != 1 || s.Bytes != uint64(len(data)) {
		t.Errorf("SaveStats = %+v, want one blob", s)
	}
}

func TestHasBlobSeesInFlightBlobs(t *testing.T) {
	ctx := context.Background()
	_, r := newRepo(t, 0)
	id, _, err := r.SaveBlob(ctx, blob.DataBlob, []byte("pending"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Index().Has(id) {
		t.Fatal("blob indexed before its pack was uploaded; the test needs an in-flight blob")
	}
	if !r.HasBlob(id) {
		t.Error("HasBlob does not see the in-flight blob")
	}
	if r.HasBlob(r.BlobID([]byte("never saved"))) {
		t.Error("HasBlob reports a blob never saved")
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if !r.Index().Has(id) || !r.HasBlob(id) {
		t.Error("blob not indexed after Flush")
	}
}

func TestFlushWritesIndexThatAnotherOpenLoads(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 0)
	data := []byte("durable")
	tdata := []byte(`{"nodes":[]}` + "\n")
	id, _, err := r.SaveBlob(ctx, blob.DataBlob, data)
	if err != nil {
		t.Fatal(err)
	}
	tid, _, err := r.SaveBlob(ctx, blob.TreeBlob, tdata)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(names(t, be, backends.IndexFile)); n != 0 {
		t.Fatalf("%d index objects before Flush", n)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(names(t, be, backends.IndexFile)); n != 1 {
		t.Fatalf("%d index objects after Flush, want 1", n)
	}
	if n := len(names(t, be, backends.PackFile)); n != 2 {
		t.Errorf("%d packs, want one data and one tree pack", n)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(names(t, be, backends.IndexFile)); n != 1 {
		t.Errorf("a Flush with nothing new wrote an index object (%d)", n)
	}

	o, err := repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities(testPassphrase)})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.HasBlob(id) {
		t.Fatal("index loaded before LoadIndex")
	}
	if err := o.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if !o.HasBlob(id) || !o.HasBlob(tid) {
		t.Fatal("second open does not see the flushed blobs")
	}
	got, err := o.LoadBlob(ctx, blob.DataBlob, id)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("LoadBlob = %q, %v", got, err)
	}
	tree, err := o.LoadTree(ctx, tid)
	if err != nil || len(tree.Nodes) != 0 {
		t.Fatalf("LoadTree = %v, %v", tree, err)
	}
	if size, ok := o.BlobSize(id); !ok || size != uint32(len(data)) {
		t.Errorf("BlobSize = %d, %v", size, ok)
	}
	if _, added, err := o.SaveBlob(ctx, blob.DataBlob, data); err != nil || added {
		t.Errorf("SaveBlob of an indexed blob = %v, %v; want not new", added, err)
	}
}

func TestLoadBlobChecksType(t *testing.T) {
	ctx := context.Background()
	_, r := newRepo(t, 0)
	id, _, _ := r.SaveBlob(ctx, blob.DataBlob, []byte("data"))
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := r.LoadBlob(ctx, blob.TreeBlob, id)
	if !errors.Is(err, repo.ErrCorrupt) {
		t.Errorf("LoadBlob of a data blob as a tree = %v, want ErrCorrupt", err)
	}
	_, err = r.LoadBlob(ctx, blob.DataBlob, r.BlobID([]byte("missing")))
	var be *repo.BlobError
	if !errors.As(err, &be) || !be.Pack.IsNull() {
		t.Errorf("LoadBlob of an unknown blob = %v, want a *BlobError without pack", err)
	}
}

// saveOnePack saves blobs into a new repository, which puts them in one
// data pack, and returns the backend, the blob ids and the pack id.
func saveOnePack(t *testing.T, blobs ...[]byte) (*mem.Backend, []blob.ID, blob.ID) {
	t.Helper()
	ctx := context.Background()
	be, r := newRepo(t, 0)
	var ids []blob.ID
	for _, b := range blobs {
		id, _, err := r.SaveBlob(ctx, blob.DataBlob, b)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	packs := names(t, be, backends.PackFile)
	if len(packs) != 1 {
		t.Fatalf("%d packs, want 1", len(packs))
	}
	pid, err := blob.ParseID(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	return be, ids, pid
}

func TestLoadBlobOfTamperedPackFailsNamingThePack(t *testing.T) {
	data := randomBytes(t, 100<<10)
	for _, where := range []struct {
		name string
		pos  func(n int) int
	}{
		{"age header", func(n int) int { return 40 }},
		{"payload", func(n int) int { return n / 2 }},
		{"last byte", func(n int) int { return n - 1 }},
	} {
		t.Run(where.name, func(t *testing.T) {
			ctx := context.Background()
			be, ids, pid := saveOnePack(t, data)
			h := backends.Handle{Type: backends.PackFile, Name: pid.String()}
			sealed, err := backends.LoadAll(ctx, be, h)
			if err != nil {
				t.Fatal(err)
			}
			sealed[where.pos(len(sealed))] ^= 0x01
			replace(t, be, h, sealed)

			r := openRepo(t, be, testPassphrase)
			got, err := r.LoadBlob(ctx, blob.DataBlob, ids[0])
			if err == nil {
				t.Fatalf("LoadBlob of a tampered pack returned %d bytes", len(got))
			}
			if !errors.Is(err, repo.ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
			var berr *repo.BlobError
			if !errors.As(err, &berr) || berr.Pack != pid || berr.Blob != ids[0] {
				t.Errorf("error %v is not a *BlobError naming pack %s", err, pid.Short())
			}
			if !strings.Contains(err.Error(), pid.String()) {
				t.Errorf("message %q does not name the pack", err)
			}
		})
	}
}

func TestLoadBlobVerifiesContentAgainstID(t *testing.T) {
	ctx := context.Background()
	be, ids, pid := saveOnePack(t, []byte("first blob"), []byte("second blob"))
	r := openRepo(t, be, testPassphrase)
	loc, ok := r.Index().Lookup(ids[0])
	if !ok {
		t.Fatal("blob not indexed")
	}
	// A fresh index that claims the first blob's bytes are another blob,
	// as a swapped or forged index would.
	o, err := repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities(testPassphrase)})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	frame := -1
	for i, f := range loc.Pack.Frames {
		if f == loc.Frame {
			frame = i
		}
	}
	claimed := o.BlobID([]byte("something else"))
	p := *loc.Pack
	err = o.Index().AddPack(&p, []pack.Entry{{Type: blob.DataBlob, ID: claimed, Frame: uint32(frame), Offset: loc.Offset, Length: loc.Length}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.LoadBlob(ctx, blob.DataBlob, claimed)
	var berr *repo.BlobError
	if !errors.Is(err, repo.ErrCorrupt) || !errors.As(err, &berr) || berr.Pack != pid {
		t.Errorf("LoadBlob of mismatching content = %v, want a *BlobError wrapping ErrCorrupt", err)
	}
}

func TestPacksAreSplitAtPackSize(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 1<<20)
	want := map[blob.ID][]byte{}
	for range 14 { // 14 × 256 KiB = 3.5 MiB
		data := randomBytes(t, 256<<10)
		id, _, err := r.SaveBlob(ctx, blob.DataBlob, data)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = data
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	packs := names(t, be, backends.PackFile)
	if len(packs) < 3 {
		t.Fatalf("%d packs for 3.5 MiB with a 1 MiB pack size, want at least 3", len(packs))
	}
	if s := r.SaveStats(); s.Packs != uint64(len(packs)) || s.Blobs != 14 {
		t.Errorf("SaveStats = %+v, want %d packs and 14 blobs", s, len(packs))
	}
	o := openRepo(t, be, testPassphrase)
	for id, data := range want {
		loc, ok := o.Index().Lookup(id)
		if !ok {
			t.Fatalf("blob %s not indexed", id.Short())
		}
		if loc.Pack.Size > 2<<20 {
			t.Errorf("pack %s is %d bytes, far over the pack size", loc.Pack.ID.Short(), loc.Pack.Size)
		}
		got, err := o.LoadBlob(ctx, blob.DataBlob, id)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("LoadBlob(%s) = %d bytes, %v", id.Short(), len(got), err)
		}
	}
}

func TestTreeAndDataBlobsGoToSeparatePacks(t *testing.T) {
	ctx := context.Background()
	_, r := newRepo(t, 0)
	did, _, _ := r.SaveBlob(ctx, blob.DataBlob, []byte("data"))
	tid, _, _ := r.SaveBlob(ctx, blob.TreeBlob, []byte(`{"nodes":[]}`))
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dloc, _ := r.Index().Lookup(did)
	tloc, _ := r.Index().Lookup(tid)
	if dloc.Pack == nil || tloc.Pack == nil {
		t.Fatal("blobs not indexed")
	}
	if dloc.Pack.ID == tloc.Pack.ID {
		t.Error("tree and data blob share a pack")
	}
	if dloc.Pack.Type != blob.DataBlob || tloc.Pack.Type != blob.TreeBlob {
		t.Errorf("pack types %s and %s, want data and tree", dloc.Pack.Type, tloc.Pack.Type)
	}
	hdr, _, err := r.PackHeader(ctx, tloc.Pack.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hdr.Blobs) != 1 || hdr.Blobs[0].ID != tid || hdr.Blobs[0].Type != blob.TreeBlob {
		t.Errorf("tree pack header lists %+v", hdr.Blobs)
	}
}

// writeKeyRepo returns the backend of a repository and a repository on it
// opened with a write key that went through its file form.
func writeKeyRepo(t *testing.T) (*mem.Backend, *repo.Repository) {
	t.Helper()
	be, owner := newRepo(t, 0)
	wk, err := owner.Keys().NewWriteKey("mx1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	file, err := wk.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := crypto.ParseWriteKey(file)
	if err != nil {
		t.Fatal(err)
	}
	w, err := repo.Open(context.Background(), be, repo.Unlocker{WriteKey: parsed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if err := w.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	return be, w
}

func TestWriteKeyCanSaveButNotLoad(t *testing.T) {
	ctx := context.Background()
	be, w := writeKeyRepo(t)
	if w.CanReadData() {
		t.Fatal("write key open can read data")
	}
	if name, _ := w.CurrentKey(); name != "" {
		t.Errorf("write key open names key object %q", name)
	}
	data := []byte("mail from a write-only host")
	id, added, err := w.SaveBlob(ctx, blob.DataBlob, data)
	if err != nil || !added {
		t.Fatalf("SaveBlob = %v, %v", added, err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.LoadBlob(ctx, blob.DataBlob, id); !errors.Is(err, crypto.ErrWriteOnly) {
		t.Errorf("LoadBlob with a write key = %v, want ErrWriteOnly", err)
	}
	if _, err := w.LoadTree(ctx, id); !errors.Is(err, crypto.ErrWriteOnly) {
		t.Errorf("LoadTree with a write key = %v, want ErrWriteOnly", err)
	}
	if _, _, err := w.PackHeader(ctx, blob.ID{}); !errors.Is(err, crypto.ErrWriteOnly) {
		t.Errorf("PackHeader with a write key = %v, want ErrWriteOnly", err)
	}
	c, _ := crypto.PassphraseCredential("thief", 10)
	if _, _, err := w.AddKey(ctx, c, crypto.KeyInfo{}); !errors.Is(err, crypto.ErrWriteOnly) {
		t.Errorf("AddKey with a write key = %v, want ErrWriteOnly", err)
	}

	o := openRepo(t, be, testPassphrase)
	got, err := o.LoadBlob(ctx, blob.DataBlob, id)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("owner LoadBlob of what the write key saved = %q, %v", got, err)
	}
}

func TestWriteKeyOfAnotherRepositoryIsRejected(t *testing.T) {
	be, _ := newRepo(t, 0)
	_, other := newRepo(t, 0)
	wk, err := other.Keys().NewWriteKey("mx1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = repo.Open(context.Background(), be, repo.Unlocker{WriteKey: wk})
	if !errors.Is(err, crypto.ErrNoMatchingKey) {
		t.Errorf("Open with a foreign write key = %v, want ErrNoMatchingKey", err)
	}
}

func TestLoadIndexRejectsIndexUnderWrongName(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 0)
	id, _, _ := r.SaveBlob(ctx, blob.DataBlob, []byte("x"))
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	idxNames := names(t, be, backends.IndexFile)
	h := backends.Handle{Type: backends.IndexFile, Name: idxNames[0]}
	sealed, _ := backends.LoadAll(ctx, be, h)
	if err := be.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	forged := strings.Repeat("0", 64)
	if err := be.Save(ctx, backends.Handle{Type: backends.IndexFile, Name: forged}, sealed); err != nil {
		t.Fatal(err)
	}
	o, err := repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities(testPassphrase)})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.LoadIndex(ctx); !errors.Is(err, repo.ErrCorrupt) || !strings.Contains(err.Error(), forged) {
		t.Errorf("LoadIndex = %v, want ErrCorrupt naming index/%s", err, forged)
	}
	if o.HasBlob(id) {
		t.Error("blob from a rejected index object is indexed")
	}
}

func TestLoadIndexReportsBadObjectsAfterLoadingTheRest(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 0)
	id, _, _ := r.SaveBlob(ctx, blob.DataBlob, []byte("good"))
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A well-formed but unsupported index object, properly named.
	plain := []byte(`{"version":99,"packs":[]}`)
	sealed, _ := r.Keys().SealMeta(plain)
	name := blob.ID(r.Keys().MetaID(plain)).String()
	if err := be.Save(ctx, backends.Handle{Type: backends.IndexFile, Name: name}, sealed); err != nil {
		t.Fatal(err)
	}
	o, err := repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities(testPassphrase)})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	err = o.LoadIndex(ctx)
	if err == nil || !strings.Contains(err.Error(), name) {
		t.Errorf("LoadIndex = %v, want an error naming index/%s", err, name)
	}
	if !o.HasBlob(id) {
		t.Error("the good index object was not loaded")
	}
}
