package search

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/store"
)

func newEngine(t *testing.T) *Engine {
	t.Helper()
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return NewEngine(reg, "https://dir.example/fhir")
}

func TestRegistryHasEveryIGParameter(t *testing.T) {
	e := newEngine(t)
	sps, err := ig.SearchParameters()
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range sps {
		code, _ := sp.String("code")
		url, _ := sp.String("url")
		typ, _ := sp.String("type")
		raw, _ := sp.Get("base")
		base := raw.([]any)[0].(string)
		p := e.reg.Lookup(base, code)
		if typ == "special" && code == "contains" {
			if p != nil {
				t.Errorf("%s?contains is registered but not supported", base)
			}
			continue
		}
		if p == nil || p.URL != url || p.Source != "vhdir" {
			t.Errorf("Lookup(%s, %s) = %+v; want the IG's %s", base, code, p, url)
		}
	}
	// Core parameters the IG's CapabilityStatement requires.
	for _, k := range [][2]string{{"Practitioner", "active"}, {"Organization", "address-use"}, {"Location", "near"}, {"HealthcareService", "active"}} {
		if p := e.reg.Lookup(k[0], k[1]); p == nil || p.Source != "core" {
			t.Errorf("Lookup(%s, %s) = %+v; want the R4 core parameter", k[0], k[1], p)
		}
	}
	if p := e.reg.Lookup("InsurancePlan", "name"); p.Expression != "InsurancePlan.name|InsurancePlan.alias" {
		t.Errorf("insuranceplan-name correction not applied: %q", p.Expression)
	}
}

func TestDateRange(t *testing.T) {
	utc := func(y int, m time.Month, d, h, mi, s, ns int) int64 {
		return time.Date(y, m, d, h, mi, s, ns, time.UTC).UnixMicro()
	}
	tests := []struct {
		in     string
		lo, hi int64
	}{
		{"2019", utc(2019, 1, 1, 0, 0, 0, 0), utc(2020, 1, 1, 0, 0, 0, 0) - 1},
		{"2019-02", utc(2019, 2, 1, 0, 0, 0, 0), utc(2019, 3, 1, 0, 0, 0, 0) - 1},
		{"2020-02-29", utc(2020, 2, 29, 0, 0, 0, 0), utc(2020, 3, 1, 0, 0, 0, 0) - 1},
		{"2019-03-05T10:00:00Z", utc(2019, 3, 5, 10, 0, 0, 0), utc(2019, 3, 5, 10, 0, 1, 0) - 1},
		{"2019-03-05T10:00:00+02:00", utc(2019, 3, 5, 8, 0, 0, 0), utc(2019, 3, 5, 8, 0, 1, 0) - 1},
		{"2019-03-05T10:00:00.5Z", utc(2019, 3, 5, 10, 0, 0, 5e8), utc(2019, 3, 5, 10, 0, 0, 6e8) - 1},
		{"2019-03-05T10:00", utc(2019, 3, 5, 10, 0, 0, 0), utc(2019, 3, 5, 10, 1, 0, 0) - 1},
	}
	for _, tt := range tests {
		lo, hi, err := DateRange(tt.in)
		if err != nil || lo != tt.lo || hi != tt.hi {
			t.Errorf("DateRange(%q) = %d, %d, %v; want %d, %d", tt.in, lo, hi, err, tt.lo, tt.hi)
		}
	}
	for _, bad := range []string{"", "19", "2019-13", "2018-13-45", "2019-02-30", "2019-03-05T25:00:00Z", "2019-03-05T10:00:00X", "abcd"} {
		if _, _, err := DateRange(bad); err == nil {
			t.Errorf("DateRange(%q) accepted", bad)
		}
	}
}

