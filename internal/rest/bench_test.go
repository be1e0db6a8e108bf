package rest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store/testdb"
)

const benchResources = 10_000

// seedPractitioners stores n Practitioners prac-0…prac-(n-1) with
// transaction Bundles of 500.
func seedPractitioners(b *testing.B, srv *testServer, n int) {
	b.Helper()
	for start := 0; start < n; start += 500 {
		var entries []string
		for i := start; i < min(start+500, n); i++ {
			entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Practitioner","id":"prac-%d","active":true,"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"%d"}],"name":[{"family":"Family%d","given":["Given%d"]}],"telecom":[{"system":"phone","value":"555-%04d"}],"address":[{"city":"Boston","state":"MA","postalCode":"02118"}]},"request":{"method":"PUT","url":"Practitioner/prac-%d"}}`, i, 1000000000+i, i, i, i%10000, i))
		}
		srv.do(http.MethodPost, "", `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`).want(b, http.StatusOK)
	}
}

// BenchmarkReadByID measures GET [base]/Practitioner/[id] over TLS
// (HTTP/1.1 keep-alive) from 8 concurrent clients, next to its limit: the
// same stored bytes served by a plain Go handler on the same kind of
// listener. It reports requests per second.
func BenchmarkReadByID(b *testing.B) {
	for _, be := range testdb.All {
		b.Run(be.Name, func(b *testing.B) {
			srv := startBenchServer(b, opener(b, be))
			seedPractitioners(b, srv, benchResources)
			runReads(b, srv.ts, srv.base+"/Practitioner/prac-")
		})
	}
	b.Run("plain-handler", func(b *testing.B) {
		body := []byte(strings.Repeat("x", 500))
		ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
			w.Header().Set("ETag", `W/"1"`)
			w.Write(body)
		}))
		defer ts.Close()
		runReads(b, ts, ts.URL+"/fhir/Practitioner/prac-")
	})
}

func runReads(b *testing.B, ts *httptest.Server, prefix string) {
	client := ts.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	var next atomic.Int64
	b.SetParallelism(4) // 8 clients on 2 CPUs
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(7919) % benchResources
			resp, err := client.Get(fmt.Sprint(prefix, i))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
