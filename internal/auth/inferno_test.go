package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/store/testdb"
	"github.com/vhdir/vhdir/internal/tlsconf"
)

// The Inferno SMART Backend Services and Bulk Data authorization tests
// (security.md §2.1–2.3), each against the real listener, then the
// attacks a hostile client would try.

// jsonObject decodes a JSON object response body.
func jsonObject(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, body)
	}
	return m
}

// wantOAuthError checks an RFC 6749 §5.2 error: status, JSON, no-store,
// the error code, and no token.
func wantOAuthError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	m := jsonObject(t, body)
	if m["error"] != code {
		t.Errorf("error = %v, want %s: %s", m["error"], code, body)
	}
	if d, _ := m["error_description"].(string); d == "" {
		t.Errorf("no error_description: %s", body)
	}
	if _, ok := m["access_token"]; ok {
		t.Errorf("a refused request got a token: %s", body)
	}
}

// tokenResponse posts form to the token endpoint and returns the answer.
func (s *stack) tokenResponse(form url.Values) (*http.Response, []byte) {
	s.t.Helper()
	return s.postForm(auth.TokenPath, form, nil)
}

// TestInfernoDiscovery is D1 and the Bulk Data v1 discovery contents test,
// on both discovery paths.
func TestInfernoDiscovery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		for _, path := range []string{"/fhir/.well-known/smart-configuration", "/.well-known/smart-configuration"} {
			t.Run(path, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, st.base+path, nil)
				req.Header.Set("Accept", "application/json")
				resp, body := st.send(req)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d: %s", resp.StatusCode, body)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type = %q", ct)
				}
				doc := jsonObject(t, body)
				tokenURL, _ := doc["token_endpoint"].(string)
				if u, err := url.Parse(tokenURL); err != nil || !u.IsAbs() || u.Scheme != "https" {
					t.Errorf("token_endpoint %q is not an absolute https URL", tokenURL)
				}
				if tokenURL != st.auth.TokenURL() || tokenURL != st.base+auth.TokenPath {
					t.Errorf("token_endpoint = %q, want %q", tokenURL, st.base+auth.TokenPath)
				}
				if got := doc["introspection_endpoint"]; got != st.base+auth.IntrospectPath {
					t.Errorf("introspection_endpoint = %v, want %s", got, st.base+auth.IntrospectPath)
				}
				strs := func(field string) []string {
					t.Helper()
					arr, ok := doc[field].([]any)
					if !ok {
						t.Errorf("%s is not an array: %v", field, doc[field])
						return nil
					}
					var out []string
					for _, v := range arr {
						s, ok := v.(string)
						if !ok {
							t.Errorf("%s has a non-string %v", field, v)
						}
						out = append(out, s)
					}
					return out
				}
				for _, c := range []struct {
					field string
					want  []string
				}{
					{"token_endpoint_auth_methods_supported", []string{"private_key_jwt"}},
					{"token_endpoint_auth_signing_alg_values_supported", []string{"RS384", "ES384"}},
					{"grant_types_supported", []string{"client_credentials"}},
					{"capabilities", []string{"client-confidential-asymmetric", "permission-v1", "permission-v2"}},
					{"code_challenge_methods_supported", []string{"S256"}},
					{"scopes_supported", []string{"system/*.rs"}},
				} {
					got := strs(c.field)
					for _, w := range c.want {
						if !slices.Contains(got, w) {
							t.Errorf("%s = %v, lacks %s", c.field, got, w)
						}
					}
				}
				if slices.Contains(strs("code_challenge_methods_supported"), "plain") {
					t.Error("code_challenge_methods_supported offers plain")
				}
				if got := strs("token_endpoint_auth_signing_alg_values_supported"); slices.ContainsFunc(got, func(a string) bool { return a == "none" || strings.HasPrefix(a, "HS") }) {
					t.Errorf("signing algs %v include none or HMAC", got)
				}
			})
		}
	})
}

// TestInfernoCORS is D3 and D4: discovery and metadata, both public, are
// readable cross-origin.
func TestInfernoCORS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		const origin = "https://inferno.example.org"
		for _, path := range []string{"/fhir/.well-known/smart-configuration", "/.well-known/smart-configuration", "/fhir/metadata"} {
			t.Run(path, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, st.base+path, nil)
				req.Header.Set("Origin", origin)
				req.Header.Set("Accept", "application/json")
				resp, body := st.send(req)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d without a token: %s", resp.StatusCode, body)
				}
				if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != origin {
					t.Errorf("Access-Control-Allow-Origin = %q", got)
				}
			})
		}
	})
}

