// Package testdb gives the tests of the packages above the store a fresh,
// empty database of each backend, so that every such suite runs on SQLite
// and PostgreSQL alike. Whether PostgreSQL may be skipped is pgtest's
// rule (never under CI=true).
package testdb

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/postgres"
	"github.com/vhdir/vhdir/internal/store/postgres/pgtest"
	"github.com/vhdir/vhdir/internal/store/sqlite"
)

// Backend is one store backend.
type Backend struct {
	Name string
	// New creates a fresh, empty database, removed when the test ends, and
	// returns its address (a file path, or a postgres:// URL).
	New func(t testing.TB) string
	// Open opens a handle on a database New made (another handle on the
	// same database is another node, or a restart). The caller closes it.
	Open func(t testing.TB, addr string) store.Store
	// Raw opens a plain database/sql handle on it, for tests that work on
	// the database behind the store's back. The caller closes it.
	Raw func(t testing.TB, addr string) *sql.DB
}

// Fresh opens a handle on a new database.
func (b Backend) Fresh(t testing.TB) store.Store { return b.Open(t, b.New(t)) }

// All are the backends, SQLite first.
var All = []Backend{
	{
		Name: "sqlite",
		New:  func(t testing.TB) string { return filepath.Join(t.TempDir(), "vhdir.db") },
		Open: func(t testing.TB, path string) store.Store {
			t.Helper()
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Raw: func(t testing.TB, path string) *sql.DB {
			t.Helper()
			return sqlite.OpenRaw(path)
		},
	},
	{
		Name: "postgres",
		New:  pgtest.NewDatabase,
		Open: func(t testing.TB, url string) store.Store {
			t.Helper()
			s, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Raw: func(t testing.TB, url string) *sql.DB {
			t.Helper()
			db, err := sql.Open("pgx", url)
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
	},
}
