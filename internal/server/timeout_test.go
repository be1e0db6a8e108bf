package server_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/server/servertest"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// The --request-timeout and --body-timeout of TestRequestTimeout: short,
// so that the test waits seconds. A request with a body has both.
const (
	requestTimeout = time.Second
	bodyTimeout    = time.Second
)

// lockDatabase takes, on a raw connection, the lock a long transaction or
// a maintenance job would hold: on PostgreSQL the resources table in
// ACCESS EXCLUSIVE mode (no read, no write); on SQLite the data file's
// write lock, as a write transaction takes it (readers go on, in WAL
// mode; the audit file is not locked). It returns the release.
func lockDatabase(t *testing.T, backend string, raw *sql.DB) func() {
	t.Helper()
	ctx := context.Background()
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{"BEGIN", "DELETE FROM main.schema_migrations WHERE 0"}
	if backend == "postgres" {
		stmts = []string{"BEGIN", "LOCK TABLE resources IN ACCESS EXCLUSIVE MODE"}
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	released := false
	release := func() {
		if released {
			return
		}
		released = true
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Errorf("ROLLBACK: %v", err)
		}
		conn.Close()
	}
	t.Cleanup(release)
	return release
}

// answer is what a request got.
type answer struct {
	status     int
	retryAfter string
	body       string
	err        error
}

// TestRequestTimeout: while a lock is held on the database behind the
// server's back, requests that wait for it end when --request-timeout has
// passed: 503 with Retry-After and an OperationOutcome (timeout). On
// PostgreSQL they are answered while the lock is still held, and the
// database has stopped waiting too; on SQLite, whose busy handler does not
// heed the deadline, once it is released. The write left nothing, and
// every request is in the audit trail. On SQLite a read meanwhile is
// answered at once: neither it nor its record waits for the data file's
// writer.
func TestRequestTimeout(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		pgOnly                   bool // SQLite readers do not wait for the writer (WAL)
	}{
		{"read", http.MethodGet, "/fhir/Organization/seeded", "", true},
		{"write", http.MethodPut, "/fhir/Organization/locked", `{"resourceType":"Organization","id":"locked","name":"Locked out"}`, false},
	}
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			addr := b.New(t)
			st, raw := b.Open(t, addr), b.Raw(t, addr)
			t.Cleanup(func() {
				st.Close()
				raw.Close()
			})
			srv := servertest.Start(t, server.Config{Store: st, Clock: clock.System{}, Version: "test", Identify: corsCaller, RequestTimeout: requestTimeout, BodyTimeout: bodyTimeout})
			client := srv.TS.Client()
			client.Timeout = 30 * time.Second // a request the deadline does not end
			send := func(method, path, body, id string) answer {
				req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
				req.Header.Set("X-Test-Client", "acme")
				req.Header.Set("X-Request-Id", id)
				if body != "" {
					req.Header.Set("Content-Type", "application/fhir+json")
				}
				resp, err := client.Do(req)
				if err != nil {
					return answer{err: err}
				}
				defer resp.Body.Close()
				data, _ := io.ReadAll(resp.Body)
				return answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(data)}
			}
			if a := send(http.MethodPut, "/fhir/Organization/seeded", `{"resourceType":"Organization","id":"seeded","name":"Seeded"}`, "seed"); a.status != http.StatusCreated {
				t.Fatalf("seed = %+v", a)
			}

			release := lockDatabase(t, b.Name, raw)
			got := make([]answer, len(tests))
			requestID := func(tt int) string { return "locked-" + strings.ReplaceAll(tests[tt].name, " ", "-") }
			if b.Name == "postgres" {
				// Answered while the lock is held, one after the other: the
				// read's record is the first written under the lock, after
				// a write (the seed) left statements to prepare on the
				// locked table.
				for i, tt := range tests {
					got[i] = send(tt.method, tt.path, tt.body, requestID(i))
				}
				// The driver cancels the statements of a request whose
				// deadline passed, on their own connection: they stop
				// waiting soon, not when the lock goes.
				for waiting, until := -1, time.Now().Add(10*time.Second); waiting != 0; time.Sleep(50 * time.Millisecond) {
					if err := raw.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&waiting); err != nil {
						t.Fatal(err)
					}
					if waiting != 0 && time.Now().After(until) {
						t.Errorf("%d statements of the timed-out requests still wait for the lock; want them cancelled", waiting)
						break
					}
				}
				release()
			} else {
				if a := send(http.MethodGet, "/fhir/Organization/seeded", "", "read-beside"); a.err != nil || a.status != http.StatusOK {
					t.Errorf("a read while the write lock is held = %d %.300s, %v; want 200 at once", a.status, a.body, a.err)
				}
				answers := make([]chan answer, len(tests))
				for i, tt := range tests {
					answers[i] = make(chan answer, 1)
					if !tt.pgOnly {
						go func() { answers[i] <- send(tt.method, tt.path, tt.body, requestID(i)) }()
					}
				}
				// Hold the lock well past the deadline: a request still
				// waiting when it is released would then succeed.
				time.Sleep(requestTimeout + bodyTimeout + 2*time.Second)
				release()
				for i, tt := range tests {
					if !tt.pgOnly {
						got[i] = <-answers[i]
					}
				}
			}

			for i, tt := range tests {
				if tt.pgOnly && b.Name != "postgres" {
					continue
				}
				a := got[i]
				if a.err != nil || a.status != http.StatusServiceUnavailable || a.retryAfter == "" || !strings.Contains(a.body, `"code":"timeout"`) {
					t.Errorf("%s with the database locked = %d (Retry-After %q) %.300s, %v; want 503 with Retry-After and an OperationOutcome (timeout)", tt.name, a.status, a.retryAfter, a.body, a.err)
				}
			}
			if _, err := st.Read(context.Background(), "Organization", "locked"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the timed-out write left Organization/locked: %v", err)
			}
			links, err := st.AuditChain(context.Background(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for i, tt := range tests {
				if tt.pgOnly && b.Name != "postgres" {
					continue
				}
				id := requestID(i)
				found := false
				for _, l := range links {
					found = found || strings.Contains(string(l.Body), `"value":"`+id+`"`)
				}
				if !found {
					t.Errorf("the timed-out %s (request %s) is not in the audit trail", tt.name, id)
				}
			}
		})
	}
}

