package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

const benchPractitioners = 2000

// benchNPI is the identifier system of the seeded practitioners.
const benchNPI = "http://hl7.org/fhir/sid/us-npi"

// BenchmarkAuditOverhead measures what the audit trail costs: reads by
// id, identifier searches and creates over TLS from 8 and from 64
// concurrent clients, on the same stack with the trail on and off (the
// only place it can be off), and "floor": off, with each request waiting
// instead for the least a durable record needs, a row of a record's size
// inserted into a table without index and committed, grouped across
// concurrent requests as the trail groups them (floorLog). Each audited read or search commits one
// AuditEvent (grouped with concurrent ones) before its answer leaves, and
// it is searchable once committed; each create commits one with its data.
// The limit beside them, "commit", is one record committed alone: the
// durable commit every audited request waits for.
func BenchmarkAuditOverhead(b *testing.B) {
	shapes := []struct {
		name   string
		status int
		seed   bool
		req    func(base string, i int64) *http.Request
	}{
		{"read", http.StatusOK, true, func(base string, i int64) *http.Request {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/fhir/Practitioner/b%d", base, i%benchPractitioners), nil)
			return req
		}},
		{"search", http.StatusOK, true, func(base string, i int64) *http.Request {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/fhir/Practitioner?identifier=%s|%d", base, benchNPI, 1000000000+i%benchPractitioners), nil)
			return req
		}},
		{"create", http.StatusCreated, false, func(base string, i int64) *http.Request {
			req, _ := http.NewRequest("POST", base+"/fhir/Practitioner", strings.NewReader(prac("", fmt.Sprint("G", i))))
			req.Header.Set("Content-Type", "application/fhir+json")
			return req
		}},
	}
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
			for _, mode := range []string{"off", "on", "floor", "floor2"} {
				name := fmt.Sprintf("%s/clients-%d/audit-%s", be.Name, clients, mode)
				for _, sh := range shapes {
					b.Run(name+"/"+sh.name, func(b *testing.B) {
						lanes := map[string]int{"floor": 1, "floor2": 2}[mode]
						if lanes > 1 && be.Name == "sqlite" {
							b.Skip("SQLite has one writer: a second group commit waits for the first")
						}
						st, raw := open(b, be)
						s := newStack(b, st, raw, mode == "on")
						if sh.seed {
							seed(b, s)
						}
						if lanes > 0 {
							floor := newFloorLog(b, be.Name, raw, lanes)
							next := s.ts.Config.Handler
							s.ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
								if err := floor.commit(r.Context()); err != nil {
									http.Error(w, err.Error(), http.StatusInternalServerError)
									return
								}
								next.ServeHTTP(w, r)
							})
						}
						parallel(b, s, clients, func(client *http.Client, i int64) (*http.Response, error) {
							req := sh.req(s.base, i)
							req.Header.Set("X-Test-Client", "bench")
							return client.Do(req)
						}, sh.status)
					})
				}
			}
		}
	}
}

// seed stores benchPractitioners practitioners, b0… with NPIs 1000000000….
func seed(b *testing.B, s *stack) {
	b.Helper()
	for start := 0; start < benchPractitioners; start += 500 {
		var entries []string
		for i := start; i < start+500; i++ {
			res := fmt.Sprintf(`{"resourceType":"Practitioner","id":"b%d","identifier":[{"system":%q,"value":"%d"}],"name":[{"family":"Audit","given":["G"]}],"active":true}`,
				i, benchNPI, 1000000000+i)
			entries = append(entries, fmt.Sprintf(`{"resource":%s,"request":{"method":"PUT","url":"Practitioner/b%d"}}`, res, i))
		}
		if r := s.do("POST", "/fhir", "seed", "", `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`); r.status != 200 {
			b.Fatalf("seed = %d %s", r.status, r.raw)
		}
	}
}

// parallel runs do from clients concurrent clients and reports the rate
// and how the audit trail's group commits went.
func parallel(b *testing.B, s *stack, clients int, do func(*http.Client, int64) (*http.Response, error), status int) {
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
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	if after := s.log.Stats(); after.Batches > before.Batches {
		batches := float64(after.Batches - before.Batches)
		b.ReportMetric(float64(after.Records-before.Records)/batches, "records/commit")
		b.ReportMetric((after.Busy-before.Busy).Seconds()*1e3/batches, "ms/commit")
	}
}

