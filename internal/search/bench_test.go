package search_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/gen"
	"github.com/vhdir/vhdir/internal/search"
)

// BenchmarkIndex measures index extraction on write: every search
// parameter of each resource's type evaluated over a generated directory's
// mix of types (bodies already parsed, as the write path has them). The
// figure that matters is resources/s on one core:
//
//	go test -run XXX -bench BenchmarkIndex -cpu 1 ./internal/search/
func BenchmarkIndex(b *testing.B) {
	reg, err := search.NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	eng := search.NewEngine(reg, "https://bench.example/fhir")
	resources := generated(b, 2000)
	rows := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx, err := eng.Index(resources[i%len(resources)])
		if err != nil {
			b.Fatal(err)
		}
		rows += idx.Len()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "resources/s")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/resource")
}

// generated parses a synthetic directory of about 5 resources per
// practitioner, all types interleaved as a load would see them.
func generated(b *testing.B, practitioners int) []*fhir.Resource {
	bufs := map[string]*bytes.Buffer{}
	_, err := gen.Generate(context.Background(), gen.Config{Practitioners: practitioners, Seed: 1}, func(t string) io.Writer {
		bufs[t] = &bytes.Buffer{}
		return bufs[t]
	})
	if err != nil {
		b.Fatal(err)
	}
	var out []*fhir.Resource
	for _, t := range gen.Types() {
		sc := bufio.NewScanner(bufs[t])
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			res, err := fhir.ParseResource(bytes.Clone(sc.Bytes()))
			if err != nil {
				b.Fatalf("%s: %v", t, err)
			}
			out = append(out, res)
		}
	}
	// Interleave the types so a short run is not all of one kind.
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