func TestNumberRange(t *testing.T) {
	tests := []struct {
		in        string
		v, lo, hi float64
	}{
		{"100", 100, 99.5, 100.5},
		{"1.50", 1.5, 1.495, 1.505},
		{"-2.5", -2.5, -2.55, -2.45},
		{"1e2", 100, 50, 150},
	}
	for _, tt := range tests {
		v, lo, hi, err := NumberRange(tt.in)
		if err != nil || v != tt.v || math.Abs(lo-tt.lo) > 1e-9 || math.Abs(hi-tt.hi) > 1e-9 {
			t.Errorf("NumberRange(%q) = %v, %v, %v, %v; want %v, %v, %v", tt.in, v, lo, hi, err, tt.v, tt.lo, tt.hi)
		}
	}
	for _, bad := range []string{"", "abc", "1e999", "NaN"} {
		if _, _, _, err := NumberRange(bad); err == nil {
			t.Errorf("NumberRange(%q) accepted", bad)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"Müller":           "muller",
		"  São   Paulo ":   "sao paulo",
		"ÉCOLE":            "ecole",
		"Straße":           "straße",
		"Founding Fathers": "founding fathers",
		"Zoë\tO'Brien":     "zoe o'brien",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestSplitValues(t *testing.T) {
	tests := []struct {
		in    string
		pipes bool
		want  string
	}{
		{`a,b`, false, `[[a] [b]]`},
		{`a\,b`, false, `[[a,b]]`},
		{`sys|code,|x`, true, `[[sys code] [ x]]`},
		{`sys\|x|code`, true, `[[sys|x code]]`},
		{`a\\|b`, true, `[[a\ b]]`},
		{`a,,b,`, false, `[[a] [b]]`},
		{`a|b`, false, `[[a|b]]`},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(splitValues(tt.in, tt.pipes)); got != tt.want {
			t.Errorf("splitValues(%q, %v) = %s; want %s", tt.in, tt.pipes, got, tt.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	e := newEngine(t)
	tests := []struct {
		typ, query string
		diag       string
	}{
		{"Practitioner", "bogus=1", `unknown search parameter "bogus"`},
		{"Practitioner", "name:below=x", "modifier :below"},
		{"Practitioner", "_lastUpdated=ge2018-13-45", "not a date"},
		{"Location", "near=abc", "near"},
		{"Location", "near=91|0", "latitude"},
		{"Location", "near=1|2|3|furlongs", "unit"},
		{"Practitioner", "identifier:of-type=a|b", "of-type"},
		{"PractitionerRole", "practitioner=Organization/1", "does not refer to Organization"},
		{"PractitionerRole", "practitioner=not a ref", "not a reference"},
		{"Practitioner", "active:missing=maybe", "true or false"},
		{"PractitionerRole", "active.name=x", "only reference parameters chain"},
		{"PractitionerRole", "organization.bogus=x", "unknown search parameter"},
		{"Organization", "_has:Foo:organization:active=true", "not a type"},
		{"Organization", "_has:PractitionerRole:location:active=true", "does not refer to Organization"},
		{"Practitioner", "_count=-1", "_count"},
		{"Practitioner", "_total=lots", "_total"},
		{"Practitioner", "_page=%%%", "_page"},
		{"InsurancePlan", "general-cost-groupsize=ge-x", "not a number"},
		{"Practitioner", "name=", "empty value"},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			q = url.Values{"_page": {"%%%"}}
		}
		_, err = e.Compile([]string{tt.typ}, q, Options{})
		var fe *fhir.Error
		if !errors.As(err, &fe) || fe.Status != 400 {
			t.Errorf("Compile(%s?%s) error = %v; want a 400", tt.typ, tt.query, err)
			continue
		}
		if d := fe.Issues[0].Diagnostics; !strings.Contains(d, tt.diag) {
			t.Errorf("Compile(%s?%s) = %q; want it to mention %q", tt.typ, tt.query, d, tt.diag)
		}
	}
}

func TestCompileLenient(t *testing.T) {
	e := newEngine(t)
	plan, err := e.Compile([]string{"Practitioner"}, url.Values{"bogus": {"1"}, "name": {"x"}, "_contained": {"true"}}, Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Ignored) != 2 || plan.Applied.Has("bogus") || !plan.Applied.Has("name") {
		t.Errorf("lenient plan ignored %v, applied %v; want bogus and _contained ignored, name applied", plan.Ignored, plan.Applied)
	}
}

func TestFilterLenient(t *testing.T) {
	e := newEngine(t)
	tests := []struct {
		typ, query string
		kept       string // kept terms, encoded; "error" when refused
		ignored    int
	}{
		{"Practitioner", "active=true", "active=true", 0},
		{"Practitioner", "active=true&colour=blue", "active=true", 1},
		{"Practitioner", "colour=blue&name=x&name=y&size=9", "name=x&name=y", 2},
		{"Practitioner", "colour=blue", "", 1},
		{"Practitioner", "_sort=name", "", 1},
		{"PractitionerRole", "organization.bogus=x&active=true", "active=true", 1},
		{"Practitioner", "colour=blue&name:below=x", "error", 0},
		{"Practitioner", "colour=blue&_lastUpdated=ge2018-13-45", "error", 0},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		kept, ignored, err := e.FilterLenient(tt.typ, q)
		if tt.kept == "error" {
			if err == nil {
				t.Errorf("FilterLenient(%s?%s) = %v, %v; want an error", tt.typ, tt.query, kept, ignored)
			}
			continue
		}
		if err != nil || kept.Encode() != tt.kept || len(ignored) != tt.ignored {
			t.Errorf("FilterLenient(%s?%s) = %q, %q, %v; want %q and %d ignored", tt.typ, tt.query, kept.Encode(), ignored, err, tt.kept, tt.ignored)
			continue
		}
		if _, err := e.Filter(tt.typ, kept); err != nil {
			t.Errorf("Filter(%s?%s), the terms FilterLenient kept: %v", tt.typ, kept.Encode(), err)
		}
	}
}

func TestCompileConditions(t *testing.T) {
	e := newEngine(t)
	p := func(typ, code string) int64 { return e.reg.Lookup(typ, code).ID }
	str := func(s string) *string { return &s }
	tests := []struct {
		typ, query string
		want       store.Cond
	}{
		{"Practitioner", "identifier=http://hl7.org/fhir/sid/us-npi|123", store.TokenMatch{Param: p("Practitioner", "identifier"), System: str("http://hl7.org/fhir/sid/us-npi"), Code: str("123")}},
		{"Practitioner", "name=Wäsh", store.StringMatch{Param: p("Practitioner", "name"), Mode: store.StringPrefix, Value: "wash"}},
		{"PractitionerRole", "organization=Organization/o1", store.RefMatch{Param: p("PractitionerRole", "organization"), Type: "Organization", ID: "o1"}},
		{"PractitionerRole", "organization=https://dir.example/fhir/Organization/o1", store.RefMatch{Param: p("PractitionerRole", "organization"), Type: "Organization", ID: "o1"}},
		{"PractitionerRole", "organization=https://other.example/fhir/Organization/o1", store.RefMatch{Param: p("PractitionerRole", "organization"), URL: "https://other.example/fhir/Organization/o1"}},
		{"Endpoint", "usecase-standard:below=http://hl7.org", store.URIMatch{Param: p("Endpoint", "usecase-standard"), Mode: store.URIBelow, Value: "http://hl7.org"}},
		{"Practitioner", "_id=a,b", store.IDIs{IDs: []string{"a", "b"}}},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		plan, err := e.Compile([]string{tt.typ}, q, Options{})
		if err != nil {
			t.Errorf("Compile(%s?%s): %v", tt.typ, tt.query, err)
			continue
		}
		if !reflect.DeepEqual(plan.Query.Where, tt.want) {
			t.Errorf("Compile(%s?%s) = %#v; want %#v", tt.typ, tt.query, plan.Query.Where, tt.want)
		}
	}
}

// TestIndexExamples checks extracted values on the IG examples.
func TestIndexExamples(t *testing.T) {
	e := newEngine(t)
	rows := map[string]*store.Index{}
	for _, f := range ig.Examples() {
		res, err := fhir.ParseResource(f.Data)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		idx, err := e.Index(res)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		rows[res.Type+"/"+res.ID] = idx
	}
	has := func(key string, ok func(*store.Index) bool, what string) {
		t.Helper()
		idx := rows[key]
		if idx == nil || !ok(idx) {
			t.Errorf("%s: no index row for %s", key, what)
		}
	}
	id := func(typ, code string) int64 { return e.reg.Lookup(typ, code).ID }
	has("Practitioner/practitioner1", func(x *store.Index) bool {
		return slices.Contains(x.Tokens, store.TokenValue{Param: id("Practitioner", "identifier"), System: "http://hl7.org/fhir/sid/us-npi", Code: "1234567893"})
	}, "identifier NPI")
	has("Practitioner/practitioner1", func(x *store.Index) bool {
		return slices.ContainsFunc(x.Strings, func(s store.StringValue) bool { return s.Param == id("Practitioner", "name") && s.Norm == "washington" })
	}, "name washington")
	has("Practitioner/practitioner1", func(x *store.Index) bool {
		return slices.Contains(x.Tokens, store.TokenValue{Param: id("Practitioner", "active"), Code: "true"})
	}, "active true")
	has("PractitionerRole/practitionerrole1", func(x *store.Index) bool {
		return slices.Contains(x.Refs, store.RefValue{Param: id("PractitionerRole", "practitioner"), Type: "Practitioner", ID: "practitioner1"})
	}, "practitioner reference")
	has("Location/loc-ffmh", func(x *store.Index) bool { return len(x.Coords) == 1 }, "near position")
	has("Organization/foundingfathers", func(x *store.Index) bool {
		return slices.ContainsFunc(x.Strings, func(s store.StringValue) bool {
			return s.Param == id("Organization", "name") && s.Exact == "Founding Fathers Memorial Hospital"
		})
	}, "name")
	has("InsurancePlan/insuranceplan1", func(x *store.Index) bool { return len(x.Quantities) > 0 && len(x.Numbers) > 0 }, "quantity and number values")
}

// FuzzCompile: any query string compiles or fails with a 400, never panics.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{"name=a,b", "identifier=sys|code", "_has:PractitionerRole:organization:active=true",
		"organization.address-city=Boston", "near=42|-71|10|km", "_lastUpdated=ge2020", "name:exact=a\\,b", "organization:Organization.partof.name=x"} {
		f.Add("PractitionerRole", s)
		f.Add("Organization", s)
	}
	reg, err := NewRegistry()
	if err != nil {
		f.Fatal(err)
	}
	e := NewEngine(reg, "https://dir.example/fhir")
	f.Fuzz(func(t *testing.T, typ, query string) {
		q, err := url.ParseQuery(query)
		if err != nil || !reg.Serves(typ) {
			return
		}
		_, err = e.Compile([]string{typ}, q, Options{Lenient: len(query)%2 == 0})
		var fe *fhir.Error
		if err != nil && (!errors.As(err, &fe) || fe.Status != 400) {
			t.Fatalf("Compile(%s?%s) = %v; want nil or a 400", typ, query, err)
		}
	})
}

// TestCriteriaRefused: names and values no index holds, and criteria
// past the bounds a database plans in reasonable time, are a 400 for a
// search and for a conditional interaction alike; criteria at the bounds
// compile.
func TestCriteriaRefused(t *testing.T) {
	e := newEngine(t)
	repeat := func(n int, v string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	tests := []struct {
		name string
		q    url.Values
		code string // "" compiles
	}{
		{"value not UTF-8", url.Values{"name": {"\xff\xfe"}}, fhir.IssueInvalid},
		{"token not UTF-8", url.Values{"identifier": {"a|\xc3\x28"}}, fhir.IssueInvalid},
		{"name not UTF-8", url.Values{"\xff": {"1"}}, fhir.IssueInvalid},
		{"NUL in a value", url.Values{"name": {"a\x00b"}}, fhir.IssueInvalid},
		{"NUL in _sort", url.Values{"_sort": {"name\x00"}}, fhir.IssueInvalid},
		{"parameters at the bound", url.Values{"name": repeat(MaxParams, "a")}, ""},
		{"parameters past the bound", url.Values{"name": repeat(MaxParams, "a"), "family": {"b"}}, fhir.IssueTooCostly},
		{"values at the bound", url.Values{"name": {strings.Repeat("a,", MaxValues-1) + "a"}}, ""},
		{"values past the bound", url.Values{"name": {strings.Repeat("a,", MaxValues) + "a"}}, fhir.IssueTooCostly},
		{"escaped commas are one value", url.Values{"name": {strings.Repeat(`a\,`, MaxValues) + "a"}}, ""},
		{"ids past the bound", url.Values{"_id": {strings.Repeat("a,", MaxValues) + "a"}}, fhir.IssueTooCostly},
		{"control parameters do not count", url.Values{"name": repeat(MaxParams, "a"), "_count": {"5"}, "_sort": {"name"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Compile([]string{"Practitioner"}, tt.q, Options{})
			checkRefusal(t, "Compile", err, tt.code)
			if _, ok := tt.q["_count"]; ok || tt.q.Has("_sort") {
				return // not criteria of a condition
			}
			_, err = e.Conditional("Practitioner", tt.q)
			checkRefusal(t, "Conditional", err, tt.code)
		})
	}
}

func checkRefusal(t *testing.T, fn string, err error, code string) {
	t.Helper()
	var fe *fhir.Error
	switch {
	case code == "" && err != nil:
		t.Errorf("%s = %v; want it compiled", fn, err)
	case code == "":
	case !errors.As(err, &fe) || fe.Status != 400 || fe.Issues[0].Code != code:
		t.Errorf("%s = %v; want a 400 %s", fn, err, code)
	}
}
