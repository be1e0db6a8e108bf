package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/vhdir/vhdir/internal/store"
)

// The chain in a database of its own (Config.AuditWrite: SQLite's audit
// file, attached to the data connections). The records of requests that
// change nothing are appended on its pool, so they neither queue behind a
// long write nor touch the data database, whose readers would otherwise
// drop their page caches at every append. A write appends its records
// from its own transaction, which then spans both databases; SQLite
// commits the data database first, so that transaction also keeps a copy
// of them in audit_pending, beside its data: a crash between the two
// commits, or an audit file refusing the second, leaves the copy, which
// the next write chains before its own records (lateCopies), and so does
// recoverPending when the store opens. Copies already chained are pruned
// by the next write.

// keepPending copies items into audit_pending, in the write transaction
// that chains them, as one row (a write chains its records a few hundred
// at a time: audit.Log.ChainTx), and prunes the copies earlier writes
// left once chained. A row is chained when its last record is: a chunk is
// appended in one transaction.
func (t *tx) keepPending(ctx context.Context, items []store.AuditItem) error {
	// Driven by audit_pending (a row or two), each probing the chain's
	// res_id index: never a pass over the chain.
	prune, err := t.stmt(ctx, `DELETE FROM audit_pending WHERE EXISTS (SELECT 1 FROM audit_chain c WHERE c.res_id = audit_pending.last_id)`)
	if err != nil {
		return err
	}
	if _, err := prune.ExecContext(ctx); err != nil {
		return fmt.Errorf("audit chain: prune copies: %w", err)
	}
	p := t.db.d.Placeholder
	keep, err := t.stmt(ctx, `INSERT INTO audit_pending (last_id, items) VALUES (`+p(1)+`, `+p(2)+`)`)
	if err != nil {
		return err
	}
	if _, err := keep.ExecContext(ctx, items[len(items)-1].ID, packItems(items)); err != nil {
		return fmt.Errorf("audit chain: copy records: %w", err)
	}
	return nil
}

// packItems writes items' ids and bodies, each as its length (uvarint)
// and its bytes.
func packItems(items []store.AuditItem) []byte {
	n := 0
	for _, it := range items {
		n += len(it.ID) + len(it.Body) + 2*binary.MaxVarintLen64
	}
	out := make([]byte, 0, n)
	for _, it := range items {
		out = binary.AppendUvarint(out, uint64(len(it.ID)))
		out = append(out, it.ID...)
		out = binary.AppendUvarint(out, uint64(len(it.Body)))
		out = append(out, it.Body...)
	}
	return out
}

// unpackItems reads what packItems wrote, with each record's fields read
// back from its bytes.
func unpackItems(b []byte) ([]store.AuditItem, error) {
	var items []store.AuditItem
	next := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, errors.New("truncated copy")
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v, nil
	}
	for len(b) > 0 {
		id, err := next()
		if err != nil {
			return nil, err
		}
		body, err := next()
		if err != nil {
			return nil, err
		}
		f, err := store.AuditFieldsOf(body)
		if err != nil {
			return nil, fmt.Errorf("copy of %s: %w", id, err)
		}
		items = append(items, store.AuditItem{ID: string(id), Body: body, Fields: f})
	}
	return items, nil
}

// appendOwn appends items on the chain's own pool, in a transaction of
// their own.
func (db *DB) appendOwn(ctx context.Context, items []store.AuditItem) ([]store.AuditLink, error) {
	if len(items) == 0 {
		return nil, nil
	}
	var links []store.AuditLink
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		links, err = db.appendOwnOnce(ctx, items, true)
		if err = db.classify(err); err == nil || !errors.Is(err, store.ErrRetry) || ctx.Err() != nil {
			break
		}
	}
	return links, err
}

// probeOwn appends a probe link on the chain's own pool and rolls it
// back (AuditWritable).
func (db *DB) probeOwn(ctx context.Context) error {
	_, err := db.appendOwnOnce(ctx, []store.AuditItem{readinessProbe}, false)
	return err
}

