package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/crypto"
)

const testPassphrase = "correct horse battery staple"

// keyMaterial returns every form in which the repository's key material
// could leak: the passphrase, D's and M's identity strings (as written and
// lowercased), their raw bytes in hex and base64 and the first 8 bytes of
// them in hex, the blob-id key and chunker polynomial, the body of the
// write key file, and the prefix every age secret key starts with.
func keyMaterial(t *testing.T, c *cli, writeKeyPath string) []string {
	t.Helper()
	r := c.openInProcess(t)
	out := []string{testPassphrase, "AGE-SECRET-KEY-", "age-secret-key-"}
	for _, which := range []string{"data", "meta"} {
		var buf bytes.Buffer
		if err := r.Keys().WriteIdentityFile(&buf, which); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, line := range strings.Split(buf.String(), "\n") {
			if !strings.HasPrefix(line, "AGE-SECRET-KEY-") {
				continue
			}
			found = true
			raw := bech32Data(t, line)
			h := hex.EncodeToString(raw)
			out = append(out, line, strings.ToLower(line), h, h[:16],
				base64.StdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw),
				base64.URLEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw))
		}
		if !found {
			t.Fatalf("no secret key in the %s identity file", which)
		}
	}
	secrets, err := r.Keys().MarshalConfigSecrets()
	if err != nil {
		t.Fatal(err)
	}
	var cs struct {
		BlobIDKey  string `json:"blob_id_key"`
		Polynomial string `json:"chunker_polynomial"`
	}
	if err := json.Unmarshal(secrets, &cs); err != nil {
		t.Fatal(err)
	}
	raw, _ := hex.DecodeString(cs.BlobIDKey)
	out = append(out, cs.BlobIDKey, cs.BlobIDKey[:16], cs.Polynomial, base64.StdEncoding.EncodeToString(raw))
	if writeKeyPath != "" {
		// The body is JSON: its long lines hold M and the pin of D's
		// recipient; braces and member names are not secret.
		var body []string
		for _, line := range strings.Split(string(readFile(t, writeKeyPath)), "\n") {
			if !strings.HasPrefix(line, "#") {
				body = append(body, line)
			}
			if line = strings.TrimSpace(line); len(line) >= 40 && !strings.HasPrefix(line, "#") {
				out = append(out, line)
			}
		}
		out = append(out, strings.TrimSpace(strings.Join(body, "\n")))
	}
	return out
}

// bech32Data decodes the data part of a bech32 string (checksum not
// verified: the string comes from the crypto package) into bytes.
func bech32Data(t *testing.T, s string) []byte {
	t.Helper()
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	s = strings.ToLower(s)
	sep := strings.LastIndexByte(s, '1')
	if sep < 0 || len(s)-sep-1 < 6 {
		t.Fatalf("not a bech32 string")
	}
	data := s[sep+1 : len(s)-6]
	var (
		out  []byte
		acc  uint32
		bits uint
	)
	for _, ch := range data {
		v := strings.IndexRune(charset, ch)
		if v < 0 {
			t.Fatalf("not a bech32 character")
		}
		acc = acc<<5 | uint32(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	if len(out) < 16 {
		t.Fatalf("bech32 data of %d bytes", len(out))
	}
	return out
}

// requireNoKeyMaterial fails for every secret that appears in text.
func requireNoKeyMaterial(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains key material (%d characters starting %.6q)", what, len(s), s)
		}
	}
}

