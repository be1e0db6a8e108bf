package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// The audit chain (store.AuditStore, Tx.ChainAudit) is the audit store:
// table audit_chain of migrations 0003, 0006 and 0008, one row per record
// with its bytes and its fields, and audit_ref, its references.
// On SQLite, appenders take the chain's lock (SQLite's single writer, and
// chainMu for the chain's own file) and read the last link inside their
// transaction. Where the dialect has an AuditInsert statement
// (PostgreSQL), appenders take no database lock: a process's appenders
// queue on chainMu and link their records to the head it remembers, in
// one statement; seq is the chain's primary key, so an append from
// another node in between makes the insert fail (or wait for that node's
// commit, then fail) instead of forking the chain, and the appender reads
// the head again and retries. Either way the chain is held until commit,
// which is why ChainAudit comes last in a write.

var _ store.AuditStore = (*DB)(nil)

// auditLockKey names the chain's advisory lock.
const auditLockKey = "vhdir:audit-chain"

// auditColumns are a link's columns as ChainAudit writes them.
var auditColumns = []string{"seq", "res_id", "prev", "hash", "body", "recorded", "action", "outcome", "type_system", "type_code",
	"subtype_system", "subtype_code", "client", "address", "source", "policy", "profile", "request_id", "agent", "entity"}

// auditRefColumns are audit_ref's columns.
var auditRefColumns = []string{"seq", "entity", "type", "id", "url"}

// ChainAudit appends items to the chain (see store.Tx).
func (t *tx) ChainAudit(ctx context.Context, items []store.AuditItem) ([]store.AuditLink, error) {
	if len(items) == 0 {
		return nil, nil
	}
	if t.db.d.AuditInsert != "" {
		return t.appendUnlocked(ctx, items)
	}
	// The chain's lock first: a read of the audit file before it could
	// find that file changed when the lock is granted.
	seq, prev, err := t.auditHead(ctx)
	if err != nil {
		return nil, err
	}
	if t.db.auditWrite != nil {
		late, err := t.lateCopies(ctx)
		if err != nil {
			return nil, err
		}
		if err := t.keepPending(ctx, items); err != nil {
			return nil, err
		}
		if len(late) > 0 {
			lateLinks := chainLinks(seq, prev, late)
			if err := t.insertLinks(ctx, late, lateLinks); err != nil {
				return nil, err
			}
			seq, prev = lateLinks[len(late)-1].Seq, lateLinks[len(late)-1].Hash
		}
	}
	links := chainLinks(seq, prev, items)
	if err := t.insertLinks(ctx, items, links); err != nil {
		return nil, err
	}
	return links, nil
}

// chainLinks links items after the link (seq, prev).
func chainLinks(seq int64, prev []byte, items []store.AuditItem) []store.AuditLink {
	links := make([]store.AuditLink, len(items))
	for i, it := range items {
		seq++
		hash := store.AuditHash(prev, seq, it.ID, it.Body)
		links[i] = store.AuditLink{Seq: seq, ID: it.ID, Prev: prev, Hash: hash}
		prev = hash
	}
	return links
}

// insertLinks writes links with their items' bodies and fields, and the
// references beyond each record's first agent and entity, if any.
func (t *tx) insertLinks(ctx context.Context, items []store.AuditItem, links []store.AuditLink) error {
	args, refs := linkArgs(items, links)
	if err := t.insertInto(ctx, "INSERT INTO", "audit_chain", auditColumns, args, len(items)); err != nil {
		return fmt.Errorf("audit chain: append: %w", err)
	}
	return t.insertRefs(ctx, refs)
}

// linkArgs are the audit_chain rows of links (auditColumns per row) and
// the audit_ref rows of their other references (auditRefColumns per row).
func linkArgs(items []store.AuditItem, links []store.AuditLink) (args, refs []any) {
	args = make([]any, 0, len(auditColumns)*len(items))
	for i, it := range items {
		l := links[i]
		f := it.Fields.Storable()
		agent, entity, others := store.SplitAuditRefs(f.Refs)
		args = append(args, l.Seq, it.ID, l.Prev, l.Hash, it.Body, f.Recorded.UnixMicro(), f.Action, f.Outcome,
			f.Type.System, f.Type.Code, f.Subtype.System, f.Subtype.Code, f.Client, f.Address, f.Source, f.Policy, f.Profile, f.RequestID,
			agent, entity)
		refs = appendRefArgs(refs, l.Seq, others)
	}
	return args, refs
}

