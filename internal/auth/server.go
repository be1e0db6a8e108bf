package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/store"
)

// Paths of the authorization server's endpoints, under the base URL.
const (
	TokenPath      = "/auth/token"
	IntrospectPath = "/auth/introspect"
)

// Token lifetimes and checks.
const (
	// TokenLifetime is every access token's lifetime: SMART recommends
	// 300 s and says it should not exceed that.
	TokenLifetime = 5 * time.Minute
	// recheckAfter bounds how long a node trusts what it cached about a
	// token: a disabled client loses access within this time, on every
	// node, without any node telling the others.
	recheckAfter = 10 * time.Second
	// assertionLeeway absorbs clock skew between clients and us.
	assertionLeeway = time.Minute
	maxTokenForm    = 64 << 10
)

// Config configures the authorization server.
type Config struct {
	// BaseURL is the public base URL; the token endpoint, the audience
	// of client assertions, is BaseURL + TokenPath.
	BaseURL string
	Store   store.AuthStore
	Clock   clock.Clock
	Logger  *slog.Logger
	// Fetcher gets clients' key sets from their JWKS URLs.
	Fetcher *JWKSFetcher
	// Types are the resource types scopes may name.
	Types []string
	// Filters decides whether a query-filtered scope's condition is a
	// search the server can run on its type; scopes it refuses are not
	// granted.
	Filters Filters
	// Auditor records token requests and learns who authenticated.
	Auditor Auditor
	// FailuresPerMinute limits failed token requests per client and per
	// source address (default 30); beyond it, 429 until the budget refills.
	FailuresPerMinute int
}

// Filters compiles search parameters into conditions (package search's
// Engine); an error means the server cannot run the search.
type Filters interface {
	Filter(typ string, q url.Values) (store.Cond, error)
}

// Auditor is the audit trail as the authorization server meets it. The
// server cannot run without one: package audit's Recorder is it.
type Auditor interface {
	// Token learns the outcome of every token request before the answer
	// is written.
	Token(ctx context.Context, o TokenOutcome)
	// Authenticated learns who a request with a valid access token comes
	// from, with the request's context before the caller is added (the
	// audit trail lives outside this middleware).
	Authenticated(ctx context.Context, c *interaction.Caller)
}

// TokenOutcome is what the audit trail records of a token request: never
// the assertion or the token.
type TokenOutcome struct {
	// Client is the registered client, when the assertion proved it;
	// ClaimedClient the issuer an unproven assertion named.
	Client        *Registration
	ClaimedClient string
	Address       string
	Scope         string // granted
	TokenID       string // see interaction.Caller.TokenID
	// Status is the HTTP status; Error and Description the OAuth error
	// the client was given (Reason, what was wrong, stays server-side in
	// the log and in the record).
	Status             int
	Error, Description string
	Reason             string
}

// Server is the authorization server: token endpoint, introspection,
// discovery, and the checks on every FHIR request.
type Server struct {
	cfg      Config
	log      *slog.Logger
	tokenURL string
	verifier *AssertionVerifier
	tokens   tokenCache
	grants   grantCache
	clients  clientCache
	limits   failureLimits
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.BaseURL == "":
		return nil, errors.New("auth: BaseURL is required")
	case cfg.Store == nil, cfg.Clock == nil, cfg.Filters == nil, cfg.Auditor == nil:
		return nil, errors.New("auth: Store, Clock, Filters and Auditor are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Fetcher == nil {
		cfg.Fetcher = &JWKSFetcher{Clock: cfg.Clock}
	}
	if cfg.FailuresPerMinute <= 0 {
		cfg.FailuresPerMinute = 30
	}
	s := &Server{cfg: cfg, log: cfg.Logger, tokenURL: strings.TrimSuffix(cfg.BaseURL, "/") + TokenPath}
	s.clients = clientCache{store: cfg.Store, clock: cfg.Clock, m: map[string]clientEntry{}}
	s.tokens = tokenCache{m: map[[32]byte]tokenEntry{}}
	s.limits = failureLimits{perMinute: cfg.FailuresPerMinute, m: map[string]*limitEntry{}}
	s.verifier = &AssertionVerifier{
		TokenURL: s.tokenURL,
		Clock:    cfg.Clock,
		Leeway:   assertionLeeway,
		Lookup:   s.lookupClient,
		Fetcher:  cfg.Fetcher,
	}
	return s, nil
}

