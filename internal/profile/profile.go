package profile

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

// DefaultPath is the profile file used when neither --config nor
// GODWIT_CONFIG names one.
const DefaultPath = "/etc/godwit/godwit.toml"

// ErrNoProfile is returned (wrapped) by File.Profile for a name the file
// does not define.
var ErrNoProfile = errors.New("no such profile")

// File is a parsed and validated profile file. Its profiles already
// include what they inherit from [defaults].
type File struct {
	// Path is the file's name as given to Load or Parse; errors use it.
	Path string
	// Profiles maps each name of a [profiles.NAME] table to its profile.
	Profiles map[string]*Profile
}

// Profile is one [profiles.NAME] table with the [defaults] it inherits.
// An unset string is "", an unset list nil, an unset table or switch nil.
// Paths are absolute (Load refuses relative ones).
type Profile struct {
	// Name is the NAME of [profiles.NAME].
	Name string `toml:"-"`

	Repository   string `toml:"repository"`
	PasswordFile string `toml:"password-file"`
	// IdentityFile is an age identity, SSH private key or write key file.
	IdentityFile string `toml:"identity-file"`
	CacheDir     string `toml:"cache-dir"`
	// S3AccessKeyID and the key in S3SecretAccessKeyFile become
	// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the S3 backend.
	S3AccessKeyID         string `toml:"s3-access-key-id"`
	S3SecretAccessKeyFile string `toml:"s3-secret-access-key-file"`
	// Env holds environment variables godwit sets for itself (not for
	// hooks) when the environment does not already set them, such as
	// AWS_REGION or GODWIT_SFTP_ARGS.
	Env Env `toml:"env"`

	Sources       []string `toml:"sources"`
	Preset        string   `toml:"preset"`
	Exclude       []string `toml:"exclude"`
	ExcludeFiles  []string `toml:"exclude-file"`
	ExcludeCaches *bool    `toml:"exclude-caches"`
	OneFileSystem *bool    `toml:"one-file-system"`
	Tags          []string `toml:"tags"`
	Host          string   `toml:"host"`

	// Schedule is a systemd OnCalendar expression ("daily",
	// "*-*-* 03:00:00") for godwit schedule; Load checks only that it is
	// one line of printable text.
	Schedule    string `toml:"schedule"`
	MetricsFile string `toml:"metrics-file"`

	Retention *Retention `toml:"retention"`
	Check     *Check     `toml:"check"`
	Hooks     *Hooks     `toml:"hooks"`
}

// document is the file's top level.
type document struct {
	Defaults *Profile            `toml:"defaults"`
	Profiles map[string]*Profile `toml:"profiles"`
}

// Load reads and parses the profile file at path. See Parse.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("profile file: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a profile file's contents; path is used in
// errors only. Every error about the contents is an *Error, or several
// joined with errors.Join (one per unknown key), each naming a line.
func Parse(path string, data []byte) (*File, error) {
	var doc document
	if err := decode(path, data, &doc); err != nil {
		return nil, err
	}
	lines := keyLines(data)
	fail := func(key, format string, args ...any) error {
		return &Error{Path: path, Line: lines.find(key), Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	if doc.Defaults != nil {
		if err := doc.Defaults.validate("defaults", fail); err != nil {
			return nil, err
		}
	}
	f := &File{Path: path, Profiles: make(map[string]*Profile, len(doc.Profiles))}
	for _, name := range slices.Sorted(maps.Keys(doc.Profiles)) {
		p := doc.Profiles[name]
		prefix := "profiles." + keyPart(name)
		if !validName(name) {
			return nil, fail(prefix, "invalid profile name (use letters, digits, - and _, starting with a letter or digit)")
		}
		if p == nil {
			p = &Profile{}
		}
		if err := p.validate(prefix, fail); err != nil {
			return nil, err
		}
		p.inherit(doc.Defaults)
		p.Name = name
		f.Profiles[name] = p
	}
	return f, nil
}

// Profile returns the named profile. For a name the file does not define
// the error wraps ErrNoProfile and lists the names it does define.
func (f *File) Profile(name string) (*Profile, error) {
	if p, ok := f.Profiles[name]; ok {
		return p, nil
	}
	names := f.Names()
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: %w %q (the file defines no [profiles.NAME] table)", f.Path, ErrNoProfile, name)
	}
	return nil, fmt.Errorf("%s: %w %q (defined: %s)", f.Path, ErrNoProfile, name, strings.Join(names, ", "))
}

// Names returns the names of the file's profiles, sorted.
func (f *File) Names() []string {
	return slices.Sorted(maps.Keys(f.Profiles))
}

// inherit fills what p leaves unset from d. Tables (retention, check,
// hooks) are inherited whole, env variables one by one.
func (p *Profile) inherit(d *Profile) {
	if d == nil {
		return
	}
	for _, s := range []struct{ dst, src *string }{
		{&p.Repository, &d.Repository}, {&p.PasswordFile, &d.PasswordFile},
		{&p.IdentityFile, &d.IdentityFile}, {&p.CacheDir, &d.CacheDir},
		{&p.S3AccessKeyID, &d.S3AccessKeyID}, {&p.S3SecretAccessKeyFile, &d.S3SecretAccessKeyFile},
		{&p.Preset, &d.Preset}, {&p.Host, &d.Host}, {&p.Schedule, &d.Schedule}, {&p.MetricsFile, &d.MetricsFile},
	} {
		if *s.dst == "" {
			*s.dst = *s.src
		}
	}
	for _, l := range []struct{ dst, src *[]string }{
		{&p.Sources, &d.Sources}, {&p.Exclude, &d.Exclude}, {&p.ExcludeFiles, &d.ExcludeFiles}, {&p.Tags, &d.Tags},
	} {
		if *l.dst == nil {
			*l.dst = slices.Clone(*l.src)
		}
	}
	if p.ExcludeCaches == nil {
		p.ExcludeCaches = d.ExcludeCaches
	}
	if p.OneFileSystem == nil {
		p.OneFileSystem = d.OneFileSystem
	}
	if len(d.Env) > 0 {
		env := maps.Clone(d.Env)
		maps.Copy(env, p.Env)
		p.Env = env
	}
	if p.Retention == nil && d.Retention != nil {
		r := *d.Retention
		p.Retention = &r
	}
	if p.Check == nil && d.Check != nil {
		c := *d.Check
		p.Check = &c
	}
	if p.Hooks == nil && d.Hooks != nil {
		h := *d.Hooks
		p.Hooks = &h
	}
}

func validName(s string) bool {
	if s == "" || s[0] == '-' || s[0] == '_' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Environ returns the variables godwit sets for itself when running p: the
// [env] table, plus AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (read from
// S3SecretAccessKeyFile, one trailing newline dropped) when the profile
// sets S3 credentials. The result holds credentials: do not print it, and
// do not pass it to hooks (HookEnviron leaves these variables out).
func (p *Profile) Environ() (map[string]string, error) {
	env := maps.Clone(map[string]string(p.Env))
	if env == nil {
		env = map[string]string{}
	}
	if p.S3SecretAccessKeyFile != "" {
		b, err := os.ReadFile(p.S3SecretAccessKeyFile)
		if err != nil {
			return nil, fmt.Errorf("profile %s: s3 secret access key: %w", p.Name, err)
		}
		secret := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if secret == "" {
			return nil, fmt.Errorf("profile %s: s3 secret access key file %s is empty", p.Name, p.S3SecretAccessKeyFile)
		}
		env["AWS_ACCESS_KEY_ID"] = p.S3AccessKeyID
		env["AWS_SECRET_ACCESS_KEY"] = secret
	}
	return env, nil
}
