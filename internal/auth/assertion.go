package auth

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/vhdir/vhdir/internal/clock"
)

// Limits on a client assertion.
const (
	maxAssertionBytes = 8 << 10
	maxJTIBytes       = 255
	// maxAssertionLifetime is SMART's "no more than five minutes in the
	// future" for exp.
	maxAssertionLifetime = 5 * time.Minute
	defaultLeeway        = 60 * time.Second
)

// assertionAlgs is the signature allow-list; it must match
// token_endpoint_auth_signing_alg_values_supported. Naming it explicitly
// is what keeps none, HS* (key confusion) and RS256 out.
var assertionAlgs = []jose.SignatureAlgorithm{jose.RS384, jose.ES384}

// AssertionVerifier checks a client_assertion per SMART Backend Services
// (client-confidential-asymmetric) and RFC 7523 §3.
type AssertionVerifier struct {
	TokenURL string        // the token endpoint URL as advertised; aud must contain it exactly
	Clock    clock.Clock   // default clock.System
	Leeway   time.Duration // clock skew allowed (default 60 s when zero; negative means none)
	// Lookup finds a client; a nil Registration or an error means an
	// unknown client.
	Lookup func(ctx context.Context, clientID string) (*Registration, error)
	// Fetcher gets key sets for registrations with JWKSURI and for jku.
	Fetcher *JWKSFetcher
	// UseJTI records jti for the client until the given time; false means
	// it was already used (a replay).
	UseJTI func(ctx context.Context, clientID, jti string, until time.Time) (bool, error)
}

// AssertionError is every refusal of Verify. Reason is for the server log
// only; the client sees just invalid_client.
type AssertionError struct {
	Reason string
	Err    error
}

func (e *AssertionError) Error() string {
	if e.Err == nil {
		return "client assertion refused: " + e.Reason
	}
	return "client assertion refused: " + e.Reason + ": " + e.Err.Error()
}

func (e *AssertionError) Unwrap() error { return e.Err }

func refuseAssertion(reason string, err error) *AssertionError {
	return &AssertionError{Reason: reason, Err: err}
}

// parsedAssertion is what the checks before signature verification learn.
type parsedAssertion struct {
	tok    *jwt.JSONWebToken
	kid    string
	alg    string
	jku    string // "" when absent
	hasJKU bool
	iss    string
}

// Verify returns the authenticated client's registration. Every failure is
// an *AssertionError; errors from Lookup, the fetcher or UseJTI are wrapped
// in one too, reachable with errors.As/Is.
func (v *AssertionVerifier) Verify(ctx context.Context, assertion string) (*Registration, error) {
	reg, c, err := v.check(ctx, assertion)
	if err != nil {
		return nil, err
	}
	if err := v.useJTI(ctx, reg.ClientID, c); err != nil {
		return nil, err
	}
	return reg, nil
}

// Verified is a checked assertion whose id is not yet recorded: the
// caller records it (until Until) together with what it grants.
type Verified struct {
	JTI   string
	Until time.Time // exp + leeway: as long as the assertion would be accepted
}

// VerifyUnused is Verify without recording the assertion's id; the caller
// must record it (store.AuthStore.IssueToken) before acting on it.
func (v *AssertionVerifier) VerifyUnused(ctx context.Context, assertion string) (*Registration, *Verified, error) {
	reg, c, err := v.check(ctx, assertion)
	if err != nil {
		return nil, nil, err
	}
	if err := checkJTI(c); err != nil {
		return nil, nil, err
	}
	return reg, &Verified{JTI: c.ID, Until: c.Expiry.Time().Add(v.leeway())}, nil
}

// check applies every rule but the replay check.
func (v *AssertionVerifier) check(ctx context.Context, assertion string) (*Registration, *jwt.Claims, error) {
	p, err := parseAssertion(assertion)
	if err != nil {
		return nil, nil, err
	}
	reg, err := v.client(ctx, p.iss)
	if err != nil {
		return nil, nil, err
	}
	key, err := v.verificationKey(ctx, reg, p)
	if err != nil {
		return nil, nil, err
	}
	var c jwt.Claims
	if err := p.tok.Claims(key, &c); err != nil {
		return nil, nil, refuseAssertion("signature does not verify", err)
	}
	if err := v.checkClaims(reg, &c); err != nil {
		return nil, nil, err
	}
	return reg, &c, nil
}

// parseAssertion applies the structural and header rules and reads iss
// without verifying anything.
func parseAssertion(s string) (*parsedAssertion, error) {
	if len(s) > maxAssertionBytes {
		return nil, refuseAssertion("oversize", fmt.Errorf("%d bytes, at most %d", len(s), maxAssertionBytes))
	}
	if strings.Count(s, ".") != 2 {
		return nil, refuseAssertion("malformed", errors.New("not a compact JWS of three parts"))
	}
	if err := checkCanonical(s); err != nil {
		return nil, refuseAssertion("malformed", err)
	}
	tok, err := jwt.ParseSigned(s, assertionAlgs)
	if err != nil {
		var algErr *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &algErr) {
			return nil, refuseAssertion("alg not allowed", err)
		}
		return nil, refuseAssertion("malformed", err)
	}
	if len(tok.Headers) != 1 {
		return nil, refuseAssertion("malformed", errors.New("not exactly one signature"))
	}
	p, err := checkHeader(tok.Headers[0])
	if err != nil {
		return nil, err
	}
	p.tok = tok
	if p.iss, err = unverifiedClient(tok); err != nil {
		return nil, err
	}
	return p, nil
}

