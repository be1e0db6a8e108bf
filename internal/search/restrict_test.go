package search

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/restrict"
	"github.com/vhdir/vhdir/internal/store"
)

// rext is a usage-restriction extension array pointing at each #id.
func rext(ids ...string) string {
	var exts []string
	for _, id := range ids {
		exts = append(exts, `{"url":"`+restrict.ExtensionURL+`","valueReference":{"reference":"#`+id+`"}}`)
	}
	return "[" + strings.Join(exts, ",") + "]"
}

// rconsent is a contained Consent permitting the actor references given.
func rconsent(id, status string, actors ...string) string {
	var as []string
	for _, a := range actors {
		as = append(as, `{"reference":{"reference":"`+a+`"}}`)
	}
	return fmt.Sprintf(`{"resourceType":"Consent","id":%q,"status":%q,"provision":{"type":"permit","actor":[%s]}}`,
		id, status, strings.Join(as, ","))
}

// parseResource parses body without validating it: Index does not need
// valid resources, and some cases here (a "#id" naming nothing) would not
// pass fhir.ParseResource.
func parseResource(t *testing.T, body string) *fhir.Resource {
	t.Helper()
	obj, err := jsontree.ParseObject([]byte(body))
	if err != nil {
		t.Fatalf("ParseObject = %v", err)
	}
	typ, _ := obj.String("resourceType")
	id, _ := obj.String("id")
	return &fhir.Resource{Type: typ, ID: id, Obj: obj}
}

func exampleResource(t *testing.T, name string) *fhir.Resource {
	t.Helper()
	for _, f := range ig.Examples() {
		if f.Name == name {
			res, err := fhir.ParseResource(f.Data)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return res
		}
	}
	t.Fatalf("no IG example %s", name)
	return nil
}

// hasString reports whether idx has a string row of param typ?code whose
// exact value is s.
func hasString(e *Engine, idx *store.Index, typ, code, s string) bool {
	id := e.reg.Lookup(typ, code).ID
	return slices.ContainsFunc(idx.Strings, func(v store.StringValue) bool { return v.Param == id && v.Exact == s })
}

// guardOf returns the masks of the Guarded entries holding a string row of
// typ?code with value s.
func guardOf(e *Engine, idx *store.Index, typ, code, s string) []int64 {
	var out []int64
	for _, g := range idx.Restriction.Guarded {
		if hasString(e, g.Index, typ, code, s) {
			out = append(out, g.Mask)
		}
	}
	return out
}

