package auth

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"

	"github.com/vhdir/vhdir/internal/clock"
)

const assertionTestTokenURL = "https://vhdir.example/auth/token"

// assertionFixture is a verifier over registrations whose keys are given
// by value, by URL and by jku, with a fake clock and an in-memory jti
// store. Assertions are minted with golang-jwt, not go-jose, so the two
// libraries must agree on every accepted token.
type assertionFixture struct {
	clk  *clock.Fake
	srv  *jwksTestServer
	v    *AssertionVerifier
	regs map[string]Registration

	mu   sync.Mutex
	used map[string]bool
	jtis int
}

func newAssertionFixture(t testing.TB) *assertionFixture {
	k := jwksTestKeys()
	f := &assertionFixture{clk: clock.NewFake(jwksTestEpoch), used: map[string]bool{}}
	f.srv = newJWKSTestServer(t)
	urlSet := jwksJSON(jwkOf(&k.rsa.PublicKey, "rsa-1", nil), jwkOf(&k.ec384.PublicKey, "ec-1", nil))
	f.srv.set("/jwks", jwksResponse{body: urlSet, cacheControl: "max-age=300"})
	f.srv.set("/jku", jwksResponse{body: jwksJSON(jwkOf(&k.rsa2.PublicKey, "jku-rsa", nil)), cacheControl: "max-age=300"})
	f.srv.set("/dup", jwksResponse{body: jwksJSON(jwkOf(&k.rsa.PublicKey, "rsa-1", nil), jwkOf(&k.rsa2.PublicKey, "rsa-1", nil))})
	byValue := jwksJSON(jwkOf(&k.rsa.PublicKey, "rsa-1", nil), jwkOf(&k.ec384.PublicKey, "ec-1", nil), jwkOf(&k.p256.PublicKey, "p256-1", nil))
	f.regs = map[string]Registration{
		"value-client":    {ClientID: "value-client", JWKS: byValue},
		"url-client":      {ClientID: "url-client", JWKSURI: f.srv.URL + "/jwks"},
		"jku-client":      {ClientID: "jku-client", JWKS: jwksJSON(jwkOf(&k.ec384b.PublicKey, "other-ec", nil)), JKU: []string{f.srv.URL + "/jku"}},
		"disabled-client": {ClientID: "disabled-client", JWKS: byValue, Disabled: true},
		"dup-client":      {ClientID: "dup-client", JWKSURI: f.srv.URL + "/dup"},
		"rotate-client":   {ClientID: "rotate-client", JWKSURI: f.srv.URL + "/rotate"},
		"nostore-client":  {ClientID: "nostore-client", JWKSURI: f.srv.URL + "/nostore"},
		"both-client":     {ClientID: "both-client", JWKS: byValue, JWKSURI: f.srv.URL + "/jwks"},
		"nokeys-client":   {ClientID: "nokeys-client"},
	}
	f.v = &AssertionVerifier{
		TokenURL: assertionTestTokenURL,
		Clock:    f.clk,
		Lookup:   f.lookup,
		Fetcher:  f.srv.fetcher(f.clk),
		UseJTI:   f.useJTI,
	}
	return f
}

func (f *assertionFixture) lookup(_ context.Context, clientID string) (*Registration, error) {
	reg, ok := f.regs[clientID]
	if !ok {
		return nil, nil
	}
	return &reg, nil
}

func (f *assertionFixture) useJTI(_ context.Context, clientID, jti string, until time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !until.After(f.clk.Now()) {
		return false, fmt.Errorf("jti kept until %s, already past", until)
	}
	key := clientID + "\x00" + jti
	if f.used[key] {
		return false, nil
	}
	f.used[key] = true
	return true, nil
}

