package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/repo/lock"
)

func repoSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func snapshotIDs(t *testing.T, c *cli) []string {
	t.Helper()
	var snaps []snapshotJSON
	out := c.owner("snapshots", "--json").must(t, 0)
	if err := json.Unmarshal([]byte(out.stdout), &snaps); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.ID)
	}
	return ids
}

// TestPruneFreesWhatOnlyDroppedSnapshotsHeld removes the first snapshot,
// prunes, and checks that the space its unique files took is freed and
// that the remaining snapshot still restores bit-identical.
func TestPruneFreesWhatOnlyDroppedSnapshotsHeld(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	randomFile(t, filepath.Join(src, "gone.bin"), 4<<20)
	randomFile(t, filepath.Join(src, "kept.bin"), 2<<20)
	for i := 0; i < 50; i++ {
		writeFile(t, filepath.Join(src, "Maildir/cur", "msg"+string(rune('a'+i%26))+string(rune('a'+i/26))), []byte(strings.Repeat("mail body\n", 20+i)))
	}
	c.init()
	c.owner("backup", src).must(t, 0)
	os.Remove(filepath.Join(src, "gone.bin"))
	c.owner("backup", src).must(t, 0)
	ids := snapshotIDs(t, c)
	if err := os.Remove(filepath.Join(c.repo, "snapshots", ids[0])); err != nil {
		t.Fatal(err)
	}
	before := repoSize(t, c.repo)
	dry := c.owner("prune", "--dry-run").must(t, 0)
	if !strings.Contains(dry.stdout, "would repack") || repoSize(t, c.repo) != before {
		t.Fatalf("dry run changed the repository or said nothing:\n%s", dry.stdout)
	}
	c.owner("prune").must(t, 0)
	after := repoSize(t, c.repo)
	if freed := before - after; freed < 4<<20 || freed > 4<<20+512<<10 {
		t.Errorf("prune freed %d bytes, want about %d (the removed file)", freed, 4<<20)
	}
	c.owner("check", "--read-data").must(t, 0)
	target := filepath.Join(c.dir, "restore")
	c.owner("restore", "latest:"+src, "--target", target).must(t, 0)
	requireSame(t, src, target, compareOpts())

	// A second prune finds nothing to do.
	again := c.owner("prune").must(t, 0)
	if !strings.Contains(again.stdout, "deleted 0 unused packs") || !strings.Contains(again.stdout, "repacked 0 partly used packs") {
		t.Errorf("second prune:\n%s", again.stdout)
	}
}

func TestPruneNeedsAnOwnerKey(t *testing.T) {
	c := newCLI(t)
	c.init()
	wk := filepath.Join(c.dir, "wk")
	c.owner("key", "write-key", "-o", wk).must(t, 0)
	r := c.run("--repo", c.repo, "-i", wk, "prune").must(t, exitError)
	if !strings.Contains(r.stderr, "write key") {
		t.Errorf("prune with a write key: %s", r.stderr)
	}
}

func TestCheckNamesDamagedObjectsAndFiles(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	randomFile(t, filepath.Join(src, "a/damaged.bin"), 2<<20)
	randomFile(t, filepath.Join(src, "b/intact.bin"), 2<<20)
	c.init()
	c.owner("backup", src).must(t, 0)
	c.owner("check", "--read-data").must(t, 0)

	pack := biggestPack(t, c)
	data, _ := os.ReadFile(pack)
	data[len(data)/5] ^= 1
	os.WriteFile(pack, data, 0o600)

	c.owner("check").must(t, 0) // structure is intact
	r := c.owner("check", "--read-data").must(t, exitError)
	for _, want := range []string{"data/" + filepath.Base(pack), "a/damaged.bin", "affects snapshot"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check --read-data does not name %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "intact.bin") {
		t.Errorf("intact file reported:\n%s", r.stderr)
	}

	// A write key sees the hash mismatch, without names.
	wk := filepath.Join(c.dir, "wk")
	c.owner("key", "write-key", "-o", wk).must(t, 0)
	w := c.run("--repo", c.repo, "-i", wk, "check", "--read-data").must(t, exitError)
	if !strings.Contains(w.stderr, "does not match its name") || strings.Contains(w.stderr, "damaged.bin") {
		t.Errorf("write-key check:\n%s", w.stderr)
	}

	// A missing pack is a structural problem.
	os.Remove(pack)
	m := c.owner("check").must(t, exitError)
	if !strings.Contains(m.stderr, "indexed pack is missing") {
		t.Errorf("missing pack:\n%s", m.stderr)
	}
}

func TestCheckReadDataSubsetsCoverEveryPack(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	for i := 0; i < 6; i++ {
		randomFile(t, filepath.Join(src, string(rune('a'+i))), 3<<20)
	}
	c.init()
	c.owner("backup", src).must(t, 0)
	total := 0
	for i := 1; i <= 3; i++ {
		var out struct {
			Summary struct {
				PacksRead int `json:"packs_read"`
				Packs     int `json:"packs"`
			} `json:"summary"`
		}
		r := c.owner("check", "--json", "--read-data-subset", string(rune('0'+i))+"/3").must(t, 0)
		jsonSummary(t, r.stdout, &out)
		total += out.Summary.PacksRead
		if i == 3 && total != out.Summary.Packs {
			t.Errorf("subsets 1/3..3/3 read %d packs of %d", total, out.Summary.Packs)
		}
	}
	c.owner("check", "--read-data-subset", "0/3").must(t, exitUsage)
}

