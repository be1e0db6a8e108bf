// Package sqlstore implements store.Store over database/sql. The SQLite and
// PostgreSQL backends share this code and differ only in what their Dialect
// supplies: their own statement texts, migrations, placeholders, locking and
// error classification. No SQL is rewritten from one dialect to the other.
//
// Schema (both dialects; see docs/implementation/database.md):
//   - resources: one row per resource, holding its current version and body.
//   - resource_history: every earlier version (the current one moves here
//     when it is replaced), so each body is stored once.
//   - idx_*: search-index rows of current versions, keyed by the resource's
//     internal row id (rid).
//   - restriction_keys, guarded_groups: usage restrictions (restrict.go).
//   - export_*: the export mark, and bulk export jobs and their files
//     (export.go).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// Dialect is what a backend supplies.
type Dialect struct {
	Name string
	// Placeholder returns the n-th (1-based) bind parameter marker, for
	// statements that refer to arguments by number.
	Placeholder func(n int) string
	// InsertPlaceholder returns the marker of the n-th parameter in a
	// statement whose parameters appear in argument order, each once (bulk
	// INSERTs). SQLite binds plain ? markers much faster than numbered ones
	// (its driver looks each numbered name up in a linear list).
	InsertPlaceholder func(n int) string
	// InsertIndexRows begins the INSERT of index rows ("INSERT INTO", or a
	// form that skips rows equal to one already there where the index
	// tables have a primary key).
	InsertIndexRows string
	// SQL holds the dialect's own statement texts.
	SQL Statements
	// Migrations holds files named NNNN_description.sql, applied in order.
	Migrations fs.FS
	// BeforeMigration runs Go steps before the migration of that number,
	// each committed on its own (moving data a migration then drops).
	BeforeMigration map[int]func(ctx context.Context, db *sql.DB) error
	// LockMigrations serializes concurrent migrators (several nodes starting
	// at once); nil where the database does it already.
	LockMigrations func(ctx context.Context, tx *sql.Tx) error
	// Lock takes a transaction-scoped lock on key (see store.Tx.Lock); nil
	// where transactions are serialized anyway.
	Lock func(ctx context.Context, tx *sql.Tx, key int64) error
	// CacheStatements: searches run as statements prepared once on the
	// read pool and kept (stmtCache), for a driver that does not keep
	// them itself (SQLite; pgx keeps its own per connection).
	CacheStatements bool
	// AuditInsert, when set, inserts linked records and their other
	// references in one statement (see auditInsertArgs for its
	// arguments), and appenders take no database lock (see
	// appendUnlocked): a group commit is then one round trip.
	AuditInsert string
	// Retryable reports whether err means the transaction lost a race and
	// may be run again (serialization failure, deadlock, unique violation
	// on a concurrent create).
	Retryable func(err error) bool
	// UniqueViolation reports whether err is a unique-constraint violation.
	UniqueViolation func(err error) bool
	// MaxParams is the most bind parameters one statement may carry.
	MaxParams int
	// TextParam, when set, is a format that types a bare parameter as
	// text where the database cannot infer it (in a SELECT list).
	TextParam string
	// Lateral: the database joins LATERAL subqueries, so a walk (walk.go)
	// lists its ranges in the page statement rather than in one before it.
	Lateral bool
	// Membership is a format (column, a query of a set of rids) for the
	// condition that a walked row is in the set, written so that
	// the database checks it row by row in the walk's order rather than
	// drive the query from the set.
	Membership string
	// GroupArray, when set, is a format (a query of groups) for a row's
	// group matched against groups the database reads once into a list
	// (builder.groupList); otherwise groups are matched with IN.
	GroupArray string
	// Explain prefixes a query to get its plan.
	Explain string
	// NoIndex, when set, is a format that keeps the planner from using an
	// index on a column (SQLite's unary +), where the query's plan is
	// chosen by vhdir.
	NoIndex string
	// ProbeGroup, when set, is a format for the group column of a per-row
	// probe (rid = outer row) that keeps the planner on the (rid, grp)
	// index. PostgreSQL cannot see which groups a parameter's subquery
	// yields and may otherwise read a value index (grp, value…) for
	// thousands of rows per probe.
	ProbeGroup string
	// TypeSeqScan, when set, is a format (column, type argument) for the
	// type condition of a scan of one type newest first (history), written
	// so that only a (type, seq) index yields its order. PostgreSQL takes a
	// type's rows as spread evenly over the write sequence and may instead
	// read resources_seq backwards, stepping over every newer row of other
	// types (AuditEvents, one per request) to fill a page. As a range, the
	// type is no constant and stays a sort key. Unset: an equality, which
	// SQLite plans on (type, seq).
	TypeSeqScan string
	// ProbeFence, when set, ends each per-row probe's subquery so that the
	// database keeps it a probe. PostgreSQL turns EXISTS into a semi-join
	// over every match unless the subquery has an OFFSET; a first page
	// that should read a few hundred rows would read them all.
	ProbeFence string
	// SnapshotTx begins the read-only transaction of an export snapshot:
	// one consistent view for all its statements.
	SnapshotTx sql.TxOptions
	// BitOr is a format for the aggregate that ORs BIGINT bits (rule bits
	// of restriction_keys, each a power of two), NULL over no rows.
	BitOr string
}

