package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

func TestInitWithRecipientsUnlocksWithEachIdentity(t *testing.T) {
	c := newCLI(t)
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := ssh.NewPublicKey(pub)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshKey := filepath.Join(c.dir, "id_ed25519")
	os.WriteFile(sshKey, pem.EncodeToMemory(block), 0o600)
	xKey := filepath.Join(c.dir, "x.key")
	os.WriteFile(xKey, []byte(x.String()+"\n"), 0o600)
	pqKey := filepath.Join(c.dir, "pq.key")
	os.WriteFile(pqKey, []byte(pq.String()+"\n"), 0o600)
	rcpts := filepath.Join(c.dir, "recipients")
	os.WriteFile(rcpts, []byte("# owners\n"+pq.Recipient().String()+"\n"), 0o600)

	c.run("--repo", c.repo, "init", "--recipient", x.Recipient().String(),
		"--recipient", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))), "--recipients-file", rcpts).must(t, 0)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	for _, id := range []string{xKey, pqKey, sshKey} {
		c.run("--repo", c.repo, "-i", id, "backup", src).must(t, 0)
	}
	list := c.run("--repo", c.repo, "-i", xKey, "key", "list").must(t, 0).stdout
	for _, typ := range []string{"X25519", "mlkem768x25519", "ssh-ed25519"} {
		if !strings.Contains(list, typ) {
			t.Errorf("key list lacks %s:\n%s", typ, list)
		}
	}
	// No passphrase key exists: a passphrase does not open it.
	c.owner("snapshots").must(t, exitNoKey)
	other, _ := age.GenerateX25519Identity()
	otherKey := filepath.Join(c.dir, "other.key")
	os.WriteFile(otherKey, []byte(other.String()+"\n"), 0o600)
	c.run("--repo", c.repo, "-i", otherKey, "snapshots").must(t, exitNoKey)
}

func TestKeyAddPasswdAndRemove(t *testing.T) {
	c := newCLI(t)
	c.init()
	second := filepath.Join(c.dir, "second")
	writeFile(t, second, []byte("second passphrase\n"))
	c.owner("key", "add", "--new-password-file", second).must(t, 0)
	asSecond := func(args ...string) result {
		return c.run(append([]string{"--repo", c.repo, "--password-file", second}, args...)...)
	}
	asSecond("snapshots").must(t, 0)

	// passwd replaces the key that unlocked: the old passphrase stops working.
	third := filepath.Join(c.dir, "third")
	writeFile(t, third, []byte("third passphrase\n"))
	asSecond("key", "passwd", "--new-password-file", third).must(t, 0)
	asSecond("snapshots").must(t, exitNoKey)
	c.run("--repo", c.repo, "--password-file", third, "snapshots").must(t, 0)

	// The current key cannot be removed; another can.
	list := c.owner("key", "list", "--json").must(t, 0).stdout
	var current, other string
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, `"id"`) {
			id := strings.Trim(strings.TrimSpace(strings.SplitN(line, ":", 2)[1]), `",`)
			if other == "" {
				other = id
			} else {
				current = id
			}
		}
	}
	if current == "" || other == "" {
		t.Fatalf("key list --json: %s", list)
	}
	r := c.owner("key", "list").must(t, 0).stdout
	if !strings.Contains(r, "fingerprint ") {
		t.Errorf("key list shows no fingerprint:\n%s", r)
	}
	// Remove whichever key is not ours (the first passphrase's).
	for _, id := range []string{current, other} {
		out := c.owner("key", "remove", id[:10])
		if out.code == 0 {
			c.owner("snapshots").must(t, 0)
			c.run("--repo", c.repo, "--password-file", third, "snapshots").must(t, exitNoKey)
			return
		}
		if !strings.Contains(out.stderr, "unlocked with") {
			t.Fatalf("remove %s: %s", id, out.stderr)
		}
	}
	t.Fatal("no key could be removed")
}