// TestInfernoCapabilitySecurity checks the CapabilityStatement's
// rest.security: the SMART-on-FHIR service and the oauth-uris extension.
func TestInfernoCapabilitySecurity(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		resp, body := st.do(http.MethodGet, "/fhir/metadata", "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("metadata = %d: %s", resp.StatusCode, body)
		}
		var cs struct {
			ResourceType string `json:"resourceType"`
			Rest         []struct {
				Security struct {
					Service []struct {
						Coding []struct{ System, Code string }
					}
					Extension []struct {
						URL       string `json:"url"`
						Extension []struct {
							URL      string `json:"url"`
							ValueURI string `json:"valueUri"`
						}
					}
				}
			}
		}
		if err := json.Unmarshal(body, &cs); err != nil || cs.ResourceType != "CapabilityStatement" || len(cs.Rest) == 0 {
			t.Fatalf("not a CapabilityStatement with rest (%v): %s", err, body)
		}
		sec := cs.Rest[0].Security
		var smart bool
		for _, s := range sec.Service {
			for _, c := range s.Coding {
				smart = smart || c.System == "http://terminology.hl7.org/CodeSystem/restful-security-service" && c.Code == "SMART-on-FHIR"
			}
		}
		if !smart {
			t.Errorf("rest[0].security.service lacks SMART-on-FHIR: %+v", sec.Service)
		}
		uris := map[string]string{}
		for _, e := range sec.Extension {
			if e.URL == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" {
				for _, x := range e.Extension {
					uris[x.URL] = x.ValueURI
				}
			}
		}
		if uris["token"] != st.base+auth.TokenPath {
			t.Errorf("oauth-uris token = %q, want %q", uris["token"], st.base+auth.TokenPath)
		}
		if uris["introspect"] != st.base+auth.IntrospectPath {
			t.Errorf("oauth-uris introspect = %q, want %q", uris["introspect"], st.base+auth.IntrospectPath)
		}
	})
}

