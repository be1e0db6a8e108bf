package fhirpath

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// The IG's data, as embedded by package ig (byte copies of the shared
// fixtures); tests that need it skip when it is absent.
const (
	igSearchParams = "../ig/conformance/searchparameter-*.json"
	igExamples     = "../ig/examples/*.json"
)

// corpusExpr is one SearchParameter expression under test.
type corpusExpr struct {
	id   string // SearchParameter id
	base []string
	src  string
}

// corpus returns the expressions of the R4 core SearchParameters (embedded
// in r4) and, when the fixtures are present, of the IG's.
func corpus(t testing.TB) []corpusExpr {
	t.Helper()
	var out []corpusExpr
	add := func(data []byte) {
		var sp struct {
			ID         string   `json:"id"`
			Base       []string `json:"base"`
			Expression string   `json:"expression"`
		}
		if err := json.Unmarshal(data, &sp); err != nil {
			t.Fatal(err)
		}
		if sp.Expression != "" {
			out = append(out, corpusExpr{id: sp.ID, base: sp.Base, src: sp.Expression})
		}
	}
	for _, raw := range r4.CoreSearchParameters() {
		add(raw)
	}
	files, _ := filepath.Glob(igSearchParams)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		add(data)
	}
	return out
}

// igCount is how many corpus expressions come from the IG.
func igCount(t testing.TB) int {
	files, _ := filepath.Glob(igSearchParams)
	return len(files)
}

// fixture is one resource to evaluate on.
type fixture struct {
	name string // file name, with the entry index for Bundle entries
	res  *jsontree.Object
}

// fixtures returns the IG's example resources plus the resources inside the
// womens-shelter collection Bundle, or nil when the fixtures are absent.
func fixtures(t testing.TB) []fixture {
	t.Helper()
	files, _ := filepath.Glob(igExamples)
	sort.Strings(files)
	var out []fixture
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res, err := jsontree.ParseObject(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := filepath.Base(f)
		out = append(out, fixture{name: name, res: res})
		out = append(out, bundleEntries(name, res)...)
	}
	return out
}

func bundleEntries(name string, res *jsontree.Object) []fixture {
	var out []fixture
	entries, _ := res.Get("entry")
	list, _ := entries.([]any)
	for i, e := range list {
		eo, _ := e.(*jsontree.Object)
		if eo == nil {
			continue
		}
		if r, ok := eo.Object("resource"); ok {
			out = append(out, fixture{name: name + "#entry" + strconv.Itoa(i), res: r})
		}
	}
	return out
}

// appliesTo reports whether a SearchParameter with this base applies to a
// resource of type rt: the base names the type or one of its ancestors.
func appliesTo(base []string, rt string) bool {
	for t := r4.Lookup(rt); t != nil; t = r4.Lookup(t.Base) {
		if slices.Contains(base, t.Name) {
			return true
		}
	}
	return false
}

func resourceType(res *jsontree.Object) string {
	rt, _ := res.String("resourceType")
	return rt
}

// TestCorpus compiles every SearchParameter expression and evaluates each on
// every fixture it applies to, without error.
func TestCorpus(t *testing.T) {
	exprs := corpus(t)
	if n := igCount(t); n == 0 {
		t.Log("IG fixtures not found; checking the R4 core expressions only")
	}
	fx := fixtures(t)
	pairs := 0
	for _, ce := range exprs {
		e, err := Compile(ce.src)
		if err != nil {
			t.Errorf("Compile(%s: %q): %v", ce.id, ce.src, err)
			continue
		}
		for _, f := range fx {
			if !appliesTo(ce.base, resourceType(f.res)) {
				continue
			}
			pairs++
			if _, err := e.Evaluate(f.res); err != nil {
				t.Errorf("%s on %s: %v", ce.id, f.name, err)
			}
		}
	}
	t.Logf("%d expressions, %d (expression, resource) pairs", len(exprs), pairs)
}
