package metrics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Run is the outcome of one backup run.
type Run struct {
	// Profile labels every sample; "" for a run without a profile.
	Profile string
	// Start and End bound the run, hooks and maintenance included.
	Start, End time.Time
	// Success is true when the run wrote a snapshot; End then becomes the
	// last success time.
	Success  bool
	ExitCode int
	// AddedBytes, Files and Errors come from the snapshot's summary;
	// zero when no snapshot was written.
	AddedBytes uint64
	Files      uint64
	Errors     uint64
}

// The metric names, in the order they are written.
const (
	LastSuccess = "godwit_backup_last_success_timestamp_seconds"
	Duration    = "godwit_backup_duration_seconds"
	AddedBytes  = "godwit_backup_added_bytes"
	Files       = "godwit_backup_files"
	Errors      = "godwit_backup_errors"
	ExitCode    = "godwit_backup_exit_code"
)

var metrics = []struct{ name, help string }{
	{LastSuccess, "Unix time at which the last backup run that wrote a snapshot ended (0: never)."},
	{Duration, "Duration of the last backup run in seconds, hooks and maintenance included."},
	{AddedBytes, "Bytes of new data the last backup run added, before compression."},
	{Files, "Files in the snapshot of the last backup run."},
	{Errors, "Files the last backup run could not read completely."},
	{ExitCode, "Exit code of the last backup run (0 success, 3 incomplete, others failure)."},
}

// samples maps metric name → profile label → value.
type samples map[string]map[string]float64

// Write records run in the file at path: it reads the file's current
// samples (a missing or unparsable file counts as empty), replaces those
// of run.Profile, keeps the previous last success time when run failed,
// and writes the result to a temporary file in the same directory that
// is then renamed over path, with mode 0644. Write is not safe for
// concurrent use on the same path by several processes: the last rename
// wins.
func Write(path string, run Run) error {
	s, err := read(path)
	if err != nil {
		return err
	}
	set := func(name string, v float64) {
		if s[name] == nil {
			s[name] = map[string]float64{}
		}
		s[name][run.Profile] = v
	}
	if run.Success {
		set(LastSuccess, unixSeconds(run.End))
	} else if _, ok := s[LastSuccess][run.Profile]; !ok {
		set(LastSuccess, 0)
	}
	set(Duration, run.End.Sub(run.Start).Seconds())
	set(AddedBytes, float64(run.AddedBytes))
	set(Files, float64(run.Files))
	set(Errors, float64(run.Errors))
	set(ExitCode, float64(run.ExitCode))
	return writeAtomic(path, s.format())
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}

// LastSuccessTime returns the last success time of profile recorded in
// the file at path; ok is false when the file or the sample is missing.
func LastSuccessTime(path, profile string) (t time.Time, ok bool, err error) {
	s, err := read(path)
	if err != nil {
		return time.Time{}, false, err
	}
	v, ok := s[LastSuccess][profile]
	if !ok || v == 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(int64(v * 1000)), true, nil
}

// read returns the samples of our metrics in the file at path, or none
// when it does not exist. Lines it does not understand are skipped: the
// file is rewritten from what it understood.
func read(path string) (samples, error) {
	s := samples{}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read metrics file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, profile, v, ok := parseSample(sc.Text())
		if !ok || !known(name) {
			continue
		}
		if s[name] == nil {
			s[name] = map[string]float64{}
		}
		s[name][profile] = v
	}
	return s, nil
}

func known(name string) bool {
	for _, m := range metrics {
		if m.name == name {
			return true
		}
	}
	return false
}

// parseSample parses a line `name{profile="..."} value` as format writes
// it.
func parseSample(line string) (name, profile string, v float64, ok bool) {
	name, rest, found := strings.Cut(line, `{profile="`)
	if !found || strings.HasPrefix(line, "#") {
		return "", "", 0, false
	}
	var b strings.Builder
	i := 0
	for ; i < len(rest) && rest[i] != '"'; i++ {
		if rest[i] == '\\' && i+1 < len(rest) {
			i++
			switch rest[i] {
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(rest[i])
			}
			continue
		}
		b.WriteByte(rest[i])
	}
	value, found := strings.CutPrefix(rest[min(i, len(rest)):], `"} `)
	if !found {
		return "", "", 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil {
		return "", "", 0, false
	}
	return name, b.String(), v, true
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func (s samples) format() []byte {
	var b bytes.Buffer
	for _, m := range metrics {
		if len(s[m.name]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", m.name, m.help, m.name)
		for _, p := range slices.Sorted(maps.Keys(s[m.name])) {
			fmt.Fprintf(&b, "%s{profile=\"%s\"} %s\n", m.name, escapeLabel(p), strconv.FormatFloat(s[m.name][p], 'f', -1, 64))
		}
	}
	return b.Bytes()
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write metrics file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write metrics file: %w", err)
	}
	return nil
}
