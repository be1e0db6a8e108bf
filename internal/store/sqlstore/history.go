package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

const versionColumns = "type, id, version, seq, last_updated, deleted, guard, restricted, body"

// History lists versions newest first. The current versions (resources) and
// the earlier ones (resource_history) are read with one indexed, limited scan
// each and merged, so a page costs O(page size) whatever the history length.
// Versions the viewer may not see (each judged by its own restriction) are
// left out.
func (db *DB) History(ctx context.Context, q store.HistoryQuery) (*store.HistoryPage, error) {
	if q.Count <= 0 {
		q.Count = 50
	}
	view, err := resolveAccess(ctx, db.read, db.d, q.Viewer)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	b := &builder{d: db.d, view: view}
	cur := historyFilter(b, q, true)
	old := historyFilter(b, q, false)
	limit := b.arg(q.Count + 1)
	sqlText := fmt.Sprintf(`SELECT %[1]s FROM (SELECT %[1]s FROM resources c WHERE %[2]s ORDER BY seq DESC LIMIT %[4]s) a
UNION ALL
SELECT %[1]s FROM (SELECT %[1]s FROM resource_history o WHERE %[3]s ORDER BY seq DESC LIMIT %[4]s) b
ORDER BY seq DESC LIMIT %[4]s`, versionColumns, cur, old, limit)
	rows, err := db.read.QueryContext(ctx, sqlText, b.args...)
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
		if page.Total, err = db.historyTotal(ctx, view, q); err != nil {
			return nil, err
		}
	}
	return page, nil
}

func (db *DB) historyTotal(ctx context.Context, view access, q store.HistoryQuery) (int64, error) {
	q.AfterSeq = 0
	b := &builder{d: db.d, view: view}
	cur := historyFilter(b, q, true)
	old := historyFilter(b, q, false)
	sqlText := fmt.Sprintf("SELECT (SELECT COUNT(*) FROM resources c WHERE %s) + (SELECT COUNT(*) FROM resource_history o WHERE %s)", cur, old)
	var n int64
	if err := db.read.QueryRowContext(ctx, sqlText, b.args...).Scan(&n); err != nil {
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