// BenchmarkAuditAppend measures the commit every audited request waits
// for: groups of 1 to 64 records of reads committed by Log.Commit (what a
// record costs, and what a commit costs whatever its size), beside the
// limit under it, "bare": a row of the same size inserted and committed
// alone on the same database, with nothing else (no chain, no fields).
func BenchmarkAuditAppend(b *testing.B) {
	caller := &interaction.Caller{ClientID: "bench", ClientName: "Bench", Organization: "Organization/org-bench", TokenID: "0123456789abcdef", Address: "127.0.0.1"}
	for _, be := range testdb.All {
		b.Run(be.Name+"/bare", func(b *testing.B) {
			_, raw := open(b, be)
			ctx := context.Background()
			if _, err := raw.ExecContext(ctx, "CREATE TABLE bench_bare (seq BIGINT PRIMARY KEY, body TEXT NOT NULL)"); err != nil {
				b.Fatal(err)
			}
			insert := "INSERT INTO bench_bare (seq, body) VALUES ($1, $2)"
			if be.Name == "sqlite" {
				insert = "INSERT INTO bench_bare (seq, body) VALUES (?, ?)"
			}
			body := strings.Repeat("x", 2000)
			var i int64
			for b.Loop() {
				i++
				if _, err := raw.ExecContext(ctx, insert, i, body); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, n := range []int{1, 4, 16, 64} {
			b.Run(fmt.Sprintf("%s/group-%d", be.Name, n), func(b *testing.B) {
				st, raw := open(b, be)
				s := newStack(b, st, raw, true)
				events := make([]*audit.Event, n)
				for i := range events {
					v := &store.Version{Type: "Practitioner", ID: fmt.Sprint("p", i), VersionID: 1}
					e := audit.ForInteraction(&interaction.Request{Kind: interaction.Read, Type: "Practitioner", ID: v.ID, Method: "GET", Entry: -1},
						&interaction.Response{Status: http.StatusOK, Version: v}, nil, caller, "/fhir/Practitioner/"+v.ID)
					e.RequestID, e.Address = fmt.Sprint("req-", i), "127.0.0.1"
					events[i] = e
				}
				for b.Loop() {
					if err := s.log.Commit(context.Background(), events...); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/record")
			})
		}
	}
}

// floorLog commits one bare row of a record's size per request, grouped
// across concurrent callers as audit.Log groups records (a caller finding
// no commit running leads the next one with everything queued): the
// least a durable audit record costs, for BenchmarkAuditOverhead. With
// lanes > 1, up to that many groups commit at once, each on its own
// connection (what separate chains, one per lane, would allow).
type floorLog struct {
	db       *sql.DB
	body     []byte
	postgres bool
	lanes    int
	mu       sync.Mutex
	queue    []*floorOp
	running  int // groups committing
}

// newFloorLog opens the floor's table: on SQLite in a file of its own,
// as the audit file is; on PostgreSQL in the benchmark's database.
func newFloorLog(b *testing.B, backend string, raw *sql.DB, lanes int) *floorLog {
	f := &floorLog{db: raw, body: bytes.Repeat([]byte("x"), 1536), postgres: backend == "postgres", lanes: lanes}
	if !f.postgres {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "floor.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		b.Cleanup(func() { db.Close() })
		f.db = db
	}
	if _, err := f.db.Exec("CREATE TABLE floor_rows (seq BIGINT PRIMARY KEY, body BYTEA NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	return f
}

// floorOp is one caller waiting for its row.
type floorOp struct {
	done chan error
	lead chan struct{} // closed when this caller must lead the next group
}

// commit returns once a row for the caller is committed.
func (f *floorLog) commit(ctx context.Context) error {
	op := &floorOp{done: make(chan error, 1), lead: make(chan struct{})}
	f.mu.Lock()
	if f.running < f.lanes {
		f.running++
		f.mu.Unlock()
	} else {
		f.queue = append(f.queue, op)
		f.mu.Unlock()
		select {
		case err := <-op.done:
			return err
		case <-op.lead:
		}
	}
	// Leading: this caller's row and everything queued by now.
	f.mu.Lock()
	group := append(f.queue, op)
	f.queue = nil
	f.mu.Unlock()
	err := f.insert(ctx, len(group))
	for _, o := range group {
		o.done <- err
	}
	f.mu.Lock()
	if len(f.queue) > 0 {
		next := f.queue[0]
		f.queue = f.queue[1:]
		close(next.lead)
	} else {
		f.running--
	}
	f.mu.Unlock()
	return <-op.done
}

var floorSeq atomic.Int64

// insert commits n rows in one statement.
func (f *floorLog) insert(ctx context.Context, n int) error {
	var q strings.Builder
	q.WriteString("INSERT INTO floor_rows (seq, body) VALUES ")
	args := make([]any, 0, 2*n)
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		if f.postgres {
			fmt.Fprintf(&q, "($%d, $%d)", 2*i+1, 2*i+2)
		} else {
			q.WriteString("(?, ?)")
		}
		args = append(args, floorSeq.Add(1), f.body)
	}
	_, err := f.db.ExecContext(context.WithoutCancel(ctx), q.String(), args...)
	return err
}
