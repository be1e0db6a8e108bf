package postgres_test

import (
	"context"
	"testing"

	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/postgres"
	"github.com/vhdir/vhdir/internal/store/postgres/pgtest"
	"github.com/vhdir/vhdir/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() store.Store {
		url := pgtest.NewDatabase(t)
		return func() store.Store {
			db, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return db
		}
	})
}

// TestExportDir: with Options.ExportDir the export files live in a folder
// (shared by the nodes) and the export part of the suite passes the same.
func TestExportDir(t *testing.T) {
	storetest.RunExport(t, func(t *testing.T) func() store.Store {
		url := pgtest.NewDatabase(t)
		dir := t.TempDir()
		return func() store.Store {
			db, err := postgres.OpenWith(context.Background(), url, postgres.Options{ExportDir: dir})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return db
		}
	})
}

// BenchmarkSnapshotScan: go test -run '^$' -bench SnapshotScan ./internal/store/postgres
func BenchmarkSnapshotScan(b *testing.B) {
	db, err := postgres.Open(context.Background(), pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchSnapshotScan(b, db, 50_000)
}