// claims returns valid claims for client; a nil value in mods removes a
// claim.
func (f *assertionFixture) claims(client string, mods map[string]any) gjwt.MapClaims {
	f.mu.Lock()
	f.jtis++
	jti := fmt.Sprintf("jti-%d", f.jtis)
	f.mu.Unlock()
	c := gjwt.MapClaims{
		"iss": client, "sub": client, "aud": assertionTestTokenURL,
		"exp": f.clk.Now().Add(4 * time.Minute).Unix(), "jti": jti,
	}
	for k, v := range mods {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// mintAssertion signs claims with golang-jwt; a nil value in header
// removes a member (golang-jwt sets alg and typ).
func mintAssertion(t testing.TB, method gjwt.SigningMethod, key any, header map[string]any, claims gjwt.MapClaims) string {
	t.Helper()
	tok := gjwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return s
}

// unsignedAssertion hand-builds an alg none token.
func unsignedAssertion(header map[string]any, claims gjwt.MapClaims) string {
	return b64u(mustJSON(header)) + "." + b64u(mustJSON(claims)) + "."
}

// tamper changes a claim in a signed token and keeps its signature.
func tamper(t testing.TB, tok, claim string, value any) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	m[claim] = value
	parts[1] = b64u(mustJSON(m))
	return strings.Join(parts, ".")
}

func rsaPublicPEM(t testing.TB) []byte {
	der, err := x509.MarshalPKIXPublicKey(&jwksTestKeys().rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestAssertionVerifier(t *testing.T) {
	k := jwksTestKeys()
	f := newAssertionFixture(t)
	now := f.clk.Now()
	rs := func(client, kid string, hdr, mods map[string]any) string {
		h := map[string]any{"kid": kid}
		for name, v := range hdr {
			h[name] = v
		}
		return mintAssertion(t, gjwt.SigningMethodRS384, k.rsa, h, f.claims(client, mods))
	}
	es := func(client, kid string) string {
		return mintAssertion(t, gjwt.SigningMethodES384, k.ec384, map[string]any{"kid": kid}, f.claims(client, nil))
	}
	jkuURL := f.srv.URL + "/jku"
	tests := []struct {
		name   string
		token  func() string
		client string // the client accepted, or "" when refused
		reason string // AssertionError.Reason when refused
	}{
		// Accepted.
		{"RS384 by value", func() string { return rs("value-client", "rsa-1", nil, nil) }, "value-client", ""},
		{"ES384 by value", func() string { return es("value-client", "ec-1") }, "value-client", ""},
		{"RS384 by URL", func() string { return rs("url-client", "rsa-1", nil, nil) }, "url-client", ""},
		{"ES384 by URL", func() string { return es("url-client", "ec-1") }, "url-client", ""},
		{"aud array", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"aud": []string{"https://other.example/token", assertionTestTokenURL}})
		}, "value-client", ""},
		{"exp exactly now+5min", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"exp": now.Add(5 * time.Minute).Unix()})
		}, "value-client", ""},
		{"exp now+5min+leeway", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"exp": now.Add(6 * time.Minute).Unix()})
		}, "value-client", ""},
		{"exp just past, within leeway", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"exp": now.Add(-59 * time.Second).Unix()})
		}, "value-client", ""},
		{"nbf and iat present", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"nbf": now.Add(-time.Minute).Unix(), "iat": now.Add(30 * time.Second).Unix()})
		}, "value-client", ""},
		{"typ lower-case", func() string { return rs("value-client", "rsa-1", map[string]any{"typ": "jwt"}, nil) }, "value-client", ""},
		{"jti of 255 bytes", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"jti": strings.Repeat("j", 255)})
		}, "value-client", ""},
		{"registered jku", func() string {
			return mintAssertion(t, gjwt.SigningMethodRS384, k.rsa2, map[string]any{"kid": "jku-rsa", "jku": jkuURL}, f.claims("jku-client", nil))
		}, "jku-client", ""},

		// Claims.
		{"expired", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"exp": now.Add(-61 * time.Second).Unix()})
		}, "", "expired"},
		{"exp at now-leeway", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"exp": now.Add(-60 * time.Second).Unix()})
		}, "", "expired"},
		{"exp beyond 5 min + leeway", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"exp": now.Add(6*time.Minute + time.Second).Unix()})
		}, "", "exp too far ahead"},
		{"exp missing", func() string { return rs("value-client", "rsa-1", nil, map[string]any{"exp": nil}) }, "", "exp missing"},
		{"exp not a number", func() string { return rs("value-client", "rsa-1", nil, map[string]any{"exp": "soon"}) }, "", "malformed claims"},
		{"nbf in the future", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"nbf": now.Add(2 * time.Minute).Unix()})
		}, "", "nbf in the future"},
		{"iat in the future", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"iat": now.Add(2 * time.Minute).Unix()})
		}, "", "iat in the future"},
		{"wrong aud", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"aud": "https://other.example/token"})
		}, "", "aud lacks the token URL"},
		{"aud array without ours", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"aud": []string{assertionTestTokenURL + "/", "http://vhdir.example/auth/token"}})
		}, "", "aud lacks the token URL"},
		{"aud missing", func() string { return rs("value-client", "rsa-1", nil, map[string]any{"aud": nil}) }, "", "aud lacks the token URL"},
		{"iss differs from sub", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"iss": "url-client"})
		}, "", "iss differs from sub"},
		{"iss missing", func() string { return rs("value-client", "rsa-1", nil, map[string]any{"iss": nil}) }, "", "iss or sub missing"},
		{"sub missing", func() string { return rs("value-client", "rsa-1", nil, map[string]any{"sub": nil}) }, "", "iss or sub missing"},
		{"unknown client", func() string { return rs("nobody", "rsa-1", nil, nil) }, "", "unknown client"},
		{"disabled client", func() string { return rs("disabled-client", "rsa-1", nil, nil) }, "", "client disabled"},
		{"jti missing", func() string { return rs("value-client", "rsa-1", nil, map[string]any{"jti": nil}) }, "", "jti missing"},
		{"jti of 256 bytes", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"jti": strings.Repeat("j", 256)})
		}, "", "jti too long"},
		{"jti replayed", func() string {
			tok := rs("value-client", "rsa-1", nil, nil)
			if _, err := f.v.Verify(context.Background(), tok); err != nil {
				t.Fatalf("first use: %v", err)
			}
			return tok
		}, "", "jti replayed"},

		// Algorithms.
		{"alg none", func() string {
			return unsignedAssertion(map[string]any{"alg": "none", "typ": "JWT", "kid": "rsa-1"}, f.claims("value-client", nil))
		}, "", "alg not allowed"},
		{"HS384 keyed with the RSA public key", func() string {
			return mintAssertion(t, gjwt.SigningMethodHS384, rsaPublicPEM(t), map[string]any{"kid": "rsa-1"}, f.claims("value-client", nil))
		}, "", "alg not allowed"},
		{"RS256", func() string {
			return mintAssertion(t, gjwt.SigningMethodRS256, k.rsa, map[string]any{"kid": "rsa-1"}, f.claims("value-client", nil))
		}, "", "alg not allowed"},
		{"PS384", func() string {
			return mintAssertion(t, gjwt.SigningMethodPS384, k.rsa, map[string]any{"kid": "rsa-1"}, f.claims("value-client", nil))
		}, "", "alg not allowed"},
		{"ES256", func() string {
			return mintAssertion(t, gjwt.SigningMethodES256, k.p256, map[string]any{"kid": "p256-1"}, f.claims("value-client", nil))
		}, "", "alg not allowed"},

		// Keys.
		{"unknown kid", func() string { return rs("value-client", "nope", nil, nil) }, "", "no matching key"},
		{"kid of a key of another type", func() string { return rs("value-client", "ec-1", nil, nil) }, "", "no matching key"},
		{"duplicate kid in fetched set", func() string { return rs("dup-client", "rsa-1", nil, nil) }, "", "no usable keys"},
		{"registration with jwks and jwks_uri", func() string { return rs("both-client", "rsa-1", nil, nil) }, "", "no usable keys"},
		{"registration without keys", func() string { return rs("nokeys-client", "rsa-1", nil, nil) }, "", "no usable keys"},
		{"tampered payload", func() string {
			return tamper(t, rs("value-client", "rsa-1", nil, nil), "jti", "tampered")
		}, "", "signature does not verify"},
		{"tampered issuer", func() string {
			return tamper(t, tamper(t, rs("value-client", "rsa-1", nil, nil), "iss", "url-client"), "sub", "url-client")
		}, "", "signature does not verify"},
		{"wrong RSA key, right kid", func() string {
			return mintAssertion(t, gjwt.SigningMethodRS384, k.rsa2, map[string]any{"kid": "rsa-1"}, f.claims("value-client", nil))
		}, "", "signature does not verify"},
		{"wrong EC key, right kid", func() string {
			return mintAssertion(t, gjwt.SigningMethodES384, k.ec384b, map[string]any{"kid": "ec-1"}, f.claims("value-client", nil))
		}, "", "signature does not verify"},
		{"jku on a client without jku", func() string {
			return rs("value-client", "rsa-1", map[string]any{"jku": f.srv.URL + "/jwks"}, nil)
		}, "", "jku not registered"},
		{"jku not the registered one", func() string {
			return mintAssertion(t, gjwt.SigningMethodRS384, k.rsa, map[string]any{"kid": "rsa-1", "jku": f.srv.URL + "/jwks"}, f.claims("jku-client", nil))
		}, "", "jku not registered"},
		{"jku not a string", func() string {
			return mintAssertion(t, gjwt.SigningMethodRS384, k.rsa2, map[string]any{"kid": "jku-rsa", "jku": []string{jkuURL}}, f.claims("jku-client", nil))
		}, "", "jku not registered"},

		// Header.
		{"kid missing", func() string { return rs("value-client", "", map[string]any{"kid": nil}, nil) }, "", "kid missing"},
		{"typ missing", func() string { return rs("value-client", "rsa-1", map[string]any{"typ": nil}, nil) }, "", "typ is not JWT"},
		{"typ at+jwt", func() string { return rs("value-client", "rsa-1", map[string]any{"typ": "at+jwt"}, nil) }, "", "typ is not JWT"},
		{"crit header", func() string {
			return rs("value-client", "rsa-1", map[string]any{"crit": []string{"exp"}}, nil)
		}, "", "crit header"},
		{"b64 header", func() string { return rs("value-client", "rsa-1", map[string]any{"b64": true}, nil) }, "", "b64 header"},

		// Shape.
		{"four parts", func() string { return rs("value-client", "rsa-1", nil, nil) + ".AAAA" }, "", "malformed"},
		{"two parts", func() string {
			tok := rs("value-client", "rsa-1", nil, nil)
			return tok[:strings.LastIndex(tok, ".")]
		}, "", "malformed"},
		{"oversize", func() string {
			return rs("value-client", "rsa-1", nil, map[string]any{"pad": strings.Repeat("p", 8<<10)})
		}, "", "oversize"},
		{"newline inside", func() string {
			tok := rs("value-client", "rsa-1", nil, nil)
			return tok[:10] + "\n" + tok[10:]
		}, "", "malformed"},
		{"padded base64", func() string {
			parts := strings.Split(rs("value-client", "rsa-1", nil, nil), ".")
			parts[2] += strings.Repeat("=", (4-len(parts[2])%4)%4) + "=="
			return strings.Join(parts, ".")
		}, "", "malformed"},
		{"empty", func() string { return "" }, "", "malformed"},
		{"garbage", func() string { return "garbage" }, "", "malformed"},
		{"garbage parts", func() string { return "a.b.c" }, "", "malformed"},
		{"dots", func() string { return ".." }, "", "alg not allowed"}, // an empty header has no alg
		{"payload not JSON", func() string {
			parts := strings.Split(rs("value-client", "rsa-1", nil, nil), ".")
			return parts[0] + "." + b64u([]byte("not json")) + "." + parts[2]
		}, "", "malformed claims"},
	}
	modulus := b64u(k.rsa.N.Bytes())[:24]
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := f.v.Verify(context.Background(), tt.token())
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if reg.ClientID != tt.client {
					t.Fatalf("authenticated %q, want %q", reg.ClientID, tt.client)
				}
				return
			}
			var ae *AssertionError
			if !errors.As(err, &ae) {
				t.Fatalf("Verify = %v, %v; want *AssertionError %q", reg, err, tt.reason)
			}
			if reg != nil || ae.Reason != tt.reason {
				t.Fatalf("refused for %q (%v), want %q", ae.Reason, err, tt.reason)
			}
			if strings.Contains(err.Error(), modulus) {
				t.Fatal("error reveals key material")
			}
		})
	}
}

