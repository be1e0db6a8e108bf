package rest_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// directoryTransaction is a transaction Bundle of n POST entries shaped
// like a provider directory, referring to each other by urn:uuid fullUrls:
// for every 10, 1 Organization, 4 Practitioners (NPI, name, phone,
// address) and 5 PractitionerRoles naming a Practitioner and the
// Organization. tag keeps identifiers apart between Bundles.
func directoryTransaction(n, tag int) string {
	// urn:uuid fullUrls: tag, kind (1 Organization, 2 Practitioner, 3
	// PractitionerRole) and number as a UUID.
	uuid := func(kind, i int) string { return fmt.Sprintf("urn:uuid:%08x-%04x-4000-8000-%012x", tag, kind, i) }
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		g := i / 10
		switch i % 10 {
		case 0:
			fmt.Fprintf(&b, `{"fullUrl":"%s","resource":{"resourceType":"Organization","identifier":[{"system":"http://example.org/org","value":"%d-O%d"}],"active":true,"name":"Medical Group %d-%d","telecom":[{"system":"phone","value":"555-%04d"}],"address":[{"line":["%d Main St"],"city":"Boston","state":"MA","postalCode":"02118"}]},"request":{"method":"POST","url":"Organization"}}`,
				uuid(1, g), tag, g, tag, g, g%10000, 1+g%900)
		case 1, 2, 3, 4:
			fmt.Fprintf(&b, `{"fullUrl":"%s","resource":{"resourceType":"Practitioner","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"%d%d"}],"active":true,"name":[{"family":"Family%d","given":["Given%d"]}],"telecom":[{"system":"phone","value":"555-%04d"}],"address":[{"city":"Boston","state":"MA","postalCode":"02118"}]},"request":{"method":"POST","url":"Practitioner"}}`,
				uuid(2, i), tag, 1000000000+i, i, i%97, i%10000)
		default:
			fmt.Fprintf(&b, `{"fullUrl":"%s","resource":{"resourceType":"PractitionerRole","identifier":[{"system":"http://example.org/role","value":"%d-R%d"}],"active":true,"practitioner":{"reference":"%s"},"organization":{"reference":"%s"},"specialty":[{"coding":[{"system":"http://nucc.org/provider-taxonomy","code":"207Q00000X"}]}],"telecom":[{"system":"phone","value":"555-%04d"}]},"request":{"method":"POST","url":"PractitionerRole"}}`,
				uuid(3, i), tag, i, uuid(2, g*10+1+i%4), uuid(1, g), i%10000)
		}
	}
	b.WriteString(`]}`)
	return b.String()
}

// startTxServer serves a fresh database of backend be, audited as served,
// taking Bundles of up to maxEntries entries.
func startTxServer(b *testing.B, be testdb.Backend, maxEntries int) *testServer {
	b.Helper()
	return startWith(b, opener(b, be), func(cfg *server.Config) {
		cfg.MaxBodyBytes = 1 << 30
		cfg.MaxBundleEntries = maxEntries
	})
}

// postBundle posts a Bundle and fails unless it succeeds.
func postBundle(b *testing.B, srv *testServer, body string) {
	b.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.base, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Prefer", "return=minimal")
	resp, err := srv.ts.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("transaction: status %d: %.300s", resp.StatusCode, data)
	}
}

// BenchmarkTransactionSize posts one transaction Bundle of 5,000 to
// 40,000 directory resources (directoryTransaction) through the real,
// audited server into a fresh database, and reports entries per second:
// a cost per entry that stays flat as the Bundle grows shows no step
// grows faster than the entries. Run with -benchtime 1x.
func BenchmarkTransactionSize(b *testing.B) {
	sizes := []int{5_000, 10_000, 20_000, 40_000}
	for _, be := range testdb.All {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/%d", be.Name, n), func(b *testing.B) {
				srv := startTxServer(b, be, n)
				var took time.Duration
				iter := 0
				for b.Loop() {
					b.StopTimer()
					body := directoryTransaction(n, iter)
					iter++
					b.StartTimer()
					began := time.Now()
					postBundle(b, srv, body)
					took += time.Since(began)
				}
				b.ReportMetric(float64(n*b.N)/took.Seconds(), "entries/s")
			})
		}
	}
}

// BenchmarkReadsDuringTransaction measures what a large write does to
// everyone else: 4 clients read stored Practitioners (audited, each
// answer waiting for its record's commit) while a transaction Bundle of
// 10,000 (the default --max-bundle-entries) or 1,000 entries runs, and
// the latency of the reads answered while it ran is reported (p50-ms,
// p99-ms, max-ms) next to the same clients' latency with no write under
// way (idle-p50-ms, idle-p99-ms) and the transaction's time (tx-s). Run
// with -benchtime 1x.
func BenchmarkReadsDuringTransaction(b *testing.B) {
	const stored, readers = 1_000, 4
	for _, be := range testdb.All {
		for _, entries := range []int{10_000, 1_000} {
			b.Run(fmt.Sprintf("%s/%d", be.Name, entries), func(b *testing.B) { readsDuring(b, be, entries, stored, readers) })
		}
	}
}

