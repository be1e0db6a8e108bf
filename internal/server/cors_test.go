package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/server/servertest"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// The origins of the CORS tests: one --cors-origins allows, one it does
// not.
const (
	allowedOrigin = "https://app.example.org"
	otherOrigin   = "https://elsewhere.example.net"
)

// corsServer is vhdir built with the given --cors-origins, on SQLite (CORS
// does not depend on the database), with a raw handle behind its back.
type corsServer struct {
	t   *testing.T
	srv *servertest.Server
	raw *sql.DB
}

func startCORS(t *testing.T, origins []string) *corsServer {
	t.Helper()
	b := testdb.All[0]
	addr := b.New(t)
	st, raw := b.Open(t, addr), b.Raw(t, addr)
	t.Cleanup(func() {
		st.Close()
		raw.Close()
	})
	srv := servertest.Start(t, server.Config{Store: st, Clock: clock.NewFake(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)),
		Version: "test", CORSOrigins: origins, Identify: corsCaller})
	return &corsServer{t: t, srv: srv, raw: raw}
}

// corsCaller stands in for token checks: X-Test-Client names the caller
// (none: no token, a 401), who holds every scope.
func corsCaller(r *http.Request) (*interaction.Caller, error) {
	id := r.Header.Get("X-Test-Client")
	if id == "" {
		return nil, auth.ErrNoToken
	}
	return &interaction.Caller{ClientID: id, ClientName: id, Organization: "Organization/org-" + id, TokenID: "tok-" + id,
		Scope: "system/*.cruds system/AuditEvent.rs", SeesRestricted: true}, nil
}

// send makes a request with the headers given in pairs, and returns the
// answer with its body read.
func (s *corsServer) send(method, path, body string, header ...string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := s.srv.TS.Client().Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, data
}

// headerList splits a comma-separated header's values, lower-cased.
func headerList(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, strings.ToLower(p))
			}
		}
	}
	return out
}

// wantAll fails unless the comma-separated header lists every one of want.
func wantAll(t *testing.T, h http.Header, name string, want ...string) {
	t.Helper()
	got := headerList(h, name)
	for _, w := range want {
		if !slices.Contains(got, strings.ToLower(w)) {
			t.Errorf("%s = %q; lacks %s", name, h.Values(name), w)
		}
	}
}

// checkNoCredentials: bearer tokens are not cookies, so
// Access-Control-Allow-Credentials is never sent.
func checkNoCredentials(t *testing.T, h http.Header) {
	t.Helper()
	if v := h.Values("Access-Control-Allow-Credentials"); len(v) > 0 {
		t.Errorf("Access-Control-Allow-Credentials = %q; want none", v)
	}
}