// Statements are the fixed statements of a dialect. Column lists are part
// of the contract with sqlstore's scanning code and must match the comments.
type Statements struct {
	// CurrentByKey: args type, id → rid, version, seq, last_updated, deleted, idx_tables, guard, restricted, body.
	CurrentByKey string
	// CurrentByKeyForUpdate is CurrentByKey locking the row in a write transaction.
	CurrentByKeyForUpdate string
	// HistoryVersion: args type, id, version → version, seq, last_updated, deleted, guard, restricted, body.
	HistoryVersion string
	// InsertResource: args type, id, version, seq, last_updated, deleted, idx_tables, guard, restricted, body → rid.
	InsertResource string
	// ArchiveCurrent copies the current row (guard and restricted
	// included) to history: args rid.
	ArchiveCurrent string
	// UpdateResource: args version, seq, last_updated, deleted, idx_tables, guard, restricted, body, rid.
	UpdateResource string
	// ReserveSeqs takes one argument n and reserves n write sequence
	// numbers: it returns n rows of them, or (with SeqRange) one row, the
	// last of a contiguous range of n.
	ReserveSeqs string
	SeqRange    bool
	// InsertGroups and InsertGroupsEnd surround the VALUES of an insert
	// into param_groups that ignores rows already there.
	InsertGroups, InsertGroupsEnd string
	// InsertGuardedGroups and InsertGuardedGroupsEnd do the same for
	// guarded_groups (param, grp, mask).
	InsertGuardedGroups, InsertGuardedGroupsEnd string
	// ForUpdate is appended to a SELECT of current rows in a write
	// transaction to lock them ("" where the transaction holds the whole
	// database already).
	ForUpdate string
	// ExportMark: no args → mark. Every write transaction runs it first;
	// it must hold, until the transaction ends, a lock that
	// ExportMarkLock waits for (see DB.Snapshot), and return the mark as
	// committed when that lock is granted.
	ExportMark string
	// ExportMarkLock, run first in a snapshot's write transaction, waits
	// for the write transactions in flight and holds new ones back until
	// it commits, without letting a stream of new writers starve it (none
	// where beginning a write transaction does it already). It should give
	// up, with an error Retryable accepts, rather than hold writers back
	// for long behind a long transaction.
	ExportMarkLock []string
	// WriteLock, when set, runs first in every write transaction and takes
	// the database's write lock at once (SQLite: write transactions begin
	// deferred, so that one locks the audit database only when it appends
	// to the chain, not for the whole of a long write).
	WriteLock string
	// AuditLock, when set, takes the chain's write lock in a write
	// transaction before its last link is read (SQLite's audit database).
	AuditLock string
	// SkipLocked is appended to the SELECT that picks a job to claim, so
	// that nodes claiming at once take different jobs ("" where write
	// transactions are serialized).
	SkipLocked string
}

// Config tunes a DB.
type Config struct {
	// Write is the pool for write transactions; Read for reads (may be the
	// same pool).
	Write, Read *sql.DB
	// ExportDir, when set, keeps the bytes of export files in this folder
	// instead of in the database (see exportfiles.go): for a database only
	// one node uses.
	ExportDir string
	// AuditWrite, when set, is the pool that appends the records of
	// requests that change nothing: the audit chain then lives in a
	// database of its own (SQLite's audit file, attached to the Write and
	// Read connections), so that those appends neither wait for a long
	// write nor make readers of the data drop their page caches. Its
	// transactions take the chain's write lock when they begin. nil: Write.
	AuditWrite *sql.DB
	// Stable, when set, is a read pool whose connections keep generic
	// plans (PostgreSQL's plan_cache_mode), for the statements whose plan
	// does not depend on their values: reads by key, and the page
	// statements of stable plans (plan.stable). Planned once per connection
	// rather than on every run. nil: Read.
	Stable *sql.DB
	// Logger hears of long work when the store opens (filling the audit
	// records of an older database); nil: none.
	Logger *slog.Logger
}

