//go:build linux

package testutil

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// capNetRaw is CAP_NET_RAW from linux/capability.h.
const capNetRaw = 13

// layout creates the contents of the server tree. Directories get their
// metadata later, in finish.
func (b *builder) layout() {
	b.etc()
	b.cgiBin()
	b.homes()
	b.spools()
	b.www()
	b.misc()
}

func (b *builder) etc() {
	b.dir("etc", meta{mode: 0o755})
	b.file("etc/hostname", []byte("mx1\n"), meta{mode: 0o644, owner: ref(ownerRoot)})
	b.symlink("etc/mailname", "/etc/hostname", nil)
	b.file("etc/passwd", []byte("root:x:0:0:root:/root:/bin/bash\n"+
		"alice:x:5001:5002:Alice Example:/home/alice:/bin/bash\n"+
		"bob:x:70000:70001:Bob Example:/home/bob:/bin/bash\n"+
		"www:x:4242:4343:web:/var/www:/usr/sbin/nologin\n"), meta{mode: 0o644})
	b.file("etc/group", []byte("root:x:0:\nalice:x:5002:\nbob:x:70001:\nwww:x:4343:alice\n"), meta{mode: 0o644})
	b.file("etc/shadow", []byte("root:*:19700:0:99999:7:::\nalice:$y$j9T$abc$def:19700:0:99999:7:::\n"), meta{mode: 0o640, owner: ref(ownerRootShared)})
	b.file("etc/aliases", []byte("postmaster: root\nabuse: root\nroot: alice\n"), meta{mode: 0o644})
	b.file("etc/machine-id", []byte("3f1c2b9a8d7e4f60a1b2c3d4e5f60718\n"), meta{mode: 0o444})
	b.file("etc/postfix/main.cf", mailText(2200, 1), meta{mode: 0o644})
	b.file("etc/postfix/sasl_passwd", []byte("[smtp.example.net]:587 mx1:s3cret\n"), meta{mode: 0o600})
	b.dir("etc/ssl/private", meta{mode: 0o710, owner: ref(ownerRootShared)})
	b.file("etc/ssl/private/mail.key", b.random(1704), meta{mode: 0o640, owner: ref(ownerRootShared)})
	if b.tree.Privileged {
		b.file("etc/ssl/private/revoked.key", b.random(1704), meta{mode: 0o000, owner: ref(ownerRoot)})
	} else {
		b.skip(`file "etc/ssl/private/revoked.key" with mode 0000 (only root can read it back)`)
	}
}

func (b *builder) cgiBin() {
	b.dir("usr/lib/cgi-bin", meta{mode: 0o755})
	b.file("usr/lib/cgi-bin/webmail.cgi", []byte("#!/bin/sh\nexec /usr/share/webmail/run \"$@\"\n"), meta{mode: 0o755})
	b.hardlink("usr/lib/cgi-bin/index.cgi", "usr/lib/cgi-bin/webmail.cgi")
	b.tree.Hardlinks = append(b.tree.Hardlinks, []string{"usr/lib/cgi-bin/index.cgi", "usr/lib/cgi-bin/webmail.cgi"})
	b.file("usr/lib/cgi-bin/suexec", b.random(8192), meta{mode: 0o4755, owner: ref(ownerRoot)})
	b.file("usr/lib/cgi-bin/dotlock", b.random(6000), meta{mode: 0o2755, owner: ref(ownerRootShared)})
	b.file("usr/lib/cgi-bin/mailprobe", b.random(5000), meta{mode: 0o755, owner: ref(ownerRoot),
		xattrs: []xattr{{"security.capability", fileCapability(capNetRaw)}}})
}

