package rest_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/server/servertest"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// opener returns a function opening handles on one fresh database of
// backend be (several handles: several nodes, or a restart).
func opener(t testing.TB, be testdb.Backend) func() store.Store {
	addr := be.New(t)
	return func() store.Store { return be.Open(t, addr) }
}

// forEachBackend runs fn against a fresh server on each backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, srv *testServer)) {
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			open := opener(t, b)
			fn(t, startServer(t, open))
		})
	}
}

// testServer is vhdir, built as `vhdir serve` builds it, on a real TLS
// listener; callers are stood in by headers (see caller).
type testServer struct {
	t     testing.TB
	srv   *servertest.Server
	ts    *httptest.Server
	open  func() store.Store
	store store.Store
	clock *clock.Fake
	base  string // FHIR base URL
}

const testMaxBody = 1 << 20

// allScopes is the scope of a caller that names none (see caller).
const allScopes = "system/*.cruds system/AuditEvent.rs"

// startServer serves a fresh store handle from open, audited as served.
func startServer(t testing.TB, open func() store.Store) *testServer {
	t.Helper()
	return start(t, open, false)
}

// startBenchServer is startServer without the audit trail: benchmarks of
// the REST layer alone (the trail's cost is BenchmarkAuditOverhead's).
func startBenchServer(b *testing.B, open func() store.Store) *testServer {
	b.Helper()
	return start(b, open, true)
}

func start(t testing.TB, open func() store.Store, unaudited bool) *testServer {
	return startWith(t, open, func(cfg *server.Config) { cfg.Unaudited = unaudited })
}

// startWith is startServer with the configuration changed by edit.
func startWith(t testing.TB, open func() store.Store, edit func(*server.Config)) *testServer {
	s := &testServer{t: t, open: open, clock: clock.NewFake(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))}
	s.store = open()
	cfg := server.Config{Store: s.store, Clock: s.clock, MaxBodyBytes: testMaxBody, HSTS: true, Version: "test", Identify: caller}
	edit(&cfg)
	s.srv = servertest.Start(t, cfg)
	s.ts, s.base = s.srv.TS, s.srv.URL+"/fhir"
	t.Cleanup(func() { s.store.Close() })
	return s
}

// caller stands in for token checks: X-Org names the caller's
// organization, X-Roles its roles (comma-separated), X-Operator: true
// makes it see restricted data. Without X-Org it is an operator. X-Scope
// is the token's scope; without it the caller holds every scope, the
// audit trail's included.
func caller(r *http.Request) (*interaction.Caller, error) {
	scope := r.Header.Get("X-Scope")
	if scope == "" {
		scope = allScopes
	}
	c := &interaction.Caller{ClientID: "test-client", ClientName: "Test client", Scope: scope,
		Organization: r.Header.Get("X-Org"), SeesRestricted: r.Header.Get("X-Operator") == "true", TokenID: "test-token"}
	if c.Organization == "" {
		c.SeesRestricted = true
	}
	if roles := r.Header.Get("X-Roles"); roles != "" {
		c.Roles = strings.Split(roles, ",")
	}
	return c, nil
}

// restart closes the store and serves from a new handle to the same
// database, as a restarted process would.
func (s *testServer) restart() {
	s.t.Helper()
	if err := s.store.Close(); err != nil {
		s.t.Fatal(err)
	}
	s.store = s.open()
	cfg := s.srv.Config
	cfg.Store = s.store
	s.srv.Rebuild(cfg)
}

// response is a decoded HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
	obj    *jsontree.Object // nil when the body is not a JSON object
}

func (r *response) str(path ...string) string {
	v := r.get(path...)
	s, _ := v.(string)
	return s
}

// get walks obj by member names and array indexes ("entry", "0", …).
func (r *response) get(path ...string) any {
	var v any = r.obj
	for _, p := range path {
		switch x := v.(type) {
		case *jsontree.Object:
			v, _ = x.Get(p)
		case []any:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// issue returns the first OperationOutcome issue's diagnostics and
// expression.
func (r *response) issue() (diag, expr string) {
	diag = r.str("issue", "0", "diagnostics")
	expr = r.str("issue", "0", "expression", "0")
	return diag, expr
}

func (s *testServer) do(method, path string, body string, header ...string) *response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	url := path
	if !strings.HasPrefix(path, "https://") {
		url = s.base + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	out := &response{status: resp.StatusCode, header: resp.Header, body: data}
	if o, err := jsontree.ParseObject(data); err == nil {
		out.obj = o
	} else if len(bytes.TrimSpace(data)) > 0 {
		s.t.Fatalf("%s %s: body is not a JSON object: %q", method, path, data)
	}
	return out
}

// want fails the test unless the response has the status.
func (r *response) want(t testing.TB, status int) *response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d; want %d; body %s", r.status, status, r.body)
	}
	return r
}
