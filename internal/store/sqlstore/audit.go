package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/vhdir/vhdir/internal/store"
)

// The audit chain (store.AuditStore, Tx.ChainAudit): table audit_chain of
// migrations 0003 and 0006 (the staged body). Appenders take one advisory
// lock (PostgreSQL; SQLite's single writer needs none) and read the last
// link inside their transaction, so nodes sharing a database extend one
// chain without forks; the lock is held until commit, which is why
// ChainAudit comes last in a write.

var _ store.AuditStore = (*DB)(nil)

// auditLockKey names the chain's advisory lock.
const auditLockKey = "vhdir:audit-chain"

// ChainAudit appends items to the chain (see store.Tx).
func (t *tx) ChainAudit(ctx context.Context, items []store.AuditItem) ([]store.AuditLink, error) {
	if len(items) == 0 {
		return nil, nil
	}
	seq, prev, err := t.auditHead(ctx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		seq, prev = 0, []byte{}
	case err != nil:
		return nil, fmt.Errorf("audit chain: last link: %w", err)
	}
	out := make([]store.AuditLink, 0, len(items))
	p := t.db.d.InsertPlaceholder
	for start := 0; start < len(items); start += 200 {
		batch := items[start:min(start+200, len(items))]
		var b strings.Builder
		b.WriteString("INSERT INTO audit_chain (seq, res_id, prev, hash, body) VALUES ")
		args := make([]any, 0, 5*len(batch))
		for i, it := range batch {
			seq++
			hash := store.AuditHash(prev, seq, it.ID, it.Body)
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "(%s, %s, %s, %s, %s)", p(n+1), p(n+2), p(n+3), p(n+4), p(n+5))
			args = append(args, seq, it.ID, prev, hash, it.Body)
			out = append(out, store.AuditLink{Seq: seq, ID: it.ID, Prev: prev, Hash: hash})
			prev = hash
		}
		ins, err := t.stmt(ctx, b.String())
		if err != nil {
			return nil, err
		}
		if _, err := ins.ExecContext(ctx, args...); err != nil {
			return nil, fmt.Errorf("audit chain: append: %w", err)
		}
	}
	return out, nil
}

// AppendAudit appends items to the chain in a transaction of its own (see
// store.AuditStore). It writes no version, so it reads no export mark:
// one statement less in the commit every audited read waits for.
func (db *DB) AppendAudit(ctx context.Context, items []store.AuditItem) ([]store.AuditLink, error) {
	var links []store.AuditLink
	err := db.update(ctx, false, func(tx store.Tx) error {
		var err error
		links, err = tx.ChainAudit(ctx, items)
		return err
	})
	return links, err
}

