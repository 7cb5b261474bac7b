package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/local"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/internal/testutil"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/snapshot"
)

// openInProcess opens the test repository with the passphrase.
func (c *cli) openInProcess(t *testing.T) *repo.Repository {
	t.Helper()
	ctx := context.Background()
	be, err := local.Open(ctx, c.repo)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, be, repo.Unlocker{Identities: crypto.PassphraseIdentities("correct horse battery staple")})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeRepo(r) })
	return r
}

// dataPacks lists the paths of the data packs, largest first.
func (c *cli) packFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	filepath.Walk(filepath.Join(c.repo, "data"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if len(out) == 0 {
		t.Fatal("no packs")
	}
	return out
}

func randomFile(t *testing.T, path string, n int) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	writeFile(t, path, b)
}

// biggestPack returns the path of the largest pack.
func biggestPack(t *testing.T, c *cli) string {
	best, size := "", int64(-1)
	for _, p := range c.packFiles(t) {
		fi, _ := os.Stat(p)
		if fi.Size() > size {
			best, size = p, fi.Size()
		}
	}
	return best
}

func TestCorruptPackRestoresEverythingElseAndNamesTheDamage(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	// damaged.bin is chunked first, so its frames lead the data pack.
	randomFile(t, filepath.Join(src, "a/damaged.bin"), 2<<20)
	randomFile(t, filepath.Join(src, "b/intact.bin"), 2<<20)
	writeFile(t, filepath.Join(src, "c/small.txt"), []byte("small and fine\n"))
	c.init()
	c.owner("backup", src).must(t, 0)

	pack := biggestPack(t, c)
	data, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/5] ^= 0x40 // inside the first file's content
	if err := os.WriteFile(pack, data, 0o600); err != nil {
		t.Fatal(err)
	}

	target := filepath.Join(c.dir, "restore")
	r := c.owner("restore", "latest:"+src, "--target", target).must(t, exitError)
	packID := filepath.Base(pack)
	for _, want := range []string{"a/damaged.bin", packID, "corrupted or tampered"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("restore errors do not name %q:\n%s", want, r.stderr)
		}
	}
	for _, ok := range []string{"b/intact.bin", "c/small.txt"} {
		if strings.Contains(r.stderr, ok) {
			t.Errorf("%s reported as damaged:\n%s", ok, r.stderr)
		}
		want, _ := os.ReadFile(filepath.Join(src, ok))
		got, err := os.ReadFile(filepath.Join(target, ok))
		if err != nil || !bytes.Equal(want, got) {
			t.Errorf("%s not restored intact: %v", ok, err)
		}
	}
	// The damaged file keeps the right size; its unreadable part is a hole.
	if fi, err := os.Stat(filepath.Join(target, "a/damaged.bin")); err != nil || fi.Size() != 2<<20 {
		t.Errorf("damaged file: %v", err)
	}
}

