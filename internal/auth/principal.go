package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/store"
)

// Principal is the authenticated caller of a FHIR request: the client
// system, the organization it acts for, and what its token grants.
type Principal struct {
	ClientID         string
	ClientName       string
	Organization     string // Organization/…
	OrganizationName string
	Scope            string // granted scopes, as issued
	// Roles and SeesRestricted are the registration's, for usage
	// restrictions.
	Roles          []string
	SeesRestricted bool
	Grants         *Grants
	IssuedAt       time.Time
	Expires        time.Time
	// TokenID names the access token in records without revealing it: the
	// first 16 hex digits of its SHA-256 (the database keeps the hash).
	TokenID string
}

// tokenID is the record name of a token hash.
func tokenID(hash []byte) string { return hex.EncodeToString(hash[:8]) }

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller, or nil for an unauthenticated context.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// errInvalidToken is every reason a bearer token is refused; the client
// learns no more than that (RFC 6750 invalid_token).
var errInvalidToken = errors.New("invalid_token")

// Authenticate returns the principal of an access token. Tokens are
// looked up by hash; what is found is cached for at most recheckAfter, so
// a FHIR request costs a hash and a map lookup, and a disabled client or
// expired token stops working everywhere within seconds.
func (s *Server) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if token == "" || len(token) > 512 {
		return nil, errInvalidToken
	}
	hash := sha256.Sum256([]byte(token))
	now := s.cfg.Clock.Now()
	if p, ok := s.tokens.get(hash, now); ok {
		return p, nil
	}
	rec, err := s.cfg.Store.Token(ctx, hash[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, errInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("token lookup: %w", err)
	}
	if !now.Before(rec.Expires) {
		return nil, errInvalidToken
	}
	reg, err := s.clients.get(ctx, rec.ClientID)
	if err != nil {
		return nil, err
	}
	if reg == nil || reg.Disabled {
		return nil, errInvalidToken
	}
	scopes, err := ParseScopes(rec.Scope)
	if err != nil {
		return nil, fmt.Errorf("stored token scope %q: %w", rec.Scope, err)
	}
	p := &Principal{
		ClientID: reg.ClientID, ClientName: reg.Name,
		Organization: reg.Organization, OrganizationName: reg.OrganizationName,
		Roles: reg.Roles, SeesRestricted: reg.SeesRestricted,
		Scope: rec.Scope, Grants: NewGrants(scopes), IssuedAt: rec.IssuedAt, Expires: rec.Expires,
		TokenID: tokenID(hash[:]),
	}
	s.tokens.put(hash, p, earliest(rec.Expires, now.Add(recheckAfter)))
	return p, nil
}

// bearer extracts the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// tokenCache remembers authenticated tokens by hash until a deadline.
type tokenCache struct {
	mu sync.RWMutex
	m  map[[32]byte]tokenEntry
}

type tokenEntry struct {
	p     *Principal
	until time.Time
}

func (c *tokenCache) get(hash [32]byte, now time.Time) (*Principal, bool) {
	c.mu.RLock()
	e, ok := c.m[hash]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.p, true
}

func (c *tokenCache) put(hash [32]byte, p *Principal, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= 100_000 {
		now := time.Now()
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= 100_000 {
			clear(c.m) // only cached: the database still has every token
		}
	}
	c.m[hash] = tokenEntry{p: p, until: until}
}

// clientCache reads registrations, remembering them for recheckAfter.
type clientCache struct {
	store store.AuthStore
	clock clock.Clock
	mu    sync.Mutex
	m     map[string]clientEntry
}

type clientEntry struct {
	reg   *Registration
	until time.Time
}

// get returns a registration (nil when unknown), cached.
func (c *clientCache) get(ctx context.Context, id string) (*Registration, error) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.reg, nil
	}
	reg, err := c.fresh(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) > 10_000 {
		clear(c.m)
	}
	c.m[id] = clientEntry{reg: reg, until: now.Add(recheckAfter)}
	c.mu.Unlock()
	return reg, nil
}

// fresh reads a registration from the database (nil when unknown).
func (c *clientCache) fresh(ctx context.Context, id string) (*Registration, error) {
	rec, err := c.store.Client(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("client %s: %w", id, err)
	}
	return decodeRegistration(rec)
}

// decodeRegistration reads a stored registration.
func decodeRegistration(rec *store.ClientRecord) (*Registration, error) {
	var reg Registration
	if err := json.Unmarshal(rec.Data, &reg); err != nil {
		return nil, fmt.Errorf("client %s: stored registration: %w", rec.ID, err)
	}
	reg.ClientID = rec.ID
	reg.Disabled = rec.Disabled
	return &reg, nil
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
