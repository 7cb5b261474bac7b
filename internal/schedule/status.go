package schedule

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// StatusDir is where the backup of a profile records its last run on the
// running system; under another root it is StatusDirIn(root).
const StatusDir = "/var/lib/godwit/status"

// StatusDirIn returns StatusDir under the system root root.
func StatusDirIn(root string) string { return filepath.Join(root, StatusDir) }

// Status is the outcome of one backup run of a profile, stored as JSON in
// DIR/<profile>.json.
type Status struct {
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	ExitCode   int       `json:"exit_code"`             // the process exit code: 0, 3 (incomplete) or an error code
	SnapshotID string    `json:"snapshot_id,omitempty"` // empty when no snapshot was written
	Error      string    `json:"error,omitempty"`       // the error message of a failed run
}

// Result summarizes the run in one word: "ok" (exit 0), "incomplete"
// (exit 3: the snapshot was written but some files could not be read) or
// "failed".
func (s Status) Result() string {
	switch s.ExitCode {
	case 0:
		return "ok"
	case 3:
		return "incomplete"
	}
	return "failed"
}

// WriteStatus atomically replaces the status file of profile in dir,
// creating dir (mode 0700) when needed. The file has mode 0600. Concurrent
// writers for one profile leave one complete file, the last to rename.
func WriteStatus(dir, profile string, st Status) error {
	if err := ValidateProfile(profile); err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return writeAtomic(filepath.Join(dir, profile+".json"), append(b, '\n'), 0o600)
}

// ReadStatus reads the status file of profile in dir. When the profile has
// never recorded a run the error wraps fs.ErrNotExist.
func ReadStatus(dir, profile string) (Status, error) {
	if err := ValidateProfile(profile); err != nil {
		return Status{}, err
	}
	path := filepath.Join(dir, profile+".json")
	b, err := os.ReadFile(path)
	if err != nil {
		return Status{}, fmt.Errorf("read status: %w", err)
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return Status{}, fmt.Errorf("read status %s: %w", path, err)
	}
	return st, nil
}

// writeAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, so readers see the old or the new file, whole.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
