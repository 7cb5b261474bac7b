package sysinfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Collect builds a manifest of the system rooted at root ("/" for the running
// system). It reads files under root only, resolving symlinks inside root (an
// absolute symlink on a mounted disk never reaches the host's files):
// etc/hostname, etc/hosts (for the FQDN; no DNS), etc/mailname,
// etc/os-release (or usr/lib/os-release), etc/passwd, etc/group, etc/aliases,
// var/lib/dpkg/status, var/lib/apt/extended_states (the manual subset) and
// the etc/systemd/system/*.wants and *.requires directories.
//
// On an RPM system (var/lib/rpm or usr/lib/sysimage/rpm exists) it sets
// PackageManager to "rpm"; only for root "/" does it list the packages, by
// running rpm -qa when rpm is installed. For root "/" it also falls back to
// the kernel's hostname when etc/hostname is missing, and records the mail
// daemons running according to /proc.
//
// Missing files leave their fields empty and malformed lines are skipped;
// Collect fails only when root cannot be opened or a file exists but cannot
// be read. OwnerUIDs and OwnerGIDs are left empty for the caller to fill.
func Collect(root string, now time.Time) (*Manifest, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("collect manifest: %w", err)
	}
	defer r.Close()
	fsys := r.FS()
	live := filepath.Clean(root) == "/"

	m := &Manifest{Version: ManifestVersion, Created: now.UTC().Round(0)}
	c := collector{fsys: fsys}

	m.Hostname = firstLine(c.read("etc/hostname"))
	if m.Hostname == "" && live {
		if h, err := os.Hostname(); err == nil {
			m.Hostname = h
		}
	}
	m.FQDN = fqdn(m.Hostname, c.read("etc/hosts"))
	m.Mailname = firstLine(c.read("etc/mailname"))

	osr := c.read("etc/os-release")
	if osr == nil {
		osr = c.read("usr/lib/os-release")
	}
	m.OSRelease = parseOSRelease(osr)

	m.Users = parsePasswd(c.read("etc/passwd"))
	m.Groups = parseGroup(c.read("etc/group"))
	m.Aliases = parseAliases(c.read("etc/aliases"))

	if status := c.read("var/lib/dpkg/status"); status != nil {
		m.PackageManager = "dpkg"
		m.Packages = dpkgPackages(status, c.read("var/lib/apt/extended_states"))
	} else if c.exists("var/lib/rpm") || c.exists("usr/lib/sysimage/rpm") {
		m.PackageManager = "rpm"
		if live {
			m.Packages = rpmPackages()
		}
	}

	m.EnabledUnits = c.enabledUnits()
	m.Mail = c.mailStack(m.Packages)
	if live {
		m.RunningMail = mailProcesses("/proc")
	}
	if c.err != nil {
		return nil, fmt.Errorf("collect manifest: %w", c.err)
	}
	return m, nil
}

// collector reads files from a root and keeps the first real I/O error.
type collector struct {
	fsys fs.FS
	err  error
}

// read returns the file's contents, or nil when it does not exist, is a
// directory or is a symlink leaving the root.
func (c *collector) read(name string) []byte {
	b, err := fs.ReadFile(c.fsys, name)
	if err == nil {
		return b
	}
	if !ignorable(err) && c.err == nil {
		c.err = fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

func (c *collector) exists(name string) bool {
	_, err := fs.Stat(c.fsys, name)
	return err == nil
}

// ignorable reports whether err means "this file is not there" for the
// purpose of a manifest: missing, a symlink escaping the root, or not a file.
func ignorable(err error) bool {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EISDIR) ||
		errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP) {
		return true
	}
	// os.Root reports a symlink leaving the root with an unexported error.
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes")
}

func firstLine(b []byte) string {
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}

// fqdn derives the fully qualified name from the hostname and /etc/hosts the
// way hostname -f does without DNS: the first name on the hosts line naming
// the host that is the host name plus a domain.
func fqdn(hostname string, hosts []byte) string {
	if hostname == "" {
		return ""
	}
	if strings.Contains(hostname, ".") {
		return hostname
	}
	for line := range strings.Lines(string(hosts)) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 || !slices.Contains(f[1:], hostname) {
			continue
		}
		for _, name := range f[1:] {
			if strings.HasPrefix(name, hostname+".") {
				return name
			}
		}
	}
	return ""
}

