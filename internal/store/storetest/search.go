package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// Parameter ids used by the search subtests; any int64 works.
const (
	pName   = 101
	pCode   = 102
	pOrg    = 103
	pDate   = 104
	pNum    = 105
	pQty    = 106
	pURI    = 107
	pPos    = 108
	pCity   = 109
	pActive = 110
)

// seedDirectory writes a small directory: organizations o1 (Boston) and o2
// (Denver), practitioner roles pointing at them.
func seedDirectory(t *testing.T, s store.Store) {
	t.Helper()
	put(t, s, "Organization", "o1", t0, &store.Index{
		Strings: []store.StringValue{{Param: pName, Norm: "general hospital", Exact: "General Hospital"}, {Param: pCity, Norm: "boston", Exact: "Boston"}},
		URIs:    []store.URIValue{{Param: pURI, URI: "http://example.org/fhir/ValueSet/a"}},
		Coords:  []store.CoordValue{{Param: pPos, Lat: 42.3601, Lon: -71.0589}},
	})
	put(t, s, "Organization", "o2", t0, &store.Index{
		Strings: []store.StringValue{{Param: pName, Norm: "mile high clinic", Exact: "Mile High Clinic"}, {Param: pCity, Norm: "denver", Exact: "Denver"}},
		Coords:  []store.CoordValue{{Param: pPos, Lat: 39.7392, Lon: -104.9903}},
	})
	put(t, s, "PractitionerRole", "r1", t0, &store.Index{
		Tokens: []store.TokenValue{{Param: pCode, System: "http://nucc.org/provider-taxonomy", Code: "207RC0000X"}, {Param: pActive, Code: "true"}},
		Refs:   []store.RefValue{{Param: pOrg, Type: "Organization", ID: "o1"}},
	})
	put(t, s, "PractitionerRole", "r2", t0, &store.Index{
		Tokens: []store.TokenValue{{Param: pCode, System: "http://snomed.info/sct", Code: "394579002"}, {Param: pActive, Code: "false"}},
		Refs:   []store.RefValue{{Param: pOrg, Type: "Organization", ID: "o2"}},
	})
	put(t, s, "PractitionerRole", "r3", t0, &store.Index{
		Tokens: []store.TokenValue{{Param: pCode, Code: "207RC0000X"}},
		Refs:   []store.RefValue{{Param: pOrg, URL: "https://other.example/fhir/Organization/9", Type: "Organization", ID: "9"}},
	})
}

