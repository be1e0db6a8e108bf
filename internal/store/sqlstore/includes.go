package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/vhdir/vhdir/internal/store"
)

// maxIncludeRounds bounds :iterate.
const maxIncludeRounds = 4

// includes adds the page's _include and _revinclude resources: one query
// per include and round, over all the page's matches at once (never one
// per match).
func includes(ctx context.Context, d *Dialect, view access, q dbQuerier, sq *store.Query, matches []pageRow, page *store.SearchPage) error {
	seen := make(map[store.Key]bool, len(matches))
	for _, m := range matches {
		seen[store.Key{Type: m.v.Type, ID: m.v.ID}] = true
	}
	frontier := matches
	for round := 0; round < maxIncludeRounds && len(frontier) > 0; round++ {
		var added []pageRow
		for _, inc := range sq.Includes {
			if round > 0 && !inc.Iterate {
				continue
			}
			var rows []pageRow
			var err error
			if inc.Source == store.AuditType {
				rows, err = auditInclude(ctx, d, view, q, inc, frontier, sq.MaxIncluded)
			} else {
				rows, err = includeOnce(ctx, d, view, q, inc, frontier)
			}
			if err != nil {
				return err
			}
			for _, r := range rows {
				k := store.Key{Type: r.v.Type, ID: r.v.ID}
				if seen[k] {
					continue
				}
				if sq.MaxIncluded > 0 && len(page.Included) >= sq.MaxIncluded {
					page.IncludedTruncated = true
					return nil
				}
				seen[k] = true
				page.Included = append(page.Included, r.v)
				added = append(added, r)
			}
		}
		frontier = added
	}
	return nil
}

// includeOnce applies one include to a set of resources: the reference
// rows and the resources the viewer sees.
func includeOnce(ctx context.Context, d *Dialect, view access, q dbQuerier, inc store.Include, from []pageRow) ([]pageRow, error) {
	b := &builder{d: d, view: view}
	// Joins that start from the few index rows of the page (or of its
	// references), never a semi-join over all resources. CROSS JOIN keeps
	// SQLite's join order as written: left to itself, it may read every
	// resource of the target type and look each one up in idx_ref (seconds
	// at a million resources); PostgreSQL plans CROSS JOIN like any join.
	var text string
	if inc.Reverse {
		var keys []string
		for _, m := range from {
			keys = append(keys, fmt.Sprintf("(%s, %s)", b.castText(b.arg(m.v.ID)), b.castText(b.arg(m.v.Type))))
		}
		text = fmt.Sprintf("SELECT DISTINCT %s FROM idx_ref x CROSS JOIN resources r WHERE r.rid = x.rid AND %s AND (x.id, x.type) IN (VALUES %s) AND r.type = %s AND r.deleted = false%s ORDER BY r.rid",
			resourceColumns, b.anyGroups("x", inc.Param), strings.Join(keys, ", "), b.arg(inc.Source), b.andVisible("r"))
	} else {
		var rids []string
		for _, m := range from {
			if m.v.Type == inc.Source {
				rids = append(rids, b.arg(m.rid))
			}
		}
		if len(rids) == 0 {
			return nil, nil
		}
		targets := ""
		if len(inc.Targets) > 0 {
			targets = " AND " + b.typeCond("r", inc.Targets, true)
		}
		text = fmt.Sprintf("SELECT DISTINCT %s FROM idx_ref x CROSS JOIN resources r WHERE r.type = x.type AND r.id = x.id AND x.rid IN (%s) AND %s AND r.deleted = false%s%s ORDER BY r.rid",
			resourceColumns, strings.Join(rids, ", "), b.anyGroups("x", inc.Param), b.andVisible("r"), targets)
	}
	return scanResourceRows(ctx, q, text, b.args)
}

// scanResourceRows runs a query selecting resourceColumns.
func scanResourceRows(ctx context.Context, q dbQuerier, text string, args []any) ([]pageRow, error) {
	rows, err := q.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("include: %w", err)
	}
	defer rows.Close()
	var out []pageRow
	for rows.Next() {
		r := pageRow{v: &store.Version{}}
		dest, scanned := resourceDest(&r)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("include: %w", err)
		}
		scanned()
		out = append(out, r)
	}
	return out, rows.Err()
}
