package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/rest"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// open makes a fresh database of backend b: a store handle and a raw
// connection for tampering with it behind the server's back.
func open(t testing.TB, b testdb.Backend) (store.Store, *sql.DB) {
	addr := b.New(t)
	return b.Open(t, addr), b.Raw(t, addr)
}

// stack is the REST server with the audit trail, behind a stand-in for
// authentication: X-Test-Client names the client (its organization is
// Organization/org-<client>); without it, 401. The real authentication is
// tested in package auth and end to end in cmd/vhdir.
type stack struct {
	t     testing.TB
	ts    *httptest.Server
	store store.Store
	raw   *sql.DB
	clock *clock.Fake
	base  string
	log   *audit.Log
	rec   *audit.Recorder
}

func forEachBackend(t *testing.T, fn func(t *testing.T, s *stack)) {
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			st, raw := open(t, b)
			s := newStack(t, st, raw, true)
			fn(t, s)
		})
	}
}

// newStack serves st; audited false leaves the trail out (benchmarks only).
func newStack(t testing.TB, st store.Store, raw *sql.DB, audited bool) *stack {
	ts := httptest.NewUnstartedServer(nil)
	s := &stack{t: t, ts: ts, store: st, raw: raw, clock: clock.NewFake(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))}
	baseURL := "https://" + ts.Listener.Addr().String()
	s.base = baseURL
	reg, err := search.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	eng := search.NewEngine(reg, baseURL+"/fhir")
	dir := &directory.Directory{Store: st, Clock: s.clock, Indexer: eng}
	s.log = &audit.Log{Dir: dir, Clock: s.clock, Source: audit.Source{Site: "test-site", FHIRBase: baseURL + "/fhir", TimeSource: s.clock.Source()}}
	rec := &audit.Recorder{Log: s.log, Indexer: &audit.Indexer{Store: st, Indexer: eng}}
	s.rec = rec
	cfg := rest.Config{BaseURL: baseURL, Store: st, Directory: dir, Search: eng, Clock: s.clock, MaxBodyBytes: 1 << 20, Version: "test", Access: testAccess}
	var inner []rest.Middleware
	if audited {
		cfg.OnWrite, cfg.OnExecuted, cfg.BeforeSearch = rec.OnWrite, rec.OnExecuted, rec.BeforeSearch
		inner = []rest.Middleware{rec.Middleware(rest.RequestID)}
	}
	srv, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	fhirAPI := http.NewServeMux()
	srv.Routes(fhirAPI)
	mux.Handle("/fhir/", testAuth(fhirAPI))
	mux.Handle("/fhir", testAuth(fhirAPI))
	rest.HealthRoutes(mux, []rest.Check{{Name: "database", Run: st.Ping}})
	ts.Config.Handler = rest.Stack(mux, rest.StackConfig{MaxBodyBytes: 1 << 20, Inner: inner})
	ts.StartTLS()
	t.Cleanup(func() {
		ts.Close()
		st.Close()
		raw.Close()
	})
	return s
}

func testAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Test-Client")
		if id == "" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		org := "Organization/org-" + id
		if strings.HasPrefix(id, "org-") {
			org = "Organization/" + id
		}
		p := &auth.Principal{ClientID: id, ClientName: "Client " + id, Organization: org, OrganizationName: "Org " + id, TokenID: "tok-" + id}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// testAccess grants everything; usage restrictions see clients named
// org-… as that organization, every other client as an operator.
func testAccess(ctx context.Context) *rest.Access {
	p := auth.PrincipalFrom(ctx)
	return &rest.Access{
		Allowed:      func(string, byte) bool { return true },
		Constraints:  func(string, byte) []url.Values { return nil },
		Organization: p.Organization, Operator: !strings.HasPrefix(p.ClientID, "org-"),
	}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// do sends a request as client (none when "") with X-Request-Id reqID.
func (s *stack) do(method, path, client, reqID, body string) *reply {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if client != "" {
		req.Header.Set("X-Test-Client", client)
	}
	if reqID != "" {
		req.Header.Set("X-Request-Id", reqID)
	}
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := &reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// records returns every AuditEvent in chain order, parsed.
func (s *stack) records() []map[string]any {
	s.t.Helper()
	links, err := s.store.(store.AuditStore).AuditChain(context.Background(), 0, 100000)
	if err != nil {
		s.t.Fatal(err)
	}
	out := make([]map[string]any, len(links))
	for i, l := range links {
		// Every record is a valid R4 resource, as a client would parse it.
		if _, err := fhir.ParseResource(l.Body); err != nil {
			s.t.Fatalf("record %d is not a valid resource: %v\n%s", l.Seq, err, l.Body)
		}
		if err := json.Unmarshal(l.Body, &out[i]); err != nil {
			s.t.Fatalf("record %d: %v", l.Seq, err)
		}
	}
	return out
}

// newRecords returns the records added since n records existed.
func (s *stack) newRecords(n int) []map[string]any {
	s.t.Helper()
	all := s.records()
	if len(all) < n {
		s.t.Fatalf("the chain shrank from %d to %d", n, len(all))
	}
	return all[n:]
}

// at walks decoded JSON by member names and array indexes.
func at(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
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

func str(v any, path ...string) string {
	s, _ := at(v, path...).(string)
	return s
}

// entityQuery decodes the base64 query of the record's entity with role 24.
func entityQuery(t *testing.T, rec map[string]any) string {
	t.Helper()
	ents, _ := rec["entity"].([]any)
	for _, e := range ents {
		if str(e, "role", "code") == "24" {
			b, err := base64.StdEncoding.DecodeString(str(e, "query"))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	return ""
}

// entityWhat lists the references of the record's data entities.
func entityWhat(rec map[string]any) []string {
	var out []string
	ents, _ := rec["entity"].([]any)
	for _, e := range ents {
		if ref := str(e, "what", "reference"); ref != "" {
			out = append(out, ref)
		}
	}
	return out
}

func requestIDOf(rec map[string]any) string {
	ents, _ := rec["entity"].([]any)
	for _, e := range ents {
		if str(e, "type", "code") == "XrequestId" {
			return str(e, "what", "identifier", "value")
		}
	}
	return ""
}

var _ = bytes.Equal
