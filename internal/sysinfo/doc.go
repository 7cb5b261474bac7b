// Package sysinfo describes the system a snapshot was taken from and plans
// the move of that system onto another machine.
//
// A Manifest records what restoring files alone cannot recreate: hostname,
// FQDN and mailname, /etc/os-release, the installed packages and the manually
// installed subset, the users and groups with their numeric ids, the enabled
// systemd units, the mail stack and /etc/aliases. Collect reads all of this
// from the files of a system root, so it works on the running system ("/") and
// on a disk mounted elsewhere alike; it never runs dpkg-query or apt-mark.
//
// MakePlan compares a snapshot's manifest with the manifest of the target
// machine and produces the ordered migration checklist: the groups and users
// to create with the same ids, the id conflicts and how to resolve them, the
// packages to install, the mail daemons to stop, and the differences in
// hostname, mailname and aliases. Apply carries out the account part of a plan
// with groupadd and useradd through an injected Runner.
//
// The package knows nothing of repositories, snapshots or encryption: the
// caller stores the marshalled manifest wherever it likes and fills in
// OwnerUIDs and OwnerGIDs from its own walk of the snapshot.
package sysinfo