func TestIndexRestrictedExamples(t *testing.T) {
	e := newEngine(t)
	bundle := exampleResource(t, "womens-shelter.json")
	entries, _ := bundle.Obj.Get("entry")
	entry := func(i int) *fhir.Resource {
		o, _ := entries.([]any)[i].(*jsontree.Object).Object("resource")
		typ, _ := o.String("resourceType")
		id, _ := o.String("id")
		return &fhir.Resource{Type: typ, ID: id, Obj: o}
	}
	locRef := store.RefValue{Param: e.reg.Lookup("HealthcareService", "location").ID, Type: "Location", ID: "loc-ws"}
	checkLoc := func(t *testing.T, res *fhir.Resource) {
		idx, err := e.Index(res)
		if err != nil {
			t.Fatal(err)
		}
		r := idx.Restriction
		// One Consent whose actor has a display only: one rule, no keys.
		if r == nil || !r.Marked || r.Root != 0 || !reflect.DeepEqual(r.Rules, [][]string{nil}) {
			t.Fatalf("Restriction = %+v; want Marked, Root 0, one rule without keys", r)
		}
		if !hasString(e, idx, "Location", "name", "The W Womens Shelter") {
			t.Errorf("main index lacks the name")
		}
		for _, code := range []string{"address-city", "address"} {
			if hasString(e, idx, "Location", code, "Ann Arbor") {
				t.Errorf("main index has the restricted %s", code)
			}
			if got := guardOf(e, idx, "Location", code, "Ann Arbor"); !slices.Equal(got, []int64{1}) {
				t.Errorf("%s Ann Arbor guarded by %v; want [1]", code, got)
			}
		}
		if slices.ContainsFunc(idx.Tokens, func(v store.TokenValue) bool { return v.Code == "SUBSETTED" }) {
			t.Errorf("main index has the SUBSETTED tag of the view it was taken from")
		}
	}
	checkHCS := func(t *testing.T, res *fhir.Resource) {
		idx, err := e.Index(res)
		if err != nil {
			t.Fatal(err)
		}
		r := idx.Restriction
		if r == nil || r.Root != 0 || len(r.Rules) != 1 || len(r.Guarded) != 1 || r.Guarded[0].Mask != 1 {
			t.Fatalf("Restriction = %+v; want one rule guarding rows", r)
		}
		if slices.Contains(idx.Refs, locRef) || !slices.Contains(r.Guarded[0].Index.Refs, locRef) {
			t.Errorf("location reference in main %v, guarded %v; want guarded only", idx.Refs, r.Guarded[0].Index.Refs)
		}
		if !hasString(e, idx, "HealthcareService", "name", "Womens shelter") {
			t.Errorf("main index lacks the name")
		}
	}
	t.Run("loc-ws", func(t *testing.T) { checkLoc(t, exampleResource(t, "location-womens-shelter.json")) })
	t.Run("hcs-ws", func(t *testing.T) { checkHCS(t, exampleResource(t, "healthcareservice-womens-shelter.json")) })
	t.Run("bundle entries", func(t *testing.T) {
		checkHCS(t, entry(0))
		checkLoc(t, entry(1))
	})
	t.Run("bundle", func(t *testing.T) {
		// Not a searchable type, but restricted all the same: its two
		// Consents say the same, so they are one rule.
		idx, err := e.Index(bundle)
		if err != nil {
			t.Fatal(err)
		}
		if r := idx.Restriction; r == nil || !r.Marked || len(r.Rules) != 1 || idx.Len() != 0 {
			t.Errorf("Index(Bundle) = %+v, %+v; want no rows, one rule", idx, r)
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		a, _ := e.Index(exampleResource(t, "location-womens-shelter.json"))
		b, _ := e.Index(exampleResource(t, "location-womens-shelter.json"))
		if !reflect.DeepEqual(a, b) {
			t.Errorf("two Index runs differ:\n%+v\n%+v", a, b)
		}
	})
}

// restrictedCases are resources with restrictions, for the tests below.
var restrictedCases = []struct {
	name string
	res  string
	// exact says a viewer permitted by any set of rules matches exactly
	// the values it sees (no conservative masks).
	exact bool
}{
	{
		name:  "address",
		res:   `{"resourceType":"Location","id":"l","contained":[` + rconsent("a", "active", "Organization/acme") + `],"name":"N","address":{"extension":` + rext("a") + `,"city":"Cityville","state":"ST"}}`,
		exact: true,
	},
	{
		name:  "root",
		res:   `{"resourceType":"Location","id":"l","contained":[` + rconsent("a", "active", "Organization/acme") + `],"extension":` + rext("a") + `,"name":"N","address":{"city":"Cityville"}}`,
		exact: true,
	},
	{
		name: "root and element",
		res: `{"resourceType":"Location","id":"l","contained":[` + rconsent("a", "active", "Organization/acme") + `,` + rconsent("b", "active", "Organization/b") + `],"extension":` + rext("a") +
			`,"name":"N","address":{"extension":` + rext("b") + `,"city":"Cityville"}}`,
		exact: true,
	},
	{
		name: "nested",
		res: `{"resourceType":"Location","id":"l","contained":[` + rconsent("a", "active", "Organization/acme") + `,` + rconsent("b", "active", "Organization/b") + `],` +
			`"address":{"extension":` + rext("a") + `,"city":"Cityville","_city":{"extension":` + rext("b") + `},"state":"ST"}}`,
		exact: true,
	},
	{
		name:  "also unrestricted elsewhere",
		res:   `{"resourceType":"Location","id":"l","contained":[` + rconsent("a", "active", "Organization/acme") + `],"name":"Same","alias":["Same"],"_alias":[{"extension":` + rext("a") + `}]}`,
		exact: true,
	},
	{
		name: "in two elements under different rules",
		res: `{"resourceType":"Location","id":"l","contained":[` + rconsent("a", "active", "Organization/acme") + `,` + rconsent("b", "active", "Organization/b") + `],` +
			`"alias":["Twice","Twice","Other"],"_alias":[{"extension":` + rext("a") + `},{"extension":` + rext("b") + `},{"extension":` + rext("b") + `}]}`,
	},
	{
		name: "each place needs a rule no single denial shows",
		res: `{"resourceType":"Location","id":"l","contained":[` + rconsent("a", "active", "Organization/acme") + `,` + rconsent("b", "active", "Organization/b") + `,` + rconsent("c", "active", "Organization/c") + `],` +
			`"alias":["X","X"],"_alias":[{"extension":` + rext("a", "b") + `},{"extension":` + rext("a", "c") + `}]}`,
	},
	{
		name:  "broken",
		res:   `{"resourceType":"Location","id":"l","name":"N","address":{"extension":` + rext("gone") + `,"city":"Cityville"}}`,
		exact: true,
	},
	{
		name: "same keys, one rule",
		res: `{"resourceType":"Location","id":"l","contained":[` + rconsent("a", "active", "Organization/acme") + `,` + rconsent("b", "active", "Organization/acme/_history/1") + `],` +
			`"address":{"extension":` + rext("a") + `,"city":"Cityville"},"alias":["Al"],"_alias":[{"extension":` + rext("b") + `}]}`,
		exact: true,
	},
}

func TestIndexRestricted(t *testing.T) {
	e := newEngine(t)
	index := func(t *testing.T, name string) (*fhir.Resource, *store.Index) {
		t.Helper()
		for _, c := range restrictedCases {
			if c.name == name {
				res := parseResource(t, c.res)
				idx, err := e.Index(res)
				if err != nil {
					t.Fatal(err)
				}
				if idx.Restriction == nil || !idx.Restriction.Marked {
					t.Fatalf("Restriction = %+v; want Marked", idx.Restriction)
				}
				return res, idx
			}
		}
		t.Fatalf("no case %s", name)
		return nil, nil
	}
	t.Run("address", func(t *testing.T) {
		_, idx := index(t, "address")
		if r := idx.Restriction; r.Root != 0 || !reflect.DeepEqual(r.Rules, [][]string{{"Organization/acme"}}) {
			t.Errorf("Restriction = %+v", r)
		}
		if hasString(e, idx, "Location", "address-city", "Cityville") || !hasString(e, idx, "Location", "name", "N") {
			t.Errorf("main index = %+v; want the name and no city", idx.Strings)
		}
		if got := guardOf(e, idx, "Location", "address-city", "Cityville"); !slices.Equal(got, []int64{1}) {
			t.Errorf("city guarded by %v; want [1]", got)
		}
	})
	t.Run("root", func(t *testing.T) {
		// Every row is guarded by the root rule: no main row may hold a
		// resource some viewers cannot see.
		res, idx := index(t, "root")
		r := idx.Restriction
		if r.Root != 1 || len(r.Guarded) != 1 || r.Guarded[0].Mask != 1 {
			t.Fatalf("Restriction = %+v; want Root 1, every row guarded by it", r)
		}
		full, _ := e.extract(res.Type, res.Obj)
		if idx.Len() != 0 || !reflect.DeepEqual(r.Guarded[0].Index, full) {
			t.Errorf("main index %+v, guarded %+v; want no main row, every row %+v guarded", idx, r.Guarded[0].Index, full)
		}
	})
	t.Run("root and element", func(t *testing.T) {
		_, idx := index(t, "root and element")
		if r := idx.Restriction; r.Root != 1 || len(r.Rules) != 2 {
			t.Errorf("Restriction = %+v; want Root 1, two rules", r)
		}
		if got := guardOf(e, idx, "Location", "address-city", "Cityville"); !slices.Equal(got, []int64{3}) {
			t.Errorf("city guarded by %v; want [3]: the element rule and the root rule", got)
		}
		if hasString(e, idx, "Location", "name", "N") {
			t.Error("a root-restricted resource has main rows")
		}
	})
	t.Run("nested", func(t *testing.T) {
		_, idx := index(t, "nested")
		if got := guardOf(e, idx, "Location", "address-city", "Cityville"); !slices.Equal(got, []int64{3}) {
			t.Errorf("city guarded by %v; want [3]", got)
		}
		if got := guardOf(e, idx, "Location", "address-state", "ST"); !slices.Equal(got, []int64{1}) {
			t.Errorf("state guarded by %v; want [1]", got)
		}
		// address holds the city too: the address row of the city needs both.
		if got := guardOf(e, idx, "Location", "address", "Cityville"); !slices.Equal(got, []int64{3}) {
			t.Errorf("address Cityville guarded by %v; want [3]", got)
		}
	})
	t.Run("also unrestricted elsewhere", func(t *testing.T) {
		_, idx := index(t, "also unrestricted elsewhere")
		if !hasString(e, idx, "Location", "name", "Same") || idx.Restriction.Guarded != nil {
			t.Errorf("index = %+v, guarded %+v; want the value in main only", idx.Strings, idx.Restriction.Guarded)
		}
	})
	t.Run("in two elements under different rules", func(t *testing.T) {
		_, idx := index(t, "in two elements under different rules")
		if got := guardOf(e, idx, "Location", "name", "Twice"); !slices.Equal(got, []int64{3}) {
			t.Errorf("Twice guarded by %v; want [3] (every element rule)", got)
		}
		if got := guardOf(e, idx, "Location", "name", "Other"); !slices.Equal(got, []int64{2}) {
			t.Errorf("Other guarded by %v; want [2]", got)
		}
	})
	t.Run("each place needs a rule no single denial shows", func(t *testing.T) {
		_, idx := index(t, "each place needs a rule no single denial shows")
		// Denying a alone loses X, yet a viewer permitted by a alone sees
		// neither alias: {a} would leak, so every element rule.
		if got := guardOf(e, idx, "Location", "name", "X"); !slices.Equal(got, []int64{7}) {
			t.Errorf("X guarded by %v; want [7]", got)
		}
	})
	t.Run("broken", func(t *testing.T) {
		_, idx := index(t, "broken")
		if r := idx.Restriction; !reflect.DeepEqual(r.Rules, [][]string{nil}) || len(r.Guarded) != 1 {
			t.Errorf("Restriction = %+v; want one rule without keys", r)
		}
	})
	t.Run("same keys, one rule", func(t *testing.T) {
		_, idx := index(t, "same keys, one rule")
		if r := idx.Restriction; len(r.Rules) != 1 || len(r.Guarded) != 1 || r.Guarded[0].Mask != 1 {
			t.Errorf("Restriction = %+v; want one rule", r)
		}
	})
	t.Run("inactive consent", func(t *testing.T) {
		idx, err := e.Index(parseResource(t, `{"resourceType":"Location","contained":[`+rconsent("a", "inactive", "Organization/acme")+`],"extension":`+rext("a")+`,"address":{"extension":`+rext("a")+`,"city":"C"}}`))
		if err != nil || idx.Restriction != nil || !hasString(e, idx, "Location", "address-city", "C") {
			t.Errorf("Index = %+v, %v; want unrestricted rows", idx, err)
		}
	})
	t.Run("unrestricted", func(t *testing.T) {
		idx, err := e.Index(parseResource(t, `{"resourceType":"Location","name":"N"}`))
		if err != nil || idx.Restriction != nil {
			t.Errorf("Index = %+v, %v; want no Restriction", idx, err)
		}
	})
}

func TestIndexTooManyRestrictions(t *testing.T) {
	e := newEngine(t)
	build := func(n int) *fhir.Resource {
		var cs, aliases, exts []string
		for i := range n {
			cs = append(cs, rconsent(fmt.Sprint("c", i), "active", fmt.Sprint("Organization/secret-", i)))
			aliases = append(aliases, `"a"`)
			exts = append(exts, `{"extension":`+rext(fmt.Sprint("c", i))+`}`)
		}
		return parseResource(t, `{"resourceType":"Location","contained":[`+strings.Join(cs, ",")+`],"alias":[`+strings.Join(aliases, ",")+`],"_alias":[`+strings.Join(exts, ",")+`]}`)
	}
	if idx, err := e.Index(build(store.MaxRules)); err != nil || len(idx.Restriction.Rules) != store.MaxRules {
		t.Fatalf("Index(%d rules) = %v; want it indexed", store.MaxRules, err)
	}
	_, err := e.Index(build(store.MaxRules + 1))
	var fe *fhir.Error
	if !errors.As(err, &fe) || fe.Status != http.StatusUnprocessableEntity || !errors.Is(err, ErrTooManyRestrictions) {
		t.Fatalf("Index(%d rules) = %v; want a 422 wrapping ErrTooManyRestrictions", store.MaxRules+1, err)
	}
	if strings.Contains(fe.Issues[0].Diagnostics, "secret") {
		t.Errorf("message %q echoes the resource", fe.Issues[0].Diagnostics)
	}
}

// TestIndexRestrictedNoLeak checks the split against what viewers see: for
// every set of rules a viewer may be permitted by, the rows it may match
// (main, and the guarded rows whose mask it holds) are rows of what it sees
// (restrict.ViewBy); for the exact cases they are all of them.
func TestIndexRestrictedNoLeak(t *testing.T) {
	e := newEngine(t)
	for _, c := range restrictedCases {
		t.Run(c.name, func(t *testing.T) {
			res := parseResource(t, c.res)
			idx, err := e.Index(res)
			if err != nil {
				t.Fatal(err)
			}
			r := idx.Restriction
			rs := restrict.Parse(res.Obj)
			bitOf := func(rule *restrict.Rule) int {
				keys := rule.Keys()
				return slices.IndexFunc(r.Rules, func(k []string) bool { return slices.Equal(k, keys) })
			}
			full := rowSet(mustExtract(t, e, res.Type, res.Obj))
			for p := range int64(1) << len(r.Rules) {
				if p&r.Root != r.Root {
					continue // does not see the resource
				}
				view, visible, _ := restrict.ViewBy(res.Obj, rs, func(rule *restrict.Rule) bool { return p&(1<<bitOf(rule)) != 0 })
				if !visible {
					t.Fatalf("permitted %b: resource invisible", p)
				}
				sees := rowSet(mustExtract(t, e, res.Type, view))
				matches := rowSet(idx)
				for _, g := range r.Guarded {
					if g.Mask&p == g.Mask {
						eachRow(g.Index, func(row any) { matches[row] = struct{}{} })
					}
				}
				for row := range matches {
					if !sees.has(row) {
						t.Errorf("permitted %b: matches %+v, which it does not see", p, row)
					}
				}
				if !c.exact {
					continue
				}
				for row := range sees {
					if full.has(row) && !matches.has(row) {
						t.Errorf("permitted %b: sees %+v but cannot match it", p, row)
					}
				}
			}
		})
	}
}

func mustExtract(t *testing.T, e *Engine, typ string, obj *jsontree.Object) *store.Index {
	t.Helper()
	idx, err := e.extract(typ, obj)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// BenchmarkIndexRestricted measures indexing a resource with element
// restrictions (the IG's women's shelter Location: one rule, two elements),
// which extracts the resource three times (whole, as every viewer sees it,
// and without the rule).
func BenchmarkIndexRestricted(b *testing.B) {
	reg, err := NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	e := NewEngine(reg, "https://bench.example/fhir")
	var res *fhir.Resource
	for _, f := range ig.Examples() {
		if f.Name == "location-womens-shelter.json" {
			if res, err = fhir.ParseResource(f.Data); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		if _, err := e.Index(res); err != nil {
			b.Fatal(err)
		}
	}
}