func testSearchConditions(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	seedDirectory(t, s)
	nucc, snomed, empty := "http://nucc.org/provider-taxonomy", "http://snomed.info/sct", ""
	code := "207RC0000X"
	tests := []struct {
		name  string
		types []string
		where store.Cond
		want  []string
	}{
		{"token code", []string{"PractitionerRole"}, store.TokenMatch{Param: pCode, Code: &code}, []string{"r1", "r3"}},
		{"token system|code", []string{"PractitionerRole"}, store.TokenMatch{Param: pCode, System: &nucc, Code: &code}, []string{"r1"}},
		{"token |code (no system)", []string{"PractitionerRole"}, store.TokenMatch{Param: pCode, System: &empty, Code: &code}, []string{"r3"}},
		{"token system|", []string{"PractitionerRole"}, store.TokenMatch{Param: pCode, System: &snomed}, []string{"r2"}},
		{"not token", []string{"PractitionerRole"}, store.Not{X: store.TokenMatch{Param: pActive, Code: ptr("false")}}, []string{"r1", "r3"}},
		{"string prefix", []string{"Organization"}, store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "gen"}, []string{"o1"}},
		{"string prefix whole word", []string{"Organization"}, store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "mile high clinic"}, []string{"o2"}},
		{"string exact is case-sensitive", []string{"Organization"}, store.StringMatch{Param: pName, Mode: store.StringExact, Value: "general hospital", Norm: "general hospital"}, nil},
		{"string exact", []string{"Organization"}, store.StringMatch{Param: pName, Mode: store.StringExact, Value: "General Hospital", Norm: "general hospital"}, []string{"o1"}},
		{"string contains", []string{"Organization"}, store.StringMatch{Param: pName, Mode: store.StringContains, Value: "high"}, []string{"o2"}},
		{"string contains with LIKE metacharacters", []string{"Organization"}, store.StringMatch{Param: pName, Mode: store.StringContains, Value: "h%h"}, nil},
		{"reference by type and id", []string{"PractitionerRole"}, store.RefMatch{Param: pOrg, Type: "Organization", ID: "o2"}, []string{"r2"}},
		{"reference by id", []string{"PractitionerRole"}, store.RefMatch{Param: pOrg, ID: "o1"}, []string{"r1"}},
		{"reference by url", []string{"PractitionerRole"}, store.RefMatch{Param: pOrg, URL: "https://other.example/fhir/Organization/9"}, []string{"r3"}},
		{"uri exact", nil, store.URIMatch{Param: pURI, Mode: store.URIExact, Value: "http://example.org/fhir/ValueSet/a"}, []string{"o1"}},
		{"uri below", nil, store.URIMatch{Param: pURI, Mode: store.URIBelow, Value: "http://example.org/fhir"}, []string{"o1"}},
		{"uri above", nil, store.URIMatch{Param: pURI, Mode: store.URIAbove, Value: "http://example.org/fhir/ValueSet/a/extra"}, []string{"o1"}},
		{"near 20 km of Cambridge", []string{"Organization"}, store.Near{Param: pPos, Lat: 42.3736, Lon: -71.1097, RadiusKm: 20}, []string{"o1"}},
		{"near 1 km of Cambridge", []string{"Organization"}, store.Near{Param: pPos, Lat: 42.3736, Lon: -71.1097, RadiusKm: 1}, nil},
		{"missing true", []string{"Organization"}, store.Missing{Param: pURI, Table: store.TableURI, Missing: true}, []string{"o2"}},
		{"missing false", []string{"Organization"}, store.Missing{Param: pURI, Table: store.TableURI, Missing: false}, []string{"o1"}},
		{"and", []string{"PractitionerRole"}, store.And{store.TokenMatch{Param: pCode, Code: &code}, store.TokenMatch{Param: pActive, Code: ptr("true")}}, []string{"r1"}},
		{"or", []string{"PractitionerRole"}, store.Or{store.RefMatch{Param: pOrg, ID: "o2"}, store.TokenMatch{Param: pCode, System: &empty, Code: &code}}, []string{"r2", "r3"}},
		{"ids", nil, store.IDIs{IDs: []string{"o2", "r3", "nope"}}, []string{"o2", "r3"}},
		{"type filter", []string{"Organization", "Location"}, nil, []string{"o1", "o2"}},
		{"last updated", nil, store.LastUpdated{Op: store.Gt, Lo: t0, Hi: t0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := mustSearch(t, s, &store.Query{Types: tt.types, Where: tt.where, Count: 50})
			if got := ids(page); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Search(%#v) = %v; want %v", tt.where, got, tt.want)
			}
		})
	}
}

// testSearchDates checks the FHIR prefix semantics on ranges.
func testSearchDates(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	day := func(d int) int64 { return time.Date(2020, 1, d, 0, 0, 0, 0, time.UTC).UnixMicro() }
	endOf := func(d int) int64 { return day(d+1) - 1 }
	// a: Jan 5; b: Jan 10–20; c: Jan 25 onwards to Feb.
	put(t, s, "Practitioner", "a", t0, &store.Index{Dates: []store.DateValue{{Param: pDate, Lo: day(5), Hi: endOf(5)}}})
	put(t, s, "Practitioner", "b", t0, &store.Index{Dates: []store.DateValue{{Param: pDate, Lo: day(10), Hi: endOf(20)}}})
	put(t, s, "Practitioner", "c", t0, &store.Index{Dates: []store.DateValue{{Param: pDate, Lo: day(25), Hi: day(40)}}})
	tests := []struct {
		op     store.Comparator
		lo, hi int64
		want   []string
	}{
		{store.Eq, day(5), endOf(5), []string{"a"}},
		{store.Eq, day(1), endOf(31), []string{"a", "b"}}, // the month contains a and b, not c (ends in Feb)
		{store.Ne, day(5), endOf(5), []string{"b", "c"}},
		{store.Gt, day(15), endOf(15), []string{"b", "c"}},
		{store.Lt, day(15), endOf(15), []string{"a", "b"}},
		{store.Ge, day(20), endOf(20), []string{"c"}},
		{store.Le, day(5), endOf(5), []string{"a"}},
		{store.Sa, day(5), endOf(5), []string{"b", "c"}},
		{store.Eb, day(25), endOf(25), []string{"a", "b"}},
		{store.Ap, day(12), endOf(12), []string{"b"}},
	}
	for _, tt := range tests {
		page := mustSearch(t, s, &store.Query{Count: 10, Where: store.DateMatch{Param: pDate, Op: tt.op, Lo: tt.lo, Hi: tt.hi}})
		if got := ids(page); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("date %v [%d, %d] = %v; want %v", tt.op, tt.lo, tt.hi, got, tt.want)
		}
	}
}

