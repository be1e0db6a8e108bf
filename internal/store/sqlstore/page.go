package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// resourceColumns are read by scanResource.
const resourceColumns = "r.rid, r.type, r.id, r.version, r.seq, r.last_updated, r.guard, r.restricted, r.body"

// resourceDest returns the scan destinations of resourceColumns into r,
// and a function to call once scanned.
func resourceDest(r *pageRow) (dest []any, done func()) {
	var lu int64
	dest = []any{&r.rid, &r.v.Type, &r.v.ID, &r.v.VersionID, &r.v.Seq, &lu, &r.v.Guard, &r.v.Restricted, &r.v.Body}
	return dest, func() { r.v.LastUpdated = time.UnixMicro(lu).UTC() }
}

// search runs a query: an optional count, one page of matches in sort
// order after the cursor, then the page's includes. The page statement of
// a stable plan runs on stable.
func search(ctx context.Context, d *Dialect, est *estimates, q, stable dbQuerier, sq *store.Query) (*store.SearchPage, error) {
	view, err := resolveAccess(ctx, q, d, sq.Viewer)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	b := &builder{d: d, view: view}
	pl, err := planQuery(ctx, est, b, q, sq)
	if err != nil {
		return nil, err
	}
	where := pl.where
	counted := sq.Total == store.TotalAccurate || sq.Total == store.TotalIfCheap && pl.selective
	if sq.Count <= 0 {
		page := &store.SearchPage{Total: -1}
		if counted {
			if page.Total, err = count(ctx, b, q, sq, where); err != nil {
				return nil, err
			}
		}
		return page, nil
	}
	whereArgs := len(b.args) // where's; the page query adds its own
	pb, pw := pl.pageQuery(b)
	pq := q
	if pl.stable {
		pq = stable
	}
	rows, err := fetchPage(ctx, pb, pq, sq, pw)
	if err != nil {
		return nil, err
	}
	var countAll func() (int64, error)
	if counted {
		countAll = func() (int64, error) {
			b.args = b.args[:whereArgs]
			return count(ctx, b, q, sq, where)
		}
	}
	return finishPage(ctx, d, view, q, sq, rows, counted, countAll)
}

