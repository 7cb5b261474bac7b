package sysinfo

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ManifestVersion is the version of the manifest encoding written by Marshal.
// Unmarshal accepts this version only.
const ManifestVersion = 1

// ErrVersion is wrapped by Unmarshal when a manifest has no version or a
// version this package does not know.
var ErrVersion = errors.New("unsupported manifest version")

// User is one account from /etc/passwd.
type User struct {
	Name  string `json:"name"`
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
	Gecos string `json:"gecos,omitempty"`
	Home  string `json:"home,omitempty"`
	Shell string `json:"shell,omitempty"`
}

// Group is one group from /etc/group. Members lists the supplementary
// members only; a user whose primary group this is need not be listed.
type Group struct {
	Name    string   `json:"name"`
	GID     uint32   `json:"gid"`
	Members []string `json:"members,omitempty"`
}

// Package is one installed package. Manual reports whether it was installed
// explicitly rather than as a dependency (apt's extended_states); it is
// always false for RPM systems, which record no such flag.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Arch    string `json:"arch,omitempty"`
	Manual  bool   `json:"manual,omitempty"`
}

// MailStack is one mail server component found on the system: "postfix",
// "exim4", "sendmail" or "dovecot". Version is the package version, or empty
// when only the binary was found.
type MailStack struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// Manifest describes a system at the time of a snapshot. The zero value of
// every field means "not found". A Manifest is plain data: it is safe to read
// concurrently but not to modify concurrently.
type Manifest struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`

	Hostname string `json:"hostname,omitempty"`
	FQDN     string `json:"fqdn,omitempty"`
	Mailname string `json:"mailname,omitempty"`

	OSRelease map[string]string `json:"os_release,omitempty"`

	// PackageManager is "dpkg", "rpm" or "" when neither was found.
	PackageManager string    `json:"package_manager,omitempty"`
	Packages       []Package `json:"packages,omitempty"`

	Users  []User  `json:"users,omitempty"`
	Groups []Group `json:"groups,omitempty"`

	// OwnerUIDs and OwnerGIDs are the ids owning at least one file in the
	// snapshot. Collect leaves them empty; the backup fills them in.
	OwnerUIDs []uint32 `json:"owner_uids,omitempty"`
	OwnerGIDs []uint32 `json:"owner_gids,omitempty"`

	EnabledUnits []string    `json:"enabled_units,omitempty"`
	Mail         []MailStack `json:"mail,omitempty"`

	// RunningMail lists the mail daemons seen running in /proc. Collect fills
	// it only for the running system (root "/").
	RunningMail []string `json:"running_mail,omitempty"`

	// Aliases is /etc/aliases parsed: alias name → right-hand side, with
	// continuation lines joined by a single space.
	Aliases map[string]string `json:"aliases,omitempty"`
}

// Marshal encodes m as JSON with the current ManifestVersion. It fails if m
// carries a version other than 0 (unset) or ManifestVersion.
func (m *Manifest) Marshal() ([]byte, error) {
	if m.Version != 0 && m.Version != ManifestVersion {
		return nil, fmt.Errorf("marshal manifest: %w %d", ErrVersion, m.Version)
	}
	c := *m
	c.Version = ManifestVersion
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("marshal manifest: %w", err)
	}
	return b, nil
}

// Unmarshal decodes a manifest written by Marshal. A missing version or one
// other than ManifestVersion is an error wrapping ErrVersion; the version is
// checked before the rest of the document is decoded, so a newer manifest is
// reported as such rather than as a malformed one.
func Unmarshal(data []byte) (*Manifest, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("unmarshal manifest: %w", err)
	}
	switch {
	case head.Version == nil:
		return nil, fmt.Errorf("unmarshal manifest: %w: no version", ErrVersion)
	case *head.Version > ManifestVersion:
		return nil, fmt.Errorf("unmarshal manifest: %w %d (newer than %d; upgrade godwit)", ErrVersion, *head.Version, ManifestVersion)
	case *head.Version != ManifestVersion:
		return nil, fmt.Errorf("unmarshal manifest: %w %d", ErrVersion, *head.Version)
	}
	m := new(Manifest)
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("unmarshal manifest: %w", err)
	}
	return m, nil
}
