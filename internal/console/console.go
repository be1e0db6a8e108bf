package console

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
)

// FHIR runs interactions through the FHIR pipeline (rest.Server): the
// console reads and searches the directory as its operator, under the
// same access decision and audit as an API request.
type FHIR interface {
	Execute(ctx context.Context, req *interaction.Request) (*interaction.Response, error)
}

// Check is one readiness check shown on the overview (the same checks as
// /readyz).
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Config is what New needs. Every field is required but Monitor, Logger
// and SessionIdle.
type Config struct {
	FHIR      FHIR
	Registry  *auth.Registry
	Recorder  *audit.Recorder
	Store     store.Store
	Clock     clock.Clock
	Validator *profile.Validator
	// Search compiles the console's own lookups (counts, a client's last
	// request), which go straight to the store.
	Search *search.Engine
	// Types are the resource types the directory serves.
	Types []string
	// Checks are the readiness checks (database, audit chain, clock).
	Checks []Check
	// Monitor, when set, is the NTP check of the clock (its offset is
	// shown); nil: the host clock is unchecked, and the overview says so.
	Monitor *clock.NTPMonitor
	// Operator is the operating-system user running the console: every
	// record of a console request names it and the session.
	Operator string
	// Database describes the database for the overview (no password).
	Database string
	// Secure marks the console served over TLS: its cookie is Secure.
	Secure bool
	// SessionIdle ends a session unused this long (default 30 minutes).
	SessionIdle time.Duration
	Logger      *slog.Logger
}

// DefaultSessionIdle is how long a session may stay unused.
const DefaultSessionIdle = 30 * time.Minute

// Console is the operator console's HTTP handler and its sessions.
type Console struct {
	cfg      Config
	log      *slog.Logger
	pages    map[string]*template.Template
	sessions *sessions
	handler  http.Handler

	verifyMu sync.Mutex
	verify   *verifyState // the running or last verification of the chain

	figMu    sync.Mutex
	figures  *figures // the overview's latest counts (Run)
	counting bool     // a count is under way
}

//go:embed templates static
var assets embed.FS

// New checks cfg and builds the console. Its one-time login token is
// LoginToken's.
func New(cfg Config) (*Console, error) {
	switch {
	case cfg.FHIR == nil, cfg.Registry == nil, cfg.Recorder == nil, cfg.Store == nil, cfg.Clock == nil, cfg.Validator == nil, cfg.Search == nil:
		return nil, errors.New("console: FHIR, Registry, Recorder, Store, Clock, Validator and Search are required")
	case len(cfg.Types) == 0, len(cfg.Checks) == 0:
		return nil, errors.New("console: Types and Checks are required")
	case cfg.Operator == "":
		return nil, errors.New("console: Operator is required (the operating-system user it acts for)")
	case cfg.SessionIdle < 0:
		return nil, errors.New("console: SessionIdle must not be negative")
	}
	cfg.SessionIdle = cmp.Or(cfg.SessionIdle, DefaultSessionIdle)
	c := &Console{cfg: cfg, log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if c.sessions, err = newSessions(cfg.Clock, cfg.SessionIdle); err != nil {
		return nil, err
	}
	c.handler = c.routes()
	return c, nil
}

// LoginToken is the one-time token of the login URL (/login?token=…): it
// opens one session, then is spent.
func (c *Console) LoginToken() string { return c.sessions.loginToken }

// Handler is the console's HTTP handler.
func (c *Console) Handler() http.Handler { return c.handler }

// routes are the console's paths (a contract: links are shared and
// bookmarked). Every path but the static assets is audited; every one
// but the login and the assets needs a session.
func (c *Console) routes() http.Handler {
	pages := http.NewServeMux()
	pages.HandleFunc("GET /{$}", c.overview)
	pages.HandleFunc("GET /clients", c.clientList)
	pages.HandleFunc("POST /clients", c.clientRegister)
	pages.HandleFunc("GET /clients/{client_id}", c.clientDetail)
	pages.HandleFunc("POST /clients/{client_id}/disable", c.clientDisable)
	pages.HandleFunc("POST /clients/{client_id}/enable", c.clientEnable)
	pages.HandleFunc("GET /organizations", c.organizationPicker)
	pages.HandleFunc("GET /audit", c.auditTimeline)
	pages.HandleFunc("GET /audit/{id}", c.auditRecord)
	pages.HandleFunc("POST /audit/verify", c.verifyStart)
	pages.HandleFunc("GET /audit/verify", c.verifyPage)
	pages.HandleFunc("GET /audit/verify/status", c.verifyStatus)
	pages.HandleFunc("GET /data", c.dataTypes)
	pages.HandleFunc("GET /data/{type}", c.dataSearch)
	pages.HandleFunc("GET /data/{type}/{id}", c.dataResource)
	pages.HandleFunc("GET /exports", c.exportList)
	pages.HandleFunc("POST /exports/{id}/cancel", c.exportCancel)
	pages.HandleFunc("POST /logout", c.logout)
	pages.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, notFound("no console page at %s", r.URL.Path))
	})

	mux := http.NewServeMux()
	mux.Handle("GET /static/", c.static())
	audited := http.NewServeMux()
	audited.HandleFunc("GET /login", c.login)
	audited.Handle("/", c.requireSession(pages))
	mux.Handle("/", c.cfg.Recorder.Middleware(audited))
	return securityHeaders(mux)
}

// static serves the embedded stylesheet and script.
func (c *Console) static() http.Handler {
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		panic(fmt.Sprintf("console: embedded assets: %v", err))
	}
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy allows nothing but the console's own script,
// stylesheet and forms: no inline script or style, no frames.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers of every answer: the CSP, no sniffing,
// no referrer to other sites, no framing, and nothing cached but the static assets
// (which the static handler marks cacheable).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
