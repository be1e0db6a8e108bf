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
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/server/servertest"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// open makes a fresh database of backend b: a store handle and a raw
// connection for tampering with it behind the server's back.
func open(t testing.TB, b testdb.Backend) (store.Store, *sql.DB) {
	addr := b.New(t)
	return b.Open(t, addr), b.Raw(t, addr)
}

// stack is vhdir as served, behind a stand-in for token checks:
// X-Test-Client names the client (see testCaller); without it, 401. The
// real token checks are tested in package auth and end to end in
// cmd/vhdir.
type stack struct {
	t     testing.TB
	srv   *servertest.Server
	ts    *httptest.Server
	store store.Store
	raw   *sql.DB
	clock *clock.Fake
	base  string
	log   *audit.Log
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
	s := &stack{t: t, store: st, raw: raw, clock: clock.NewFake(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))}
	s.srv = servertest.Start(t, server.Config{Store: st, Clock: s.clock, MaxBodyBytes: 1 << 20, Version: "test", AuditSite: "test-site",
		Identify: testCaller, Unaudited: !audited})
	s.ts, s.base = s.srv.TS, s.srv.URL
	s.log = s.srv.AuditLog()
	t.Cleanup(func() {
		st.Close()
		raw.Close()
	})
	return s
}

// rebuild serves a server built anew with tune applied to its
// configuration, on the same store.
func (s *stack) rebuild(tune func(*server.Config)) {
	cfg := s.srv.Config
	tune(&cfg)
	s.srv.Rebuild(cfg)
	s.log = s.srv.AuditLog()
}

// testCaller stands in for token checks: X-Test-Client names the client
// (none: no token), its organization is Organization/org-<client> (or
// the client itself when it is named org-…). Every client holds every
// scope, the audit trail's included; usage restrictions see clients named
// org-… as their organization, every other client as an operator.
func testCaller(r *http.Request) (*interaction.Caller, error) {
	id := r.Header.Get("X-Test-Client")
	if id == "" {
		return nil, auth.ErrNoToken
	}
	org := "Organization/org-" + id
	if strings.HasPrefix(id, "org-") {
		org = "Organization/" + id
	}
	return &interaction.Caller{ClientID: id, ClientName: "Client " + id, Organization: org, OrganizationName: "Org " + id, TokenID: "tok-" + id,
		Scope: "system/*.cruds system/AuditEvent.rs", SeesRestricted: !strings.HasPrefix(id, "org-")}, nil
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
	links, err := s.store.AuditChain(context.Background(), 0, 100000)
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