func (b *builder) homes() {
	b.dir("home", meta{mode: 0o755})
	b.dir("home/alice", meta{mode: 0o750, owner: ref(ownerAlice)})
	b.dir("home/alice/Maildir", meta{mode: 0o700, owner: ref(ownerAlice),
		xattrs: []xattr{{"user.dovecot.comment", []byte("alice's primary mailbox")}}})
	alice := b.maildir("home/alice/Maildir", ref(ownerAlice), "alice@example.com", 0, 18, 6)
	b.dir("home/alice/Maildir/.Müll", meta{mode: 0o700, owner: ref(ownerAlice)})
	b.tree.OddNames = append(b.tree.OddNames, "home/alice/Maildir/.Müll")
	b.maildir("home/alice/Maildir/.Müll", ref(ownerAlice), "alice@example.com", 24, 3, 0)
	b.file("home/alice/Maildir/dovecot-uidlist", []byte("3 V1706774400 N25 G0a1b2c3d4e5f\n"), meta{mode: 0o600, owner: ref(ownerAlice)})
	b.file("home/alice/Maildir/dovecot.index", b.random(9216), meta{mode: 0o600, owner: ref(ownerAlice)})
	b.file("home/alice/Maildir/subscriptions", []byte("Müll\n"), meta{mode: 0o600, owner: ref(ownerAlice)})

	b.dir("home/alice/Documents", meta{mode: 0o755, owner: ref(ownerAlice)})
	for _, name := range []string{
		"Quarterly report.txt", "line\nbreak.txt", "tab\there.txt", "-rf", "Müll.txt",
		"caf\xe9.txt", "\xff\xfe",
	} {
		rel := "home/alice/Documents/" + name
		b.file(rel, []byte(fmt.Sprintf("file named %q\n", name)), meta{mode: 0o644, owner: ref(ownerAlice)})
		b.tree.OddNames = append(b.tree.OddNames, rel)
	}
	b.symlink("home/alice/Documents/latest", "caf\xe9.txt", ref(ownerAlice))

	b.dir("home/bob", meta{mode: 0o750, owner: ref(ownerBob)})
	b.dir("home/bob/Maildir", meta{mode: 0o700, owner: ref(ownerBob)})
	b.maildir("home/bob/Maildir", ref(ownerBob), "bob@example.com", 27, 8, 4)

	// Dovecot single-instance storage: one message body under three names.
	sis := "var/spool/dovecot/sis/6b/86/6b86b273ff34fce19d6b804eff5a3f57-0a1b2c3d"
	b.dir("var/spool/dovecot", meta{mode: 0o750, owner: ref(ownerWWW)})
	b.hardlink(sis, alice[0])
	shared := "home/bob/Maildir/cur/shared-" + strings.TrimPrefix(alice[0], "home/alice/Maildir/cur/")
	b.hardlink(shared, alice[0])
	b.tree.Hardlinks = append(b.tree.Hardlinks, []string{alice[0], shared, sis})
}

func (b *builder) spools() {
	b.dir("var/mail", meta{mode: 0o2775, owner: ref(ownerRootShared)})
	b.mbox("var/mail/alice", ref(ownerAlice), "alice@example.com", 6, meta{mode: 0o660,
		xattrs: []xattr{{"trusted.godwit.spool", []byte("primary")}}})
	b.file("var/mail/bob", nil, meta{mode: 0o660, owner: ref(ownerBob)})
	b.symlink("var/spool/mail", "../mail", nil)

	b.dir("var/spool/cron/crontabs", meta{mode: 0o1730, owner: ref(ownerRootShared)})
	b.file("var/spool/cron/crontabs/root", []byte("# m h dom mon dow command\n17 3 * * * /usr/bin/godwit backup --quiet\n"), meta{mode: 0o600, owner: ref(ownerRoot)})
	b.file("var/spool/cron/crontabs/alice", []byte("*/5 * * * * fetchmail -s\n"), meta{mode: 0o600, owner: &Owner{ownerAlice.UID, ownerRootShared.GID}})

	b.dir("var/spool/postfix/public", meta{mode: 0o2710, owner: ref(ownerRootShared)})
	b.node("var/spool/postfix/public/pickup", unix.S_IFIFO, 0, 0, meta{mode: 0o622, owner: ref(ownerWWW)})
	b.dir("var/spool/postfix/maildrop", meta{mode: 0o1730, owner: ref(ownerRootShared)})
}

