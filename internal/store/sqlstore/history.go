package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

const versionColumns = "type, id, version, seq, last_updated, deleted, guard, restricted, body"

// History lists versions newest first. The current versions (resources) and
// the earlier ones (resource_history) are read with one indexed, limited scan
// each — one per type, on the (type, seq) indexes, when the listing names
// types — and merged, so each scan reads at most a page and one row
// whatever the history length and however many versions of other types
// lie between. Versions the viewer may not see (each judged by its own
// restriction) are left out.
func (db *DB) History(ctx context.Context, q store.HistoryQuery) (*store.HistoryPage, error) {
	if q.Count <= 0 {
		q.Count = 50
	}
	if q.Type == store.AuditType && (len(q.Types) == 0 || slices.Contains(q.Types, store.AuditType)) {
		return db.auditHistory(ctx, q)
	}
	q, ok := withoutAudit(q)
	var arms []store.HistoryQuery
	if ok {
		arms, ok = historyArms(q)
	}
	if !ok {
		page := &store.HistoryPage{Total: -1}
		if q.WantTotal {
			page.Total = 0
		}
		return page, nil
	}
	view, err := resolveAccess(ctx, db.reads, db.d, q.Viewer)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	b := &builder{d: db.d, view: view}
	rows, err := db.reads.QueryContext(ctx, historySQL(b, arms, q.Count+1), b.args...)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer rows.Close()
	page := &store.HistoryPage{Total: -1}
	for rows.Next() {
		v := &store.Version{}
		var lu int64
		var body []byte
		if err := rows.Scan(&v.Type, &v.ID, &v.VersionID, &v.Seq, &lu, &v.Deleted, &v.Guard, &v.Restricted, &body); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		v.LastUpdated = time.UnixMicro(lu).UTC()
		v.Body = body
		page.Versions = append(page.Versions, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if len(page.Versions) > q.Count {
		page.Versions = page.Versions[:q.Count]
		page.NextSeq = page.Versions[q.Count-1].Seq
	}
	if q.WantTotal {
		if page.Total, err = db.historyTotal(ctx, view, arms); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// historySQL lists the newest limit versions the arms match: one limited
// scan of each table per arm, merged.
func historySQL(b *builder, arms []store.HistoryQuery, limit int) string {
	lim := b.arg(limit)
	var scans []string
	for _, current := range []bool{true, false} {
		table := "resource_history o"
		if current {
			table = "resources c"
		}
		for _, a := range arms {
			order := "seq DESC"
			if a.Type != "" && a.ID == "" {
				order = "type DESC, seq DESC" // the (type, seq) index's order; see Dialect.TypeSeqScan
			}
			scans = append(scans, fmt.Sprintf("SELECT %[1]s FROM (SELECT %[1]s FROM %[2]s WHERE %[3]s ORDER BY %[4]s LIMIT %[5]s) h%[6]d",
				versionColumns, table, historyFilter(b, a, current), order, lim, len(scans)))
		}
	}
	return strings.Join(scans, "\nUNION ALL\n") + "\nORDER BY seq DESC LIMIT " + lim
}

// historyArms splits q into queries of one type each (Types cleared), one
// indexed scan per table apiece; q itself when it names no Types. ok is
// false when q can match nothing: its Type is not among its Types.
func historyArms(q store.HistoryQuery) (arms []store.HistoryQuery, ok bool) {
	types := q.Types
	q.Types = nil
	switch {
	case len(types) == 0:
		return []store.HistoryQuery{q}, true
	case q.Type != "":
		return []store.HistoryQuery{q}, slices.Contains(types, q.Type)
	}
	types = slices.Compact(slices.Sorted(slices.Values(types)))
	for _, t := range types {
		a := q
		a.Type = t
		arms = append(arms, a)
	}
	return arms, true
}

// historyTotal counts the versions the arms match, past any page.
func (db *DB) historyTotal(ctx context.Context, view access, arms []store.HistoryQuery) (int64, error) {
	b := &builder{d: db.d, view: view}
	var counts []string
	for _, a := range arms {
		a.AfterSeq = 0
		counts = append(counts,
			"(SELECT COUNT(*) FROM resources c WHERE "+historyFilter(b, a, true)+")",
			"(SELECT COUNT(*) FROM resource_history o WHERE "+historyFilter(b, a, false)+")")
	}
	var n int64
	if err := db.reads.QueryRowContext(ctx, "SELECT "+strings.Join(counts, " + "), b.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("history total: %w", err)
	}
	return n, nil
}

// historyFilter is the condition on the rows q lists of resources aliased
// c (current) or of resource_history aliased o.
func historyFilter(b *builder, q store.HistoryQuery, current bool) string {
	a := "o"
	if current {
		a = "c"
	}
	var where []string
	if v := b.visible(a); v != "" {
		where = append(where, v)
	}
	switch {
	case q.ID != "" && current:
		where = append(where, "type = "+b.arg(q.Type), "id = "+b.arg(q.ID))
	case q.ID != "":
		// resource_history is keyed by rid: find it through resources.
		where = append(where, fmt.Sprintf("rid = (SELECT rid FROM resources WHERE type = %s AND id = %s)", b.arg(q.Type), b.arg(q.ID)))
	case q.Type != "" && b.d.TypeSeqScan != "":
		where = append(where, fmt.Sprintf(b.d.TypeSeqScan, "type", b.arg(q.Type)))
	case q.Type != "":
		where = append(where, "type = "+b.arg(q.Type))
	}
	if !q.Since.IsZero() {
		where = append(where, "last_updated >= "+b.arg(q.Since.UnixMicro()))
	}
	if !q.Before.IsZero() {
		where = append(where, "last_updated < "+b.arg(q.Before.UnixMicro()))
	}
	if q.AfterSeq > 0 {
		where = append(where, "seq < "+b.arg(q.AfterSeq))
	}
	if len(where) == 0 {
		return "1 = 1"
	}
	return strings.Join(where, " AND ")
}