// TestInfernoTLS is A1: TLS below 1.2 and non-AEAD suites are refused.
func TestInfernoTLS(t *testing.T) {
	st := newStack(t, testdb.All[0].Fresh(t)) // TLS does not depend on the database
	addr := st.ts.Listener.Addr().String()
	dial := func(cfg *tls.Config) (*tls.ConnectionState, error) {
		cfg.InsecureSkipVerify = true
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		cs := conn.ConnectionState()
		return &cs, nil
	}
	// The CBC suite must match the served certificate's key type, so that
	// only the suite's mode can be the reason for a refusal.
	served, err := dial(&tls.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var cbc uint16
	switch alg := served.PeerCertificates[0].PublicKeyAlgorithm; alg {
	case x509.ECDSA:
		cbc = tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
	case x509.RSA:
		cbc = tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
	default:
		t.Fatalf("served certificate key is %v", alg)
	}
	for _, c := range []struct {
		name    string
		version uint16
		ok      bool
	}{
		{"TLS1.0", tls.VersionTLS10, false},
		{"TLS1.1", tls.VersionTLS11, false},
		{"TLS1.2", tls.VersionTLS12, true},
		{"TLS1.3", tls.VersionTLS13, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs, err := dial(&tls.Config{MinVersion: c.version, MaxVersion: c.version})
			if !c.ok {
				if err == nil {
					t.Fatalf("handshake with only %s accepted", c.name)
				}
				// In FIPS 140-3 mode Go's client cannot even offer TLS < 1.2,
				// so there is no server alert to look at.
				if !fips140.Enabled() && !strings.Contains(err.Error(), "protocol version not supported") {
					t.Errorf("refusal = %v, want a protocol_version alert", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake with %s refused: %v", c.name, err)
			}
			if cs.Version != c.version {
				t.Errorf("negotiated %x, want %x", cs.Version, c.version)
			}
			if c.version == tls.VersionTLS12 && !slices.Contains(tlsconf.CipherSuites, cs.CipherSuite) {
				t.Errorf("TLS 1.2 negotiated %s, not an AEAD ECDHE suite", tls.CipherSuiteName(cs.CipherSuite))
			}
		})
	}
	t.Run("TLS1.2 CBC only", func(t *testing.T) {
		_, err := dial(&tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{cbc}})
		if err == nil {
			t.Fatal("TLS 1.2 handshake offering only CBC suites accepted")
		}
		if !strings.Contains(err.Error(), "handshake failure") {
			t.Errorf("refusal = %v, want a handshake_failure alert", err)
		}
	})
	t.Run("TLS1.2 CBC control", func(t *testing.T) {
		// The same CBC-only offer succeeds against a server that allows CBC,
		// so the refusal above is the suite's doing. FIPS mode forbids CBC
		// suites on both ends, so there is no control to run.
		if fips140.Enabled() {
			t.Skip("FIPS 140-3 mode: CBC suites are not available to the control server")
		}
		srv := tls.NewListener(must(net.Listen("tcp", "127.0.0.1:0")), &tls.Config{Certificates: st.ts.TLS.Certificates,
			CipherSuites: []uint16{cbc}, MinVersion: tls.VersionTLS12})
		defer srv.Close()
		go func() {
			c, err := srv.Accept()
			if err == nil {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}
		}()
		conn, err := tls.Dial("tcp", srv.Addr().String(), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{cbc}})
		if err != nil {
			t.Fatalf("control handshake failed: %v", err)
		}
		conn.Close()
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestInfernoTokenRequests is A2–A6 with the g10 and legacy BDA variants.
func TestInfernoTokenRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		c := st.register("system/*.read", false)
		cases := []struct {
			name   string
			edit   func(url.Values)
			header http.Header
			code   string
		}{
			{"A2 invalid grant_type", func(f url.Values) { f.Set("grant_type", "not_a_grant_type") }, nil, "unsupported_grant_type"},
			{"A3 invalid client_assertion_type", func(f url.Values) { f.Set("client_assertion_type", "not_an_assertion_type") }, nil, "invalid_client"},
			{"A4 invalid iss", func(f url.Values) {
				f.Set("client_assertion", st.assertion(c, func(cl gjwt.MapClaims, _ map[string]any) { cl["iss"] = "not_a_valid_iss" }))
			}, nil, "invalid_client"},
			{"BDA-03 user scope", func(f url.Values) { f.Set("scope", "user/*.read") }, nil, "invalid_scope"},
			{"missing grant_type", func(f url.Values) { f.Del("grant_type") }, nil, "invalid_request"},
			{"missing client_assertion", func(f url.Values) { f.Del("client_assertion") }, nil, "invalid_request"},
			{"missing scope", func(f url.Values) { f.Del("scope") }, nil, "invalid_scope"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				form := st.tokenForm(c, "system/*.read")
				tc.edit(form)
				resp, body := st.postForm(auth.TokenPath, form, tc.header)
				wantOAuthError(t, resp, body, http.StatusBadRequest, tc.code)
			})
		}
		t.Run("BDA-02 JSON body", func(t *testing.T) {
			form := st.tokenForm(c, "system/*.read")
			flat := map[string]string{}
			for k := range form {
				flat[k] = form.Get(k)
			}
			raw, _ := json.Marshal(flat)
			req, _ := http.NewRequest(http.MethodPost, st.base+auth.TokenPath, strings.NewReader(string(raw)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			resp, body := st.send(req)
			wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_request")
		})
		t.Run("GET", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, st.base+auth.TokenPath, nil)
			resp, body := st.send(req)
			wantOAuthError(t, resp, body, http.StatusMethodNotAllowed, "invalid_request")
			if resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
		})
		for _, alg := range []struct {
			name string
			rsa  bool
		}{{"A5 A6 ES384", false}, {"A5 A6 RS384", true}} {
			t.Run(alg.name, func(t *testing.T) {
				cl := st.register("system/*.read system/Practitioner.rs", alg.rsa)
				if want := map[bool]string{false: "ES384", true: "RS384"}[alg.rsa]; cl.method.Alg() != want {
					t.Fatalf("client signs with %s, want %s", cl.method.Alg(), want)
				}
				resp, body := st.tokenResponse(st.tokenForm(cl, "system/*.read"))
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("A5: status = %d: %s", resp.StatusCode, body)
				}
				for h, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache"} {
					if got := resp.Header.Get(h); got != want {
						t.Errorf("%s = %q, want %q", h, got, want)
					}
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type = %q", ct)
				}
				m := jsonObject(t, body)
				if tok, _ := m["access_token"].(string); len(tok) < 32 {
					t.Errorf("access_token = %v", m["access_token"])
				}
				if tt, _ := m["token_type"].(string); !strings.EqualFold(tt, "bearer") {
					t.Errorf("token_type = %v", m["token_type"])
				}
				if exp, ok := m["expires_in"].(float64); !ok || exp <= 0 || exp > 300 {
					t.Errorf("expires_in = %#v, want a number in (0, 300]", m["expires_in"])
				}
				if sc, _ := m["scope"].(string); sc != "system/*.read" {
					t.Errorf("scope = %v, want system/*.read (v1 asked, v1 granted)", m["scope"])
				}
				if _, ok := m["refresh_token"]; ok {
					t.Error("a refresh token was issued")
				}
				// The token works at the FHIR API.
				tok, _ := m["access_token"].(string)
				if r, b := st.do(http.MethodGet, "/fhir/Practitioner", tok, nil); r.StatusCode != http.StatusOK {
					t.Errorf("search with the token = %d: %s", r.StatusCode, b)
				}
			})
		}
	})
}

