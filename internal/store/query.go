package store

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Query is a search compiled by the search package into conditions on index
// rows. Backends translate it to their SQL.
type Query struct {
	// Types restricts matches to these resource types (one for a type
	// search; several or none for a system search).
	Types []string
	// Where must hold for every match (nil: everything).
	Where Cond
	// Sort orders the matches; ties (and an empty Sort) fall back to the
	// internal row order, which keeps paging stable.
	Sort []SortKey
	// Count is the page size; 0 asks for no entries (a count only).
	Count int
	// After continues from the cursor of a previous page.
	After *Cursor
	// Total asks for the number of matches.
	Total TotalMode
	// Includes add resources related to the page's matches (_include,
	// _revinclude), applied in order; see Include.
	Includes []Include
	// MaxIncluded bounds the resources Includes may add to one page (0:
	// no bound).
	MaxIncluded int
	// Viewer is who searches (nil: see only what no restriction hides).
	// Resources it may not see are not matched, counted, included or
	// chained through, and index rows it may not see are not matched (a
	// value hidden from it is missing for :missing). Sort keys read the
	// values it may see: a value hidden from it never orders its results.
	Viewer *Viewer
}

// Include adds resources related to a page's matches.
//
// Forward (_include=Source:param[:Target]): the resources that reference
// parameter Param of the matches of type Source points to, of one of Targets
// (empty: any type).
//
// Reverse (_revinclude=Source:param): the resources of type Source whose
// reference parameter Param points to one of the matches.
//
// With Iterate the include is applied again to what includes added, until
// nothing new comes (at most a few rounds).
type Include struct {
	Reverse bool
	Source  string
	Param   int64
	Targets []string
	Iterate bool
}

// TotalMode says whether to count matches.
type TotalMode uint8

// Total modes.
const (
	TotalNone TotalMode = iota
	TotalAccurate
	// TotalIfCheap counts when the query has a selective condition (or
	// none at all), else leaves the total out.
	TotalIfCheap
)

// SortKey orders by one search parameter (or a built-in key). A resource
// with several values sorts by its lowest (ascending) or highest
// (descending); one without any sorts last.
type SortKey struct {
	Param int64
	Kind  SortKind
	Desc  bool
	// Near is the point distances are measured from (SortNear).
	Near *Near
}

// SortKind says which index table a sort key reads.
type SortKind uint8

// Sort kinds.
const (
	SortLastUpdated SortKind = iota + 1
	SortID
	SortString
	SortToken
	SortDate
	SortNumber
	SortQuantity
	SortURI
	SortRef
	SortNear // distance from a point, on coordinate rows
)

// Fits reports whether v can be the value of a sort key of kind k in a
// Cursor: nil (a resource without a value), or what the database holds
// for the kind: text for ids, strings, tokens, URIs and references (UTF-8
// without NUL, as the database stores text), int64 for times and dates, a
// number for numbers, quantities and distances. A cursor comes back from
// the client, so a backend refuses one that does not fit its query's sort
// (ErrBadCursor) rather than sending it to the database.
func (k SortKind) Fits(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		switch k {
		case SortID, SortString, SortToken, SortURI, SortRef:
			return utf8.ValidString(x) && !strings.ContainsRune(x, 0)
		}
	case int64:
		switch k {
		case SortLastUpdated, SortDate, SortNumber, SortQuantity, SortNear:
			return true
		}
	case float64:
		switch k {
		case SortNumber, SortQuantity, SortNear:
			return true
		}
	}
	return false
}

// Cursor is the position after the last match of a page. Keys holds the sort
// key values of that match; RowID its internal row order.
type Cursor struct {
	Keys  []any
	RowID int64
}

// SearchPage is one page of matches.
type SearchPage struct {
	Versions []*Version
	// Next continues after this page; nil on the last page.
	Next *Cursor
	// Included holds what Includes added (no duplicates, none of the
	// matches), and IncludedTruncated says MaxIncluded cut it short.
	Included          []*Version
	IncludedTruncated bool
	// Total is the number of matches when asked for, else -1.
	Total int64
}

// Cond is a condition on a resource. The concrete types below are the only
// implementations.
type Cond interface{ cond() }

// And holds when every condition holds.
type And []Cond

// Or holds when any condition holds.
type Or []Cond

// AllOf is the conjunction of the conditions that are not nil: nil when
// none is left, the condition itself when one is.
func AllOf(cs ...Cond) Cond {
	var and And
	for _, c := range cs {
		if c != nil {
			and = append(and, c)
		}
	}
	switch len(and) {
	case 0:
		return nil
	case 1:
		return and[0]
	}
	return and
}