// readsDuring is BenchmarkReadsDuringTransaction on one backend, for a
// transaction of entries.
func readsDuring(b *testing.B, be testdb.Backend, entries, stored, readers int) {
	srv := startTxServer(b, be, entries)
	seedPractitioners(b, srv, stored)
	rd := &reader{b: b, client: srv.ts.Client(), prefix: srv.base + "/Practitioner/prac-", stored: stored}
	rd.client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	idleDone := make(chan struct{})
	time.AfterFunc(2*time.Second, func() { close(idleDone) })
	idle := rd.readWhile(readers, idleDone)

	var during []time.Duration
	var took time.Duration
	iter := 0
	for b.Loop() {
		body := directoryTransaction(entries, 1000+iter)
		iter++
		done := make(chan struct{})
		var lat []time.Duration
		var wg sync.WaitGroup
		wg.Go(func() { lat = rd.readWhile(readers, done) })
		began := time.Now()
		postBundle(b, srv, body)
		took += time.Since(began)
		close(done)
		wg.Wait()
		during = append(during, lat...)
	}
	if len(during) == 0 {
		b.Fatal("no read finished during the transaction")
	}
	slices.Sort(during)
	slices.Sort(idle)
	b.ReportMetric(percentileMs(during, 0.50), "p50-ms")
	b.ReportMetric(percentileMs(during, 0.99), "p99-ms")
	b.ReportMetric(percentileMs(during, 1), "max-ms")
	b.ReportMetric(float64(len(during))/took.Seconds(), "reads/s")
	b.ReportMetric(percentileMs(idle, 0.50), "idle-p50-ms")
	b.ReportMetric(percentileMs(idle, 0.99), "idle-p99-ms")
	b.ReportMetric(took.Seconds()/float64(b.N), "tx-s")
}

// reader reads stored Practitioners prac-0…prac-(stored-1) in a
// scattered order.
type reader struct {
	b      *testing.B
	client *http.Client
	prefix string
	stored int
	next   atomic.Int64
}

// read reads one and returns its latency.
func (rd *reader) read() time.Duration {
	i := rd.next.Add(7919) % int64(rd.stored)
	began := time.Now()
	resp, err := rd.client.Get(fmt.Sprint(rd.prefix, i))
	if err != nil {
		rd.b.Error(err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		rd.b.Errorf("read: status %d", resp.StatusCode)
	}
	return time.Since(began)
}

// readWhile reads from n clients until done closes and returns the
// latencies of the reads that finished.
func (rd *reader) readWhile(n int, done <-chan struct{}) []time.Duration {
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			var mine []time.Duration
			for {
				select {
				case <-done:
					mu.Lock()
					all = append(all, mine...)
					mu.Unlock()
					return
				default:
				}
				mine = append(mine, rd.read())
			}
		})
	}
	wg.Wait()
	return all
}

// directoryBatch is a batch Bundle of n independent POST entries: for
// every 5, 1 Organization and 4 Practitioners shaped as in
// directoryTransaction. tag keeps identifiers apart between Bundles.
func directoryBatch(n, tag int) string {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"batch","entry":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if i%5 == 0 {
			fmt.Fprintf(&b, `{"resource":{"resourceType":"Organization","identifier":[{"system":"http://example.org/org","value":"%d-O%d"}],"active":true,"name":"Medical Group %d-%d","telecom":[{"system":"phone","value":"555-%04d"}],"address":[{"line":["%d Main St"],"city":"Boston","state":"MA","postalCode":"02118"}]},"request":{"method":"POST","url":"Organization"}}`,
				tag, i, tag, i, i%10000, 1+i%900)
			continue
		}
		fmt.Fprintf(&b, `{"resource":{"resourceType":"Practitioner","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"%d%d"}],"active":true,"name":[{"family":"Family%d","given":["Given%d"]}],"telecom":[{"system":"phone","value":"555-%04d"}],"address":[{"city":"Boston","state":"MA","postalCode":"02118"}]},"request":{"method":"POST","url":"Practitioner"}}`,
			tag, 1000000000+i, i, i%97, i%10000)
	}
	b.WriteString(`]}`)
	return b.String()
}

// BenchmarkBatchIngest posts batch Bundles of 100 independent POST entries
// (directoryBatch) through the real, audited server, from 1 and from 4
// clients, as a client loading a directory over HTTP does: resources/s,
// and p50 and p99 per Bundle. Each entry is its own write, with its
// Provenance and its AuditEvent.
func BenchmarkBatchIngest(b *testing.B) {
	const perBundle = 100
	for _, be := range testdb.All {
		for _, clients := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/clients-%d", be.Name, clients), func(b *testing.B) {
				srv := startTxServer(b, be, perBundle)
				var next atomic.Int64
				var mu sync.Mutex
				var lat []time.Duration
				b.SetParallelism(max(1, clients/2))
				began := time.Now()
				if clients == 1 {
					for b.Loop() {
						t := time.Now()
						postBundle(b, srv, directoryBatch(perBundle, int(next.Add(1))))
						lat = append(lat, time.Since(t))
					}
				} else {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							t := time.Now()
							postBundle(b, srv, directoryBatch(perBundle, int(next.Add(1))))
							mu.Lock()
							lat = append(lat, time.Since(t))
							mu.Unlock()
						}
					})
				}
				slices.Sort(lat)
				b.ReportMetric(float64(perBundle*len(lat))/time.Since(began).Seconds(), "resources/s")
				b.ReportMetric(percentileMs(lat, 0.50), "p50-ms")
				b.ReportMetric(percentileMs(lat, 0.99), "p99-ms")
			})
		}
	}
}