// TestNoCommandPrintsKeyMaterial runs the main commands with --json and
// --verbose, as owner and with a write key, and searches everything they
// print for key material.
func TestNoCommandPrintsKeyMaterial(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	var outputs []struct {
		args []string
		res  result
	}
	record := func(want int, res result, args ...string) {
		t.Helper()
		res.must(t, want)
		outputs = append(outputs, struct {
			args []string
			res  result
		}{args, res})
	}
	owner := func(want int, args ...string) {
		t.Helper()
		record(want, c.owner(append([]string{"--json", "-v"}, args...)...), args...)
	}
	owner(0, "init")
	owner(0, "backup", src)
	writeFile(t, filepath.Join(src, "etc/added"), []byte("second backup\n"))
	owner(0, "backup", src)
	wk := filepath.Join(c.dir, "write.key")
	owner(0, "key", "write-key", "--output", wk)
	second := filepath.Join(c.dir, "pw2")
	writeFile(t, second, []byte("another passphrase\n"))
	owner(0, "key", "add", "--new-password-file", second)

	var snaps []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(c.owner("snapshots", "--json").must(t, 0).stdout), &snaps); err != nil || len(snaps) == 0 {
		t.Fatalf("snapshots: %v", err)
	}
	idx, err := os.ReadDir(filepath.Join(c.repo, "index"))
	if err != nil || len(idx) == 0 {
		t.Fatalf("index objects: %v", err)
	}
	pack := filepath.Base(biggestPack(t, c))
	for _, args := range [][]string{
		{"snapshots"},
		{"ls", "latest"},
		{"restore", "latest", "--target", filepath.Join(c.dir, "restored")},
		{"check", "--read-data"},
		{"cat", "config"},
		{"cat", "snapshot", snaps[0].ID},
		{"cat", "index", idx[0].Name()},
		{"cat", "pack", pack},
		{"key", "list"},
		{"forget", "--keep-last", "1", "--dry-run"},
		{"prune", "--dry-run"},
		{"unlock"},
		{"version"},
	} {
		owner(0, args...)
	}
	writer := func(want int, args ...string) {
		t.Helper()
		record(want, c.run(append([]string{"--repo", c.repo, "-i", wk, "--json", "-v"}, args...)...), append([]string{"(write key)"}, args...)...)
	}
	writer(0, "backup", src)
	writer(0, "snapshots")
	writer(0, "check", "--read-data")
	writer(0, "cat", "config")
	writer(0, "key", "list")
	writer(exitError, "ls", "latest")

	secrets := keyMaterial(t, c, wk)
	for _, o := range outputs {
		requireNoKeyMaterial(t, strings.Join(o.args, " ")+" stdout", o.res.stdout, secrets)
		requireNoKeyMaterial(t, strings.Join(o.args, " ")+" stderr", o.res.stderr, secrets)
	}
}

// TestFailedUnlockDoesNotQuoteTheCredential gives wrong and malformed
// credentials: the errors say what is wrong without quoting any of them.
func TestFailedUnlockDoesNotQuoteTheCredential(t *testing.T) {
	c := newCLI(t)
	c.init()
	wrongPass := "wrong-passphrase-Kx7"
	wrongPW := filepath.Join(c.dir, "wrong-pw")
	writeFile(t, wrongPW, []byte(wrongPass+"\n"))

	other := newCLI(t)
	other.init()
	otherSecrets := keyMaterial(t, other, "")
	var stranger bytes.Buffer
	if err := other.openInProcess(t).Keys().WriteIdentityFile(&stranger, "meta"); err != nil {
		t.Fatal(err)
	}
	strangerID := filepath.Join(c.dir, "stranger.key")
	writeFile(t, strangerID, stranger.Bytes())
	// A secret key with its last character changed: malformed.
	mangled := strings.TrimRightFunc(stranger.String(), func(r rune) bool { return r == '\n' })
	mangled = mangled[:len(mangled)-1] + "x\n"
	mangledID := filepath.Join(c.dir, "mangled.key")
	writeFile(t, mangledID, []byte(mangled))
	otherWK := filepath.Join(c.dir, "other-write.key")
	other.owner("key", "write-key", "--output", otherWK).must(t, 0)
	otherSecrets = append(otherSecrets, keyMaterial(t, other, otherWK)...)
	mangledLine := strings.TrimSpace(mangled[strings.LastIndex(strings.TrimSpace(mangled), "\n")+1:])

	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
	}{
		{"wrong passphrase file", []string{"--password-file", wrongPW}, nil, exitNoKey},
		{"wrong passphrase in the environment", nil, map[string]string{"GODWIT_PASSWORD": wrongPass}, exitNoKey},
		{"identity of another repository", []string{"-i", strangerID}, nil, exitNoKey},
		{"malformed identity", []string{"-i", mangledID}, nil, exitError},
		{"write key of another repository", []string{"-i", otherWK}, nil, exitNoKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				c.env[k] = v
				defer delete(c.env, k)
			}
			for _, cmd := range [][]string{{"snapshots"}, {"--json", "-v", "backup", c.dir}} {
				res := c.run(append(append([]string{"--repo", c.repo}, tc.args...), cmd...)...).must(t, tc.code)
				out := res.stdout + res.stderr
				requireNoKeyMaterial(t, strings.Join(cmd, " "), out, append(otherSecrets, wrongPass, mangledLine))
			}
		})
	}
}