// checkCanonical requires each part to be canonical unpadded base64url.
// go-jose verifies over a re-encoding of what it decoded, and Go's decoder
// skips newlines and ignores stray trailing bits, so without this check
// many different strings would pass as the one the client signed.
func checkCanonical(s string) error {
	for part := range strings.SplitSeq(s, ".") {
		b, err := base64.RawURLEncoding.DecodeString(part)
		if err != nil {
			return fmt.Errorf("part is not base64url: %w", err)
		}
		if base64.RawURLEncoding.EncodeToString(b) != part {
			return errors.New("part is not canonical base64url")
		}
	}
	return nil
}

// checkHeader applies the header rules: kid and typ JWT required, no crit.
func checkHeader(h jose.Header) (*parsedAssertion, error) {
	if h.KeyID == "" {
		return nil, refuseAssertion("kid missing", nil)
	}
	typ, ok := h.ExtraHeaders[jose.HeaderType].(string)
	if !ok || !strings.EqualFold(typ, "JWT") {
		return nil, refuseAssertion("typ is not JWT", fmt.Errorf("typ %q", shorten(fmt.Sprint(h.ExtraHeaders[jose.HeaderType]))))
	}
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, refuseAssertion("crit header", nil)
	}
	// go-jose honours b64 (RFC 7797) even outside crit; an unencoded
	// payload has no place in a JWT, and other libraries would verify
	// different bytes, so refuse it.
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return nil, refuseAssertion("b64 header", nil)
	}
	p := &parsedAssertion{kid: h.KeyID, alg: h.Algorithm}
	if raw, ok := h.ExtraHeaders["jku"]; ok {
		jku, isString := raw.(string)
		if !isString || jku == "" {
			return nil, refuseAssertion("jku not registered", errors.New("jku is not a URL string"))
		}
		p.jku, p.hasJKU = jku, true
	}
	return p, nil
}

// unverifiedClient reads iss and sub before the signature is checked, only
// to find the client whose keys will check it.
func unverifiedClient(tok *jwt.JSONWebToken) (string, error) {
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return "", refuseAssertion("malformed claims", err)
	}
	if c.Issuer == "" || c.Subject == "" {
		return "", refuseAssertion("iss or sub missing", nil)
	}
	if c.Issuer != c.Subject {
		return "", refuseAssertion("iss differs from sub", nil)
	}
	return c.Issuer, nil
}

// client looks up an enabled registration for clientID.
func (v *AssertionVerifier) client(ctx context.Context, clientID string) (*Registration, error) {
	if v.Lookup == nil {
		return nil, refuseAssertion("unknown client", errors.New("no client lookup configured"))
	}
	reg, err := v.Lookup(ctx, clientID)
	if err != nil {
		return nil, refuseAssertion("unknown client", fmt.Errorf("look up %q: %w", shorten(clientID), err))
	}
	// A lookup returning someone else's registration would let one
	// client's keys authenticate another.
	if reg == nil || reg.ClientID != clientID {
		return nil, refuseAssertion("unknown client", fmt.Errorf("client %q", shorten(clientID)))
	}
	if reg.Disabled {
		return nil, refuseAssertion("client disabled", fmt.Errorf("client %q", reg.ClientID))
	}
	return reg, nil
}

// verificationKey resolves the key per SMART: jku (only if registered),
// else the registered set by value or by URL; then the single key for
// kid+alg, refetching a URL-based set once on a kid miss.
func (v *AssertionVerifier) verificationKey(ctx context.Context, reg *Registration, p *parsedAssertion) (crypto.PublicKey, error) {
	if p.hasJKU {
		if !slices.Contains(reg.JKU, p.jku) {
			return nil, refuseAssertion("jku not registered", fmt.Errorf("jku %q", shorten(p.jku)))
		}
		return v.keyFromURL(ctx, p.jku, p)
	}
	switch {
	case len(reg.JWKS) > 0 && reg.JWKSURI != "":
		return nil, refuseAssertion("no usable keys", errors.New("registration has both jwks and jwks_uri"))
	case len(reg.JWKS) > 0:
		set, err := ParseKeySet(reg.JWKS)
		if err != nil {
			return nil, refuseAssertion("no usable keys", fmt.Errorf("registered jwks: %w", err))
		}
		return selectKey(set, p)
	case reg.JWKSURI != "":
		return v.keyFromURL(ctx, reg.JWKSURI, p)
	}
	return nil, refuseAssertion("no usable keys", errors.New("registration has no keys"))
}

