// Package faulty wraps a backends.Backend and injects the failures real
// storage produces: transient and permanent errors, slow calls, a Load whose
// stream is cut short, a List that stops part way, and a connection that
// drops after the server has acted (a Save that stored the object, a Remove
// that removed it, and still an error for the caller).
//
// It exists for tests: of the retry wrapper, of the packages above the
// backend layer (that a crash or a dropped connection never loses data
// silently), and of the conformance suite itself. A Plan decides, for each
// call, which fault to inject; FailNth scripts a single fault and Seeded
// gives a reproducible pseudo-random schedule.
//
// The package knows only the backends interface; it never interprets the
// objects it passes through.
package faulty