// TestInfernoIntrospection is the SMART STU2.2 token introspection group.
func TestInfernoIntrospection(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		caller := st.register("system/*.rs", false)
		callerTok := st.token(caller, "system/*.rs")
		subject := st.register("system/Practitioner.rs system/Location.read", true)
		resp, body := st.tokenResponse(st.tokenForm(subject, "system/Location.read system/Practitioner.rs"))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("token = %d: %s", resp.StatusCode, body)
		}
		issued := jsonObject(t, body)
		issuedAt := st.clock.Now()
		st.clock.Advance(30 * time.Second)

		introspect := func(t *testing.T, bearer, token string) (*http.Response, []byte) {
			h := http.Header{}
			if bearer != "" {
				h.Set("Authorization", "Bearer "+bearer)
			}
			return st.postForm(auth.IntrospectPath, url.Values{"token": {token}}, h)
		}
		for _, c := range []struct {
			name, token, client, scope string
		}{
			{"own token", callerTok, caller.id, "system/*.rs"},
			{"another client's token", issued["access_token"].(string), subject.id, issued["scope"].(string)},
		} {
			t.Run(c.name, func(t *testing.T) {
				resp, body := introspect(t, callerTok, c.token)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d: %s", resp.StatusCode, body)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type = %q", ct)
				}
				m := jsonObject(t, body)
				if m["active"] != true {
					t.Fatalf("active = %v: %s", m["active"], body)
				}
				if m["client_id"] != c.client {
					t.Errorf("client_id = %v, want %s", m["client_id"], c.client)
				}
				got, _ := m["scope"].(string)
				gotSet, wantSet := strings.Fields(got), strings.Fields(c.scope)
				slices.Sort(gotSet)
				slices.Sort(wantSet)
				if !slices.Equal(gotSet, wantSet) || len(wantSet) == 0 {
					t.Errorf("scope = %q, want the set of %q", got, c.scope)
				}
				exp, ok := m["exp"].(float64)
				if !ok || int64(exp) < st.clock.Now().Add(-600*time.Second).Unix() {
					t.Errorf("exp = %v, want a number ≥ now-600", m["exp"])
				}
				iat, ok := m["iat"].(float64)
				if !ok || int64(exp)-int64(iat) != 300 {
					t.Errorf("iat = %v, exp = %v: want exp = iat + 300", m["iat"], m["exp"])
				}
				if c.client == subject.id && int64(iat) != issuedAt.Unix() {
					t.Errorf("iat = %v, want %d", m["iat"], issuedAt.Unix())
				}
			})
		}
		t.Run("invalid token", func(t *testing.T) {
			resp, body := introspect(t, callerTok, "invalid_token_value")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d: %s", resp.StatusCode, body)
			}
			m := jsonObject(t, body)
			if len(m) != 1 || m["active"] != false {
				t.Errorf("body = %s, want exactly {\"active\":false}", body)
			}
		})
		t.Run("expired token", func(t *testing.T) {
			st.clock.Advance(5 * time.Minute) // callerTok too: get a fresh one
			fresh := st.token(caller, "system/*.rs")
			resp, body := introspect(t, fresh, issued["access_token"].(string))
			if m := jsonObject(t, body); resp.StatusCode != http.StatusOK || len(m) != 1 || m["active"] != false {
				t.Errorf("expired token: %d %s, want 200 {\"active\":false}", resp.StatusCode, body)
			}
		})
		t.Run("no bearer token", func(t *testing.T) {
			resp, body := introspect(t, "", callerTok)
			wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_token")
			if wa := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") {
				t.Errorf("WWW-Authenticate = %q", wa)
			}
		})
		t.Run("invalid bearer token", func(t *testing.T) {
			resp, body := introspect(t, "not-a-token", callerTok)
			wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_token")
			if wa := resp.Header.Get("WWW-Authenticate"); !strings.Contains(wa, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q", wa)
			}
		})
	})
}

