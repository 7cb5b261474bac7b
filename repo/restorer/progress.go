package restorer

// Progress is told what a restore has done. Its methods must be cheap and
// must not block; AddFiles, AddBytes and Current are called from several
// goroutines at once.
type Progress interface {
	// SetTotal gives the regular files and their bytes, once the walk
	// of the snapshot's trees is done and before contents are written.
	SetTotal(files, bytes uint64)
	// AddFiles counts regular files done: written, skipped as already
	// complete, or failed.
	AddFiles(n uint64)
	// AddBytes counts content bytes written, or found already complete.
	AddBytes(n uint64)
	// Current names (as a path in the snapshot) a file being written.
	Current(path string)
}

type noProgress struct{}

func (noProgress) SetTotal(uint64, uint64) {}
func (noProgress) AddFiles(uint64)         {}
func (noProgress) AddBytes(uint64)         {}
func (noProgress) Current(string)          {}
