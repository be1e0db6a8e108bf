package sqlstore

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// The planner chooses how a page query finds its matches, so that a first
// page costs about the same whatever the conditions' selectivity:
//
//   - driven: the conditions that match fewer than probeCap rows are sets of
//     candidate rows (index ranges, intersected); every other condition is
//     a per-row probe of a candidate's own index rows.
//   - scan: when no condition is selective, the type's rows are read in
//     row order and each is probed; matches are dense, so a page is found
//     after a few hundred rows and the query stops there.
//
// Selectivity comes from counting each condition's index rows up to
// probeCap, a bounded cost, remembered for a minute. A condition is a set
// when it matches fewer rows than setLimit, which grows with the type's
// size: materializing n rows costs about n, while a scan finds a page of
// 20 after about 20·N/n rows, each probed; the costs meet near
// sqrt(30·N). Databases plan such queries on statistics that know nothing
// of parameter groups and of values that appear millions of times; this
// keeps the plan ours.
const probeCap = 5000

// setLimit is the largest set worth materializing for a type of n rows.
func setLimit(n int) int {
	return max(100, min(probeCap, int(math.Sqrt(30*float64(n)))))
}

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
	// selective is true when counting the matches is cheap: the smallest
	// driving set, or the whole type, has fewer than countCheap rows.
	selective bool
	// page and pageWhere, when set, write the page query instead of where
	// (a walk, see walk.go): its own arguments, where's stay for counting.
	page      *builder
	pageWhere string
	// stable: the page statement's best plan is the same whatever its
	// values (a walk of one token: index ranges, LIMIT), so a generic plan
	// may serve it (Config.Stable).
	stable bool
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
		n, err := typeSize(ctx, est, b.d, q, sq.Types)
		return plan{where: where, selective: n < probeCap}, err
	}
	// Every selective condition is a set (their intersection is small and
	// cheap); the others are probed per candidate row.
	size, err := typeSize(ctx, est, b.d, q, sq.Types)
	if err != nil {
		return plan{}, err
	}
	limit := setLimit(size)
	sets := make([]bool, len(terms))
	counts := make([]int, len(terms))
	driven := false
	smallest := size // rows of the smallest set: what a count reads
	for i, t := range terms {
		n, err := estimateCond(ctx, est, b.d, q, t, probeCap)
		if err != nil {
			return plan{}, err
		}
		counts[i] = n
		sets[i] = n < limit
		if sets[i] {
			driven, smallest = true, min(smallest, n)
		}
	}
	if !driven && len(terms) > 1 {
		i, n, err := jointDriver(ctx, est, b.d, q, terms, size, sq.Count)
		if err != nil {
			return plan{}, err
		}
		if i >= 0 {
			sets[i], driven, smallest = true, true, n
		}
	}
	parts := []string{"r.deleted = false"}
	if v := b.visible("r"); v != "" {
		parts = append(parts, v)
	}
	if typ := b.typeCond("r", sq.Types, driven); typ != "" {
		parts = append(parts, typ)
	}
	where, err := b.drivenWhere(terms, sets)
	if err != nil {
		return plan{}, err
	}
	parts = append(parts, where...)
	// Counting reads every candidate of the smallest set (or the whole
	// type): cheap below countCheap rows.
	pl := plan{where: strings.Join(parts, " AND "), selective: smallest < countCheap}
	if !driven || walkInSet(smallest, size, sq.Count) {
		if err := pl.walk(ctx, b, q, sq, terms, sets, counts); err != nil {
			return plan{}, err
		}
	}
	return pl, nil
}

// walk makes pl read its page by a walk (walk.go) where one fits.
func (pl *plan) walk(ctx context.Context, b *builder, q dbQuerier, sq *store.Query, terms []store.Cond, sets []bool, counts []int) error {
	i := walkTerm(terms, sets, counts)
	if i < 0 {
		return nil
	}
	var ranges []walkRange
	var err error
	if !b.d.Lateral {
		ranges, err = walkRanges(ctx, b.d, q, terms[i].(store.TokenMatch))
		if err != nil || len(ranges) > maxWalkRanges {
			return err
		}
	}
	pl.page, pl.pageWhere, err = walkWhere(b.view, b.d, sq, terms, sets, i, ranges)
	pl.stable = len(terms) == 1
	return err
}

// pageQuery is the builder and WHERE the page query is written with.
func (pl *plan) pageQuery(b *builder) (*builder, string) {
	if pl.page != nil {
		return pl.page, pl.pageWhere
	}
	return b, pl.where
}

// drivenWhere writes the sets, then the per-row probes. Probes that need
// only a candidate's rid are applied to the first set's rids inside its
// subquery, so that only the candidates that pass them fetch their
// resources row (a chain can yield thousands of candidates of which a
// probe keeps a few percent; fetching each row first cost most of the
// query on PostgreSQL at 1M resources).
func (b *builder) drivenWhere(terms []store.Cond, sets []bool) ([]string, error) {
	var parts []string
	wrap := -1 // the part to wrap probes into
	for i, t := range terms {
		if !sets[i] {
			continue
		}
		c, err := b.cond("r", t)
		if err != nil {
			return nil, err
		}
		if wrap < 0 && strings.HasPrefix(c, "r.rid IN (") && strings.HasSuffix(c, ")") {
			wrap = len(parts)
		}
		parts = append(parts, c)
	}
	b.perRow = true
	defer func() { b.perRow = false }()
	var inner []string
	for i, t := range terms {
		if sets[i] {
			continue
		}
		if wrap >= 0 && ridOnly(t) {
			c, err := b.cond(derivedRows, t)
			if err != nil {
				return nil, err
			}
			inner = append(inner, c)
			continue
		}
		c, err := b.cond("r", t)
		if err != nil {
			return nil, err
		}
		parts = append(parts, c)
	}
	if len(inner) > 0 {
		set := strings.TrimSuffix(strings.TrimPrefix(parts[wrap], "r.rid IN ("), ")")
		parts[wrap] = fmt.Sprintf("r.rid IN (SELECT %s.rid FROM (%s) %s WHERE %s)", derivedRows, set, derivedRows, strings.Join(inner, " AND "))
	}
	return parts, nil
}