// TokenURL is the token endpoint's public URL.
func (s *Server) TokenURL() string { return s.tokenURL }

// IntrospectURL is the introspection endpoint's public URL.
func (s *Server) IntrospectURL() string {
	return strings.TrimSuffix(s.cfg.BaseURL, "/") + IntrospectPath
}

// errBackend marks failures of the database behind a check, which are the
// server's fault (500), not the client's (invalid_client).
var errBackend = errors.New("authorization store")

// lookupClient returns a registration for assertion checks: always read
// from the database, so a client disabled a moment ago cannot get a token.
func (s *Server) lookupClient(ctx context.Context, id string) (*Registration, error) {
	reg, err := s.clients.fresh(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBackend, err)
	}
	return reg, nil
}

// Routes registers the token, introspection and discovery endpoints.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+TokenPath, s.handleToken)
	mux.Handle("POST "+IntrospectPath, s.RequireToken(http.HandlerFunc(s.handleIntrospect)))
	for _, p := range []string{"/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"} {
		mux.HandleFunc("GET "+p, s.handleDiscovery)
	}
	// Other methods get an OAuth-shaped error rather than a FHIR one.
	for _, p := range []string{TokenPath, IntrospectPath} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "POST")
			WriteOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", r.Method+" is not allowed; POST a form")
		})
	}
}

// WriteOAuthError writes an RFC 6749 §5.2 error: the one way an OAuth
// error reaches a client.
func WriteOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// tokenError is a refusal at the token endpoint: the client sees Code and
// Desc; the log gets Detail too.
type tokenError struct {
	Code, Desc string
	Detail     error
	ClientID   string // when known (the assertion's iss), for rate limits
	// wait, when set, refuses the request as too many failures (429):
	// the claimed client's budget is spent.
	wait time.Duration
	// status, when set, replaces 400 (RFC 6749 §5.2's status).
	status int
}

func (e *tokenError) Error() string { return e.Code + ": " + e.Desc }

func refuse(code, desc string, detail error) *tokenError {
	return &tokenError{Code: code, Desc: desc, Detail: detail}
}

// handleToken is the token endpoint: client_credentials with a JWT
// assertion (SMART Backend Services).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	addr := sourceAddr(r)
	if wait := s.limits.blocked(s.cfg.Clock.Now(), "addr:"+addr); wait > 0 {
		s.outcome(r, TokenOutcome{Address: addr, Status: http.StatusTooManyRequests, Error: "invalid_request", Description: "too many failed token requests from this address"})
		s.tooMany(w, wait, "", addr)
		return
	}
	resp, err := s.issue(r)
	if err != nil {
		var te *tokenError
		if !errors.As(err, &te) {
			s.log.ErrorContext(r.Context(), "token request failed", "err", err, "source", addr)
			if errors.Is(r.Context().Err(), context.DeadlineExceeded) { // the request's deadline: the database is busy
				s.outcome(r, TokenOutcome{Address: addr, Status: http.StatusServiceUnavailable, Error: "temporarily_unavailable", Description: "the token could not be issued in time"})
				w.Header().Set("Retry-After", strconv.Itoa(int(fhir.TimeoutRetryAfter/time.Second)))
				WriteOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the token could not be issued within this server's time limit; retry later")
				return
			}
			s.outcome(r, TokenOutcome{Address: addr, Status: http.StatusInternalServerError, Error: "server_error", Description: "the token could not be issued"})
			WriteOAuthError(w, http.StatusInternalServerError, "server_error", "the token could not be issued; try again")
			return
		}
		if te.wait > 0 {
			s.outcome(r, TokenOutcome{ClaimedClient: te.ClientID, Address: addr, Status: http.StatusTooManyRequests, Error: "invalid_request", Description: "too many failed token requests"})
			s.tooMany(w, te.wait, te.ClientID, addr)
			return
		}
		now := s.cfg.Clock.Now()
		s.limits.fail(now, "addr:"+addr)
		if te.ClientID != "" {
			s.limits.fail(now, "client:"+te.ClientID)
		}
		s.log.WarnContext(r.Context(), "token refused", "error", te.Code, "reason", te.Desc, "detail", errString(te.Detail), "client_id", te.ClientID, "source", addr)
		status := cmp.Or(te.status, http.StatusBadRequest)
		s.outcome(r, TokenOutcome{ClaimedClient: te.ClientID, Address: addr, Status: status, Error: te.Code, Description: te.Desc, Reason: errString(te.Detail)})
		WriteOAuthError(w, status, te.Code, te.Desc)
		return
	}
	s.log.InfoContext(r.Context(), "token issued", "client_id", resp.clientID, "scope", resp.Scope, "source", addr)
	s.outcome(r, TokenOutcome{Client: resp.client, Address: addr, Status: http.StatusOK, Scope: resp.Scope, TokenID: resp.tokenID})
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) outcome(r *http.Request, o TokenOutcome) {
	s.cfg.Auditor.Token(r.Context(), o)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (s *Server) tooMany(w http.ResponseWriter, wait time.Duration, clientID, addr string) {
	s.log.Warn("token request refused: too many failures", "client_id", clientID, "source", addr)
	w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
	WriteOAuthError(w, http.StatusTooManyRequests, "invalid_request", "too many failed token requests; retry later")
}

// tokenResponse is RFC 6749 §5.1 as SMART shapes it.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	clientID    string
	client      *Registration
	tokenID     string
}

