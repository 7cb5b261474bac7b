package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
)

// hostileRepo is a repository made by two backups, so that every object
// type has an object from each backup: damaging the second backup's object
// must leave the first snapshot restorable.
type hostileRepo struct {
	c     *cli
	src   string
	snaps []string // snapshot ids, oldest first
	// objects maps an object kind to its two objects, as paths relative to
	// the repository: [0] from the first backup, [1] from the second.
	objects map[string][2]string
}

const secondPassphrase = "second owner passphrase"

func newHostileRepo(t *testing.T, withLocks bool) *hostileRepo {
	t.Helper()
	c := newCLI(t)
	h := &hostileRepo{c: c, src: filepath.Join(c.dir, "src"), objects: map[string][2]string{}}
	c.init()
	second := filepath.Join(c.dir, "second-pw")
	writeFile(t, second, []byte(secondPassphrase+"\n"))
	c.owner("key", "add", "--new-password-file", second).must(t, 0)

	// Two files of the same size, each in its own backup: the two data
	// packs then have the same size, so one can stand in for the other.
	randomFile(t, filepath.Join(h.src, "a/first.bin"), 300<<10)
	writeFile(t, filepath.Join(h.src, "a/note.txt"), []byte("unchanged between the backups\n"))
	before := h.listObjects(t)
	c.owner("backup", h.src).must(t, 0)
	first := newObjects(before, h.listObjects(t))
	randomFile(t, filepath.Join(h.src, "b/second.bin"), 300<<10)
	before = h.listObjects(t)
	c.owner("backup", h.src).must(t, 0)
	second2 := newObjects(before, h.listObjects(t))

	r := c.openInProcess(t)
	packType := map[string]blob.Type{}
	files, err := r.IndexFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		for _, p := range f.File.Packs {
			packType[p.ID.String()] = p.Type
		}
	}
	pick := func(objs []string, dir string, want blob.Type) string {
		for _, o := range objs {
			if !strings.HasPrefix(o, dir+"/") {
				continue
			}
			if dir == "data" && packType[filepath.Base(o)] != want {
				continue
			}
			return o
		}
		t.Fatalf("no %s object (type %v) among %v", dir, want, objs)
		return ""
	}
	for _, k := range []struct {
		kind, dir string
		typ       blob.Type
	}{
		{"snapshot", "snapshots", 0},
		{"index", "index", 0},
		{"data pack", "data", blob.DataBlob},
		{"tree pack", "data", blob.TreeBlob},
	} {
		h.objects[k.kind] = [2]string{pick(first, k.dir, k.typ), pick(second2, k.dir, k.typ)}
	}
	keys := h.listObjects(t)
	var keyObjs []string
	for _, o := range keys {
		if strings.HasPrefix(o, "keys/") {
			keyObjs = append(keyObjs, o)
		}
	}
	if len(keyObjs) != 2 {
		t.Fatalf("want 2 key objects, have %v", keyObjs)
	}
	// The key object the first passphrase opens stays intact; the other
	// one is the victim.
	current, _ := r.CurrentKey()
	if keyObjs[0] != "keys/"+current {
		keyObjs[0], keyObjs[1] = keyObjs[1], keyObjs[0]
	}
	h.objects["key"] = [2]string{keyObjs[0], keyObjs[1]}
	h.objects["config"] = [2]string{"", "config"}

	if withLocks {
		// Two shared locks held by this process, so they are not stale.
		var locks []string
		for range 2 {
			before := h.listObjects(t)
			lk, err := r.Lock(context.Background(), false, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { lk.Release(context.Background()) })
			locks = append(locks, newObjects(before, h.listObjects(t))...)
		}
		h.objects["lock"] = [2]string{locks[0], locks[1]}
	}

	var list []struct {
		ID   string    `json:"id"`
		Time time.Time `json:"time"`
	}
	if err := json.Unmarshal([]byte(c.owner("snapshots", "--json").must(t, 0).stdout), &list); err != nil {
		t.Fatal(err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Time.Before(list[j].Time) })
	for _, s := range list {
		h.snaps = append(h.snaps, s.ID)
	}
	if len(h.snaps) != 2 {
		t.Fatalf("want 2 snapshots, have %d", len(h.snaps))
	}
	return h
}

