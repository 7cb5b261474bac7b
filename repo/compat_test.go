package repo_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends/local"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/internal/fsmeta"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/archiver"
	"github.com/godwit-backup/godwit/repo/restorer"
	"github.com/godwit-backup/godwit/repo/snapshot"
)

var writeTestdata = flag.Bool("write-testdata", false, "create the repository of this format version under testdata (once per release)")

const testdataPassphrase = "godwit testdata"

// testdataFiles is the tree stored in every testdata repository.
var testdataFiles = map[string]string{
	"etc/hostname":                      "mail1\n",
	"etc/postfix/main.cf":               "myhostname = mail1.example.org\nsmtpd_tls_security_level = may\n",
	"home/alice/Maildir/cur/1.M1P1:2,S": "From: bob@example.org\nSubject: compat\n\nThe format must stay readable.\n",
	"var/mail/alice":                    "From bob@example.org Mon Jan  1 00:00:00 2024\nSubject: spool\n\nhello\n\n",
}

// TestEveryReleasedRepositoryFormatStillOpens opens each repository under
// testdata/ (one per released format version), checks its config and
// snapshot, and restores its tree.
func TestEveryReleasedRepositoryFormatStillOpens(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join("testdata", "v1")
	if *writeTestdata {
		writeTestdataRepo(t, dir)
	}
	var versions []string
	entries, _ := os.ReadDir("testdata")
	for _, e := range entries {
		if e.IsDir() {
			versions = append(versions, filepath.Join("testdata", e.Name()))
		}
	}
	if len(versions) == 0 {
		t.Fatal("no testdata repositories: run go test ./repo -run TestEveryReleased -write-testdata")
	}
	for _, dir := range versions {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			be, err := local.Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			r, err := repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities(testdataPassphrase)})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := r.LoadIndex(ctx); err != nil {
				t.Fatal(err)
			}
			sn, err := r.FindSnapshot(ctx, "latest", snapshot.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if sn.Host != "testdata" || len(sn.Paths) != 1 {
				t.Fatalf("snapshot: host %q paths %v", sn.Host, sn.Paths)
			}
			node, err := r.FindNode(ctx, sn.Tree, sn.Paths[0])
			if err != nil {
				t.Fatal(err)
			}
			target := t.TempDir()
			sum, err := restorer.Restore(ctx, r, node, sn.Paths[0], restorer.Options{
				Target: target, Owner: fsmeta.OwnerNone, Warn: func(p string, err error) { t.Errorf("%s: %v", p, err) },
			})
			if err != nil || sum.Errors != 0 {
				t.Fatalf("restore: %v %+v", err, sum)
			}
			var want map[string]string
			data, err := os.ReadFile(filepath.Join(dir, "..", filepath.Base(dir)+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			if got := hashTree(t, target); !equalMaps(got, want) {
				t.Errorf("restored tree %v, want %v", got, want)
			}
		})
	}
}

func writeTestdataRepo(t *testing.T, dir string) {
	ctx := context.Background()
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s exists: a released repository is never rewritten", dir)
	}
	src := filepath.Join(t.TempDir(), "src")
	for name, content := range testdataFiles {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	be, err := local.Create(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := crypto.PassphraseCredential(testdataPassphrase, 10)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Init(ctx, be, repo.InitOptions{Credentials: []crypto.Credential{cred}, Now: time.Now(), Host: "testdata"})
	if err != nil {
		t.Fatal(err)
	}
	a := archiver.New(r, archiver.Options{Host: "testdata", Warn: func(p string, err error) { t.Fatalf("%s: %v", p, err) }})
	if _, err := a.Run(ctx, []string{src}); err != nil {
		t.Fatal(err)
	}
	want, err := json.MarshalIndent(hashTree(t, src), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+".json", want, 0o644); err != nil {
		t.Fatal(err)
	}
}

func hashTree(t *testing.T, root string) map[string]string {
	out := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sum := sha256.Sum256(data)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}