func testSearchNumbers(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	for i, v := range []float64{1, 2.5, 100} {
		put(t, s, "InsurancePlan", fmt.Sprint("n", i), t0, &store.Index{
			Numbers:    []store.NumberValue{{Param: pNum, Value: v, Lo: v, Hi: v}},
			Quantities: []store.QuantityValue{{Param: pQty, System: "urn:iso:std:iso:4217", Code: "USD", Value: v * 10, Lo: v * 10, Hi: v * 10}},
		})
	}
	usd := "USD"
	tests := []struct {
		name string
		m    store.NumberMatch
		want []string
	}{
		{"eq with precision range", store.NumberMatch{Param: pNum, Op: store.Eq, Value: 2.5, Lo: 2.45, Hi: 2.55}, []string{"n1"}},
		{"ne", store.NumberMatch{Param: pNum, Op: store.Ne, Value: 2.5, Lo: 2.45, Hi: 2.55}, []string{"n0", "n2"}},
		{"gt", store.NumberMatch{Param: pNum, Op: store.Gt, Value: 2.5}, []string{"n2"}},
		{"ge", store.NumberMatch{Param: pNum, Op: store.Ge, Value: 2.5}, []string{"n1", "n2"}},
		{"lt", store.NumberMatch{Param: pNum, Op: store.Lt, Value: 2.5}, []string{"n0"}},
		{"le", store.NumberMatch{Param: pNum, Op: store.Le, Value: 2.5}, []string{"n0", "n1"}},
		{"ap", store.NumberMatch{Param: pNum, Op: store.Ap, Value: 95}, []string{"n2"}},
		{"quantity with unit", store.NumberMatch{Param: pQty, Quantity: true, Op: store.Ge, Value: 25, Code: &usd}, []string{"n1", "n2"}},
		{"quantity other unit", store.NumberMatch{Param: pQty, Quantity: true, Op: store.Ge, Value: 25, Code: ptr("EUR")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := mustSearch(t, s, &store.Query{Count: 10, Where: tt.m})
			if got := ids(page); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Search(%+v) = %v; want %v", tt.m, got, tt.want)
			}
		})
	}
}

func testSearchChainHas(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	seedDirectory(t, s)
	tests := []struct {
		name  string
		types []string
		where store.Cond
		want  []string
	}{
		{"chain organization.city", []string{"PractitionerRole"},
			store.Chain{Param: pOrg, Types: []string{"Organization"}, Where: store.StringMatch{Param: pCity, Mode: store.StringPrefix, Value: "bos"}}, []string{"r1"}},
		{"chain with no match", []string{"PractitionerRole"},
			store.Chain{Param: pOrg, Types: []string{"Organization"}, Where: store.StringMatch{Param: pCity, Mode: store.StringPrefix, Value: "paris"}}, nil},
		{"has role with code", []string{"Organization"},
			store.Has{Type: "PractitionerRole", Param: pOrg, Where: store.TokenMatch{Param: pActive, Code: ptr("false")}}, []string{"o2"}},
		{"nested has through chain", []string{"Organization"},
			store.Has{Type: "PractitionerRole", Param: pOrg, Where: store.Chain{Param: pOrg, Types: []string{"Organization"}, Where: store.StringMatch{Param: pCity, Mode: store.StringExact, Value: "Denver", Norm: "denver"}}}, []string{"o2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := mustSearch(t, s, &store.Query{Types: tt.types, Where: tt.where, Count: 10})
			if got := ids(page); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Search(%s) = %v; want %v", tt.name, got, tt.want)
			}
		})
	}
	del(t, s, "Organization", "o1", t0.Add(time.Second))
	page := mustSearch(t, s, &store.Query{Types: []string{"PractitionerRole"}, Count: 10,
		Where: store.Chain{Param: pOrg, Types: []string{"Organization"}, Where: store.StringMatch{Param: pCity, Mode: store.StringPrefix, Value: "bos"}}})
	if len(page.Versions) != 0 {
		t.Errorf("chain through a deleted organization = %v; want none", ids(page))
	}
}

