package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
)

// jwksTestKeyring holds the keys every test here signs and verifies with;
// RSA generation is slow, so they are made once.
type jwksTestKeyring struct {
	rsa, rsa2           *rsa.PrivateKey
	ec384, ec384b, p256 *ecdsa.PrivateKey
	p521                *ecdsa.PrivateKey
}

var jwksTestKeys = sync.OnceValue(func() *jwksTestKeyring {
	mustRSA := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	mustEC := func(c elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	}
	return &jwksTestKeyring{
		rsa: mustRSA(), rsa2: mustRSA(),
		ec384: mustEC(elliptic.P384()), ec384b: mustEC(elliptic.P384()),
		p256: mustEC(elliptic.P256()), p521: mustEC(elliptic.P521()),
	}
})

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkOf builds a public JWK by hand (not with go-jose, the library under
// test); extra members are added, a nil value removes one.
func jwkOf(pub crypto.PublicKey, kid string, extra map[string]any) map[string]any {
	m := map[string]any{"kid": kid}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64u(pub.N.Bytes()), b64u(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		pt, err := pub.Bytes()
		if err != nil {
			panic(err)
		}
		size := (len(pt) - 1) / 2
		m["kty"], m["crv"] = "EC", pub.Curve.Params().Name
		m["x"], m["y"] = b64u(pt[1:1+size]), b64u(pt[1+size:])
	default:
		panic("unsupported key")
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func jwksJSON(keys ...map[string]any) []byte {
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return b
}

// rsaModulus returns an odd modulus of exactly bits bits, enough for the
// size rules (nothing here factors it).
func rsaModulus(bits int) string {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.SetBit(n, 0, 1)
	return b64u(n.Bytes())
}

func TestParseKeySet(t *testing.T) {
	k := jwksTestKeys()
	rsaPub, ecPub, p256Pub := &k.rsa.PublicKey, &k.ec384.PublicKey, &k.p256.PublicKey
	good := func(kid string, extra map[string]any) map[string]any { return jwkOf(rsaPub, kid, extra) }
	tests := []struct {
		name string
		data []byte
		want string // substring of the error; "" means accepted
	}{
		{"rsa, P-384 and P-256", jwksJSON(good("r", nil), jwkOf(ecPub, "e", nil), jwkOf(p256Pub, "p", nil)), ""},
		{"use sig, key_ops verify, alg", jwksJSON(good("r", map[string]any{"use": "sig", "key_ops": []string{"verify"}, "alg": "RS384"}),
			jwkOf(ecPub, "e", map[string]any{"alg": "ES384"}), jwkOf(p256Pub, "p", map[string]any{"alg": "ES256"})), ""},
		{"rsa 2048 bits exactly", jwksJSON(good("r", map[string]any{"n": rsaModulus(2048)})), ""},
		{"rsa 2047 bits", jwksJSON(good("r", map[string]any{"n": rsaModulus(2047)})), "RSA modulus is 2047 bits"},
		{"rsa 1024 bits", jwksJSON(good("r", map[string]any{"n": rsaModulus(1024)})), "RSA modulus is 1024 bits"},
		{"rsa without n", jwksJSON(good("r", map[string]any{"n": nil})), "unusable RSA key"},
		{"P-521", jwksJSON(jwkOf(&k.p521.PublicKey, "e", nil)), "curve P-521 not supported"},
		{"unknown curve", jwksJSON(jwkOf(ecPub, "e", map[string]any{"crv": "secp256k1"})), "unusable EC key"},
		{"point not on curve", jwksJSON(jwkOf(ecPub, "e", map[string]any{"y": jwkOf(&k.ec384b.PublicKey, "", nil)["y"]})), "unusable EC key"},
		{"kty missing", jwksJSON(good("r", map[string]any{"kty": nil})), "kty missing"},
		{"kty oct", jwksJSON(map[string]any{"kty": "oct", "kid": "s"}), `kty "oct" not supported`},
		{"kty OKP", jwksJSON(map[string]any{"kty": "OKP", "kid": "o", "crv": "Ed25519", "x": b64u(make([]byte, 32))}), `kty "OKP" not supported`},
		{"kid missing", jwksJSON(good("", map[string]any{"kid": nil})), "kid missing"},
		{"kid empty", jwksJSON(good("", nil)), "kid missing"},
		{"kid not a string", jwksJSON(good("", map[string]any{"kid": 7})), "malformed member"},
		{"kid upper-case member", jwksJSON(good("", map[string]any{"kid": nil, "KID": "r"})), "kid missing"},
		{"duplicate kid", jwksJSON(good("r", nil), jwkOf(&k.rsa2.PublicKey, "r", nil)), `key 1 (kid "r"): kid also used by key 0`},
		{"duplicate kid across kty", jwksJSON(good("r", nil), jwkOf(ecPub, "r", nil)), "kid also used by key 0"},
		{"use enc", jwksJSON(good("r", map[string]any{"use": "enc"})), `use "enc"`},
		{"use empty", jwksJSON(good("r", map[string]any{"use": ""})), `use ""`},
		{"key_ops without verify", jwksJSON(good("r", map[string]any{"key_ops": []string{"encrypt"}})), "key_ops lacks"},
		{"key_ops empty", jwksJSON(good("r", map[string]any{"key_ops": []string{}})), "key_ops lacks"},
		{"alg HS256", jwksJSON(good("r", map[string]any{"alg": "HS256"})), `alg "HS256" not supported`},
		{"alg PS384", jwksJSON(good("r", map[string]any{"alg": "PS384"})), `alg "PS384" not supported`},
		{"alg ES384 on RSA", jwksJSON(good("r", map[string]any{"alg": "ES384"})), "does not fit"},
		{"alg RS384 on EC", jwksJSON(jwkOf(ecPub, "e", map[string]any{"alg": "RS384"})), "does not fit"},
		{"alg ES256 on P-384", jwksJSON(jwkOf(ecPub, "e", map[string]any{"alg": "ES256"})), "does not fit"},
		{"no keys", jwksJSON(), "no keys"},
		{"keys missing", []byte(`{"kty":"RSA"}`), "no keys"},
		{"keys not an array", []byte(`{"keys":{}}`), "invalid JWK Set"},
		{"top-level array", []byte(`[]`), "invalid JWK Set"},
		{"not JSON", []byte(`keys`), "invalid JWK Set"},
		{"KEYS upper-case member", []byte(`{"KEYS":[` + string(mustJSON(good("r", nil))) + `]}`), "no keys"},
		{"duplicate member", []byte(`{"keys":[{"kty":"RSA","kid":"a","kid":"b"}]}`), "invalid JWK Set"},
		{"trailing garbage", append(jwksJSON(good("r", nil)), " x"...), "invalid JWK Set"},
		{"oversize", jwksJSON(good("r", map[string]any{"pad": strings.Repeat("a", 64<<10)})), "larger than"},
	}
	for _, m := range privateMembers {
		tests = append(tests, struct {
			name string
			data []byte
			want string
		}{"private member " + m, jwksJSON(jwkOf(ecPub, "e", nil), good("r", map[string]any{m: b64u([]byte{1, 2, 3})})),
			`key 1 (kid "r"): private key member "` + m + `"`})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ParseKeySet(tt.data)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ParseKeySet: %v", err)
				}
				if set.Len() == 0 {
					t.Fatal("empty set accepted")
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want error containing %q", tt.want)
			}
			if !errors.Is(err, ErrInvalidKeySet) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want ErrInvalidKeySet containing %q", err, tt.want)
			}
		})
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func mustKeySet(t testing.TB, data []byte) *KeySet {
	t.Helper()
	set, err := ParseKeySet(data)
	if err != nil {
		t.Fatalf("ParseKeySet: %v", err)
	}
	return set
}

func TestKeySetSelect(t *testing.T) {
	k := jwksTestKeys()
	set := mustKeySet(t, jwksJSON(
		jwkOf(&k.rsa.PublicKey, "a", nil),
		jwkOf(&k.ec384.PublicKey, "b", nil),
		jwkOf(&k.p256.PublicKey, "c", nil),
		jwkOf(&k.rsa2.PublicKey, "d", map[string]any{"alg": "RS256"}),
	))
	// ParseKeySet refuses repeated kids, so sets that repeat them are
	// assembled here to show Select does not rely on that.
	across := &KeySet{keys: append(mustKeySet(t, jwksJSON(jwkOf(&k.rsa.PublicKey, "x", nil))).keys,
		mustKeySet(t, jwksJSON(jwkOf(&k.ec384.PublicKey, "x", nil))).keys...)}
	twice := &KeySet{keys: append(mustKeySet(t, jwksJSON(jwkOf(&k.rsa.PublicKey, "y", nil))).keys,
		mustKeySet(t, jwksJSON(jwkOf(&k.rsa2.PublicKey, "y", nil))).keys...)}
	tests := []struct {
		name     string
		set      *KeySet
		kid, alg string
		want     crypto.PublicKey
		wantErr  error
	}{
		{"rsa RS384", set, "a", "RS384", &k.rsa.PublicKey, nil},
		{"rsa kid, EC alg", set, "a", "ES384", nil, ErrKeyNotFound},
		{"P-384 ES384", set, "b", "ES384", &k.ec384.PublicKey, nil},
		{"P-384 ES256", set, "b", "ES256", nil, ErrKeyNotFound},
		{"P-384 RS384", set, "b", "RS384", nil, ErrKeyNotFound},
		{"P-256 ES256", set, "c", "ES256", &k.p256.PublicKey, nil},
		{"P-256 ES384", set, "c", "ES384", nil, ErrKeyNotFound},
		{"alg member differs", set, "d", "RS384", nil, ErrKeyNotFound},
		{"alg member equal", set, "d", "RS256", &k.rsa2.PublicKey, nil},
		{"unknown kid", set, "z", "RS384", nil, ErrKeyNotFound},
		{"empty kid", set, "", "RS384", nil, ErrKeyNotFound},
		{"kid shared across kty, RSA", across, "x", "RS384", &k.rsa.PublicKey, nil},
		{"kid shared across kty, EC", across, "x", "ES384", &k.ec384.PublicKey, nil},
		{"kid shared within kty", twice, "y", "RS384", nil, ErrKeyAmbiguous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.set.Select(tt.kid, tt.alg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Select = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.want) {
				t.Fatal("Select returned the wrong key")
			}
		})
	}
	if _, err := set.Select("a", "HS256"); err == nil || errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Select with HS256 = %v, want an unsupported-alg error", err)
	}
}

