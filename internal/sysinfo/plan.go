package sysinfo

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Conflict kinds.
const (
	ConflictUserName  = "user-name"  // the target has the user name with another uid
	ConflictUserID    = "user-id"    // the target has the uid under another name
	ConflictGroupName = "group-name" // the target has the group name with another gid
	ConflictGroupID   = "group-id"   // the target has the gid under another name
)

// Conflict is an account of the snapshot that cannot be created on the
// target with the same name and id.
type Conflict struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`    // the account's name in the snapshot
	WantID uint32 `json:"want_id"` // its id in the snapshot
	HaveID uint32 `json:"have_id"` // the id on the target: of Name for *-name, WantID itself for *-id
	// HaveName is the target's name for the id: Name for *-name conflicts,
	// the other account for *-id conflicts.
	HaveName string `json:"have_name"`
	Advice   string `json:"advice"` // the choices the user has, with their commands
}

// Plan is the migration checklist from a snapshot's system to a target
// system. It is plain data, produced by MakePlan and consumed by Apply.
type Plan struct {
	// CreateGroups and CreateUsers are created with the snapshot's ids, in
	// order: all groups (by gid) before all users (by uid), so every
	// primary and supplementary group exists when its user is added.
	CreateGroups []Group `json:"create_groups,omitempty"`
	CreateUsers  []User  `json:"create_users,omitempty"`

	// NewIDGroups and NewIDUsers are absent from the target by name but
	// their id belongs to another account there (the *-id conflicts). Apply
	// creates them only when conflicts are allowed, with an id the system
	// picks, so that a restore with --owner name maps their files.
	NewIDGroups []Group `json:"new_id_groups,omitempty"`
	NewIDUsers  []User  `json:"new_id_users,omitempty"`

	// Memberships maps each user to create to its supplementary groups
	// (by name), for useradd -G.
	Memberships map[string][]string `json:"memberships,omitempty"`

	Conflicts []Conflict `json:"conflicts,omitempty"`

	// Packages are the snapshot's manually installed packages that the
	// target lacks, sorted; AptLine installs them ("" when there are none or
	// the target uses rpm).
	Packages []string `json:"packages,omitempty"`
	AptLine  string   `json:"apt_line,omitempty"`

	// RunningMailDaemons are the mail daemons enabled or running on the
	// target: they must be stopped before the mailboxes are restored.
	RunningMailDaemons []string `json:"running_mail_daemons,omitempty"`

	// HostnameDiff and MailnameDiff are [snapshot, target] when they
	// differ, and empty otherwise.
	HostnameDiff [2]string `json:"hostname_diff"`
	MailnameDiff [2]string `json:"mailname_diff"`

	// AliasesDiff compares /etc/aliases like diff(1) with the snapshot as
	// the old and the target as the new file, sorted by name:
	// "- name: value" only in the snapshot, "+ name: value" only on the
	// target, "~ name: snapshot value -> target value" changed.
	AliasesDiff []string `json:"aliases_diff,omitempty"`

	// Steps is the checklist in the order the migration must happen, each
	// step a sentence with its command. The restore command names the
	// snapshot as SNAPSHOT.
	Steps []string `json:"steps"`
}

// mailAccounts are the system accounts of mail software: created (or
// reported as conflicts) even when they own no file in the snapshot, since
// the restored configuration refers to them by name.
var mailAccounts = map[string]bool{
	"mail": true, "postfix": true, "postdrop": true, "dovecot": true, "dovenull": true,
	"vmail": true, "Debian-exim": true, "exim": true, "mailnull": true, "smmsp": true,
	"smmta": true, "opendkim": true, "opendmarc": true, "spamd": true, "debian-spamd": true,
	"clamav": true, "amavis": true, "postgrey": true, "policyd-spf": true, "_rspamd": true,
	"rspamd": true, "mailman": true, "list": true, "sympa": true, "sasl": true,
}

// firstRegularID is the first id of regular accounts on Debian and RHEL;
// nobodyID (65534) is the same everywhere and never migrated.
const (
	firstRegularID = 1000
	nobodyID       = 65534
)

// MakePlan compares the snapshot's manifest with the target's (from Collect
// on the new machine or on a mounted disk). It considers for creation only the
// users that own files in the snapshot (OwnerUIDs), regular users (uid ≥
// 1000) and mail-related system users, and the groups that own files, are
// regular, are mail-related, or are a primary or supplementary group of a
// considered user. An account the target has by name with the same id needs
// nothing; by name with another id, or its id under another name, is a
// Conflict; anything else is created with the snapshot's ids.
//
// MakePlan does not modify its arguments.
// accountExcludes keeps a restore from overwriting the accounts the plan
// created: the new machine's own passwd, group and shadow files stay.
const accountExcludes = "--exclude /etc/passwd --exclude /etc/group --exclude /etc/shadow --exclude /etc/gshadow --exclude '/etc/*-'"

func MakePlan(snap, target *Manifest) *Plan {
	p := &Plan{}
	p.planAccounts(snap, target)
	p.planPackages(snap, target)

	running := map[string]bool{}
	for _, u := range target.EnabledUnits {
		if d := mailUnit(u); d != "" {
			running[d] = true
		}
	}
	for _, d := range target.RunningMail {
		running[d] = true
	}
	p.RunningMailDaemons = slices.Sorted(maps.Keys(running))

	if snap.Hostname != target.Hostname {
		p.HostnameDiff = [2]string{snap.Hostname, target.Hostname}
	}
	if snap.Mailname != target.Mailname {
		p.MailnameDiff = [2]string{snap.Mailname, target.Mailname}
	}
	p.AliasesDiff = aliasesDiff(snap.Aliases, target.Aliases)
	p.Steps = p.steps(snap)
	return p
}

func (p *Plan) planAccounts(snap, target *Manifest) {
	tUserName, tUserID := map[string]User{}, map[uint32]User{}
	for _, u := range target.Users {
		if _, ok := tUserName[u.Name]; !ok {
			tUserName[u.Name] = u
		}
		if _, ok := tUserID[u.UID]; !ok {
			tUserID[u.UID] = u
		}
	}
	tGroupName, tGroupID := map[string]Group{}, map[uint32]Group{}
	for _, g := range target.Groups {
		if _, ok := tGroupName[g.Name]; !ok {
			tGroupName[g.Name] = g
		}
		if _, ok := tGroupID[g.GID]; !ok {
			tGroupID[g.GID] = g
		}
	}
	usedUID, usedGID := map[uint32]bool{}, map[uint32]bool{}
	for _, u := range slices.Concat(snap.Users, target.Users) {
		usedUID[u.UID] = true
	}
	for _, g := range slices.Concat(snap.Groups, target.Groups) {
		usedGID[g.GID] = true
	}
	ownerUID := map[uint32]bool{}
	for _, id := range snap.OwnerUIDs {
		ownerUID[id] = true
	}
	ownerGID := map[uint32]bool{}
	for _, id := range snap.OwnerGIDs {
		ownerGID[id] = true
	}

	var users []User
	seenUser := map[string]bool{}
	for _, u := range snap.Users {
		regular := u.UID >= firstRegularID && u.UID != nobodyID
		if seenUser[u.Name] || !(ownerUID[u.UID] || regular || mailAccounts[u.Name]) {
			continue
		}
		seenUser[u.Name] = true
		users = append(users, u)
	}
	wantGroup := map[string]bool{}
	for _, g := range snap.Groups {
		regular := g.GID >= firstRegularID && g.GID != nobodyID
		primary := slices.ContainsFunc(users, func(u User) bool { return u.GID == g.GID })
		member := slices.ContainsFunc(g.Members, func(m string) bool { return seenUser[m] })
		if ownerGID[g.GID] || regular || mailAccounts[g.Name] || primary || member {
			wantGroup[g.Name] = true
		}
	}
	var groups []Group
	for _, g := range snap.Groups {
		if wantGroup[g.Name] {
			groups = append(groups, g)
			delete(wantGroup, g.Name)
		}
	}
	slices.SortStableFunc(groups, func(a, b Group) int { return cmpID(a.GID, b.GID) })
	slices.SortStableFunc(users, func(a, b User) int { return cmpID(a.UID, b.UID) })

	for _, g := range groups {
		if tg, ok := tGroupName[g.Name]; ok {
			if tg.GID != g.GID {
				_, taken := tGroupID[g.GID]
				p.Conflicts = append(p.Conflicts, Conflict{
					Kind: ConflictGroupName, Name: g.Name, WantID: g.GID, HaveID: tg.GID, HaveName: tg.Name,
					Advice: nameConflictAdvice("group", "gid", "groupmod -g", g.Name, g.GID, tg.GID, taken, tGroupID[g.GID].Name),
				})
			}
			continue
		}
		if tg, ok := tGroupID[g.GID]; ok {
			g.Members = slices.Clone(g.Members)
			p.NewIDGroups = append(p.NewIDGroups, g)
			p.Conflicts = append(p.Conflicts, Conflict{
				Kind: ConflictGroupID, Name: g.Name, WantID: g.GID, HaveID: g.GID, HaveName: tg.Name,
				Advice: idConflictAdvice("group", "gid", "groupmod -g", g.Name, g.GID, tg.Name, freeID(usedGID), render(groupaddArgs(g, false))),
			})
			continue
		}
		g.Members = slices.Clone(g.Members)
		p.CreateGroups = append(p.CreateGroups, g)
	}
	for _, u := range users {
		if tu, ok := tUserName[u.Name]; ok {
			if tu.UID != u.UID {
				_, taken := tUserID[u.UID]
				p.Conflicts = append(p.Conflicts, Conflict{
					Kind: ConflictUserName, Name: u.Name, WantID: u.UID, HaveID: tu.UID, HaveName: tu.Name,
					Advice: nameConflictAdvice("user", "uid", "usermod -u", u.Name, u.UID, tu.UID, taken, tUserID[u.UID].Name),
				})
			}
			continue
		}
		if _, ok := tUserID[u.UID]; ok {
			p.NewIDUsers = append(p.NewIDUsers, u)
			continue // recorded below, once the group conflicts are known
		}
		p.CreateUsers = append(p.CreateUsers, u)
	}
	for _, u := range slices.Concat(p.CreateUsers, p.NewIDUsers) {
		for _, g := range snap.Groups {
			if g.GID != u.GID && slices.Contains(g.Members, u.Name) && !slices.Contains(p.Memberships[u.Name], g.Name) {
				if p.Memberships == nil {
					p.Memberships = map[string][]string{}
				}
				p.Memberships[u.Name] = append(p.Memberships[u.Name], g.Name)
			}
		}
	}
	// The useradd line in the advice depends on the group conflicts found
	// above, so user-id conflicts are recorded last.
	for _, u := range p.NewIDUsers {
		tu := tUserID[u.UID]
		p.Conflicts = append(p.Conflicts, Conflict{
			Kind: ConflictUserID, Name: u.Name, WantID: u.UID, HaveID: u.UID, HaveName: tu.Name,
			Advice: idConflictAdvice("user", "uid", "usermod -u", u.Name, u.UID, tu.Name, freeID(usedUID), render(p.useraddArgs(u, false))),
		})
	}
}

func cmpID(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// freeID returns the lowest regular id that neither system uses.
func freeID(used map[uint32]bool) uint32 {
	id := uint32(firstRegularID)
	for used[id] || id == nobodyID {
		id++
	}
	return id
}

// nameConflictAdvice explains a *-name conflict: the target has the account
// under another id.
func nameConflictAdvice(kind, idWord, renumber, name string, want, have uint32, wantTaken bool, takenBy string) string {
	s := fmt.Sprintf("%s %s is %s %d here but %d in the snapshot: --owner name maps them (restore with --owner name and its files get %s %d)",
		kind, name, idWord, have, want, idWord, have)
	switch {
	case want < firstRegularID:
		return s + "; a system account is best mapped, not renumbered"
	case wantTaken:
		return s + fmt.Sprintf("; renumbering it is not possible while %s %d belongs to %s here", idWord, want, takenBy)
	}
	return s + fmt.Sprintf("; or renumber it here before restoring: %s %d %s (then chown its files outside its home)", renumber, want, name)
}

// idConflictAdvice explains a *-id conflict: the target has the snapshot's
// id under another name and lacks the snapshot's name.
func idConflictAdvice(kind, idWord, renumber, name string, id uint32, haveName string, free uint32, create string) string {
	s := fmt.Sprintf("%s %d belongs to %s here: create %s %s with a free %s (%s; migrate apply does this when conflicts are allowed) and restore with --owner name",
		idWord, id, haveName, kind, name, idWord, create)
	if id < firstRegularID {
		return s + "; system ids are best mapped, not renumbered"
	}
	return s + fmt.Sprintf(", or renumber %s here first (%s %d %s, then chown its files) and plan again", haveName, renumber, free, haveName)
}

func (p *Plan) planPackages(snap, target *Manifest) {
	have := map[string]bool{}
	for _, pkg := range target.Packages {
		have[pkg.Name] = true
	}
	want := map[string]bool{}
	for _, pkg := range snap.Packages {
		if pkg.Manual && !have[pkg.Name] {
			want[pkg.Name] = true
		}
	}
	p.Packages = slices.Sorted(maps.Keys(want))
	if len(p.Packages) > 0 && target.PackageManager != "rpm" {
		p.AptLine = "apt-get install " + strings.Join(p.Packages, " ")
	}
}

func aliasesDiff(snap, target map[string]string) []string {
	names := map[string]bool{}
	for k := range snap {
		names[k] = true
	}
	for k := range target {
		names[k] = true
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(names)) {
		sv, inSnap := snap[k]
		tv, inTarget := target[k]
		switch {
		case !inTarget:
			out = append(out, fmt.Sprintf("- %s: %s", k, sv))
		case !inSnap:
			out = append(out, fmt.Sprintf("+ %s: %s", k, tv))
		case sv != tv:
			out = append(out, fmt.Sprintf("~ %s: %s -> %s", k, sv, tv))
		}
	}
	return out
}

// steps builds the ordered checklist.
func (p *Plan) steps(snap *Manifest) []string {
	var s []string
	add := func(format string, args ...any) { s = append(s, fmt.Sprintf(format, args...)) }

	add("Lower the TTL of the MX record (and the A/AAAA records it names) to 300 seconds now, 24-48 hours before the switch, so the move takes effect quickly; the old server keeps receiving mail until then")
	if len(p.RunningMailDaemons) > 0 {
		add("Stop the mail daemons running here and keep them stopped until /var/mail and the Maildirs are restored: systemctl stop %s", strings.Join(p.RunningMailDaemons, " "))
	}
	for i, cmd := range p.GroupaddCommands() {
		add("Create group %s with its gid from the snapshot: %s", p.CreateGroups[i].Name, cmd)
	}
	for i, cmd := range p.UseraddCommands() {
		add("Create user %s with its uid from the snapshot (the restore brings its home): %s", p.CreateUsers[i].Name, cmd)
	}
	for _, c := range p.Conflicts {
		add("Resolve conflict %s %s: %s", c.Kind, c.Name, c.Advice)
	}
	if p.AptLine != "" {
		add("Install the manually installed packages missing here (after the accounts, so their scripts reuse the ids above): %s", p.AptLine)
		var started []string
		for _, mc := range mailComponents {
			if slices.ContainsFunc(p.Packages, func(n string) bool {
				return slices.Contains(mc.packages, n) || strings.HasPrefix(n, mc.name+"-")
			}) {
				started = append(started, mc.name)
			}
		}
		if len(started) > 0 {
			add("Installing the packages starts %s; stop it again before restoring: systemctl stop %s", strings.Join(started, ", "), strings.Join(started, " "))
		}
	} else if len(p.Packages) > 0 {
		add("Install the packages missing here with the target's package manager: %s", strings.Join(p.Packages, " "))
	}
	owner := "numeric"
	if len(p.Conflicts) > 0 {
		owner = "name"
	}
	add("Restore the snapshot, without the account files the steps above already made right: godwit restore SNAPSHOT --target / --owner %s %s", owner, accountExcludes)
	if orphans := orphanIDs(snap); orphans != "" {
		add("Files owned by %s have no account in the snapshot; they are restored with their numeric ids", orphans)
	}
	if p.HostnameDiff != [2]string{} {
		add("The hostname differs (snapshot %q, here %q): hostnamectl set-hostname %s", p.HostnameDiff[0], p.HostnameDiff[1], shellQuote(p.HostnameDiff[0]))
	}
	if p.MailnameDiff != [2]string{} {
		add("The mailname differs (snapshot %q, here %q); restoring /etc/mailname fixes it, or: echo %s > /etc/mailname", p.MailnameDiff[0], p.MailnameDiff[1], shellQuote(p.MailnameDiff[0]))
	}
	if len(p.AliasesDiff) > 0 {
		add("/etc/aliases differs in %d entries (- only in the snapshot, + only here); after restoring or merging it: newaliases", len(p.AliasesDiff))
	}
	daemons := map[string]bool{}
	for _, ms := range snap.Mail {
		daemons[ms.Name] = true
	}
	for _, d := range p.RunningMailDaemons {
		daemons[d] = true
	}
	if len(daemons) > 0 {
		names := slices.Sorted(maps.Keys(daemons))
		add("Start the mail daemons: systemctl start %s", strings.Join(names, " "))
		checks := []string{}
		for _, d := range names {
			checks = append(checks, verifyCommand[d])
		}
		add("Verify: %s; ls -ln /var/mail; send a test message and read it over IMAP", strings.Join(checks, "; "))
	} else {
		add("Verify: ls -ln /var/mail /home; compare with the old server")
	}
	add("Point the MX record at this server; raise the TTL again once mail arrives here")
	return s
}

var verifyCommand = map[string]string{
	"postfix":  "postfix check",
	"exim4":    "exim4 -bV",
	"sendmail": "sendmail -d0.1 -bv root",
	"dovecot":  "doveconf -n >/dev/null",
}

// orphanIDs lists the owner ids without an account in the snapshot.
func orphanIDs(snap *Manifest) string {
	var out []string
	for _, id := range snap.OwnerUIDs {
		if !slices.ContainsFunc(snap.Users, func(u User) bool { return u.UID == id }) {
			out = append(out, "uid "+strconv.FormatUint(uint64(id), 10))
		}
	}
	for _, id := range snap.OwnerGIDs {
		if !slices.ContainsFunc(snap.Groups, func(g Group) bool { return g.GID == id }) {
			out = append(out, "gid "+strconv.FormatUint(uint64(id), 10))
		}
	}
	return strings.Join(out, ", ")
}
