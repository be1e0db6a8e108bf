package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	// go-jose's JSON fork matches member names case-sensitively and refuses
	// duplicate members, so a key set cannot mean one thing to us and
	// another to go-jose.
	josejson "github.com/go-jose/go-jose/v4/json"
	"golang.org/x/time/rate"

	"github.com/vhdir/vhdir/internal/clock"
)

// maxKeySetBytes bounds a registered or fetched JWK Set.
const maxKeySetBytes = 64 << 10

// minRSABits is the smallest RSA modulus accepted for a client key.
const minRSABits = 2048

var (
	// ErrInvalidKeySet wraps every reason ParseKeySet refuses a set.
	ErrInvalidKeySet = errors.New("invalid JWK Set")
	// ErrKeyNotFound means no key in the set fits the assertion's kid and
	// alg: a kid miss, which may justify refetching a URL-based set.
	ErrKeyNotFound = errors.New("no key matches kid and alg")
	// ErrKeyAmbiguous means more than one key fits, which SMART treats as a
	// verification failure.
	ErrKeyAmbiguous = errors.New("more than one key matches kid and alg")
	// ErrRefetchLimited means a forced refetch of a JWKS URL was refused
	// because one happened too recently.
	ErrRefetchLimited = errors.New("JWKS refetch rate-limited")
)

// privateMembers are JWK members that carry private or symmetric key
// material; a client must never send them, and one that does has leaked
// its key, so the whole set is refused.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth", "priv"}

// KeySet is a validated JWK Set holding only public verification keys.
type KeySet struct {
	keys []setKey
}

type setKey struct {
	kid string
	kty string // "RSA" or "EC"
	crv string // EC only: "P-256" or "P-384"
	alg string // the JWK's alg member, "" when absent
	pub crypto.PublicKey
}

// rawKey holds the JWK members go-jose's JSONWebKey drops or does not
// check (key_ops; presence of use and alg).
type rawKey struct {
	Kty    string    `json:"kty"`
	Kid    string    `json:"kid"`
	Crv    string    `json:"crv"`
	Use    *string   `json:"use"`
	Alg    *string   `json:"alg"`
	KeyOps *[]string `json:"key_ops"`
}

// Len reports the number of keys in the set.
func (s *KeySet) Len() int { return len(s.keys) }

// ParseKeySet validates a client's JWK Set ({"keys":[…]}) as registered or
// fetched. It refuses the whole set if any key breaks a rule, so a broken
// or leaked key is noticed rather than silently skipped.
func ParseKeySet(data []byte) (*KeySet, error) {
	if len(data) > maxKeySetBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidKeySet, maxKeySetBytes)
	}
	var doc struct {
		Keys []josejson.RawMessage `json:"keys"`
	}
	if err := josejson.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKeySet, err)
	}
	if len(doc.Keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrInvalidKeySet)
	}
	set := &KeySet{keys: make([]setKey, 0, len(doc.Keys))}
	seen := make(map[string]int, len(doc.Keys))
	for i, raw := range doc.Keys {
		k, err := parseKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d%s: %v", ErrInvalidKeySet, i, kidLabel(k.kid), err)
		}
		if j, dup := seen[k.kid]; dup {
			return nil, fmt.Errorf("%w: key %d%s: kid also used by key %d", ErrInvalidKeySet, i, kidLabel(k.kid), j)
		}
		seen[k.kid] = i
		set.keys = append(set.keys, k)
	}
	return set, nil
}

// kidLabel names a key in an error; kids come from clients, so they are
// quoted and shortened.
func kidLabel(kid string) string {
	if kid == "" {
		return ""
	}
	if len(kid) > 64 {
		kid = kid[:64] + "…"
	}
	return fmt.Sprintf(" (kid %q)", kid)
}

