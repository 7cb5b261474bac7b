package copier_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/mem"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/copier"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
)

// newRepo initialises a repository with one passphrase on a fresh
// in-memory backend and returns the backend and the open repository.
func newRepo(t *testing.T, passphrase string) (*mem.Backend, *repo.Repository) {
	t.Helper()
	c, err := crypto.PassphraseCredential(passphrase, 10)
	if err != nil {
		t.Fatal(err)
	}
	be := mem.New()
	r, err := repo.Init(context.Background(), be, repo.InitOptions{Credentials: []crypto.Credential{c}, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return be, r
}

// reopen opens be with u and loads its index, as a new process would.
func reopen(t *testing.T, be backends.Backend, u repo.Unlocker) *repo.Repository {
	t.Helper()
	ctx := context.Background()
	r, err := repo.Open(ctx, be, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func owner(pass string) repo.Unlocker {
	return repo.Unlocker{Identities: crypto.PassphraseIdentities(pass)}
}

// files maps slash-separated paths to contents; each content is one or
// more chunks.
type files map[string][][]byte

// saveSnapshot stores fs as a snapshot of r: every file with its chunks
// as data blobs, every directory as a tree.
func saveSnapshot(t *testing.T, r *repo.Repository, fs files, when time.Time, tags ...string) *snapshot.Snapshot {
	t.Helper()
	ctx := context.Background()
	var save func(prefix string) blob.ID
	save = func(prefix string) blob.ID {
		tr := &tree.Tree{}
		seen := map[string]bool{}
		for path, chunks := range fs {
			if !strings.HasPrefix(path, prefix) {
				continue
			}
			name, rest, isDir := strings.Cut(strings.TrimPrefix(path, prefix), "/")
			if seen[name] {
				continue
			}
			seen[name] = true
			n := &tree.Node{Name: tree.RawString(name), Mode: 0o644, MTime: when}
			if isDir {
				_ = rest
				id := save(prefix + name + "/")
				n.Type, n.Mode, n.Subtree = tree.Dir, 0o755, &id
			} else {
				n.Type = tree.File
				for _, c := range chunks {
					id, _, err := r.SaveBlob(ctx, blob.DataBlob, c)
					if err != nil {
						t.Fatal(err)
					}
					n.Content = append(n.Content, id)
					n.Size += uint64(len(c))
				}
			}
			if err := tr.Insert(n); err != nil {
				t.Fatal(err)
			}
		}
		id, _, err := r.SaveTree(ctx, tr)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	root := save("")
	manifest, _, err := r.SaveBlob(ctx, blob.DataBlob, []byte(`{"hostname":"mail1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sn := &snapshot.Snapshot{Time: when, Host: "mail1", Paths: []string{"/etc", "/var/mail"}, Tags: tags, Tree: root, Manifest: &manifest}
	if _, err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	return sn
}

// readBack loads every file of a snapshot's tree as path → content.
func readBack(t *testing.T, r *repo.Repository, root blob.ID) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var walk func(prefix string, id blob.ID)
	walk = func(prefix string, id blob.ID) {
		tr, err := r.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tr.Nodes {
			if n.Subtree != nil {
				walk(prefix+string(n.Name)+"/", *n.Subtree)
				continue
			}
			var buf bytes.Buffer
			for _, c := range n.Content {
				data, err := r.LoadBlob(context.Background(), blob.DataBlob, c)
				if err != nil {
					t.Fatal(err)
				}
				buf.Write(data)
			}
			out[prefix+string(n.Name)] = buf.Bytes()
		}
	}
	walk("", root)
	return out
}

func flatten(fs files) map[string][]byte {
	out := map[string][]byte{}
	for p, chunks := range fs {
		out[p] = bytes.Join(chunks, nil)
	}
	return out
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sampleFiles(t *testing.T) files {
	shared := random(t, 200<<10)
	return files{
		"etc/hostname":        {[]byte("mail1\n")},
		"etc/postfix/main.cf": {[]byte("myhostname = mail1\n")},
		"var/mail/alice":      {shared, random(t, 50<<10)},
		"var/mail/bob":        {shared},
	}
}

func snapshotsOf(t *testing.T, r *repo.Repository) []*snapshot.Snapshot {
	t.Helper()
	list, err := r.Snapshots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestCopyReEncryptsSnapshotToDestinationIDs(t *testing.T) {
	ctx := context.Background()
	_, src := newRepo(t, "source")
	dstBE, dst := newRepo(t, "destination")
	fs := sampleFiles(t)
	when := time.Date(2026, 3, 1, 2, 3, 4, 0, time.UTC)
	sn := saveSnapshot(t, src, fs, when, "daily")

	stats, err := copier.New(src, dst, copier.Options{}).Run(ctx, []*snapshot.Snapshot{sn}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Copied != 1 || stats.Skipped != 0 {
		t.Fatalf("stats %+v, want one snapshot copied", stats)
	}

	fresh := reopen(t, dstBE, owner("destination"))
	list := snapshotsOf(t, fresh)
	if len(list) != 1 {
		t.Fatalf("destination has %d snapshots, want 1", len(list))
	}
	cp := list[0]
	if cp.Tree == sn.Tree {
		t.Error("copied root tree has the source id: ids were not translated")
	}
	if cp.Original == nil || *cp.Original != sn.ID {
		t.Errorf("original = %v, want %s", cp.Original, sn.ID)
	}
	if !cp.Time.Equal(sn.Time) || cp.Host != sn.Host || strings.Join(cp.Paths, ",") != strings.Join(sn.Paths, ",") || strings.Join(cp.Tags, ",") != "daily" {
		t.Errorf("copied snapshot %+v does not keep time, host, paths and tags of %+v", cp, sn)
	}
	got := readBack(t, fresh, cp.Tree)
	want := flatten(fs)
	if len(got) != len(want) {
		t.Fatalf("destination has %d files, want %d", len(got), len(want))
	}
	for p, w := range want {
		if !bytes.Equal(got[p], w) {
			t.Errorf("%s differs after the copy", p)
		}
	}
	if cp.Manifest == nil {
		t.Fatal("manifest was dropped")
	}
	m, err := fresh.LoadBlob(ctx, blob.DataBlob, *cp.Manifest)
	if err != nil || string(m) != `{"hostname":"mail1"}` {
		t.Errorf("manifest = %q, %v", m, err)
	}
}

func TestSecondRunAddsNothing(t *testing.T) {
	ctx := context.Background()
	_, src := newRepo(t, "source")
	dstBE, dst := newRepo(t, "destination")
	sn := saveSnapshot(t, src, sampleFiles(t), time.Now(), "")
	if _, err := copier.New(src, dst, copier.Options{}).Run(ctx, []*snapshot.Snapshot{sn}, nil); err != nil {
		t.Fatal(err)
	}

	again := reopen(t, dstBE, owner("destination"))
	var events []copier.Event
	stats, err := copier.New(src, again, copier.Options{Report: func(ev copier.Event) { events = append(events, ev) }}).
		Run(ctx, []*snapshot.Snapshot{sn}, snapshotsOf(t, again))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Copied != 0 || stats.Skipped != 1 || stats.BlobsAdded != 0 || stats.BytesAdded != 0 || stats.BlobsRead != 0 {
		t.Errorf("second run stats %+v, want one skipped and nothing read or added", stats)
	}
	if len(events) != 1 || events[0].Existing == nil || events[0].Copy != nil {
		t.Errorf("events %+v, want one skip naming the existing copy", events)
	}
	if n := len(snapshotsOf(t, reopen(t, dstBE, owner("destination")))); n != 1 {
		t.Errorf("destination has %d snapshots, want 1", n)
	}
}

func TestCopyOfFindsCopiesByOriginalOrByTimeHostPathsAndTags(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srcID := blob.ID{1}
	other := blob.ID{2}
	src := &snapshot.Snapshot{ID: srcID, Time: when, Host: "mail1", Paths: []string{"/etc", "/home"}, Tags: []string{"a", "b"}}
	copied := &snapshot.Snapshot{ID: blob.ID{9}, Original: &other, Time: when, Host: "mail1", Paths: []string{"/etc", "/home"}, Tags: []string{"a", "b"}}
	tests := []struct {
		name     string
		existing *snapshot.Snapshot
		src      *snapshot.Snapshot
		want     bool
	}{
		{"same original", &snapshot.Snapshot{Original: &srcID, Time: when.Add(time.Hour), Host: "x"}, src, true},
		{"same time host paths tags in another order", &snapshot.Snapshot{Time: when.In(time.FixedZone("x", 3600)), Host: "mail1", Paths: []string{"/home", "/etc"}, Tags: []string{"b", "a"}}, src, true},
		{"other host", &snapshot.Snapshot{Time: when, Host: "mail2", Paths: src.Paths, Tags: src.Tags}, src, false},
		{"other time", &snapshot.Snapshot{Time: when.Add(time.Second), Host: "mail1", Paths: src.Paths, Tags: src.Tags}, src, false},
		{"fewer paths", &snapshot.Snapshot{Time: when, Host: "mail1", Paths: []string{"/etc"}, Tags: src.Tags}, src, false},
		{"other tags", &snapshot.Snapshot{Time: when, Host: "mail1", Paths: src.Paths, Tags: []string{"a"}}, src, false},
		{"a copy of a copy matches its original", &snapshot.Snapshot{Original: &other, Time: when.Add(time.Hour)}, copied, true},
		{"other original", &snapshot.Snapshot{Original: &other, Time: when.Add(time.Hour)}, src, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := copier.CopyOf(tt.src, []*snapshot.Snapshot{tt.existing}) != nil
			if got != tt.want {
				t.Errorf("CopyOf = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCopyingSnapshotsThatShareDataStoresItOnce(t *testing.T) {
	ctx := context.Background()
	_, src := newRepo(t, "source")
	_, dst := newRepo(t, "destination")
	fs := sampleFiles(t)
	big := random(t, 1<<20)
	fs["var/www/big.bin"] = [][]byte{big}
	first := saveSnapshot(t, src, fs, time.Now().Add(-time.Hour))
	fs["etc/hostname"] = [][]byte{[]byte("mail2\n")}
	second := saveSnapshot(t, src, fs, time.Now())

	stats, err := copier.New(src, dst, copier.Options{}).Run(ctx, []*snapshot.Snapshot{second, first}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Copied != 2 {
		t.Fatalf("copied %d snapshots, want 2", stats.Copied)
	}
	unique := map[string]bool{}
	var plain uint64
	for _, chunks := range fs {
		for _, c := range chunks {
			if !unique[string(c)] {
				unique[string(c)] = true
				plain += uint64(len(c))
			}
		}
	}
	// The distinct chunks of one snapshot hold about 1.25 MiB; stored
	// twice they would need about 2.5 MiB. Allow for the changed
	// hostname, the trees and the manifest.
	if stats.BytesAdded > plain+16<<10 {
		t.Errorf("destination added %d plaintext bytes for two snapshots of %d bytes each: shared data stored twice", stats.BytesAdded, plain)
	}
	if stats.BytesAdded < plain {
		t.Errorf("destination added %d bytes, less than one snapshot's %d: %+v", stats.BytesAdded, plain, stats)
	}
}

func TestCopyIntoWriteKeyDestinationIsReadableByItsOwner(t *testing.T) {
	ctx := context.Background()
	_, src := newRepo(t, "source")
	dstBE, dstOwner := newRepo(t, "destination")
	wk, err := dstOwner.Keys().NewWriteKey("admin", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	writer := reopen(t, dstBE, repo.Unlocker{WriteKey: wk})
	if writer.CanReadData() {
		t.Fatal("write key opened with data access")
	}
	fs := sampleFiles(t)
	sn := saveSnapshot(t, src, fs, time.Now())
	if _, err := copier.New(src, writer, copier.Options{}).Run(ctx, []*snapshot.Snapshot{sn}, nil); err != nil {
		t.Fatal(err)
	}
	fresh := reopen(t, dstBE, owner("destination"))
	list := snapshotsOf(t, fresh)
	if len(list) != 1 {
		t.Fatalf("destination has %d snapshots, want 1", len(list))
	}
	got := readBack(t, fresh, list[0].Tree)
	for p, w := range flatten(fs) {
		if !bytes.Equal(got[p], w) {
			t.Errorf("%s differs after copying with a write key", p)
		}
	}
}

func TestCancelledCopyWritesNoSnapshot(t *testing.T) {
	_, src := newRepo(t, "source")
	dstBE, dst := newRepo(t, "destination")
	sn := saveSnapshot(t, src, sampleFiles(t), time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := copier.New(src, dst, copier.Options{}).Run(ctx, []*snapshot.Snapshot{sn}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	dst.Abort()
	if n := len(snapshotsOf(t, reopen(t, dstBE, owner("destination")))); n != 0 {
		t.Errorf("cancelled copy wrote %d snapshots", n)
	}
}

func TestLostLockStopsCopyBeforeTheSnapshot(t *testing.T) {
	_, src := newRepo(t, "source")
	dstBE, dst := newRepo(t, "destination")
	sn := saveSnapshot(t, src, sampleFiles(t), time.Now())
	lost := errors.New("lock lost")
	_, err := copier.New(src, dst, copier.Options{CheckLock: func() error { return lost }}).Run(context.Background(), []*snapshot.Snapshot{sn}, nil)
	if !errors.Is(err, lost) {
		t.Fatalf("err = %v, want the lock error", err)
	}
	if n := len(snapshotsOf(t, reopen(t, dstBE, owner("destination")))); n != 0 {
		t.Errorf("copy wrote %d snapshots after losing its lock", n)
	}
}

// TestIDMapSkipsReadingWhatEarlierRunsCopied measures what the id map
// saves: a second run with a new snapshot that changes one file reads
// from the source only that file and the trees above it.
func TestIDMapSkipsReadingWhatEarlierRunsCopied(t *testing.T) {
	ctx := context.Background()
	_, src := newRepo(t, "source")
	fs := sampleFiles(t)
	first := saveSnapshot(t, src, fs, time.Now().Add(-time.Hour))
	changed := random(t, 10<<10)
	fs["var/mail/bob"] = append(fs["var/mail/bob"], changed) // new mail appended
	second := saveSnapshot(t, src, fs, time.Now())

	for _, tt := range []struct {
		name     string
		withMap  bool
		maxBytes uint64
	}{
		{"with id map", true, uint64(len(changed)) + 4096},
		{"without id map", false, 1 << 30},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dstBE, dst := newRepo(t, "destination")
			path := filepath.Join(t.TempDir(), "idmap")
			open := func() *copier.IDMap {
				if !tt.withMap {
					return nil
				}
				m, err := copier.OpenIDMap(path, src.Config().ID, dst.Config().ID)
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			if _, err := copier.New(src, dst, copier.Options{Map: open()}).Run(ctx, []*snapshot.Snapshot{first}, nil); err != nil {
				t.Fatal(err)
			}
			again := reopen(t, dstBE, owner("destination"))
			stats, err := copier.New(src, again, copier.Options{Map: open()}).Run(ctx, []*snapshot.Snapshot{first, second}, snapshotsOf(t, again))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("second run read %d blobs, %d bytes from the source; %d id map hits", stats.BlobsRead, stats.BytesRead, stats.MapHits)
			if stats.Copied != 1 || stats.Skipped != 1 {
				t.Fatalf("stats %+v, want one copied and one skipped", stats)
			}
			if stats.BytesRead > tt.maxBytes {
				t.Errorf("second run read %d bytes from the source, want at most %d", stats.BytesRead, tt.maxBytes)
			}
			if !tt.withMap && stats.BytesRead < 200<<10 {
				t.Errorf("without the id map the run read only %d bytes: the comparison measures nothing", stats.BytesRead)
			}
			if tt.withMap && stats.MapHits == 0 {
				t.Error("the id map was never used")
			}
			cp := snapshotsOf(t, reopen(t, dstBE, owner("destination")))
			got := readBack(t, reopen(t, dstBE, owner("destination")), cp[len(cp)-1].Tree)
			for p, w := range flatten(fs) {
				if !bytes.Equal(got[p], w) {
					t.Errorf("%s differs after the second copy", p)
				}
			}
		})
	}
}

func TestIDMapEntriesTheDestinationLacksAreIgnored(t *testing.T) {
	ctx := context.Background()
	_, src := newRepo(t, "source")
	dstBE, dst := newRepo(t, "destination")
	fs := sampleFiles(t)
	sn := saveSnapshot(t, src, fs, time.Now())
	path := filepath.Join(t.TempDir(), "idmap")
	m, err := copier.OpenIDMap(path, src.Config().ID, dst.Config().ID)
	if err != nil {
		t.Fatal(err)
	}
	// Point every source blob at an id the destination does not have,
	// as a map left from a repository since pruned would.
	var bogus []copier.Pair
	for _, c := range [][]byte{fs["var/mail/bob"][0], fs["etc/hostname"][0]} {
		bogus = append(bogus, copier.Pair{Source: src.BlobID(c), Dest: blob.ID{0xee}})
	}
	bogus = append(bogus, copier.Pair{Source: sn.Tree, Dest: blob.ID{0xef}})
	if err := m.Add(bogus); err != nil {
		t.Fatal(err)
	}
	stats, err := copier.New(src, dst, copier.Options{Map: m}).Run(ctx, []*snapshot.Snapshot{sn}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.MapHits != 0 {
		t.Errorf("%d stale map entries were used", stats.MapHits)
	}
	fresh := reopen(t, dstBE, owner("destination"))
	got := readBack(t, fresh, snapshotsOf(t, fresh)[0].Tree)
	for p, w := range flatten(fs) {
		if !bytes.Equal(got[p], w) {
			t.Errorf("%s differs", p)
		}
	}
}

func TestIDMapFileSurvivesReopenTruncationAndOtherRepositories(t *testing.T) {
	a, b := copier.Pair{Source: blob.ID{1}, Dest: blob.ID{2}}, copier.Pair{Source: blob.ID{3}, Dest: blob.ID{4}}
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		src    string
		want   []copier.Pair
	}{
		{"reopened", func(*testing.T, string) {}, "s", []copier.Pair{a, b}},
		{"truncated last record", func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()-10); err != nil {
				t.Fatal(err)
			}
		}, "s", []copier.Pair{a}},
		{"other source repository", func(*testing.T, string) {}, "other", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "idmap")
			m, err := copier.OpenIDMap(path, "s", "d")
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Add([]copier.Pair{a}); err != nil {
				t.Fatal(err)
			}
			if err := m.Add([]copier.Pair{b}); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("id map file: %v, %v; want mode 0600", fi, err)
			}
			tt.damage(t, path)
			m2, err := copier.OpenIDMap(path, tt.src, "d")
			if err != nil {
				t.Fatal(err)
			}
			if m2.Len() != len(tt.want) {
				t.Fatalf("reopened map has %d entries, want %d", m2.Len(), len(tt.want))
			}
			for _, p := range tt.want {
				if d, ok := m2.Lookup(p.Source); !ok || d != p.Dest {
					t.Errorf("Lookup(%s) = %s, %v", p.Source.Short(), d.Short(), ok)
				}
			}
			// Appending after damage keeps the file readable.
			c := copier.Pair{Source: blob.ID{5}, Dest: blob.ID{6}}
			if err := m2.Add([]copier.Pair{c}); err != nil {
				t.Fatal(err)
			}
			m3, err := copier.OpenIDMap(path, tt.src, "d")
			if err != nil {
				t.Fatal(err)
			}
			if m3.Len() != len(tt.want)+1 {
				t.Errorf("after appending, the map has %d entries, want %d", m3.Len(), len(tt.want)+1)
			}
			if d, ok := m3.Lookup(c.Source); !ok || d != c.Dest {
				t.Errorf("appended entry lost: %s, %v", d.Short(), ok)
			}
		})
	}
}