// signNone hand-builds an unsigned JWT (alg none).
func signNone(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// TestAttackAssertions sends every forged, stale or malformed token request
// an attacker could try; each is refused without a token.
func TestAttackAssertions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		c := st.register("system/Practitioner.rs", false)
		rsaClient := st.register("system/Practitioner.rs", true)
		other := st.register("system/Practitioner.rs", false)
		valid := func() url.Values { return st.tokenForm(c, "system/Practitioner.rs") }
		withAssertion := func(a string) url.Values {
			f := valid()
			f.Set("client_assertion", a)
			return f
		}
		claimsEdit := func(edit func(gjwt.MapClaims)) func() url.Values {
			return func() url.Values {
				return withAssertion(st.assertion(c, func(cl gjwt.MapClaims, _ map[string]any) { edit(cl) }))
			}
		}
		headerEdit := func(edit func(map[string]any)) func() url.Values {
			return func() url.Values {
				return withAssertion(st.assertion(c, func(_ gjwt.MapClaims, h map[string]any) { edit(h) }))
			}
		}
		cases := []struct {
			name   string
			form   func() url.Values
			path   string // default the token path
			header http.Header
			code   string // default invalid_client
		}{
			{name: "expired exp", form: claimsEdit(func(cl gjwt.MapClaims) { cl["exp"] = st.clock.Now().Add(-2 * time.Minute).Unix() })},
			{name: "exp too far ahead", form: claimsEdit(func(cl gjwt.MapClaims) { cl["exp"] = st.clock.Now().Add(10 * time.Minute).Unix() })},
			{name: "missing exp", form: claimsEdit(func(cl gjwt.MapClaims) { delete(cl, "exp") })},
			{name: "wrong aud", form: claimsEdit(func(cl gjwt.MapClaims) { cl["aud"] = "https://other.example.org/auth/token" })},
			{name: "aud array without ours", form: claimsEdit(func(cl gjwt.MapClaims) {
				cl["aud"] = []string{"https://other.example.org/auth/token", st.base + "/auth/token/"}
			})},
			{name: "aud of the FHIR base", form: claimsEdit(func(cl gjwt.MapClaims) { cl["aud"] = st.base + "/fhir" })},
			{name: "iss differs from sub", form: claimsEdit(func(cl gjwt.MapClaims) { cl["sub"] = other.id })},
			{name: "iss and sub of another client", form: claimsEdit(func(cl gjwt.MapClaims) { cl["iss"], cl["sub"] = other.id, other.id })},
			{name: "unknown client", form: claimsEdit(func(cl gjwt.MapClaims) { cl["iss"], cl["sub"] = "no-such-client", "no-such-client" })},
			{name: "missing jti", form: claimsEdit(func(cl gjwt.MapClaims) { delete(cl, "jti") })},
			{name: "form client_id differs", form: func() url.Values { f := valid(); f.Set("client_id", other.id); return f }},
			{name: "alg none", form: func() url.Values {
				return withAssertion(signNone(map[string]any{"alg": "none", "typ": "JWT", "kid": c.kid}, st.claims(c)))
			}},
			{name: "HS384 with the public key as secret", form: func() url.Values {
				der, err := x509.MarshalPKIXPublicKey(rsaClient.key.Public())
				if err != nil {
					t.Fatal(err)
				}
				secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
				tok := gjwt.NewWithClaims(gjwt.SigningMethodHS384, st.claims(rsaClient))
				tok.Header["kid"], tok.Header["typ"] = rsaClient.kid, "JWT"
				a, err := tok.SignedString(secret)
				if err != nil {
					t.Fatal(err)
				}
				f := st.tokenForm(rsaClient, "system/Practitioner.rs")
				f.Set("client_assertion", a)
				return f
			}},
			{name: "RS256 with the registered RSA key", form: func() url.Values {
				tok := gjwt.NewWithClaims(gjwt.SigningMethodRS256, st.claims(rsaClient))
				tok.Header["kid"], tok.Header["typ"] = rsaClient.kid, "JWT"
				a, err := tok.SignedString(rsaClient.key)
				if err != nil {
					t.Fatal(err)
				}
				f := st.tokenForm(rsaClient, "system/Practitioner.rs")
				f.Set("client_assertion", a)
				return f
			}},
			{name: "unknown kid", form: headerEdit(func(h map[string]any) { h["kid"] = "no-such-kid" })},
			{name: "missing kid", form: headerEdit(func(h map[string]any) { delete(h, "kid") })},
			{name: "typ not JWT", form: headerEdit(func(h map[string]any) { h["typ"] = "at+jwt" })},
			{name: "tampered payload", form: func() url.Values {
				parts := strings.Split(st.assertion(c, nil), ".")
				raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
				var cl map[string]any
				_ = json.Unmarshal(raw, &cl)
				cl["jti"] = randomHex(32) // a fresh jti, so only the signature can catch it
				raw, _ = json.Marshal(cl)
				parts[1] = base64.RawURLEncoding.EncodeToString(raw)
				return withAssertion(strings.Join(parts, "."))
			}},
			{name: "different key with the registered kid", form: func() url.Values {
				key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				forged := &testClient{id: c.id, kid: c.kid, method: c.method, key: key}
				return withAssertion(st.assertion(forged, nil))
			}},
			{name: "unregistered jku", form: headerEdit(func(h map[string]any) { h["jku"] = "https://attacker.example.org/jwks.json" })},
			{name: "malformed assertion", form: func() url.Values { return withAssertion("not.a.jwt") }},
			{name: "scope beyond registration", form: func() url.Values { return st.tokenForm(c, "system/Organization.rs") }, code: "invalid_scope"},
			{name: "scope of AuditEvent by wildcard registration", form: func() url.Values { return st.tokenForm(c, "system/AuditEvent.rs") }, code: "invalid_scope"},
			{name: "repeated parameter", form: func() url.Values { f := valid(); f.Add("scope", "system/Practitioner.rs"); return f }, code: "invalid_request"},
			{name: "repeated assertion", form: func() url.Values { f := valid(); f.Add("client_assertion", st.assertion(c, nil)); return f }, code: "invalid_request"},
			{name: "parameters in the URL query", form: valid, path: auth.TokenPath + "?scope=system%2FPractitioner.rs", code: "invalid_request"},
			{name: "all parameters in the URL query", form: func() url.Values { return url.Values{} }, path: auth.TokenPath + "?" + valid().Encode(), code: "invalid_request"},
			{name: "Authorization Basic", form: valid, header: http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(c.id+":secret"))}}, code: "invalid_request"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				st.clock.Advance(2 * time.Minute) // refill the failure budget of 127.0.0.1
				path := tc.path
				if path == "" {
					path = auth.TokenPath
				}
				code := tc.code
				if code == "" {
					code = "invalid_client"
				}
				resp, body := st.postForm(path, tc.form(), tc.header)
				wantOAuthError(t, resp, body, http.StatusBadRequest, code)
			})
		}
		t.Run("replayed jti", func(t *testing.T) {
			st.clock.Advance(2 * time.Minute)
			form := valid()
			if resp, body := st.tokenResponse(form); resp.StatusCode != http.StatusOK {
				t.Fatalf("first use = %d: %s", resp.StatusCode, body)
			}
			resp, body := st.tokenResponse(form)
			wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_client")
			// The same jti in a new assertion is a replay too.
			var first gjwt.MapClaims
			if _, _, err := gjwt.NewParser().ParseUnverified(form.Get("client_assertion"), &first); err != nil {
				t.Fatal(err)
			}
			again := withAssertion(st.assertion(c, func(cl gjwt.MapClaims, _ map[string]any) { cl["jti"] = first["jti"] }))
			resp, body = st.tokenResponse(again)
			wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_client")
			// Another client may use the same jti: replay is per client.
			mine := st.tokenForm(other, "system/Practitioner.rs")
			mine.Set("client_assertion", st.assertion(other, func(cl gjwt.MapClaims, _ map[string]any) { cl["jti"] = first["jti"] }))
			if resp, body := st.tokenResponse(mine); resp.StatusCode != http.StatusOK {
				t.Errorf("another client's use of the jti = %d: %s", resp.StatusCode, body)
			}
		})
		t.Run("disabled client", func(t *testing.T) {
			st.clock.Advance(2 * time.Minute)
			d := st.register("system/Practitioner.rs", false)
			st.token(d, "system/Practitioner.rs") // works while enabled
			if err := st.reg.SetDisabled(asOperator(), d.id, true); err != nil {
				t.Fatal(err)
			}
			resp, body := st.tokenResponse(st.tokenForm(d, "system/Practitioner.rs"))
			wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_client")
		})
		t.Run("control", func(t *testing.T) {
			// After all of the above the same client still gets a token.
			st.clock.Advance(2 * time.Minute)
			for _, cl := range []*testClient{c, rsaClient} {
				if resp, body := st.tokenResponse(st.tokenForm(cl, "system/Practitioner.rs")); resp.StatusCode != http.StatusOK {
					t.Errorf("valid request = %d: %s", resp.StatusCode, body)
				}
			}
		})
	})
}

