package repo_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func saveSnapshot(t *testing.T, r *repo.Repository, sn *snapshot.Snapshot) blob.ID {
	t.Helper()
	if sn.Tree.IsNull() {
		sn.Tree = blob.ID{1}
	}
	id, err := r.SaveSnapshot(context.Background(), sn)
	if err != nil {
		t.Fatal(err)
	}
	if sn.ID != id {
		t.Fatalf("SaveSnapshot did not set the snapshot's ID")
	}
	return id
}

func TestSaveSnapshotThenLoad(t *testing.T) {
	ctx := context.Background()
	_, r := newRepo(t, 0)
	id := saveSnapshot(t, r, &snapshot.Snapshot{Time: t0, Host: "mx1", Paths: []string{"/etc"}, Tree: blob.ID{9}})
	sn, err := r.LoadSnapshot(ctx, id.String())
	if err != nil {
		t.Fatal(err)
	}
	if sn.ID != id || sn.Host != "mx1" || sn.Tree != (blob.ID{9}) || !sn.Time.Equal(t0) {
		t.Errorf("loaded %+v", sn)
	}
}

func TestMetadataObjectUnderAnotherNameIsRejected(t *testing.T) {
	ctx := context.Background()
	be, r := newRepo(t, 0)
	good := saveSnapshot(t, r, &snapshot.Snapshot{Time: t0, Host: "mx1"})
	sealed, err := backends.LoadAll(ctx, be, backends.Handle{Type: backends.SnapshotFile, Name: good.String()})
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Repeat("f", 64)
	if err := be.Save(ctx, backends.Handle{Type: backends.SnapshotFile, Name: forged}, sealed); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadSnapshot(ctx, forged); !errors.Is(err, repo.ErrCorrupt) {
		t.Errorf("LoadSnapshot of a copy under another name = %v, want ErrCorrupt", err)
	}
	list, err := r.Snapshots(ctx)
	if len(list) != 1 || list[0].ID != good {
		t.Errorf("Snapshots = %v, want only the genuine one", list)
	}
	if !errors.Is(err, repo.ErrCorrupt) || !strings.Contains(err.Error(), forged) {
		t.Errorf("Snapshots error = %v, want ErrCorrupt naming the forged object", err)
	}
	if _, _, err := r.LoadMetaObject(ctx, backends.SnapshotFile, "fff"); !errors.Is(err, repo.ErrCorrupt) {
		t.Errorf("LoadMetaObject = %v, want ErrCorrupt", err)
	}
}

func TestSnapshotsAreSortedOldestFirst(t *testing.T) {
	ctx := context.Background()
	_, r := newRepo(t, 0)
	for _, h := range []int{5, 1, 3} {
		saveSnapshot(t, r, &snapshot.Snapshot{Time: t0.Add(time.Duration(h) * time.Hour), Host: fmt.Sprint(h)})
	}
	list, err := r.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sn := range list {
		got = append(got, sn.Host)
	}
	if strings.Join(got, ",") != "1,3,5" {
		t.Errorf("order %v, want 1,3,5", got)
	}
}

