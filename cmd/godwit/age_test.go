package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/godwit-backup/godwit/repo/pack"
)

// ageBinary finds the reference age CLI: $GODWIT_AGE_BIN or age on PATH.
// Missing, the test is skipped, except in CI where it fails.
func ageBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GODWIT_AGE_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("age"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("the reference age CLI is not installed (scripts/test installs it)")
	}
	t.Skip("the reference age CLI is not installed")
	return ""
}

// TestReferenceAgeDecryptsRepositoryObjects checks that every object kind
// is a standard age file: the reference CLI decrypts the config, a
// snapshot and an index with M, and a pack with D.
func TestReferenceAgeDecryptsRepositoryObjects(t *testing.T) {
	age := ageBinary(t)
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	r := c.openInProcess(t)

	idFile := func(which string) string {
		var buf bytes.Buffer
		if err := r.Keys().WriteIdentityFile(&buf, which); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(c.dir, which+".key")
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	meta, data := idFile("meta"), idFile("data")
	decrypt := func(identity, object string) []byte {
		t.Helper()
		out, err := exec.Command(age, "-d", "-i", identity, object).Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("age -d %s: %v\n%s", object, err, stderr)
		}
		return out
	}
	one := func(pattern string) string {
		m, _ := filepath.Glob(filepath.Join(c.repo, pattern))
		if len(m) == 0 {
			t.Fatalf("no object matches %s", pattern)
		}
		return m[0]
	}

	var cfg struct {
		Version int    `json:"version"`
		ID      string `json:"id"`
	}
	if err := json.Unmarshal(decrypt(meta, filepath.Join(c.repo, "config")), &cfg); err != nil || cfg.ID != r.Config().ID {
		t.Errorf("config via age: %+v %v", cfg, err)
	}
	var sn struct {
		Tree string `json:"tree"`
	}
	if err := json.Unmarshal(decrypt(meta, one("snapshots/*")), &sn); err != nil || len(sn.Tree) != 64 {
		t.Errorf("snapshot via age: %+v %v", sn, err)
	}
	var idx struct {
		Packs []json.RawMessage `json:"packs"`
	}
	if err := json.Unmarshal(decrypt(meta, one("index/*")), &idx); err != nil || len(idx.Packs) == 0 {
		t.Errorf("index via age: %v", err)
	}
	plain := decrypt(data, one("data/*/*"))
	n := binary.LittleEndian.Uint32(plain[len(plain)-4:])
	hdr, err := pack.ParseHeader(plain[len(plain)-4-int(n) : len(plain)-4])
	if err != nil || len(hdr.Blobs) == 0 {
		t.Errorf("pack via age: header %v", err)
	}

	// The metadata key cannot open packs: age itself refuses.
	if err := exec.Command(age, "-d", "-i", meta, one("data/*/*")).Run(); err == nil {
		t.Error("age decrypted a pack with the metadata key")
	}
}