// TestCORSPreflight: a preflight on the FHIR API, the token endpoints and
// discovery is answered 204 without a token, allowing what is configured;
// other origins get no CORS headers; public endpoints allow any origin
// whatever the configuration. A plain OPTIONS (no Origin) is no preflight.
func TestCORSPreflight(t *testing.T) {
	list := []string{allowedOrigin, "http://localhost:3000"}
	star := []string{"*"}
	type pre struct {
		path, method, origin string
		wantStatus           int
		wantOrigin           string
		wantVary             bool
	}
	tests := []struct {
		name    string
		origins []string
		cases   []pre
	}{
		{"list", list, []pre{
			{"/fhir", "POST", allowedOrigin, 204, allowedOrigin, true},
			{"/fhir/Organization", "GET", allowedOrigin, 204, allowedOrigin, true},
			{"/fhir/Organization/o1", "PUT", allowedOrigin, 204, allowedOrigin, true},
			{"/fhir/Organization/o1", "DELETE", "http://localhost:3000", 204, "http://localhost:3000", true},
			{"/fhir/Organization/o1/_history/1", "GET", allowedOrigin, 204, allowedOrigin, true},
			{"/fhir/$export", "GET", allowedOrigin, 204, allowedOrigin, true},
			{"/auth/token", "POST", allowedOrigin, 204, allowedOrigin, true},
			{"/auth/introspect", "POST", allowedOrigin, 204, allowedOrigin, true},
			{"/.well-known/smart-configuration", "GET", allowedOrigin, 204, "*", false},
			{"/fhir/.well-known/smart-configuration", "GET", allowedOrigin, 204, "*", false},
			{"/fhir/metadata", "GET", allowedOrigin, 204, "*", false},
			// Other origins: answered, without CORS headers (the browser refuses).
			{"/fhir/Organization", "GET", otherOrigin, 204, "", true},
			{"/auth/token", "POST", otherOrigin, 204, "", true},
			{"/fhir/Organization", "GET", "null", 204, "", true},
			// Public endpoints are readable from anywhere.
			{"/fhir/metadata", "GET", otherOrigin, 204, "*", false},
			{"/.well-known/smart-configuration", "GET", otherOrigin, 204, "*", false},
			// No Origin: not a preflight; the API wants its token.
			{"/fhir/Organization", "GET", "", 401, "", true},
		}},
		{"star", star, []pre{
			{"/fhir/Organization/o1", "PUT", otherOrigin, 204, "*", false},
			{"/fhir", "POST", allowedOrigin, 204, "*", false},
			{"/auth/token", "POST", otherOrigin, 204, "*", false},
			{"/fhir/.well-known/smart-configuration", "GET", otherOrigin, 204, "*", false},
		}},
		{"none", nil, []pre{
			{"/fhir/Organization", "GET", allowedOrigin, 204, "", false},
			{"/auth/token", "POST", allowedOrigin, 204, "", false},
			{"/fhir/metadata", "GET", allowedOrigin, 204, "*", false},
			{"/.well-known/smart-configuration", "GET", allowedOrigin, 204, "*", false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startCORS(t, tt.origins)
			for _, c := range tt.cases {
				resp, body := s.send(http.MethodOptions, c.path, "", "Origin", c.origin, "Access-Control-Request-Method", c.method,
					"Access-Control-Request-Headers", "authorization,content-type,if-match")
				h := resp.Header
				if resp.StatusCode != c.wantStatus {
					t.Errorf("preflight %s %s from %q = %d; want %d: %s", c.method, c.path, c.origin, resp.StatusCode, c.wantStatus, body)
				}
				if got := h.Get("Access-Control-Allow-Origin"); got != c.wantOrigin {
					t.Errorf("preflight %s %s from %q: Access-Control-Allow-Origin = %q; want %q", c.method, c.path, c.origin, got, c.wantOrigin)
				}
				if vary := slices.Contains(headerList(h, "Vary"), "origin"); vary != c.wantVary {
					t.Errorf("preflight %s %s from %q: Vary = %q; want Origin in it: %v", c.method, c.path, c.origin, h.Values("Vary"), c.wantVary)
				}
				checkNoCredentials(t, h)
				if c.wantOrigin == "" {
					if m := h.Get("Access-Control-Allow-Methods"); m != "" {
						t.Errorf("preflight %s %s from %q refused, but Access-Control-Allow-Methods = %q", c.method, c.path, c.origin, m)
					}
					continue
				}
				wantAll(t, h, "Access-Control-Allow-Methods", c.method, "OPTIONS")
				wantAll(t, h, "Access-Control-Allow-Headers", "Authorization", "Content-Type", "Prefer", "If-Match", "If-None-Match",
					"If-None-Exist", "If-Modified-Since", "X-Provenance", "X-Request-Id")
				if h.Get("Access-Control-Max-Age") == "" {
					t.Errorf("preflight %s %s: no Access-Control-Max-Age", c.method, c.path)
				}
			}
		})
	}
}

// TestCORSResponses: every answer of the API — success and error, a 401
// refused before any handler included — carries the CORS headers for an
// allowed origin (and Vary: Origin when the answer depends on it), none
// for others; the public endpoints are readable from anywhere.
func TestCORSResponses(t *testing.T) {
	type req struct {
		name, method, path, client, body string
		status                           int
		public                           bool
	}
	reqs := []req{
		{"read", "GET", "/fhir/Organization/o1", "c1", "", 200, false},
		{"no token", "GET", "/fhir/Organization/o1", "", "", 401, false},
		{"not found", "GET", "/fhir/Organization/nope", "c1", "", 404, false},
		{"token error", "POST", "/auth/token", "", "grant_type=client_credentials", 400, false},
		{"metadata", "GET", "/fhir/metadata", "", "", 200, true},
		{"discovery", "GET", "/.well-known/smart-configuration", "", "", 200, true},
	}
	tests := []struct {
		name    string
		origins []string
		origin  string
		want    string // Access-Control-Allow-Origin of a non-public answer
		vary    bool
	}{
		{"list, allowed origin", []string{allowedOrigin}, allowedOrigin, allowedOrigin, true},
		{"list, other origin", []string{allowedOrigin}, otherOrigin, "", true},
		{"list, no origin", []string{allowedOrigin}, "", "", true},
		{"star, any origin", []string{"*"}, otherOrigin, "*", false},
		{"star, no origin", []string{"*"}, "", "*", false},
		{"none", nil, allowedOrigin, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startCORS(t, tt.origins)
			if resp, body := s.send("PUT", "/fhir/Organization/o1", `{"resourceType":"Organization","id":"o1","name":"One"}`,
				"X-Test-Client", "c1", "Content-Type", "application/fhir+json"); resp.StatusCode != http.StatusCreated {
				t.Fatalf("create = %d: %s", resp.StatusCode, body)
			}
			for _, r := range reqs {
				ct := "application/x-www-form-urlencoded"
				if r.body == "" {
					ct = ""
				}
				resp, body := s.send(r.method, r.path, r.body, "Origin", tt.origin, "X-Test-Client", r.client, "Content-Type", ct)
				if resp.StatusCode != r.status {
					t.Fatalf("%s: %s %s = %d; want %d: %s", r.name, r.method, r.path, resp.StatusCode, r.status, body)
				}
				h := resp.Header
				want, vary := tt.want, tt.vary
				if r.public {
					want, vary = "*", false
				}
				if got := h.Get("Access-Control-Allow-Origin"); got != want {
					t.Errorf("%s: Access-Control-Allow-Origin = %q; want %q", r.name, got, want)
				}
				if got := slices.Contains(headerList(h, "Vary"), "origin"); got != vary {
					t.Errorf("%s: Vary = %q; want Origin in it: %v", r.name, h.Values("Vary"), vary)
				}
				checkNoCredentials(t, h)
				if want == "" {
					if e := h.Get("Access-Control-Expose-Headers"); e != "" {
						t.Errorf("%s: Access-Control-Expose-Headers = %q for a refused origin", r.name, e)
					}
					continue
				}
				wantAll(t, h, "Access-Control-Expose-Headers", "ETag", "Location", "Content-Location", "Last-Modified",
					"X-Progress", "Retry-After", "X-Request-Id", "WWW-Authenticate")
			}
		})
	}
}

