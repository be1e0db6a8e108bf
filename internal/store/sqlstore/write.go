package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vhdir/vhdir/internal/store"
)

// currentRow reads (and where needed locks) a current row, through the
// transaction's cache.
func (t *tx) currentRow(ctx context.Context, typ, id string) (*current, error) {
	k := store.Key{Type: typ, ID: id}
	if _, ok := t.deferredKeys[k]; ok {
		if err := t.insertDeferred(ctx); err != nil {
			return nil, err
		}
	}
	if c, ok := t.known[k]; ok {
		if c == nil {
			return nil, store.ErrNotFound
		}
		return c, nil
	}
	s, err := t.stmt(ctx, t.db.d.SQL.CurrentByKeyForUpdate)
	if err != nil {
		return nil, err
	}
	c, err := scanCurrent(s.QueryRowContext(ctx, typ, id), typ, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	t.remember(k, c)
	return c, err
}

func (t *tx) remember(k store.Key, c *current) {
	if t.known == nil {
		t.known = map[store.Key]*current{}
	}
	t.known[k] = c
}

func (t *tx) Current(ctx context.Context, typ, id string) (*store.Version, error) {
	if i, ok := t.deferredKeys[store.Key{Type: typ, ID: id}]; ok {
		v := *t.deferred.vs[i] // held back: answered without writing it yet
		return &v, nil
	}
	c, err := t.currentRow(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	v := c.v
	return &v, nil
}

// CurrentMany reads the current rows of many resources with few queries.
func (t *tx) CurrentMany(ctx context.Context, keys []store.Key) (map[store.Key]*store.Version, error) {
	out := make(map[store.Key]*store.Version, len(keys))
	var missing []store.Key
	for _, k := range keys {
		if i, ok := t.deferredKeys[k]; ok {
			v := *t.deferred.vs[i]
			out[k] = &v
			continue
		}
		if c, ok := t.known[k]; ok {
			if c != nil {
				v := c.v
				out[k] = &v
			}
			continue
		}
		missing = append(missing, k)
	}
	const chunk = 500
	for start := 0; start < len(missing); start += chunk {
		part := missing[start:min(start+chunk, len(missing))]
		if err := t.currentChunk(ctx, part, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *tx) currentChunk(ctx context.Context, keys []store.Key, out map[store.Key]*store.Version) error {
	var b strings.Builder
	b.WriteString("SELECT type, id, rid, version, seq, last_updated, deleted, idx_tables, guard, restricted, body FROM resources WHERE (type, id) IN (VALUES ")
	args := make([]any, 0, 2*len(keys))
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(%s, %s)", t.db.d.InsertPlaceholder(2*i+1), t.db.d.InsertPlaceholder(2*i+2))
		args = append(args, k.Type, k.ID)
	}
	b.WriteString(")")
	b.WriteString(t.db.d.SQL.ForUpdate)
	rows, err := t.tx.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return fmt.Errorf("read current rows: %w", err)
	}
	defer rows.Close()
	for _, k := range keys {
		t.remember(k, nil) // absent unless a row says otherwise
	}
	for rows.Next() {
		var typ, id string
		c, err := scanCurrentRow(rows, &typ, &id)
		if err != nil {
			return err
		}
		t.remember(store.Key{Type: typ, ID: id}, c)
		v := c.v
		out[store.Key{Type: typ, ID: id}] = &v
	}
	return rows.Err()
}

// reserveSeqs returns n fresh write sequence numbers, increasing.
func (t *tx) reserveSeqs(ctx context.Context, n int) ([]int64, error) {
	s, err := t.stmt(ctx, t.db.d.SQL.ReserveSeqs)
	if err != nil {
		return nil, err
	}
	rows, err := s.QueryContext(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("reserve sequence numbers: %w", err)
	}
	defer rows.Close()
	seqs := make([]int64, 0, n)
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		seqs = append(seqs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if t.db.d.SQL.SeqRange && len(seqs) == 1 {
		last := seqs[0]
		seqs = seqs[:0]
		for i := int64(n) - 1; i >= 0; i-- {
			seqs = append(seqs, last-i)
		}
	}
	if len(seqs) != n {
		return nil, fmt.Errorf("reserve sequence numbers: got %d, want %d", len(seqs), n)
	}
	return seqs, nil
}

func (t *tx) Put(ctx context.Context, v *store.Version, idx *store.Index) error {
	return t.PutMany(ctx, []*store.Version{v}, []*store.Index{idx})
}

// PutMany stores versions in order. Runs of new resources are inserted with
// multi-row INSERTs; replacements go one by one. Each version's Guard and
// Restricted are set from its index's Restriction (a delete without one
// keeps its previous version's).
//
// New resources are held back (deferred) until the transaction next needs
// them written, or holds maxDeferred of them: the creates of a batch, each
// its own Put, are then inserted together, one sequence reservation and
// one multi-row INSERT for many round trips. Current and CurrentMany
// answer a held-back resource from memory; every other read, and every
// other write, inserts them first (flush, currentRow), so the transaction
// sees them; a failure of their insert fails the transaction, as a failure
// of the index rows buffered the same way does.
func (t *tx) PutMany(ctx context.Context, vs []*store.Version, idxs []*store.Index) error {
	if len(vs) != len(idxs) {
		return fmt.Errorf("put: %d versions but %d indexes", len(vs), len(idxs))
	}
	for i, v := range vs {
		if v.Type == store.AuditType {
			return fmt.Errorf("put %s/%s: AuditEvents are kept by the audit chain alone (ChainAudit)", v.Type, v.ID)
		}
		if v.VersionID < 1 {
			return fmt.Errorf("put %s/%s: version %d: %w", v.Type, v.ID, v.VersionID, store.ErrVersionConflict)
		}
		r := restrictionOf(idxs[i])
		if err := checkRestriction(r); err != nil {
			return fmt.Errorf("put %s/%s: %w", v.Type, v.ID, err)
		}
		v.Guard, v.Restricted = r.Root, r.Marked
	}
	if t.deferrable(vs) {
		t.deferNew(vs, idxs)
		if len(t.deferred.vs) >= maxDeferred {
			return t.insertDeferred(ctx)
		}
		return nil
	}
	if err := t.insertDeferred(ctx); err != nil {
		return err
	}
	return t.putNow(ctx, vs, idxs)
}

// maxDeferred bounds the new resources a transaction holds back.
const maxDeferred = 256

// deferredNew holds new resources not inserted yet, in order.
type deferredNew struct {
	vs   []*store.Version
	idxs []*store.Index
}

// deferrable reports whether vs are all new resources that may be held
// back: none known to exist already nor held back already (those go now,
// to fail as they would).
func (t *tx) deferrable(vs []*store.Version) bool {
	for _, v := range vs {
		k := store.Key{Type: v.Type, ID: v.ID}
		if _, held := t.deferredKeys[k]; v.VersionID != 1 || t.known[k] != nil || held {
			return false
		}
	}
	return true
}

func (t *tx) deferNew(vs []*store.Version, idxs []*store.Index) {
	if t.deferredKeys == nil {
		t.deferredKeys = map[store.Key]int{}
	}
	for i, v := range vs {
		t.deferredKeys[store.Key{Type: v.Type, ID: v.ID}] = len(t.deferred.vs) + i
	}
	t.deferred.vs = append(t.deferred.vs, vs...)
	t.deferred.idxs = append(t.deferred.idxs, idxs...)
}

// insertDeferred inserts the new resources held back.
func (t *tx) insertDeferred(ctx context.Context) error {
	if len(t.deferred.vs) == 0 {
		return nil
	}
	d := t.deferred
	t.deferred = deferredNew{}
	clear(t.deferredKeys)
	return t.putNow(ctx, d.vs, d.idxs)
}

// putNow writes versions checked by PutMany.
func (t *tx) putNow(ctx context.Context, vs []*store.Version, idxs []*store.Index) error {
	seqs, err := t.reserveSeqs(ctx, len(vs))
	if err != nil {
		return err
	}
	var run []int // indexes of consecutive new resources
	flushRun := func() error {
		if len(run) == 0 {
			return nil
		}
		err := t.insertMany(ctx, vs, idxs, run)
		run = run[:0]
		return err
	}
	for i, v := range vs {
		v.Seq = seqs[i]
		if v.VersionID == 1 {
			run = append(run, i)
			continue
		}
		if err := flushRun(); err != nil {
			return err
		}
		rid, err := t.replace(ctx, v, idxs[i])
		if err != nil {
			return err
		}
		if err := writeIndex(ctx, t, rid, idxs[i]); err != nil {
			return err
		}
		t.bufferKeys(rid, v.VersionID, restrictionOf(idxs[i]).Rules)
	}
	return flushRun()
}

// insertMany inserts the new resources vs[run…] with multi-row INSERTs,
// learns their row ids and buffers their index rows.
func (t *tx) insertMany(ctx context.Context, vs []*store.Version, idxs []*store.Index, run []int) error {
	const cols = 10
	maxRows := 128
	for maxRows*cols > t.db.d.MaxParams {
		maxRows /= 2
	}
	for len(run) > 0 {
		n := maxRows
		for n > len(run) {
			n /= 2
		}
		if err := t.insertChunk(ctx, vs, idxs, run[:n]); err != nil {
			return err
		}
		run = run[n:]
	}
	return nil
}

func (t *tx) insertChunk(ctx context.Context, vs []*store.Version, idxs []*store.Index, part []int) error {
	s, err := t.stmt(ctx, t.insertResourcesSQL(len(part)))
	if err != nil {
		return err
	}
	args := make([]any, 0, 10*len(part))
	pos := make(map[store.Key]int, len(part))
	for _, i := range part {
		v := vs[i]
		args = append(args, v.Type, v.ID, v.VersionID, v.Seq, v.LastUpdated.UnixMicro(), v.Deleted, tableMask(idxs[i]), v.Guard, v.Restricted, nullBody(v.Body))
		pos[store.Key{Type: v.Type, ID: v.ID}] = i
	}
	rows, err := s.QueryContext(ctx, args...)
	if err != nil {
		return t.insertError(vs[part[0]], err)
	}
	rids := make(map[int]int64, len(part))
	for rows.Next() {
		var typ, id string
		var rid int64
		if err := rows.Scan(&typ, &id, &rid); err != nil {
			rows.Close()
			return err
		}
		rids[pos[store.Key{Type: typ, ID: id}]] = rid
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return t.insertError(vs[part[0]], err)
	}
	rows.Close()
	if len(rids) != len(part) {
		return fmt.Errorf("create: %d rows inserted, %d expected", len(rids), len(part))
	}
	for _, i := range part {
		v := vs[i]
		c := &current{rid: rids[i], idxTables: tableMask(idxs[i]), v: *v}
		t.remember(store.Key{Type: v.Type, ID: v.ID}, c)
		if err := writeIndex(ctx, t, rids[i], idxs[i]); err != nil {
			return err
		}
		t.bufferKeys(rids[i], v.VersionID, restrictionOf(idxs[i]).Rules)
	}
	return nil
}

func (t *tx) insertError(v *store.Version, err error) error {
	if t.db.d.UniqueViolation(err) {
		// A concurrent transaction created one of them first; running
		// again turns the create into an update or a clean ErrExists.
		return fmt.Errorf("create %s/%s…: %w: %w", v.Type, v.ID, store.ErrRetry, store.ErrExists)
	}
	return fmt.Errorf("create %s/%s…: %w", v.Type, v.ID, err)
}

func (t *tx) insertResourcesSQL(n int) string {
	key := fmt.Sprintf("resources/%d", n)
	if s, ok := t.db.insertCache.Load(key); ok {
		return s.(string)
	}
	var b strings.Builder
	b.WriteString("INSERT INTO resources (type, id, version, seq, last_updated, deleted, idx_tables, guard, restricted, body) VALUES ")
	p := 1
	for r := 0; r < n; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c < 10; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t.db.d.InsertPlaceholder(p))
			p++
		}
		b.WriteByte(')')
	}
	b.WriteString(" RETURNING type, id, rid")
	s := b.String()
	t.db.insertCache.Store(key, s)
	return s
}