func testSearchPagingTotal(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	for i := range 25 {
		put(t, s, "Location", fmt.Sprintf("loc%02d", i), t0, &store.Index{Tokens: []store.TokenValue{{Param: pCode, Code: "x"}}})
	}
	q := &store.Query{Types: []string{"Location"}, Count: 10, Total: store.TotalAccurate, Where: store.TokenMatch{Param: pCode, Code: ptr("x")}}
	var all []string
	for page := 0; ; page++ {
		p := mustSearch(t, s, q)
		if page == 0 && p.Total != 25 {
			t.Errorf("page %d total = %d; want 25", page, p.Total)
		}
		all = append(all, ids(p)...)
		if p.Next == nil {
			break
		}
		// Writes between pages: a new match lands after the cursor, an
		// update keeps its place; neither duplicates nor skips.
		put(t, s, "Location", fmt.Sprintf("loc%02d", page), t0, &store.Index{Tokens: []store.TokenValue{{Param: pCode, Code: "x"}}})
		q.After = p.Next
		q.Total = store.TotalNone
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(all) != 25 || !slices.IsSorted(all) {
		t.Errorf("paged ids = %v; want loc00…loc24 once each in order", all)
	}
	// A first page that holds every match, or all but one, and one after
	// a cursor: the total is the same however it is found.
	for _, n := range []int{30, 26, 25, 24} {
		p := mustSearch(t, s, &store.Query{Types: []string{"Location"}, Count: n, Total: store.TotalAccurate, Where: store.TokenMatch{Param: pCode, Code: ptr("x")}})
		if p.Total != 25 || len(p.Versions) != min(n, 25) {
			t.Errorf("_count=%d: %d entries, total %d; want %d, total 25", n, len(p.Versions), p.Total, min(n, 25))
		}
		if p.Next != nil {
			next := mustSearch(t, s, &store.Query{Types: []string{"Location"}, Count: n, Total: store.TotalAccurate, After: p.Next,
				Where: store.TokenMatch{Param: pCode, Code: ptr("x")}})
			if next.Total != 25 || len(next.Versions) != 25-n {
				t.Errorf("_count=%d, second page: %d entries, total %d; want %d, total 25", n, len(next.Versions), next.Total, 25-n)
			}
		}
	}
	count := mustSearch(t, s, &store.Query{Types: []string{"Location"}, Count: 0, Total: store.TotalAccurate})
	if count.Total != 25 || len(count.Versions) != 0 {
		t.Errorf("count-only search = %d entries, total %d; want 0 entries, total 25", len(count.Versions), count.Total)
	}
}

func testIndexReplacedOnUpdate(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	put(t, s, "HealthcareService", "h", t0, &store.Index{Tokens: []store.TokenValue{{Param: pCode, Code: "old"}}, Strings: []store.StringValue{{Param: pName, Norm: "a", Exact: "A"}}})
	put(t, s, "HealthcareService", "h", t0, &store.Index{Tokens: []store.TokenValue{{Param: pCode, Code: "new"}}})
	for _, tt := range []struct {
		where store.Cond
		want  int
	}{
		{store.TokenMatch{Param: pCode, Code: ptr("old")}, 0},
		{store.TokenMatch{Param: pCode, Code: ptr("new")}, 1},
		{store.StringMatch{Param: pName, Mode: store.StringExact, Value: "A", Norm: "a"}, 0},
	} {
		if got := len(mustSearch(t, s, &store.Query{Count: 5, Where: tt.where}).Versions); got != tt.want {
			t.Errorf("after update Search(%+v) = %d matches; want %d", tt.where, got, tt.want)
		}
	}
}

func testSearchInTransaction(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	err := s.Update(ctx, func(tx store.Tx) error {
		v := &store.Version{Type: "Endpoint", ID: "e", VersionID: 1, LastUpdated: t0, Body: []byte(`{}`)}
		if err := tx.Put(ctx, v, &store.Index{Tokens: []store.TokenValue{{Param: pCode, Code: "in-tx"}}}); err != nil {
			return err
		}
		page, err := tx.Search(ctx, &store.Query{Count: 5, Where: store.TokenMatch{Param: pCode, Code: ptr("in-tx")}})
		if err != nil {
			return err
		}
		if len(page.Versions) != 1 {
			return fmt.Errorf("search inside the transaction found %d; want its own write", len(page.Versions))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testSharedValues: one value under several parameters of a resource is
// stored once (factorized) but found under each parameter, and only there.
// A parameter group first written by a rolled-back transaction still works
// afterwards.
func testSharedValues(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		v := &store.Version{Type: "Organization", ID: "gone", VersionID: 1, LastUpdated: t0, Body: []byte(`{}`)}
		if err := tx.Put(ctx, v, &store.Index{Strings: []store.StringValue{{Param: pName, Norm: "boston", Exact: "Boston"}, {Param: pCity, Norm: "boston", Exact: "Boston"}}}); err != nil {
			return err
		}
		if page, err := tx.Search(ctx, &store.Query{Count: 5, Where: store.StringMatch{Param: pCity, Mode: store.StringPrefix, Value: "bos"}}); err != nil || len(page.Versions) != 1 {
			return fmt.Errorf("search in the transaction = %v, %v", page, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	put(t, s, "Organization", "o1", t0, &store.Index{Strings: []store.StringValue{
		{Param: pName, Norm: "boston", Exact: "Boston"}, {Param: pCity, Norm: "boston", Exact: "Boston"}, {Param: pName, Norm: "general", Exact: "General"}}})
	put(t, s, "Organization", "o2", t0, &store.Index{Strings: []store.StringValue{{Param: pName, Norm: "boston", Exact: "Boston"}}})
	put(t, s, "Organization", "o3", t0, &store.Index{Strings: []store.StringValue{{Param: pCity, Norm: "boston", Exact: "Boston"}}})
	for _, tt := range []struct {
		param int64
		want  string
	}{{pName, "[o1 o2]"}, {pCity, "[o1 o3]"}, {pURI, "[]"}} {
		page := mustSearch(t, s, &store.Query{Count: 10, Where: store.StringMatch{Param: tt.param, Mode: store.StringPrefix, Value: "bos"}})
		if got := fmt.Sprint(ids(page)); got != tt.want {
			t.Errorf("param %d = %s; want %s", tt.param, got, tt.want)
		}
	}
	page := mustSearch(t, s, &store.Query{Count: 10, Where: store.Missing{Param: pCity, Table: store.TableString, Missing: true}})
	if got := fmt.Sprint(ids(page)); got != "[o2]" {
		t.Errorf("city:missing=true = %s; want [o2]", got)
	}
}

// testCountDistinct: a count counts resources, not index rows, however
// the count is computed (a code under two systems, a prefix matching two
// names of one resource).
func testCountDistinct(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	put(t, s, "Location", "two-systems", t0, &store.Index{Tokens: []store.TokenValue{{Param: pCode, System: "a", Code: "x"}, {Param: pCode, System: "b", Code: "x"}}})
	put(t, s, "Location", "one-system", t0, &store.Index{Tokens: []store.TokenValue{{Param: pCode, System: "a", Code: "x"}}})
	put(t, s, "Location", "names", t0, &store.Index{Strings: []store.StringValue{{Param: pName, Norm: "ann", Exact: "Ann"}, {Param: pName, Norm: "anna", Exact: "Anna"}}})
	put(t, s, "Location", "other", t0, &store.Index{Tokens: []store.TokenValue{{Param: pCode, System: "a", Code: "y"}}})
	tests := []struct {
		name string
		cond store.Cond
		want int64
	}{
		{"code under two systems", store.TokenMatch{Param: pCode, Code: ptr("x")}, 2},
		{"system and code", store.TokenMatch{Param: pCode, System: ptr("a"), Code: ptr("x")}, 2},
		{"one system only", store.TokenMatch{Param: pCode, Code: ptr("y")}, 1},
		{"prefix matching two names", store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "ann"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustSearch(t, s, &store.Query{Types: []string{"Location"}, Count: 0, Total: store.TotalAccurate, Where: tt.cond})
			if p.Total != tt.want {
				t.Errorf("total = %d; want %d", p.Total, tt.want)
			}
		})
	}
}

// testSearchManyShapes: more distinct query texts than a backend keeps
// prepared (sqlstore's statement cache) all answer right, before and
// after the cache drops some.
func testSearchManyShapes(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	for _, id := range []string{"a", "b", "c"} {
		put(t, s, "Location", id, t0, &store.Index{})
	}
	for n := 1; n <= 600; n++ {
		asked := []string{"b"}
		for i := 1; i < n; i++ {
			asked = append(asked, fmt.Sprint("none", i))
		}
		if n%2 == 0 {
			asked = append(asked, "c")
		}
		p := mustSearch(t, s, &store.Query{Types: []string{"Location"}, Count: 10, Total: store.TotalAccurate, Where: store.IDIs{IDs: asked}})
		want := []string{"b"}
		if n%2 == 0 {
			want = append(want, "c")
		}
		if got := ids(p); !slices.Equal(got, want) || p.Total != int64(len(want)) {
			t.Fatalf("%d ids: found %v, total %d; want %v", len(asked), got, p.Total, want)
		}
	}
}
