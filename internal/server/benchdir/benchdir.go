// Package benchdir owns the benchmarks' generated directory: `vhdir gen
// --practitioners N` (about 5.2 resources per practitioner), generated
// once into VHDIR_BENCH_DIR (default $TMPDIR/vhdir-bench) and loaded once
// per backend as `vhdir load` loads it (each batch with its Provenance and
// audit record), kept for later runs: an SQLite file there, and the
// PostgreSQL database vhdir_bench_v<Version>_p<N>. Only benchmarks use it.
package benchdir

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the admin connection that creates the kept database

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/gen"
	"github.com/vhdir/vhdir/internal/load"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/postgres"
	"github.com/vhdir/vhdir/internal/store/postgres/pgtest"
	"github.com/vhdir/vhdir/internal/store/sqlite"
)

// Version names the loaded databases: a change to what writes store
// (index rows, restriction rows) bumps it, so that no run measures a
// database loaded by older code.
const Version = 3

// Dir is where generated files and SQLite databases are kept.
func Dir() string {
	if d := os.Getenv("VHDIR_BENCH_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "vhdir-bench")
}

// Generated returns the folder of the generated files of n practitioners,
// generating them once.
func Generated(b testing.TB, n int) string {
	dir := filepath.Join(Dir(), fmt.Sprintf("gen-p%d", n))
	done := dir + ".done"
	if _, err := os.Stat(done); err == nil {
		return dir
	}
	sum, err := gen.Run(context.Background(), gen.Config{Practitioners: n, Seed: 1, Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d resources in %s", sum.Total(), sum.Duration)
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// Open opens the loaded directory of n practitioners on a backend
// ("sqlite" or "postgres"), loading it first when the cache lacks it.
// The caller closes it.
func Open(b testing.TB, backend string, n int) store.Store {
	ctx := context.Background()
	var st store.Store
	var marker func() bool
	var mark func()
	switch backend {
	case "sqlite":
		path := filepath.Join(Dir(), fmt.Sprintf("sqlite-v%d-p%d.db", Version, n))
		if _, err := os.Stat(path + ".done"); err != nil {
			os.Remove(path)
			os.Remove(path + "-wal")
			os.Remove(path + "-shm")
		}
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		st = s
		marker = func() bool { _, err := os.Stat(path + ".done"); return err == nil }
		mark = func() { os.WriteFile(path+".done", nil, 0o644) }
	case "postgres":
		s, err := postgres.Open(ctx, PostgresURL(b, PostgresName(n)))
		if err != nil {
			b.Fatal(err)
		}
		st = s
		pool := s.WritePool()
		marker = func() bool {
			var ok bool
			return pool.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'bench_loaded')").Scan(&ok) == nil && ok
		}
		mark = func() {
			pool.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS bench_loaded (at TIMESTAMPTZ)")
			pool.ExecContext(ctx, "VACUUM ANALYZE")
		}
	default:
		b.Fatalf("benchdir: no backend %q", backend)
	}
	if !marker() {
		load1(b, st, backend, n)
		mark()
	}
	return st
}

// load1 loads the generated files into st as vhdir load does, by an
// operator.
func load1(b testing.TB, st store.Store, backend string, n int) {
	ctx := context.Background()
	files := Generated(b, n)
	srv, err := server.New(server.Config{Store: st, Clock: clock.System{}, Version: "bench", BaseURL: "https://bench.example", ProfileValidation: profile.Warn})
	if err != nil {
		b.Fatal(err)
	}
	var paths []string
	for _, t := range gen.Types() {
		paths = append(paths, filepath.Join(files, t+".ndjson"))
	}
	sum, err := load.Run(server.AsOperator(ctx, "bench", "load"), srv.LoadConfig(), paths)
	if err != nil {
		b.Fatalf("load: %v", err)
	}
	if len(sum.Problems) > 0 {
		b.Fatalf("load: %v", sum.Problems[:min(3, len(sum.Problems))])
	}
	b.Logf("%s: loaded %d resources in %s (%.0f/s)", backend, sum.Total(), sum.Duration.Round(time.Second), float64(sum.Total())/sum.Duration.Seconds())
}

// PostgresName is the kept PostgreSQL database of n practitioners.
func PostgresName(n int) string { return fmt.Sprintf("vhdir_bench_v%d_p%d", Version, n) }

// PostgresURL returns the URL of a kept benchmark database, creating it;
// without PostgreSQL the benchmark is skipped.
func PostgresURL(b testing.TB, name string) string {
	admin := os.Getenv("VHDIR_TEST_POSTGRES")
	if admin == "" {
		admin = pgtest.DefaultURL
	}
	db, err := sql.Open("pgx", admin)
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		b.Skipf("no PostgreSQL: %v", err)
	}
	defer db.Close()
	var exists bool
	db.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if !exists {
		if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
			b.Fatal(err)
		}
	}
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}