// parseKey validates one JWK. On error the returned setKey still carries
// the kid when it was readable, for the error message.
func parseKey(data []byte) (setKey, error) {
	var members map[string]josejson.RawMessage
	if err := josejson.Unmarshal(data, &members); err != nil {
		return setKey{}, fmt.Errorf("not a JSON object: %v", err)
	}
	var raw rawKey
	if err := josejson.Unmarshal(data, &raw); err != nil {
		return setKey{}, fmt.Errorf("malformed member: %v", err)
	}
	k := setKey{kid: raw.Kid, kty: raw.Kty, crv: raw.Crv}
	if err := checkMembers(members, raw); err != nil {
		return k, err
	}
	if raw.Alg != nil {
		k.alg = *raw.Alg
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return k, fmt.Errorf("unusable %s key: %v", raw.Kty, err)
	}
	pub, err := checkPublicKey(jwk.Key, raw)
	if err != nil {
		return k, err
	}
	k.pub = pub
	return k, nil
}

// checkMembers applies the registration rules that need the raw members.
func checkMembers(members map[string]josejson.RawMessage, raw rawKey) error {
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return fmt.Errorf("private key member %q present", m)
		}
	}
	if raw.Kty == "" {
		return errors.New("kty missing")
	}
	if raw.Kty != "RSA" && raw.Kty != "EC" {
		return fmt.Errorf("kty %q not supported (RSA or EC)", shorten(raw.Kty))
	}
	if raw.Kid == "" {
		return errors.New("kid missing")
	}
	if raw.Use != nil && *raw.Use != "sig" {
		return fmt.Errorf("use %q is not \"sig\"", shorten(*raw.Use))
	}
	if raw.KeyOps != nil && !slices.Contains(*raw.KeyOps, "verify") {
		return errors.New("key_ops lacks \"verify\"")
	}
	if raw.Alg != nil {
		kty, crv, ok := algKeyType(*raw.Alg)
		if !ok {
			return fmt.Errorf("alg %q not supported", shorten(*raw.Alg))
		}
		if kty != raw.Kty || (crv != "" && crv != raw.Crv) {
			return fmt.Errorf("alg %s does not fit a %s %s key", *raw.Alg, raw.Kty, raw.Crv)
		}
	}
	return nil
}

// checkPublicKey enforces key strength on the parsed key.
func checkPublicKey(key any, raw rawKey) (crypto.PublicKey, error) {
	switch pub := key.(type) {
	case *rsa.PublicKey:
		if raw.Kty != "RSA" {
			return nil, errors.New("key does not match kty")
		}
		if bits := pub.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("RSA modulus is %d bits, at least %d required", bits, minRSABits)
		}
		return pub, nil
	case *ecdsa.PublicKey:
		if raw.Kty != "EC" {
			return nil, errors.New("key does not match kty")
		}
		if name := pub.Curve.Params().Name; name != "P-256" && name != "P-384" {
			return nil, fmt.Errorf("EC curve %s not supported (P-256 or P-384)", name)
		}
		return pub, nil
	default:
		return nil, fmt.Errorf("%T is not a supported public key", key)
	}
}

// algKeyType maps a JWS algorithm to the key type (and EC curve) that can
// verify it.
func algKeyType(alg string) (kty, crv string, ok bool) {
	switch alg {
	case "RS256", "RS384":
		return "RSA", "", true
	case "ES256":
		return "EC", "P-256", true
	case "ES384":
		return "EC", "P-384", true
	}
	return "", "", false
}

