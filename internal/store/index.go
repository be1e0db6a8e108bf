package store

// Index holds the search-index rows of one resource version: one row per
// value a search parameter extracted from it. Param identifies the search
// parameter (ParamID: a stable 64-bit hash of its base type and code, so
// every node agrees without coordination, as HAPI's HASH_IDENTITY does). The
// store only stores and queries the rows; what they mean is the search
// package's business.
type Index struct {
	Strings    []StringValue
	Tokens     []TokenValue
	Refs       []RefValue
	Dates      []DateValue
	Numbers    []NumberValue
	Quantities []QuantityValue
	URIs       []URIValue
	Coords     []CoordValue
	// Restriction, when set, is how the version is restricted (see
	// Restriction); nil for an unrestricted version and for the indexes
	// inside Restriction.Guarded.
	Restriction *Restriction
}

// Len returns the number of rows.
func (x *Index) Len() int {
	if x == nil {
		return 0
	}
	return len(x.Strings) + len(x.Tokens) + len(x.Refs) + len(x.Dates) + len(x.Numbers) +
		len(x.Quantities) + len(x.URIs) + len(x.Coords)
}

// StringValue is a string parameter value. Norm is the value normalized for
// matching (case and accents folded); Exact is the value as written.
type StringValue struct {
	Param int64
	Norm  string
	Exact string
}

// TokenValue is a token: a code with its system (either may be empty).
type TokenValue struct {
	Param  int64
	System string
	Code   string
}

// RefValue is a reference. Local references have Type and ID; references to
// other servers keep the absolute URL (and Type and ID when FHIR-shaped).
type RefValue struct {
	Param int64
	Type  string
	ID    string
	URL   string
}

// DateValue is a date range, in Unix microseconds, both ends inclusive:
// 2019-03 becomes [2019-03-01T00:00:00Z, 2019-03-31T23:59:59.999999Z].
type DateValue struct {
	Param  int64
	Lo, Hi int64
}

// NumberValue is a number with the range its precision implies
// (1.5 is [1.45, 1.55)).
type NumberValue struct {
	Param  int64
	Value  float64
	Lo, Hi float64
}

// QuantityValue is a number with a unit.
type QuantityValue struct {
	Param  int64
	System string
	Code   string
	Value  float64
	Lo, Hi float64
}

// URIValue is a uri, url or canonical.
type URIValue struct {
	Param int64
	URI   string
}

// CoordValue is a position in degrees (WGS84).
type CoordValue struct {
	Param    int64
	Lat, Lon float64
}

// ParamID is the id of search parameter code of type typ (FNV-1a of
// "typ.code"); modifiers indexed on their own rows (code:identifier,
// code:text) have ids of their own.
func ParamID(typ, code string) int64 {
	h := uint64(14695981039346656037)
	for _, s := range []string{typ, ".", code} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
	}
	return int64(h)
}
