package search

import (
	"errors"
	"math/bits"
	"net/http"
	"slices"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/restrict"
	"github.com/vhdir/vhdir/internal/store"
)

// Indexing a restricted resource (VhDir §Restricted Content; the store's
// reduced form is described in store.Restriction).
//
// Rules. Each distinct rule in force or broken (restrict.Rule.Applies)
// gets a number in order of first appearance in the resource; rules with
// the same permit keys (restrict.Rule.Keys) share one, as the store could
// not tell them apart anyway. Rules[i] holds the keys of rule i. More than
// store.MaxRules numbers is refused (ErrTooManyRestrictions).
//
// Root is the mask of the rules on the resource root. Whoever sees the
// resource has passed them, so below they count as permitted.
//
// Main rows are those of what a viewer permitted by the root rules and by
// nothing else sees (restrict.ViewBy), kept only where they are rows of
// the resource itself too (so the SUBSETTED tag View adds is not one):
// every viewer of the version may match them, and none is the value of an
// element restricted on its own unless the same value is also somewhere
// every viewer sees.
//
// Guarded rows are the other rows of the whole resource. A row's mask is
// the set of element rules i such that denying rule i alone (every other
// rule permitted) loses the row: each of those must permit a viewer for it
// to see the value. When a viewer permitted by exactly those rules (and the
// root ones) would still not see the value — it occurs in several elements
// hidden by different rules, and no single denial loses it; or each of its
// places needs some rule no single denial shows — the mask is every element
// rule instead: never a leak, at worst a value fewer found by a viewer who
// could see it. Rows are grouped by mask, masks ascending.
//
// A resource whose restrictions hide nothing searchable still gets a
// Restriction (Marked, its Root, its Rules): reads must shape its body.

// ErrTooManyRestrictions is wrapped by the 422 Index returns for a resource
// with more distinct usage restrictions than the store can enforce
// (store.MaxRules).
var ErrTooManyRestrictions = errors.New("too many usage restrictions")

// indexRestricted indexes obj, of type typ, whose restrictions rs have
// something in force.
func (e *Engine) indexRestricted(typ string, obj *jsontree.Object, rs *restrict.Restrictions) (*store.Index, error) {
	r := &store.Restriction{Marked: true}
	bit := map[*restrict.Rule]int{}
	var elements int64 // mask of the rules on elements only
	for _, a := range rs.Applying() {
		i, ok := bit[a.Rule]
		if !ok {
			keys := a.Rule.Keys()
			i = slices.IndexFunc(r.Rules, func(k []string) bool { return slices.Equal(k, keys) })
			if i < 0 {
				i = len(r.Rules)
				r.Rules = append(r.Rules, keys)
			}
			bit[a.Rule] = i
		}
		if a.Root() {
			r.Root |= 1 << i
		} else {
			elements |= 1 << i
		}
	}
	if n := len(r.Rules); n > store.MaxRules {
		return nil, fhir.Errorf(http.StatusUnprocessableEntity, fhir.IssueNotSupported,
			"the resource has %d distinct usage restrictions; at most %d are supported", n, store.MaxRules).
			Wrap(ErrTooManyRestrictions)
	}
	elements &^= r.Root

	full, err := e.extract(typ, obj)
	if err != nil {
		return nil, err
	}
	if elements == 0 {
		full.Restriction = r
		return store.GuardRoot(full), nil
	}
	// seen extracts what a viewer permitted by exactly the rules of mask
	// sees.
	seen := func(mask int64) (*store.Index, error) {
		view, _, _ := restrict.ViewBy(obj, rs, func(rule *restrict.Rule) bool { return mask&(1<<bit[rule]) != 0 })
		return e.extract(typ, view)
	}
	all := rowSet(full)
	main, err := seen(r.Root)
	if err != nil {
		return nil, err
	}
	main = filterRows(main, func(row any) bool { return all.has(row) })
	inMain := rowSet(main)
	guarded := filterRows(full, func(row any) bool { return !inMain.has(row) })
	main.Restriction = r
	if guarded.Len() == 0 {
		return store.GuardRoot(main), nil
	}

	// The rows lost when one rule alone is denied.
	without := map[int]rows{}
	for i := range bits.Len64(uint64(elements)) {
		if elements&(1<<i) == 0 {
			continue
		}
		idx, err := seen((r.Root | elements) &^ (1 << i))
		if err != nil {
			return nil, err
		}
		without[i] = rowSet(idx)
	}
	masks := map[any]int64{}
	candidates := map[int64]bool{}
	eachRow(guarded, func(row any) {
		var m int64
		for i, s := range without {
			if !s.has(row) {
				m |= 1 << i
			}
		}
		masks[row] = m
		candidates[m] = true
	})
	// Check each mask: a viewer permitted by it must see the row.
	sound := map[int64]rows{}
	for m := range candidates {
		if m == 0 {
			continue
		}
		idx, err := seen(r.Root | m)
		if err != nil {
			return nil, err
		}
		sound[m] = rowSet(idx)
	}
	groups := map[int64]*store.Index{}
	eachRow(guarded, func(row any) {
		m := masks[row]
		if m == 0 || !sound[m].has(row) {
			m = elements
		}
		g := groups[m]
		if g == nil {
			g = &store.Index{}
			groups[m] = g
		}
		addRow(g, row)
	})
	for m, g := range groups {
		r.Guarded = append(r.Guarded, store.GuardedIndex{Mask: m, Index: g})
	}
	slices.SortFunc(r.Guarded, func(a, b store.GuardedIndex) int {
		switch {
		case a.Mask < b.Mask:
			return -1
		case a.Mask > b.Mask:
			return 1
		}
		return 0
	})
	return store.GuardRoot(main), nil
}

