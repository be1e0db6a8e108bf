package fhirpath

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// BenchmarkEvaluate evaluates every expression that applies to Practitioner
// on the IG's practitioner example, the work search extraction does per
// write. ns/expr is the mean cost of one expression; the target is the whole
// set well under 50 µs (20,000 resources per second per core).
func BenchmarkEvaluate(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(filepath.Dir(igExamples), "practitioner-example-washington.json"))
	if err != nil {
		b.Skipf("IG practitioner example not found: %v", err)
	}
	benchmarkPractitioner(b, data)
}

// BenchmarkEvaluateRich is BenchmarkEvaluate on the cross-check's
// practitioner, which fills nearly every element the expressions reach.
func BenchmarkEvaluateRich(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(crossDir, "resources", "practitioner.json"))
	if err != nil {
		b.Fatal(err)
	}
	benchmarkPractitioner(b, data)
}

func benchmarkPractitioner(b *testing.B, data []byte) {
	res, err := jsontree.ParseObject(data)
	if err != nil {
		b.Fatal(err)
	}
	var exprs []*Expr
	for _, ce := range corpus(b) {
		if appliesTo(ce.base, "Practitioner") {
			exprs = append(exprs, MustCompile(ce.src))
		}
	}
	var buf []Node
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, e := range exprs {
			if buf, err = e.EvaluateAppend(buf[:0], res); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(exprs)), "ns/expr")
	b.ReportMetric(float64(len(exprs)), "exprs")
}

// BenchmarkEvaluateAlloc is BenchmarkEvaluate through Evaluate, which
// allocates the result slice.
func BenchmarkEvaluateAlloc(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(crossDir, "resources", "practitioner.json"))
	if err != nil {
		b.Fatal(err)
	}
	res, err := jsontree.ParseObject(data)
	if err != nil {
		b.Fatal(err)
	}
	var exprs []*Expr
	for _, ce := range corpus(b) {
		if appliesTo(ce.base, "Practitioner") {
			exprs = append(exprs, MustCompile(ce.src))
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range exprs {
			if _, err := e.Evaluate(res); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(exprs)), "ns/expr")
}