// replace makes v, with index idx, the current version of its resource
// and returns the resource's rid. The index rows and restriction keys are
// the caller's to write.
func (t *tx) replace(ctx context.Context, v *store.Version, idx *store.Index) (int64, error) {
	cur, err := t.currentRow(ctx, v.Type, v.ID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("update %s/%s to version %d: no current version: %w", v.Type, v.ID, v.VersionID, store.ErrVersionConflict)
	}
	if err != nil {
		return 0, err
	}
	if cur.v.VersionID != v.VersionID-1 {
		return 0, fmt.Errorf("update %s/%s to version %d: current is %d: %w", v.Type, v.ID, v.VersionID, cur.v.VersionID, store.ErrVersionConflict)
	}
	s, err := t.stmt(ctx, t.db.d.SQL.ArchiveCurrent)
	if err != nil {
		return 0, err
	}
	if _, err := s.ExecContext(ctx, cur.rid); err != nil {
		return 0, fmt.Errorf("archive %s/%s: %w", v.Type, v.ID, err)
	}
	if err := deleteIndex(ctx, t, cur.rid, cur.idxTables); err != nil {
		return 0, err
	}
	if err := t.keepRestriction(ctx, v, idx, cur); err != nil {
		return 0, err
	}
	s, err = t.stmt(ctx, t.db.d.SQL.UpdateResource)
	if err != nil {
		return 0, err
	}
	tables := tableMask(idx)
	if _, err := s.ExecContext(ctx, v.VersionID, v.Seq, v.LastUpdated.UnixMicro(), v.Deleted, tables, v.Guard, v.Restricted, nullBody(v.Body), cur.rid); err != nil {
		return 0, fmt.Errorf("update %s/%s: %w", v.Type, v.ID, err)
	}
	t.remember(store.Key{Type: v.Type, ID: v.ID}, &current{rid: cur.rid, idxTables: tables, v: *v})
	return cur.rid, nil
}

func nullBody(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