// issue checks a token request and issues a token.
func (s *Server) issue(r *http.Request) (*tokenResponse, error) {
	form, err := tokenForm(r)
	if err != nil {
		return nil, err
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		return nil, refuse("invalid_request", "grant_type is required", nil)
	case "client_credentials":
	default:
		return nil, refuse("unsupported_grant_type", "only client_credentials is supported", fmt.Errorf("grant_type %q", gt))
	}
	if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return nil, refuse("invalid_client", "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer", nil)
	}
	assertion := form.Get("client_assertion")
	if assertion == "" {
		return nil, refuse("invalid_request", "client_assertion is required", nil)
	}
	claimed := unverifiedIssuer(assertion)
	if claimed != "" {
		if wait := s.limits.blocked(s.cfg.Clock.Now(), "client:"+claimed); wait > 0 {
			return nil, &tokenError{Code: "invalid_request", Desc: "too many failed attempts for this client; retry later", ClientID: claimed, wait: wait}
		}
	}
	reg, verified, err := s.verifier.VerifyUnused(r.Context(), assertion)
	if err != nil {
		var ae *AssertionError
		if !errors.As(err, &ae) || errors.Is(err, errBackend) {
			return nil, err // the database, not the client
		}
		return nil, &tokenError{Code: "invalid_client", Desc: "client authentication failed", Detail: err, ClientID: claimed}
	}
	if id := form.Get("client_id"); id != "" && id != reg.ClientID {
		return nil, &tokenError{Code: "invalid_client", Desc: "client authentication failed", Detail: errors.New("client_id differs from the assertion's iss"), ClientID: reg.ClientID}
	}
	granted, te := s.grant(form.Get("scope"), reg)
	if te != nil {
		te.ClientID = reg.ClientID
		return nil, te
	}
	return s.mint(r.Context(), reg, verified, granted)
}

// tokenForm reads the form body: POST, form-encoded, bounded, no
// parameter twice (RFC 6749 §3.2), no Basic credentials besides the
// assertion.
func tokenForm(r *http.Request) (url.Values, error) {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		return nil, refuse("invalid_request", "the token request must be application/x-www-form-urlencoded", fmt.Errorf("content type %q", ct))
	}
	if r.Header.Get("Authorization") != "" {
		return nil, refuse("invalid_request", "authenticate with client_assertion only, not an Authorization header", nil)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxTokenForm)
	if err := r.ParseForm(); err != nil {
		if bte := new(interaction.BodyTimeoutError); errors.As(err, &bte) {
			return nil, &tokenError{Code: "invalid_request", Desc: bte.Error(), status: http.StatusRequestTimeout}
		}
		return nil, refuse("invalid_request", "the form body cannot be read", err)
	}
	if len(r.URL.RawQuery) > 0 {
		return nil, refuse("invalid_request", "send parameters in the body, not the URL", nil)
	}
	for k, vs := range r.PostForm {
		if len(vs) > 1 {
			return nil, refuse("invalid_request", "parameter "+k+" appears more than once", nil)
		}
	}
	return r.PostForm, nil
}

