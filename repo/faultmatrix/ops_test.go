package faultmatrix_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/mem"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/archiver"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/check"
	"github.com/godwit-backup/godwit/repo/forget"
	"github.com/godwit-backup/godwit/repo/prune"
	"github.com/godwit-backup/godwit/repo/restorer"
	"github.com/godwit-backup/godwit/repo/snapshot"
)

// world is the starting point of every run of one operation.
type world struct {
	src   string     // the backed-up directory, holding vers[len(snaps)] (or the last)
	vers  [3]version // vers[i] is what snaps[i] holds
	snaps []blob.ID  // the snapshots of the base repository, oldest first
	base  objects    // the base repository
	owner crypto.Identities
	calls map[string][5]int // by operation: calls of each faulty.Op without faults
}

// unlocker opens the repository with the owner's X25519 identity, which
// costs no key derivation.
func (w *world) unlocker() repo.Unlocker { return repo.Unlocker{Identities: w.owner} }

// buildWorld initialises a repository and backs up the first n versions
// into it, one snapshot each, an hour apart.
func buildWorld(t *testing.T, n int) *world {
	t.Helper()
	ctx := t.Context()
	w := &world{src: t.TempDir(), vers: versions(), calls: map[string][5]int{}}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	c, err := crypto.ParseCredential(id.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "owner.txt")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if w.owner, _, err = crypto.LoadIdentityFile(idFile, nil); err != nil {
		t.Fatal(err)
	}
	be := mem.New()
	r, err := repo.Init(ctx, be, repo.InitOptions{
		Scheme:      crypto.SchemeX25519,
		Credentials: []crypto.Credential{c},
		Host:        "mx1",
		Now:         t0,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	for i := range n {
		writeVersion(t, w.src, w.vers[i])
		o := backup(ctx, w, be, t0.Add(time.Duration(i)*time.Hour))
		if o.err != nil || len(o.warnings) > 0 {
			t.Fatalf("base backup %d: %v %v", i, o.err, o.warnings)
		}
		w.snaps = append(w.snaps, o.sn.ID)
	}
	r, err = repo.Open(ctx, be, w.unlocker())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	for i, id := range w.snaps {
		sn, err := r.LoadSnapshot(ctx, id.String())
		if err != nil {
			t.Fatal(err)
		}
		got, err := snapshotVersion(ctx, r, sn, w.src)
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(got, w.vers[i]); d != "" {
			t.Fatalf("base snapshot %d differs from its source: %s", i, d)
		}
	}
	writeVersion(t, w.src, w.vers[min(n, len(w.vers)-1)])
	if w.base, err = copyObjects(ctx, be); err != nil {
		t.Fatal(err)
	}
	return w
}

// outcome is what an operation reported.
type outcome struct {
	err      error              // it stopped with this error
	warnings []error            // problems it reported and went on
	sn       *snapshot.Snapshot // backup: the snapshot it reports written
}

// operation is one row group of the matrix.
type operation struct {
	name string
	// base is how many versions the base repository holds as snapshots.
	base int
	// prunes says that a successful run removes the packs no index
	// lists.
	prunes bool
	// run does what the command does, on be, restoring into target.
	run func(ctx context.Context, w *world, be backends.Backend, target string) outcome
	// succeeded reports whether o is a report of complete success.
	succeeded func(o outcome) bool
	// expect says which snapshots must exist after a run that reported o,
	// which must not, and which version a snapshot that is not in the
	// base holds (-1: no new snapshot may appear).
	expect func(w *world, o outcome) (must, gone []blob.ID, newVersion int)
	// effects, if set, checks what a successful run promised outside the
	// repository; verifyRepo checks what it promised inside.
	effects func(w *world, target string) error
}

var operations = []operation{
	{
		name: "backup",
		base: 2,
		run: func(ctx context.Context, w *world, be backends.Backend, _ string) outcome {
			return backup(ctx, w, be, t0.Add(72*time.Hour))
		},
		succeeded: func(o outcome) bool { return o.err == nil },
		expect: func(w *world, o outcome) ([]blob.ID, []blob.ID, int) {
			must := slices.Clone(w.snaps)
			if o.sn != nil {
				must = append(must, o.sn.ID)
			}
			return must, nil, 2
		},
	},
	{
		name:      "restore",
		base:      2,
		run:       restore,
		succeeded: func(o outcome) bool { return o.err == nil && len(o.warnings) == 0 },
		expect: func(w *world, _ outcome) ([]blob.ID, []blob.ID, int) {
			return w.snaps, nil, -1
		},
		effects: func(w *world, target string) error {
			got, err := readVersion(target)
			if err != nil {
				return err
			}
			if d := diff(got, w.vers[1]); d != "" {
				return fmt.Errorf("restored tree differs from the source: %s", d)
			}
			return nil
		},
	},
	{
		name:      "forget+prune",
		base:      3,
		prunes:    true,
		run:       forgetPrune,
		succeeded: func(o outcome) bool { return o.err == nil },
		expect: func(w *world, o outcome) ([]blob.ID, []blob.ID, int) {
			if o.err == nil {
				return w.snaps[1:], w.snaps[:1], -1
			}
			return w.snaps[1:], nil, -1
		},
	},
	{
		name:      "check",
		base:      2,
		run:       checkRepo,
		succeeded: func(o outcome) bool { return o.err == nil && len(o.warnings) == 0 },
		expect: func(w *world, _ outcome) ([]blob.ID, []blob.ID, int) {
			return w.snaps, nil, -1
		},
	},
}

// release releases a lock as the commands do when they return, and notes
// a failure to remove the lock object.
func release(ctx context.Context, lk *repo.HeldLock, o *outcome) {
	if err := lk.Release(ctx); err != nil {
		o.warnings = append(o.warnings, err)
	}
}

// backup backs up w.src with the snapshot time at, as godwit backup does:
// open, load the index (a failure is a warning), take a shared lock, run
// the archiver, and abort the uploads when it fails.
func backup(ctx context.Context, w *world, be backends.Backend, at time.Time) (o outcome) {
	r, err := repo.Open(ctx, be, w.unlocker())
	if err != nil {
		return outcome{err: err}
	}
	defer r.Close()
	r.SetUploads(1) // one upload at a time: the call order, and so the schedule, is the same on every run
	if err := r.LoadIndex(ctx); err != nil {
		o.warnings = append(o.warnings, err)
	}
	lk, err := r.Lock(ctx, false, time.Now)
	if err != nil {
		o.err = err
		return o
	}
	defer release(ctx, lk, &o)
	a := archiver.New(r, archiver.Options{
		Host:      "mx1",
		Now:       func() time.Time { return at },
		CheckLock: lk.Err,
		Warn: func(path string, err error) {
			o.warnings = append(o.warnings, fmt.Errorf("%s: %w", path, err))
		},
	})
	sn, err := a.Run(ctx, []string{w.src})
	if err != nil {
		r.Abort()
		o.err = err
		return o
	}
	o.sn = sn
	return o
}

// restore restores the second base snapshot into target, as godwit
// restore does.
func restore(ctx context.Context, w *world, be backends.Backend, target string) (o outcome) {
	r, err := repo.Open(ctx, be, w.unlocker())
	if err != nil {
		return outcome{err: err}
	}
	defer r.Close()
	if err := r.LoadIndex(ctx); err != nil {
		o.warnings = append(o.warnings, err)
	}
	lk, err := r.Lock(ctx, false, time.Now)
	if err != nil {
		o.err = err
		return o
	}
	defer release(ctx, lk, &o)
	sn, err := r.FindSnapshot(ctx, w.snaps[1].String(), snapshot.Filter{})
	if err != nil {
		o.err = err
		return o
	}
	node, err := r.FindNode(ctx, sn.Tree, w.src)
	if err != nil {
		o.err = err
		return o
	}
	_, err = restorer.Restore(ctx, r, node, w.src, restorer.Options{
		Target:  target,
		Workers: 1,
		Warn: func(path string, err error) {
			o.warnings = append(o.warnings, fmt.Errorf("%s: %w", path, err))
		},
	})
	o.err = err
	return o
}

// forgetPrune keeps the last two snapshots and prunes, as godwit forget
// --keep-last 2 --prune does: the exclusive lock is released after the
// forget and taken again for the prune.
func forgetPrune(ctx context.Context, w *world, be backends.Backend, _ string) (o outcome) {
	r, err := repo.Open(ctx, be, w.unlocker())
	if err != nil {
		return outcome{err: err}
	}
	defer r.Close()
	lk, err := r.Lock(ctx, true, time.Now)
	if err != nil {
		return outcome{err: err}
	}
	all, err := r.Snapshots(ctx)
	if err != nil {
		release(ctx, lk, &o)
		o.err = err
		return o
	}
	for _, g := range forget.Apply(all, forget.Policy{Last: 2}, forget.GroupBy{Host: true, Paths: true}, time.UTC) {
		for _, d := range g.Decisions {
			if d.Keep {
				continue
			}
			if err := r.Remove(ctx, backends.Handle{Type: backends.SnapshotFile, Name: d.Snapshot.ID.String()}); err != nil {
				release(ctx, lk, &o)
				o.err = err
				return o
			}
		}
	}
	release(ctx, lk, &o)
	lk, err = r.Lock(ctx, true, time.Now)
	if err != nil {
		o.err = err
		return o
	}
	defer release(ctx, lk, &o)
	_, o.err = prune.Run(ctx, r, prune.Options{MaxUnused: 0.05})
	return o
}

// checkRepo runs godwit check --read-data; every problem is a warning.
func checkRepo(ctx context.Context, w *world, be backends.Backend, _ string) (o outcome) {
	r, err := repo.Open(ctx, be, w.unlocker())
	if err != nil {
		return outcome{err: err}
	}
	defer r.Close()
	lk, err := r.Lock(ctx, false, time.Now)
	if err != nil {
		return outcome{err: err}
	}
	defer release(ctx, lk, &o)
	_, o.err = check.Check(ctx, r, check.Options{ReadData: true}, func(p check.Problem) {
		o.warnings = append(o.warnings, errors.New(p.Object+": "+p.What))
	})
	return o
}