// shorten bounds a client-supplied value quoted in an error.
func shorten(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// Select returns the single key whose kid matches and whose type (and EC
// curve, and alg member if any) fits alg — SMART's key selection. It
// returns ErrKeyNotFound or ErrKeyAmbiguous otherwise.
func (s *KeySet) Select(kid, alg string) (crypto.PublicKey, error) {
	kty, crv, ok := algKeyType(alg)
	if !ok {
		return nil, fmt.Errorf("alg %q not supported", shorten(alg))
	}
	var found crypto.PublicKey
	n := 0
	for _, k := range s.keys {
		if k.kid != kid || k.kty != kty || (crv != "" && k.crv != crv) || (k.alg != "" && k.alg != alg) {
			continue
		}
		found = k.pub
		n++
	}
	switch n {
	case 0:
		return nil, ErrKeyNotFound
	case 1:
		return found, nil
	default:
		return nil, ErrKeyAmbiguous
	}
}

// JWKSFetcher fetches and caches clients' JWK Sets. The URLs come from
// clients, so it guards against SSRF: https only, no redirects, and no
// connections to non-public addresses unless AllowPrivate is set. The
// zero value is ready to use. Its fields must not change after first use.
type JWKSFetcher struct {
	// Clock drives cache expiry and the refetch rate limit (default
	// clock.System).
	Clock clock.Clock
	// TLSConfig, if set, is used for connections (e.g. test roots);
	// TLS 1.2 is the minimum regardless.
	TLSConfig *tls.Config
	// AllowPrivate permits loopback, private, link-local and CGNAT
	// addresses: for tests and for operators whose clients live on a
	// private network.
	AllowPrivate bool
	// Timeout bounds a whole fetch (default 5 s).
	Timeout time.Duration
	// MaxCacheAge caps how long a set is reused whatever max-age says
	// (default 24 h).
	MaxCacheAge time.Duration
	// RefetchInterval is the least time between forced refetches of one
	// URL (default 10 s).
	RefetchInterval time.Duration

	initOnce sync.Once
	client   *http.Client

	mu      sync.Mutex
	entries map[string]*jwksEntry
}

type jwksEntry struct {
	set     *KeySet // nil when the last response may not be reused
	expires time.Time
	limiter *rate.Limiter
}

// KeySet returns the set served at rawURL, from the cache while the
// server's Cache-Control allows, else fetched; fresh reports a fetch by
// this call (so a kid miss on it is not worth a refetch).
func (f *JWKSFetcher) KeySet(ctx context.Context, rawURL string) (set *KeySet, fresh bool, err error) {
	now := f.now()
	f.mu.Lock()
	if e := f.entries[rawURL]; e != nil && e.set != nil && now.Before(e.expires) {
		set = e.set
	}
	f.mu.Unlock()
	if set != nil {
		return set, false, nil
	}
	set, err = f.fetch(ctx, rawURL)
	return set, err == nil, err
}

// Refetch fetches rawURL again whatever the cache holds, at most once per
// RefetchInterval per URL, so that assertions with random kids cannot make
// us hammer a client's server; it returns ErrRefetchLimited when refused.
func (f *JWKSFetcher) Refetch(ctx context.Context, rawURL string) (*KeySet, error) {
	now := f.now()
	f.mu.Lock()
	allowed := f.entry(rawURL).limiter.AllowN(now, 1)
	f.mu.Unlock()
	if !allowed {
		return nil, ErrRefetchLimited
	}
	return f.fetch(ctx, rawURL)
}

// entry returns rawURL's cache entry, creating it; f.mu must be held.
func (f *JWKSFetcher) entry(rawURL string) *jwksEntry {
	if f.entries == nil {
		f.entries = map[string]*jwksEntry{}
	}
	e := f.entries[rawURL]
	if e == nil {
		e = &jwksEntry{limiter: rate.NewLimiter(rate.Every(f.refetchInterval()), 1)}
		f.entries[rawURL] = e
	}
	return e
}

func (f *JWKSFetcher) now() time.Time {
	if f.Clock == nil {
		return clock.System{}.Now()
	}
	return f.Clock.Now()
}

func (f *JWKSFetcher) refetchInterval() time.Duration {
	if f.RefetchInterval > 0 {
		return f.RefetchInterval
	}
	return 10 * time.Second
}

func (f *JWKSFetcher) maxCacheAge() time.Duration {
	if f.MaxCacheAge > 0 {
		return f.MaxCacheAge
	}
	return 24 * time.Hour
}

// fetch GETs rawURL, validates the set and records it in the cache.
func (f *JWKSFetcher) fetch(ctx context.Context, rawURL string) (*KeySet, error) {
	set, maxAge, err := f.get(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", rawURL, err)
	}
	now := f.now()
	f.mu.Lock()
	e := f.entry(rawURL)
	e.set, e.expires = nil, time.Time{}
	if maxAge > 0 {
		e.set, e.expires = set, now.Add(min(maxAge, f.maxCacheAge()))
	}
	f.mu.Unlock()
	return set, nil
}

// get performs one guarded request and returns the set and how long the
// response says it may be reused.
func (f *JWKSFetcher) get(ctx context.Context, rawURL string) (*KeySet, time.Duration, error) {
	if err := checkJWKSURL(rawURL); err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.httpClient().Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := readJWKSResponse(resp)
	if err != nil {
		return nil, 0, err
	}
	set, err := ParseKeySet(body)
	if err != nil {
		return nil, 0, err
	}
	return set, cacheLifetime(resp.Header), nil
}

// checkJWKSURL refuses anything but an absolute https URL without
// credentials.
func checkJWKSURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	if u.Scheme != "https" {
		return errors.New("URL must use https")
	}
	if u.Host == "" || u.User != nil {
		return errors.New("URL must name a host and carry no credentials")
	}
	return nil
}

