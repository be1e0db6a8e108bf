package auth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	gjwt "github.com/golang-jwt/jwt/v5"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/profile/profiletest"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/server/servertest"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
	"github.com/vhdir/vhdir/internal/tlsconf"
)

// The tests here drive vhdir as deployed: the FHIR API behind the
// authorization server, on a real TLS listener with vhdir's TLS settings,
// on a real database. Assertions are minted with golang-jwt; the server
// verifies with go-jose.

// forEachBackend runs fn with a fresh stack on each backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, st *stack)) {
	for _, o := range testdb.All {
		t.Run(o.Name, func(t *testing.T) { fn(t, newStack(t, o.Fresh(t))) })
	}
}

// stack is a running vhdir, built as `vhdir serve` builds it.
type stack struct {
	t      testing.TB
	srv    *servertest.Server
	ts     *httptest.Server
	base   string // https://host:port
	store  store.Store
	clock  *clock.Fake
	auth   *auth.Server
	reg    *auth.Registry
	client *http.Client
}

var t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

func newStack(t testing.TB, st store.Store) *stack {
	t.Helper()
	s := &stack{t: t, store: st, clock: clock.NewFake(t0)}
	s.srv = servertest.New(t, server.Config{Store: st, Clock: s.clock, MaxBodyBytes: 1 << 20, HSTS: true, Version: "test"})
	s.ts, s.base = s.srv.TS, s.srv.URL
	s.auth, s.reg = s.srv.Auth(), s.srv.Registry()
	certs, err := tlsconf.DevCertificate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.ts.TLS = tlsconf.Server(certs) // vhdir's own TLS posture
	s.ts.StartTLS()
	s.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	t.Cleanup(func() { st.Close() })
	return s
}

// asOperator is the context of the operator changing registrations.
func asOperator() context.Context {
	return server.AsOperator(context.Background(), "test", "clients")
}

// testClient is a registered client system and its private key.
type testClient struct {
	id     string
	kid    string
	method gjwt.SigningMethod
	key    crypto.Signer
}

// register registers a client allowed scope, with an ES384 key (or RS384
// when rsaKey), its JWK Set by value.
func (s *stack) register(scope string, rsaKey bool) *testClient {
	s.t.Helper()
	return s.registerWith(scope, rsaKey, nil)
}

// registerWith is register with the registration edited first.
func (s *stack) registerWith(scope string, rsaKey bool, edit func(*auth.Registration)) *testClient {
	s.t.Helper()
	c := &testClient{kid: "k-" + randomHex(4)}
	var err error
	if rsaKey {
		c.method = gjwt.SigningMethodRS384
		c.key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		c.method = gjwt.SigningMethodES384
		c.key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: c.key.Public(), KeyID: c.kid, Use: "sig"}}})
	if err != nil {
		s.t.Fatal(err)
	}
	r := auth.Registration{
		Name: "Test client " + c.kid, Organization: "Organization/acme", OrganizationName: "Acme Health",
		JWKS: set, Scope: scope,
	}
	if edit != nil {
		edit(&r)
	}
	reg, err := s.reg.Add(asOperator(), r)
	if err != nil {
		s.t.Fatal(err)
	}
	c.id = reg.ClientID
	return c
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.TrimRight(base64.RawURLEncoding.EncodeToString(b), "=")
}

// claims are an assertion's claims as Inferno sends them: iss = sub =
// client_id, aud = the token endpoint, exp = now + 5 min, a fresh jti.
func (s *stack) claims(c *testClient) gjwt.MapClaims {
	return gjwt.MapClaims{
		"iss": c.id, "sub": c.id, "aud": s.auth.TokenURL(),
		"exp": s.clock.Now().Add(5 * time.Minute).Unix(), "jti": randomHex(32),
	}
}

// assertion mints a client assertion; edit may change claims and header.
func (s *stack) assertion(c *testClient, edit func(claims gjwt.MapClaims, header map[string]any)) string {
	s.t.Helper()
	claims := s.claims(c)
	tok := gjwt.NewWithClaims(c.method, claims)
	tok.Header["kid"] = c.kid
	tok.Header["typ"] = "JWT"
	if edit != nil {
		edit(claims, tok.Header)
	}
	out, err := tok.SignedString(c.key)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// tokenForm is a valid token request for c.
func (s *stack) tokenForm(c *testClient, scope string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {s.assertion(c, nil)},
		"scope":                 {scope},
	}
}

// postForm posts a form to a path, as Inferno does.
func (s *stack) postForm(path string, form url.Values, header http.Header) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	for k, vs := range header {
		req.Header[k] = vs
	}
	return s.send(req)
}

// token gets an access token for c with scope; it fails the test if
// refused.
func (s *stack) token(c *testClient, scope string) string {
	s.t.Helper()
	resp, body := s.postForm(auth.TokenPath, s.tokenForm(c, scope), nil)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("token for %s %q = %d %s", c.id, scope, resp.StatusCode, body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		s.t.Fatal(err)
	}
	return tr.AccessToken
}

// do sends a FHIR request with a bearer token ("" for none).
func (s *stack) do(method, path, token string, body []byte) (*http.Response, []byte) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	return s.send(req)
}

func (s *stack) send(req *http.Request) (*http.Response, []byte) {
	s.t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, body
}

// seed stores resources directly (no token needed), as a load would;
// each needs an id.
func (s *stack) seed(resources ...string) {
	s.t.Helper()
	reg, _ := search.NewRegistry()
	eng := search.NewEngine(reg, s.base+"/fhir")
	dir := &directory.Directory{Store: s.store, Clock: s.clock, Indexer: eng, Profiles: profiletest.Warn(s.t)}
	_, err := dir.Write(context.Background(), func(w *directory.Writer) error {
		for _, raw := range resources {
			res, err := fhir.ParseResource([]byte(raw))
			if err != nil {
				return err
			}
			if res.Type == store.AuditType {
				// Records are chained, never written as resources.
				fields, err := store.AuditFieldsOf([]byte(raw))
				if err != nil {
					return err
				}
				if _, err := w.Tx().ChainAudit(context.Background(), []store.AuditItem{{ID: res.ID, Body: []byte(raw), Fields: fields}}); err != nil {
					return err
				}
				continue
			}
			if _, err := w.Update(context.Background(), res, res.ID, fhir.ETags{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// TestHarness checks the harness itself: a registered client gets a token
// and reads with it.
func TestHarness(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		c := st.register("system/*.rs", false)
		tok := st.token(c, "system/*.rs")
		resp, body := st.do(http.MethodGet, "/fhir/Practitioner", tok, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("search = %d %s", resp.StatusCode, body)
		}
	})
}
