package fhirpath

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/jsontree"
)

const crossDir = "testdata/crosscheck"

// jsItem is one result item as crosscheck.js reports it.
type jsItem struct {
	V any    `json:"v"`
	E any    `json:"e"`
	T string `json:"t"`
}

type jsResult struct {
	Items []jsItem `json:"items"`
	Error string   `json:"error"`
}

// TestCrossCheckFHIRPathJS evaluates every SearchParameter expression on every
// resource it applies to (the IG examples, the two resources inside the
// womens-shelter Bundle, and the hand-written resources in
// testdata/crosscheck/resources, which reach what the examples do not) with
// this package and with HL7's FHIRPath.js, and requires the same items in the
// same order: same count, same FHIR type, same value (primitives by value,
// numbers by decimal value, complex values as JSON ignoring member order) and
// same _name companion.
//
// Three differences are by design and tolerated, each counted in the log:
//   - resolve(): FHIRPath.js fetches (here from a stub that returns
//     {resourceType, id}); this package returns a placeholder holding the
//     Reference. Only count and type are compared.
//   - |: FHIRPath.js removes duplicates by value, this package by identity
//     of the JSON node. A union result is accepted when removing equal values
//     from ours gives FHIRPath.js's.
//   - Element.id, Resource.id and Extension.url are System.String in the R4
//     definitions FHIRPath.js uses; package r4 types them string and uri
//     (their structuredefinition-fhir-type), which search needs.
func TestCrossCheckFHIRPathJS(t *testing.T) {
	requireNode(t)
	exprs := corpus(t)
	fx := append(fixtures(t), crossResources(t)...)
	var job struct {
		Expressions []string `json:"expressions"`
		Resources   []any    `json:"resources"`
		Pairs       [][2]int `json:"pairs"`
	}
	for _, f := range fx {
		job.Resources = append(job.Resources, json.RawMessage(jsontree.Marshal(f.res)))
	}
	compiled := make([]*Expr, len(exprs))
	for i, ce := range exprs {
		job.Expressions = append(job.Expressions, ce.src)
		compiled[i] = MustCompile(ce.src)
		for j, f := range fx {
			if appliesTo(ce.base, resourceType(f.res)) {
				job.Pairs = append(job.Pairs, [2]int{i, j})
			}
		}
	}
	results := runCrossCheck(t, job)
	var st crossStats
	for k, p := range job.Pairs {
		ce, f := exprs[p[0]], fx[p[1]]
		got, err := compiled[p[0]].Evaluate(f.res)
		if msg := st.compare(got, err, results[k], ce.src); msg != "" {
			t.Errorf("%s (%q) on %s: %s", ce.id, ce.src, f.name, msg)
		}
	}
	t.Logf("compared %d (expression, resource) pairs: %d expressions × %d resources; %d non-empty results, %d items",
		len(job.Pairs), len(exprs), len(fx), st.nonEmpty, st.items)
	t.Logf("tolerated: %d resolve() placeholders, %d unions with equal values kept, %d System.String ids/urls",
		st.placeholders, st.unions, st.systemStrings)
}

// requireNode skips when node or npm is missing, except in CI, and installs
// FHIRPath.js from the lock file on first use.
func requireNode(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed; the FHIRPath.js cross-check needs it in CI", tool)
			}
			t.Skipf("%s is not installed; skipping the FHIRPath.js cross-check", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(crossDir, "node_modules", "fhirpath")); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = crossDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", crossDir, err, out)
	}
}

func runCrossCheck(t *testing.T, job any) []jsResult {
	t.Helper()
	var results []jsResult
	decodeJS(t, runNode(t, job), &results)
	return results
}

// runNode runs crosscheck.js on the job and returns its output.
func runNode(t *testing.T, job any) []byte {
	t.Helper()
	in, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "crosscheck.js")
	cmd.Dir = crossDir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node crosscheck.js: %v\n%s", err, stderr.Bytes())
	}
	return out
}

// decodeJS decodes crosscheck.js output, numbers as json.Number.
func decodeJS(t *testing.T, out []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("crosscheck.js output: %v", err)
	}
}

