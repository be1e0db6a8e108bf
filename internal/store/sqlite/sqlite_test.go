package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/sqlite"
	"github.com/vhdir/vhdir/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() store.Store {
		path := filepath.Join(t.TempDir(), "sub dir", "vhdir.db")
		return func() store.Store {
			db, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return db
		}
	})
}
