// Package sqlite is the embedded store backend: SQLite through the pure-Go
// modernc.org/sqlite driver (no cgo), in WAL mode, for a laptop or a small
// directory. One connection writes (SQLite allows one writer; taking the
// write lock first makes writers queue instead of failing), a pool of
// read-only connections reads concurrently beside it, and the audit chain
// has a file and a writing connection of its own (auditfile.go).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// dialect is SQLite's SQL. The fixed statements use each argument once, in
// order, with plain ? markers; built queries use numbered ones (?1, ?2, …)
// so that they can refer to an argument twice.
var dialect = &sqlstore.Dialect{
	Name:              "sqlite",
	Placeholder:       func(n int) string { return "?" + strconv.Itoa(n) },
	InsertPlaceholder: func(int) string { return "?" },
	InsertIndexRows:   "INSERT OR IGNORE INTO",
	SQL: sqlstore.Statements{
		CurrentByKey:          `SELECT rid, version, seq, last_updated, deleted, idx_tables, guard, restricted, body FROM resources WHERE type = ? AND id = ?`,
		CurrentByKeyForUpdate: `SELECT rid, version, seq, last_updated, deleted, idx_tables, guard, restricted, body FROM resources WHERE type = ? AND id = ?`,
		HistoryVersion:        `SELECT h.version, h.seq, h.last_updated, h.deleted, h.guard, h.restricted, h.body FROM resources r JOIN resource_history h ON h.rid = r.rid WHERE r.type = ? AND r.id = ? AND h.version = ?`,
		InsertResource:        `INSERT INTO resources (type, id, version, seq, last_updated, deleted, idx_tables, guard, restricted, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING rid`,
		ArchiveCurrent:        `INSERT INTO resource_history (rid, type, id, version, seq, last_updated, deleted, guard, restricted, body) SELECT rid, type, id, version, seq, last_updated, deleted, guard, restricted, body FROM resources WHERE rid = ?`,
		UpdateResource:        `UPDATE resources SET version = ?, seq = ?, last_updated = ?, deleted = ?, idx_tables = ?, guard = ?, restricted = ?, body = ? WHERE rid = ?`,
		ReserveSeqs:           `UPDATE counters SET value = value + ? WHERE name = 'seq' RETURNING value`,
		SeqRange:              true, // one writer at a time: the range is contiguous and commit-ordered
		InsertGroups:          `INSERT OR IGNORE INTO param_groups (param, grp) VALUES `,
		InsertGuardedGroups:   `INSERT OR IGNORE INTO guarded_groups (param, grp, mask) VALUES `,
		// Writers take the write lock first (WriteLock), one at a time
		// (across processes too), and so does a snapshot: no lock to add.
		ExportMark: `SELECT mark FROM export_mark WHERE one = 1`,
		// Write transactions begin deferred (so that one locks the audit
		// file only when it appends to the chain) and take the database's
		// write lock with their first statement, a write that changes
		// nothing. So does the chain's lock in the audit file.
		WriteLock: `DELETE FROM main.schema_migrations WHERE 0`,
		AuditLock: `DELETE FROM audit_chain WHERE 0`,
	},
	BeforeMigration: map[int]func(context.Context, *sql.DB) error{9: moveAuditToItsFile},
	CacheStatements: true,
	// A deferred read transaction: its WAL snapshot is fixed by its first
	// read and kept until it ends.
	SnapshotTx: sql.TxOptions{ReadOnly: true},
	Migrations: mustSub(migrations, "migrations"),
	Retryable: func(err error) bool {
		code := errCode(err)
		return code&0xff == sqlite3.SQLITE_BUSY || code&0xff == sqlite3.SQLITE_LOCKED
	},
	UniqueViolation: func(err error) bool {
		code := errCode(err)
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
	// SQLITE_MAX_VARIABLE_NUMBER is 32766 since 3.32.
	MaxParams: 32766,
	NoIndex:   "+%s",
	// Unary + keeps SQLite from driving the walk from the set.
	Membership: "+%s IN (%s)",
	Explain:    "EXPLAIN QUERY PLAN ",
	// No bitwise aggregate: the bits summed are distinct powers of two.
	BitOr: "SUM(DISTINCT %s)",
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

func errCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// DB is the SQLite store.
type DB struct {
	*sqlstore.DB
	Path string
}

var _ store.RestrictStore = (*DB)(nil)

// Options tune Open.
type Options struct {
	// ExportDir is the folder export files are kept in (default: beside
	// the database file, PATH-exports).
	ExportDir string
	// Logger hears of long work when the store opens; nil: none.
	Logger *slog.Logger
}

// Open opens (creating if needed) the database file at path and applies
// pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create folder for %s: %w", path, err)
		}
	}
	write := openAttached(path, false)
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	read := openAttached(path, true)
	// The records of requests that change nothing: one connection, the
	// audit file as its main database, each transaction holding the
	// chain's write lock from BEGIN.
	auditWrite, err := sql.Open("sqlite", dsn(auditPath(path), false, auditCacheKiB)+"&_txlock=immediate")
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", auditPath(path), err)
	}
	auditWrite.SetMaxOpenConns(1)
	auditWrite.SetMaxIdleConns(1)
	auditWrite.SetConnMaxLifetime(0)
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)
	// Export files go beside the database file (path-exports), not into it:
	// see sqlstore/exportfiles.go.
	exportDir := opts.ExportDir
	if exportDir == "" {
		exportDir = path + "-exports"
	}
	db, err := sqlstore.Open(ctx, dialect, sqlstore.Config{Write: write, Read: read, AuditWrite: auditWrite, ExportDir: exportDir, Logger: opts.Logger})
	if err != nil {
		write.Close()
		read.Close()
		auditWrite.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return &DB{DB: db, Path: path}, nil
}

// dataCacheKiB is a connection's page cache, in KiB (negative: a size). The
// writer's holds what a transaction dirties until it commits, or spills
// the rest to the WAL: 64 MiB bounds a 10,000-entry transaction's memory
// and loads as fast as a larger one (BENCHMARKS.md, Large bodies).
// Readers read the file through mmap; their caches hold the pages they
// find in the WAL.
func dataCacheKiB(readOnly bool) int {
	if readOnly {
		return -262144
	}
	return -65536
}

// dsn builds the connection string. WAL lets readers run beside the writer;
// synchronous=FULL makes every acknowledged commit survive power loss, not
// only a crash of the process; busy_timeout makes a second process (vhdir
// load beside vhdir serve) wait for the write lock instead of failing.
func dsn(path string, readOnly bool, cacheKiB int) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", cacheKiB))
	q.Add("_pragma", "mmap_size(2147418112)") // the most this SQLite build maps (SQLITE_MAX_MMAP_SIZE)
	q.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}
