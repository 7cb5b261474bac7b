package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/godwit-backup/godwit/repo"
)

// knownReposPath is the file that pins repository fingerprints, like
// SSH's known_hosts: one line per location, "location<TAB>id<TAB>fingerprint".
func (e *env) knownReposPath() string {
	if p := e.getenv("GODWIT_KNOWN_REPOSITORIES"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = filepath.Join(os.Getenv("HOME"), ".config")
	}
	return filepath.Join(dir, "godwit", "known_repositories")
}

type pinEntry struct{ id, fingerprint string }

func readPins(path string) (map[string]pinEntry, error) {
	pins := map[string]pinEntry{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return pins, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) != 3 || strings.HasPrefix(parts[0], "#") {
			continue
		}
		pins[parts[0]] = pinEntry{parts[1], parts[2]}
	}
	return pins, sc.Err()
}

func writePins(path string, pins map[string]pinEntry) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# godwit repository fingerprints: location, repository id, fingerprint\n")
	for loc, p := range pins {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", loc, p.id, p.fingerprint)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// checkPin compares the repository's fingerprint with the one pinned for
// its location, pinning it on first use. A change is an error unless the
// user passed the new fingerprint with --accept-fingerprint.
func (e *env) checkPin(location string, r *repo.Repository) error {
	path := e.knownReposPath()
	pins, err := readPins(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	fp := r.Keys().Fingerprint()
	id := r.Config().ID
	old, known := pins[location]
	if known && old.id == id && old.fingerprint == fp {
		return nil
	}
	if known && e.acceptFP != fp {
		return fmt.Errorf("the repository at %s has changed: pinned fingerprint %s (id %s), now %s (id %s).\n"+
			"Someone may have replaced its keys or config. If the owner changed them on purpose, verify the new fingerprint\n"+
			"with `godwit key list` on the owner's machine and run again with --accept-fingerprint %s",
			location, old.fingerprint, old.id, fp, id, fp)
	}
	pins[location] = pinEntry{id, fp}
	if err := writePins(path, pins); err != nil {
		return fmt.Errorf("pin fingerprint in %s: %w", path, err)
	}
	if !known && e.verbose {
		e.info("pinned repository fingerprint %s for %s\n", fp, location)
	}
	return nil
}

// pinNew records the fingerprint of a repository just created.
func (e *env) pinNew(location string, r *repo.Repository) error {
	path := e.knownReposPath()
	pins, err := readPins(path)
	if err != nil {
		return err
	}
	pins[location] = pinEntry{r.Config().ID, r.Keys().Fingerprint()}
	return writePins(path, pins)
}
