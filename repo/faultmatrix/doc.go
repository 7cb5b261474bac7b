// Package faultmatrix runs backup, restore, forget+prune and check against
// a fault-injecting backend under many seeded fault schedules, and checks
// after each run what godwit promises: the operation either succeeded or
// reported an error that names the failure, check passes, every snapshot
// reported written restores bit-identical, nothing written before is
// missing, and the next clean run succeeds.
//
// The package holds only tests. It drives the operations through the
// library packages (repo, archiver, restorer, forget, prune, check) the way
// the command line does, on an in-memory backend, with and without the
// retry wrapper that every real remote has. See the "Fault matrix" section
// of docs/reliability.md for how to run it and what it found.
package faultmatrix