// appendRefArgs appends the audit_ref rows of a record's other
// references (SplitAuditRefs: each once).
func appendRefArgs(args []any, seq int64, others []store.AuditRef) []any {
	for _, r := range others {
		args = append(args, seq, r.Entity, r.Type, r.ID, r.URL)
	}
	return args
}

// insertRefs writes audit_ref rows (args: auditRefColumns per row).
func (t *tx) insertRefs(ctx context.Context, args []any) error {
	if err := t.insertInto(ctx, "INSERT INTO", "audit_ref", auditRefColumns, args, len(args)/len(auditRefColumns)); err != nil {
		return fmt.Errorf("audit chain: references: %w", err)
	}
	return nil
}

// AppendAudit appends items to the chain in a transaction of its own (see
// store.AuditStore). It writes no version, so it reads no export mark:
// one statement less in the commit every audited read waits for.
func (db *DB) AppendAudit(ctx context.Context, items []store.AuditItem) ([]store.AuditLink, error) {
	if db.auditWrite != nil {
		return db.appendOwn(ctx, items)
	}
	if db.d.AuditInsert != "" && len(items) > 0 {
		return db.appendUnlocked(ctx, items)
	}
	var links []store.AuditLink
	err := db.update(ctx, false, func(tx store.Tx) error {
		var err error
		links, err = tx.ChainAudit(ctx, items)
		return err
	})
	return links, err
}

// auditHead takes the chain's lock and reads its last link (0 and no
// hash for an empty chain).
func (t *tx) auditHead(ctx context.Context) (seq int64, hash []byte, err error) {
	if err := t.Lock(ctx, auditLockKey); err != nil {
		return 0, nil, fmt.Errorf("audit chain: lock: %w", err)
	}
	if t.db.auditWrite != nil && !t.chainHeld {
		t.db.chainMu.Lock()
		t.chainHeld = true
	}
	if lock := t.db.d.SQL.AuditLock; lock != "" {
		if _, err := t.tx.ExecContext(ctx, lock); err != nil {
			return 0, nil, fmt.Errorf("audit chain: lock: %w", err)
		}
	}
	head, err := t.stmt(ctx, auditHeadSQL)
	if err != nil {
		return 0, nil, err
	}
	return scanHead(head.QueryRowContext(ctx))
}

// auditHeadSQL reads the chain's last link.
const auditHeadSQL = `SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1`

// scanHead reads the result of auditHeadSQL.
func scanHead(row *sql.Row) (seq int64, hash []byte, err error) {
	err = row.Scan(&seq, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, []byte{}, nil
	case err != nil:
		return 0, nil, fmt.Errorf("audit chain: last link: %w", err)
	}
	return seq, hash, nil
}

// AuditHead returns the chain's last link (see store.AuditStore).
func (db *DB) AuditHead(ctx context.Context) (store.AuditLink, error) {
	seq, hash, err := scanHead(db.read.QueryRowContext(ctx, auditHeadSQL))
	if err != nil {
		return store.AuditLink{}, err
	}
	return store.AuditLink{Seq: seq, Hash: hash}, nil
}

