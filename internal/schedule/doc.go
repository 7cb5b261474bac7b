// Package schedule installs, removes and reports the periodic backup job of
// a godwit profile: a systemd service and timer where systemd manages the
// system, a cron.d entry where it does not.
//
// Every path is taken relative to a system root (System.Root), so the same
// code serves the running system ("/") and a system image mounted elsewhere.
// The package writes only files that start with the Header line, and it
// refuses to overwrite or delete a file of the same name without that line
// unless forced. It runs systemctl only when System.Live is set, which
// NewSystem does only for the running system with systemd booted.
//
// The last run of a job is recorded by the backup itself: after a profile
// backup the caller stores a Status with WriteStatus, and the status command
// reads it back with ReadStatus.
//
// The package knows nothing of repositories or of the profile file format:
// it takes a profile name, the path of the profile file and a calendar
// expression.
package schedule
