package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// The planner chooses how a page query finds its matches, so that a first
// page costs about the same whatever the conditions' selectivity:
//
//   - driven: the most selective condition, when it matches fewer than
//     probeCap rows, is the set of candidate rows (an index range); every
//     other condition is a per-row probe of the candidate's own index rows.
//   - scan: when no condition is selective, the type's rows are read in
//     row order and each is probed; matches are dense, so a page is found
//     after a few hundred rows and the query stops there.
//
// Selectivity comes from counting each condition's index rows up to
// probeCap, a bounded cost, remembered for a minute. Databases plan such
// queries on statistics that know nothing of parameter groups and values
// that appear millions of times; this keeps the plan ours.
const probeCap = 2000

// estimateTTL is how long a condition's estimate is reused.
const estimateTTL = time.Minute

type estimates struct {
	mu sync.Mutex
	m  map[string]estimate
}

type estimate struct {
	n  int
	at time.Time
}

func (e *estimates) get(key string) (int, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.m[key]
	if !ok || time.Since(v.at) > estimateTTL {
		return 0, false
	}
	return v.n, true
}

func (e *estimates) put(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil || len(e.m) > 10000 {
		e.m = map[string]estimate{}
	}
	e.m[key] = estimate{n: n, at: time.Now()}
}

// plan is a chosen way to evaluate a query's conditions.
type plan struct {
	where string // the WHERE clause on resources r
	// selective is true when a driver was found (or nothing needs
	// evaluating beyond the type): counting the matches is then cheap.
	selective bool
}

// planQuery writes the WHERE of a page query (and its count).
func planQuery(ctx context.Context, est *estimates, b *builder, q dbQuerier, sq *store.Query) (plan, error) {
	terms := topTerms(sq.Where)
	if len(terms) == 0 || len(sq.Sort) > 0 {
		// No conditions, or sorted (every match must be found anyway):
		// conditions as sets.
		where, err := b.baseWhere("r", sq.Types, sq.Where)
		if err != nil || len(terms) > 0 {
			return plan{where: where, selective: true}, err
		}
		n, err := countType(ctx, est, b.d, q, sq.Types)
		return plan{where: where, selective: n < probeCap}, err
	}
	best, bestN := -1, probeCap
	for i, t := range terms {
		n, err := estimateCond(ctx, est, b.d, q, t)
		if err != nil {
			return plan{}, err
		}
		if n < bestN {
			best, bestN = i, n
		}
	}
	parts := []string{"r.deleted = false"}
	if typ := b.typeCond("r", sq.Types, best >= 0); typ != "" {
		parts = append(parts, typ)
	}
	if best >= 0 {
		driver, err := b.cond("r", terms[best])
		if err != nil {
			return plan{}, err
		}
		parts = append(parts, driver)
	}
	b.perRow = true
	defer func() { b.perRow = false }()
	for i, t := range terms {
		if i == best {
			continue
		}
		c, err := b.cond("r", t)
		if err != nil {
			return plan{}, err
		}
		parts = append(parts, c)
	}
	selective := best >= 0
	if !selective {
		// A scan of a small type is cheap too: count it.
		n, err := countType(ctx, est, b.d, q, sq.Types)
		if err != nil {
			return plan{}, err
		}
		selective = n < probeCap
	}
	return plan{where: strings.Join(parts, " AND "), selective: selective}, nil
}

// countType counts, up to probeCap, the resources of the types.
func countType(ctx context.Context, est *estimates, d *Dialect, q dbQuerier, types []string) (int, error) {
	b := &builder{d: d}
	where := "deleted = false"
	if tc := b.typeCond("r", types, false); tc != "" {
		where += " AND " + tc
	}
	text := fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM resources r WHERE %s LIMIT %d) e", where, probeCap)
	key := text + fmt.Sprint(b.args)
	if n, ok := est.get(key); ok {
		return n, nil
	}
	var n int
	if err := q.QueryRowContext(ctx, text, b.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("search estimate: %w", err)
	}
	est.put(key, n)
	return n, nil
}

// topTerms splits a condition into its top-level AND terms.
func topTerms(c store.Cond) []store.Cond {
	switch c := c.(type) {
	case nil:
		return nil
	case store.And:
		var out []store.Cond
		for _, x := range c {
			out = append(out, topTerms(x)...)
		}
		return out
	}
	return []store.Cond{c}
}

// typeCond restricts to types. With a driver the type index must not be
// used (the driver is the way in), so the dialect may hide the column
// from the planner.
func (b *builder) typeCond(a string, types []string, driven bool) string {
	col := a + ".type"
	if driven && b.d.NoIndex != "" {
		col = fmt.Sprintf(b.d.NoIndex, col)
	}
	switch len(types) {
	case 0:
		return ""
	case 1:
		return col + " = " + b.arg(types[0])
	}
	ph := make([]string, len(types))
	for i, t := range types {
		ph[i] = b.arg(t)
	}
	return col + " IN (" + strings.Join(ph, ", ") + ")"
}

// estimateCond counts, up to probeCap, the rows a condition can match.
// Conditions that cannot drive a query (negations, :missing, ranges on
// columns) count as probeCap.
func estimateCond(ctx context.Context, est *estimates, d *Dialect, q dbQuerier, c store.Cond) (int, error) {
	switch c := c.(type) {
	case store.IDIs:
		return len(c.IDs), nil
	case store.Or:
		sum := 0
		for _, x := range c {
			n, err := estimateCond(ctx, est, d, q, x)
			if err != nil {
				return 0, err
			}
			sum += n
			if sum >= probeCap {
				return probeCap, nil
			}
		}
		return sum, nil
	case store.And:
		low := probeCap
		for _, x := range c {
			n, err := estimateCond(ctx, est, d, q, x)
			if err != nil {
				return 0, err
			}
			low = min(low, n)
		}
		return low, nil
	case store.Chain:
		// As selective as the targets it needs, which is a fair guess for
		// directory chains (few organizations per city, many roles each).
		return estimateCond(ctx, est, d, q, c.Where)
	case store.Has:
		return estimateCond(ctx, est, d, q, c.Where)
	case store.TokenMatch, store.StringMatch, store.RefMatch, store.DateMatch, store.NumberMatch, store.URIMatch, store.Near:
		return countLeaf(ctx, est, d, q, c)
	}
	return probeCap, nil
}

func countLeaf(ctx context.Context, est *estimates, d *Dialect, q dbQuerier, c store.Cond) (int, error) {
	b := &builder{d: d}
	l, err := b.leaf(c)
	if err != nil {
		return 0, err
	}
	text := fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %s WHERE %s AND %s LIMIT %d) e", l.table, b.groups(l.param), l.inner, probeCap)
	key := text + fmt.Sprint(b.args)
	if n, ok := est.get(key); ok {
		return n, nil
	}
	var n int
	if err := q.QueryRowContext(ctx, text, b.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("search estimate: %w", err)
	}
	est.put(key, n)
	return n, nil
}
