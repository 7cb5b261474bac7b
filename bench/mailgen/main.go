package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mailgen:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mailgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "output `DIR` (must be empty when generating)")
	sizeFlag := fs.String("size", "200MiB", "approximate corpus `SIZE` (bytes, or with KiB, MiB, GiB)")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same tree")
	doMutate := fs.Bool("mutate", false, "simulate one day of mail on an existing corpus in -out")
	files := fs.Int("files", 0, "instead of mail, write `N` small files (for scale tests)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("usage: mailgen -out DIR [-size SIZE | -files N | -mutate] [-seed N]")
	}
	start := time.Now()
	switch {
	case *doMutate && *files > 0:
		return fmt.Errorf("-mutate and -files cannot be combined")
	case *doMutate:
		st, err := mutate(*out, *seed)
		if err != nil {
			return fmt.Errorf("mutate: %w", err)
		}
		fmt.Fprintf(stderr, "mailgen: one day in %s: %s (%.1fs)\n", *out, st, time.Since(start).Seconds())
	case *files > 0:
		if err := generateFiles(*out, *files, *seed); err != nil {
			return fmt.Errorf("files: %w", err)
		}
		fmt.Fprintf(stderr, "mailgen: %d files in %s (%.1fs)\n", *files, *out, time.Since(start).Seconds())
	default:
		size, err := parseSize(*sizeFlag)
		if err != nil {
			return err
		}
		if err := generate(*out, size, *seed); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		fmt.Fprintf(stderr, "mailgen: corpus of %s in %s (%.1fs)\n", *sizeFlag, *out, time.Since(start).Seconds())
	}
	return nil
}

// parseSize reads a byte count with an optional unit: K, KB, KiB, M, MB, MiB,
// G, GB, GiB (all binary multiples), case-insensitive.
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q: want a positive number of bytes, e.g. 200MiB or 1GiB", s)
	}
	return int64(n * float64(mult)), nil
}
