package sysinfo

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ErrConflicts is wrapped by Apply when the plan has conflicts and they were
// not allowed.
var ErrConflicts = errors.New("plan has conflicts")

// Runner runs a command and returns its combined output. Apply calls it
// sequentially from the calling goroutine.
type Runner func(name string, args ...string) ([]byte, error)

// ExecRunner is the Runner that executes commands with os/exec.
func ExecRunner(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

// GroupaddCommands returns the groupadd command lines for CreateGroups, in
// order, quoted for a POSIX shell: "groupadd -g 5000 vmail".
func (p *Plan) GroupaddCommands() []string {
	var out []string
	for _, g := range p.CreateGroups {
		out = append(out, render(groupaddArgs(g, true)))
	}
	return out
}

// UseraddCommands returns the useradd command lines for CreateUsers, in
// order, quoted for a POSIX shell:
// "useradd -u 5000 -g 5000 -d /var/vmail -s /usr/sbin/nologin -M vmail".
// -M leaves the home to the restore; supplementary groups come from
// Memberships (-G); a primary group that could not keep its gid is named.
func (p *Plan) UseraddCommands() []string {
	var out []string
	for _, u := range p.CreateUsers {
		out = append(out, render(p.useraddArgs(u, true)))
	}
	return out
}

// groupaddArgs is the groupadd command for g: with its gid, or with one the
// system picks from the range (system or regular) g's gid was in.
func groupaddArgs(g Group, sameID bool) []string {
	args := []string{"groupadd"}
	switch {
	case sameID:
		args = append(args, "-g", strconv.FormatUint(uint64(g.GID), 10))
	case g.GID < firstRegularID:
		args = append(args, "-r")
	}
	return append(args, g.Name)
}

func (p *Plan) useraddArgs(u User, sameID bool) []string {
	args := []string{"useradd"}
	switch {
	case sameID:
		args = append(args, "-u", strconv.FormatUint(uint64(u.UID), 10))
	case u.UID < firstRegularID:
		args = append(args, "-r")
	}
	args = append(args, "-g", p.primaryGroup(u))
	if gs := p.Memberships[u.Name]; len(gs) > 0 {
		args = append(args, "-G", strings.Join(gs, ","))
	}
	if u.Gecos != "" {
		args = append(args, "-c", u.Gecos)
	}
	if u.Home != "" {
		args = append(args, "-d", u.Home)
	}
	if u.Shell != "" {
		args = append(args, "-s", u.Shell)
	}
	return append(args, "-M", u.Name)
}

// primaryGroup names u's primary group for useradd -g: its gid, unless the
// group has another gid on the target (or gets a new one), then its name.
func (p *Plan) primaryGroup(u User) string {
	for _, c := range p.Conflicts {
		if (c.Kind == ConflictGroupName || c.Kind == ConflictGroupID) && c.WantID == u.GID {
			return c.Name
		}
	}
	return strconv.FormatUint(uint64(u.GID), 10)
}

// Apply creates the plan's groups and then its users with groupadd and
// useradd, run through run, on the system rooted at root: for a root other
// than "/" (or "") the tools get --root with root's absolute path, so they
// edit root/etc/passwd, group, shadow and gshadow.
//
// With conflicts in the plan Apply runs nothing and returns an error
// wrapping ErrConflicts, unless allowConflicts is set: then it also creates
// NewIDGroups and NewIDUsers with ids the system picks (after the same-id
// accounts, so a picked id cannot take one the plan needs), which is the
// resolution for a restore with --owner name. The *-name conflicts need no
// command: the target already has those accounts.
//
// Apply validates every name and path in the plan before running anything.
// It stops at the first failing command. It returns one entry per command
// run, the command line followed by its output, if any, on the next lines,
// including the failed one.
func Apply(p *Plan, root string, allowConflicts bool, run Runner) ([]string, error) {
	if len(p.Conflicts) > 0 && !allowConflicts {
		names := make([]string, len(p.Conflicts))
		for i, c := range p.Conflicts {
			names[i] = c.Kind + " " + c.Name
		}
		return nil, fmt.Errorf("migrate apply: %w (%s); resolve them or restore with --owner name and allow them",
			ErrConflicts, strings.Join(names, ", "))
	}
	var cmds [][]string
	for _, g := range p.CreateGroups {
		cmds = append(cmds, groupaddArgs(g, true))
	}
	if allowConflicts {
		for _, g := range p.NewIDGroups {
			cmds = append(cmds, groupaddArgs(g, false))
		}
	}
	for _, u := range p.CreateUsers {
		cmds = append(cmds, p.useraddArgs(u, true))
	}
	if allowConflicts {
		for _, u := range p.NewIDUsers {
			cmds = append(cmds, p.useraddArgs(u, false))
		}
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("migrate apply: %w", err)
	}
	var rootArgs []string
	if root != "" && filepath.Clean(root) != "/" {
		abs, err := filepath.Abs(root)
		if err != nil {
			return nil, fmt.Errorf("migrate apply: %w", err)
		}
		rootArgs = []string{"--root", abs}
	}

	var log []string
	for _, c := range cmds {
		args := append(append([]string{}, rootArgs...), c[1:]...)
		line := render(append([]string{c[0]}, args...))
		out, err := run(c[0], args...)
		text := strings.TrimRight(string(out), "\n")
		entry := line
		if text != "" {
			entry += "\n" + text
		}
		log = append(log, entry)
		if err != nil {
			if text != "" {
				return log, fmt.Errorf("%s: %w: %s", line, err, text)
			}
			return log, fmt.Errorf("%s: %w", line, err)
		}
	}
	return log, nil
}

var (
	accountName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$`)
	accountPath = regexp.MustCompile(`^/[^:\n\x00]*$`)
	gecosText   = regexp.MustCompile(`^[^:\n\x00]*$`)
)

// validate rejects accounts that groupadd/useradd would misread (a name
// starting with '-' is an option) or that would corrupt passwd.
func (p *Plan) validate() error {
	for _, g := range append(append([]Group{}, p.CreateGroups...), p.NewIDGroups...) {
		if !accountName.MatchString(g.Name) {
			return fmt.Errorf("invalid group name %q", g.Name)
		}
	}
	for _, u := range append(append([]User{}, p.CreateUsers...), p.NewIDUsers...) {
		switch {
		case !accountName.MatchString(u.Name):
			return fmt.Errorf("invalid user name %q", u.Name)
		case u.Home != "" && !accountPath.MatchString(u.Home):
			return fmt.Errorf("user %s: invalid home %q", u.Name, u.Home)
		case u.Shell != "" && !accountPath.MatchString(u.Shell):
			return fmt.Errorf("user %s: invalid shell %q", u.Name, u.Shell)
		case !gecosText.MatchString(u.Gecos):
			return fmt.Errorf("user %s: invalid gecos %q", u.Name, u.Gecos)
		}
		for _, g := range p.Memberships[u.Name] {
			if !accountName.MatchString(g) {
				return fmt.Errorf("user %s: invalid group name %q", u.Name, g)
			}
		}
	}
	for _, c := range p.Conflicts {
		if (c.Kind == ConflictGroupName || c.Kind == ConflictGroupID) && !accountName.MatchString(c.Name) {
			return fmt.Errorf("invalid group name %q", c.Name)
		}
	}
	return nil
}

// render joins a command's arguments, quoting them for a POSIX shell.
func render(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