// appendOwnOnce appends items on the chain's own pool and commits, or
// rolls back when commit is false. The pool's transactions hold the
// chain's write lock from BEGIN; its statements are prepared before the
// transaction takes the pool's one connection.
func (db *DB) appendOwnOnce(ctx context.Context, items []store.AuditItem, commit bool) ([]store.AuditLink, error) {
	chunks := insertChunks(len(items), len(auditColumns), db.d.MaxParams)
	head, err := db.auditStmts.stmt(ctx, auditHeadSQL)
	if err != nil {
		return nil, err
	}
	inserts := make([]*sql.Stmt, len(chunks))
	for i, n := range chunks {
		if inserts[i], err = db.auditStmts.stmt(ctx, db.insertSQL("INSERT INTO", "audit_chain", auditColumns, n)); err != nil {
			return nil, err
		}
	}
	db.chainMu.Lock()
	defer db.chainMu.Unlock()
	tx, err := db.auditWrite.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("audit chain: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	seq, prev, err := scanHead(tx.StmtContext(ctx, head).QueryRowContext(ctx))
	if err != nil {
		return nil, err
	}
	links := chainLinks(seq, prev, items)
	args, refs := linkArgs(items, links)
	width := len(auditColumns)
	for i, n := range chunks {
		if _, err := tx.StmtContext(ctx, inserts[i]).ExecContext(ctx, args[:n*width]...); err != nil {
			return nil, fmt.Errorf("audit chain: append: %w", err)
		}
		args = args[n*width:]
	}
	if err := db.insertOwnRefs(ctx, tx, refs); err != nil {
		return nil, err
	}
	if !commit {
		return links, nil
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("audit chain: commit: %w", err)
	}
	return links, nil
}

// insertOwnRefs writes audit_ref rows in a transaction of the chain's own
// pool. They are rare (a record's references beyond its first agent and
// entity), so their statements are prepared in the transaction.
func (db *DB) insertOwnRefs(ctx context.Context, tx *sql.Tx, refs []any) error {
	width := len(auditRefColumns)
	for _, n := range insertChunks(len(refs)/width, width, db.d.MaxParams) {
		if _, err := tx.ExecContext(ctx, db.insertSQL("INSERT INTO", "audit_ref", auditRefColumns, n), refs[:n*width]...); err != nil {
			return fmt.Errorf("audit chain: references: %w", err)
		}
		refs = refs[n*width:]
	}
	return nil
}

// recoverPending chains the records of writes whose data committed but
// whose records did not reach the chain (a crash between the two
// commits), then drops the copies chained. It runs when the store opens,
// before anything is served, holding the database's write lock while it
// reads the copies and chains them: a write of another process (vhdir
// serve, beside a command opening the store) cannot be between its two
// commits then, so no record is chained twice.
func (db *DB) recoverPending(ctx context.Context, logger *slog.Logger) error {
	if db.auditWrite == nil {
		return nil
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("audit chain: read copies: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // it writes nothing: rolled back to let the lock go
	items, err := unchainedCopies(ctx, tx)
	if err != nil {
		return err
	}
	if len(items) > 0 {
		if _, err := db.appendOwn(ctx, items); err != nil {
			return err
		}
		logger.Warn("audit chain: chained the records of writes committed just before a crash", "records", len(items))
	}
	if err := tx.Rollback(); err != nil {
		return fmt.Errorf("audit chain: read copies: %w", err)
	}
	if _, err := db.write.ExecContext(ctx, `DELETE FROM audit_pending WHERE EXISTS (SELECT 1 FROM audit_chain c WHERE c.res_id = audit_pending.last_id)`); err != nil {
		return fmt.Errorf("audit chain: drop copies: %w", err)
	}
	return nil
}

// unchainedSQL selects the copies whose records are not in the chain, in
// the order they were written.
const unchainedSQL = `SELECT items FROM audit_pending p WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.res_id = p.last_id) ORDER BY rowid`

// unchainedCopies reads the copies whose records are not in the chain.
func unchainedCopies(ctx context.Context, tx *sql.Tx) ([]store.AuditItem, error) {
	rows, err := tx.QueryContext(ctx, unchainedSQL)
	if err != nil {
		return nil, fmt.Errorf("audit chain: read copies: %w", err)
	}
	return readCopies(rows)
}

// lateCopies reads, in a write transaction holding the chain's lock, the
// copies of earlier writes whose records are not in the chain: the
// audit file refused their commit (a full disk) after the database had
// taken theirs. The transaction chains them before its own records.
func (t *tx) lateCopies(ctx context.Context) ([]store.AuditItem, error) {
	st, err := t.stmt(ctx, unchainedSQL)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit chain: read copies: %w", err)
	}
	return readCopies(rows)
}

// readCopies unpacks the rows of unchainedSQL, and closes them.
func readCopies(rows *sql.Rows) ([]store.AuditItem, error) {
	defer rows.Close()
	var items []store.AuditItem
	for rows.Next() {
		var packed []byte
		if err := rows.Scan(&packed); err != nil {
			return nil, fmt.Errorf("audit chain: read copies: %w", err)
		}
		chunk, err := unpackItems(packed)
		if err != nil {
			return nil, fmt.Errorf("audit chain: read copies: %w", err)
		}
		items = append(items, chunk...)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit chain: read copies: %w", err)
	}
	return items, nil
}