// finishPage ends a search of rows (Count+1 at most): its total, from
// the page itself when the first page holds every match (fromPage), else
// from countAll (nil: none), the cursor to the next page, the versions,
// then the page's includes.
func finishPage(ctx context.Context, d *Dialect, view access, q dbQuerier, sq *store.Query, rows []pageRow, fromPage bool, countAll func() (int64, error)) (*store.SearchPage, error) {
	page := &store.SearchPage{Total: -1}
	switch {
	case fromPage && sq.After == nil && len(rows) <= sq.Count:
		page.Total = int64(len(rows))
	case countAll != nil:
		n, err := countAll()
		if err != nil {
			return nil, err
		}
		page.Total = n
	}
	if len(rows) > sq.Count {
		last := rows[sq.Count-1]
		page.Next = &store.Cursor{RowID: last.rid, Keys: last.keys}
		rows = rows[:sq.Count]
	}
	for _, r := range rows {
		page.Versions = append(page.Versions, r.v)
	}
	if len(sq.Includes) > 0 && len(rows) > 0 {
		if err := includes(ctx, d, view, q, sq, rows, page); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// countExpr is how a single condition's matches are counted from its
// index rows: COUNT(DISTINCT rid) in general (a resource may have several
// matching rows: two given names starting "ann"), plain COUNT(*) where
// each resource has at most one: a token with its system, or a token whose
// matching rows all share one system (one index row per resource,
// parameter and system|code). At 100,000 matches that is 12 ms instead
// of 80.
func countExpr(ctx context.Context, q dbQuerier, d *Dialect, c store.Cond) (string, error) {
	t, ok := c.(store.TokenMatch)
	if !ok || t.Code == nil {
		return "COUNT(DISTINCT rid)", nil
	}
	if t.System != nil {
		return "COUNT(*)", nil
	}
	// Each group's rows for the code are ordered by system in the value
	// index, so its first and last system are two index seeks.
	b := &builder{d: d}
	p, code := b.arg(t.Param), b.arg(*t.Code)
	text := fmt.Sprintf("SELECT COUNT(*) FROM param_groups g WHERE g.param = %s AND (SELECT MIN(system) FROM idx_token WHERE grp = g.grp AND code = %s) <> (SELECT MAX(system) FROM idx_token WHERE grp = g.grp AND code = %s)", p, code, code)
	var mixed int
	if err := q.QueryRowContext(ctx, text, b.args...).Scan(&mixed); err != nil {
		return "", fmt.Errorf("search count: %w", err)
	}
	if mixed == 0 {
		return "COUNT(*)", nil
	}
	return "COUNT(DISTINCT rid)", nil
}

// count counts the matches. One condition on index rows is counted on its
// index alone: rows exist only for live resources, and a parameter id
// belongs to one type. The main rows (param_groups) hold no value of a
// restricted element and no row of a resource restricted at its root
// (store.GuardRoot), so each is one every viewer sees: that count is exact
// for a viewer without permissions. A viewer that may see guarded rows
// adds the resources that only guarded rows it sees match (few: guarded
// rows are those of restricted resources).
func count(ctx context.Context, b *builder, q dbQuerier, sq *store.Query, where string) (int64, error) {
	var n int64
	if terms := topTerms(sq.Where); len(terms) == 1 {
		cb := &builder{d: b.d, view: b.view}
		if l, err := cb.leaf(terms[0]); err == nil {
			agg, err := countExpr(ctx, q, b.d, terms[0])
			if err != nil {
				return 0, err
			}
			text := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s", agg, l.table, cb.groups(l.param), l.inner)
			if g := cb.guardedGroups("x", l.param, false); g != "" {
				// inner's unqualified columns name x here, and m inside
				// the NOT EXISTS: a probe per guarded row (fenced, or
				// PostgreSQL hashes every main row to anti-join them).
				text = fmt.Sprintf("SELECT (%s) + (SELECT COUNT(DISTINCT x.rid) FROM %s x WHERE %s AND %s AND NOT EXISTS (SELECT 1 FROM %s m WHERE m.rid = x.rid AND m.%s AND %s%s))",
					text, l.table, g, l.inner, l.table, cb.groups(l.param), l.inner, b.d.ProbeFence)
			}
			if err := q.QueryRowContext(ctx, text, cb.args...).Scan(&n); err != nil {
				return 0, fmt.Errorf("search count: %w", err)
			}
			return n, nil
		}
	}
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM resources r WHERE "+where, b.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("search count: %w", err)
	}
	return n, nil
}

// pageRow is a fetched match with its row id and sort key values.
type pageRow struct {
	rid  int64
	v    *store.Version
	keys []any
}

// fetchPage reads Count+1 matches after the cursor. With sort keys, the
// keys are computed per match in a derived table and the cursor compares
// them in order (keyset paging), rid breaking ties; without, matches come
// in rid order.
func fetchPage(ctx context.Context, b *builder, q dbQuerier, sq *store.Query, where string) ([]pageRow, error) {
	text, err := pageSQL(b, sq, where)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, text, b.args...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	var out []pageRow
	for rows.Next() {
		r := pageRow{v: &store.Version{}, keys: make([]any, len(sq.Sort))}
		dest, scanned := resourceDest(&r)
		for i := range r.keys {
			dest = append(dest, &r.keys[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		scanned()
		for i, k := range r.keys {
			r.keys[i] = normalizeKey(k)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// pageSQL writes the page query.
func pageSQL(b *builder, sq *store.Query, where string) (string, error) {
	exprs := make([]string, len(sq.Sort))
	for i, k := range sq.Sort {
		e, err := b.sortExpr("r", k)
		if err != nil {
			return "", err
		}
		exprs[i] = e
	}
	var text strings.Builder
	text.WriteString("SELECT q.* FROM (SELECT " + resourceColumns)
	for i, e := range exprs {
		fmt.Fprintf(&text, ", %s AS k%d", e, i)
	}
	text.WriteString(" FROM resources r WHERE " + where + ") q")
	if err := b.pageOrder(&text, sq); err != nil {
		return "", err
	}
	return text.String(), nil
}

// pageOrder ends a page query over a derived table q (its sort keys k0,
// k1, … and its row order rid): after the cursor, in sort order, Count+1
// rows.
func (b *builder) pageOrder(text *strings.Builder, sq *store.Query) error {
	if sq.After != nil {
		if len(sq.After.Keys) != len(sq.Sort) {
			return fmt.Errorf("search: the cursor has %d sort keys, the query %d: %w", len(sq.After.Keys), len(sq.Sort), store.ErrBadCursor)
		}
		for i, k := range sq.Sort {
			if !k.Kind.Fits(sq.After.Keys[i]) {
				return fmt.Errorf("search: the cursor's sort key %d (%T) does not fit the query's: %w", i, sq.After.Keys[i], store.ErrBadCursor)
			}
		}
		text.WriteString(" WHERE " + b.after(sq.Sort, sq.After, 0))
	}
	text.WriteString(" ORDER BY ")
	for i, k := range sq.Sort {
		dir := "ASC"
		if k.Desc {
			dir = "DESC"
		}
		nulls := " NULLS LAST"
		if b.keyNotNull(i) {
			// A column that holds no NULL: the order its index gives.
			nulls = ""
		}
		fmt.Fprintf(text, "q.k%d %s%s, ", i, dir, nulls)
	}
	text.WriteString("q.rid")
	if b.ridDesc {
		text.WriteString(" DESC")
	}
	text.WriteString(" LIMIT " + b.arg(sq.Count+1))
	return nil
}

// keyNotNull reports whether sort key i is a column that is never NULL
// (notNullKeys): its page order and cursor need no NULL cases, and so
// follow the column's index.
func (b *builder) keyNotNull(i int) bool { return i < len(b.notNullKeys) && b.notNullKeys[i] }

// PageSQL returns the statement that reads the first page of q, as the
// planner would write it now, with its arguments and the pool a search
// runs it on (benchmarks time it alone, as the limit of a search).
func (db *DB) PageSQL(ctx context.Context, q *store.Query) (string, []any, *sql.DB, error) {
	view, err := resolveAccess(ctx, db.read, db.d, q.Viewer)
	if err != nil {
		return "", nil, nil, err
	}
	b := &builder{d: db.d, view: view}
	pl, err := planQuery(ctx, &db.est, b, db.read, q)
	if err != nil {
		return "", nil, nil, err
	}
	pb, pw := pl.pageQuery(b)
	text, err := pageSQL(pb, q, pw)
	if err != nil {
		return "", nil, nil, err
	}
	pool := db.read
	if pl.stable {
		pool = db.stablePool()
	}
	return text, pb.args, pool, nil
}

// Explain returns the page query of q, as the planner would write it now,
// its arguments and the database's plan for it (for benchmarks and
// operators).
func (db *DB) Explain(ctx context.Context, q *store.Query) (string, error) {
	text, args, _, err := db.PageSQL(ctx, q)
	if err != nil {
		return "", err
	}
	rows, err := db.read.QueryContext(ctx, db.d.Explain+text, args...)
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var out strings.Builder
	fmt.Fprintf(&out, "%s\n-- args %v\n", text, args)
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		// SQLite: id, parent, notused, detail; PostgreSQL: one line of text.
		fmt.Fprintln(&out, normalizeKey(vals[len(vals)-1]))
	}
	return out.String(), rows.Err()
}

// normalizeKey maps driver values to string, int64, float64 or nil.
func normalizeKey(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case int32:
		return int64(x)
	case float32:
		return float64(x)
	case time.Time:
		return x.UnixMicro()
	}
	return v
}

// after is the keyset condition "sorts after the cursor" for keys from i
// on. Missing values sort last in both directions, so a row with no value
// follows every row with one.
func (b *builder) after(keys []store.SortKey, c *store.Cursor, i int) string {
	if i == len(keys) {
		if b.ridDesc {
			return "q.rid < " + b.arg(c.RowID)
		}
		return "q.rid > " + b.arg(c.RowID)
	}
	col := fmt.Sprintf("q.k%d", i)
	v := c.Keys[i]
	if v == nil {
		return fmt.Sprintf("(%s IS NULL AND %s)", col, b.after(keys, c, i+1))
	}
	op := ">"
	if keys[i].Desc {
		op = "<"
	}
	arg := b.arg(v)
	if b.keyNotNull(i) {
		return fmt.Sprintf("(%s %s %s OR (%s = %s AND %s))", col, op, arg, col, arg, b.after(keys, c, i+1))
	}
	return fmt.Sprintf("(%s IS NULL OR %s %s %s OR (%s = %s AND %s))", col, col, op, arg, col, arg, b.after(keys, c, i+1))
}

// sortExpr is the SQL value a resource (alias a) sorts by for key k. It
// reads main index rows only, whoever the viewer: a restricted value
// never orders results, not even for viewers permitted to see it (the
// order would otherwise tell others where it sorts).
func (b *builder) sortExpr(a string, k store.SortKey) (string, error) {
	agg := "MIN"
	if k.Desc {
		agg = "MAX"
	}
	sub := func(table, col string) string {
		// The values the viewer may see: never a value hidden from it,
		// and, for a viewer a restriction permits, the values it permits.
		return fmt.Sprintf("(SELECT %s(%s) FROM %s x WHERE x.rid = %s.rid AND %s)", agg, col, table, a, b.orGuarded("x", k.Param, b.probeGroups("x", k.Param), true, func(g string) string { return g }))
	}
	switch k.Kind {
	case store.SortLastUpdated:
		return a + ".last_updated", nil
	case store.SortID:
		return a + ".id", nil
	case store.SortString:
		return sub("idx_string", "norm"), nil
	case store.SortToken:
		return sub("idx_token", "code"), nil
	case store.SortDate:
		if k.Desc {
			return sub("idx_date", "hi"), nil
		}
		return sub("idx_date", "lo"), nil
	case store.SortNumber:
		return sub("idx_number", "value"), nil
	case store.SortQuantity:
		return sub("idx_quantity", "value"), nil
	case store.SortURI:
		return sub("idx_uri", "uri"), nil
	case store.SortRef:
		return sub("idx_ref", "CASE WHEN url <> '' THEN url ELSE type || '/' || id END"), nil
	case store.SortNear:
		if k.Near == nil {
			return "", fmt.Errorf("search: distance sort without a point")
		}
		return sub("idx_coord", b.haversine(k.Near.Lat, k.Near.Lon)), nil
	}
	return "", fmt.Errorf("search: unknown sort kind %d", k.Kind)
}

const earthKm = 6371.0088

// haversine is the great-circle distance in km from (lat, lon) to the
// row's lat and lon, with the math functions both databases provide.
func (b *builder) haversine(lat, lon float64) string {
	return fmt.Sprintf("2 * %v * asin(sqrt(power(sin(radians(lat - %s) / 2), 2) + cos(radians(%s)) * cos(radians(lat)) * power(sin(radians(lon - %s) / 2), 2)))",
		earthKm, b.arg(lat), b.arg(lat), b.arg(lon))
}

// box is the latitude/longitude bounding box of a circle, an index range
// that prefilters rows before the exact distance.
func box(lat, lon, radiusKm float64) (dLat, dLon float64) {
	dLat = radiusKm / earthKm * 180 / math.Pi
	dLon = 180.0
	if cosLat := math.Cos(lat * math.Pi / 180); cosLat > 1e-9 {
		dLon = math.Min(180, dLat/cosLat)
	}
	return dLat, dLon
}
