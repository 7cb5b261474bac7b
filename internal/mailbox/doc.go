// Package mailbox reads and writes the two mailbox formats found on Linux mail
// servers, Maildir and mbox, for searching and restoring single messages.
//
// It works on byte streams and local files only. It knows nothing about
// repositories, snapshots or trees: the caller finds candidate files (for
// example with IsMaildirMessage while walking a snapshot tree, or by scanning
// an mbox spool with ScanMbox), matches their headers with a Query, and
// restores chosen messages with DeliverMaildir or AppendMbox.
//
// The mbox dialect is the one written by Debian's mail delivery agents
// (postfix local, exim, procmail): a message starts with a "From " line at
// offset 0 or after an empty line, and body lines that would look like a
// separator are quoted with '>'. Reading follows mboxrd (any ">+From " line
// loses one '>'), writing quotes every ">*From " line (mboxrd), so messages
// survive a round trip byte for byte. Writers and readers of live spools
// honour the usual locking: a dotlock (path + ".lock") and an fcntl lock.
package mailbox
