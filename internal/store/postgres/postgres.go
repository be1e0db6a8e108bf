// Package postgres is the store backend for a national directory: PostgreSQL
// 13+ through pgx/v5, shared by any number of stateless vhdir nodes. Races
// between nodes are settled by the database: row locks (SELECT … FOR
// UPDATE) for updates, a unique index for creates, advisory transaction
// locks for conditional creates and a migration lock at start.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key that serializes migrations when
// several nodes start at once.
const migrationLock = 0x76686469725f6d67 // "vhdir_mg"

var dialect = &sqlstore.Dialect{
	Name:              "postgres",
	Placeholder:       func(n int) string { return "$" + strconv.Itoa(n) },
	InsertPlaceholder: func(n int) string { return "$" + strconv.Itoa(n) },
	InsertIndexRows:   "INSERT INTO",
	SQL: sqlstore.Statements{
		CurrentByKey:           `SELECT rid, version, seq, last_updated, deleted, idx_tables, guard, restricted, body FROM resources WHERE type = $1 AND id = $2`,
		CurrentByKeyForUpdate:  `SELECT rid, version, seq, last_updated, deleted, idx_tables, guard, restricted, body FROM resources WHERE type = $1 AND id = $2 FOR UPDATE`,
		HistoryVersion:         `SELECT h.version, h.seq, h.last_updated, h.deleted, h.guard, h.restricted, h.body FROM resources r JOIN resource_history h ON h.rid = r.rid WHERE r.type = $1 AND r.id = $2 AND h.version = $3`,
		InsertResource:         `INSERT INTO resources (type, id, version, seq, last_updated, deleted, idx_tables, guard, restricted, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING rid`,
		ArchiveCurrent:         `INSERT INTO resource_history (rid, type, id, version, seq, last_updated, deleted, guard, restricted, body) SELECT rid, type, id, version, seq, last_updated, deleted, guard, restricted, body FROM resources WHERE rid = $1`,
		UpdateResource:         `UPDATE resources SET version = $1, seq = $2, last_updated = $3, deleted = $4, idx_tables = $5, guard = $6, restricted = $7, body = $8 WHERE rid = $9`,
		ReserveSeqs:            `SELECT nextval('version_seq') FROM generate_series(1, $1)`,
		ForUpdate:              ` FOR UPDATE`,
		InsertGroups:           `INSERT INTO param_groups (param, grp) VALUES `,
		InsertGroupsEnd:        ` ON CONFLICT DO NOTHING`,
		InsertGuardedGroups:    `INSERT INTO guarded_groups (param, grp, mask) VALUES `,
		InsertGuardedGroupsEnd: ` ON CONFLICT DO NOTHING`,
		// FOR KEY SHARE holds a ROW SHARE lock on export_mark until the
		// writer commits; a snapshot's EXCLUSIVE lock waits for it, and a
		// writer queued behind the snapshot reads the mark it set (see
		// migration 0004).
		ExportMark: `SELECT mark FROM export_mark WHERE one = 1 FOR KEY SHARE`,
		// Writers arriving while the snapshot waits queue behind it: it
		// gives up after a second (a long write in flight) and tries
		// again later.
		ExportMarkLock: []string{`SET LOCAL lock_timeout = '1s'`, `LOCK TABLE export_mark IN EXCLUSIVE MODE`},
		SkipLocked:     ` FOR UPDATE SKIP LOCKED`,
	},
	// The snapshot is taken by the transaction's first statement and kept
	// for all the others.
	SnapshotTx: sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	Migrations: mustSub(migrations, "migrations"),
	LockMigrations: func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock))
		return err
	},
	AuditInsert: `WITH chained AS (INSERT INTO audit_chain (seq, res_id, prev, hash, body, recorded, action, outcome, type_system, type_code, subtype_system, subtype_code, client, address, source, policy, profile, request_id, agent, entity) ` +
		`SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::BYTEA[], $4::BYTEA[], $5::BYTEA[], $6::BIGINT[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::TEXT[], $14::TEXT[], $15::TEXT[], $16::TEXT[], $17::TEXT[], $18::TEXT[], $19::TEXT[], $20::TEXT[])) ` +
		`INSERT INTO audit_ref (seq, entity, type, id, url) SELECT * FROM unnest($21::BIGINT[], $22::BOOLEAN[], $23::TEXT[], $24::TEXT[], $25::TEXT[])`,
	Lock: func(ctx context.Context, tx *sql.Tx, key int64) error {
		_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", key)
		return err
	},
	Retryable: func(err error) bool {
		switch pgCode(err) {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		case "55P03": // lock_not_available: lock_timeout (export snapshots)
			return true
		}
		return false
	},
	UniqueViolation: func(err error) bool { return pgCode(err) == "23505" },
	MaxParams:       65535,
	TextParam:       `CAST(%s AS TEXT) COLLATE "C"`,
	Explain:         "EXPLAIN (ANALYZE, BUFFERS) ",
	ProbeGroup:      "(%s + 0)",
	ProbeFence:      " OFFSET 0",
	Lateral:         true,
	// IS TRUE keeps the IN a hashed filter: as a semi-join, PostgreSQL
	// drives from the set and probes the token per member.
	Membership:  "(%s IN (%s)) IS TRUE",
	GroupArray:  "= ANY(ARRAY(%s))",
	TypeSeqScan: "%[1]s >= %[2]s AND %[1]s <= %[2]s",
	BitOr:       "BIT_OR(%s)",
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// DB is the PostgreSQL store.
type DB struct {
	*sqlstore.DB
}

var _ store.RestrictStore = (*DB)(nil)

// Options tune Open.
type Options struct {
	// ExportDir, when set, keeps the bytes of export files in this folder
	// instead of in the database: several times faster exports, but every
	// node sharing the database must see the same folder (a shared file
	// system), or downloads from the other nodes fail.
	ExportDir string
	// Logger hears of long work when the store opens; nil: none.
	Logger *slog.Logger
}

// Open connects to the database at url (postgres://…) and applies pending
// migrations.
func Open(ctx context.Context, url string) (*DB, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// Search SQL is built for the values at hand (the planner picks sets by
	// their estimated sizes), and parameters such as a search parameter's
	// group decide the right plan. PostgreSQL switches a prepared statement
	// to a generic plan after five runs, which blinds it to those values:
	// a chained search went from 2 ms to 60 ms. Custom plans cost a little
	// planning time on every run, far less than a wrong plan.
	//
	// The statements whose best plan is the same whatever their values
	// (reads by key, the walk of a token) run on a small pool of their own
	// that keeps generic plans: planning the walk cost twice as long as
	// running it.
	var stable *sql.DB
	if _, set := cfg.RuntimeParams["plan_cache_mode"]; !set {
		cfg.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
		generic := cfg.Copy()
		generic.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
		stable = stdlib.OpenDB(*generic)
		stable.SetMaxOpenConns(stableConns)
		stable.SetMaxIdleConns(stableConns)
	}
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(32)
	pool.SetMaxIdleConns(32)
	closeAll := func() {
		pool.Close()
		if stable != nil {
			stable.Close()
		}
	}
	if err := pool.PingContext(ctx); err != nil {
		closeAll()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db, err := sqlstore.Open(ctx, dialect, sqlstore.Config{Write: pool, Stable: stable, ExportDir: opts.ExportDir, Logger: opts.Logger})
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &DB{DB: db}, nil
}

// stableConns bounds the connections of the generic-plan pool, beside the
// 32 of the main one.
const stableConns = 8
