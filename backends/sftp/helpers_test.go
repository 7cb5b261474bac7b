package sftp

import (
	"errors"
	"io"

	"github.com/godwit-backup/godwit/backends"
)

var errUnexpectedEOFForTest = io.ErrUnexpectedEOF

func isPermanent(err error) bool { return errors.Is(err, backends.ErrPermanent) }