// parseOSRelease parses os-release(5): KEY=value lines, the value optionally
// in single or double quotes, with backslash escapes inside double quotes.
func parseOSRelease(b []byte) map[string]string {
	out := map[string]string{}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			continue
		}
		out[k] = unquoteShell(v)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func unquoteShell(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		var sb strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
				i++
			}
			sb.WriteByte(v[i])
		}
		return sb.String()
	}
	return v
}

// parsePasswd parses passwd(5). NIS compat lines ("+", "-") and lines with a
// wrong field count or non-numeric ids are skipped.
func parsePasswd(b []byte) []User {
	var users []User
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\r\n")
		f := strings.Split(line, ":")
		if len(f) != 7 || f[0] == "" || strings.ContainsAny(f[0][:1], "+-#") {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		users = append(users, User{Name: f[0], UID: uint32(uid), GID: uint32(gid), Gecos: f[4], Home: f[5], Shell: f[6]})
	}
	return users
}

// parseGroup parses group(5), skipping malformed and NIS compat lines.
func parseGroup(b []byte) []Group {
	var groups []Group
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\r\n")
		f := strings.Split(line, ":")
		if len(f) != 4 || f[0] == "" || strings.ContainsAny(f[0][:1], "+-#") {
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		g := Group{Name: f[0], GID: uint32(gid)}
		for m := range strings.SplitSeq(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				g.Members = append(g.Members, m)
			}
		}
		groups = append(groups, g)
	}
	return groups
}

// parseAliases parses aliases(5): "name: value" entries, comment lines
// starting with '#', and continuation lines starting with white space.
func parseAliases(b []byte) map[string]string {
	out := map[string]string{}
	var name string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\r\n")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			continue
		case line[0] == ' ' || line[0] == '\t':
			if name != "" {
				out[name] = strings.TrimSpace(out[name] + " " + trimmed)
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			name = ""
			continue
		}
		name = k
		out[name] = strings.TrimSpace(v)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// controlStanzas splits a deb822 control file (dpkg status, apt
// extended_states) into stanzas of the named fields; other fields and
// continuation lines are dropped.
func controlStanzas(b []byte, fields ...string) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
			cur = map[string]string{}
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), len(b)+1)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && slices.Contains(fields, k) {
			cur[k] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

// dpkgPackages lists the installed packages of a dpkg status file. A
// package is manual unless extended_states marks it Auto-Installed, which is
// what apt-mark showmanual reports.
func dpkgPackages(status, extended []byte) []Package {
	auto := map[string][]string{} // name → architectures marked auto
	for _, s := range controlStanzas(extended, "Package", "Architecture", "Auto-Installed") {
		if s["Package"] != "" && s["Auto-Installed"] == "1" {
			auto[s["Package"]] = append(auto[s["Package"]], s["Architecture"])
		}
	}
	isAuto := func(name, arch string) bool {
		archs, ok := auto[name]
		if !ok {
			return false
		}
		// apt records arch:all packages under the native architecture.
		return arch == "all" || slices.Contains(archs, arch) || slices.Contains(archs, "")
	}
	var pkgs []Package
	for _, s := range controlStanzas(status, "Package", "Status", "Version", "Architecture") {
		st := strings.Fields(s["Status"])
		if s["Package"] == "" || len(st) != 3 || st[2] != "installed" {
			continue
		}
		pkgs = append(pkgs, Package{
			Name:    s["Package"],
			Version: s["Version"],
			Arch:    s["Architecture"],
			Manual:  !isAuto(s["Package"], s["Architecture"]),
		})
	}
	sortPackages(pkgs)
	return pkgs
}

func sortPackages(pkgs []Package) {
	sort.Slice(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Arch < pkgs[j].Arch
	})
}

// rpmPackages lists the packages of the running RPM system, or nil when rpm
// is not installed or fails.
func rpmPackages() []Package {
	bin, err := exec.LookPath("rpm")
	if err != nil {
		return nil
	}
	out, err := exec.Command(bin, "-qa", "--qf", `%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\n`).Output()
	if err != nil {
		return nil
	}
	return parseRPMList(out)
}

