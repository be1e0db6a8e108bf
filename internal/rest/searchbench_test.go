package rest_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/server/benchdir"
	"github.com/vhdir/vhdir/internal/store"
)

// The search benchmark's directory is benchdir's: `vhdir gen
// --practitioners N`, loaded once per backend and kept.
var (
	benchPractitioners = flag.Int("bench.practitioners", 20000, "practitioners in the search benchmark's generated directory (200000 ≈ 1M resources)")
	benchClients       = flag.Int("bench.clients", 8, "concurrent clients in the search benchmark")
	benchAudited       = flag.Bool("bench.audited", false, "serve the search benchmark with the audit trail on, as serve runs (each answer waits for its record's commit)")
)

// searchShape is one query the benchmark times.
type searchShape struct {
	name, query string
	explain     bool
}

// benchShapes picks real values from the loaded data.
func benchShapes(b *testing.B, st store.Store) []searchShape {
	ctx := context.Background()
	first := func(typ string) *jsontree.Object {
		page, err := st.Search(ctx, &store.Query{Types: []string{typ}, Count: 200})
		if err != nil || len(page.Versions) == 0 {
			b.Fatalf("no %s in the benchmark data: %v", typ, err)
		}
		// Pick a resource from the middle of the sample.
		o, err := jsontree.ParseObject(page.Versions[len(page.Versions)/2].Body)
		if err != nil {
			b.Fatal(err)
		}
		return o
	}
	get := func(o *jsontree.Object, path ...string) string {
		var v any = o
		for _, p := range path {
			switch x := v.(type) {
			case *jsontree.Object:
				v, _ = x.Get(p)
			case []any:
				if len(x) == 0 {
					return ""
				}
				v = x[0]
				if obj, ok := v.(*jsontree.Object); ok {
					v, _ = obj.Get(p)
				}
			}
		}
		switch x := v.(type) {
		case string:
			return x
		case jsontree.Number:
			return string(x)
		}
		return ""
	}
	role := first("PractitionerRole")
	specialty := get(role, "specialty", "coding", "code")
	org := get(role, "organization", "reference")
	// A city of an organization that has roles, for the chain.
	var city string
	roles, err := st.Search(ctx, &store.Query{Types: []string{"PractitionerRole"}, Count: 500})
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range roles.Versions {
		o, _ := jsontree.ParseObject(v.Body)
		ref := get(o, "organization", "reference")
		orgRes, err := st.Read(ctx, "Organization", strings.TrimPrefix(ref, "Organization/"))
		if err != nil {
			continue
		}
		orgObj, _ := jsontree.ParseObject(orgRes.Body)
		if city = get(orgObj, "address", "city"); city != "" {
			break
		}
	}
	if city == "" {
		b.Fatal("no organization with a city in the benchmark data")
	}
	prac := first("Practitioner")
	family := strings.ToLower(get(prac, "name", "family"))
	npi := get(prac, "identifier", "system") + "|" + get(prac, "identifier", "value")
	loc := first("Location")
	lat, lon := get(loc, "position", "latitude"), get(loc, "position", "longitude")
	q := url.QueryEscape
	return []searchShape{
		{"token", "PractitionerRole?specialty=" + q(specialty) + "&_count=20", false},
		{"identifier", "Practitioner?identifier=" + q(npi), false},
		{"string-prefix", "Practitioner?name=" + q(family[:min(3, len(family))]) + "&_count=20", false},
		{"reference", "PractitionerRole?organization=" + q(org) + "&_count=20", false},
		{"chained", "PractitionerRole?specialty=" + q(specialty) + "&organization.address-city=" + q(city) + "&_include=PractitionerRole:practitioner&_count=20", true},
		{"chained-nototal", "PractitionerRole?specialty=" + q(specialty) + "&organization.address-city=" + q(city) + "&_include=PractitionerRole:practitioner&_count=20&_total=none", true},
		{"has-nototal", "Practitioner?_has:PractitionerRole:practitioner:specialty=" + q(specialty) + "&_count=20&_total=none", true},
		{"has", "Practitioner?_has:PractitionerRole:practitioner:specialty=" + q(specialty) + "&_count=20", true},
		{"near", "Location?near=" + q(lat+"|"+lon+"|20|km") + "&_count=20", true},
		{"count", "Practitioner?gender=female&_summary=count", false},
	}
}

