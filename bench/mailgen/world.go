package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// user is a local mail account. Every fourth user's inbox is an mbox spool
// in var/mail; those users keep their sent mail in ~/mail/Sent; the others have a Maildir++.
type user struct {
	name   string
	full   string
	uid    int
	mbox   bool
	weight float64 // share of mail traffic; a few users get most of it
}

func (u *user) person(domain string) person {
	return person{name: u.full, addr: u.name + "@" + domain}
}

// mailList is a local alias that expands to its subscribers.
type mailList struct {
	name string
	subs []int
}

// world is the mail server: its users, lists and outside correspondents.
type world struct {
	domain, host string
	users        []user
	lists        []mailList
	contacts     []person
	cumWeight    []float64
}

func newWorld(r *rand.Rand, nUsers int) *world {
	w := &world{domain: "example.org", host: "mail.example.org"}
	seen := map[string]int{}
	for i := 0; i < nUsers; i++ {
		first := firstNames[r.IntN(len(firstNames))]
		last := lastNames[r.IntN(len(lastNames))]
		name := strings.ToLower(first)
		seen[name]++
		if n := seen[name]; n > 1 {
			name += strconv.Itoa(n)
		}
		w.users = append(w.users, user{
			name:   name,
			full:   first + " " + last,
			uid:    1000 + i,
			mbox:   i%4 == 1,
			weight: float64(logNormal(r, 1000, 1.0, 50, 20000)),
		})
	}
	for _, name := range []string{"staff", "devel", "announce", "sales", "support", "social"} {
		if len(w.users) < 3 || len(w.lists) >= 1+len(w.users)/8 {
			break
		}
		l := mailList{name: name}
		share := 0.2 + 0.6*r.Float64()
		for i := range w.users {
			if i == 0 || r.Float64() < share {
				l.subs = append(l.subs, i)
			}
		}
		if len(l.subs) >= 2 {
			w.lists = append(w.lists, l)
		}
	}
	w.makeContacts(r)
	w.index()
	return w
}

func (w *world) makeContacts(r *rand.Rand) {
	w.contacts = w.contacts[:0]
	for i := 0; i < 300; i++ {
		first := firstNames[r.IntN(len(firstNames))]
		last := lastNames[r.IntN(len(lastNames))]
		addr := strings.ToLower(first) + "." + strings.ToLower(last) + "@" + externalDomains[r.IntN(len(externalDomains))]
		w.contacts = append(w.contacts, person{name: first + " " + last, addr: addr})
	}
}

func (w *world) index() {
	w.cumWeight = w.cumWeight[:0]
	total := 0.0
	for _, u := range w.users {
		total += u.weight
		w.cumWeight = append(w.cumWeight, total)
	}
}

// pickUser draws a user with probability proportional to its weight.
func (w *world) pickUser(r *rand.Rand) int {
	x := r.Float64() * w.cumWeight[len(w.cumWeight)-1]
	i, _ := slices.BinarySearch(w.cumWeight, x)
	return min(i, len(w.users)-1)
}

func (w *world) contact(r *rand.Rand) person {
	return w.contacts[r.IntN(len(w.contacts))]
}

