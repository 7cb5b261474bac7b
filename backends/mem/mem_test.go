package mem_test

import (
	"testing"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/backendtest"
	"github.com/godwit-backup/godwit/backends/mem"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend { return mem.New() })
}