func (b *builder) www() {
	b.dir("var/www/html", meta{mode: 0o755, owner: ref(ownerWWW)})
	b.file("var/www/html/index.html", []byte("<!doctype html>\n<title>mx1</title>\n<p>webmail: <a href=/cgi-bin/webmail.cgi>login</a>\n"),
		meta{mode: 0o644, owner: ref(ownerWWW), xattrs: []xattr{
			{"user.mime_type", []byte("text/html; charset=utf-8")},
			{"user.checksum", []byte{0x00, 0xff, 0x10, 0x80, 0x7f}},
			{"user.empty", nil},
		}})
	// Owner root may write; www (4242) and group 4343 may read.
	b.file("var/www/html/config.php", []byte("<?php\n$db_pass = 'hunter2';\n"), meta{mode: 0o640, owner: ref(ownerRoot), xattrs: []xattr{
		{xattrACLAccess, encodeACL([]aclEntry{
			{aclUserObj, 6, aclUndefID}, {aclUser, 4, ownerWWW.UID},
			{aclGroupObj, 4, aclUndefID}, {aclGroup, 4, ownerWWW.GID},
			{aclMask, 4, aclUndefID}, {aclOther, 0, aclUndefID},
		})},
	}})
	// New uploads inherit write access for www and its group.
	b.dir("var/www/html/uploads", meta{mode: 0o2775, owner: ref(ownerWWW), xattrs: []xattr{
		{xattrACLDefault, encodeACL([]aclEntry{
			{aclUserObj, 7, aclUndefID}, {aclUser, 7, ownerWWW.UID},
			{aclGroupObj, 5, aclUndefID}, {aclGroup, 7, ownerWWW.GID},
			{aclMask, 7, aclUndefID}, {aclOther, 5, aclUndefID},
		})},
	}})
	b.file("var/www/html/uploads/avatar.png", b.random(2048), meta{mode: 0o664, owner: ref(ownerWWW)})
	b.tree.ACLs = append(b.tree.ACLs, "var/www/html/uploads/avatar.png")
	b.tree.Xattrs["var/www/html/uploads/avatar.png"] = []string{xattrACLAccess}

	for i, size := range boundarySizes {
		kind := [...]string{"bin", "txt", "mix"}[i%3]
		var data []byte
		switch kind {
		case "bin":
			data = b.random(int(size))
		case "txt":
			data = mailText(int(size), i)
		default:
			data = b.mixed(int(size))
		}
		rel := fmt.Sprintf("var/www/html/files/size-%08d.%s", size, kind)
		b.file(rel, data, meta{mode: 0o644, owner: ref(ownerWWW)})
		b.tree.SizedFiles[size] = rel
	}
	b.symlink("var/www/html/current", "releases/20240301", ref(ownerWWW))
	b.symlink("var/www/html/up", "../..", nil)

	deep := "var/www/html/deep"
	for i := 1; i <= 30; i++ {
		deep += fmt.Sprintf("/d%02d", i)
	}
	b.dir(deep, meta{mode: 0o755, owner: ref(ownerWWW)})
	b.file(deep+"/index.html", []byte("<p>deep</p>\n"), meta{mode: 0o644, owner: ref(ownerWWW)})
	b.tree.Deep = deep + "/index.html"
}

func (b *builder) misc() {
	b.sparse("var/log/lastlog", sparseSize, meta{mode: 0o664, owner: ref(ownerRootShared)})
	b.dir("var/lib/empty", meta{mode: 0o755})
	b.dir("tmp", meta{mode: 0o1777, owner: ref(ownerRoot)})
	b.file("tmp/sess_5f2a9c", []byte("user|s:5:\"alice\";"), meta{mode: 0o600, owner: ref(ownerWWW)})
	b.dir("dev", meta{mode: 0o755})
	if b.tree.Privileged {
		b.node("dev/null", unix.S_IFCHR, 1, 3, meta{mode: 0o666, owner: ref(ownerRoot)})
		b.node("dev/loop200", unix.S_IFBLK, 7, 200, meta{mode: 0o660, owner: &Owner{0, 6}})
	} else {
		b.skip("device nodes dev/null (c 1 3) and dev/loop200 (b 7 200) (need root)")
	}
}
