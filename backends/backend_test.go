package backends_test

import (
	"context"
	"errors"
	"testing"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/mem"
)

func TestLoadAllRefusesObjectsLargerThanTheirTypeAllows(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	h := backends.Handle{Type: backends.ConfigFile}
	limit := backends.MaxObjectSize(backends.ConfigFile)
	if err := be.Save(ctx, h, make([]byte, limit)); err != nil {
		t.Fatal(err)
	}
	if data, err := backends.LoadAll(ctx, be, h); err != nil || int64(len(data)) != limit {
		t.Fatalf("an object of exactly the limit: %d bytes, %v", len(data), err)
	}
	if err := be.Save(ctx, h, make([]byte, limit+1)); err != nil {
		t.Fatal(err)
	}
	if _, err := backends.LoadAll(ctx, be, h); !errors.Is(err, backends.ErrTooLarge) {
		t.Fatalf("an object one byte over the limit: %v", err)
	}
}
