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
// condition with a code that is not a set (sets[i]; the fewest rows by
// estimate, n) while every other term can be checked by rid alone.
func walkTerm(terms []store.Cond, sets []bool, n []int) int {
	best := -1
	for i, t := range terms {
		tok, ok := t.(store.TokenMatch)
		if !ok || tok.Code == nil || sets[i] {
			if sets[i] && !ridSet(t) || !ridOnly(t) {
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

// walkInSet reports whether a query driven by a set of setRows rows (its
// smallest) finds a page of count sooner by walking a common token and
// checking each row's membership in the set (count+1 pages' worth of
// rows, about (count+1)·size/setRows of them, each a lookup in the set
// held in memory) than by probing every row of the set for the token
// (setRows probes of an index, each about twice a lookup). A chain's
// 3,300 roles of one city, with a specialty 2.7 % of 300,000 roles hold:
// 1,900 lookups rather than 3,300 probes.
func walkInSet(setRows, size, count int) bool {
	return 2*setRows*setRows > (count+1)*size
}

// walkRanges lists the ranges of t's index rows in main groups, up to
// maxWalkRanges+1.
func walkRanges(ctx context.Context, d *Dialect, q dbQuerier, t store.TokenMatch) ([]walkRange, error) {
	b := &builder{d: d}
	text := fmt.Sprintf("WITH RECURSIVE %s SELECT grp, system FROM s WHERE system IS NOT NULL LIMIT %d", b.rangesCTE(t), maxWalkRanges+1)
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
// s(grp, system), system NULL ending each group's list: a common table
// expression of a WITH RECURSIVE.
func (b *builder) rangesCTE(t store.TokenMatch) string {
	param, code := b.arg(t.Param), b.arg(*t.Code)
	system := ""
	if t.System != nil {
		system = " AND t.system = " + b.arg(*t.System)
	}
	return fmt.Sprintf(`s(grp, system) AS (
SELECT g.grp, (SELECT MIN(t.system) FROM idx_token t WHERE t.grp = g.grp AND t.code = %[2]s%[3]s) FROM param_groups g WHERE g.param = %[1]s
UNION ALL
SELECT s.grp, (SELECT MIN(t.system) FROM idx_token t WHERE t.grp = s.grp AND t.code = %[2]s%[3]s AND t.system > s.system) FROM s WHERE s.system IS NOT NULL)`,
		param, code, system)
}

// walkWhere writes the WHERE of a walk's page query with its own builder
// (the plan's where stays for counting): the union of each range's first
// Count+1 rows after the cursor that pass the other terms, and, for a
// viewer that may see guarded rows, the same of the guarded rows of the
// parameter it is permitted. The smallest Count+1 rids of the union are
// among these, each range being in rid order.
//
// The main ranges check a set term as membership in the set, built by
// the database as the lookup table of an IN. Several branches share one
// set, materialized once, which the guarded rows check too. A single
// branch (one range on SQLite) builds its set itself, its rows not first
// copied into a materialized table (a chain's 3,286 roles of one city
// cost 1.5 – 2 ms more that way), and the guarded rows, rare by
// construction, probe every term per row rather than build the set again.
func walkWhere(view access, d *Dialect, sq *store.Query, terms []store.Cond, sets []bool, walked int, ranges []walkRange) (*builder, string, error) {
	b := &builder{d: d, view: view}
	t := terms[walked].(store.TokenMatch)
	value := "z.code = " + b.arg(*t.Code)
	if sq.After != nil {
		value += " AND z.rid > " + b.arg(sq.After.RowID)
	}
	guarded := b.guardedGroups(derivedRows, t.Param, false)
	main, probed := value, value
	// Several main branches (SQLite's ranges) share each set, materialized
	// once. So does PostgreSQL's one LATERAL branch: it runs again for each
	// range, and an IN inside it would build its lookup table each time;
	// its guarded rows, probed per row, were slower than the set's check.
	shared := d.Lateral || len(ranges) > 1
	var ctes []string
	for i, c := range terms {
		if i == walked {
			continue
		}
		if !sets[i] {
			p, err := b.rowCond(c, true)
			if err != nil {
				return nil, "", err
			}
			main, probed = main+" AND "+p, probed+" AND "+p
			continue
		}
		p, err := b.rowCond(c, false)
		if err != nil {
			return nil, "", err
		}
		set, ok := strings.CutPrefix(p, derivedRows+".rid IN (")
		if !ok {
			return nil, "", fmt.Errorf("search: a walk's set is not a set of rids: %.40s", p)
		}
		set = strings.TrimSuffix(set, ")")
		if shared {
			name := fmt.Sprintf("m%d", len(ctes)+1)
			ctes = append(ctes, fmt.Sprintf("%s(rid) AS MATERIALIZED (%s)", name, set))
			set = "SELECT rid FROM " + name
		}
		member := " AND " + fmt.Sprintf(d.Membership, derivedRows+".rid", set)
		main += member
		if guarded == "" {
			continue
		}
		if shared {
			probed += member
			continue
		}
		if p, err = b.rowCond(c, true); err != nil {
			return nil, "", err
		}
		probed += " AND " + p
	}
	limit := b.arg(sq.Count + 1)
	branch := func(cond, value string) string {
		return fmt.Sprintf("SELECT rid FROM (SELECT z.rid FROM idx_token z WHERE %s AND %s ORDER BY z.rid LIMIT %s) w", cond, value, limit)
	}
	var union []string
	if d.Lateral {
		// The ranges are read in the same statement: one round trip.
		ctes = append([]string{b.rangesCTE(t)}, ctes...)
		union = append(union, fmt.Sprintf("SELECT w.rid FROM s CROSS JOIN LATERAL (SELECT z.rid FROM idx_token z WHERE z.grp = s.grp AND z.system = s.system AND %s ORDER BY z.rid LIMIT %s) w WHERE s.system IS NOT NULL", main, limit))
	}
	for _, r := range ranges {
		union = append(union, branch(fmt.Sprintf("z.grp = %s AND z.system = %s", b.arg(r.grp), b.arg(r.system)), main))
	}
	if guarded != "" {
		if t.System != nil {
			guarded += " AND z.system = " + b.arg(*t.System)
		}
		if v := b.visible("v"); v != "" {
			guarded += fmt.Sprintf(" AND EXISTS (SELECT 1 FROM resources v WHERE v.rid = z.rid AND %s)", v)
		}
		union = append(union, branch(guarded, probed))
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
		with := ""
		if len(ctes) > 0 {
			with = "WITH RECURSIVE " + strings.Join(ctes, ", ") + " "
		}
		parts = append(parts, "r.rid IN ("+with+strings.Join(union, " UNION ALL ")+")")
	}
	return b, strings.Join(parts, " AND "), nil
}

// rowCond writes term c of a walked row (derivedRows), probed per row or
// as a set.
func (b *builder) rowCond(c store.Cond, perRow bool) (string, error) {
	b.perRow = perRow
	defer func() { b.perRow = false }()
	return b.cond(derivedRows, c)
}

// ridSet reports whether c, written as a set, is a set of rids ("rid IN
// (…)"), which a walk can check its rows' membership in.
func ridSet(c store.Cond) bool {
	switch c.(type) {
	case store.TokenMatch, store.StringMatch, store.RefMatch, store.DateMatch, store.NumberMatch, store.URIMatch,
		store.Near, store.Chain, store.Hierarchy:
		return true
	}
	return false
}
