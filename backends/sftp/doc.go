// Package sftp keeps a godwit repository in a directory on an SSH server,
// spoken to over SFTP.
//
// It does not implement SSH itself: it runs the system ssh client
// ("ssh -s -- host sftp") and speaks SFTP (github.com/pkg/sftp) over the
// child's standard input and output. Everything the user has set up for ssh
// therefore applies: ~/.ssh/config, ssh-agent, passphrase-protected and
// hardware-backed keys, ProxyJump, and known_hosts. Host keys are checked
// strictly (StrictHostKeyChecking=yes is passed before any user option, and
// ssh keeps the first value it sees): an unknown or changed host key is an
// error that says how to add or verify the key, never a silent accept.
// Config.Command replaces the whole command line, and with it this
// guarantee.
//
// The layout on the server is the one every backend uses (see package
// local): config, keys/<name>, data/<first two characters>/<name>, index/,
// snapshots/ and locks/. Directories are created 0700 on demand and objects
// 0600. Every object is written to a temporary name (".tmp-*", never
// listed) in its final directory, flushed with fsync@openssh.com where the
// server supports it, and then linked into place with hardlink@openssh.com
// (or, on servers without it, the SFTP rename, which the protocol defines
// to fail on an existing target), so that an existing object is never
// replaced; only config is moved with posix-rename@openssh.com, which
// replaces it. SFTP has no way to sync a directory: an object Save reported
// as stored survives a crash of the server only as far as the server's
// file system keeps renames and links in order.
//
// A crash or a dropped connection in the middle of Save can leave a
// ".tmp-*" file behind; such files are never read and may be deleted at
// any time no Save is running.
//
// One ssh process serves all calls. When it dies (the network dropped, the
// server restarted, the process was killed), the operation that notices
// runs once more on a new connection.
//
// The package knows nothing of the repository format: objects are opaque
// bytes, and it never decrypts or interprets them.
package sftp