// TestFilesGodwitCreatesAreOwnerOnly runs the commands that create local
// files with an empty umask and checks that every file they created is at
// most 0600 and every directory at most 0700: repository objects, the
// cache, the pinned fingerprints and write keys.
func TestFilesGodwitCreatesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	wk := filepath.Join(c.dir, "keys-out", "write.key")
	if err := os.MkdirAll(filepath.Dir(wk), 0o700); err != nil {
		t.Fatal(err)
	}
	c.owner("key", "write-key", "--output", wk).must(t, 0)
	writeFile(t, filepath.Join(src, "etc/added"), []byte("x\n"))
	c.run("--repo", c.repo, "-i", wk, "backup", src).must(t, 0)
	c.owner("check").must(t, 0)

	paths := []string{c.repo, c.env["GODWIT_CACHE_DIR"], c.env["GODWIT_KNOWN_REPOSITORIES"], wk}
	n := 0
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n++
			limit := fs.FileMode(0o600)
			if fi.IsDir() {
				limit = 0o700
			}
			if fi.Mode().Perm()&^limit != 0 {
				t.Errorf("%s has mode %v, want at most %v", p, fi.Mode().Perm(), limit)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 20 {
		t.Fatalf("checked only %d files", n)
	}
}

// TestCacheHoldsNothingThatDecrypts tries every file of the cache as an
// identity, a write key and a passphrase file, and searches it for key
// material.
func TestCacheHoldsNothingThatDecrypts(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	wk := filepath.Join(c.dir, "write.key")
	c.owner("key", "write-key", "--output", wk).must(t, 0)
	c.run("--repo", c.repo, "-i", wk, "backup", src).must(t, 0)
	c.owner("restore", "latest", "--target", filepath.Join(c.dir, "restored")).must(t, 0)

	secrets := keyMaterial(t, c, wk)
	cfg := readFile(t, filepath.Join(c.repo, "config"))
	files := 0
	err := filepath.WalkDir(c.env["GODWIT_CACHE_DIR"], func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data := readFile(t, p)
		requireNoKeyMaterial(t, p, string(data), secrets)
		if ids, w, err := crypto.LoadIdentityFile(p, nil); err == nil {
			if w != nil {
				t.Errorf("%s is a write key", p)
			}
			if !ids.Empty() {
				t.Errorf("%s is an identity file", p)
			}
		}
		for _, u := range []string{"-i", "--password-file"} {
			if res := c.run("--repo", c.repo, u, p, "snapshots"); res.code == exitOK {
				t.Errorf("%s %s opens the repository", u, p)
			}
		}
		// Nor may the cache hold anything that decrypts the config with
		// age's own identity parsing.
		if ids, _, err := crypto.LoadIdentityFile(p, nil); err == nil && !ids.Empty() {
			if _, _, err := crypto.OpenKeyObject(cfg, ids); !errors.Is(err, crypto.ErrNoMatchingKey) {
				t.Errorf("%s decrypts the config", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("the cache is empty: nothing was checked")
	}
}

// TestPassphrasePromptDoesNotEcho types the passphrase into a
// pseudo-terminal and checks that the terminal shows the prompt but not
// the passphrase.
func TestPassphrasePromptDoesNotEcho(t *testing.T) {
	c := newCLI(t)
	c.init()
	master, slave := openPTY(t)

	var out, errb bytes.Buffer
	e := newEnv()
	e.stdin = strings.NewReader("")
	e.stdout, e.stderr = &out, &errb
	e.getenv = func(k string) string { return c.env[k] }
	e.tty = func() (*os.File, error) { return os.OpenFile(slave, os.O_RDWR, 0) }

	done := make(chan int, 1)
	go func() { done <- run(context.Background(), []string{"--repo", c.repo, "snapshots"}, e) }()

	// Read what the terminal shows until the prompt appears, then wait
	// for echo to be off before typing, as a person would.
	shown := make(chan string, 64)
	go func() {
		rd := bufio.NewReader(master)
		buf := make([]byte, 256)
		for {
			n, err := rd.Read(buf)
			if n > 0 {
				shown <- string(buf[:n])
			}
			if err != nil {
				close(shown)
				return
			}
		}
	}()
	var screen strings.Builder
	deadline := time.After(30 * time.Second)
	for !strings.Contains(screen.String(), "Enter repository passphrase") {
		select {
		case s := <-shown:
			screen.WriteString(s)
		case <-deadline:
			t.Fatalf("no prompt on the terminal; shown %q", screen.String())
		}
	}
	for {
		tio, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := master.Write([]byte(testPassphrase + "\n")); err != nil {
		t.Fatal(err)
	}
	var code int
	select {
	case code = <-done:
	case <-deadline:
		t.Fatal("the command did not finish after the passphrase was typed")
	}
	// Drain what is left on the terminal.
	for drained := false; !drained; {
		select {
		case s, ok := <-shown:
			screen.WriteString(s)
			drained = !ok
		case <-time.After(200 * time.Millisecond):
			drained = true
		}
	}
	if code != exitOK {
		t.Fatalf("snapshots with the typed passphrase exited %d:\n%s", code, errb.String())
	}
	for _, where := range []string{screen.String(), out.String(), errb.String()} {
		if strings.Contains(where, testPassphrase) || strings.Contains(where, "horse") {
			t.Errorf("the passphrase was echoed or printed: %q", where)
		}
	}
}

// openPTY opens a pseudo-terminal pair and returns the master and the
// path of the slave.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	return master, "/dev/pts/" + strconv.Itoa(n)
}

// TestSIGQUITWritesNoCoreAndNoKeysInTheTraceback sends SIGQUIT to a
// running backup started with GOTRACEBACK=crash and core dumps allowed:
// Go prints every goroutine's stack and aborts, which would write a core
// holding the keys. godwit makes itself non-dumpable, so no core may
// appear, and the traceback on stderr must hold no key material.
func TestSIGQUITWritesNoCoreAndNoKeysInTheTraceback(t *testing.T) {
	pattern, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		t.Skipf("cannot read core_pattern: %v", err)
	}
	if p := strings.TrimSpace(string(pattern)); strings.HasPrefix(p, "|") || strings.Contains(p, "/") {
		t.Skipf("core_pattern %q sends cores to a program or another directory; this test needs cores written to the working directory", p)
	}
	bin := godwitBinary(t)
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	// A large sparse file keeps the next backup busy long enough.
	big := filepath.Join(src, "big.img")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// Control: in this directory, with this limit, a process that dies of
	// SIGQUIT leaves a core. Otherwise the test below could not fail.
	work := t.TempDir()
	crashIn := func(dir string, args ...string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command("sh", append([]string{"-c", `ulimit -c unlimited && exec "$@"`, "sh"}, args...)...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		env := []string{"GOTRACEBACK=crash", "HOME=" + c.dir, "PATH=" + os.Getenv("PATH")}
		for k, v := range c.env {
			env = append(env, k+"="+v)
		}
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	coresIn := func(dir string) []string {
		m, _ := filepath.Glob(filepath.Join(dir, "core*"))
		return m
	}
	control := filepath.Join(work, "control")
	os.Mkdir(control, 0o700)
	sleeper, _ := crashIn(control, "sleep", "60")
	time.Sleep(200 * time.Millisecond)
	sleeper.Process.Signal(syscall.SIGQUIT)
	sleeper.Wait()
	if len(coresIn(control)) == 0 {
		t.Skip("this system writes no core for a process killed by SIGQUIT (core dumps disabled)")
	}

	dir := filepath.Join(work, "godwit")
	os.Mkdir(dir, 0o700)
	cmd, stderr := crashIn(dir, bin, "--repo", c.repo, "--password-file", c.pwFile, "backup", src)
	// Wait until the backup holds the keys: its lock object appears.
	deadline := time.Now().Add(30 * time.Second)
	for {
		locks, _ := os.ReadDir(filepath.Join(c.repo, "locks"))
		if len(locks) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the backup took no lock:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("backup did not die of the signal: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "goroutine ") {
		t.Fatalf("no traceback on stderr:\n%s", stderr)
	}
	if cores := coresIn(dir); len(cores) > 0 {
		t.Errorf("godwit left a core dump: %v", cores)
	}
	// Remove the lock the killed backup left behind.
	c.owner("unlock", "--remove-all").must(t, 0)
	requireNoKeyMaterial(t, "the SIGQUIT traceback", stderr.String(), keyMaterial(t, c, ""))
}