// listObjects returns every object of the repository as a path relative
// to it.
func (h *hostileRepo) listObjects(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(h.c.repo, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasPrefix(fi.Name(), ".") {
			return err
		}
		rel, _ := filepath.Rel(h.c.repo, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func newObjects(before, after []string) []string {
	seen := map[string]bool{}
	for _, o := range before {
		seen[o] = true
	}
	var out []string
	for _, o := range after {
		if !seen[o] {
			out = append(out, o)
		}
	}
	return out
}

// attack damages the object at rel (the victim) in one way; partner is an
// object of the same type from the other backup ("" for the config).
type attack func(t *testing.T, h *hostileRepo, rel, partner string)

func flipBit(t *testing.T, h *hostileRepo, rel, _ string) {
	p := filepath.Join(h.c.repo, rel)
	data := readFile(t, p)
	data[len(data)/2] ^= 0x04
	overwrite(t, p, data)
}

func truncateHalf(t *testing.T, h *hostileRepo, rel, _ string) {
	p := filepath.Join(h.c.repo, rel)
	data := readFile(t, p)
	overwrite(t, p, data[:len(data)/2])
}

// swapIn puts the partner's content under the victim's name; the config
// gets the config of another repository.
func swapIn(t *testing.T, h *hostileRepo, rel, partner string) {
	var data []byte
	if partner == "" {
		other := newCLI(t)
		other.init()
		data = readFile(t, filepath.Join(other.repo, "config"))
	} else {
		data = readFile(t, filepath.Join(h.c.repo, partner))
	}
	overwrite(t, filepath.Join(h.c.repo, rel), data)
}

// forge replaces the victim with a valid age file encrypted to the right
// recipient (M for metadata, D for packs, the second passphrase for a key
// object) whose content parses but lies.
func forge(t *testing.T, h *hostileRepo, rel, partner string) {
	r := h.c.openInProcess(t)
	keys := r.Keys()
	p := filepath.Join(h.c.repo, rel)
	var (
		forged, plain []byte
		attacker      *crypto.Keys
		err           error
	)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	switch dir := strings.SplitN(rel, "/", 2)[0]; dir {
	case "config":
		// The same repository id, but secrets and a data recipient of
		// the attacker's.
		attacker, err = crypto.Generate(keys.Scheme(), r.Config().ID, keys.Polynomial())
		must(err)
		cfg := r.Config()
		cfg.Keys, err = attacker.MarshalConfigSecrets()
		must(err)
		plain, err = json.Marshal(cfg)
		must(err)
		forged, err = keys.SealMeta(plain)
	case "keys":
		// A key object that the second passphrase opens, holding keys of
		// the attacker's for the same repository id.
		attacker, err = crypto.Generate(keys.Scheme(), r.Config().ID, keys.Polynomial())
		must(err)
		cred, err := crypto.PassphraseCredential(secondPassphrase, 10)
		must(err)
		forged, err = attacker.SealKeyObject(cred, crypto.KeyInfo{Host: "attacker"})
		must(err)
	case "data":
		// The pack's own plaintext with one byte of its first frame
		// changed: it decrypts, its frames decode, its blob ids lie.
		plain, err = keys.OpenData(readFile(t, p))
		must(err)
		plain[40] ^= 0x01
		forged, err = keys.SealData(plain)
	default:
		// Metadata: the partner's plaintext (another snapshot's tree,
		// another backup's packs, another holder's lock), sealed anew to
		// M under the victim's name.
		plain, err = keys.OpenMeta(readFile(t, filepath.Join(h.c.repo, partner)))
		must(err)
		forged, err = keys.SealMeta(plain)
	}
	must(err)
	overwrite(t, p, forged)
}

func deleteObject(t *testing.T, h *hostileRepo, rel, _ string) {
	if err := os.Remove(filepath.Join(h.c.repo, rel)); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// overwrite replaces an object the way a storage provider would: the
// backend's files are read-only for godwit, not for the provider.
func overwrite(t *testing.T, p string, data []byte) {
	t.Helper()
	tmp := p + ".forged"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// TestHostileRepositoryNeverYieldsWrongData damages one object of every
// type in every way a storage provider could, then restores every snapshot
// and checks the repository. No restored file may differ from the source
// without being named; the damaged object is named; what the damage does not
// touch restores completely; and the commands that met damage exit non-zero.
func TestHostileRepositoryNeverYieldsWrongData(t *testing.T) {
	attacks := []struct {
		name string
		do   attack
	}{
		{"flip", flipBit}, {"truncate", truncateHalf}, {"swap", swapIn}, {"forge", forge}, {"delete", deleteObject},
	}
	type outcome struct {
		check int // exit code of check --read-data
		// intact lists the snapshots (0 older, 1 newer) that must restore
		// completely with exit 0; the others must exit non-zero.
		intact []int
		// named: the victim's name appears in the output of check and of
		// every restore that fails.
		named bool
		// unlock: run godwit unlock, after which every snapshot restores.
		unlock bool
	}
	damaged := outcome{check: exitError, intact: []int{0}, named: true}
	unopenable := outcome{check: exitError, intact: nil, named: true}
	lockDamage := outcome{check: exitError, intact: nil, named: true, unlock: true}
	cases := map[string]map[string]outcome{
		"config": {
			"flip": unopenable, "truncate": unopenable, "swap": unopenable, "forge": unopenable,
			"delete": {check: exitNoRepo, named: true},
		},
		"key": {
			// The first passphrase's key object is intact: everything
			// restores, and check names the damaged key object.
			"flip":     {check: exitError, intact: []int{0, 1}, named: true},
			"truncate": {check: exitError, intact: []int{0, 1}, named: true},
			"swap":     {check: exitError, intact: []int{0, 1}, named: true},
			"forge":    {check: exitError, intact: []int{0, 1}, named: true},
			// Indistinguishable from key remove.
			"delete": {check: exitOK, intact: []int{0, 1}},
		},
		"snapshot": {
			"flip": damaged, "truncate": damaged, "swap": damaged, "forge": damaged,
			// Indistinguishable from forget.
			"delete": {check: exitOK, intact: []int{0}},
		},
		"index": {
			"flip": damaged, "truncate": damaged, "swap": damaged, "forge": damaged,
			"delete": {check: exitError, intact: []int{0}},
		},
		"data pack": {"flip": damaged, "truncate": damaged, "swap": damaged, "forge": damaged, "delete": damaged},
		"tree pack": {"flip": damaged, "truncate": damaged, "swap": damaged, "forge": damaged, "delete": damaged},
		"lock": {
			"flip": lockDamage, "truncate": lockDamage, "swap": lockDamage, "forge": lockDamage,
			"delete": {check: exitOK, intact: []int{0, 1}},
		},
	}
	kinds := make([]string, 0, len(cases))
	for k := range cases {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		for _, a := range attacks {
			want := cases[kind][a.name]
			t.Run(kind+"/"+a.name, func(t *testing.T) {
				h := newHostileRepo(t, kind == "lock")
				objs := h.objects[kind]
				victim := objs[1]
				a.do(t, h, victim, objs[0])
				name := filepath.Base(victim)

				chk := h.c.owner("check", "--read-data")
				if chk.code != want.check {
					t.Errorf("check exit code %d, want %d\n%s%s", chk.code, want.check, chk.stdout, chk.stderr)
				}
				if want.named && !strings.Contains(chk.stdout+chk.stderr, name) {
					t.Errorf("check does not name %s:\n%s%s", victim, chk.stdout, chk.stderr)
				}

				h.restoreAll(t, want.intact, want.named, name)
				if want.unlock {
					if !strings.Contains(chk.stderr, "godwit unlock") {
						t.Errorf("the refusal does not point to godwit unlock:\n%s", chk.stderr)
					}
					h.c.owner("unlock").must(t, 0)
					h.restoreAll(t, []int{0, 1}, false, name)
				}
			})
		}
	}
}

// restoreAll restores every snapshot into a fresh directory and compares
// each regular file with the source: a file that differs or is missing
// must be named in the restore's errors, and the restore must fail.
// Snapshots in intact must restore completely with exit code 0; the others
// must fail, naming victimName when named is set.
func (h *hostileRepo) restoreAll(t *testing.T, intact []int, named bool, victimName string) {
	t.Helper()
	for i, id := range h.snaps {
		target, err := os.MkdirTemp(h.c.dir, "restore-")
		if err != nil {
			t.Fatal(err)
		}
		res := h.c.owner("restore", id+":"+h.src, "--target", target)
		wantIntact := false
		for _, j := range intact {
			wantIntact = wantIntact || j == i
		}
		if wantIntact && res.code != exitOK {
			t.Errorf("snapshot %d (%s) is untouched by the damage but restore exits %d:\n%s", i, id[:8], res.code, res.stderr)
		}
		if !wantIntact {
			if res.code == exitOK {
				t.Errorf("snapshot %d (%s) is damaged but restore exits 0:\n%s", i, id[:8], res.stdout)
			}
			if named && !strings.Contains(res.stderr, victimName) {
				t.Errorf("restore of snapshot %d does not name %s:\n%s", i, victimName, res.stderr)
			}
		}
		// The files this snapshot holds: the second backup added b/.
		files := []string{"a/first.bin", "a/note.txt"}
		if i == 1 {
			files = append(files, "b/second.bin")
		}
		for _, f := range files {
			want := readFile(t, filepath.Join(h.src, f))
			got, err := os.ReadFile(filepath.Join(target, f))
			switch {
			case err == nil && bytes.Equal(got, want):
			case res.code == exitOK:
				t.Errorf("snapshot %d: %s is missing or wrong (%v) but restore exits 0", i, f, err)
			case err == nil && !strings.Contains(res.stderr, f):
				t.Errorf("snapshot %d: %s restored with wrong content and not named:\n%s", i, f, res.stderr)
			case wantIntact:
				t.Errorf("snapshot %d: %s not restored: %v", i, f, err)
			}
		}
	}
}

// replaceConfig seals cfg with secrets to sealer's M and stores it as the
// repository's config, as a storage provider would.
func replaceConfig(t *testing.T, c *cli, r *repo.Repository, secrets []byte, sealer *crypto.Keys) {
	t.Helper()
	cfg := r.Config()
	cfg.Keys = secrets
	plain, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealer.SealMeta(plain)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, filepath.Join(c.repo, "config"), sealed)
}

func TestWriteKeyBackupRefusesConfigNamingAnotherDataKey(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	wk := filepath.Join(c.dir, "write.key")
	c.owner("key", "write-key", "--output", wk).must(t, 0)
	r := c.openInProcess(t)
	attacker, err := crypto.Generate(r.Keys().Scheme(), r.Config().ID, r.Polynomial())
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := attacker.MarshalConfigSecrets()
	if err != nil {
		t.Fatal(err)
	}
	// Encrypted to the genuine M: what a thief of another host's write
	// key could write.
	replaceConfig(t, c, r, secrets, r.Keys())
	before := newHostileView(c).listObjects(t)

	writeFile(t, filepath.Join(src, "etc/new.conf"), []byte("after the config was replaced\n"))
	out := c.run("--repo", c.repo, "-i", wk, "backup", src).must(t, exitError)
	if !strings.Contains(out.stderr, "data recipient") {
		t.Errorf("refusal does not say why:\n%s", out.stderr)
	}
	if added := newObjects(before, newHostileView(c).listObjects(t)); len(added) > 0 {
		t.Errorf("the refused backup wrote %v", added)
	}
}

func TestOwnerRefusesPlantedKeyAndConfigByTheFingerprintPin(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	r := c.openInProcess(t)
	genuine := r.Keys().Fingerprint()

	// The provider plants a key object sealed to the owner's passphrase
	// (it would use a public recipient of the owner's; a passphrase keeps
	// the test short) holding its own keys, and a config encrypted to its
	// own M: the repository now opens as the provider's.
	attacker, err := crypto.Generate(r.Keys().Scheme(), r.Config().ID, r.Polynomial())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := crypto.PassphraseCredential("correct horse battery staple", 10)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := attacker.SealKeyObject(cred, crypto.KeyInfo{Host: "attacker"})
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, filepath.Join(c.repo, "keys", blob.Hash(sealed).String()), sealed)
	secrets, err := attacker.MarshalConfigSecrets()
	if err != nil {
		t.Fatal(err)
	}
	replaceConfig(t, c, r, secrets, attacker)
	before := newHostileView(c).listObjects(t)

	for _, args := range [][]string{{"snapshots"}, {"backup", src}, {"key", "list"}} {
		out := c.owner(args...).must(t, exitError)
		if !strings.Contains(out.stderr, "has changed") || !strings.Contains(out.stderr, "--accept-fingerprint "+attacker.Fingerprint()) ||
			!strings.Contains(out.stderr, genuine) {
			t.Errorf("%v: want a refusal naming both fingerprints and suggesting --accept-fingerprint:\n%s", args, out.stderr)
		}
	}
	if added := newObjects(before, newHostileView(c).listObjects(t)); len(added) > 0 {
		t.Errorf("refused commands wrote %v", added)
	}
}

// newHostileView gives listObjects for a repository made elsewhere.
func newHostileView(c *cli) *hostileRepo { return &hostileRepo{c: c} }