// DB is a store.Store over database/sql.
type DB struct {
	d     *Dialect
	log   *slog.Logger
	write *sql.DB
	read  *sql.DB
	// auditWrite appends records in a transaction of their own when the
	// chain has a database of its own (nil: write); auditStmts keeps the
	// statements prepared on it.
	auditWrite *sql.DB
	auditStmts *stmtCache
	// chainMu queues this process's appenders in turn: to a chain in its
	// own database (SQLite's lock grants no turns: a write waiting for it
	// could starve behind a stream of appends of reads' records), and to
	// one appended without a database lock (AuditInsert), whose head it
	// guards.
	chainMu sync.Mutex
	head    chainHead
	// exportDir keeps export files' bytes ("": in export_chunks).
	exportDir string

	readCurrent *sql.Stmt
	readHistory *sql.Stmt
	// reads runs the read pool's search queries (a stmtCache where the
	// dialect asks for one).
	reads     dbQuerier
	readStmts *stmtCache
	// stable runs reads by key and the page statements of stable plans
	// (Config.Stable; nil: none, read serves them).
	stable *sql.DB

	insertCache sync.Map // multi-row INSERT texts by table and row count
	groups      sync.Map // parameter groups known to be in param_groups
	guarded     sync.Map // guarded groups known to be in guarded_groups
	est         estimates
	group       groupCommit // small writes from concurrent callers, committed together
	// preparedCache holds statements prepared once (preparedKey → *sql.Stmt).
	preparedCache sync.Map
	// txStmts holds write statements prepared once on the write pool
	// (query → *sql.Stmt) for every transaction to reuse: a small write
	// would otherwise spend as long parsing its SQL as running it. A
	// statement first met inside a transaction is prepared there and
	// queued in wantStmts, to be prepared on the pool before the next
	// transaction of its kind begins — on SQLite's one writer connection
	// it cannot be prepared while a transaction holds it. The kinds (index:
	// whether the transaction writes versions) keep their queues apart:
	// PostgreSQL locks a statement's tables to prepare it, and an audit
	// append, which every answer waits for, must not wait for a lock
	// another session holds on resources, a table it never touches.
	txStmts   sync.Map
	wantStmts [2]sync.Map
	nTxStmts  atomic.Int32
}

// txKind is the index in DB.wantStmts of a transaction that writes
// versions, or not.
func txKind(versions bool) int {
	if versions {
		return 1
	}
	return 0
}

// maxTxStmts bounds txStmts: the write statements are few (sizes of
// multi-row inserts are powers of two), this only guards against a
// caller building unbounded texts.
const maxTxStmts = 512

// prepareWanted prepares the statements transactions of a kind asked
// for, outside any transaction.
func (db *DB) prepareWanted(ctx context.Context, kind int) {
	want := &db.wantStmts[kind]
	want.Range(func(k, _ any) bool {
		q := k.(string)
		want.Delete(q)
		if _, ok := db.txStmts.Load(q); ok || db.nTxStmts.Load() >= maxTxStmts {
			return true
		}
		st, err := db.write.PrepareContext(ctx, q)
		if err != nil {
			return true // the transaction prepares it itself, as before
		}
		if _, loaded := db.txStmts.LoadOrStore(q, st); loaded {
			_ = st.Close()
		} else {
			db.nTxStmts.Add(1)
		}
		return true
	})
}

var _ store.Store = (*DB)(nil)

// Open wraps the pools, applies pending migrations and prepares statements.
func Open(ctx context.Context, d *Dialect, cfg Config) (*DB, error) {
	db := &DB{d: d, write: cfg.Write, read: cfg.Read, auditWrite: cfg.AuditWrite, stable: cfg.Stable, exportDir: cfg.ExportDir}
	if db.read == nil {
		db.read = db.write
	}
	db.reads = db.read
	if db.auditWrite != nil {
		db.auditStmts = newStmtCache(db.auditWrite)
	}
	if d.CacheStatements {
		db.readStmts = newStmtCache(db.read)
		db.reads = db.readStmts
	}
	if err := migrate(ctx, d, db.write); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db.log = logger
	if err := db.recoverPending(ctx, logger); err != nil {
		return nil, err
	}
	if err := db.backfillAudit(ctx, logger); err != nil {
		return nil, err
	}
	var err error
	reads := db.stablePool()
	if db.readCurrent, err = reads.PrepareContext(ctx, d.SQL.CurrentByKey); err != nil {
		return nil, fmt.Errorf("prepare current read: %w", err)
	}
	if db.readHistory, err = reads.PrepareContext(ctx, d.SQL.HistoryVersion); err != nil {
		return nil, fmt.Errorf("prepare history read: %w", err)
	}
	if err := db.prepareAuth(ctx); err != nil {
		return nil, err
	}
	// Every write transaction reads the export mark first.
	st, err := db.write.PrepareContext(ctx, d.SQL.ExportMark)
	if err != nil {
		return nil, fmt.Errorf("prepare export mark read: %w", err)
	}
	db.txStmts.Store(d.SQL.ExportMark, st)
	db.nTxStmts.Add(1)
	return db, nil
}