// keyFromURL selects from the set at rawURL. A kid miss on a cached set
// may mean the client rotated its keys, so the set is refetched once
// (rate-limited by the fetcher).
func (v *AssertionVerifier) keyFromURL(ctx context.Context, rawURL string, p *parsedAssertion) (crypto.PublicKey, error) {
	if v.Fetcher == nil {
		return nil, refuseAssertion("no usable keys", errors.New("no JWKS fetcher configured"))
	}
	set, fresh, err := v.Fetcher.KeySet(ctx, rawURL)
	if err != nil {
		return nil, refuseAssertion("no usable keys", err)
	}
	key, err := selectKey(set, p)
	if err == nil || fresh || !errors.Is(err, ErrKeyNotFound) {
		return key, err
	}
	set, ferr := v.Fetcher.Refetch(ctx, rawURL)
	if ferr != nil {
		return nil, refuseAssertion("no matching key", fmt.Errorf("%w; refetch: %w", ErrKeyNotFound, ferr))
	}
	return selectKey(set, p)
}

// selectKey wraps KeySet.Select's refusal.
func selectKey(set *KeySet, p *parsedAssertion) (crypto.PublicKey, error) {
	key, err := set.Select(p.kid, p.alg)
	if err != nil {
		return nil, refuseAssertion("no matching key", fmt.Errorf("kid %q alg %s: %w", shorten(p.kid), p.alg, err))
	}
	return key, nil
}

// checkClaims applies RFC 7523 §3 and SMART to the verified claims.
func (v *AssertionVerifier) checkClaims(reg *Registration, c *jwt.Claims) error {
	// iss and sub were read unverified to find the client; the signed
	// payload is the same bytes, but say so where it matters.
	if c.Issuer != reg.ClientID || c.Subject != reg.ClientID {
		return refuseAssertion("iss or sub differs from client", nil)
	}
	if v.TokenURL == "" || !slices.Contains(c.Audience, v.TokenURL) {
		return refuseAssertion("aud lacks the token URL", fmt.Errorf("aud %q", shortenAll(c.Audience)))
	}
	return v.checkTimes(c)
}

// checkTimes checks exp (required, go-jose would skip a missing one),
// SMART's five-minute cap, and nbf/iat if present.
func (v *AssertionVerifier) checkTimes(c *jwt.Claims) error {
	now, leeway := v.now(), v.leeway()
	if c.Expiry == nil {
		return refuseAssertion("exp missing", nil)
	}
	exp := c.Expiry.Time()
	if !exp.After(now.Add(-leeway)) {
		return refuseAssertion("expired", fmt.Errorf("exp %s, now %s", exp.UTC().Format(time.RFC3339), now.Format(time.RFC3339)))
	}
	if exp.After(now.Add(maxAssertionLifetime + leeway)) {
		return refuseAssertion("exp too far ahead", fmt.Errorf("exp %s, now %s", exp.UTC().Format(time.RFC3339), now.Format(time.RFC3339)))
	}
	if c.NotBefore != nil && c.NotBefore.Time().After(now.Add(leeway)) {
		return refuseAssertion("nbf in the future", nil)
	}
	if c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(leeway)) {
		return refuseAssertion("iat in the future", nil)
	}
	return nil
}

// useJTI checks jti and records it until exp+leeway — the whole time the
// assertion would still be accepted, so evicting it cannot reopen a
// replay window.
func (v *AssertionVerifier) useJTI(ctx context.Context, clientID string, c *jwt.Claims) error {
	if err := checkJTI(c); err != nil {
		return err
	}
	if v.UseJTI == nil {
		return refuseAssertion("replay check unavailable", errors.New("no UseJTI configured"))
	}
	fresh, err := v.UseJTI(ctx, clientID, c.ID, c.Expiry.Time().Add(v.leeway()))
	if err != nil {
		return refuseAssertion("replay check failed", err)
	}
	if !fresh {
		return refuseAssertion("jti replayed", nil)
	}
	return nil
}

// checkJTI requires a jti of bounded length.
func checkJTI(c *jwt.Claims) error {
	if c.ID == "" {
		return refuseAssertion("jti missing", nil)
	}
	if len(c.ID) > maxJTIBytes {
		return refuseAssertion("jti too long", fmt.Errorf("%d bytes, at most %d", len(c.ID), maxJTIBytes))
	}
	return nil
}

func (v *AssertionVerifier) now() time.Time {
	if v.Clock == nil {
		return clock.System{}.Now()
	}
	return v.Clock.Now()
}

func (v *AssertionVerifier) leeway() time.Duration {
	switch {
	case v.Leeway == 0:
		return defaultLeeway
	case v.Leeway < 0:
		return 0
	}
	return v.Leeway
}

// shortenAll bounds client-supplied values quoted in an error.
func shortenAll(ss []string) []string {
	out := make([]string, 0, min(len(ss), 4))
	for _, s := range ss[:min(len(ss), 4)] {
		out = append(out, shorten(s))
	}
	return out
}