// derivedRows aliases the rids of a driving set that ridOnly probes
// narrow: it has no column but rid.
const derivedRows = "z"

// ridOnly reports whether c, written as a per-row probe, refers to the
// candidate by rid alone (not by id, type or its columns).
func ridOnly(c store.Cond) bool {
	switch c := c.(type) {
	case store.And:
		return allRidOnly(c)
	case store.Or:
		return allRidOnly(c)
	case store.Not:
		return ridOnly(c.X)
	case store.TokenMatch, store.StringMatch, store.RefMatch, store.DateMatch, store.NumberMatch, store.URIMatch,
		store.Near, store.Missing, store.Chain, store.Hierarchy:
		return true
	}
	return false
}

func allRidOnly(cs []store.Cond) bool {
	for _, c := range cs {
		if !ridOnly(c) {
			return false
		}
	}
	return true
}

// countCheap is the most candidate rows a count may read when the client
// did not ask for one (_total absent): about 5 ms of probes.
const countCheap = 1000

// refineCap bounds the second, closer count of conditions that are each
// common but may be rare together.
const refineCap = 100_000

// jointDriver handles conditions that are each common but rare together
// (a specialty held by 3 % of roles, in a city holding 1 %: 0.03 % match).
// A scan would read about count/density rows before it fills a page,
// while driving from the smallest condition reads that condition's rows
// once. With closer counts (up to refineCap) and the conditions taken as
// independent, it returns the term to drive from and its count, or -1 to
// scan.
func jointDriver(ctx context.Context, est *estimates, d *Dialect, q dbQuerier, terms []store.Cond, size, count int) (int, int, error) {
	if size == 0 {
		return -1, 0, nil
	}
	density, best, bestN := 1.0, -1, 0
	for i, t := range terms {
		n, err := estimateCond(ctx, est, d, q, t, refineCap)
		if err != nil {
			return -1, 0, err
		}
		if n >= refineCap {
			continue // too common to drive from, nor to narrow the estimate
		}
		density *= float64(n) / float64(size)
		if best < 0 || n < bestN {
			best, bestN = i, n
		}
	}
	if best < 0 {
		return -1, 0, nil
	}
	scanRows := float64(size)
	if density > 0 {
		scanRows = min(scanRows, float64(count+1)/density)
	}
	if float64(bestN) < scanRows {
		return best, bestN, nil
	}
	return -1, 0, nil
}

// typeSize counts the resources of the types, remembered a while (a count
// of a big type is not free).
func typeSize(ctx context.Context, est *estimates, d *Dialect, q dbQuerier, types []string) (int, error) {
	b := &builder{d: d}
	where := "deleted = false"
	if tc := b.typeCond("r", types, false); tc != "" {
		where += " AND " + tc
	}
	text := "SELECT COUNT(*) FROM resources r WHERE " + where
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

// estimateCond counts, up to capN, the rows a condition can match.
// Conditions that cannot drive a query (negations, :missing, ranges on
// columns) count as capN.
func estimateCond(ctx context.Context, est *estimates, d *Dialect, q dbQuerier, c store.Cond, capN int) (int, error) {
	switch c := c.(type) {
	case store.IDIs:
		return len(c.IDs), nil
	case store.Or:
		sum := 0
		for _, x := range c {
			n, err := estimateCond(ctx, est, d, q, x, capN)
			if err != nil {
				return 0, err
			}
			sum += n
			if sum >= capN {
				return capN, nil
			}
		}
		return sum, nil
	case store.And:
		low := capN
		for _, x := range c {
			n, err := estimateCond(ctx, est, d, q, x, capN)
			if err != nil {
				return 0, err
			}
			low = min(low, n)
		}
		return low, nil
	case store.Chain, store.Has:
		return countSet(ctx, est, d, q, c, capN)
	case store.TokenMatch, store.StringMatch, store.RefMatch, store.DateMatch, store.NumberMatch, store.URIMatch, store.Near:
		return countLeaf(ctx, est, d, q, c, capN)
	}
	return capN, nil
}

// countSet counts, up to capN, the resources a chain or _has
// condition's set form holds: the references to (or from) the resources its
// inner condition matches.
func countSet(ctx context.Context, est *estimates, d *Dialect, q dbQuerier, c store.Cond, capN int) (int, error) {
	b := &builder{d: d}
	cond, err := b.cond("r", c)
	if err != nil {
		return 0, err
	}
	text := fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM resources r WHERE %s LIMIT %d) e", cond, capN)
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

func countLeaf(ctx context.Context, est *estimates, d *Dialect, q dbQuerier, c store.Cond, capN int) (int, error) {
	b := &builder{d: d}
	l, err := b.leaf(c)
	if err != nil {
		return 0, err
	}
	text := fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %s WHERE %s AND %s LIMIT %d) e", l.table, b.groups(l.param), l.inner, capN)
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
