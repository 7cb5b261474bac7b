package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// filesPerDir is how many files share a directory in -files mode.
const filesPerDir = 1000

// generateFiles writes n small text files under out/files, filesPerDir to a
// directory, in directories files/<i/100000>/<i/1000 % 100>. File i's content
// and mtime depend only on seed and i.
func generateFiles(out string, n int, seed uint64) error {
	if err := ensureEmpty(out); err != nil {
		return err
	}
	dirs := (n + filesPerDir - 1) / filesPerDir
	return parallel(dirs, func(d int) error {
		first := d * filesPerDir
		dir := filepath.Join(out, "files", fmt.Sprintf("%02d", first/100000), fmt.Sprintf("%02d", first/filesPerDir%100))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		var buf []byte
		for i := first; i < min(first+filesPerDir, n); i++ {
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			buf = text(buf[:0], r, logNormal(r, 700, 0.8, 16, 64<<10))
			p := filepath.Join(dir, fmt.Sprintf("%07d.txt", i))
			if err := os.WriteFile(p, buf, 0o644); err != nil {
				return err
			}
			t := time.Unix(baseEnd-int64(i), 0)
			if err := os.Chtimes(p, t, t); err != nil {
				return err
			}
		}
		return nil
	})
}