// Backend names the dialect.
func (db *DB) Backend() string { return db.d.Name }

// Close closes the pools.
func (db *DB) Close() error {
	var errs []error
	for _, s := range []*sql.Stmt{db.readCurrent, db.readHistory} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	db.txStmts.Range(func(_, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		return true
	})
	if db.auditStmts != nil {
		errs = append(errs, db.auditStmts.close())
	}
	if db.readStmts != nil {
		errs = append(errs, db.readStmts.close())
	}
	if db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	if db.auditWrite != nil {
		errs = append(errs, db.auditWrite.Close())
	}
	if db.stable != nil {
		errs = append(errs, db.stable.Close())
	}
	errs = append(errs, db.write.Close())
	return errors.Join(errs...)
}

// Ping checks both pools.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return err
	}
	return db.read.PingContext(ctx)
}

// WritePool and ReadPool expose the pools to the backend packages (bulk
// paths, tests).
func (db *DB) WritePool() *sql.DB { return db.write }

// ReadPool returns the read pool.
func (db *DB) ReadPool() *sql.DB { return db.read }

// stablePool is the pool of the statements whose plan does not depend on
// their values (Config.Stable), the read pool where there is none.
func (db *DB) stablePool() *sql.DB {
	if db.stable != nil {
		return db.stable
	}
	return db.read
}

// stableQuerier is where stable page statements run: the read pool's
// prepared statements (reads) where there is no stable pool.
func (db *DB) stableQuerier() dbQuerier {
	if db.stable != nil {
		return db.stable
	}
	return db.reads
}

type current struct {
	rid       int64
	idxTables int64
	v         store.Version
}

func scanCurrent(row interface{ Scan(...any) error }, typ, id string) (*current, error) {
	c := &current{v: store.Version{Type: typ, ID: id}}
	var lu int64
	var deleted bool
	var body []byte
	if err := row.Scan(&c.rid, &c.v.VersionID, &c.v.Seq, &lu, &deleted, &c.idxTables, &c.v.Guard, &c.v.Restricted, &body); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, fmt.Errorf("read %s/%s: %w", typ, id, err)
	}
	c.v.LastUpdated = time.UnixMicro(lu).UTC()
	c.v.Deleted = deleted
	c.v.Body = body
	return c, nil
}

// scanCurrentRow scans a row of type, id, rid, version, seq, last_updated,
// deleted, idx_tables, guard, restricted, body.
func scanCurrentRow(rows *sql.Rows, typ, id *string) (*current, error) {
	c := &current{}
	var lu int64
	if err := rows.Scan(typ, id, &c.rid, &c.v.VersionID, &c.v.Seq, &lu, &c.v.Deleted, &c.idxTables, &c.v.Guard, &c.v.Restricted, &c.v.Body); err != nil {
		return nil, fmt.Errorf("read current rows: %w", err)
	}
	c.v.Type, c.v.ID = *typ, *id
	c.v.LastUpdated = time.UnixMicro(lu).UTC()
	return c, nil
}

// Read returns the current version.
func (db *DB) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	if typ == store.AuditType {
		return readAudit(ctx, db.reads, db.d, id)
	}
	c, err := scanCurrent(db.readCurrent.QueryRowContext(ctx, typ, id), typ, id)
	if err != nil {
		return nil, err
	}
	if c.v.Deleted {
		return &c.v, store.ErrGone
	}
	return &c.v, nil
}

