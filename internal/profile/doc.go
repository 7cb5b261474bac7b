// Package profile reads godwit's TOML profile file (by default
// /etc/godwit/godwit.toml) and runs a profile's hooks.
//
// A file holds named profiles under [profiles.NAME] and optional defaults
// under [defaults] that every profile inherits. Load parses and validates
// the whole file: an unknown key, a value of the wrong type or an invalid
// value is an error that names the file, the line and the key, such as
// "/etc/godwit/godwit.toml:12: profiles.mail.retention.keep-daly: unknown
// key".
//
// The package knows nothing of repositories or of the command line: it
// turns a file into validated settings, and the command applies them
// (command-line flags win over the profile). Of the files a profile names
// it reads only the S3 secret key file (Profile.Environ); the others are
// checked to be absolute paths and left to the command.
package profile
