package main

import (
	"errors"
	"io/fs"

	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
)

// Exit codes, documented in the root command's help and the README.
const (
	exitOK         = 0
	exitError      = 1
	exitUsage      = 2
	exitIncomplete = 3
	exitNoRepo     = 10
	exitLocked     = 11
	exitNoKey      = 12
)

const exitCodesHelp = `Exit codes:
  0   success
  1   error
  2   usage error (unknown command or flag, missing argument)
  3   backup written, but some files could not be read completely
  10  repository does not exist
  11  repository is locked by another process
  12  wrong passphrase, or no matching identity or key`

// usageError marks errors in how godwit was called.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// errNoRepository marks a repository location with no repository.
var errNoRepository = errors.New("repository does not exist")

// errIncomplete is returned by backup when the snapshot was written but
// some files could not be read; the warnings were printed already.
var errIncomplete = errors.New("backup incomplete")

func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, errIncomplete):
		return exitIncomplete
	case errors.Is(err, errNoRepository):
		return exitNoRepo
	case errors.Is(err, repo.ErrLocked):
		return exitLocked
	case errors.Is(err, crypto.ErrNoMatchingKey):
		return exitNoKey
	case errors.Is(err, fs.ErrNotExist) && errors.Is(err, errNoRepository):
		return exitNoRepo
	}
	return exitError
}