// TestAssertionKeyRotation follows a client that adds keys to its JWKS
// URL: a kid miss on a cached set refetches once, and a second miss within
// the rate-limit window does not reach the client's server.
func TestAssertionKeyRotation(t *testing.T) {
	k := jwksTestKeys()
	f := newAssertionFixture(t)
	ctx := context.Background()
	serve := func(keys ...map[string]any) {
		f.srv.set("/rotate", jwksResponse{body: jwksJSON(keys...), cacheControl: "max-age=3600"})
	}
	verify := func(method gjwt.SigningMethod, key any, kid string, wantHits int, wantErr bool) {
		t.Helper()
		tok := mintAssertion(t, method, key, map[string]any{"kid": kid}, f.claims("rotate-client", nil))
		_, err := f.v.Verify(ctx, tok)
		if (err != nil) != wantErr {
			t.Fatalf("kid %s: Verify = %v, want error %v", kid, err, wantErr)
		}
		if got := f.srv.count("/rotate"); got != wantHits {
			t.Fatalf("kid %s: %d fetches, want %d", kid, got, wantHits)
		}
	}
	serve(jwkOf(&k.rsa.PublicKey, "rot-1", nil))
	verify(gjwt.SigningMethodRS384, k.rsa, "rot-1", 1, false)
	verify(gjwt.SigningMethodRS384, k.rsa, "rot-1", 1, false) // cached

	serve(jwkOf(&k.rsa.PublicKey, "rot-1", nil), jwkOf(&k.ec384b.PublicKey, "rot-2", nil))
	f.clk.Advance(time.Second)
	verify(gjwt.SigningMethodES384, k.ec384b, "rot-2", 2, false) // miss, one refetch

	serve(jwkOf(&k.rsa.PublicKey, "rot-1", nil), jwkOf(&k.ec384b.PublicKey, "rot-2", nil), jwkOf(&k.rsa2.PublicKey, "rot-3", nil))
	f.clk.Advance(5 * time.Second)
	verify(gjwt.SigningMethodRS384, k.rsa2, "rot-3", 2, true)    // miss within 10 s: no refetch
	verify(gjwt.SigningMethodRS384, k.rsa2, "random", 2, true)   // nor for random kids
	verify(gjwt.SigningMethodES384, k.ec384b, "rot-2", 2, false) // cached keys still work

	f.clk.Advance(5*time.Second + time.Millisecond)
	verify(gjwt.SigningMethodRS384, k.rsa2, "rot-3", 3, false) // window over: refetch
}