// jwksResponse is what jwksTestServer serves at one path.
type jwksResponse struct {
	body         []byte
	contentType  string // default application/json
	cacheControl string
	age          string
	status       int    // default 200
	redirect     string // if set, a 302 to here
	delay        time.Duration
}

// jwksTestServer is a TLS server whose per-path responses tests change,
// counting requests per path.
type jwksTestServer struct {
	*httptest.Server
	mu    sync.Mutex
	paths map[string]jwksResponse
	hits  map[string]int
	gotHd http.Header
}

func newJWKSTestServer(t testing.TB) *jwksTestServer {
	s := &jwksTestServer{paths: map[string]jwksResponse{}, hits: map[string]int{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksTestServer) set(path string, r jwksResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths[path] = r
}

func (s *jwksTestServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func (s *jwksTestServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	resp, ok := s.paths[r.URL.Path]
	s.hits[r.URL.Path]++
	s.gotHd = r.Header.Clone()
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if resp.delay > 0 {
		select {
		case <-time.After(resp.delay):
		case <-r.Context().Done():
			// The client gave up: answer nothing at all (returning would
			// send an empty 200, which a retried request could receive).
			panic(http.ErrAbortHandler)
		}
	}
	if resp.redirect != "" {
		http.Redirect(w, r, resp.redirect, http.StatusFound)
		return
	}
	ct := resp.contentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	if resp.cacheControl != "" {
		w.Header().Set("Cache-Control", resp.cacheControl)
	}
	if resp.age != "" {
		w.Header().Set("Age", resp.age)
	}
	if resp.status != 0 {
		w.WriteHeader(resp.status)
	}
	_, _ = w.Write(resp.body)
}

// fetcher returns a fetcher trusting s, allowed to reach its loopback
// address.
func (s *jwksTestServer) fetcher(clk clock.Clock) *JWKSFetcher {
	return &JWKSFetcher{
		Clock:        clk,
		TLSConfig:    s.Client().Transport.(*http.Transport).TLSClientConfig,
		AllowPrivate: true,
	}
}

var jwksTestEpoch = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestJWKSFetcherCaching(t *testing.T) {
	k := jwksTestKeys()
	body := jwksJSON(jwkOf(&k.rsa.PublicKey, "a", nil))
	tests := []struct {
		name         string
		cacheControl string
		age          string
		maxCacheAge  time.Duration
		reuseFor     time.Duration // 0: every call fetches
	}{
		{"max-age", "public, max-age=60", "", 0, 60 * time.Second},
		{"max-age less Age", "max-age=60", "50", 0, 10 * time.Second},
		{"max-age capped", "max-age=86400", "", 30 * time.Second, 30 * time.Second},
		{"max-age zero", "max-age=0", "", 0, 0},
		{"no-store", "no-store", "", 0, 0},
		{"no-cache beats max-age", "max-age=60, no-cache", "", 0, 0},
		{"conflicting max-age", "max-age=60, max-age=120", "", 0, 0},
		{"malformed max-age", "max-age=soon", "", 0, 0},
		{"absent", "", "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSTestServer(t)
			srv.set("/jwks", jwksResponse{body: body, cacheControl: tt.cacheControl, age: tt.age})
			clk := clock.NewFake(jwksTestEpoch)
			f := srv.fetcher(clk)
			f.MaxCacheAge = tt.maxCacheAge
			get := func(wantHits int, wantFresh bool) {
				t.Helper()
				set, fresh, err := f.KeySet(context.Background(), srv.URL+"/jwks")
				if err != nil || set.Len() != 1 {
					t.Fatalf("KeySet: %v", err)
				}
				if fresh != wantFresh || srv.count("/jwks") != wantHits {
					t.Fatalf("fresh %v after %d fetches, want %v after %d", fresh, srv.count("/jwks"), wantFresh, wantHits)
				}
			}
			get(1, true)
			if tt.reuseFor == 0 {
				get(2, true)
				return
			}
			clk.Advance(tt.reuseFor - time.Second)
			get(1, false)
			clk.Advance(time.Second)
			get(2, true)
		})
	}
}

func TestJWKSFetcherRequest(t *testing.T) {
	srv := newJWKSTestServer(t)
	srv.set("/jwks", jwksResponse{body: jwksJSON(jwkOf(&jwksTestKeys().ec384.PublicKey, "e", nil)), contentType: "application/jwk-set+json; charset=utf-8"})
	if _, _, err := srv.fetcher(nil).KeySet(context.Background(), srv.URL+"/jwks"); err != nil {
		t.Fatalf("KeySet: %v", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if got := srv.gotHd.Get("Accept"); got != "application/json" {
		t.Errorf("Accept %q, want application/json", got)
	}
	if srv.gotHd.Get("Authorization") != "" || srv.gotHd.Get("Cookie") != "" {
		t.Error("fetch sent credentials")
	}
}

func TestJWKSFetcherRefuses(t *testing.T) {
	body := jwksJSON(jwkOf(&jwksTestKeys().rsa.PublicKey, "a", nil))
	srv := newJWKSTestServer(t)
	srv.set("/jwks", jwksResponse{body: body})
	srv.set("/redirect", jwksResponse{redirect: "/jwks"})
	srv.set("/big", jwksResponse{body: jwksJSON(jwkOf(&jwksTestKeys().rsa.PublicKey, "a", map[string]any{"pad": strings.Repeat("a", 70<<10)}))})
	srv.set("/html", jwksResponse{body: body, contentType: "text/html"})
	srv.set("/notype", jwksResponse{body: body, contentType: "application/octet-stream"})
	srv.set("/status", jwksResponse{body: body, status: http.StatusInternalServerError})
	srv.set("/slow", jwksResponse{body: body, delay: 5 * time.Second})
	srv.set("/dup", jwksResponse{body: jwksJSON(jwkOf(&jwksTestKeys().rsa.PublicKey, "a", nil), jwkOf(&jwksTestKeys().rsa2.PublicKey, "a", nil))})
	host := strings.TrimPrefix(srv.URL, "https://")
	tests := []struct {
		name   string
		url    string
		modify func(*JWKSFetcher)
		want   string
	}{
		{"redirect", srv.URL + "/redirect", nil, "redirect refused"},
		{"oversize body", srv.URL + "/big", nil, "larger than"},
		{"text/html", srv.URL + "/html", nil, "not JSON"},
		{"octet-stream", srv.URL + "/notype", nil, "not JSON"},
		{"error status", srv.URL + "/status", nil, "status 500"},
		{"duplicate kid", srv.URL + "/dup", nil, "kid also used"},
		{"timeout", srv.URL + "/slow", func(f *JWKSFetcher) { f.Timeout = 100 * time.Millisecond }, "Timeout"},
		{"loopback without AllowPrivate", srv.URL + "/jwks", func(f *JWKSFetcher) { f.AllowPrivate = false }, "not public"},
		{"http URL", "http://" + host + "/jwks", nil, "https"},
		{"credentials in URL", "https://user:pw@" + host + "/jwks", nil, "no credentials"},
		{"relative URL", "/jwks", nil, "https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := srv.fetcher(clock.NewFake(jwksTestEpoch))
			if tt.modify != nil {
				tt.modify(f)
			}
			start := time.Now()
			_, _, err := f.KeySet(context.Background(), tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("KeySet = %v, want error containing %q", err, tt.want)
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("refusal took %v", time.Since(start))
			}
		})
	}
}

func TestJWKSFetcherRefetchLimited(t *testing.T) {
	srv := newJWKSTestServer(t)
	srv.set("/jwks", jwksResponse{body: jwksJSON(jwkOf(&jwksTestKeys().rsa.PublicKey, "a", nil)), cacheControl: "max-age=3600"})
	clk := clock.NewFake(jwksTestEpoch)
	f := srv.fetcher(clk)
	ctx, u := context.Background(), srv.URL+"/jwks"
	if _, err := f.Refetch(ctx, u); err != nil {
		t.Fatalf("first Refetch: %v", err)
	}
	clk.Advance(9 * time.Second)
	if _, err := f.Refetch(ctx, u); !errors.Is(err, ErrRefetchLimited) {
		t.Fatalf("second Refetch within 10 s = %v, want ErrRefetchLimited", err)
	}
	if _, err := f.Refetch(ctx, srv.URL+"/jwks?other"); err != nil {
		t.Fatalf("Refetch of another URL: %v", err)
	}
	clk.Advance(time.Second + time.Millisecond)
	if _, err := f.Refetch(ctx, u); err != nil {
		t.Fatalf("Refetch after 10 s: %v", err)
	}
	// Refetch refreshes the cache, so the next read needs no request.
	before := srv.count("/jwks")
	if _, fresh, err := f.KeySet(ctx, u); err != nil || fresh || srv.count("/jwks") != before {
		t.Fatalf("KeySet after Refetch: fresh %v, err %v, requests %d→%d", fresh, err, before, srv.count("/jwks"))
	}
}

func TestJWKSBlockedAddr(t *testing.T) {
	tests := map[string]bool{
		"127.0.0.1": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"fd00::1": true, "fc00::1": true, "169.254.169.254": true, "fe80::1": true, "0.0.0.0": true,
		"::": true, "224.0.0.1": true, "ff02::1": true, "100.64.0.1": true, "100.127.255.255": true,
		"255.255.255.255": true, "::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true,
		"64:ff9b::a00:1": true, "2002:c0a8:101::1": true, "2001::1": true,
		"8.8.8.8": false, "100.128.0.1": false, "172.32.0.1": false, "2606:4700:4700::1111": false,
		"::ffff:8.8.8.8": false, "64:ff9b::808:808": false, "2002:808:808::1": false,
	}
	for addr, want := range tests {
		if got := blockedAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("blockedAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

func FuzzParseKeySet(f *testing.F) {
	k := jwksTestKeys()
	f.Add(jwksJSON(jwkOf(&k.rsa.PublicKey, "a", map[string]any{"use": "sig", "alg": "RS384"}), jwkOf(&k.ec384.PublicKey, "b", nil)))
	f.Add(jwksJSON(jwkOf(&k.p256.PublicKey, "c", map[string]any{"key_ops": []string{"verify"}})))
	f.Add(jwksJSON(jwkOf(&k.rsa.PublicKey, "a", map[string]any{"d": "AQAB"})))
	f.Add(jwksJSON(jwkOf(&k.rsa.PublicKey, "a", nil), jwkOf(&k.ec384.PublicKey, "a", nil)))
	f.Add([]byte(`{"keys":[{"kty":"oct","kid":"s","k":"AAAA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"e","crv":"P-384","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := ParseKeySet(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidKeySet) {
				t.Fatalf("error %v does not wrap ErrInvalidKeySet", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, key := range set.keys {
			if key.kid == "" || seen[key.kid] {
				t.Fatalf("accepted empty or repeated kid %q", key.kid)
			}
			seen[key.kid] = true
			switch pub := key.pub.(type) {
			case *rsa.PublicKey:
				if pub.N.BitLen() < 2048 || key.kty != "RSA" {
					t.Fatalf("accepted weak or mislabelled RSA key %q", key.kid)
				}
			case *ecdsa.PublicKey:
				if name := pub.Curve.Params().Name; (name != "P-256" && name != "P-384") || key.kty != "EC" || key.crv != name {
					t.Fatalf("accepted EC key %q on %s labelled %s", key.kid, name, key.crv)
				}
			default:
				t.Fatalf("accepted %T", key.pub)
			}
		}
	})
}