// unverifiedIssuer reads iss from an assertion without checking it, only
// to charge failures to the client it claims to be.
func unverifiedIssuer(assertion string) string {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 || len(parts[1]) > 8<<10 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(raw, &c) != nil || len(c.Iss) > 255 {
		return ""
	}
	return c.Iss
}

// grant mediates the requested scopes against the registration: the
// client gets the part of what it asked for that it was registered for,
// limited to types and conditions this server can enforce.
func (s *Server) grant(requested string, reg *Registration) ([]Scope, *tokenError) {
	if strings.TrimSpace(requested) == "" {
		return nil, refuse("invalid_scope", "scope is required (for example system/*.rs)", nil)
	}
	req, err := ParseScopes(requested)
	if err != nil {
		return nil, refuse("invalid_scope", err.Error(), nil)
	}
	registered, err := ParseScopes(reg.Scope)
	if err != nil {
		return nil, refuse("invalid_scope", "the client's registered scopes are invalid; ask the directory operator", err)
	}
	var out []Scope
	for _, sc := range Mediate(req, registered) {
		if sc.Type != "*" && !slices.Contains(s.cfg.Types, sc.Type) {
			continue
		}
		if sc.Filter != nil {
			if _, err := s.cfg.Filters.Filter(sc.Type, sc.Filter); err != nil {
				continue
			}
		}
		out = append(out, sc)
	}
	if len(out) == 0 {
		return nil, refuse("invalid_scope", "none of the requested scopes is granted to this client", fmt.Errorf("requested %q, registered %q", requested, reg.Scope))
	}
	return out, nil
}

// mint issues an opaque access token: its hash is stored together with
// the assertion's id, in one transaction shared with concurrent requests,
// and a replayed assertion gets nothing.
func (s *Server) mint(ctx context.Context, reg *Registration, verified *Verified, granted []Scope) (*tokenResponse, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.cfg.Clock.Now()
	hash := sha256.Sum256([]byte(token))
	scope := FormatScopes(granted)
	rec := &store.TokenRecord{Hash: hash[:], ClientID: reg.ClientID, Scope: scope, IssuedAt: now, Expires: now.Add(TokenLifetime)}
	use := store.AssertionUse{ClientID: reg.ClientID, JTI: verified.JTI, Now: now, Until: verified.Until}
	fresh, err := s.cfg.Store.IssueToken(ctx, use, rec)
	if err != nil {
		return nil, fmt.Errorf("store token: %w", err)
	}
	if !fresh {
		return nil, &tokenError{Code: "invalid_client", Desc: "client authentication failed", Detail: errors.New("jti replayed"), ClientID: reg.ClientID}
	}
	return &tokenResponse{AccessToken: token, TokenType: "bearer", ExpiresIn: int(TokenLifetime.Seconds()), Scope: scope, clientID: reg.ClientID, client: reg, tokenID: tokenID(hash[:])}, nil
}

// sourceAddr is the peer's IP address.
func sourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// failureLimits counts failed token requests per key (a client or a source
// address) in token buckets; a key with an empty bucket is refused until
// it refills.
type failureLimits struct {
	perMinute int
	mu        sync.Mutex
	m         map[string]*limitEntry
}

type limitEntry struct {
	lim  *rate.Limiter
	last time.Time
}

func (f *failureLimits) entry(now time.Time, key string) *limitEntry {
	e := f.m[key]
	if e == nil {
		if len(f.m) > 100_000 {
			f.sweep(now)
		}
		e = &limitEntry{lim: rate.NewLimiter(rate.Limit(float64(f.perMinute)/60), f.perMinute)}
		f.m[key] = e
	}
	e.last = now
	return e
}

// sweep forgets keys idle long enough for their bucket to be full again.
func (f *failureLimits) sweep(now time.Time) {
	for k, e := range f.m {
		if now.Sub(e.last) > time.Minute {
			delete(f.m, k)
		}
	}
}

// blocked returns how long key must wait, or 0.
func (f *failureLimits) blocked(now time.Time, key string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.m[key]
	if !ok || e.lim.TokensAt(now) >= 1 {
		return 0
	}
	r := e.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return max(d, time.Second)
}

func (f *failureLimits) fail(now time.Time, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entry(now, key).lim.AllowN(now, 1)
}
