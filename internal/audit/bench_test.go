package audit_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const benchPractitioners = 2000

// BenchmarkAuditOverhead measures what the audit trail costs: reads by id
// from 8 concurrent clients over TLS, and creates, on the same stack with
// the trail on and off (the only place it can be off). Each read commits
// one AuditEvent (grouped with concurrent ones) before its answer leaves;
// each create commits one with its data.
func BenchmarkAuditOverhead(b *testing.B) {
	for _, be := range backends {
		for _, audited := range []bool{false, true} {
			name := be.name + "/audit-off"
			if audited {
				name = be.name + "/audit-on"
			}
			b.Run(name+"/read", func(b *testing.B) {
				st, raw := be.open(b)
				s := newStack(b, st, raw, audited)
				seed(b, s)
				parallel(b, s, func(client *http.Client, i int64) (*http.Response, error) {
					req, _ := http.NewRequest("GET", fmt.Sprintf("%s/fhir/Practitioner/b%d", s.base, i%benchPractitioners), nil)
					req.Header.Set("X-Test-Client", "bench")
					return client.Do(req)
				}, http.StatusOK)
			})
			b.Run(name+"/create", func(b *testing.B) {
				st, raw := be.open(b)
				s := newStack(b, st, raw, audited)
				parallel(b, s, func(client *http.Client, i int64) (*http.Response, error) {
					req, _ := http.NewRequest("POST", s.base+"/fhir/Practitioner", strings.NewReader(prac("", fmt.Sprint("G", i))))
					req.Header.Set("X-Test-Client", "bench")
					req.Header.Set("Content-Type", "application/fhir+json")
					return client.Do(req)
				}, http.StatusCreated)
			})
		}
	}
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

func parallel(b *testing.B, s *stack, do func(*http.Client, int64) (*http.Response, error), status int) {
	client := s.ts.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	var next atomic.Int64
	b.SetParallelism(4) // 8 clients on 2 CPUs
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
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
