package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/internal/testutil"
)

// crashRig runs the godwit binary against one repository and kills it.
type crashRig struct {
	t   *testing.T
	bin string
	env []string
	src string
	dir string
	rng *rand.Rand
	// expected holds, for every snapshot that must exist, the hash of
	// every file it holds (relative path → SHA-256).
	expected map[string]map[string]string
}

func (c *crashRig) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(os.Environ(), c.env...)
	return cmd
}

// run runs godwit to completion and fails the test on a non-zero exit.
func (c *crashRig) run(args ...string) string {
	c.t.Helper()
	out, err := c.cmd(args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("godwit %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// killed starts godwit and kills it with SIGKILL after a random delay of
// up to window, and says whether it finished before that.
func (c *crashRig) killed(window time.Duration, args ...string) (finished bool, delay time.Duration) {
	c.t.Helper()
	cmd := c.cmd(args...)
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	delay = time.Duration(c.rng.Int64N(int64(window)))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return true, delay
	case <-time.After(delay):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return false, delay
	}
}

func (c *crashRig) snapshots() []string {
	c.t.Helper()
	var list []snapshotJSON
	if err := json.Unmarshal([]byte(c.run("snapshots", "--json")), &list); err != nil {
		c.t.Fatal(err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return ids
}

func hashFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		h, err := testutil.HashFile(p)
		rel, _ := filepath.Rel(root, p)
		out[rel] = h
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// verify checks the repository after a kill: check passes, and a random
// snapshot (every snapshot when all is set) restores bit-identical.
func (c *crashRig) verify(what string, all bool) {
	c.t.Helper()
	if out, err := c.cmd("check").CombinedOutput(); err != nil {
		c.t.Fatalf("%s: check failed: %v\n%s", what, err, out)
	}
	ids := c.snapshots()
	if len(ids) != len(c.expected) {
		c.t.Fatalf("%s: %d snapshots, want %d", what, len(ids), len(c.expected))
	}
	sort.Strings(ids)
	if !all {
		ids = []string{ids[c.rng.IntN(len(ids))]}
	}
	for _, id := range ids {
		want, ok := c.expected[id]
		if !ok {
			c.t.Fatalf("%s: unexpected snapshot %s", what, id)
		}
		target := filepath.Join(c.dir, "restore")
		os.RemoveAll(target)
		c.run("restore", id+":"+c.src, "--target", target)
		got := hashFiles(c.t, target)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			c.t.Fatalf("%s: snapshot %s restores differently:\n got %v\nwant %v", what, id[:8], got, want)
		}
	}
}

// mutate changes the source tree a little: a new file, a changed file, a
// removed file.
func (c *crashRig) mutate(i int) {
	b := make([]byte, 200<<10+c.rng.IntN(400<<10))
	for j := range b {
		b[j] = byte(c.rng.Uint32())
	}
	writeFile(c.t, filepath.Join(c.src, "new", fmt.Sprintf("f%03d", i)), b)
	writeFile(c.t, filepath.Join(c.src, "Maildir/cur", fmt.Sprintf("m%03d", i%7)), []byte(strings.Repeat(fmt.Sprintf("message %d\n", i), 100)))
	os.Remove(filepath.Join(c.src, "new", fmt.Sprintf("f%03d", i-4)))
}

// backupExpecting runs a complete backup, records its snapshot, and
// returns how long it took.
func (c *crashRig) backupExpecting(args ...string) time.Duration {
	before := map[string]bool{}
	for _, id := range c.snapshots() {
		before[id] = true
	}
	hashes := hashFiles(c.t, c.src)
	start := time.Now()
	c.run(append(append([]string{"backup"}, args...), c.src)...)
	took := time.Since(start)
	for _, id := range c.snapshots() {
		if !before[id] {
			c.expected[id] = hashes
		}
	}
	return took
}

// timed runs godwit to completion and returns how long it took.
func (c *crashRig) timed(args ...string) time.Duration {
	start := time.Now()
	c.run(args...)
	return time.Since(start)
}

// TestKilledBackupsAndPrunesLeaveARepositoryThatChecksAndRestores kills
// godwit backup and godwit prune with SIGKILL at 50 points each, chosen by
// a seeded schedule: a delay drawn uniformly from 0 to 1.1 times the last
// complete run of the same command. After every kill check passes, a
// random snapshot restores bit-identical (all of them at the end, after
// check --read-data), and the next run of the command completes.
func TestKilledBackupsAndPrunesLeaveARepositoryThatChecksAndRestores(t *testing.T) {
	const kills, maxRuns = 50, 120
	dir := t.TempDir()
	c := &crashRig{
		t: t, bin: godwitBinary(t), dir: dir, src: filepath.Join(dir, "src"),
		rng:      rand.New(rand.NewPCG(2026, 11)),
		expected: map[string]map[string]string{},
		env: []string{
			"GODWIT_REPOSITORY=" + filepath.Join(dir, "repo"),
			"GODWIT_PASSWORD=crash test",
			"GODWIT_KNOWN_REPOSITORIES=" + filepath.Join(dir, "known"),
			"GODWIT_CACHE_DIR=" + filepath.Join(dir, "cache"),
			"GODWIT_SCRYPT_WORK_FACTOR=10",
		},
	}
	for i := 0; i < 4; i++ {
		randomFile(t, filepath.Join(c.src, "base", fmt.Sprint(i)), 700<<10+i*4096)
	}
	c.run("init", "--pack-size", "1")
	c.backupExpecting()
	// Every other run re-reads every file (--force), so that kills land in
	// the chunking and upload of much data as well as in a quick walk.
	windows := map[bool]time.Duration{false: c.backupExpecting(), true: c.backupExpecting("--force")}

	killedBackups, backupRuns := 0, 0
	for i := 0; killedBackups < kills && i < maxRuns; i++ {
		backupRuns++
		c.mutate(i)
		before := map[string]bool{}
		for _, id := range c.snapshots() {
			before[id] = true
		}
		hashes := hashFiles(t, c.src)
		force := i%2 == 0
		args := []string{"backup", c.src}
		if force {
			args = []string{"backup", "--force", c.src}
		}
		finished, delay := c.killed(windows[force]*11/10, args...)
		if !finished {
			killedBackups++
		}
		for _, id := range c.snapshots() {
			if !before[id] {
				c.expected[id] = hashes // written before the kill: must be complete
			}
		}
		c.verify(fmt.Sprintf("backup killed after %v (run %d)", delay, i), false)
		if force {
			windows[force] = c.backupExpecting("--force")
		} else {
			windows[force] = c.backupExpecting()
		}
	}

	// Prune: forget a snapshot, then kill prune while it deletes and
	// repacks; a complete prune follows.
	window := c.timed("prune", "--max-unused", "0")
	killedPrunes, pruneRuns := 0, 0
	for i := 0; killedPrunes < kills && i < maxRuns; i++ {
		pruneRuns++
		c.mutate(kills + i)
		c.backupExpecting()
		ids := c.snapshots()
		victim := ids[c.rng.IntN(len(ids)-1)]
		c.run("forget", victim)
		delete(c.expected, victim)
		finished, delay := c.killed(window*11/10, "prune", "--max-unused", "0")
		if !finished {
			killedPrunes++
		}
		c.verify(fmt.Sprintf("prune killed after %v (run %d)", delay, i), false)
		window = c.timed("prune", "--max-unused", "0")
	}
	c.run("check", "--read-data")
	c.verify("at the end", true)
	t.Logf("%d kills during backup in %d runs, %d during prune in %d runs", killedBackups, backupRuns, killedPrunes, pruneRuns)
	if killedBackups < kills || killedPrunes < kills {
		t.Errorf("fewer than %d kills landed inside each command in %d runs: the window is off", kills, maxRuns)
	}
}

// TestBackupDuringPruneWaitsOrFailsCleanly starts a backup from a second
// process while prune runs, at several offsets: each command either
// completes or exits 11 (locked), and afterwards check passes and every
// snapshot restores: prune never deletes a blob a new snapshot needs.
func TestBackupDuringPruneWaitsOrFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	c := &crashRig{
		t: t, bin: godwitBinary(t), dir: dir, src: filepath.Join(dir, "src"),
		rng:      rand.New(rand.NewPCG(7, 7)),
		expected: map[string]map[string]string{},
		env: []string{
			"GODWIT_REPOSITORY=" + filepath.Join(dir, "repo"),
			"GODWIT_PASSWORD=concurrency test",
			"GODWIT_KNOWN_REPOSITORIES=" + filepath.Join(dir, "known"),
			"GODWIT_CACHE_DIR=" + filepath.Join(dir, "cache"),
			"GODWIT_SCRYPT_WORK_FACTOR=10",
		},
	}
	for i := 0; i < 4; i++ {
		randomFile(t, filepath.Join(c.src, "base", fmt.Sprint(i)), 700<<10)
	}
	c.run("init", "--pack-size", "1")
	c.backupExpecting()
	outcomes := map[string]int{}
	for i := 0; i < 12; i++ {
		c.mutate(i)
		c.backupExpecting()
		ids := c.snapshots()
		victim := ids[0]
		c.run("forget", victim)
		delete(c.expected, victim)
		c.mutate(100 + i)
		hashes := hashFiles(t, c.src)
		before := map[string]bool{}
		for _, id := range c.snapshots() {
			before[id] = true
		}

		// Even rounds start prune first, odd rounds the backup; the
		// second command follows after a growing delay.
		first, second := c.cmd("prune", "--max-unused", "0"), c.cmd("backup", c.src)
		if i%2 == 1 {
			first, second = second, first
		}
		var firstOut strings.Builder
		first.Stdout, first.Stderr = &firstOut, &firstOut
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i/2) * 8 * time.Millisecond)
		secondOut, secondErr := second.CombinedOutput()
		firstErr := first.Wait()
		pruneErr, pruneOut, backupErr, backupOut := firstErr, firstOut.String(), secondErr, string(secondOut)
		if i%2 == 1 {
			pruneErr, pruneOut, backupErr, backupOut = secondErr, string(secondOut), firstErr, firstOut.String()
		}
		for _, r := range []struct {
			what string
			err  error
			out  string
		}{{"prune", pruneErr, pruneOut}, {"backup", backupErr, backupOut}} {
			switch ee, _ := r.err.(*exec.ExitError); {
			case r.err == nil:
				outcomes[r.what+" completed"]++
			case ee != nil && ee.ExitCode() == exitLocked:
				outcomes[r.what+" found the repository locked"]++
			default:
				t.Fatalf("%s while the other ran: %v\n%s", r.what, r.err, r.out)
			}
		}
		for _, id := range c.snapshots() {
			if !before[id] {
				c.expected[id] = hashes
			}
		}
		c.verify(fmt.Sprintf("round %d", i), false)
	}
	c.run("check", "--read-data")
	c.verify("at the end", true)
	t.Logf("outcomes: %v", outcomes)
	if outcomes["backup found the repository locked"] == 0 && outcomes["prune found the repository locked"] == 0 {
		t.Error("the two commands never overlapped: the test proves nothing")
	}
}