// rows is a set of index rows of any table (the row structs are
// comparable, and of a different type per table).
type rows map[any]struct{}

func (s rows) has(row any) bool {
	_, ok := s[row]
	return ok
}

func rowSet(idx *store.Index) rows {
	s := make(rows, idx.Len())
	eachRow(idx, func(row any) { s[row] = struct{}{} })
	return s
}

// eachRow calls fn for each row of idx, table by table, in order.
func eachRow(idx *store.Index, fn func(row any)) {
	for _, v := range idx.Strings {
		fn(v)
	}
	for _, v := range idx.Tokens {
		fn(v)
	}
	for _, v := range idx.Refs {
		fn(v)
	}
	for _, v := range idx.Dates {
		fn(v)
	}
	for _, v := range idx.Numbers {
		fn(v)
	}
	for _, v := range idx.Quantities {
		fn(v)
	}
	for _, v := range idx.URIs {
		fn(v)
	}
	for _, v := range idx.Coords {
		fn(v)
	}
}

// addRow appends row to its table in idx.
func addRow(idx *store.Index, row any) {
	switch v := row.(type) {
	case store.StringValue:
		idx.Strings = append(idx.Strings, v)
	case store.TokenValue:
		idx.Tokens = append(idx.Tokens, v)
	case store.RefValue:
		idx.Refs = append(idx.Refs, v)
	case store.DateValue:
		idx.Dates = append(idx.Dates, v)
	case store.NumberValue:
		idx.Numbers = append(idx.Numbers, v)
	case store.QuantityValue:
		idx.Quantities = append(idx.Quantities, v)
	case store.URIValue:
		idx.URIs = append(idx.URIs, v)
	case store.CoordValue:
		idx.Coords = append(idx.Coords, v)
	}
}

// filterRows returns the rows of idx that keep accepts, in order.
func filterRows(idx *store.Index, keep func(row any) bool) *store.Index {
	out := &store.Index{}
	eachRow(idx, func(row any) {
		if keep(row) {
			addRow(out, row)
		}
	})
	return out
}
