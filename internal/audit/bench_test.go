package audit_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

const benchPractitioners = 2000

// BenchmarkAuditOverhead measures what the audit trail costs: reads by id
// and creates over TLS from 8 and from 64 concurrent clients, on the same
// stack with the trail on and off (the only place it can be off). Each
// audited read commits one AuditEvent (grouped with concurrent ones)
// before its answer leaves; each create commits one with its data. The
// limit beside them, "commit", is one record committed alone: the durable
// commit every audited request waits for. The audited stacks run the
// background indexer as serve does (every second), so its work is counted.
func BenchmarkAuditOverhead(b *testing.B) {
	for _, be := range testdb.All {
		b.Run(be.Name+"/commit", func(b *testing.B) {
			st, raw := open(b, be)
			s := newStack(b, st, raw, true)
			e := audit.ForLoad(&interaction.Caller{ClientID: "operator:bench", Address: "localhost"}, "bench", map[string]int{"Practitioner": 1}, 0)
			b.ResetTimer()
			for b.Loop() {
				if err := s.log.Commit(context.Background(), e); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, clients := range []int{8, 64} {
			for _, audited := range []bool{false, true} {
				name := fmt.Sprintf("%s/clients-%d/audit-%v", be.Name, clients, map[bool]string{false: "off", true: "on"}[audited])
				b.Run(name+"/read", func(b *testing.B) {
					st, raw := open(b, be)
					s := newStack(b, st, raw, audited)
					indexInBackground(b, s, audited)
					seed(b, s)
					parallel(b, s, audited, clients, func(client *http.Client, i int64) (*http.Response, error) {
						req, _ := http.NewRequest("GET", fmt.Sprintf("%s/fhir/Practitioner/b%d", s.base, i%benchPractitioners), nil)
						req.Header.Set("X-Test-Client", "bench")
						return client.Do(req)
					}, http.StatusOK)
				})
				b.Run(name+"/create", func(b *testing.B) {
					st, raw := open(b, be)
					s := newStack(b, st, raw, audited)
					indexInBackground(b, s, audited)
					parallel(b, s, audited, clients, func(client *http.Client, i int64) (*http.Response, error) {
						req, _ := http.NewRequest("POST", s.base+"/fhir/Practitioner", strings.NewReader(prac("", fmt.Sprint("G", i))))
						req.Header.Set("X-Test-Client", "bench")
						req.Header.Set("Content-Type", "application/fhir+json")
						return client.Do(req)
					}, http.StatusCreated)
				})
			}
		}
	}
}

// benchIndex turns the background indexer off, to see what durability
// alone costs (records committed but not yet searchable).
var benchIndex = flag.Bool("bench.audit-index", true, "run the AuditEvent indexer during the overhead benchmark, as serve does")

// indexInBackground runs the AuditEvent indexer as serve does.
func indexInBackground(b *testing.B, s *stack, audited bool) {
	if !audited || !*benchIndex {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.ix.Run(ctx, time.Second); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
}

func seed(b *testing.B, s *stack) {
	b.Helper()
	for start := 0; start < benchPractitioners; start += 500 {
		var entries []string
		for i := start; i < start+500; i++ {
			entries = append(entries, fmt.Sprintf(`{"resource":%s,"request":{"method":"PUT","url":"Practitioner/b%d"}}`, prac(fmt.Sprint("b", i), "G"), i))
		}
		if r := s.do("POST", "/fhir", "seed", "", `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`); r.status != 200 {
			b.Fatalf("seed = %d %s", r.status, r.raw)
		}
	}
}

// parallel runs do from clients concurrent clients. An audited run's
// time includes making the records it left searchable (the indexer's
// catch-up at the end), so the figure is what the server sustains, not
// what a run shorter than the indexer's interval gets away with.
func parallel(b *testing.B, s *stack, audited bool, clients int, do func(*http.Client, int64) (*http.Response, error), status int) {
	client := s.ts.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = clients
	var next atomic.Int64
	b.SetParallelism(clients / runtime.GOMAXPROCS(0))
	before := s.log.Stats()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := do(client, next.Add(7919))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != status {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	if audited && *benchIndex {
		if err := s.ix.CatchUp(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	if after := s.log.Stats(); after.Batches > before.Batches {
		batches := float64(after.Batches - before.Batches)
		b.ReportMetric(float64(after.Records-before.Records)/batches, "records/commit")
		b.ReportMetric((after.Busy-before.Busy).Seconds()*1e3/batches, "ms/commit")
	}
}

// BenchmarkIndexer measures how many AuditEvents per second the indexer
// makes searchable (b.N records committed beforehand, untimed).
func BenchmarkIndexer(b *testing.B) {
	for _, be := range testdb.All {
		b.Run(be.Name, func(b *testing.B) {
			st, raw := open(b, be)
			s := newStack(b, st, raw, true)
			ctx := context.Background()
			for i := 0; i < b.N; i += 100 {
				var events []*audit.Event
				for j := i; j < min(i+100, b.N); j++ {
					events = append(events, audit.ForLoad(&interaction.Caller{ClientID: "operator:bench", Address: "localhost"}, fmt.Sprint("file-", j), map[string]int{"Practitioner": j}, 0))
				}
				if err := s.log.Commit(ctx, events...); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			start := time.Now()
			if err := s.ix.CatchUp(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}