// AuditChain returns links after a position with their bodies and stored
// fields (nil for a link whose fields could not be read from its body).
func (db *DB) AuditChain(ctx context.Context, after int64, limit int) ([]store.AuditLink, error) {
	p := db.d.Placeholder
	q := fmt.Sprintf(`SELECT %s FROM audit_chain WHERE seq > %s ORDER BY seq LIMIT %s`, strings.Join(auditColumns, ", "), p(1), p(2))
	rows, err := db.read.QueryContext(ctx, q, after, limit)
	if err != nil {
		return nil, fmt.Errorf("audit chain: %w", err)
	}
	defer rows.Close()
	var out []store.AuditLink
	for rows.Next() {
		var l store.AuditLink
		var f store.AuditFields
		var recorded int64
		var agent, entity string
		if err := rows.Scan(&l.Seq, &l.ID, &l.Prev, &l.Hash, &l.Body, &recorded, &f.Action, &f.Outcome, &f.Type.System, &f.Type.Code,
			&f.Subtype.System, &f.Subtype.Code, &f.Client, &f.Address, &f.Source, &f.Policy, &f.Profile, &f.RequestID, &agent, &entity); err != nil {
			return nil, fmt.Errorf("audit chain: %w", err)
		}
		if recorded > 0 {
			f.Recorded = time.UnixMicro(recorded).UTC()
			f.Refs = rowRefs(agent, entity)
			l.Fields = &f
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit chain: %w", err)
	}
	if err := db.auditRefsOf(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// rowRefs are the references a record keeps in its row.
func rowRefs(agent, entity string) []store.AuditRef {
	var refs []store.AuditRef
	if agent != "" {
		refs = append(refs, store.ParseAuditRef(agent, false))
	}
	if entity != "" {
		refs = append(refs, store.ParseAuditRef(entity, true))
	}
	return refs
}

// auditRefsOf adds to links' fields their references kept apart.
func (db *DB) auditRefsOf(ctx context.Context, links []store.AuditLink) error {
	if len(links) == 0 {
		return nil
	}
	p := db.d.Placeholder
	q := fmt.Sprintf(`SELECT seq, entity, type, id, url FROM audit_ref WHERE seq > %s AND seq <= %s ORDER BY seq, entity`, p(1), p(2))
	rows, err := db.read.QueryContext(ctx, q, links[0].Seq-1, links[len(links)-1].Seq)
	if err != nil {
		return fmt.Errorf("audit chain references: %w", err)
	}
	defer rows.Close()
	bySeq := make(map[int64]*store.AuditFields, len(links))
	for i := range links {
		if links[i].Fields != nil {
			bySeq[links[i].Seq] = links[i].Fields
		}
	}
	for rows.Next() {
		var seq int64
		var r store.AuditRef
		if err := rows.Scan(&seq, &r.Entity, &r.Type, &r.ID, &r.URL); err != nil {
			return fmt.Errorf("audit chain references: %w", err)
		}
		if f := bySeq[seq]; f != nil {
			f.Refs = append(f.Refs, r)
		}
	}
	return rows.Err()
}

// readinessProbe is the link AuditWritable appends and rolls back: a
// record with a reference, as requests' records have.
var readinessProbe = store.AuditItem{ID: "readiness-probe", Body: []byte("{}"), Fields: store.AuditFields{Recorded: time.Unix(1, 0),
	Refs: []store.AuditRef{{Entity: true, Type: "Probe", ID: "probe"}}}}

// errProbe rolls back AuditWritable's probe.
var errProbe = errors.New("audit probe: rolled back")

// AuditWritable appends a probe link as every request's records are
// appended (the chain's head, the insert; in a write transaction, and on
// the chain's own pool if it has one), then rolls it back:
// a chain that refuses inserts (a revoked privilege, a trigger, a full
// disk) makes it fail, as it makes every request fail.
func (db *DB) AuditWritable(ctx context.Context) error {
	err := db.update(ctx, false, func(tx store.Tx) error {
		if _, err := tx.ChainAudit(ctx, []store.AuditItem{readinessProbe}); err != nil {
			return err
		}
		return errProbe
	})
	if errors.Is(err, errProbe) && db.auditWrite != nil {
		err = db.probeOwn(ctx)
	}
	if err == nil || errors.Is(err, errProbe) {
		return nil
	}
	return fmt.Errorf("audit chain not writable: %w", err)
}

// chainHead is the chain's last link as this process last appended or
// read it; known false: to be read.
type chainHead struct {
	seq   int64
	hash  []byte
	known bool
}

// maxChainRaces bounds how often one append may find that another node
// appended first: each loss means another node's append succeeded.
const maxChainRaces = 32

// appendUnlocked appends items in a statement of its own (one round trip,
// its own transaction), linked to the head this process remembers, and
// retries from the chain's real head when another node appended first.
func (db *DB) appendUnlocked(ctx context.Context, items []store.AuditItem) ([]store.AuditLink, error) {
	db.chainMu.Lock()
	defer db.chainMu.Unlock()
	var err error
	// The insert's plan is the same whatever the records: on the pool that
	// keeps generic plans it is planned once per connection, not per group
	// (a tenth of a millisecond of the commit every audited read awaits).
	pool := db.write
	if db.stable != nil {
		pool = db.stable
	}
	for range maxChainRaces {
		var links []store.AuditLink
		if links, err = db.linkToHead(ctx, pool, db.head, items); err == nil {
			db.head = chainHead{seq: links[len(links)-1].Seq, hash: links[len(links)-1].Hash, known: true}
			return links, nil
		}
		db.head = chainHead{}
		if !errors.Is(err, store.ErrRetry) || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// appendUnlocked appends items in the transaction: the chain stays this
// process's until the transaction ends (chainHeld), and its head becomes
// the last of them once it commits. Nothing but more records may follow
// in the transaction. Another node's append in between fails the
// transaction with ErrRetry: DB.update runs it again.
func (t *tx) appendUnlocked(ctx context.Context, items []store.AuditItem) ([]store.AuditLink, error) {
	if !t.chainHeld {
		// Every row lock the transaction takes is taken before the chain:
		// holding chainMu, which the database cannot see, while waiting
		// for a row another appender of this process holds (a parameter
		// group both register) would deadlock unseen.
		if err := t.flush(ctx); err != nil {
			return nil, err
		}
		t.db.chainMu.Lock()
		t.chainHeld = true
		t.head = t.db.head
	}
	links, err := t.db.linkToHead(ctx, t.tx, t.head, items)
	if err != nil {
		t.db.head = chainHead{}
		return nil, err
	}
	t.head = chainHead{seq: links[len(links)-1].Seq, hash: links[len(links)-1].Hash, known: true}
	t.appended = true
	return links, nil
}

// linkToHead links items after head (read from the chain when not known)
// and inserts them with the dialect's AuditInsert statement. A unique
// violation means another node appended first: ErrRetry.
func (db *DB) linkToHead(ctx context.Context, q dbExecer, head chainHead, items []store.AuditItem) ([]store.AuditLink, error) {
	if !head.known {
		var err error
		if head.seq, head.hash, err = scanHead(q.QueryRowContext(ctx, auditHeadSQL)); err != nil {
			return nil, err
		}
	}
	links := chainLinks(head.seq, head.hash, items)
	if _, err := q.ExecContext(ctx, db.d.AuditInsert, auditInsertArgs(items, links)...); err != nil {
		if db.d.UniqueViolation(err) {
			return nil, fmt.Errorf("%w: audit chain: another node appended first: %w", store.ErrRetry, err)
		}
		return nil, db.classify(fmt.Errorf("audit chain: append: %w", err))
	}
	return links, nil
}

// dbExecer is what both *sql.DB and *sql.Tx offer to run statements.
type dbExecer interface {
	dbQuerier
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// auditInsertArgs are AuditInsert's arguments: one array per column of
// the links (auditColumns order), then the other references as arrays:
// seq, entity, type, id, url.
func auditInsertArgs(items []store.AuditItem, links []store.AuditLink) []any {
	n := len(items)
	seqs, ids, prevs, hashes, bodies, recorded := make([]int64, n), make([]string, n), make([][]byte, n), make([][]byte, n), make([][]byte, n), make([]int64, n)
	text := make([][]string, 14) // action … request_id, agent, entity
	for c := range text {
		text[c] = make([]string, n)
	}
	var refSeqs []int64
	var refEntities []bool
	var refTypes, refIDs, refURLs []string
	for i, it := range items {
		f := it.Fields.Storable()
		l := links[i]
		seqs[i], ids[i], prevs[i], hashes[i], bodies[i], recorded[i] = l.Seq, it.ID, l.Prev, l.Hash, it.Body, f.Recorded.UnixMicro()
		agent, entity, others := store.SplitAuditRefs(f.Refs)
		for c, v := range []string{f.Action, f.Outcome, f.Type.System, f.Type.Code, f.Subtype.System, f.Subtype.Code,
			f.Client, f.Address, f.Source, f.Policy, f.Profile, f.RequestID, agent, entity} {
			text[c][i] = v
		}
		for _, r := range others {
			refSeqs, refEntities = append(refSeqs, l.Seq), append(refEntities, r.Entity)
			refTypes, refIDs, refURLs = append(refTypes, r.Type), append(refIDs, r.ID), append(refURLs, r.URL)
		}
	}
	args := []any{seqs, ids, prevs, hashes, bodies, recorded}
	for _, col := range text {
		args = append(args, col)
	}
	return append(args, refSeqs, refEntities, refTypes, refIDs, refURLs)
}