// TestAssertionFreshSetNoRefetch: a kid miss on a set fetched for this very
// assertion (no-store) is final; refetching would only repeat the request.
func TestAssertionFreshSetNoRefetch(t *testing.T) {
	k := jwksTestKeys()
	f := newAssertionFixture(t)
	f.srv.set("/nostore", jwksResponse{body: jwksJSON(jwkOf(&k.rsa.PublicKey, "ns-1", nil)), cacheControl: "no-store"})
	for i, kid := range []string{"ns-1", "missing", "ns-1"} {
		tok := mintAssertion(t, gjwt.SigningMethodRS384, k.rsa, map[string]any{"kid": kid}, f.claims("nostore-client", nil))
		_, err := f.v.Verify(context.Background(), tok)
		if (err != nil) != (kid == "missing") {
			t.Fatalf("kid %s: Verify = %v", kid, err)
		}
		if got := f.srv.count("/nostore"); got != i+1 {
			t.Fatalf("after %d assertions, %d fetches", i+1, got)
		}
	}
}

// TestAssertionDependencyErrors: failures of the lookup, the jti store and
// configuration are refusals too, with the cause kept for the log.
func TestAssertionDependencyErrors(t *testing.T) {
	k := jwksTestKeys()
	dbDown := errors.New("database down")
	tests := []struct {
		name   string
		modify func(*AssertionVerifier)
		reason string
	}{
		{"lookup fails", func(v *AssertionVerifier) {
			v.Lookup = func(context.Context, string) (*Registration, error) { return nil, dbDown }
		}, "unknown client"},
		{"lookup returns another client", func(v *AssertionVerifier) {
			v.Lookup = func(context.Context, string) (*Registration, error) {
				return &Registration{ClientID: "someone-else", JWKS: jwksJSON(jwkOf(&k.rsa.PublicKey, "rsa-1", nil))}, nil
			}
		}, "unknown client"},
		{"jti store fails", func(v *AssertionVerifier) {
			v.UseJTI = func(context.Context, string, string, time.Time) (bool, error) { return false, dbDown }
		}, "replay check failed"},
		{"no jti store", func(v *AssertionVerifier) { v.UseJTI = nil }, "replay check unavailable"},
		{"no token URL", func(v *AssertionVerifier) { v.TokenURL = "" }, "aud lacks the token URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAssertionFixture(t)
			tt.modify(f.v)
			tok := mintAssertion(t, gjwt.SigningMethodRS384, k.rsa, map[string]any{"kid": "rsa-1"}, f.claims("value-client", nil))
			_, err := f.v.Verify(context.Background(), tok)
			var ae *AssertionError
			if !errors.As(err, &ae) || ae.Reason != tt.reason {
				t.Fatalf("Verify = %v, want *AssertionError %q", err, tt.reason)
			}
		})
	}
	// The jti is kept until exp + leeway, not just exp.
	f := newAssertionFixture(t)
	var until time.Time
	f.v.UseJTI = func(_ context.Context, _, _ string, u time.Time) (bool, error) { until = u; return true, nil }
	exp := f.clk.Now().Add(2 * time.Minute).Truncate(time.Second)
	tok := mintAssertion(t, gjwt.SigningMethodRS384, k.rsa, map[string]any{"kid": "rsa-1"}, f.claims("value-client", map[string]any{"exp": exp.Unix()}))
	if _, err := f.v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if want := exp.Add(defaultLeeway); !until.Equal(want) {
		t.Fatalf("jti kept until %s, want %s", until, want)
	}
}