// VRead returns one version.
func (db *DB) VRead(ctx context.Context, typ, id string, version int64) (*store.Version, error) {
	if typ == store.AuditType {
		if version != 1 {
			return nil, store.ErrNotFound
		}
		return readAudit(ctx, db.reads, db.d, id)
	}
	c, err := scanCurrent(db.readCurrent.QueryRowContext(ctx, typ, id), typ, id)
	if err != nil {
		return nil, err
	}
	if c.v.VersionID == version {
		return &c.v, nil
	}
	if version > c.v.VersionID || version < 1 {
		return nil, store.ErrNotFound
	}
	v := &store.Version{Type: typ, ID: id}
	var lu int64
	err = db.readHistory.QueryRowContext(ctx, typ, id, version).Scan(&v.VersionID, &v.Seq, &lu, &v.Deleted, &v.Guard, &v.Restricted, &v.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("vread %s/%s/_history/%d: %w", typ, id, version, err)
	}
	v.LastUpdated = time.UnixMicro(lu).UTC()
	return v, nil
}

// maxAttempts bounds retries of a transaction that lost a race.
const maxAttempts = 8

// Update runs fn in a write transaction.
func (db *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	return db.update(ctx, true, fn)
}

// update runs fn in a write transaction, again while it loses races.
// withMark reads the export mark first (see readMark): every transaction
// that may write versions must.
func (db *DB) update(ctx context.Context, withMark bool, fn func(store.Tx) error) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err = db.updateOnce(ctx, withMark, fn)
		if err == nil || !errors.Is(err, store.ErrRetry) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

func (db *DB) updateOnce(ctx context.Context, withMark bool, fn func(store.Tx) error) (err error) {
	db.prepareWanted(ctx, txKind(withMark))
	sqlTx, err := db.beginWrite(ctx)
	if err != nil {
		return db.classify(err)
	}
	tx := &tx{db: db, tx: sqlTx, kind: txKind(withMark)}
	defer func() {
		tx.closeStmts()
		if err != nil {
			_ = sqlTx.Rollback()
		}
		if tx.chainHeld {
			db.chainMu.Unlock()
		}
	}()
	if withMark {
		if err = tx.readMark(ctx); err != nil {
			return db.classify(err)
		}
	}
	if err = fn(tx); err != nil {
		return db.classify(err)
	}
	if err = tx.flush(ctx); err != nil {
		return db.classify(err)
	}
	if err = sqlTx.Commit(); err != nil {
		if tx.appended {
			db.head = chainHead{} // committed or not: read it again
		}
		return db.classify(fmt.Errorf("commit: %w", err))
	}
	if tx.appended {
		db.head = tx.head
	}
	tx.committed()
	for _, id := range tx.exportsDeleted {
		if err := db.removeExportFiles(id); err != nil {
			// Committed: the job is gone; its folder is only space.
			db.log.WarnContext(ctx, "the files of a deleted export job could not be removed", "job", id, "err", err)
		}
	}
	return nil
}

// beginWrite begins a write transaction on the write pool, holding the
// database's write lock from the start.
func (db *DB) beginWrite(ctx context.Context) (*sql.Tx, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	if err := takeWriteLock(ctx, db.d, tx); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// takeWriteLock runs the dialect's WriteLock, if any, in tx.
func takeWriteLock(ctx context.Context, d *Dialect, tx *sql.Tx) error {
	if d.SQL.WriteLock == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, d.SQL.WriteLock); err != nil {
		return fmt.Errorf("take the write lock: %w", err)
	}
	return nil
}

// classify marks database errors that mean "run again".
func (db *DB) classify(err error) error {
	if err == nil || errors.Is(err, store.ErrRetry) {
		return err
	}
	if db.d.Retryable != nil && db.d.Retryable(err) {
		return fmt.Errorf("%w: %w", store.ErrRetry, err)
	}
	return err
}

// Search runs a query on the read pool.
func (db *DB) Search(ctx context.Context, q *store.Query) (*store.SearchPage, error) {
	if audit, err := searchesAudit(q); audit || err != nil {
		if err != nil {
			return nil, err
		}
		return auditSearch(ctx, db.d, db.reads, q)
	}
	return search(ctx, db.d, &db.est, db.reads, db.stableQuerier(), q)
}

