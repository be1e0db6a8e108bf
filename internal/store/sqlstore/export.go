package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// Bulk export (store.ExportStore): the export mark and snapshots, and the
// tables export_jobs, export_files and export_chunks of migration 0004.
//
// The export mark (table export_mark, one row) is the time of the latest
// snapshot. Every write transaction reads it right after BEGIN
// (Statements.ExportMark, Tx.NotBefore) under a lock held until it ends; a
// snapshot takes the lock that excludes them (ExportMarkLock, or SQLite's
// single writer), raises the mark, opens its read-only view, and commits.
// Hence a write the view misses began after the snapshot committed and
// read the raised mark.

var _ store.ExportStore = (*DB)(nil)

// readMark reads the export mark at the start of a write transaction.
func (t *tx) readMark(ctx context.Context) error {
	s, err := t.stmt(ctx, t.db.d.SQL.ExportMark)
	if err != nil {
		return err
	}
	var mark int64
	if err := s.QueryRowContext(ctx).Scan(&mark); err != nil {
		return fmt.Errorf("read export mark: %w", err)
	}
	t.notBefore = fromMicro(mark)
	return nil
}

// NotBefore is the export mark as the transaction began (see store.Tx).
func (t *tx) NotBefore() time.Time { return t.notBefore }

// toMicro and fromMicro map times to stored microseconds, the zero time
// to 0 and back.
func toMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicro(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// snapshot is a read-only transaction held open on its own connection.
type snapshot struct {
	d    *Dialect
	tx   *sql.Tx
	at   time.Time
	busy atomic.Bool // a Scan is running (one connection: one query at a time)
}

// Snapshot runs fn over a consistent view (see store.ExportStore). It
// must not be called from inside Update: on SQLite the snapshot needs the
// one write connection, which the transaction holds.
func (db *DB) Snapshot(ctx context.Context, now func() time.Time, fn func(store.Snapshot) error) error {
	if now == nil {
		return errors.New("export snapshot: the caller's clock (now) is required")
	}
	var (
		conn *sql.Conn
		snap *snapshot
		err  error
	)
	for backoff := 20 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		// The view's connection first: once the mark's lock is held,
		// writers queue behind it with pool connections in hand, and the
		// snapshot must not wait for one of those.
		if conn, err = db.read.Conn(ctx); err != nil {
			return fmt.Errorf("export snapshot: connect: %w", err)
		}
		if snap, err = db.openSnapshot(ctx, now, conn); err == nil {
			break
		}
		_ = conn.Close()
		if !errors.Is(err, store.ErrRetry) {
			return err
		}
		// A lost race, or the lock not granted in time (a long write in
		// flight, which writers must not queue behind for its whole
		// length): let writers go on a while, and try again.
		select {
		case <-ctx.Done():
			return fmt.Errorf("export snapshot: %w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(backoff):
		}
	}
	defer conn.Close()
	defer snap.tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	return fn(snap)
}

// openSnapshot takes a snapshot: it raises the mark while holding writers
// off, and opens the view on conn before letting them go on.
func (db *DB) openSnapshot(ctx context.Context, now func() time.Time, conn *sql.Conn) (*snapshot, error) {
	fail := func(step string, err error) error {
		return db.classify(fmt.Errorf("export snapshot: %s: %w", step, err))
	}
	w, err := db.write.Conn(ctx)
	if err != nil {
		return nil, fail("connect", err)
	}
	defer w.Close()
	// SQLite: the write lock taken first (WriteLock), which waits for the
	// writer in flight (of this process: the one write connection; of
	// others: the write lock) and excludes the others until COMMIT.
	wtx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fail("begin", err)
	}
	defer wtx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if err := takeWriteLock(ctx, db.d, wtx); err != nil {
		return nil, fail("lock", err)
	}
	for _, lock := range db.d.SQL.ExportMarkLock {
		if _, err := wtx.ExecContext(ctx, lock); err != nil {
			return nil, fail("lock", err)
		}
	}
	var mark int64
	if err := wtx.QueryRowContext(ctx, `SELECT mark FROM export_mark WHERE one = 1`).Scan(&mark); err != nil {
		return nil, fail("read mark", err)
	}
	t := max(now().UnixMicro(), mark) // times never go back
	if _, err := wtx.ExecContext(ctx, `UPDATE export_mark SET mark = `+db.d.Placeholder(1)+` WHERE one = 1`, t); err != nil {
		return nil, fail("set mark", err)
	}
	// The view sees what committed before the lock was granted: its first
	// read fixes it (PostgreSQL REPEATABLE READ, SQLite's WAL snapshot).
	vtx, err := conn.BeginTx(ctx, &db.d.SnapshotTx)
	if err != nil {
		return nil, fail("begin view", err)
	}
	var n int
	if err := vtx.QueryRowContext(ctx, `SELECT COUNT(*) FROM export_mark`).Scan(&n); err != nil {
		_ = vtx.Rollback()
		return nil, fail("open view", err)
	}
	// Records are appended without the mark's lock: note the chain's last
	// link the view holds, so that an export _since this snapshot takes
	// exactly the links after it.
	var last int64
	if err := vtx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_chain`).Scan(&last); err != nil {
		_ = vtx.Rollback()
		return nil, fail("read the audit chain's head", err)
	}
	p := db.d.Placeholder
	if _, err := wtx.ExecContext(ctx, `INSERT INTO audit_export_marks (mark, seq) VALUES (`+p(1)+`, `+p(2)+`) ON CONFLICT (mark) DO NOTHING`, t, last); err != nil {
		_ = vtx.Rollback()
		return nil, fail("note the audit chain's head", err)
	}
	// Without the raised mark committed, writers could stamp times before
	// the snapshot's: no snapshot then.
	if err := wtx.Commit(); err != nil {
		_ = vtx.Rollback()
		return nil, fail("commit mark", err)
	}
	return &snapshot{d: db.d, tx: vtx, at: time.UnixMicro(t).UTC()}, nil
}

func (s *snapshot) Time() time.Time { return s.at }

// rawBytes receives a column's bytes as the driver holds them, without
// the copy database/sql makes for *[]byte; valid until the next row.
type rawBytes []byte

func (r *rawBytes) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*r = nil
	case []byte:
		*r = v
	case string:
		*r = []byte(v)
	default:
		return fmt.Errorf("scan %T into bytes", src)
	}
	return nil
}

// Scan streams the resources q selects, in no particular order, with one
// query on the view's transaction. Scans of one snapshot must not overlap.
func (s *snapshot) Scan(ctx context.Context, q store.ExportScan, fn func(v *store.Version) error) error {
	if q.Type == "" {
		return errors.New("export scan: no resource type")
	}
	if !s.busy.CompareAndSwap(false, true) {
		return errors.New("export scan: another scan of this snapshot is running")
	}
	defer s.busy.Store(false)
	if q.Type == store.AuditType {
		return s.auditScan(ctx, q, fn)
	}
	view, err := resolveAccess(ctx, s.tx, s.d, q.Viewer)
	if err != nil {
		return fmt.Errorf("export scan %s: %w", q.Type, err)
	}
	text, args, err := scanSQL(s.d, view, q)
	if err != nil {
		return err
	}
	rows, err := s.tx.QueryContext(ctx, text, args...)
	if err != nil {
		return fmt.Errorf("export scan %s: %w", q.Type, err)
	}
	defer rows.Close()
	var (
		v                       store.Version
		id                      string
		version, seq, lu, guard int64
		restricted              bool
		body                    rawBytes
		dest                    = []any{&id, &version, &seq, &lu, &guard, &restricted, &body}
	)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("export scan %s: %w", q.Type, err)
		}
		v = store.Version{Type: q.Type, ID: id, VersionID: version, Seq: seq, LastUpdated: time.UnixMicro(lu).UTC(), Deleted: q.Deleted,
			Guard: guard, Restricted: restricted}
		if !q.Deleted {
			v.Body = body
		}
		if err := fn(&v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export scan %s: %w", q.Type, err)
	}
	return nil
}

// scanSQL writes the query of a scan: current rows of one type that the
// viewer sees, live ones matching the condition (as a search builds it,
// conditions as sets of row ids) or deleted ones, updated since q.Since.
func scanSQL(d *Dialect, view access, q store.ExportScan) (string, []any, error) {
	b := &builder{d: d, view: view}
	var where string
	if q.Deleted {
		where = "r.deleted = true AND r.type = " + b.arg(q.Type) + b.andVisible("r")
	} else {
		var err error
		if where, err = b.baseWhere("r", []string{q.Type}, q.Cond); err != nil {
			return "", nil, fmt.Errorf("export scan %s: %w", q.Type, err)
		}
	}
	if !q.Since.IsZero() {
		where += " AND r.last_updated >= " + b.arg(q.Since.UnixMicro())
	}
	// No ORDER BY: the database reads rows in whatever order its plan
	// finds them (by type and row id, by last_updated for a short delta,
	// from the index rows of a condition), and streams them. An ORDER BY
	// the plan does not give would sort every matching row, bodies and
	// all, before the first one came (SQLite sorts in memory here).
	return "SELECT r.id, r.version, r.seq, r.last_updated, r.guard, r.restricted, r.body FROM resources r WHERE " + where, b.args, nil
}

// exportStatements are the job and file statements of one dialect.
type exportStatements struct {
	createJob, job, jobs, active, claimPick, claim, renew, finish, deleteJob, purgeJobs string
	addChunk, chunkFile, finishFile, files, file, readChunk                             string
	deleteChunks, deleteFiles                                                           string
}

var exportCache sync.Map // *Dialect → *exportStatements

const jobColumns = "id, client_id, request, state, created, expires, owner, lease_until, attempts, progress, result"

func (db *DB) exportSQL() *exportStatements {
	if s, ok := exportCache.Load(db.d); ok {
		return s.(*exportStatements)
	}
	p := db.d.Placeholder
	s := &exportStatements{
		createJob: fmt.Sprintf(`INSERT INTO export_jobs (id, client_id, request, state, created, expires) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING`,
			p(1), p(2), p(3), p(4), p(5), p(6)),
		job: fmt.Sprintf(`SELECT %s FROM export_jobs WHERE id = %s`, jobColumns, p(1)),
		// Result is left out of the list (store.ExportStore.ExportJobs).
		jobs:   `SELECT id, client_id, request, state, created, expires, owner, lease_until, attempts, progress FROM export_jobs ORDER BY created DESC, id DESC`,
		active: fmt.Sprintf(`SELECT COUNT(*) FROM export_jobs WHERE client_id = %s AND state IN ('queued', 'running')`, p(1)),
		// The oldest queued job, or running one whose node stopped renewing
		// its lease. Nodes claiming at once skip each other's pick.
		claimPick: fmt.Sprintf(`SELECT id FROM export_jobs WHERE state = 'queued' OR (state = 'running' AND lease_until < %s) ORDER BY created, id LIMIT 1`, p(1)) +
			db.d.SQL.SkipLocked,
		claim: fmt.Sprintf(`UPDATE export_jobs SET state = 'running', owner = %s, lease_until = %s, attempts = attempts + 1 WHERE id = %s RETURNING %s`,
			p(1), p(2), p(3), jobColumns),
		renew: fmt.Sprintf(`UPDATE export_jobs SET lease_until = %s, progress = %s WHERE id = %s AND owner = %s AND state = 'running'`,
			p(1), p(2), p(3), p(4)),
		finish: fmt.Sprintf(`UPDATE export_jobs SET state = %s, result = %s, owner = '', lease_until = 0 WHERE id = %s AND owner = %s AND state = 'running'`,
			p(1), p(2), p(3), p(4)),
		deleteJob: fmt.Sprintf(`DELETE FROM export_jobs WHERE id = %s`, p(1)),
		purgeJobs: fmt.Sprintf(`DELETE FROM export_jobs WHERE expires < %s RETURNING id`, p(1)),
		// The chunk goes in only while owner holds the job; the job row is
		// locked (PostgreSQL) so that a claim or delete cannot pass it.
		addChunk: fmt.Sprintf(`INSERT INTO export_chunks (job, n, chunk, data) SELECT id, %s, %s, %s FROM export_jobs WHERE id = %s AND owner = %s AND state = 'running'`,
			p(2), p(3), p(4), p(1), p(5)) + db.d.SQL.ForUpdate,
		chunkFile: fmt.Sprintf(`INSERT INTO export_files (job, n, type, kind, count, bytes, subsetted) VALUES (%s, %s, %s, %s, %s, %s, %s) `+
			`ON CONFLICT (job, n) DO UPDATE SET count = excluded.count, bytes = export_files.bytes + excluded.bytes, subsetted = excluded.subsetted`, p(1), p(2), p(3), p(4), p(5), p(6), p(7)),
		finishFile: fmt.Sprintf(`INSERT INTO export_files (job, n, type, kind, count, bytes, subsetted) VALUES (%s, %s, %s, %s, %s, %s, %s) `+
			`ON CONFLICT (job, n) DO UPDATE SET type = excluded.type, kind = excluded.kind, count = excluded.count, bytes = excluded.bytes, subsetted = excluded.subsetted`, p(1), p(2), p(3), p(4), p(5), p(6), p(7)),
		files:        fmt.Sprintf(`SELECT n, type, kind, count, bytes, subsetted FROM export_files WHERE job = %s ORDER BY n`, p(1)),
		file:         fmt.Sprintf(`SELECT COUNT(*) FROM export_files WHERE job = %s AND n = %s`, p(1), p(2)),
		readChunk:    fmt.Sprintf(`SELECT chunk, data FROM export_chunks WHERE job = %s AND n = %s AND chunk >= %s ORDER BY chunk LIMIT 1`, p(1), p(2), p(3)),
		deleteChunks: fmt.Sprintf(`DELETE FROM export_chunks WHERE job = %s`, p(1)),
		deleteFiles:  fmt.Sprintf(`DELETE FROM export_files WHERE job = %s`, p(1)),
	}
	actual, _ := exportCache.LoadOrStore(db.d, s)
	return actual.(*exportStatements)
}

// exportTx runs fn in a write transaction, again when it lost a race.
func (db *DB) exportTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err = db.once(ctx, func(ctx context.Context, tx *sql.Tx) error { return fn(tx) })
		if err == nil || !db.retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return db.classify(err)
}

func scanJob(row scanner) (*store.ExportJob, error) {
	j := &store.ExportJob{}
	var state string
	var created, expires, lease int64
	if err := row.Scan(&j.ID, &j.ClientID, &j.Request, &state, &created, &expires, &j.Owner, &lease, &j.Attempts, &j.Progress, &j.Result); err != nil {
		return nil, err
	}
	j.State = store.ExportState(state)
	j.Created, j.Expires, j.LeaseUntil = fromMicro(created), fromMicro(expires), fromMicro(lease)
	return j, nil
}

// CreateExportJob stores a new queued job; ErrExists when the id is taken.
func (db *DB) CreateExportJob(ctx context.Context, j *store.ExportJob) error {
	if j.ID == "" || j.ClientID == "" || j.Created.IsZero() || j.Expires.IsZero() {
		return fmt.Errorf("export job %q: id, client, created and expires are required", j.ID)
	}
	j.State, j.Owner, j.LeaseUntil, j.Attempts, j.Progress, j.Result = store.ExportQueued, "", time.Time{}, 0, "", nil
	n, err := db.writeExec(ctx, db.exportSQL().createJob, j.ID, j.ClientID, nonNil(j.Request), string(j.State), toMicro(j.Created), toMicro(j.Expires))
	if err != nil {
		return fmt.Errorf("export job %s: %w", j.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("export job %s: %w", j.ID, store.ErrExists)
	}
	return nil
}

// ExportJob returns a job, or ErrNotFound.
func (db *DB) ExportJob(ctx context.Context, id string) (*store.ExportJob, error) {
	j, err := scanJob(db.read.QueryRowContext(ctx, db.exportSQL().job, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("export job %s: %w", id, err)
	}
	return j, nil
}

// ExportJobs lists every job, newest first, without its Result.
func (db *DB) ExportJobs(ctx context.Context) ([]*store.ExportJob, error) {
	rows, err := db.read.QueryContext(ctx, db.exportSQL().jobs)
	if err != nil {
		return nil, fmt.Errorf("list export jobs: %w", err)
	}
	defer rows.Close()
	var out []*store.ExportJob
	for rows.Next() {
		j := &store.ExportJob{}
		var state string
		var created, expires, lease int64
		if err := rows.Scan(&j.ID, &j.ClientID, &j.Request, &state, &created, &expires, &j.Owner, &lease, &j.Attempts, &j.Progress); err != nil {
			return nil, fmt.Errorf("list export jobs: %w", err)
		}
		j.State = store.ExportState(state)
		j.Created, j.Expires, j.LeaseUntil = fromMicro(created), fromMicro(expires), fromMicro(lease)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list export jobs: %w", err)
	}
	return out, nil
}

// ActiveExportJobs counts a client's queued and running jobs.
func (db *DB) ActiveExportJobs(ctx context.Context, clientID string) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, db.exportSQL().active, clientID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count export jobs of %s: %w", clientID, err)
	}
	return n, nil
}

// ClaimExportJob hands the oldest claimable job to owner (see
// store.ExportStore).
func (db *DB) ClaimExportJob(ctx context.Context, owner string, now, leaseUntil time.Time) (*store.ExportJob, error) {
	if owner == "" {
		return nil, errors.New("claim export job: no owner")
	}
	q := db.exportSQL()
	var job *store.ExportJob
	err := db.exportTx(ctx, func(tx *sql.Tx) error {
		job = nil
		var id string
		err := tx.QueryRowContext(ctx, q.claimPick, toMicro(now)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		j, err := scanJob(tx.QueryRowContext(ctx, q.claim, owner, toMicro(leaseUntil), id))
		if err != nil {
			return err
		}
		// What an earlier attempt wrote is started over.
		if _, err := tx.ExecContext(ctx, q.deleteChunks, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q.deleteFiles, id); err != nil {
			return err
		}
		job = j
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim export job: %w", err)
	}
	if job != nil {
		if err := db.removeExportFiles(job.ID); err != nil {
			return nil, fmt.Errorf("claim export job: %w", err)
		}
	}
	return job, nil
}

// RenewExportJob extends owner's lease; ErrNotFound when the job is gone
// or no longer owner's.
func (db *DB) RenewExportJob(ctx context.Context, id, owner string, leaseUntil time.Time, progress string) error {
	n, err := db.writeExec(ctx, db.exportSQL().renew, toMicro(leaseUntil), progress, id, owner)
	if err != nil {
		return fmt.Errorf("renew export job %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("renew export job %s for %s: %w", id, owner, store.ErrNotFound)
	}
	return nil
}

// AddExportChunk stores chunk number chunk of file f.N of job f.Job, held
// by owner (ErrNotFound otherwise). The file's row takes f's Type, Kind
// and Count (the lines so far, as the caller counts them) and adds the
// chunk's length to its bytes. Writing a chunk number twice is ErrExists.
func (db *DB) AddExportChunk(ctx context.Context, owner string, f store.ExportFile, chunk int, data []byte) error {
	q := db.exportSQL()
	stored := nonNil(data)
	if db.exportDir != "" {
		stored = []byte{} // the row marks the chunk; its bytes go to the file
	}
	err := db.exportTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q.addChunk, f.Job, f.N, chunk, stored, owner)
		if err != nil {
			if db.d.UniqueViolation(err) {
				return fmt.Errorf("chunk %d: %w", chunk, store.ErrExists)
			}
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(store.ErrNotFound, err)
		}
		_, err = tx.ExecContext(ctx, q.chunkFile, f.Job, f.N, f.Type, f.Kind, f.Count, int64(len(data)), f.Subsetted)
		return err
	})
	if err == nil && db.exportDir != "" {
		err = db.appendExportFile(ctx, f, owner, data)
	}
	if err != nil {
		return fmt.Errorf("export job %s file %d for %s: %w", f.Job, f.N, owner, err)
	}
	return nil
}

// FinishExportJob ends owner's job and records its files' final counts.
func (db *DB) FinishExportJob(ctx context.Context, id, owner string, state store.ExportState, result []byte, files []store.ExportFile) error {
	if state != store.ExportDone && state != store.ExportFailed {
		return fmt.Errorf("finish export job %s: state %q is not an end state", id, state)
	}
	q := db.exportSQL()
	if state == store.ExportDone && db.exportDir != "" {
		// A job reported done must survive a power loss with its files.
		if err := db.syncExportFiles(ctx, id, owner); err != nil {
			return fmt.Errorf("finish export job %s: %w", id, err)
		}
	}
	err := db.exportTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q.finish, string(state), nonNil(result), id, owner)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(store.ErrNotFound, err)
		}
		for _, f := range files {
			if _, err := tx.ExecContext(ctx, q.finishFile, id, f.N, f.Type, f.Kind, f.Count, f.Bytes, f.Subsetted); err != nil {
				return fmt.Errorf("file %d: %w", f.N, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finish export job %s for %s: %w", id, owner, err)
	}
	return nil
}

// deleteJobFiles deletes a job's chunks and files, after its row (whose
// lock, on PostgreSQL, a chunk being added holds: it cannot come after).
func deleteJobFiles(ctx context.Context, tx *sql.Tx, q *exportStatements, id string) error {
	if _, err := tx.ExecContext(ctx, q.deleteChunks, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, q.deleteFiles, id)
	return err
}

// DeleteExportJob removes a job and its files (ErrNotFound if none).
func (db *DB) DeleteExportJob(ctx context.Context, id string) error {
	err := db.exportTx(ctx, func(tx *sql.Tx) error { return deleteJob(ctx, tx, db.exportSQL(), id) })
	if err == nil {
		err = db.removeExportFiles(id)
	}
	if err != nil {
		return fmt.Errorf("delete export job %s: %w", id, err)
	}
	return nil
}

// DeleteExportJob removes a job and its rows in the transaction; its files
// in the export folder go once the transaction commits (see
// store.Tx.DeleteExportJob).
func (t *tx) DeleteExportJob(ctx context.Context, id string) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	if err := deleteJob(ctx, t.tx, t.db.exportSQL(), id); err != nil {
		return fmt.Errorf("delete export job %s: %w", id, err)
	}
	t.exportsDeleted = append(t.exportsDeleted, id)
	return nil
}

// deleteJob deletes a job's row and its files' rows (ErrNotFound when
// there is no such job).
func deleteJob(ctx context.Context, tx *sql.Tx, q *exportStatements, id string) error {
	res, err := tx.ExecContext(ctx, q.deleteJob, id)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return deleteJobFiles(ctx, tx, q, id)
}

// ExportFiles lists a job's files in order of N.
func (db *DB) ExportFiles(ctx context.Context, id string) ([]store.ExportFile, error) {
	rows, err := db.read.QueryContext(ctx, db.exportSQL().files, id)
	if err != nil {
		return nil, fmt.Errorf("export job %s files: %w", id, err)
	}
	defer rows.Close()
	var out []store.ExportFile
	for rows.Next() {
		f := store.ExportFile{Job: id}
		if err := rows.Scan(&f.N, &f.Type, &f.Kind, &f.Count, &f.Bytes, &f.Subsetted); err != nil {
			return nil, fmt.Errorf("export job %s files: %w", id, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("export job %s files: %w", id, err)
	}
	return out, nil
}

// ReadExportFile calls fn with a file's chunks in order, reading one
// chunk per query: no connection is held while fn runs (it writes to an
// HTTP client, who may be slow), and one chunk is in memory at a time. A
// file deleted half-way (its job cancelled) ends early.
func (db *DB) ReadExportFile(ctx context.Context, id string, n int, fn func(chunk []byte) error) error {
	q := db.exportSQL()
	var files int
	if err := db.read.QueryRowContext(ctx, q.file, id, n).Scan(&files); err != nil {
		return fmt.Errorf("export job %s file %d: %w", id, n, err)
	}
	if files == 0 {
		return fmt.Errorf("export job %s file %d: %w", id, n, store.ErrNotFound)
	}
	if db.exportDir != "" {
		return db.readExportFile(ctx, id, n, fn)
	}
	var data []byte
	for next := 0; ; next++ {
		err := db.read.QueryRowContext(ctx, q.readChunk, id, n, next).Scan(&next, &data)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("export job %s file %d chunk %d: %w", id, n, next, err)
		}
		if err := fn(data); err != nil {
			return err
		}
	}
}

// PurgeExportJobs removes the jobs that expired before now, with their
// files, and returns how many.
func (db *DB) PurgeExportJobs(ctx context.Context, now time.Time) (int, error) {
	q := db.exportSQL()
	var purged int
	var purgedIDs []string
	err := db.exportTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q.purgeJobs, toMicro(now))
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if err := deleteJobFiles(ctx, tx, q, id); err != nil {
				return err
			}
		}
		purged = len(ids)
		purgedIDs = ids
		return nil
	})
	for _, id := range purgedIDs {
		if err == nil {
			err = db.removeExportFiles(id)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("purge export jobs: %w", err)
	}
	return purged, nil
}
