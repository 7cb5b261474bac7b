// Package walker reads the trees of snapshots for the inspection commands:
// the differences between two trees (Diff), the entries whose names match
// glob patterns across many snapshots (Finder), and the size accounting
// behind stats (Counter, CountIndex).
//
// It reads trees through the one-method TreeLoader interface and blob
// locations through Locator, so it knows nothing of encryption, backends
// or the command line. Reading trees needs the data key; CountIndex alone
// works from the index, which a write key can read.
package walker
