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

// BenchmarkSnapshotScan: go test -run '^$' -bench SnapshotScan ./internal/store/sqlite
func BenchmarkSnapshotScan(b *testing.B) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "vhdir.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchSnapshotScan(b, db, 50_000)
}
