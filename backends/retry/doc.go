// Package retry wraps a backends.Backend and retries calls that fail with
// transient errors (a dropped connection, a server busy for a moment),
// waiting with exponential backoff and jitter between attempts.
//
// Errors no retry can fix are returned at once: a cancelled or expired
// context, a missing object (fs.ErrNotExist), an object that already
// exists (fs.ErrExist), a permission error (fs.ErrPermission), anything
// wrapping backends.ErrPermanent, an invalid handle or range, and a Load of
// a range past the end of its object. Every other error is taken to be
// transient.
//
// Because a failed call may still have reached the server, a retry can meet
// the effect of its own earlier attempt. New documents how each such case
// is resolved: a Save that finds exactly its data already stored reports
// success, a Remove that finds the object gone reports success, and a List
// reports each object once however often it is restarted.
//
// The package knows only the backends interface; it never interprets the
// objects it passes through.
package retry