// wantUnauthorized checks a 401 from the FHIR API: OperationOutcome body
// and a Bearer challenge, with error="invalid_token" when withError.
func wantUnauthorized(t *testing.T, resp *http.Response, body []byte, withError bool) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401: %s", resp.StatusCode, body)
	}
	wa := resp.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(wa, "Bearer ") {
		t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", wa)
	}
	if got := strings.Contains(wa, `error="invalid_token"`); got != withError {
		t.Errorf("WWW-Authenticate = %q: error=\"invalid_token\" present %v, want %v", wa, got, withError)
	}
	wantIssue(t, body, "login")
}

// wantIssue checks that body is an OperationOutcome whose first issue has
// code.
func wantIssue(t *testing.T, body []byte, code string) {
	t.Helper()
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Severity, Code, Diagnostics string
		}
	}
	if err := json.Unmarshal(body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("not an OperationOutcome (%v): %s", err, body)
	}
	if oo.Issue[0].Code != code || oo.Issue[0].Severity != "error" {
		t.Errorf("issue = %+v, want an error with code %s", oo.Issue[0], code)
	}
}

// TestAttackAccessTokens presents missing, altered, expired and revoked
// access tokens to the FHIR API.
func TestAttackAccessTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		c := st.register("system/*.rs", false)
		ok := func(t *testing.T, tok string) {
			t.Helper()
			if resp, body := st.do(http.MethodGet, "/fhir/Practitioner", tok, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("search with a good token = %d: %s", resp.StatusCode, body)
			}
		}
		t.Run("no token", func(t *testing.T) {
			resp, body := st.do(http.MethodGet, "/fhir/Practitioner", "", nil)
			wantUnauthorized(t, resp, body, false)
		})
		t.Run("other scheme", func(t *testing.T) {
			tok := st.token(c, "system/*.rs")
			req, _ := http.NewRequest(http.MethodGet, st.base+"/fhir/Practitioner", nil)
			req.Header.Set("Authorization", "Basic "+tok)
			resp, body := st.send(req)
			wantUnauthorized(t, resp, body, false)
		})
		t.Run("altered token", func(t *testing.T) {
			tok := st.token(c, "system/*.rs")
			ok(t, tok)
			b := []byte(tok)
			b[0] ^= 1 // 'A'<->'@' etc.: still a different string
			if b[0] == tok[0] {
				t.Fatal("not altered")
			}
			resp, body := st.do(http.MethodGet, "/fhir/Practitioner", string(b), nil)
			wantUnauthorized(t, resp, body, true)
			resp, body = st.do(http.MethodGet, "/fhir/Practitioner", tok+"x", nil)
			wantUnauthorized(t, resp, body, true)
		})
		t.Run("expired token", func(t *testing.T) {
			tok := st.token(c, "system/*.rs")
			ok(t, tok) // cached now
			st.clock.Advance(4*time.Minute + 59*time.Second)
			ok(t, tok)
			st.clock.Advance(61 * time.Second)
			resp, body := st.do(http.MethodGet, "/fhir/Practitioner", tok, nil)
			wantUnauthorized(t, resp, body, true)
		})
		t.Run("client disabled after issuance", func(t *testing.T) {
			d := st.register("system/*.rs", false)
			tok := st.token(d, "system/*.rs")
			ok(t, tok)
			if err := st.reg.SetDisabled(asOperator(), d.id, true); err != nil {
				t.Fatal(err)
			}
			st.clock.Advance(11 * time.Second)
			resp, body := st.do(http.MethodGet, "/fhir/Practitioner", tok, nil)
			wantUnauthorized(t, resp, body, true)
			// Introspection agrees, and re-enabling restores the token.
			other := st.token(c, "system/*.rs")
			resp, body = st.postForm(auth.IntrospectPath, url.Values{"token": {tok}}, http.Header{"Authorization": {"Bearer " + other}})
			if m := jsonObject(t, body); resp.StatusCode != http.StatusOK || m["active"] != false {
				t.Errorf("introspection of a disabled client's token: %d %s", resp.StatusCode, body)
			}
		})
	})
}

