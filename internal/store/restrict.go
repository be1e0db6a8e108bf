package store

import (
	"context"
	"slices"
)

// Usage restrictions (VhDir §Restricted Content; package restrict decides
// what they mean). The store enforces them inside its queries, so that a
// resource or value a viewer may not see is never matched, counted,
// sorted by, included, chained through or listed in history or exports for
// that viewer — filtering in the query keeps page sizes and totals exact.
//
// The store sees restrictions in this reduced form: a version has up to
// MaxRules rules, numbered 0…62 (bit i of a mask is rule i). A viewer is
// permitted by a rule when it holds one of the rule's permit keys (strings
// such as "Organization/acme" or "label:shelter-staff"; package restrict
// makes both sides), and by a mask when it is permitted by every rule in
// it. Keys are compared as written.

// MaxRules is how many rules one version may carry.
const MaxRules = 63

// Restriction is how one resource version is restricted. The zero value
// (or a nil *Restriction) is an unrestricted version.
type Restriction struct {
	// Root is the mask of rules that must all permit a viewer for the
	// version to exist for it at all (read, vread, search, includes,
	// chains, _has, history, export).
	Root int64
	// Rules holds the permit keys of each rule: Rules[i] for bit i. A rule
	// with no keys permits only viewers that see everything (operators).
	Rules [][]string
	// Guarded holds index rows of values that only some viewers see
	// (values of elements restricted on their own). The version's main
	// Index holds the rows every viewer of the version sees; a value in
	// both is kept only there.
	Guarded []GuardedIndex
	// Marked says the version carries restrictions at all (in force, on
	// the root or any element, or inherited as a VerificationResult's
	// are): readers must then shape its body per viewer. A version with
	// Root 0 and no Guarded rows can still be Marked (restrictions that
	// hide nothing searchable, or elements hidden from some).
	Marked bool
}

// GuardedIndex is index rows visible to viewers permitted by every rule in
// Mask (Mask is never 0).
type GuardedIndex struct {
	Mask  int64
	Index *Index
}

// Viewer is who a query runs for, as the store checks it. nil (or the zero
// Viewer) sees only what no restriction hides.
type Viewer struct {
	// All sees everything: directory operators, and the server's own
	// lookups (conditional writes, reference checks, audit).
	All bool
	// Keys are the permit keys the viewer holds.
	Keys []string
}

// SeeAll is the Viewer of the server's own lookups.
var SeeAll = &Viewer{All: true}

// RestrictStore enforces usage restrictions. Query, HistoryQuery and ExportScan carry their Viewer;
// reads (Read, VRead) return versions whatever their restriction, with
// Version.Restricted and Version.Guard set, and the caller asks Visible.
type RestrictStore interface {
	// Visible reports whether viewer may see version v (a version read
	// from this store): true when v.Guard is 0 or viewer sees everything,
	// else whether viewer is permitted by every rule of v.Guard.
	Visible(ctx context.Context, v *Version, viewer *Viewer) (bool, error)
}

// GuardRoot returns idx made fit for a version restricted at its root
// (idx.Restriction.Root non-zero): every main row becomes a guarded row of
// the root mask, and the root mask joins every guarded mask. Then the main
// rows, which every query reads, never hold a resource that some viewers
// may not see, and a count from index rows alone (the fast _total) is exact
// for viewers without permissions. An unrestricted or root-free idx is
// returned as it is. The rows of idx.Restriction.Guarded must not repeat
// main rows (Restriction says so).
func GuardRoot(idx *Index) *Index {
	if idx == nil || idx.Restriction == nil || idx.Restriction.Root == 0 {
		return idx
	}
	r := *idx.Restriction
	byMask := map[int64]*Index{}
	var masks []int64
	add := func(mask int64, from *Index) {
		if from.Len() == 0 {
			return
		}
		g := byMask[mask]
		if g == nil {
			g = &Index{}
			byMask[mask] = g
			masks = append(masks, mask)
		}
		g.append(from)
	}
	main := *idx
	main.Restriction = nil
	add(r.Root, &main)
	for _, g := range r.Guarded {
		add(r.Root|g.Mask, g.Index)
	}
	slices.Sort(masks)
	r.Guarded = make([]GuardedIndex, len(masks))
	for i, m := range masks {
		r.Guarded[i] = GuardedIndex{Mask: m, Index: byMask[m]}
	}
	return &Index{Restriction: &r}
}

// append adds the rows of y to x.
func (x *Index) append(y *Index) {
	x.Strings = append(x.Strings, y.Strings...)
	x.Tokens = append(x.Tokens, y.Tokens...)
	x.Refs = append(x.Refs, y.Refs...)
	x.Dates = append(x.Dates, y.Dates...)
	x.Numbers = append(x.Numbers, y.Numbers...)
	x.Quantities = append(x.Quantities, y.Quantities...)
	x.URIs = append(x.URIs, y.URIs...)
	x.Coords = append(x.Coords, y.Coords...)
}