// readJWKSResponse checks status and media type and reads a bounded body.
func readJWKSResponse(resp *http.Response) ([]byte, error) {
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/jwk-set+json") {
		return nil, fmt.Errorf("content type %q is not JSON", shorten(resp.Header.Get("Content-Type")))
	}
	if resp.ContentLength > maxKeySetBytes {
		return nil, fmt.Errorf("body larger than %d bytes", maxKeySetBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxKeySetBytes {
		return nil, fmt.Errorf("body larger than %d bytes", maxKeySetBytes)
	}
	return body, nil
}

// cacheLifetime reads Cache-Control: max-age (less Age, which a CDN adds)
// and returns zero — do not reuse — for no-store, no-cache, a missing or
// malformed max-age, or conflicting directives.
func cacheLifetime(h http.Header) time.Duration {
	maxAge := -1
	for _, line := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(value), `"`))
				if err != nil || n < 0 || (maxAge >= 0 && n != maxAge) {
					return 0
				}
				maxAge = n
			}
		}
	}
	if maxAge <= 0 {
		return 0
	}
	if age, err := strconv.Atoi(h.Get("Age")); err == nil && age > 0 {
		maxAge -= age
	}
	return max(time.Duration(maxAge)*time.Second, 0)
}

func (f *JWKSFetcher) httpClient() *http.Client {
	f.initOnce.Do(func() {
		timeout := f.Timeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		f.client = newJWKSClient(f.TLSConfig, timeout, f.AllowPrivate)
	})
	return f.client
}

// newJWKSClient builds a client that cannot be steered: no proxy (the
// address check must see the real peer), no cookies, no redirects, and an
// address check after DNS resolution, so rebinding cannot bypass it.
func newJWKSClient(tlsConf *tls.Config, timeout time.Duration, allowPrivate bool) *http.Client {
	var conf *tls.Config
	if tlsConf != nil {
		conf = tlsConf.Clone()
	} else {
		conf = &tls.Config{}
	}
	conf.MinVersion = max(conf.MinVersion, tls.VersionTLS12)
	dialer := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		dialer.Control = refusePrivate
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        conf,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 16 << 10,
		ForceAttemptHTTP2:      true,
		IdleConnTimeout:        90 * time.Second,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("redirect refused: a JWKS URL must serve the set itself")
		},
	}
}

// refusePrivate is a net.Dialer Control hook: it sees the resolved address
// about to be connected to.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s %s: %w", network, address, err)
	}
	if blockedAddr(ap.Addr()) {
		return fmt.Errorf("dial %s: address %s is not public", network, ap.Addr())
	}
	return nil
}

// blockedPrefixes are non-public ranges netip has no predicate for.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001::/32"),      // Teredo
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("192.88.99.0/24"), // 6to4 relay anycast
	netip.MustParsePrefix("255.255.255.255/32"),
}

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// blockedAddr reports whether ip is loopback, private, link-local,
// unspecified, multicast, CGNAT or otherwise not a public unicast address.
// Translated IPv6 forms are judged by the IPv4 address they embed.
func blockedAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() ||
		ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() {
		return true
	}
	b := ip.As16()
	switch {
	case nat64Prefix.Contains(ip):
		return blockedAddr(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		return blockedAddr(netip.AddrFrom4([4]byte(b[2:6])))
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
