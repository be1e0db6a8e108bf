package search

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/fhirpath"
	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store"
)

// crossDir holds the FHIRPath.js harness of package fhirpath.
var crossDir = filepath.Join("..", "fhirpath", "testdata", "crosscheck")

// TestIndexValuesMatchFHIRPathJS checks, for every search parameter of the
// registry (IG and core, corrections applied) on every IG example, that the
// index rows vhdir extracts are the ones it extracts from HL7 FHIRPath.js's
// evaluation of the same expression: the expression engine and the value
// extraction agree with a reference implementation end to end.
func TestIndexValuesMatchFHIRPathJS(t *testing.T) {
	dir := nodeHarness(t)
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(reg, "https://dir.example/fhir")
	var resources []*fhir.Resource
	for _, f := range ig.Examples() {
		r, err := fhir.ParseResource(f.Data)
		if err != nil {
			t.Fatal(err)
		}
		if r.Type == "Bundle" {
			continue
		}
		resources = append(resources, r)
	}
	type pair struct {
		p *Param
		r *fhir.Resource
	}
	var job struct {
		Expressions []string `json:"expressions"`
		Resources   []any    `json:"resources"`
		Pairs       [][2]int `json:"pairs"`
	}
	var pairs []pair
	for _, r := range resources {
		job.Resources = append(job.Resources, json.RawMessage(jsontree.Marshal(r.Obj)))
	}
	for ri, r := range resources {
		for _, p := range reg.Params(r.Type) {
			job.Expressions = append(job.Expressions, p.Expression)
			job.Pairs = append(job.Pairs, [2]int{len(job.Expressions) - 1, ri})
			pairs = append(pairs, pair{p, r})
		}
	}
	results := runNode(t, dir, job)
	compared, rows := 0, 0
	for k, pr := range pairs {
		res := results[k]
		if res.Error != "" {
			t.Errorf("%s on %s/%s: FHIRPath.js: %s", pr.p.URL, pr.r.Type, pr.r.ID, res.Error)
			continue
		}
		ours, err := pr.p.expr.Evaluate(pr.r.Obj)
		if err != nil {
			t.Fatal(err)
		}
		var theirs []fhirpath.Node
		for _, it := range res.Items {
			n, ok := jsNode(it)
			if !ok {
				continue // a resolve() result: references are indexed from the Reference itself
			}
			theirs = append(theirs, n)
		}
		got, want := rowsOf(e, pr.p, ours), rowsOf(e, pr.p, theirs)
		if !slices.Equal(got, want) {
			t.Errorf("%s (%s) on %s/%s:\n vhdir:       %v\n FHIRPath.js: %v", pr.p.Code, pr.p.URL, pr.r.Type, pr.r.ID, got, want)
		}
		compared++
		rows += len(got)
	}
	t.Logf("compared index rows of %d (parameter, resource) pairs, %d rows", compared, rows)
	if rows == 0 {
		t.Fatal("no rows compared")
	}
}

type jsItem struct {
	V json.RawMessage `json:"v"`
	E json.RawMessage `json:"e"`
	T string          `json:"t"`
}

type jsResult struct {
	Items []jsItem `json:"items"`
	Error string   `json:"error"`
}

// jsNode turns a FHIRPath.js item into a node vhdir's extractor reads.
func jsNode(it jsItem) (fhirpath.Node, bool) {
	typ := strings.TrimPrefix(it.T, "FHIR.")
	if strings.HasPrefix(typ, "System.") && typ != "System.String" {
		return fhirpath.Node{}, false
	}
	if typ == "System.String" {
		typ = "string"
	}
	var n fhirpath.Node
	n.Type = typ
	if len(it.V) > 0 && string(it.V) != "null" {
		v, err := jsontree.Parse(it.V)
		if err != nil {
			return n, false
		}
		if o, ok := v.(*jsontree.Object); ok {
			if rt, _ := o.String("resourceType"); rt != "" && typ == rt {
				return n, false // a resolved resource
			}
		}
		n.Value = v
	}
	return n, true
}

// rowsOf renders the index rows of one parameter from nodes, sorted.
func rowsOf(e *Engine, p *Param, nodes []fhirpath.Node) []string {
	x := &extractor{base: e.base, idx: &store.Index{}}
	for i := range nodes {
		x.node(p, &nodes[i])
	}
	x.dedup()
	var out []string
	for _, v := range x.idx.Strings {
		out = append(out, fmt.Sprintf("s %d %q %q", v.Param, v.Norm, v.Exact))
	}
	for _, v := range x.idx.Tokens {
		out = append(out, fmt.Sprintf("t %d %q %q", v.Param, v.System, v.Code))
	}
	for _, v := range x.idx.Refs {
		out = append(out, fmt.Sprintf("r %d %s/%s %q", v.Param, v.Type, v.ID, v.URL))
	}
	for _, v := range x.idx.Dates {
		out = append(out, fmt.Sprintf("d %d %d %d", v.Param, v.Lo, v.Hi))
	}
	for _, v := range x.idx.Numbers {
		out = append(out, fmt.Sprintf("n %d %g", v.Param, v.Value)) // JSON numbers lose their written precision in JS
	}
	for _, v := range x.idx.Quantities {
		out = append(out, fmt.Sprintf("q %d %q %q %g", v.Param, v.System, v.Code, v.Value))
	}
	for _, v := range x.idx.URIs {
		out = append(out, fmt.Sprintf("u %d %q", v.Param, v.URI))
	}
	for _, v := range x.idx.Coords {
		out = append(out, fmt.Sprintf("c %d %g %g", v.Param, v.Lat, v.Lon))
	}
	slices.Sort(out)
	return out
}

// nodeHarness returns a folder with the FHIRPath.js harness installed:
// package fhirpath's when it has its node_modules, else a private copy
// (so two test binaries never run npm in one folder at once). Without
// node or npm the test skips, except in CI.
func nodeHarness(t *testing.T) string {
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
		return crossDir
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "crosscheck.js"} {
		data, err := os.ReadFile(filepath.Join(crossDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	return dir
}

func runNode(t *testing.T, dir string, job any) []jsResult {
	t.Helper()
	in, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "crosscheck.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node crosscheck.js: %v\n%s", err, stderr.Bytes())
	}
	var results []jsResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("crosscheck.js output: %v", err)
	}
	return results
}