func FuzzVerifyAssertion(f *testing.F) {
	k := jwksTestKeys()
	fx := newAssertionFixture(f)
	// Every jti is new to the fuzzer's verifier, so accepted inputs show
	// what the signature and claim checks let through.
	fx.v.UseJTI = func(context.Context, string, string, time.Time) (bool, error) { return true, nil }
	fx.v.Fetcher = nil
	claims := fx.claims("value-client", nil)
	valid := []string{
		mintAssertion(f, gjwt.SigningMethodRS384, k.rsa, map[string]any{"kid": "rsa-1"}, claims),
		mintAssertion(f, gjwt.SigningMethodES384, k.ec384, map[string]any{"kid": "ec-1"}, claims),
		mintAssertion(f, gjwt.SigningMethodRS384, k.rsa, map[string]any{"kid": "rsa-1"}, fx.claims("value-client", map[string]any{"aud": []string{"x", assertionTestTokenURL}})),
	}
	for _, s := range valid {
		if _, err := fx.v.Verify(context.Background(), s); err != nil {
			f.Fatalf("seed refused: %v", err)
		}
		f.Add(s)
		f.Add(tamper(f, s, "exp", 1))
		f.Add(s + ".x")
	}
	f.Add(unsignedAssertion(map[string]any{"alg": "none", "typ": "JWT", "kid": "rsa-1"}, claims))
	f.Add(mintAssertion(f, gjwt.SigningMethodHS384, rsaPublicPEM(f), map[string]any{"kid": "rsa-1"}, claims))
	f.Add(mintAssertion(f, gjwt.SigningMethodRS384, k.rsa2, map[string]any{"kid": "rsa-1"}, claims))
	f.Add(mintAssertion(f, gjwt.SigningMethodRS384, k.rsa, map[string]any{"kid": "rsa-1", "crit": []string{"b64"}, "b64": false}, claims))
	f.Add("")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		reg, err := fx.v.Verify(context.Background(), s)
		if err != nil {
			var ae *AssertionError
			if !errors.As(err, &ae) || reg != nil {
				t.Fatalf("Verify = %v, %v; want only an *AssertionError", reg, err)
			}
			return
		}
		if reg == nil || reg.ClientID != "value-client" {
			t.Fatalf("accepted for %+v", reg)
		}
		// Check independently (golang-jwt's primitives over the exact
		// text) that the registered key signed what was accepted.
		parts := strings.Split(s, ".")
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			t.Fatalf("accepted undecodable signature: %v", err)
		}
		input := parts[0] + "." + parts[1]
		if gjwt.SigningMethodRS384.Verify(input, sig, &k.rsa.PublicKey) != nil &&
			gjwt.SigningMethodES384.Verify(input, sig, &k.ec384.PublicKey) != nil {
			t.Fatalf("accepted an assertion the registered keys did not sign: %q", s)
		}
	})
}
