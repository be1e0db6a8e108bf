package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/vhdir/vhdir/internal/store"
)

// testSortAndPaging sorts by parameters (several keys, both directions,
// missing values last) and pages through the order with cursors.
func testSortAndPaging(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	names := []string{"delta", "alpha", "charlie", "bravo", "alpha", "echo"}
	for i, n := range names {
		idx := &store.Index{Strings: []store.StringValue{{Param: pName, Norm: n, Exact: n}}, Dates: []store.DateValue{{Param: pDate, Lo: int64(i), Hi: int64(i)}}}
		put(t, s, "Practitioner", fmt.Sprintf("p%d", i), t0, idx)
	}
	put(t, s, "Practitioner", "nameless", t0, nil)
	tests := []struct {
		name string
		sort []store.SortKey
		want []string
	}{
		{"name asc, missing last", []store.SortKey{{Param: pName, Kind: store.SortString}}, []string{"p1", "p4", "p3", "p2", "p0", "p5", "nameless"}},
		{"name desc, missing last", []store.SortKey{{Param: pName, Kind: store.SortString, Desc: true}}, []string{"p5", "p0", "p2", "p3", "p1", "p4", "nameless"}},
		{"name then date desc", []store.SortKey{{Param: pName, Kind: store.SortString}, {Param: pDate, Kind: store.SortDate, Desc: true}}, []string{"p4", "p1", "p3", "p2", "p0", "p5", "nameless"}},
		{"id desc", []store.SortKey{{Kind: store.SortID, Desc: true}}, []string{"p5", "p4", "p3", "p2", "p1", "p0", "nameless"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{100, 2, 3} {
				q := &store.Query{Types: []string{"Practitioner"}, Sort: tt.sort, Count: size}
				var got []string
				for range 10 {
					page := mustSearch(t, s, q)
					got = append(got, ids(page)...)
					if page.Next == nil {
						break
					}
					q.After = page.Next
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("pages of %d = %v; want %v", size, got, tt.want)
				}
			}
		})
	}
	// A cursor comes back from the client: one that does not fit the
	// query's sort is refused as such, never sent to the database.
	byName := []store.SortKey{{Param: pName, Kind: store.SortString}}
	byDate := []store.SortKey{{Param: pDate, Kind: store.SortDate, Desc: true}}
	bad := []struct {
		name string
		sort []store.SortKey
		keys []any
	}{
		{"keys the query lacks", nil, []any{"x"}},
		{"too few keys", byName, nil},
		{"a number for a string", byName, []any{int64(5)}},
		{"NUL in a string", byName, []any{"a\x00"}},
		{"text that is not UTF-8", byName, []any{"\xff"}},
		{"a string for a date", byDate, []any{"x"}},
		{"a fraction for a date", byDate, []any{1.5}},
		{"a string for the time", []store.SortKey{{Kind: store.SortLastUpdated}}, []any{"x"}},
		{"a kind of value no sort has", byName, []any{true}},
	}
	for _, tt := range bad {
		t.Run("cursor with "+tt.name, func(t *testing.T) {
			q := &store.Query{Types: []string{"Practitioner"}, Sort: tt.sort, Count: 2, After: &store.Cursor{RowID: 1, Keys: tt.keys}}
			if _, err := s.Search(t.Context(), q); !errors.Is(err, store.ErrBadCursor) {
				t.Errorf("Search(after a cursor with %s) = %v; want ErrBadCursor", tt.name, err)
			}
		})
	}
	fits := &store.Query{Types: []string{"Practitioner"}, Sort: byDate, Count: 2, After: &store.Cursor{RowID: 1, Keys: []any{nil}}}
	if _, err := s.Search(t.Context(), fits); err != nil {
		t.Errorf("Search(after a cursor past the dated resources) = %v", err)
	}
}