func TestFindSnapshotLatest(t *testing.T) {
	ctx := context.Background()
	_, r := newRepo(t, 0)
	saveSnapshot(t, r, &snapshot.Snapshot{Time: t0.Add(1 * time.Hour), Host: "mx1", Tags: []string{"daily"}, Paths: []string{"/etc"}})
	saveSnapshot(t, r, &snapshot.Snapshot{Time: t0.Add(2 * time.Hour), Host: "web", Tags: []string{"daily"}, Paths: []string{"/var/www"}})
	saveSnapshot(t, r, &snapshot.Snapshot{Time: t0.Add(3 * time.Hour), Host: "mx1", Paths: []string{"/var/mail"}})
	saveSnapshot(t, r, &snapshot.Snapshot{Time: t0.Add(4 * time.Hour), Host: "web", Paths: []string{"/etc"}})
	cases := []struct {
		name     string
		f        snapshot.Filter
		wantHour int // 0: no match
	}{
		{"no filter", snapshot.Filter{}, 4},
		{"host", snapshot.Filter{Hosts: []string{"mx1"}}, 3},
		{"tag", snapshot.Filter{Tags: []string{"daily"}}, 2},
		{"host and tag", snapshot.Filter{Hosts: []string{"mx1"}, Tags: []string{"daily"}}, 1},
		{"path", snapshot.Filter{Paths: []string{"/var/mail"}}, 3},
		{"nothing matches", snapshot.Filter{Hosts: []string{"db"}}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sn, err := r.FindSnapshot(ctx, "latest", tc.f)
			if tc.wantHour == 0 {
				if !errors.Is(err, repo.ErrSnapshotNotFound) {
					t.Errorf("FindSnapshot = %v, %v; want ErrSnapshotNotFound", sn, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := t0.Add(time.Duration(tc.wantHour) * time.Hour); !sn.Time.Equal(want) {
				t.Errorf("found the snapshot of %v, want %v", sn.Time, want)
			}
		})
	}
}

func TestFindSnapshotByPrefix(t *testing.T) {
	ctx := context.Background()
	_, r := newRepo(t, 0)
	// 17 snapshots: by pigeonhole two share their first hex digit.
	byFirst := map[byte][]blob.ID{}
	used := map[string]bool{}
	for i := range 17 {
		id := saveSnapshot(t, r, &snapshot.Snapshot{Time: t0.Add(time.Duration(i) * time.Minute), Host: "h"})
		s := id.String()
		byFirst[s[0]] = append(byFirst[s[0]], id)
		used[s[:2]] = true
	}
	var ambiguous byte
	for c, ids := range byFirst {
		if len(ids) > 1 {
			ambiguous = c
		}
	}
	_, err := r.FindSnapshot(ctx, string(ambiguous), snapshot.Filter{})
	if err == nil || !strings.Contains(err.Error(), "ambiguous") || errors.Is(err, repo.ErrSnapshotNotFound) {
		t.Errorf("FindSnapshot(%q) = %v, want an ambiguity error", ambiguous, err)
	}

	want := byFirst[ambiguous][0]
	sn, err := r.FindSnapshot(ctx, strings.ToUpper(want.String()[:12]), snapshot.Filter{})
	if err != nil || sn.ID != want {
		t.Errorf("FindSnapshot(unique upper-case prefix) = %v, %v; want %s", sn, err, want.Short())
	}
	sn, err = r.FindSnapshot(ctx, want.String(), snapshot.Filter{Hosts: []string{"other"}})
	if err != nil || sn.ID != want {
		t.Errorf("FindSnapshot(full id) = %v, %v; the filter only narrows latest", sn, err)
	}

	var missing string
	for i := range 256 {
		if p := fmt.Sprintf("%02x", i); !used[p] {
			missing = p
			break
		}
	}
	if _, err := r.FindSnapshot(ctx, missing, snapshot.Filter{}); !errors.Is(err, repo.ErrSnapshotNotFound) {
		t.Errorf("FindSnapshot(%q) = %v, want ErrSnapshotNotFound", missing, err)
	}
	if _, err := r.FindSnapshot(ctx, "", snapshot.Filter{}); err == nil {
		t.Error("FindSnapshot of an empty reference succeeded")
	}
}

func TestFindNodeWalksTrees(t *testing.T) {
	ctx := context.Background()
	_, r := newRepo(t, 0)
	etc := &tree.Tree{}
	_ = etc.Insert(&tree.Node{Name: "passwd", Type: tree.File, Size: 3})
	etcID, _, err := r.SaveTree(ctx, etc)
	if err != nil {
		t.Fatal(err)
	}
	root := &tree.Tree{}
	_ = root.Insert(&tree.Node{Name: "etc", Type: tree.Dir, Subtree: &etcID})
	_ = root.Insert(&tree.Node{Name: "motd", Type: tree.File})
	rootID, _, err := r.SaveTree(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path     string
		wantName string // "" for an error
		wantErr  string
	}{
		{"/", "/", ""},
		{"", "/", ""},
		{"/etc", "etc", ""},
		{"/etc/passwd", "passwd", ""},
		{"etc/./passwd/", "passwd", ""},
		{"/etc/shadow", "", "no such file"},
		{"/motd/x", "", "not a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			n, err := r.FindNode(ctx, rootID, tc.path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("FindNode = %v, %v; want an error containing %q", n, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(n.Name) != tc.wantName {
				t.Errorf("FindNode found %q, want %q", n.Name, tc.wantName)
			}
		})
	}
	if n, _ := r.FindNode(ctx, rootID, "/"); n.Subtree == nil || *n.Subtree != rootID {
		t.Error("root node does not point at the root tree")
	}
}
