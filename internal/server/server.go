// Package server is vhdir's composition root: New builds the whole server
// from a Config — the FHIR API with bulk export behind authentication,
// the authorization server, the audit trail around every request, health
// and metrics — and returns its HTTP handler and its background runners
// (Run: export workers, the NTP monitor, the syslog
// stream, token purging). cmd/vhdir parses flags and calls it; every test
// harness builds the same server through it (package servertest), so the
// production wiring is the one tested.
//
// Every collaborator a package cannot be safe without is passed here, and
// the packages refuse to start without it.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/bulk"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/load"
	"github.com/vhdir/vhdir/internal/membership"
	"github.com/vhdir/vhdir/internal/metrics"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/provenance"
	"github.com/vhdir/vhdir/internal/rest"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
)

// Config is what New needs. Store, Clock and BaseURL are required.
type Config struct {
	// BaseURL is the public base URL clients use (links, the token
	// endpoint clients sign for); the FHIR base is BaseURL + "/fhir".
	BaseURL string
	Store   store.Store
	// Clock is the one time source.
	Clock  clock.Clock
	Logger *slog.Logger
	// MaxBodyBytes limits request bodies (413 beyond; default 16 MiB).
	MaxBodyBytes int64
	// BodyTimeout bounds the time to receive a request's body, from the end
	// of its header fields: a slower body is cut off, 408 (default
	// DefaultBodyTimeout).
	BodyTimeout time.Duration
	// RequestTimeout is each request's deadline, from the end of its header
	// fields, with BodyTimeout on top for a request with a body: a database
	// wait past it ends, 503 with Retry-After (default
	// DefaultRequestTimeout). $export downloads have none.
	RequestTimeout time.Duration
	// ReadHeaderTimeout bounds the time to receive a request's header
	// fields (default DefaultReadHeaderTimeout).
	ReadHeaderTimeout time.Duration
	// MaxResourceNodes bounds the JSON values of one resource (413
	// beyond; default rest.DefaultMaxResourceNodes).
	MaxResourceNodes int
	// BodyBudget bounds the bytes of large request bodies handled at once
	// (503 for one that finds no room in time; default MaxBodyBytes: one
	// body of the largest size at a time, or several smaller).
	BodyBudget int64
	// MaxBundleEntries is the most entries a batch or transaction Bundle
	// may have, over HTTP and in vhdir load (413 beyond; default
	// rest.DefaultMaxBundleEntries).
	MaxBundleEntries int
	// HSTS adds Strict-Transport-Security (serving over TLS).
	HSTS bool
	// Version is vhdir's version, shown in the CapabilityStatement.
	Version string
	// AuditSite names this installation in audit records (default: the
	// host name).
	AuditSite string
	// JWKSAllowPrivate lets client JWKS URLs resolve into private
	// networks.
	JWKSAllowPrivate bool
	// Export sets $export's limits (zero values: bulk's defaults).
	Export Export
	// Metrics says who may read /metrics: "loopback" (the default),
	// "public" or "off".
	Metrics string
	// Monitor, when set, checks the clock against NTP: /readyz fails when
	// it is off, and its offset is a metric.
	Monitor *clock.NTPMonitor
	// AuditSyslog, when set, also receives every committed audit record.
	AuditSyslog *audit.Syslog
	// CORSOrigins are the origins browser clients may call the API from
	// (scheme://host[:port] each), or "*" alone for any; none allows no
	// cross-origin calls but to the public endpoints (metadata, discovery).
	CORSOrigins []string

	// ProfileValidation is what writes do with profile issues (R4 and the
	// VhDir profiles): enforce, warn or off. Required.
	ProfileValidation profile.Mode

	// Identify stands in for bearer-token authentication: tests that
	// choose their caller per request. Nil means SMART Backend Services
	// access tokens, as `vhdir serve` always runs.
	Identify auth.Identify
	// Unaudited leaves the audit trail out of the FHIR API: only for
	// benchmarks that measure what the trail costs. `vhdir serve` never
	// sets it.
	Unaudited bool
}

// The defaults of the request limits (Config).
const (
	// DefaultBodyTimeout lets the largest body (16 MiB by default) arrive
	// over a link of about 2.3 Mbit/s; a typical resource or Bundle of a few
	// kilobytes to a megabyte takes a fraction of it.
	DefaultBodyTimeout = time.Minute
	// DefaultRequestTimeout is well above any request's normal time (reads
	// take milliseconds, a large transaction seconds), so only a database
	// wait (a lock held, an overloaded server) reaches it.
	DefaultRequestTimeout    = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
)