// BenchmarkSearch times the directory search shapes from 8 concurrent
// clients over TLS and reports p50 and p99 latency per shape. Run with
// -bench.practitioners 200000 for the 1M-resource figures, and with
// -bench.audited for the audit trail on.
func BenchmarkSearch(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			st := benchdir.Open(b, backend, *benchPractitioners)
			srv := start(b, func() store.Store { return st }, !*benchAudited)
			shapes := benchShapes(b, st)
			for _, sh := range shapes {
				b.Run(sh.name, func(b *testing.B) {
					logExplain(b, st, sh.query)
					runShape(b, srv, sh.query)
					runPageSQL(b, st, sh.query)
				})
			}
		})
	}
}

// benchViewer is who the benchmark's requests search as (an operator:
// the test caller names no organization), so that the page SQL timed
// alone is the statement the requests run.
var benchViewer = store.SeeAll

func logExplain(b *testing.B, st store.Store, query string) {
	ex, ok := st.(interface {
		Explain(context.Context, *store.Query) (string, error)
	})
	if !ok {
		return
	}
	typ, qs, _ := strings.Cut(query, "?")
	params, _ := url.ParseQuery(qs)
	reg, _ := search.NewRegistry()
	plan, err := search.NewEngine(reg, "https://bench.example/fhir").Compile([]string{typ}, params, search.Options{})
	if err != nil {
		b.Fatal(err)
	}
	plan.Query.Viewer = benchViewer
	text, err := ex.Explain(context.Background(), plan.Query)
	if err != nil {
		b.Fatal(err)
	}
	name := filepath.Join(benchdir.Dir(), fmt.Sprintf("plans-%s-p%d.txt", st.Backend(), *benchPractitioners))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "plan for %s:\n%s\n", query, text)
}

func runShape(b *testing.B, srv *testServer, query string, header ...string) {
	client := srv.ts.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	get := func() error {
		req, err := http.NewRequest(http.MethodGet, srv.base+"/"+query, nil)
		if err != nil {
			return err
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(); err != nil { // warm up, and fail fast
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	lat := concurrently(b, get)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(percentileMs(lat, 0.50), "p50-ms")
	b.ReportMetric(percentileMs(lat, 0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
}

// percentileMs is the p-th percentile of sorted latencies, in ms.
func percentileMs(lat []time.Duration, p float64) float64 {
	return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
}

// concurrently runs fn b.N times from the benchmark's clients and returns
// the sorted latencies.
func concurrently(b *testing.B, fn func() error) []time.Duration {
	lat := make([]time.Duration, 0, b.N)
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for range *benchClients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				start := time.Now()
				if err := fn(); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return lat
}

// runPageSQL times the statement the shape's first page compiles to, run
// directly on the pool a search runs it on, with the same clients: the limit of the
// search (no HTTP, no count, no includes, no JSON assembly). Reported as
// sql-p50-ms and sql-p99-ms next to the shape's own figures.
func runPageSQL(b *testing.B, st store.Store, query string) {
	db, ok := st.(interface {
		PageSQL(context.Context, *store.Query) (string, []any, *sql.DB, error)
	})
	if !ok {
		return
	}
	typ, qs, _ := strings.Cut(query, "?")
	params, _ := url.ParseQuery(qs)
	reg, _ := search.NewRegistry()
	plan, err := search.NewEngine(reg, "https://bench.example/fhir").Compile([]string{typ}, params, search.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if plan.Query.Count == 0 { // _summary=count reads no page
		return
	}
	plan.Query.Viewer = benchViewer
	text, args, pool, err := db.PageSQL(context.Background(), plan.Query)
	if err != nil {
		b.Fatal(err)
	}
	lat := concurrently(b, func() error {
		rows, err := pool.QueryContext(context.Background(), text, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		return rows.Err()
	})
	b.ReportMetric(percentileMs(lat, 0.50), "sql-p50-ms")
	b.ReportMetric(percentileMs(lat, 0.99), "sql-p99-ms")
}