// clientFrom is an HTTP client whose connections come from the loopback
// address ip, so tests can act as several source addresses.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext:     d.DialContext,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
}

// wantTooMany checks a 429 from the token endpoint and returns its
// Retry-After in seconds.
func wantTooMany(t *testing.T, resp *http.Response, body []byte) int {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429: %s", resp.StatusCode, body)
	}
	m := jsonObject(t, body)
	if e, _ := m["error"].(string); e == "" {
		t.Errorf("429 without an OAuth error: %s", body)
	}
	if _, ok := m["access_token"]; ok {
		t.Errorf("429 with a token: %s", body)
	}
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 120 {
		t.Fatalf("Retry-After = %q, want seconds in [1, 120]", resp.Header.Get("Retry-After"))
	}
	return ra
}

// TestAttackRateLimit guesses assertions until the token endpoint stops
// answering, then checks it lets the client back in once the budget
// refills (auth.Config.FailuresPerMinute, default 30 a minute, as a token
// bucket: one more attempt every 2 s).
func TestAttackRateLimit(t *testing.T) {
	const budget = 30
	forEachBackend(t, func(t *testing.T, st *stack) {
		bad := func(c *testClient) url.Values {
			f := st.tokenForm(c, "system/*.rs")
			f.Set("client_assertion", st.assertion(c, func(cl gjwt.MapClaims, _ map[string]any) { cl["aud"] = "https://wrong.example.org" }))
			return f
		}
		tooMany := func(t *testing.T, form url.Values) int {
			t.Helper()
			resp, body := st.tokenResponse(form)
			return wantTooMany(t, resp, body)
		}
		accepted := func(t *testing.T, c *testClient, when string) {
			t.Helper()
			if resp, body := st.tokenResponse(st.tokenForm(c, "system/*.rs")); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", when, resp.StatusCode, body)
			}
		}
		t.Run("one source", func(t *testing.T) {
			c := st.register("system/*.rs", false)
			for i := range budget {
				resp, body := st.tokenResponse(bad(c))
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("failure %d = %d, want 400: %s", i+1, resp.StatusCode, body)
				}
			}
			tooMany(t, bad(c))
			ra := tooMany(t, st.tokenForm(c, "system/*.rs"))
			// Another client from the same source is refused too.
			tooMany(t, st.tokenForm(st.register("system/*.rs", false), "system/*.rs"))
			st.clock.Advance(time.Second)
			if ra > 1 {
				tooMany(t, st.tokenForm(c, "system/*.rs"))
			}
			st.clock.Advance(time.Duration(ra-1) * time.Second)
			accepted(t, c, "after Retry-After")
			st.clock.Advance(2 * time.Minute)
			for range 3 {
				accepted(t, c, "after two minutes")
			}
		})
		t.Run("one client from many sources", func(t *testing.T) {
			st.clock.Advance(2 * time.Minute)
			c := st.register("system/*.rs", false)
			saved := st.client
			clients := map[string]*http.Client{}
			from := func(ip string) {
				if clients[ip] == nil {
					clients[ip] = clientFrom(ip)
				}
				st.client = clients[ip]
			}
			defer func() {
				st.client = saved
				for _, cl := range clients {
					cl.CloseIdleConnections()
				}
			}()
			// Spread the guesses over sources that each stay well under
			// their own budget.
			sources := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
			for i := range budget {
				from(sources[i%len(sources)])
				resp, body := st.tokenResponse(bad(c))
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("failure %d = %d, want 400: %s", i+1, resp.StatusCode, body)
				}
			}
			from("127.0.0.5")
			tooMany(t, bad(c))
			ra := tooMany(t, st.tokenForm(c, "system/*.rs"))
			// Other clients from those sources are not affected.
			o := st.register("system/*.rs", false)
			for _, src := range sources {
				from(src)
				accepted(t, o, "another client from "+src)
			}
			from("127.0.0.6")
			st.clock.Advance(time.Duration(ra) * time.Second)
			accepted(t, c, "after Retry-After")
		})
	})
}
