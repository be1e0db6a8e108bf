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
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/store"
)

// tokenID is the record name of a token hash.
func tokenID(hash []byte) string { return hex.EncodeToString(hash[:8]) }

// Why a request has no caller: ErrNoToken when it carries no bearer
// token, ErrInvalidToken for every reason a token is refused (the client
// learns no more than that: RFC 6750 invalid_token).
var (
	ErrNoToken      = errors.New("no access token")
	ErrInvalidToken = errors.New("invalid_token")
)

// Authenticate returns the caller of an access token. Tokens are
// looked up by hash; what is found is cached for at most recheckAfter, so
// a FHIR request costs a hash and a map lookup, and a disabled client or
// expired token stops working everywhere within seconds.
func (s *Server) Authenticate(ctx context.Context, token string) (*interaction.Caller, error) {
	if token == "" || len(token) > 512 {
		return nil, ErrInvalidToken
	}
	hash := sha256.Sum256([]byte(token))
	now := s.cfg.Clock.Now()
	if p, ok := s.tokens.get(hash, now); ok {
		return p, nil
	}
	rec, err := s.cfg.Store.Token(ctx, hash[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("token lookup: %w", err)
	}
	if !now.Before(rec.Expires) {
		return nil, ErrInvalidToken
	}
	reg, err := s.clients.get(ctx, rec.ClientID)
	if err != nil {
		return nil, err
	}
	if reg == nil || reg.Disabled {
		return nil, ErrInvalidToken
	}
	if _, err := s.grants.get(rec.Scope); err != nil {
		return nil, err
	}
	p := &interaction.Caller{
		ClientID: reg.ClientID, ClientName: reg.Name,
		Organization: reg.Organization, OrganizationName: reg.OrganizationName,
		Roles: reg.Roles, SeesRestricted: reg.SeesRestricted,
		Scope: rec.Scope, IssuedAt: rec.IssuedAt, Expires: rec.Expires,
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
	p     *interaction.Caller
	until time.Time
}

func (c *tokenCache) get(hash [32]byte, now time.Time) (*interaction.Caller, bool) {
	c.mu.RLock()
	e, ok := c.m[hash]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.p, true
}

func (c *tokenCache) put(hash [32]byte, p *interaction.Caller, until time.Time) {
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

// Grants is the server's interaction.Authorizer: what c's access token
// grants, from its scope.
func (s *Server) Grants(_ context.Context, c *interaction.Caller) (interaction.Grants, error) {
	return s.grants.get(c.Scope)
}

// grantCache keeps parsed scopes by their text: every request of a token
// asks for the same grants.
type grantCache struct {
	mu sync.Mutex
	m  map[string]*Grants
}

// get returns the grants of scope; a scope that does not parse grants
// nothing and is an error (it was stored by this server).
func (c *grantCache) get(scope string) (*Grants, error) {
	c.mu.Lock()
	g, ok := c.m[scope]
	c.mu.Unlock()
	if ok {
		return g, nil
	}
	scopes, err := ParseScopes(scope)
	if err != nil {
		return nil, fmt.Errorf("stored token scope %q: %w", scope, err)
	}
	g = NewGrants(scopes)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= 10_000 {
		c.m = map[string]*Grants{}
	}
	c.m[scope] = g
	c.mu.Unlock()
	return g, nil
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
