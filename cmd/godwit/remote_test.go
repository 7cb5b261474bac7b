package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/godwit-backup/godwit/backends"
	s3backend "github.com/godwit-backup/godwit/backends/s3"
	"github.com/godwit-backup/godwit/repo/blob"
)

// remote describes a test server and how to reach it through a proxy.
type remote struct {
	name string
	// location returns a fresh repository location that reaches the
	// server through addr (host:port).
	location func(addr string) string
	env      []string
	target   string // the server's real address
}

func requireServer(t *testing.T, variable string) string {
	t.Helper()
	v := os.Getenv(variable)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: scripts/test starts the test servers", variable)
		}
		t.Skipf("%s is not set; run the tests with scripts/test to start the servers", variable)
	}
	return v
}

func sftpRemote(t *testing.T) remote {
	base := requireServer(t, "GODWIT_TEST_SFTP_REPO") // sftp://root@127.0.0.1:PORT/dir
	opts := os.Getenv("GODWIT_TEST_SFTP_SSH_OPTIONS")
	rest := strings.TrimPrefix(base, "sftp://")
	userHost, dir, _ := strings.Cut(rest, "/")
	user, hostPort, _ := strings.Cut(userHost, "@")
	sub := fmt.Sprintf("%s/cli-%d", dir, time.Now().UnixNano())
	return remote{
		name:   "sftp",
		target: hostPort,
		location: func(addr string) string {
			return fmt.Sprintf("sftp://%s@%s/%s", user, addr, sub)
		},
		// The proxy listens on another port: tell ssh which known host
		// it really is.
		env: []string{"GODWIT_SFTP_ARGS=" + opts + " -o HostKeyAlias=[127.0.0.1]:" + strings.Split(hostPort, ":")[1]},
	}
}

func s3Remote(t *testing.T, bucket string, lock bool) remote {
	endpoint := requireServer(t, "GODWIT_TEST_S3_ENDPOINT")
	createBucket(t, endpoint, bucket, lock)
	prefix := fmt.Sprintf("cli-%d", time.Now().UnixNano())
	return remote{
		name:   "s3",
		target: strings.TrimPrefix(endpoint, "http://"),
		location: func(addr string) string {
			return fmt.Sprintf("s3:http://%s/%s/%s", addr, bucket, prefix)
		},
	}
}

func createBucket(t *testing.T, endpoint, bucket string, lock bool) {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if lock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	_, err = client.CreateBucket(context.Background(), in)
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

// proxy forwards TCP connections to target until it is cut, and counts
// the bytes sent to the server.
type proxy struct {
	ln     net.Listener
	target string
	sent   atomic.Int64
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

// countingWriter adds what it writes to n.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// waitSent waits until at least n more bytes went to the server than when
// it was called, or the timeout passed.
func (p *proxy) waitSent(n int64, timeout time.Duration) bool {
	start := p.sent.Load()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.sent.Load()-start >= n {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut(true) })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { io.Copy(countingWriter{s, &p.sent}, c); s.Close() }()
		go func() { io.Copy(c, s); c.Close() }()
	}
}

// cut drops every open connection; with down set, new ones are refused
// until up is called.
func (p *proxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// remoteRig runs the godwit binary against a remote repository.
type remoteRig struct {
	t   *testing.T
	bin string
	env []string
}

func (r *remoteRig) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(r.bin, args...)
	cmd.Env = append(os.Environ(), r.env...)
	return cmd
}