// crossResources loads the hand-written resources of the cross-check.
func crossResources(t *testing.T) []fixture {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(crossDir, "resources", "*.json"))
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
		out = append(out, fixture{name: filepath.Base(f), res: res})
	}
	return out
}

type crossStats struct {
	nonEmpty, items                     int
	placeholders, unions, systemStrings int
	integralDecimals                    int
}

// compare returns what differs between our result and FHIRPath.js's, or "".
func (st *crossStats) compare(got []Node, err error, js jsResult, src string) string {
	switch {
	case err != nil && js.Error != "":
		return "" // both refuse
	case err != nil:
		return fmt.Sprintf("we fail (%v), FHIRPath.js gives %d items", err, len(js.Items))
	case js.Error != "":
		return fmt.Sprintf("FHIRPath.js fails (%s), we give %d items", js.Error, len(got))
	}
	if len(got) > 0 {
		st.nonEmpty++
	}
	st.items += len(got)
	if len(got) != len(js.Items) && strings.Contains(src, "|") {
		if dedup := distinctByJSON(got); len(dedup) == len(js.Items) {
			st.unions++
			got = dedup
		}
	}
	if len(got) != len(js.Items) {
		return fmt.Sprintf("%d items, FHIRPath.js %d: ours %s, theirs %s", len(got), len(js.Items), describeNodes(got), describeJS(js.Items))
	}
	for i := range got {
		if msg := st.compareItem(&got[i], &js.Items[i]); msg != "" {
			return fmt.Sprintf("item %d: %s", i, msg)
		}
	}
	return ""
}

func (st *crossStats) compareItem(n *Node, js *jsItem) string {
	jt := strings.TrimPrefix(js.T, "FHIR.")
	switch {
	case jt == n.Type:
	case jt == "System.String" && (n.Type == "string" || n.Type == "uri"):
		st.systemStrings++
	case jt == "System.Integer" && n.Type == "System.Decimal" && isIntegral(n.Value.(jsontree.Number)):
		st.integralDecimals++ // FHIRPath.js types a computed number by its value
	default:
		return fmt.Sprintf("type %s, FHIRPath.js %s", n.Type, js.T)
	}
	if n.isPlaceholder() {
		st.placeholders++
		return ""
	}
	if !jsonSame(generic(n.Value), js.V) {
		return fmt.Sprintf("value %s, FHIRPath.js %s", jsontree.Marshal(n.Value), mustJSON(js.V))
	}
	var ext any
	if n.Ext != nil {
		ext = generic(n.Ext)
	}
	if !jsonSame(ext, js.E) {
		return fmt.Sprintf("_companion %s, FHIRPath.js %s", mustJSON(ext), mustJSON(js.E))
	}
	return ""
}

// distinctByJSON removes items equal in value to an earlier one, as
// FHIRPath.js's union does.
func distinctByJSON(nodes []Node) []Node {
	var out []Node
	for _, n := range nodes {
		dup := false
		for _, o := range out {
			if n.Type == o.Type && jsonSame(generic(n.Value), generic(o.Value)) && jsonSame(generic(n.Ext), generic(o.Ext)) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out
}

// generic converts a jsontree value to what encoding/json decodes with
// UseNumber, for comparison with FHIRPath.js's output.
func generic(v any) any {
	if o, ok := v.(*jsontree.Object); ok && o == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(jsontree.Marshal(v)))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		panic(err)
	}
	return out
}

// jsonSame compares decoded JSON, numbers by decimal value (JavaScript
// writes -77.036560 as -77.03656).
func jsonSame(a, b any) bool {
	switch av := a.(type) {
	case json.Number:
		bv, ok := b.(json.Number)
		return ok && decimalEqual(jsontree.Number(av), jsontree.Number(bv))
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, x := range av {
			if y, ok := bv[k]; !ok || !jsonSame(x, y) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !jsonSame(av[i], bv[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func describeNodes(nodes []Node) string {
	var parts []string
	for _, n := range nodes {
		parts = append(parts, n.Type+":"+string(jsontree.Marshal(n.Value)))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func describeJS(items []jsItem) string {
	var parts []string
	for _, it := range items {
		parts = append(parts, it.T+":"+mustJSON(it.V))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
