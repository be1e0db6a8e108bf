package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// Reads of AuditEvents, answered from the audit chain: each record is
// version 1 of its AuditEvent, last updated when it was recorded, with
// the bytes it was chained with; its chain position is its Seq.

// auditRowColumns are read by queryAuditRows (rid: the chain position).
const auditRowColumns = "a.seq AS rid, a.res_id, a.recorded, a.body"

// auditVersion is a record as a version.
func auditVersion(seq int64, id string, recorded int64, body []byte) *store.Version {
	at := time.UnixMicro(max(recorded, 0)).UTC()
	return &store.Version{Type: store.AuditType, ID: id, VersionID: 1, Seq: seq, LastUpdated: at, Body: body}
}

// readAudit returns the record with this id.
func readAudit(ctx context.Context, q dbQuerier, d *Dialect, id string) (*store.Version, error) {
	var seq, recorded int64
	var body []byte
	err := q.QueryRowContext(ctx, `SELECT seq, recorded, body FROM audit_chain WHERE res_id = `+d.Placeholder(1)+` ORDER BY seq LIMIT 1`, id).
		Scan(&seq, &recorded, &body)
	if errors.Is(err, sql.ErrNoRows) || err == nil && body == nil {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read AuditEvent/%s: %w", id, err)
	}
	return auditVersion(seq, id, recorded, body), nil
}

// auditHistory lists records newest first (q.Type is AuditEvent).
func (db *DB) auditHistory(ctx context.Context, q store.HistoryQuery) (*store.HistoryPage, error) {
	b := &builder{d: db.d}
	where := []string{fmt.Sprintf(auditLive, "a")}
	if q.ID != "" {
		where = append(where, "a.res_id = "+b.arg(q.ID))
	}
	if !q.Since.IsZero() {
		where = append(where, "a.recorded >= "+b.arg(q.Since.UnixMicro()))
	}
	if !q.Before.IsZero() {
		where = append(where, "a.recorded < "+b.arg(q.Before.UnixMicro()))
	}
	filter := strings.Join(where, " AND ")
	page := &store.HistoryPage{Total: -1}
	if q.WantTotal {
		if err := db.reads.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_chain a WHERE "+filter, b.args...).Scan(&page.Total); err != nil {
			return nil, fmt.Errorf("history total: %w", err)
		}
	}
	if q.AfterSeq > 0 {
		filter += " AND a.seq < " + b.arg(q.AfterSeq)
	}
	text := fmt.Sprintf("SELECT %s FROM audit_chain a WHERE %s ORDER BY a.seq DESC LIMIT %s", auditRowColumns, filter, b.arg(q.Count+1))
	rows, err := queryAuditRows(ctx, db.reads, text, b.args, 0)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	for _, r := range rows {
		page.Versions = append(page.Versions, r.v)
	}
	if len(page.Versions) > q.Count {
		page.Versions = page.Versions[:q.Count]
		page.NextSeq = page.Versions[q.Count-1].Seq
	}
	return page, nil
}

// withoutAudit narrows a system history to resources: records are listed
// by the history of AuditEvent alone. ok is false when nothing is left.
func withoutAudit(q store.HistoryQuery) (store.HistoryQuery, bool) {
	if len(q.Types) == 0 || !slices.Contains(q.Types, store.AuditType) {
		return q, true
	}
	q.Types = slices.DeleteFunc(slices.Clone(q.Types), func(t string) bool { return t == store.AuditType })
	return q, len(q.Types) > 0
}