func TestUnlockRemovesOnlyStaleLocks(t *testing.T) {
	c := newCLI(t)
	c.init()
	r := c.openInProcess(t)
	ctx := context.Background()
	old := func() time.Time { return time.Now().Add(-2 * lock.StaleAfter) }
	if _, err := r.Lock(ctx, true, old); err != nil {
		t.Fatal(err)
	}
	live, err := r.Lock(ctx, false, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Release(ctx)
	locks, _ := filepath.Glob(filepath.Join(c.repo, "locks", "*"))
	if len(locks) != 2 {
		t.Fatalf("%d locks", len(locks))
	}
	c.owner("unlock").must(t, 0)
	locks, _ = filepath.Glob(filepath.Join(c.repo, "locks", "*"))
	if len(locks) != 1 {
		t.Errorf("unlock left %d locks, want the live one", len(locks))
	}
	c.owner("unlock", "--remove-all").must(t, 0)
	locks, _ = filepath.Glob(filepath.Join(c.repo, "locks", "*"))
	if len(locks) != 0 {
		t.Errorf("unlock --remove-all left %d locks", len(locks))
	}
}

func TestForgetKeepsByPolicyAndPrunes(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	writeFile(t, filepath.Join(src, "etc/hostname"), []byte("mail1\n"))
	c.init()
	days := []string{"2026-01-01", "2026-01-02", "2026-01-03", "2026-01-10", "2026-02-01", "2026-03-01"}
	for i, d := range days {
		randomFile(t, filepath.Join(src, "day", d), 100<<10+i)
		c.owner("backup", "--time", d+" 03:00:00", src).must(t, 0)
	}
	dry := c.owner("forget", "--keep-last", "2", "--keep-monthly", "2", "--dry-run").must(t, 0)
	for _, want := range []string{"last 1", "monthly 2026-03", "monthly 2026-02", "would remove 4 snapshots"} {
		if !strings.Contains(dry.stdout, want) {
			t.Errorf("forget --dry-run lacks %q:\n%s", want, dry.stdout)
		}
	}
	if n := len(snapshotIDs(t, c)); n != 6 {
		t.Fatalf("dry run removed snapshots: %d left", n)
	}
	var out struct {
		Remove []string `json:"remove"`
		Prune  struct {
			DeletePacks int `json:"delete_packs"`
		} `json:"prune"`
	}
	r := c.owner("forget", "--json", "--keep-last", "2", "--keep-monthly", "2", "--prune").must(t, 0)
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Remove) != 4 || out.Prune.DeletePacks == 0 {
		t.Fatalf("forget --json: %v\n%s", err, r.stdout)
	}
	if n := len(snapshotIDs(t, c)); n != 2 {
		t.Fatalf("%d snapshots left, want 2", n)
	}
	c.owner("check", "--read-data").must(t, 0)
	target := filepath.Join(c.dir, "t")
	c.owner("restore", "latest:"+src, "--target", target).must(t, 0)
	requireSame(t, src, target, compareOpts())

	// Forget by id; a policy and ids together are a usage error.
	ids := snapshotIDs(t, c)
	c.owner("forget", ids[0][:8]).must(t, 0)
	c.owner("forget", "--keep-last", "1", ids[1][:8]).must(t, exitUsage)
	c.owner("forget").must(t, exitUsage)
}

// TestRepairAfterLosingAPack deletes a pack (as a failing disk or a
// careless hand would), then follows the documented procedure: check
// names the loss, repair index and repair snapshots drop what is gone,
// check passes again, and everything else restores.
func TestRepairAfterLosingAPack(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	randomFile(t, filepath.Join(src, "lost.bin"), 3<<20)
	c.init()
	c.owner("backup", src).must(t, 0)
	randomFile(t, filepath.Join(src, "kept.bin"), 3<<20)
	writeFile(t, filepath.Join(src, "etc/hostname"), []byte("mail1\n"))
	c.owner("backup", src).must(t, 0)

	// The first backup's data pack holds only lost.bin.
	r := c.openInProcess(t)
	sn, err := r.FindSnapshot(context.Background(), "latest", snapshotFilterNone())
	if err != nil {
		t.Fatal(err)
	}
	node, err := r.FindNode(context.Background(), sn.Tree, src+"/lost.bin")
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := r.Index().Lookup(node.Content[0])
	pack := filepath.Join(c.repo, "data", loc.Pack.ID.String()[:2], loc.Pack.ID.String())
	if err := os.Remove(pack); err != nil {
		t.Fatal(err)
	}

	out := c.owner("check").must(t, exitError)
	if !strings.Contains(out.stderr, "lost.bin") {
		t.Errorf("check does not name the lost file:\n%s", out.stderr)
	}
	c.owner("repair", "index").must(t, 0)
	dry := c.owner("repair", "snapshots", "--dry-run").must(t, 0)
	if !strings.Contains(dry.stdout, "lost.bin") || !strings.Contains(dry.stdout, "would repair 2 of 2") {
		t.Errorf("repair snapshots --dry-run:\n%s", dry.stdout)
	}
	c.owner("repair", "snapshots").must(t, 0)
	c.owner("check", "--read-data").must(t, 0)
	ls := c.owner("ls", "latest", "--tag", "repaired").must(t, 0).stdout
	if strings.Contains(ls, "lost.bin") || !strings.Contains(ls, "kept.bin") {
		t.Errorf("repaired snapshot:\n%s", ls)
	}
	target := filepath.Join(c.dir, "t")
	c.owner("restore", "latest:"+src, "--target", target).must(t, 0)
	os.Remove(filepath.Join(src, "lost.bin"))
	requireSame(t, src, target, compareOpts())
}