func parseRPMList(out []byte) []Package {
	var pkgs []Package
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) != 3 || f[0] == "" || f[0] == "gpg-pubkey" {
			continue
		}
		pkgs = append(pkgs, Package{Name: f[0], Version: f[1], Arch: f[2]})
	}
	sortPackages(pkgs)
	return pkgs
}

// enabledUnits lists the entries of etc/systemd/system/*.wants and
// *.requires: the units an administrator (or a package) enabled.
func (c *collector) enabledUnits() []string {
	const dir = "etc/systemd/system"
	entries, err := fs.ReadDir(c.fsys, dir)
	if err != nil {
		if !ignorable(err) && c.err == nil {
			c.err = fmt.Errorf("read %s: %w", dir, err)
		}
		return nil
	}
	var units []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".wants") && !strings.HasSuffix(e.Name(), ".requires") {
			continue
		}
		sub, err := fs.ReadDir(c.fsys, path.Join(dir, e.Name()))
		if err != nil {
			if !ignorable(err) && c.err == nil {
				c.err = fmt.Errorf("read %s: %w", path.Join(dir, e.Name()), err)
			}
			continue
		}
		for _, u := range sub {
			units = append(units, u.Name())
		}
	}
	slices.Sort(units)
	return slices.Compact(units)
}

// mailComponents maps each mail stack name to the packages (dpkg and rpm
// names, most specific first) and the binaries that reveal it.
var mailComponents = []struct {
	name     string
	packages []string
	binaries []string
}{
	{"postfix", []string{"postfix"}, []string{"usr/sbin/postfix"}},
	{"exim4", []string{"exim4-daemon-heavy", "exim4-daemon-light", "exim4-base", "exim4", "exim"}, []string{"usr/sbin/exim4", "usr/sbin/exim"}},
	// usr/sbin/sendmail is provided by every MTA; these are sendmail's own.
	{"sendmail", []string{"sendmail-bin", "sendmail"}, []string{"usr/lib/sm.bin/sendmail", "usr/sbin/sendmail.sendmail"}},
	{"dovecot", []string{"dovecot-core", "dovecot"}, []string{"usr/sbin/dovecot"}},
}

// mailStack finds the mail components by package, falling back to binaries
// under the root (for systems without a readable package database).
func (c *collector) mailStack(pkgs []Package) []MailStack {
	version := map[string]string{}
	for _, p := range pkgs {
		version[p.Name] = p.Version
	}
	var out []MailStack
	for _, mc := range mailComponents {
		found := false
		for _, p := range mc.packages {
			if v, ok := version[p]; ok {
				out = append(out, MailStack{Name: mc.name, Version: v})
				found = true
				break
			}
		}
		if found {
			continue
		}
		for _, b := range mc.binaries {
			if c.exists(b) {
				out = append(out, MailStack{Name: mc.name})
				break
			}
		}
	}
	return out
}

// mailProcesses scans a proc(5) directory for running mail daemons: the
// Postfix master, exim, the sendmail MTA and dovecot. Unreadable entries
// (processes that exited, permission) are skipped.
func mailProcesses(proc string) []string {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(proc, e.Name(), "comm"))
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(proc, e.Name(), "cmdline"))
		if name := mailDaemon(strings.TrimSpace(string(comm)), string(cmdline)); name != "" {
			seen[name] = true
		}
	}
	var out []string
	for name := range seen {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// mailDaemon names the mail daemon a process is, from its comm and its
// NUL-separated command line, or returns "".
func mailDaemon(comm, cmdline string) string {
	switch comm {
	case "master":
		if strings.Contains(cmdline, "postfix") {
			return "postfix"
		}
	case "exim4", "exim":
		return "exim4"
	case "sendmail":
		// Postfix's and exim's sendmail commands are short-lived
		// submissions; the sendmail daemon retitles itself.
		if strings.HasPrefix(cmdline, "sendmail: MTA") {
			return "sendmail"
		}
	case "dovecot":
		return "dovecot"
	}
	return ""
}

// mailUnit returns the mail daemon an enabled systemd unit starts, or "".
func mailUnit(unit string) string {
	base, _, _ := strings.Cut(strings.TrimSuffix(strings.TrimSuffix(unit, ".service"), ".socket"), "@")
	switch base {
	case "postfix", "exim4", "sendmail", "dovecot":
		return base
	}
	return ""
}
