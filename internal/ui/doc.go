// Package ui reports the progress of long operations (backup, restore,
// prune, check) to a person at a terminal or to a script reading JSON
// lines.
//
// Operations update a Progress from their hot paths with atomic counters;
// a Reporter samples those counters on a ticker and draws one status line
// on the terminal, or writes one JSON status object per line. Warnings go
// through the Reporter so that the status line is cleared before they are
// printed and drawn again after.
//
// The package knows nothing of repositories; it is used by the command
// line only.
package ui
