package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/vhdir/vhdir/internal/store"
)

// A walk finds a page of a query that no condition drives (every one
// matches thousands of rows) from the value index of one of its token
// conditions: the rows of a (group, code, system) range of idx_token are
// ordered by rid (idx_token_code ends with rid), so each range read in
// order, its other conditions probed per row, yields the first matches
// after Count+1 of them. A page of a code held by 3 % of a type then
// reads about Count+1 index rows where a scan of the type reads and
// probes thirty times as many.
//
// The ranges come from the index itself: the groups of the parameter, and
// for each the systems the code appears under (a skip scan, a seek per
// system), so the plan is exact whatever was written a moment ago. Where
// the database joins LATERAL subqueries (Dialect.Lateral) the page
// statement reads them itself; elsewhere a statement before it lists them
// and the page statement names each.

// maxWalkRanges is the most (group, system) ranges a walk reads; beyond
// it, the query scans.
const maxWalkRanges = 16

// walkRange is one (group, system) range of a token's value index.
type walkRange struct {
	grp    int64
	system string
}

// walkTerm picks the term of terms a walk reads, -1 for none: a token
// condition with a code (the fewest rows by estimate, n) while every other
// term can be probed by rid alone.
func walkTerm(terms []store.Cond, n []int) int {
	best := -1
	for i, t := range terms {
		tok, ok := t.(store.TokenMatch)
		if !ok || tok.Code == nil {
			if !ridOnly(t) {
				return -1
			}
			continue
		}
		if best < 0 || n[i] < n[best] {
			best = i
		}
	}
	return best
}

// walkRanges lists the ranges of t's index rows in main groups, up to
// maxWalkRanges+1.
func walkRanges(ctx context.Context, d *Dialect, q dbQuerier, t store.TokenMatch) ([]walkRange, error) {
	b := &builder{d: d}
	text := fmt.Sprintf("%s SELECT grp, system FROM s WHERE system IS NOT NULL LIMIT %d", b.rangesCTE(t), maxWalkRanges+1)
	rows, err := q.QueryContext(ctx, text, b.args...)
	if err != nil {
		return nil, fmt.Errorf("search ranges: %w", err)
	}
	defer rows.Close()
	var out []walkRange
	for rows.Next() {
		var r walkRange
		if err := rows.Scan(&r.grp, &r.system); err != nil {
			return nil, fmt.Errorf("search ranges: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// rangesCTE is the skip scan of idx_token_code that yields t's ranges as
// s(grp, system), system NULL ending each group's list.
func (b *builder) rangesCTE(t store.TokenMatch) string {
	param, code := b.arg(t.Param), b.arg(*t.Code)
	system := ""
	if t.System != nil {
		system = " AND t.system = " + b.arg(*t.System)
	}
	return fmt.Sprintf(`WITH RECURSIVE s(grp, system) AS (
SELECT g.grp, (SELECT MIN(t.system) FROM idx_token t WHERE t.grp = g.grp AND t.code = %[2]s%[3]s) FROM param_groups g WHERE g.param = %[1]s
UNION ALL
SELECT s.grp, (SELECT MIN(t.system) FROM idx_token t WHERE t.grp = s.grp AND t.code = %[2]s%[3]s AND t.system > s.system) FROM s WHERE s.system IS NOT NULL)`,
		param, code, system)
}

// walkWhere writes the WHERE of a walk's page query with its own builder
// (the plan's where stays for counting): the union of each range's first
// Count+1 rows after the cursor that pass the probes of the other terms,
// and, for a viewer that may see guarded rows, the same of the guarded
// rows of the parameter it is permitted. The smallest Count+1 rids of the
// union are among these, each range being in rid order.
func walkWhere(view access, d *Dialect, sq *store.Query, terms []store.Cond, walked int, ranges []walkRange) (*builder, string, error) {
	b := &builder{d: d, view: view}
	t := terms[walked].(store.TokenMatch)
	value := "z.code = " + b.arg(*t.Code)
	if sq.After != nil {
		value += " AND z.rid > " + b.arg(sq.After.RowID)
	}
	b.perRow = true
	for i, c := range terms {
		if i == walked {
			continue
		}
		p, err := b.cond(derivedRows, c)
		if err != nil {
			return nil, "", err
		}
		value += " AND " + p
	}
	b.perRow = false
	limit := b.arg(sq.Count + 1)
	branch := func(cond string) string {
		return fmt.Sprintf("SELECT rid FROM (SELECT z.rid FROM idx_token z WHERE %s AND %s ORDER BY z.rid LIMIT %s) w", cond, value, limit)
	}
	var union []string
	cte := ""
	if d.Lateral {
		// The ranges are read in the same statement: one round trip.
		cte = b.rangesCTE(t) + " "
		union = append(union, fmt.Sprintf("SELECT w.rid FROM s CROSS JOIN LATERAL (SELECT z.rid FROM idx_token z WHERE z.grp = s.grp AND z.system = s.system AND %s ORDER BY z.rid LIMIT %s) w WHERE s.system IS NOT NULL", value, limit))
	}
	for _, r := range ranges {
		union = append(union, branch(fmt.Sprintf("z.grp = %s AND z.system = %s", b.arg(r.grp), b.arg(r.system))))
	}
	if g := b.guardedGroups(derivedRows, t.Param, false); g != "" {
		if t.System != nil {
			g += " AND z.system = " + b.arg(*t.System)
		}
		if v := b.visible("v"); v != "" {
			g += fmt.Sprintf(" AND EXISTS (SELECT 1 FROM resources v WHERE v.rid = z.rid AND %s)", v)
		}
		union = append(union, branch(g))
	}
	parts := []string{"r.deleted = false"}
	if v := b.visible("r"); v != "" {
		parts = append(parts, v)
	}
	if typ := b.typeCond("r", sq.Types, true); typ != "" {
		parts = append(parts, typ)
	}
	if len(union) == 0 {
		parts = append(parts, "1 = 0")
	} else {
		parts = append(parts, "r.rid IN ("+cte+strings.Join(union, " UNION ALL ")+")")
	}
	return b, strings.Join(parts, " AND "), nil
}