// testIncludes: _include, _revinclude, targets, :iterate and the cap.
func testIncludes(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	const pPart = 120 // Organization.partof
	put(t, s, "Organization", "sys", t0, nil)
	put(t, s, "Organization", "o1", t0, &store.Index{Refs: []store.RefValue{{Param: pPart, Type: "Organization", ID: "sys"}}})
	put(t, s, "Practitioner", "doc", t0, nil)
	put(t, s, "PractitionerRole", "r1", t0, &store.Index{Tokens: []store.TokenValue{{Param: pCode, Code: "x"}}, Refs: []store.RefValue{{Param: pOrg, Type: "Organization", ID: "o1"}, {Param: 121, Type: "Practitioner", ID: "doc"}}})
	put(t, s, "PractitionerRole", "r2", t0, &store.Index{Tokens: []store.TokenValue{{Param: pCode, Code: "x"}}, Refs: []store.RefValue{{Param: pOrg, Type: "Organization", ID: "o1"}, {Param: 121, Type: "Practitioner", ID: "gone"}}})
	put(t, s, "Endpoint", "e1", t0, &store.Index{Refs: []store.RefValue{{Param: 122, Type: "Organization", ID: "o1"}}})
	tests := []struct {
		name  string
		types []string
		where store.Cond
		inc   []store.Include
		max   int
		want  string
		trunc bool
	}{
		{"forward", []string{"PractitionerRole"}, store.TokenMatch{Param: pCode, Code: ptr("x")},
			[]store.Include{{Source: "PractitionerRole", Param: pOrg}}, 0, "[Organization/o1]", false},
		{"forward two params", []string{"PractitionerRole"}, store.TokenMatch{Param: pCode, Code: ptr("x")},
			[]store.Include{{Source: "PractitionerRole", Param: pOrg}, {Source: "PractitionerRole", Param: 121}}, 0, "[Organization/o1 Practitioner/doc]", false},
		{"forward with other target type", []string{"PractitionerRole"}, store.TokenMatch{Param: pCode, Code: ptr("x")},
			[]store.Include{{Source: "PractitionerRole", Param: pOrg, Targets: []string{"Location"}}}, 0, "[]", false},
		{"iterate up the hierarchy", []string{"PractitionerRole"}, store.TokenMatch{Param: pCode, Code: ptr("x")},
			[]store.Include{{Source: "PractitionerRole", Param: pOrg}, {Source: "Organization", Param: pPart, Iterate: true}}, 0, "[Organization/o1 Organization/sys]", false},
		{"no iterate, no second step", []string{"PractitionerRole"}, store.TokenMatch{Param: pCode, Code: ptr("x")},
			[]store.Include{{Source: "PractitionerRole", Param: pOrg}, {Source: "Organization", Param: pPart}}, 0, "[Organization/o1]", false},
		{"reverse", []string{"Organization"}, store.IDIs{IDs: []string{"o1"}},
			[]store.Include{{Reverse: true, Source: "PractitionerRole", Param: pOrg}, {Reverse: true, Source: "Endpoint", Param: 122}}, 0, "[PractitionerRole/r1 PractitionerRole/r2 Endpoint/e1]", false},
		{"cap", []string{"Organization"}, store.IDIs{IDs: []string{"o1"}},
			[]store.Include{{Reverse: true, Source: "PractitionerRole", Param: pOrg}}, 1, "[PractitionerRole/r1]", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := mustSearch(t, s, &store.Query{Types: tt.types, Where: tt.where, Count: 10, Includes: tt.inc, MaxIncluded: tt.max})
			var got []string
			for _, v := range page.Included {
				got = append(got, v.Type+"/"+v.ID)
			}
			if fmt.Sprint(got) != tt.want && !(tt.want == "[]" && len(got) == 0) {
				t.Errorf("included = %v; want %s", got, tt.want)
			}
			if page.IncludedTruncated != tt.trunc {
				t.Errorf("truncated = %v; want %v", page.IncludedTruncated, tt.trunc)
			}
		})
	}
}

// testHierarchy: references to a resource and its descendants or
// ancestors along a partof reference.
func testHierarchy(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	const pPart = 130
	part := func(to string) *store.Index {
		return &store.Index{Refs: []store.RefValue{{Param: pPart, Type: "Organization", ID: to}}}
	}
	put(t, s, "Organization", "root", t0, nil)
	put(t, s, "Organization", "a", t0, part("root"))
	put(t, s, "Organization", "a1", t0, part("a"))
	put(t, s, "Organization", "a1x", t0, part("a1"))
	put(t, s, "Organization", "b", t0, part("root"))
	put(t, s, "Organization", "loop1", t0, part("loop2")) // a cycle must not hang
	put(t, s, "Organization", "loop2", t0, part("loop1"))
	for _, who := range []string{"root", "a", "a1", "a1x", "b"} {
		put(t, s, "PractitionerRole", "at-"+who, t0, &store.Index{Refs: []store.RefValue{{Param: pOrg, Type: "Organization", ID: who}}})
	}
	tests := []struct {
		name  string
		types []string
		cond  store.Hierarchy
		want  string
	}{
		{"organizations below a", []string{"Organization"}, store.Hierarchy{Param: pPart, Type: "Organization", ID: "a", PartOf: pPart, Below: true}, "[a1 a1x]"},
		{"roles at a or below", []string{"PractitionerRole"}, store.Hierarchy{Param: pOrg, Type: "Organization", ID: "a", PartOf: pPart, Below: true}, "[at-a at-a1 at-a1x]"},
		{"roles at a1 or above", []string{"PractitionerRole"}, store.Hierarchy{Param: pOrg, Type: "Organization", ID: "a1", PartOf: pPart}, "[at-root at-a at-a1]"},
		{"cycle", []string{"Organization"}, store.Hierarchy{Param: pPart, Type: "Organization", ID: "loop1", PartOf: pPart, Below: true}, "[loop1 loop2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := mustSearch(t, s, &store.Query{Types: tt.types, Where: tt.cond, Count: 20})
			if got := fmt.Sprint(ids(page)); got != tt.want {
				t.Errorf("Search(%+v) = %s; want %s", tt.cond, got, tt.want)
			}
		})
	}
}

// testNearSort orders by distance from a point.
func testNearSort(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	for id, c := range map[string][2]float64{"boston": {42.3601, -71.0589}, "cambridge": {42.3736, -71.1097}, "denver": {39.7392, -104.9903}} {
		put(t, s, "Location", id, t0, &store.Index{Coords: []store.CoordValue{{Param: pPos, Lat: c[0], Lon: c[1]}}})
	}
	put(t, s, "Location", "nowhere", t0, nil)
	from := &store.Near{Param: pPos, Lat: 42.37, Lon: -71.11, RadiusKm: 5000}
	page := mustSearch(t, s, &store.Query{Types: []string{"Location"}, Count: 10, Sort: []store.SortKey{{Param: pPos, Kind: store.SortNear, Near: from}}})
	if got := fmt.Sprint(ids(page)); got != "[cambridge boston denver nowhere]" {
		t.Errorf("near sort = %s; want [cambridge boston denver nowhere]", got)
	}
}
