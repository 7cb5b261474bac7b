package faultmatrix_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/mem"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
)

// t0 is the time of the first snapshot; each later one is an hour later.
var t0 = time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)

// version is one state of the source tree: slash-separated paths relative
// to the backed-up directory mapped to file contents; directories end in
// "/" and map to nil.
type version map[string][]byte

// versions returns three successive states of a small mail server, the
// same on every run: text files and Maildir messages that compress, mbox
// spools that are cut at their messages, and incompressible files of up to
// 80 KiB; 23 or 24 files, 210 to 240 KiB in all. Each state changes, adds
// and removes files of the one before, so that each backup adds its own
// data.
func versions() [3]version {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	text := func(n int, words ...string) []byte {
		var buf bytes.Buffer
		for buf.Len() < n {
			buf.WriteString(words[rng.IntN(len(words))])
			buf.WriteByte(" \n"[rng.IntN(2)])
		}
		return buf.Bytes()
	}
	mail := func(from string, n int) []byte {
		return append([]byte("From: "+from+"\nSubject: report\n\n"), text(n, "invoice", "meeting", "attached", "regards", "the", "quarterly")...)
	}
	mbox := func(msgs int) []byte {
		var buf bytes.Buffer
		for i := range msgs {
			fmt.Fprintf(&buf, "From sender%d@example.org Sat Mar  1 02:00:00 2025\n", i)
			buf.Write(mail(fmt.Sprintf("sender%d@example.org", i), 2000+rng.IntN(4000)))
			buf.WriteString("\n")
		}
		return buf.Bytes()
	}

	v1 := version{
		"etc/hostname":            []byte("mx1\n"),
		"etc/hosts":               []byte("127.0.0.1 localhost\n203.0.113.7 mx1.example.org mx1\n"),
		"etc/postfix/main.cf":     text(3000, "smtpd_tls", "=", "yes", "myhostname", "relayhost", "inet_interfaces"),
		"etc/postfix/master.cf":   text(2000, "smtp", "inet", "n", "-", "y", "postscreen"),
		"var/mail/alice":          mbox(8),
		"var/mail/bob":            mbox(3),
		"var/www/index.html":      text(1500, "<p>", "</p>", "welcome", "mail"),
		"var/www/logo.png":        random(48 << 10),
		"var/www/archive.tar.zst": random(80 << 10),
		"var/spool/cron/root":     []byte("17 3 * * * godwit backup --preset mailserver\n"),
		"home/alice/.profile":     []byte("export EDITOR=vi\n"),
	}
	for u, user := range []string{"alice", "bob", "carol"} {
		for i := range 4 {
			v1[fmt.Sprintf("home/%s/Maildir/cur/%d.M%dP%d.mx1:2,S", user, 1740794400+i, u, i)] = mail(user+"@example.org", 800+rng.IntN(3000))
		}
	}
	v1["home/carol/Maildir/tmp/"] = nil

	v2 := clone(v1)
	v2["var/www/archive.tar.zst"] = random(80 << 10)
	v2["var/mail/alice"] = append(slices.Clone(v1["var/mail/alice"]), mbox(2)...)
	delete(v2, "home/bob/Maildir/cur/1740794401.M1P1.mx1:2,S")
	v2["home/bob/Maildir/new/1740798000.M9P9.mx1"] = mail("dave@example.org", 5000)
	v2["etc/hosts"] = []byte("127.0.0.1 localhost\n203.0.113.8 mx1.example.org mx1\n")

	v3 := clone(v2)
	v3["var/www/upload.bin"] = random(32 << 10)
	v3["var/mail/bob"] = mbox(1)
	v3["etc/postfix/main.cf"] = text(3100, "smtpd_tls", "=", "no", "myhostname", "relayhost")
	delete(v3, "home/carol/Maildir/tmp/")
	return [3]version{withDirs(v1), withDirs(v2), withDirs(v3)}
}

func clone(v version) version {
	out := make(version, len(v))
	for k, b := range v {
		out[k] = b
	}
	return out
}

// withDirs adds an entry for every parent directory of v's paths.
func withDirs(v version) version {
	for p := range v {
		for d := filepath.Dir(strings.TrimSuffix(p, "/")); d != "."; d = filepath.Dir(d) {
			v[d+"/"] = nil
		}
	}
	return v
}

// writeVersion makes dir hold exactly v.
func writeVersion(t *testing.T, dir string, v version) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range v {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// readVersion reads the files and directories below dir.
func readVersion(dir string) (version, error) {
	v := version{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			v[rel+"/"] = nil
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			v[rel] = data
		default:
			return fmt.Errorf("%s: unexpected file type %v", rel, d.Type())
		}
		return nil
	})
	return v, err
}

// diff describes the first difference between two versions, or returns
// "" when they are equal.
func diff(got, want version) string {
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		g, inGot := got[p]
		w, inWant := want[p]
		switch {
		case !inGot:
			return p + ": missing"
		case !inWant:
			return p + ": not expected"
		case !bytes.Equal(g, w):
			return fmt.Sprintf("%s: %d bytes differ from the %d expected", p, len(g), len(w))
		}
	}
	return ""
}

// snapshotVersion reads the directory src of a snapshot back through the
// blob reader, which checks every blob against its keyed id.
func snapshotVersion(ctx context.Context, r *repo.Repository, sn *snapshot.Snapshot, src string) (version, error) {
	node, err := r.FindNode(ctx, sn.Tree, src)
	if err != nil {
		return nil, err
	}
	if node.Type != tree.Dir || node.Subtree == nil {
		return nil, fmt.Errorf("%s: not a directory in snapshot %s", src, sn.ID.Short())
	}
	v := version{}
	err = r.WalkTree(ctx, *node.Subtree, "/", nil, func(path string, n *tree.Node) error {
		rel := strings.TrimPrefix(path, "/")
		switch n.Type {
		case tree.Dir:
			v[rel+"/"] = nil
		case tree.File:
			var data []byte
			for _, id := range n.Content {
				b, err := r.LoadBlob(ctx, blob.DataBlob, id)
				if err != nil {
					return fmt.Errorf("%s: %w", rel, err)
				}
				data = append(data, b...)
			}
			v[rel] = data
		default:
			return fmt.Errorf("%s: unexpected node type %v", rel, n.Type)
		}
		return nil
	}, func(path string, err error) error { return fmt.Errorf("%s: %w", path, err) })
	return v, err
}

// objects is a copy of every object of a repository.
type objects map[backends.Handle][]byte

func copyObjects(ctx context.Context, be backends.Backend) (objects, error) {
	out := objects{}
	for _, ft := range backends.AllTypes {
		var names []string
		err := be.List(ctx, ft, func(fi backends.FileInfo) error {
			names = append(names, fi.Name)
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			h := backends.Handle{Type: ft, Name: name}
			data, err := backends.LoadAll(ctx, be, h)
			if err != nil {
				return nil, err
			}
			out[h] = data
		}
	}
	return out, nil
}

// backend returns a new in-memory backend holding the objects.
func (o objects) backend(ctx context.Context) (*mem.Backend, error) {
	be := mem.New()
	for h, data := range o {
		if err := be.Save(ctx, h, data); err != nil {
			return nil, err
		}
	}
	return be, nil
}

// names lists the objects of type ft.
func names(ctx context.Context, be backends.Backend, ft backends.FileType) ([]string, error) {
	var out []string
	err := be.List(ctx, ft, func(fi backends.FileInfo) error {
		out = append(out, fi.Name)
		return nil
	})
	return out, err
}