// pausedBody sends head, waits pause, then sends tail.
type pausedBody struct {
	head, tail string
	pause      time.Duration
	step       int
}

func (b *pausedBody) Read(p []byte) (int, error) {
	b.step++
	switch b.step {
	case 1:
		return copy(p, b.head), nil
	case 2:
		time.Sleep(b.pause)
		return copy(p, b.tail), nil
	}
	return 0, io.EOF
}

// TestSlowUploadKeepsItsTime: a body that arrives within --body-timeout,
// however slowly, leaves its request the whole --request-timeout to work:
// the deadline of a request with a body is the sum of both.
func TestSlowUploadKeepsItsTime(t *testing.T) {
	st := testdb.All[0].Fresh(t)
	t.Cleanup(func() { st.Close() })
	srv := servertest.Start(t, server.Config{Store: st, Clock: clock.System{}, Version: "test", Identify: corsCaller,
		RequestTimeout: requestTimeout, BodyTimeout: 3 * requestTimeout})
	body := `{"resourceType":"Organization","id":"slow","name":"Uploaded slowly"}`
	// The body takes longer than the request deadline alone, well within
	// the body's.
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/fhir/Organization/slow", &pausedBody{head: body[:10], tail: body[10:], pause: requestTimeout + requestTimeout/2})
	req.Header.Set("X-Test-Client", "acme")
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := srv.TS.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("a body slower than --request-timeout, within --body-timeout = %d %s; want 201", resp.StatusCode, b)
	}
}

// TestClientGoneAway: a client that gives up on a request the database
// holds up (PostgreSQL: a lock held behind the server's back) is not a
// server failure. The request is recorded as the client's (outcome 4,
// 499), and logged as a cancellation, not as an error.
func TestClientGoneAway(t *testing.T) {
	b := testdb.All[len(testdb.All)-1]
	if b.Name != "postgres" {
		t.Skip("SQLite readers do not wait for the writer: nothing holds a read up")
	}
	addr := b.New(t)
	st, raw := b.Open(t, addr), b.Raw(t, addr)
	t.Cleanup(func() {
		st.Close()
		raw.Close()
	})
	logs := &logLines{}
	srv := servertest.Start(t, server.Config{Store: st, Clock: clock.System{}, Version: "test", Identify: corsCaller,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	release := lockDatabase(t, b.Name, raw)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/fhir/Organization/held", nil)
	req.Header.Set("X-Test-Client", "acme")
	req.Header.Set("X-Request-Id", "gone-away")
	if resp, err := srv.TS.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the request was answered (%d) with the database locked", resp.StatusCode)
	}
	// The record is written once the handler has seen the cancellation.
	var record string
	for until := time.Now().Add(10 * time.Second); record == "" && time.Now().Before(until); time.Sleep(50 * time.Millisecond) {
		links, err := st.AuditChain(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links {
			if strings.Contains(string(l.Body), `"value":"gone-away"`) {
				record = string(l.Body)
			}
		}
	}
	release()
	if !strings.Contains(record, `"outcome":"4"`) || !strings.Contains(record, "the client closed the request") {
		t.Errorf("the record of a request its client left = %.600s; want outcome 4, the client closed it", record)
	}
	for _, line := range logs.all() {
		if strings.Contains(line, "gone-away") && strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("a request its client left is logged as an error: %s", line)
		}
	}
}

// logLines keeps what a JSON log handler writes: one line per Write.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}
