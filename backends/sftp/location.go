package sftp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// DefaultConnections is the number of concurrent operations a Backend
// allows when Config.Connections is zero.
const DefaultConnections = 5

// Config says where a repository is and how to reach it.
type Config struct {
	// User is the login name on the server; empty lets ssh choose (from
	// ~/.ssh/config or the local user name).
	User string
	// Host is the server's name or address, or a Host alias from
	// ~/.ssh/config. It must not start with '-'.
	Host string
	// Port is the SSH port; 0 lets ssh choose (from ~/.ssh/config, or 22).
	Port int
	// Path is the absolute path of the repository directory on the server.
	Path string

	// Command, if set, is the full command to run instead of ssh, already
	// split into arguments (it is not passed to a shell). It must start an
	// SFTP server speaking on its standard input and output; User, Host,
	// Port and SSHOptions are then not used to build the command, and host
	// key checking is whatever the command does.
	Command []string
	// SSHOptions are extra arguments for ssh, placed before the host, for
	// example {"-i", "key", "-o", "UserKnownHostsFile=file", "-F", "none"}.
	// They cannot turn off strict host key checking.
	SSHOptions []string
	// Connections is the number of operations that may run at the same
	// time; 0 means DefaultConnections.
	Connections int
}

// ParseLocation parses a repository location of one of the forms
//
//	sftp://[user@]host[:port]/absolute/path
//	sftp:[user@]host:/absolute/path
//
// The host may be an IPv6 address in brackets. Relative paths, passwords
// in the location, and empty or option-like ('-') users and hosts are
// errors.
func ParseLocation(s string) (Config, error) {
	var cfg Config
	var err error
	switch {
	case strings.HasPrefix(s, "sftp://"):
		cfg, err = parseURL(s)
	case strings.HasPrefix(s, "sftp:"):
		cfg, err = parseShort(strings.TrimPrefix(s, "sftp:"))
	default:
		err = fmt.Errorf("not an sftp location; want sftp://user@host[:port]/path or sftp:user@host:/path")
	}
	if err == nil {
		err = cfg.check()
	}
	if errors.Is(err, errPassword) {
		// Do not repeat the location: it holds the password.
		return Config{}, fmt.Errorf("parse sftp location: %w", err)
	}
	if err != nil {
		return Config{}, fmt.Errorf("parse sftp location %q: %w", s, err)
	}
	return cfg, nil
}

var errPassword = errors.New("passwords in the location are not supported; use an ssh key or ssh-agent")

func parseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Config{}, err
	}
	if _, ok := u.User.Password(); ok {
		return Config{}, errPassword
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Config{}, fmt.Errorf("unexpected query or fragment")
	}
	cfg := Config{User: u.User.Username(), Host: u.Hostname(), Path: u.Path}
	if p := u.Port(); p != "" {
		cfg.Port, err = strconv.Atoi(p)
		if err != nil || cfg.Port < 1 || cfg.Port > 65535 {
			return Config{}, fmt.Errorf("invalid port %q", p)
		}
	}
	if cfg.Path == "" {
		return Config{}, fmt.Errorf("missing path; want sftp://user@host[:port]/absolute/path")
	}
	return cfg, nil
}

// parseShort parses "[user@]host:/path", the form scp and restic use.
func parseShort(s string) (Config, error) {
	var cfg Config
	if i := strings.LastIndex(s, "@"); i >= 0 {
		// An '@' can only be in the user part if the rest has no ':' before it.
		if j := strings.Index(s, ":"); j < 0 || j > i {
			cfg.User, s = s[:i], s[i+1:]
		}
	}
	var rest string
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return Config{}, fmt.Errorf("missing ']' after IPv6 address")
		}
		cfg.Host, rest = s[1:end], s[end+1:]
		if !strings.HasPrefix(rest, ":") {
			return Config{}, fmt.Errorf("missing ':' between host and path")
		}
		rest = rest[1:]
	} else {
		var ok bool
		cfg.Host, rest, ok = strings.Cut(s, ":")
		if !ok {
			return Config{}, fmt.Errorf("missing ':' between host and path; want sftp:user@host:/path")
		}
	}
	if cfg.User == "" && !strings.HasPrefix(rest, "/") && strings.Contains(rest, "@") {
		// user:password@host:/path
		return Config{}, errPassword
	}
	cfg.Path = rest
	return cfg, nil
}

// check validates the parts every form shares.
func (cfg *Config) check() error {
	switch {
	case cfg.Host == "":
		return fmt.Errorf("missing host")
	case strings.HasPrefix(cfg.Host, "-"):
		return fmt.Errorf("host %q starts with '-'", cfg.Host)
	case strings.HasPrefix(cfg.User, "-"):
		return fmt.Errorf("user %q starts with '-'", cfg.User)
	case !validHost(cfg.Host):
		return fmt.Errorf("invalid host %q", cfg.Host)
	case cfg.Path == "":
		return fmt.Errorf("missing path")
	case !strings.HasPrefix(cfg.Path, "/"):
		return fmt.Errorf("path %q is relative; give the absolute path on the server, such as /srv/godwit", cfg.Path)
	}
	cfg.Path = path.Clean(cfg.Path)
	return nil
}

// validHost reports whether h can be a host name, an IP address or an
// ssh_config Host alias that Location can write back into a URL: letters,
// digits, '.', '-', '_', or an IPv6 address (the only hosts with ':').
func validHost(h string) bool {
	if strings.Contains(h, ":") {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Is6()
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':') {
			return false
		}
	}
	return true
}

// Location returns the repository location as sftp://[user@]host[:port]/path.
// It never holds credentials.
func (cfg Config) Location() string {
	u := url.URL{Scheme: "sftp", Host: cfg.Host, Path: cfg.Path}
	if cfg.User != "" {
		u.User = url.User(cfg.User)
	}
	if strings.Contains(cfg.Host, ":") {
		u.Host = "[" + cfg.Host + "]"
	}
	if cfg.Port != 0 {
		u.Host = net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	}
	return u.String()
}

// command returns the command line that starts the SFTP session.
func (cfg Config) command() []string {
	if len(cfg.Command) > 0 {
		return cfg.Command
	}
	args := []string{"ssh"}
	if cfg.Port != 0 {
		args = append(args, "-p", strconv.Itoa(cfg.Port))
	}
	if cfg.User != "" {
		args = append(args, "-l", cfg.User)
	}
	// ssh keeps the first value of an option, so this one wins over any
	// in SSHOptions or ssh_config.
	args = append(args, "-o", "StrictHostKeyChecking=yes")
	args = append(args, cfg.SSHOptions...)
	return append(args, "-s", "--", cfg.Host, "sftp")
}

// sshTarget is how the user would name the server to ssh, for hints.
func (cfg Config) sshTarget() string {
	var b strings.Builder
	b.WriteString("ssh ")
	if cfg.Port != 0 {
		fmt.Fprintf(&b, "-p %d ", cfg.Port)
	}
	if cfg.User != "" {
		b.WriteString(cfg.User + "@")
	}
	b.WriteString(cfg.Host)
	return b.String()
}

// knownHostsName is the name ssh looks up in known_hosts.
func (cfg Config) knownHostsName() string {
	if cfg.Port != 0 && cfg.Port != 22 {
		return "[" + cfg.Host + "]:" + strconv.Itoa(cfg.Port)
	}
	return cfg.Host
}