// queryAuditRows runs a query selecting auditRowColumns and nkeys sort
// keys.
func queryAuditRows(ctx context.Context, q dbQuerier, text string, args []any, nkeys int) ([]pageRow, error) {
	rows, err := q.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pageRow
	for rows.Next() {
		var id string
		var seq, recorded int64
		var body []byte
		keys := make([]any, nkeys)
		dest := []any{&seq, &id, &recorded, &body}
		for i := range keys {
			dest = append(dest, &keys[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		for i, k := range keys {
			keys[i] = normalizeKey(k)
		}
		out = append(out, pageRow{rid: seq, v: auditVersion(seq, id, recorded, body), keys: keys})
	}
	return out, rows.Err()
}

// auditSearch runs a search of AuditEvents.
func auditSearch(ctx context.Context, d *Dialect, q dbQuerier, sq *store.Query) (*store.SearchPage, error) {
	view, err := resolveAccess(ctx, q, d, sq.Viewer)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	b := &builder{d: d, view: view}
	if b.auditAlone, err = auditRefsAlone(ctx, d, q, sq.Where); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	where, err := b.auditWhere("a", sq.Where)
	if err != nil {
		return nil, err
	}
	whereArgs := slices.Clip(b.args) // where's; the page query adds its own
	countAll := func() (int64, error) {
		var n int64
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_chain a WHERE "+where, whereArgs...).Scan(&n); err != nil {
			return 0, fmt.Errorf("search count: %w", err)
		}
		return n, nil
	}
	if sq.Count <= 0 {
		page := &store.SearchPage{Total: -1}
		if sq.Total == store.TotalAccurate {
			if page.Total, err = countAll(); err != nil {
				return nil, err
			}
		}
		return page, nil
	}
	b.args = whereArgs
	text, err := b.auditPageSQL(sq, where)
	if err != nil {
		return nil, err
	}
	rows, err := queryAuditRows(ctx, q, text, b.args, len(sq.Sort))
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	// Counting the records is never cheap enough to do unasked: a total
	// without _total=accurate is the first page's, when it holds them all.
	fromPage := sq.Total == store.TotalAccurate || sq.Total == store.TotalIfCheap
	if sq.Total != store.TotalAccurate {
		countAll = nil
	}
	return finishPage(ctx, d, view, q, sq, rows, fromPage, countAll)
}

// auditPageSQL writes the page query over the records: keyset paging on
// the sort keys, then the chain position (in the last key's direction).
func (b *builder) auditPageSQL(sq *store.Query, where string) (string, error) {
	var text strings.Builder
	text.WriteString("SELECT q.* FROM (SELECT " + auditRowColumns)
	b.notNullKeys = make([]bool, len(sq.Sort))
	b.ridDesc = len(sq.Sort) > 0 && sq.Sort[len(sq.Sort)-1].Desc
	for i, k := range sq.Sort {
		expr := b.auditSortExpr("a", k)
		b.notNullKeys[i] = auditNotNull[expr]
		fmt.Fprintf(&text, ", %s AS k%d", expr, i)
	}
	text.WriteString(" FROM audit_chain a WHERE " + where + ") q")
	if err := b.pageOrder(&text, sq); err != nil {
		return "", err
	}
	return text.String(), nil
}

// auditNotNull are the sort expressions that are bare NOT NULL columns.
var auditNotNull = map[string]bool{"a.recorded": true, "a.res_id": true}

// auditInclude applies an include whose source is AuditEvent: forward,
// the resources the page's records reference; reverse, the records that
// reference the page's resources (at most limit of them, 0: no bound).
func auditInclude(ctx context.Context, d *Dialect, view access, q dbQuerier, inc store.Include, from []pageRow, limit int) ([]pageRow, error) {
	entity, column, ok := auditRefKind(auditFields[inc.Param])
	if !ok {
		return nil, nil
	}
	b := &builder{d: d, view: view}
	if inc.Reverse {
		return auditReferrers(ctx, b, q, entity, column, from, limit)
	}
	keys, err := auditReferenced(ctx, b.d, q, entity, column, from)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	var values []string
	for _, k := range keys {
		values = append(values, fmt.Sprintf("(%s, %s)", b.castText(b.arg(k.Type)), b.castText(b.arg(k.ID))))
	}
	targets := ""
	if len(inc.Targets) > 0 {
		targets = " AND " + b.typeCond("r", inc.Targets, true)
	}
	text := fmt.Sprintf("SELECT %s FROM resources r WHERE (r.type, r.id) IN (VALUES %s) AND r.deleted = false%s%s ORDER BY r.rid",
		resourceColumns, strings.Join(values, ", "), b.andVisible("r"), targets)
	return scanResourceRows(ctx, q, text, b.args)
}

// auditReferrers are the records whose reference of a kind points to one
// of the resources rows: by their own row's column, or by audit_ref.
func auditReferrers(ctx context.Context, b *builder, q dbQuerier, entity bool, column string, rows []pageRow, limit int) ([]pageRow, error) {
	var refs, pairs []string
	for _, m := range rows {
		refs = append(refs, b.arg(m.v.Type+"/"+m.v.ID))
	}
	for _, m := range rows {
		pairs = append(pairs, fmt.Sprintf("(%s, %s)", b.castText(b.arg(m.v.ID)), b.castText(b.arg(m.v.Type))))
	}
	live := fmt.Sprintf(auditLive, "a")
	text := fmt.Sprintf("SELECT %[1]s FROM audit_chain a WHERE a.%[2]s IN (%[3]s) AND %[4]s UNION "+
		"SELECT %[1]s FROM audit_ref f CROSS JOIN audit_chain a WHERE (f.id, f.type) IN (VALUES %[5]s) AND f.entity = %[6]s AND a.seq = f.seq AND %[4]s ORDER BY rid",
		auditRowColumns, column, strings.Join(refs, ", "), live, strings.Join(pairs, ", "), b.arg(entity))
	if limit > 0 {
		text += " LIMIT " + b.arg(limit)
	}
	found, err := queryAuditRows(ctx, q, text, b.args, 0)
	if err != nil {
		return nil, fmt.Errorf("include: %w", err)
	}
	return found, nil
}

// auditReferenced are the local references of a kind that the records
// among rows hold.
func auditReferenced(ctx context.Context, d *Dialect, q dbQuerier, entity bool, column string, rows []pageRow) ([]store.AuditRef, error) {
	b := &builder{d: d}
	var seqs []string
	for _, m := range rows {
		if m.v.Type == store.AuditType {
			seqs = append(seqs, b.arg(m.rid))
		}
	}
	if len(seqs) == 0 {
		return nil, nil
	}
	in := strings.Join(seqs, ", ")
	text := fmt.Sprintf("SELECT %[1]s FROM audit_chain WHERE seq IN (%[2]s) AND %[1]s <> '' UNION SELECT type || '/' || id FROM audit_ref WHERE seq IN (%[2]s) AND entity = %[3]s AND url = ''",
		column, in, b.arg(entity))
	found, err := q.QueryContext(ctx, text, b.args...)
	if err != nil {
		return nil, fmt.Errorf("include: %w", err)
	}
	defer found.Close()
	var out []store.AuditRef
	for found.Next() {
		var key string
		if err := found.Scan(&key); err != nil {
			return nil, fmt.Errorf("include: %w", err)
		}
		if r := store.ParseAuditRef(key, entity); r.URL == "" {
			out = append(out, r)
		}
	}
	return out, found.Err()
}

// searchesAudit reports whether q searches AuditEvents, which are
// searched alone: records are not resources, and one search cannot order
// and page both together.
func searchesAudit(q *store.Query) (bool, error) {
	if !slices.Contains(q.Types, store.AuditType) {
		return false, nil
	}
	if len(q.Types) > 1 {
		return false, fmt.Errorf("AuditEvent together with other types: %w", store.ErrUnsupported)
	}
	return true, nil
}

// auditHas matches resources referenced (by param) from a record that
// satisfies where: _has:AuditEvent:entity:….
func (b *builder) auditHas(a string, c store.Has) (string, error) {
	entity, column, ok := auditRefKind(auditFields[c.Param])
	if !ok {
		return "1 = 0", nil
	}
	x, y := b.newAlias("e"), b.newAlias("e")
	own, err := b.auditWhere(x, c.Where)
	if err != nil {
		return "", err
	}
	others, err := b.auditWhere(y, c.Where)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("((%[1]s.type || '/' || %[1]s.id) IN (SELECT %[2]s.%[3]s FROM audit_chain %[2]s WHERE %[2]s.%[3]s <> '' AND %[4]s) OR "+
		"(%[1]s.id, %[1]s.type) IN (SELECT f.id, f.type FROM audit_ref f WHERE f.entity = %[5]s AND f.seq IN (SELECT %[6]s.seq FROM audit_chain %[6]s WHERE %[7]s)))",
		a, x, column, own, b.arg(entity), y, others), nil
}

// auditScan streams the records an export selects (see snapshot.Scan).
// Since that is a snapshot's time selects exactly the records chained
// after that snapshot's view (audit_export_marks); another time selects
// by when they were recorded.
func (s *snapshot) auditScan(ctx context.Context, q store.ExportScan, fn func(v *store.Version) error) error {
	if q.Deleted {
		return nil // records are never deleted
	}
	b := &builder{d: s.d}
	where, err := b.auditWhere("a", q.Cond)
	if err != nil {
		return fmt.Errorf("export scan %s: %w", q.Type, err)
	}
	if !q.Since.IsZero() {
		var after int64
		err := s.tx.QueryRowContext(ctx, "SELECT seq FROM audit_export_marks WHERE mark = "+s.d.Placeholder(1), q.Since.UnixMicro()).Scan(&after)
		switch {
		case err == nil:
			where += " AND a.seq > " + b.arg(after)
		case errors.Is(err, sql.ErrNoRows):
			where += " AND a.recorded >= " + b.arg(q.Since.UnixMicro())
		default:
			return fmt.Errorf("export scan %s: %w", q.Type, err)
		}
	}
	rows, err := s.tx.QueryContext(ctx, "SELECT a.seq, a.res_id, a.recorded, a.body FROM audit_chain a WHERE "+where+" ORDER BY a.seq", b.args...)
	if err != nil {
		return fmt.Errorf("export scan %s: %w", q.Type, err)
	}
	defer rows.Close()
	var (
		id            string
		seq, recorded int64
		body          rawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &id, &recorded, &body); err != nil {
			return fmt.Errorf("export scan %s: %w", q.Type, err)
		}
		if err := fn(auditVersion(seq, id, recorded, body)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export scan %s: %w", q.Type, err)
	}
	return nil
}