// writeEtc writes the server configuration under out/etc.
func (w *world) writeEtc(out string) error {
	var passwd, group, aliases, virtual bytes.Buffer
	passwd.WriteString(`root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
messagebus:x:100:107::/nonexistent:/usr/sbin/nologin
sshd:x:101:65534::/run/sshd:/usr/sbin/nologin
postfix:x:102:109::/var/spool/postfix:/usr/sbin/nologin
dovecot:x:103:111:Dovecot mail server,,,:/usr/lib/dovecot:/usr/sbin/nologin
dovenull:x:104:112:Dovecot login user,,,:/nonexistent:/usr/sbin/nologin
opendkim:x:105:113::/run/opendkim:/usr/sbin/nologin
`)
	group.WriteString(`root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
mail:x:8:
www-data:x:33:
users:x:100:
nogroup:x:65534:
messagebus:x:107:
postfix:x:109:
postdrop:x:110:
dovecot:x:111:
dovenull:x:112:
opendkim:x:113:postfix
`)
	aliases.WriteString(`# See man 5 aliases for format
postmaster: root
abuse: root
hostmaster: root
webmaster: root
mailer-daemon: postmaster
nobody: root
`)
	for _, u := range w.users {
		fmt.Fprintf(&passwd, "%s:x:%d:%d:%s,,,:/home/%s:/bin/bash\n", u.name, u.uid, u.uid, u.full, u.name)
		fmt.Fprintf(&group, "%s:x:%d:\n", u.name, u.uid)
		fmt.Fprintf(&virtual, "%s@%s\t%s\n", strings.ReplaceAll(strings.ToLower(u.full), " ", "."), w.domain, u.name)
	}
	aliases.WriteString("\n# mailing lists\n")
	for _, l := range w.lists {
		names := make([]string, len(l.subs))
		for i, s := range l.subs {
			names[i] = w.users[s].name
		}
		fmt.Fprintf(&aliases, "%s: %s\n", l.name, strings.Join(names, ", "))
	}
	files := map[string]string{
		"etc/hostname":                         w.host + "\n",
		"etc/mailname":                         w.domain + "\n",
		"etc/passwd":                           passwd.String(),
		"etc/group":                            group.String(),
		"etc/aliases":                          aliases.String(),
		"etc/postfix/virtual":                  virtual.String(),
		"etc/postfix/main.cf":                  fmt.Sprintf(postfixMain, w.host, w.domain),
		"etc/postfix/master.cf":                postfixMaster,
		"etc/dovecot/dovecot.conf":             dovecotConf,
		"etc/dovecot/conf.d/10-mail.conf":      dovecotMail,
		"etc/dovecot/conf.d/10-auth.conf":      dovecotAuth,
		"etc/dovecot/conf.d/10-ssl.conf":       fmt.Sprintf(dovecotSSL, w.host, w.host),
		"etc/dovecot/conf.d/15-mailboxes.conf": dovecotMailboxes,
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// loadWorld reads users, lists, domain and host back from a generated tree.
func loadWorld(out string) (*world, error) {
	w := &world{}
	for name, dst := range map[string]*string{"etc/mailname": &w.domain, "etc/hostname": &w.host} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			return nil, fmt.Errorf("load server: %w", err)
		}
		*dst = strings.TrimSpace(string(b))
	}
	f, err := os.Open(filepath.Join(out, "etc/passwd"))
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	defer f.Close()
	byName := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 7 || !strings.HasPrefix(fields[5], "/home/") {
			continue
		}
		uid, err := strconv.Atoi(fields[2])
		if err != nil || uid < 1000 {
			continue
		}
		u := user{name: fields[0], full: strings.TrimRight(fields[4], ","), uid: uid, weight: 1}
		_, err = os.Stat(filepath.Join(out, "home", u.name, "Maildir"))
		u.mbox = errors.Is(err, fs.ErrNotExist)
		byName[u.name] = len(w.users)
		w.users = append(w.users, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	if len(w.users) == 0 {
		return nil, fmt.Errorf("load users: no mail users in %s", filepath.Join(out, "etc/passwd"))
	}
	b, err := os.ReadFile(filepath.Join(out, "etc/aliases"))
	if err != nil {
		return nil, fmt.Errorf("load lists: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, targets, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		var l mailList
		for _, t := range strings.Split(targets, ",") {
			if i, ok := byName[strings.TrimSpace(t)]; ok {
				l.subs = append(l.subs, i)
			}
		}
		if len(l.subs) >= 2 {
			l.name = strings.TrimSpace(name)
			w.lists = append(w.lists, l)
		}
	}
	w.index()
	return w, nil
}

const postfixMain = `# See /usr/share/postfix/main.cf.dist for a commented, more complete version
smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no
append_dot_mydomain = no
readme_directory = no
compatibility_level = 3.6

smtpd_tls_cert_file = /etc/letsencrypt/live/mail/fullchain.pem
smtpd_tls_key_file = /etc/letsencrypt/live/mail/privkey.pem
smtpd_tls_security_level = may
smtp_tls_CApath = /etc/ssl/certs
smtp_tls_security_level = may
smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache

smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = yes
myhostname = %s
mydomain = %s
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
virtual_alias_maps = hash:/etc/postfix/virtual
myorigin = /etc/mailname
mydestination = $myhostname, $mydomain, localhost.localdomain, localhost
relayhost =
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
mailbox_size_limit = 0
recipient_delimiter = +
inet_interfaces = all
inet_protocols = all
home_mailbox = Maildir/
mailbox_command = /usr/lib/dovecot/deliver
milter_default_action = accept
smtpd_milters = inet:localhost:8891
non_smtpd_milters = $smtpd_milters
`

const postfixMaster = `# Postfix master process configuration file.
# service type  private unpriv  chroot  wakeup  maxproc command + args
smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       y       60      1       pickup
cleanup   unix  n       -       y       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       y       1000?   1       tlsmgr
rewrite   unix  -       -       y       -       -       trivial-rewrite
bounce    unix  -       -       y       -       0       bounce
defer     unix  -       -       y       -       0       bounce
trace     unix  -       -       y       -       0       bounce
verify    unix  -       -       y       -       1       verify
flush     unix  n       -       y       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       y       -       -       smtp
relay     unix  -       -       y       -       -       smtp
showq     unix  n       -       y       -       -       showq
error     unix  -       -       y       -       -       error
retry     unix  -       -       y       -       -       error
discard   unix  -       -       y       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       y       -       -       lmtp
anvil     unix  -       -       y       -       1       anvil
scache    unix  -       -       y       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`

const dovecotConf = `## Dovecot configuration file
!include_try /usr/share/dovecot/protocols.d/*.protocol
protocols = imap lmtp
listen = *, ::
dict {
}
!include conf.d/*.conf
!include_try local.conf
`

const dovecotMail = `mail_location = maildir:~/Maildir:INBOX=~/Maildir:LAYOUT=maildir++
namespace inbox {
  inbox = yes
  separator = .
}
mail_privileged_group = mail
maildir_very_dirty_syncs = no
maildir_copy_with_hardlinks = yes
mail_plugins = $mail_plugins quota
protocol !indexer-worker {
}
`

const dovecotAuth = `disable_plaintext_auth = yes
auth_mechanisms = plain login
!include auth-system.conf.ext
`

const dovecotSSL = `ssl = required
ssl_cert = </etc/letsencrypt/live/%s/fullchain.pem
ssl_key = </etc/letsencrypt/live/%s/privkey.pem
ssl_min_protocol = TLSv1.2
ssl_prefer_server_ciphers = yes
`

const dovecotMailboxes = `namespace inbox {
  mailbox Drafts {
    special_use = \Drafts
  }
  mailbox Sent {
    auto = subscribe
    special_use = \Sent
  }
  mailbox Trash {
    auto = subscribe
    special_use = \Trash
  }
  mailbox Archive {
    special_use = \Archive
  }
}
`