// auditHead takes the chain's lock and reads its last link
// (sql.ErrNoRows for an empty chain).
func (t *tx) auditHead(ctx context.Context) (seq int64, hash []byte, err error) {
	if t.db.d.AuditHead != "" {
		head, err := t.stmt(ctx, t.db.d.AuditHead)
		if err != nil {
			return 0, nil, err
		}
		err = head.QueryRowContext(ctx, lockKey(auditLockKey)).Scan(&seq, &hash)
		return seq, hash, err
	}
	if err := t.Lock(ctx, auditLockKey); err != nil {
		return 0, nil, fmt.Errorf("audit chain: lock: %w", err)
	}
	head, err := t.stmt(ctx, `SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		return 0, nil, err
	}
	err = head.QueryRowContext(ctx).Scan(&seq, &hash)
	return seq, hash, err
}

// AuditChain returns links after a position, each with its AuditEvent's
// current body (the stored resource's, else the one staged in the link):
// an AuditEvent is written once, so an edit in place or a later version
// both show as a body that no longer hashes to the link.
func (db *DB) AuditChain(ctx context.Context, after int64, limit int) ([]store.AuditLink, error) {
	p := db.d.Placeholder
	q := fmt.Sprintf(`SELECT c.seq, c.res_id, c.prev, c.hash, COALESCE(r.body, c.body) FROM audit_chain c `+
		`LEFT JOIN resources r ON r.type = 'AuditEvent' AND r.id = c.res_id `+
		`WHERE c.seq > %s ORDER BY c.seq LIMIT %s`, p(1), p(2))
	rows, err := db.read.QueryContext(ctx, q, after, limit)
	if err != nil {
		return nil, fmt.Errorf("audit chain: %w", err)
	}
	defer rows.Close()
	var out []store.AuditLink
	for rows.Next() {
		var l store.AuditLink
		if err := rows.Scan(&l.Seq, &l.ID, &l.Prev, &l.Hash, &l.Body); err != nil {
			return nil, fmt.Errorf("audit chain: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// AuditIndexed returns the last chain position whose AuditEvent has index rows.
func (db *DB) AuditIndexed(ctx context.Context) (int64, error) {
	var seq int64
	if err := db.read.QueryRowContext(ctx, `SELECT seq FROM audit_indexed WHERE one = 1`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("audit index position: %w", err)
	}
	return seq, nil
}

// IndexAudit stores chained AuditEvents as resources with their index
// rows (see store.Tx).
func (t *tx) IndexAudit(ctx context.Context, from, to int64, items []store.AuditIndexItem) (bool, error) {
	p := t.db.d.Placeholder
	res, err := t.tx.ExecContext(ctx, fmt.Sprintf(`UPDATE audit_indexed SET seq = %s WHERE one = 1 AND seq = %s`, p(1), p(2)), to, from)
	if err != nil {
		return false, fmt.Errorf("audit index position: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	rows, err := t.auditRows(ctx, items)
	if err != nil {
		return false, err
	}
	var vs []*store.Version
	var idxs []*store.Index
	masks := map[int64][]any{} // new idx_tables value → rids that take it
	for _, it := range items {
		cur, ok := rows[it.ID]
		if !ok {
			if it.Version == nil {
				continue // gone: verify reports it
			}
			v := *it.Version
			// Never before the latest export snapshot: a record chained
			// just before a snapshot is stored after it, and the next
			// _since export must find it (the body keeps its own time).
			if v.LastUpdated.Before(t.notBefore) {
				v.LastUpdated = t.notBefore
			}
			vs, idxs = append(vs, &v), append(idxs, it.Index)
			continue
		}
		// Stored when it was chained (before migration 0006): add its rows.
		if err := deleteIndex(ctx, t, cur.rid, cur.idxTables); err != nil {
			return false, err
		}
		if err := writeIndex(ctx, t, cur.rid, it.Index); err != nil {
			return false, err
		}
		if mask := tableMask(it.Index); mask != cur.idxTables {
			masks[mask] = append(masks[mask], cur.rid)
		}
	}
	// Records of one kind share a mask: a few statements for the batch
	// instead of one round trip per record.
	for mask, rids := range masks {
		if err := t.setIdxTables(ctx, mask, rids); err != nil {
			return false, err
		}
	}
	if len(vs) > 0 {
		if err := t.PutMany(ctx, vs, idxs); err != nil {
			return false, fmt.Errorf("audit index: %w", err)
		}
	}
	// Each record is kept once: as a resource from now on. A record left
	// out (damaged) keeps its staged body for verify to judge.
	if _, err := t.tx.ExecContext(ctx, fmt.Sprintf(`UPDATE audit_chain SET body = NULL WHERE seq > %s AND seq <= %s AND body IS NOT NULL `+
		`AND EXISTS (SELECT 1 FROM resources r WHERE r.type = 'AuditEvent' AND r.id = audit_chain.res_id)`, p(1), p(2)), from, to); err != nil {
		return false, fmt.Errorf("audit index: clear staged bodies: %w", err)
	}
	return true, nil
}

// setIdxTables sets resources.idx_tables to mask on rows rids, in chunks of
// at most 500.
func (t *tx) setIdxTables(ctx context.Context, mask int64, rids []any) error {
	p := t.db.d.Placeholder
	for start := 0; start < len(rids); start += 500 {
		part := rids[start:min(start+500, len(rids))]
		var b strings.Builder
		fmt.Fprintf(&b, "UPDATE resources SET idx_tables = %s WHERE rid IN (", p(1))
		for i := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p(i + 2))
		}
		b.WriteString(")")
		if _, err := t.tx.ExecContext(ctx, b.String(), append([]any{mask}, part...)...); err != nil {
			return fmt.Errorf("audit index: %w", err)
		}
	}
	return nil
}

// auditRows finds the rows of AuditEvents by id (without their bodies,
// which the indexer already has), in chunks of at most 500 ids.
func (t *tx) auditRows(ctx context.Context, items []store.AuditIndexItem) (map[string]current, error) {
	out := make(map[string]current, len(items))
	p := t.db.d.Placeholder
	for start := 0; start < len(items); start += 500 {
		part := items[start:min(start+500, len(items))]
		var b strings.Builder
		b.WriteString("SELECT id, rid, idx_tables FROM resources WHERE type = 'AuditEvent' AND id IN (")
		args := make([]any, len(part))
		for i, it := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p(i + 1))
			args[i] = it.ID
		}
		b.WriteString(")")
		rows, err := t.tx.QueryContext(ctx, b.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("audit index: %w", err)
		}
		for rows.Next() {
			var id string
			var c current
			if err := rows.Scan(&id, &c.rid, &c.idxTables); err != nil {
				rows.Close()
				return nil, fmt.Errorf("audit index: %w", err)
			}
			out[id] = c
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// errProbe rolls back AuditWritable's probe.
var errProbe = errors.New("audit probe: rolled back")

// AuditWritable appends a probe link as every request's records are
// appended (the chain's lock, its head, the insert), then rolls it back:
// a chain that refuses inserts (a revoked privilege, a trigger, a full
// disk) makes it fail, as it makes every request fail.
func (db *DB) AuditWritable(ctx context.Context) error {
	err := db.update(ctx, false, func(tx store.Tx) error {
		if _, err := tx.ChainAudit(ctx, []store.AuditItem{{ID: "readiness-probe", Body: []byte("{}")}}); err != nil {
			return err
		}
		return errProbe
	})
	if errors.Is(err, errProbe) {
		return nil
	}
	return fmt.Errorf("audit chain not writable: %w", err)
}