type tx struct {
	db      *DB
	tx      *sql.Tx
	kind    int // txKind: whether it writes versions
	stmts   map[string]*sql.Stmt
	pending []pendingRows // index rows not yet written, one slot per table
	// known caches current rows read or written in this transaction, so a
	// write need not read its row again.
	known map[store.Key]*current
	// deferred holds new resources until the transaction next needs them
	// written (PutMany); deferredKeys maps their keys to their place in it.
	deferred     deferredNew
	deferredKeys map[store.Key]int
	// newGroups are parameter groups to register before the index rows
	// that use them; registered lists those registered, to remember once
	// the transaction commits.
	newGroups  map[int64][]int64
	registered []int64
	// newGuarded and registeredGuarded do the same for guarded groups;
	// keyRows buffers restriction_keys rows (rid, version, key, bit).
	newGuarded        map[int64]guardedGroup
	registeredGuarded []int64
	keyRows           pendingRows
	// notBefore is the export mark read when the transaction began.
	notBefore time.Time
	// chainHeld: the transaction holds DB.chainMu until it ends. When it
	// appended to the chain without a database lock (appendUnlocked,
	// appended), head is the last link its appends left.
	chainHeld bool
	head      chainHead
	appended  bool
	// exportsDeleted are the export jobs the transaction deleted, whose
	// files in the export folder go once it commits.
	exportsDeleted []string
}

var _ store.Tx = (*tx)(nil)

// stmt prepares a statement once per transaction: bulk loads put thousands
// of resources through one transaction.
func (t *tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := t.stmts[query]; ok {
		return s, nil
	}
	var s *sql.Stmt
	if shared, ok := t.db.txStmts.Load(query); ok {
		s = t.tx.StmtContext(ctx, shared.(*sql.Stmt))
	} else {
		t.db.wantStmts[t.kind].Store(query, struct{}{})
		var err error
		if s, err = t.tx.PrepareContext(ctx, query); err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = s
	return s, nil
}

func (t *tx) closeStmts() {
	for _, s := range t.stmts {
		_ = s.Close()
	}
}

func (t *tx) Search(ctx context.Context, q *store.Query) (*store.SearchPage, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	if audit, err := searchesAudit(q); audit || err != nil {
		if err != nil {
			return nil, err
		}
		return auditSearch(ctx, t.db.d, t.tx, q)
	}
	return search(ctx, t.db.d, &estimates{}, t.tx, t.tx, q)
}

func (t *tx) Lock(ctx context.Context, key string) error {
	if t.db.d.Lock == nil {
		return nil
	}
	return t.db.d.Lock(ctx, t.tx, lockKey(key))
}

// lockKey hashes a lock name to the int64 advisory locks take (FNV-1a).
func lockKey(s string) int64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return int64(h)
}

// migrate applies the dialect's pending migrations, each in its own
// transaction, recording them in schema_migrations.
func migrate(ctx context.Context, d *Dialect, db *sql.DB) error {
	files, err := fs.Glob(d.Migrations, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, f := range files {
		num, err := strconv.Atoi(strings.SplitN(f, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", f)
		}
		if step := d.BeforeMigration[num]; step != nil {
			if err := runBefore(ctx, d, db, num, step); err != nil {
				return err
			}
		}
		if err := applyMigration(ctx, d, db, num, f); err != nil {
			return err
		}
	}
	return nil
}

// runBefore runs a dialect's step before migration num, unless that
// migration is applied already.
func runBefore(ctx context.Context, d *Dialect, db *sql.DB, num int, step func(context.Context, *sql.DB) error) error {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = "+d.Placeholder(1), num).Scan(&n); err != nil {
		return fmt.Errorf("before migration %d: %w", num, err)
	}
	if n > 0 {
		return nil
	}
	if err := step(ctx, db); err != nil {
		return fmt.Errorf("before migration %d: %w", num, err)
	}
	return nil
}

func applyMigration(ctx context.Context, d *Dialect, db *sql.DB, num int, name string) error {
	body, err := fs.ReadFile(d.Migrations, name)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if err := takeWriteLock(ctx, d, tx); err != nil {
		return err
	}
	if d.LockMigrations != nil {
		if err := d.LockMigrations(ctx, tx); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
	}
	var n int
	q := "SELECT COUNT(*) FROM schema_migrations WHERE version = " + d.Placeholder(1)
	if err := tx.QueryRowContext(ctx, q, num).Scan(&n); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if n > 0 {
		return nil
	}
	for _, stmt := range splitStatements(string(body)) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migration %s: %w\n%s", name, err, stmt)
		}
	}
	ins := fmt.Sprintf("INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)", d.Placeholder(1), d.Placeholder(2), d.Placeholder(3))
	if _, err := tx.ExecContext(ctx, ins, num, name, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("record migration %s: %w", name, err)
	}
	return tx.Commit()
}

// splitStatements splits a migration file at semicolons ending a line.
// Migrations are plain DDL; they hold no semicolons inside statements.
func splitStatements(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}
