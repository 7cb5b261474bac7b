// Command mailgen builds a synthetic mail server tree for benchmarks: Maildir++
// mailboxes with dovecot index files under home/, mbox spools under var/mail,
// and postfix/dovecot configuration, passwd, group and aliases under etc/.
//
// The tree is a pure function of the seed and the size target: the same flags
// give byte-identical files (modification times follow the simulated delivery
// dates, so they are identical too). Messages carry realistic headers
// (Received chains, DKIM signatures, MIME structure), quoted replies, a
// log-normal size distribution and base64 attachments that recur: the same
// attachment sent to many users, forwarded inside other messages, and
// mailing-list posts delivered to every subscriber.
//
//	mailgen -out DIR [-size 200MiB] [-seed 1]   generate a corpus into an empty DIR
//	mailgen -mutate -out DIR [-seed 2]          simulate one day of mail on DIR
//	mailgen -files N -out DIR [-seed 1]         N small files, for scale tests
//
// mutate reads the state it needs from the tree itself (users from etc/passwd,
// mailing lists from etc/aliases, the clock from the newest message), so it
// can be applied repeatedly, one simulated day each time.
//
// The dovecot index files are shaped like dovecot's (sizes, which files are
// rewritten and which appended to), not readable by dovecot.
package main