// idleTimeout is how long a keep-alive connection may wait for its next
// request.
const idleTimeout = 2 * time.Minute

// Export is $export's settings.
type Export struct {
	Workers, MaxJobsPerClient int
	FileSize                  int64
	Expiry, Lease, Poll       time.Duration
}

// Server is a wired vhdir.
type Server struct {
	cfg       Config
	log       *slog.Logger
	handler   http.Handler
	cors      *rest.CORS
	search    *search.Engine
	dir       *directory.Directory
	rest      *rest.Server
	auth      *auth.Server
	registry  *auth.Registry
	recorder  *audit.Recorder
	bulk      *bulk.Service
	metrics   *metrics.Metrics
	profiles  *profile.Policy
	validator *profile.Validator
	checks    []rest.Check // readiness
}

// New checks cfg and builds the server.
func New(cfg Config) (*Server, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	var err error
	if s.cors, err = rest.NewCORS(cfg.CORSOrigins); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	reg, err := search.NewRegistry()
	if err != nil {
		return nil, err
	}
	fhirBase := strings.TrimSuffix(cfg.BaseURL, "/") + "/fhir"
	s.search = search.NewEngine(reg, fhirBase)
	s.metrics = metrics.New(metrics.Config{Clock: cfg.Monitor})
	if s.profiles, err = profile.NewPolicy(cfg.ProfileValidation, s.metrics.ProfileIssues); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.dir = &directory.Directory{Store: cfg.Store, Clock: cfg.Clock, Indexer: s.search, Profiles: s.profiles}
	if err := s.buildAudit(fhirBase); err != nil {
		return nil, err
	}
	viewers, err := membership.New(cfg.Store, s.search, cfg.Clock)
	if err != nil {
		return nil, err
	}
	s.auth, err = auth.New(auth.Config{
		BaseURL: cfg.BaseURL, Store: cfg.Store, Clock: cfg.Clock, Logger: cfg.Logger, Types: reg.Types(),
		Fetcher: &auth.JWKSFetcher{Clock: cfg.Clock, AllowPrivate: cfg.JWKSAllowPrivate},
		Filters: s.search, Auditor: s.recorder,
	})
	if err != nil {
		return nil, err
	}
	if s.registry, err = auth.NewRegistry(cfg.Store, reg.Types(), cfg.Clock, s.recorder); err != nil {
		return nil, err
	}
	var auditor rest.Auditor = s.recorder
	if cfg.Unaudited {
		auditor = unaudited{}
	}
	if s.validator, err = profile.New(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.rest, err = rest.New(rest.Config{
		BaseURL: cfg.BaseURL, Store: cfg.Store, Directory: s.dir, Search: s.search, Clock: cfg.Clock, Logger: cfg.Logger, Validator: s.validator,
		MaxBodyBytes: cfg.MaxBodyBytes, MaxResourceNodes: cfg.MaxResourceNodes, BodyBudget: cfg.BodyBudget, MaxBundleEntries: cfg.MaxBundleEntries, HSTS: cfg.HSTS, Version: cfg.Version,
		Authorizer: s.auth, Viewers: viewers, Auditor: auditor, CORS: s.cors,
		Security:     &rest.Security{TokenURL: s.auth.TokenURL(), IntrospectURL: s.auth.IntrospectURL()},
		Operations:   []rest.Operation{{Name: "export", Definition: bulk.OperationDefinition}},
		Instantiates: []string{bulk.CapabilityStatement},
	})
	if err != nil {
		return nil, err
	}
	ex := cfg.Export
	s.bulk, err = bulk.New(bulk.Config{
		Store: cfg.Store, Search: s.search, Clock: cfg.Clock, Logger: cfg.Logger, FHIRBase: fhirBase,
		Authorizer: s.auth, Viewers: viewers, Auditor: s.recorder,
		Workers: ex.Workers, MaxJobsPerClient: ex.MaxJobsPerClient, FileSize: ex.FileSize, Expiry: ex.Expiry, Lease: ex.Lease, Poll: ex.Poll,
	})
	if err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// check validates cfg and fills in defaults.
func (cfg *Config) check() error {
	switch {
	case cfg.Store == nil, cfg.Clock == nil:
		return errors.New("server: Store and Clock are required")
	case cfg.BaseURL == "":
		return errors.New("server: BaseURL is required")
	case cfg.MaxBodyBytes < 0:
		return errors.New("server: MaxBodyBytes must not be negative")
	case cfg.BodyTimeout < 0, cfg.RequestTimeout < 0, cfg.ReadHeaderTimeout < 0:
		return errors.New("server: BodyTimeout, RequestTimeout and ReadHeaderTimeout must not be negative")
	case cfg.MaxResourceNodes < 0, cfg.BodyBudget < 0:
		return errors.New("server: MaxResourceNodes and BodyBudget must not be negative")
	case cfg.MaxBundleEntries < 0:
		return errors.New("server: MaxBundleEntries must not be negative")
	case cfg.ProfileValidation == 0:
		return errors.New("server: ProfileValidation is required (enforce, warn or off)")
	}
	cfg.BodyTimeout = cmp.Or(cfg.BodyTimeout, DefaultBodyTimeout)
	cfg.RequestTimeout = cmp.Or(cfg.RequestTimeout, DefaultRequestTimeout)
	cfg.ReadHeaderTimeout = cmp.Or(cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	switch cfg.Metrics {
	case "":
		cfg.Metrics = "loopback"
	case "loopback", "public", "off":
	default:
		return fmt.Errorf("server: Metrics %q: use loopback, public or off", cfg.Metrics)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 16 << 20
	}
	cfg.MaxResourceNodes = cmp.Or(cfg.MaxResourceNodes, rest.DefaultMaxResourceNodes)
	cfg.BodyBudget = cmp.Or(cfg.BodyBudget, cfg.MaxBodyBytes)
	cfg.MaxBundleEntries = cmp.Or(cfg.MaxBundleEntries, rest.DefaultMaxBundleEntries)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AuditSite == "" {
		cfg.AuditSite, _ = os.Hostname()
	}
	return nil
}

// buildAudit makes the audit log and its recorder.
func (s *Server) buildAudit(fhirBase string) error {
	cfg := s.cfg
	log := &audit.Log{Dir: s.dir, Clock: cfg.Clock, Source: audit.Source{Site: cfg.AuditSite, FHIRBase: fhirBase, TimeSource: cfg.Clock.Source()}}
	if cfg.AuditSyslog != nil {
		log.Stream = cfg.AuditSyslog.Send
	}
	var err error
	if s.recorder, err = audit.NewRecorder(log, cfg.Logger); err != nil {
		return err
	}
	return nil
}

// routes is the HTTP handler: the middleware stack (audit innermost of
// it) around the token endpoints, the FHIR API with $export behind
// authentication, health and metrics.
func (s *Server) routes() http.Handler {
	cfg := s.cfg
	mux := http.NewServeMux()
	fhirAPI := http.NewServeMux()
	s.rest.Routes(fhirAPI)
	identify := cfg.Identify
	if identify == nil {
		identify = s.auth.BearerCaller
	}
	s.auth.Mount(mux, s.bulk.Handler(fhirAPI), identify)
	s.checks = []rest.Check{{Name: "database", Run: cfg.Store.Ping}, {Name: "audit", Run: s.recorder.Log().Check}}
	if cfg.Monitor != nil {
		s.checks = append(s.checks, rest.Check{Name: "clock", Run: cfg.Monitor.Check})
	}
	rest.HealthRoutes(mux, s.checks)
	met := s.metrics
	switch cfg.Metrics {
	case "loopback":
		mux.Handle("GET /metrics", loopbackOnly(met.Handler()))
	case "public":
		mux.Handle("GET /metrics", met.Handler())
	}
	var inner []rest.Middleware
	if !cfg.Unaudited {
		inner = append(inner, s.recorder.Middleware)
	}
	return rest.Stack(met.Instrument(rest.CanonicalPaths(mux)), rest.StackConfig{Logger: s.log, MaxBodyBytes: cfg.MaxBodyBytes, HSTS: cfg.HSTS, CORS: s.cors, Inner: inner,
		BodyTimeout: cfg.BodyTimeout, RequestTimeout: cfg.RequestTimeout, Untimed: bulk.IsDownload})
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// HTTPServer is the http.Server that serves Handler, with the limits net/http
// enforces before any handler runs: the header fields' time
// (ReadHeaderTimeout) and size, idle keep-alive connections. Its size
// limit lies above the handler's own (rest.MaxHeaderBytes), which answers
// with an OperationOutcome; only beyond it does net/http answer 431 in
// plain text. The body's deadline is set per request by the handler
// (rest.StackConfig.BodyTimeout): ReadTimeout and WriteTimeout stay unset,
// since they bound a whole request or answer on the connection and end it
// without a word, an $export download included. The caller adds TLS.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    rest.MaxHeaderBytes + rest.HeaderSlack,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// FHIRBase is the public FHIR base URL.
func (s *Server) FHIRBase() string { return s.rest.FHIRBase() }

// Registry manages client registrations, each change audited.
func (s *Server) Registry() *auth.Registry { return s.registry }

// Auth is the authorization server.
func (s *Server) Auth() *auth.Server { return s.auth }

// AuditLog is the audit trail's log.
func (s *Server) AuditLog() *audit.Log { return s.recorder.Log() }

// Run runs the background work until ctx ends, then waits for it to
// stop: the $export workers (running jobs are handed
// back on the way out), the NTP monitor and syslog stream when
// configured, and the purge of expired tokens.
func (s *Server) Run(ctx context.Context) {
	var wg sync.WaitGroup
	start := func(run func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}
	start(s.bulk.Run)
	start(s.purgeAuth)
	if s.cfg.Monitor != nil {
		start(s.cfg.Monitor.Run)
	}
	if s.cfg.AuditSyslog != nil {
		start(s.cfg.AuditSyslog.Run)
	}
	wg.Wait()
}

// purgeAuth deletes expired access tokens and assertion ids now and then;
// any node may do it, the database keeps it consistent.
func (s *Server) purgeAuth(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.cfg.Store.PurgeAuth(ctx, s.cfg.Clock.Now()); err != nil && ctx.Err() == nil {
				s.log.Warn("purging expired tokens failed", "err", err)
			}
		}
	}
}

// LoadConfig is what vhdir load needs: the directory, the indexer,
// Bundles through the FHIR pipeline, and the batches' auditor.
func (s *Server) LoadConfig() load.Config {
	return load.Config{Directory: s.dir, Indexer: s.search, Record: batchRecorder{s.recorder}, Bundle: s.rest.ExecuteBundle, Writable: s.rest.Writable,
		MaxResourceNodes: s.cfg.MaxResourceNodes}
}

// batchRecorder records a load batch inside its transaction: one
// Provenance naming every version it stored, then its audit record.
type batchRecorder struct{ audit *audit.Recorder }

func (b batchRecorder) Loaded(ctx context.Context, w *directory.Writer, source string, changes []*directory.Change) error {
	by := interaction.CallerFrom(ctx)
	if by == nil {
		return errors.New("a load names no one who ran it")
	}
	if err := provenance.RecordBatch(ctx, w, changes, by, source); err != nil {
		return err
	}
	return b.audit.Loaded(ctx, w, source, changes)
}

// RecordLoad commits the record of a whole load run by the caller of ctx
// (the operator): what it wrote and what failed. Each batch was recorded
// in its own transaction already.
func (s *Server) RecordLoad(ctx context.Context, source string, sum *load.Summary) error {
	by := interaction.CallerFrom(ctx)
	if by == nil {
		return errors.New("a load names no one who ran it")
	}
	if sum.Total() == 0 && len(sum.Problems) == 0 {
		return nil
	}
	if err := s.recorder.Log().Commit(ctx, audit.ForLoad(by, source, sum.Written, len(sum.Problems))); err != nil {
		return fmt.Errorf("loaded, but the audit record of the load could not be written: %w", err)
	}
	return nil
}

// loopbackOnly serves h to clients on a loopback address and answers
// others 403.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			http.Error(w, "metrics are served to loopback clients only (--metrics)", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// unaudited is the auditor of a server built Unaudited: it records
// nothing.
type unaudited struct{}

func (unaudited) Written(context.Context, *directory.Writer, iter.Seq2[*interaction.Request, []*directory.Change]) error {
	return nil
}

func (unaudited) Executed(context.Context, *interaction.Request, *interaction.Response, error) {}