// TestCORSFailClosed: the audit trail's fail-closed 500 carries the CORS
// headers too, so that a browser client can read why it failed.
func TestCORSFailClosed(t *testing.T) {
	s := startCORS(t, []string{allowedOrigin})
	if _, err := s.raw.ExecContext(context.Background(), "ALTER TABLE audit_chain RENAME TO audit_chain_away"); err != nil {
		t.Fatal(err)
	}
	resp, body := s.send("GET", "/fhir/Organization/o1", "", "Origin", allowedOrigin, "X-Test-Client", "c1")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("read with the audit trail down = %d; want 500: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != allowedOrigin {
		t.Errorf("fail-closed 500: Access-Control-Allow-Origin = %q; want %q", got, allowedOrigin)
	}
	wantAll(t, resp.Header, "Vary", "Origin")
	wantAll(t, resp.Header, "Access-Control-Expose-Headers", "X-Request-Id")
}

// TestCORSCapability: the CapabilityStatement's rest.security.cors says
// whether --cors-origins allows any origin.
func TestCORSCapability(t *testing.T) {
	tests := []struct {
		name    string
		origins []string
		want    bool
	}{
		{"none", nil, false},
		{"list", []string{allowedOrigin}, true},
		{"star", []string{"*"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startCORS(t, tt.origins)
			resp, body := s.send("GET", "/fhir/metadata", "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("metadata = %d: %s", resp.StatusCode, body)
			}
			var cs struct {
				Rest []struct {
					Security struct {
						CORS *bool `json:"cors"`
					}
				}
			}
			if err := json.Unmarshal(body, &cs); err != nil || len(cs.Rest) != 1 || cs.Rest[0].Security.CORS == nil {
				t.Fatalf("metadata has no rest.security.cors (%v): %s", err, body)
			}
			if got := *cs.Rest[0].Security.CORS; got != tt.want {
				t.Errorf("rest.security.cors = %v; want %v", got, tt.want)
			}
		})
	}
}

// TestCORSOriginsChecked: a malformed origin list fails at start.
func TestCORSOriginsChecked(t *testing.T) {
	st := testdb.All[0].Fresh(t)
	defer st.Close()
	tests := []struct {
		origins []string
		ok      bool
	}{
		{nil, true},
		{[]string{"*"}, true},
		{[]string{"https://app.example.org", "http://localhost:3000", "https://[::1]:8443"}, true},
		{[]string{"*", "https://app.example.org"}, false},
		{[]string{"app.example.org"}, false},
		{[]string{"ftp://app.example.org"}, false},
		{[]string{"https://app.example.org/"}, false},
		{[]string{"https://app.example.org/path"}, false},
		{[]string{"https://app.example.org?x=1"}, false},
		{[]string{"https://user@app.example.org"}, false},
		{[]string{"https://app.example.org:99999"}, false},
		{[]string{"https://"}, false},
		{[]string{""}, false},
		{[]string{"null"}, false},
	}
	for _, tt := range tests {
		_, err := server.New(server.Config{BaseURL: "https://x", Store: st, Clock: clock.System{}, CORSOrigins: tt.origins, ProfileValidation: profile.Warn})
		if (err == nil) != tt.ok {
			t.Errorf("New with CORSOrigins %q: %v; want ok %v", tt.origins, err, tt.ok)
		}
	}
}