func (r *remoteRig) run(want int, args ...string) string {
	r.t.Helper()
	out, err := r.cmd(args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	if code != want {
		r.t.Fatalf("godwit %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
	}
	return string(out)
}

func TestRemoteRepositoriesEndToEnd(t *testing.T) {
	for _, mk := range []func(*testing.T) remote{
		sftpRemote,
		func(t *testing.T) remote { return s3Remote(t, "godwit-cli", false) },
	} {
		t.Run("", func(t *testing.T) {
			rm := mk(t)
			t.Run(rm.name, func(t *testing.T) { remoteEndToEnd(t, rm) })
		})
	}
}

func remoteEndToEnd(t *testing.T, rm remote) {
	dir := t.TempDir()
	p := newProxy(t, rm.target)
	r := &remoteRig{t: t, bin: godwitBinary(t), env: append([]string{
		"GODWIT_REPOSITORY=" + rm.location(p.addr()),
		"GODWIT_PASSWORD=remote test",
		"GODWIT_KNOWN_REPOSITORIES=" + filepath.Join(dir, "known"),
		"GODWIT_CACHE_DIR=" + filepath.Join(dir, "cache"),
		"GODWIT_SCRYPT_WORK_FACTOR=10",
	}, rm.env...)}
	src := filepath.Join(dir, "src")
	smallTree(t, src)
	for i := 0; i < 6; i++ {
		randomFile(t, filepath.Join(src, "attachments", fmt.Sprint(i)), 1<<20)
	}

	r.run(0, "init", "--pack-size", "1")
	r.run(0, "backup", src)
	writeFile(t, filepath.Join(src, "home/alice/Maildir/new/1800000000.M1P1.mail"), []byte("Subject: new\n\nhello\n"))
	os.Remove(filepath.Join(src, "attachments", "0"))
	if out := r.run(0, "backup", src); !strings.Contains(out, "1 new") {
		t.Errorf("incremental backup:\n%s", out)
	}
	target := filepath.Join(dir, "restore")
	r.run(0, "restore", "latest:"+src, "--target", target)
	requireSame(t, src, target, compareOpts())
	r.run(0, "check", "--read-data")
	r.run(0, "forget", "--keep-last", "1", "--prune")
	r.run(0, "check", "--read-data")

	// The connection drops in the middle of an upload and comes back:
	// the retrying backend resumes and the backup completes.
	for i := 0; i < 6; i++ {
		randomFile(t, filepath.Join(src, "more", fmt.Sprint(i)), 1<<20)
	}
	cmd := r.cmd("backup", src)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !p.waitSent(2<<20, time.Minute) {
		t.Fatal("the backup sent nothing")
	}
	p.cut(true)
	time.Sleep(700 * time.Millisecond)
	p.up()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("backup across a dropped connection: %v\n%s", err, out.String())
	}
	r.run(0, "check", "--read-data")

	// The server goes away for good in the middle of a backup: it is
	// stopped (as cron's timeout or an operator would), fails cleanly,
	// and the next backup and check are clean.
	for i := 0; i < 6; i++ {
		randomFile(t, filepath.Join(src, "later", fmt.Sprint(i)), 1<<20)
	}
	cmd = r.cmd("backup", src)
	out.Reset()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !p.waitSent(2<<20, time.Minute) {
		t.Fatal("the backup sent nothing")
	}
	p.cut(true)
	time.Sleep(2 * time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	p.up()
	if err == nil {
		t.Logf("backup finished before the connection was cut:\n%s", out.String())
	} else if strings.Contains(out.String(), "panic") {
		t.Fatalf("backup crashed:\n%s", out.String())
	}
	r.run(0, "unlock")
	r.run(0, "backup", src)
	r.run(0, "check", "--read-data")
	os.RemoveAll(target)
	r.run(0, "restore", "latest:"+src, "--target", target)
	requireSame(t, src, target, compareOpts())
}

func TestObjectLockKeepsPacksThatPruneWouldDelete(t *testing.T) {
	rm := s3Remote(t, "godwit-cli-lock", true)
	dir := t.TempDir()
	r := &remoteRig{t: t, bin: godwitBinary(t), env: []string{
		"GODWIT_REPOSITORY=" + rm.location(rm.target),
		"GODWIT_PASSWORD=remote test",
		"GODWIT_KNOWN_REPOSITORIES=" + filepath.Join(dir, "known"),
		"GODWIT_CACHE_DIR=" + filepath.Join(dir, "cache"),
		"GODWIT_SCRYPT_WORK_FACTOR=10",
	}}
	src := filepath.Join(dir, "src")
	randomFile(t, filepath.Join(src, "a"), 2<<20)
	r.run(0, "init", "--s3-object-lock-days", "1")
	r.run(0, "backup", "--s3-object-lock-days", "1", src)
	writeFile(t, filepath.Join(src, "b"), []byte("b\n"))
	r.run(0, "backup", "--s3-object-lock-days", "1", src)

	// Snapshots under retention cannot be forgotten: forget says so and
	// keeps going.
	out := r.run(0, "forget", "--keep-last", "1")
	if !strings.Contains(out, "retention") {
		t.Errorf("forget of a retained snapshot:\n%s", out)
	}

	// A pack that no index names (as an interrupted backup leaves) is
	// under retention too: prune tries to delete it, reports it, and it
	// survives.
	cfg, err := s3backend.ParseLocation(rm.location(rm.target))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ObjectLockDays = 1
	be, err := s3backend.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	orphan := make([]byte, 4096)
	copy(orphan, "an orphaned pack")
	h := backends.Handle{Type: backends.PackFile, Name: blob.Hash(orphan).String()}
	if err := be.Save(context.Background(), h, orphan); err != nil {
		t.Fatal(err)
	}
	out = r.run(0, "prune", "--json")
	if !strings.Contains(out, `"unindexed_packs":1`) || !strings.Contains(out, `"retained_objects":1`) {
		t.Errorf("prune did not report the retained pack:\n%s", out)
	}
	if _, err := be.Stat(context.Background(), h); err != nil {
		t.Errorf("the locked pack did not survive prune: %v", err)
	}
	r.run(0, "check", "--read-data")
}