func TestTruncatedPackIsNamed(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	randomFile(t, filepath.Join(src, "f.bin"), 1<<20)
	c.init()
	c.owner("backup", src).must(t, 0)
	pack := biggestPack(t, c)
	fi, _ := os.Stat(pack)
	if err := os.Truncate(pack, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	r := c.owner("restore", "latest:"+src, "--target", filepath.Join(c.dir, "t")).must(t, exitError)
	if !strings.Contains(r.stderr, filepath.Base(pack)) || !strings.Contains(r.stderr, "f.bin") {
		t.Errorf("truncated pack not named:\n%s", r.stderr)
	}
}

func TestCorruptMetadataObjectsAreNamed(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	snaps, _ := filepath.Glob(filepath.Join(c.repo, "snapshots", "*"))
	data, _ := os.ReadFile(snaps[0])
	data[len(data)-3] ^= 1
	os.WriteFile(snaps[0], data, 0o600)
	r := c.owner("snapshots").must(t, 0)
	if !strings.Contains(r.stderr, "snapshots/"+filepath.Base(snaps[0])) || !strings.Contains(r.stderr, "corrupted or tampered") {
		t.Errorf("corrupt snapshot not named:\n%s", r.stderr)
	}

	// A config truncated to half is refused with a clear message.
	cfg := filepath.Join(c.repo, "config")
	data, _ = os.ReadFile(cfg)
	os.WriteFile(cfg, data[:len(data)/2], 0o600)
	r = c.owner("snapshots").must(t, exitError)
	if !strings.Contains(r.stderr, "config") {
		t.Errorf("truncated config: %s", r.stderr)
	}
}

func TestNewerRepositoryVersionIsRefused(t *testing.T) {
	c := newCLI(t)
	c.init()
	r := c.openInProcess(t)
	cfg := r.Config()
	cfg.Version = repo.FormatVersion + 1
	plain, _ := json.Marshal(cfg)
	sealed, err := r.Keys().SealMeta(plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Backend().Save(context.Background(), backends.Handle{Type: backends.ConfigFile}, sealed); err != nil {
		t.Fatal(err)
	}
	out := c.owner("snapshots").must(t, exitError)
	if !strings.Contains(out.stderr, "newer than this godwit supports") {
		t.Errorf("newer version: %s", out.stderr)
	}
}

func TestLockedRepositoryExits11(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	r := c.openInProcess(t)
	lk, err := r.Lock(context.Background(), true, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	out := c.owner("backup", src).must(t, exitLocked)
	if !strings.Contains(out.stderr, "exclusive lock held by") {
		t.Errorf("locked: %s", out.stderr)
	}
	lk.Release(context.Background())
	c.owner("backup", src).must(t, 0)
}

func TestReplacedRepositoryFailsTheFingerprintPin(t *testing.T) {
	c := newCLI(t)
	c.init()
	c.owner("snapshots").must(t, 0)
	// Someone replaces the repository with another one that opens with the
	// same passphrase (or an attacker's keys sealed to the owner's recipient).
	if err := os.RemoveAll(c.repo); err != nil {
		t.Fatal(err)
	}
	c.init() // pins the new one; forget that to simulate another machine's view
	known := c.env["GODWIT_KNOWN_REPOSITORIES"]
	data, _ := os.ReadFile(known)
	os.WriteFile(known, bytes.ReplaceAll(data, []byte(c.repo), []byte(c.repo+"-other")), 0o600)
	c.owner("snapshots").must(t, 0) // first use of this location: pinned
	os.RemoveAll(c.repo)
	c.env["GODWIT_KNOWN_REPOSITORIES"] = known + "-2"
	c.init()
	c.env["GODWIT_KNOWN_REPOSITORIES"] = known
	out := c.owner("snapshots").must(t, exitError)
	if !strings.Contains(out.stderr, "has changed") {
		t.Fatalf("replaced repository accepted:\n%s", out.stderr)
	}
	fp := out.stderr[strings.LastIndex(out.stderr, "--accept-fingerprint ")+len("--accept-fingerprint "):]
	fp = strings.TrimSpace(fp)
	c.owner("snapshots", "--accept-fingerprint", "0000:0000").must(t, exitError)
	c.owner("snapshots", "--accept-fingerprint", fp).must(t, 0)
	c.owner("snapshots").must(t, 0)
}

func TestFullTargetDiskStopsRestoreAndRerunCompletes(t *testing.T) {
	testutil.RequireRoot(t)
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	for i := 0; i < 6; i++ {
		randomFile(t, filepath.Join(src, "f"+string(rune('a'+i))), 1<<20)
	}
	c.init()
	c.owner("backup", src).must(t, 0)
	mnt := filepath.Join(c.dir, "mnt")
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	out := c.owner("restore", "latest:"+src, "--target", mnt).must(t, exitError)
	if !strings.Contains(out.stderr, "no space left on the target") || !strings.Contains(out.stderr, "run the same restore again") {
		t.Errorf("full disk message:\n%s", out.stderr)
	}
	if out, err := exec.Command("mount", "-o", "remount,size=20m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	again := c.owner("restore", "latest:"+src, "--target", mnt).must(t, 0)
	if !strings.Contains(again.stdout, "already complete and skipped") {
		t.Errorf("rerun did not skip complete files:\n%s", again.stdout)
	}
	requireSame(t, src, mnt, compareOpts())
}

func snapshotFilterNone() snapshot.Filter { return snapshot.Filter{} }

// TestCheckNamesEachDamagedObject flips one byte in one object of each
// kind and checks that check names it and exits 1, and that the files
// the damage does not touch still restore.
func TestCheckNamesEachDamagedObject(t *testing.T) {
	for _, kind := range []string{"pack", "index", "snapshot", "key"} {
		t.Run(kind, func(t *testing.T) {
			c := newCLI(t)
			src := filepath.Join(c.dir, "src")
			c.init()
			// A second key, so that damaging it leaves the first one in.
			second := filepath.Join(c.dir, "second")
			writeFile(t, second, []byte("second passphrase\n"))
			c.owner("key", "add", "--new-password-file", second).must(t, 0)
			// Two backups, each adding one file in its own pack and index.
			randomFile(t, filepath.Join(src, "first.bin"), 1<<20)
			c.owner("backup", src).must(t, 0)
			randomFile(t, filepath.Join(src, "second.bin"), 1<<20)
			c.owner("backup", src).must(t, 0)

			var victim string
			switch kind {
			case "pack":
				victim = biggestPack(t, c)
			case "key":
				var list struct {
					Keys []struct {
						ID      string `json:"id"`
						Current bool   `json:"current"`
					} `json:"keys"`
				}
				if err := json.Unmarshal([]byte(c.owner("key", "list", "--json").must(t, 0).stdout), &list); err != nil {
					t.Fatal(err)
				}
				for _, k := range list.Keys {
					if !k.Current {
						victim = filepath.Join(c.repo, "keys", k.ID)
					}
				}
			case "index":
				// The first backup's index: it names first.bin's pack, and
				// the latest snapshot's trees are in the second one.
				m, _ := filepath.Glob(filepath.Join(c.repo, "index", "*"))
				sort.Slice(m, func(i, j int) bool {
					fi, _ := os.Stat(m[i])
					fj, _ := os.Stat(m[j])
					return fi.ModTime().Before(fj.ModTime())
				})
				victim = m[0]
			default:
				m, _ := filepath.Glob(filepath.Join(c.repo, kind+"*", "*"))
				victim = m[0]
			}
			data, _ := os.ReadFile(victim)
			at := len(data) / 3
			if kind == "key" {
				at = 10 // inside the age header, which check can parse
			}
			data[at] ^= 0x10
			os.WriteFile(victim, data, 0o600)

			rel, _ := filepath.Rel(c.repo, victim)
			name := filepath.Dir(rel)
			if kind == "pack" {
				name = "data"
			}
			out := c.owner("check", "--read-data").must(t, exitError)
			if !strings.Contains(out.stderr, name+"/"+filepath.Base(victim)) {
				t.Errorf("check does not name %s/%s:\n%s", name, filepath.Base(victim), out.stderr)
			}

			target := filepath.Join(c.dir, "t")
			res := c.owner("restore", "latest:"+src, "--target", target)
			same := func(f string) bool {
				want, _ := os.ReadFile(filepath.Join(src, f))
				got, err := os.ReadFile(filepath.Join(target, f))
				return err == nil && bytes.Equal(want, got)
			}
			switch kind {
			case "key", "snapshot":
				res.must(t, 0)
				if !same("first.bin") {
					t.Error("first.bin not restored intact")
				}
			default:
				res.must(t, exitError)
				if same("first.bin") == same("second.bin") {
					t.Errorf("want exactly one file intact after damaging one %s:\n%s", kind, res.stderr)
				}
				for _, f := range []string{"first.bin", "second.bin"} {
					if !same(f) && !strings.Contains(res.stderr, f) {
						t.Errorf("%s is damaged but restore does not name it:\n%s", f, res.stderr)
					}
				}
			}
		})
	}
}
