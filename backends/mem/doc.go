// Package mem is a backend that keeps objects in memory, for unit tests of
// the packages above the backend layer. It has the semantics every backend
// must have (atomic saves, no overwriting except config, fs.ErrNotExist for
// missing objects, io.ErrUnexpectedEOF for ranges past the end) and passes
// the same conformance suite, but nothing it stores survives the process.
//
// The package knows nothing of the repository format.
package mem