// AnyOf is the disjunction of cs: nil when there is none, the condition
// itself when there is one.
func AnyOf(cs ...Cond) Cond {
	switch len(cs) {
	case 0:
		return nil
	case 1:
		return cs[0]
	}
	return Or(cs)
}

// Not holds when X does not.
type Not struct{ X Cond }

// IDIs holds for resources with one of these ids.
type IDIs struct{ IDs []string }

// LastUpdated compares meta.lastUpdated with a range.
type LastUpdated struct {
	Op     Comparator
	Lo, Hi time.Time
}

// StringMatch matches string index rows. Value is normalized for Prefix
// and Contains; for Exact it is as written and Norm is its normalized form
// (the index is on the normalized value).
type StringMatch struct {
	Param int64
	Mode  StringMode
	Value string
	Norm  string
}

// StringMode is how a string parameter matches.
type StringMode uint8

// String modes.
const (
	StringPrefix StringMode = iota + 1
	StringExact
	StringContains
)

// TokenMatch matches token rows. A nil System matches any system; an empty
// one only codes without a system. A nil Code matches any code of System.
type TokenMatch struct {
	Param  int64
	System *string
	Code   *string
}

// RefMatch matches reference rows by local type and id, or by URL.
type RefMatch struct {
	Param int64
	Type  string // empty: any type
	ID    string
	URL   string // for references to other servers
}

// DateMatch compares date rows with a range under a FHIR prefix.
type DateMatch struct {
	Param  int64
	Op     Comparator
	Lo, Hi int64 // Unix microseconds, inclusive
}

// NumberMatch compares number (or quantity) rows with a range.
type NumberMatch struct {
	Param  int64
	Op     Comparator
	Value  float64
	Lo, Hi float64
	// Quantity rows only: unit constraints (nil: any).
	Quantity     bool
	System, Code *string
}

// URIMatch matches uri rows.
type URIMatch struct {
	Param int64
	Mode  URIMode
	Value string
}

// URIMode is how a uri parameter matches.
type URIMode uint8

// URI modes.
const (
	URIExact URIMode = iota + 1
	URIBelow
	URIAbove
)

// Near matches coordinate rows within Radius kilometres of a point.
type Near struct {
	Param    int64
	Lat, Lon float64
	RadiusKm float64
}

// Missing holds when the resource has (Missing false) or lacks (Missing
// true) any row for Param in the given table.
type Missing struct {
	Param   int64
	Table   Table
	Missing bool
}

// Chain holds when a reference Param of the resource points to a resource of
// one of Types that satisfies Where (forward chaining: organization.name=x).
type Chain struct {
	Param int64
	Types []string
	Where Cond
}

// Hierarchy holds when reference Param points to resource Type/ID or,
// following the hierarchy reference PartOf of resources of Type (for
// example Organization.partof), to one of its descendants (Below) or
// ancestors (Above, that is !Below).
type Hierarchy struct {
	Param  int64
	Type   string
	ID     string
	PartOf int64
	Below  bool
}

// Has holds when some resource of Type whose reference Param points to this
// resource satisfies Where (reverse chaining: _has:PractitionerRole:practitioner:…).
type Has struct {
	Type  string
	Param int64
	Where Cond
}

// Table names an index table.
type Table uint8

// Index tables.
const (
	TableString Table = iota + 1
	TableToken
	TableRef
	TableDate
	TableNumber
	TableQuantity
	TableURI
	TableCoord
)

// Comparator is a FHIR search prefix.
type Comparator uint8

// FHIR search prefixes (https://hl7.org/fhir/R4/search.html#prefix).
const (
	Eq Comparator = iota + 1
	Ne
	Gt
	Lt
	Ge
	Le
	Sa
	Eb
	Ap
)

func (And) cond()         {}
func (Or) cond()          {}
func (Not) cond()         {}
func (IDIs) cond()        {}
func (LastUpdated) cond() {}
func (StringMatch) cond() {}
func (TokenMatch) cond()  {}
func (RefMatch) cond()    {}
func (DateMatch) cond()   {}
func (NumberMatch) cond() {}
func (URIMatch) cond()    {}
func (Near) cond()        {}
func (Missing) cond()     {}
func (Chain) cond()       {}
func (Has) cond()         {}
func (Hierarchy) cond()   {}
