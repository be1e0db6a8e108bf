package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/bulk"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/rest"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/postgres"
	"github.com/vhdir/vhdir/internal/store/sqlite"
)

// defaultDB is the embedded database used when --db is not given.
const defaultDB = "sqlite:vhdir-data/vhdir.db"

// openStore opens the database named by a --db URL: sqlite:PATH or
// postgres://… (postgresql:// too).
func openStore(ctx context.Context, dbURL string) (store.Store, error) {
	return openStoreWith(ctx, dbURL, "")
}

// openStoreWith is openStore keeping export files in exportDir ("": the
// backend's default: beside an SQLite file, in a PostgreSQL database).
func openStoreWith(ctx context.Context, dbURL, exportDir string) (store.Store, error) {
	switch {
	case strings.HasPrefix(dbURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")
		return sqlite.OpenWith(ctx, path, sqlite.Options{ExportDir: exportDir})
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		return postgres.OpenWith(ctx, dbURL, postgres.Options{ExportDir: exportDir})
	}
	return nil, fmt.Errorf("--db %q: use sqlite:PATH or postgres://user@host/db", redactDB(dbURL))
}

// redactDB hides a password in a database URL for logs.
func redactDB(dbURL string) string {
	if u, err := url.Parse(dbURL); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dbURL
}

// app is the wired application core shared by serve and load.
type app struct {
	store  store.Store
	clock  clock.Clock
	search *search.Engine
	dir    *directory.Directory
	rest   *rest.Server
	auth   *auth.Server
	// audit records every request (rest and auth hooks, and the HTTP
	// middleware serve puts in front of both).
	audit *audit.Recorder
	// bulk serves $export (its jobs run under serve only).
	bulk *bulk.Service
}

// appConfig is what newApp needs from the command line.
type appConfig struct {
	db, baseURL string
	maxBody     int64
	hsts        bool
	// jwksAllowPrivate lets client JWKS URLs point into private networks.
	jwksAllowPrivate bool
	// clock is the time source (default: the system clock, unchecked).
	clock clock.Clock
	// auditSite names this installation in audit records (source.site).
	auditSite string
	// $export settings (zero: bulk's defaults).
	exportWorkers  int
	exportMaxJobs  int
	exportDir      string
	exportFileSize int64
	exportExpiry   time.Duration
}

func newApp(ctx context.Context, cfg appConfig, log *slog.Logger) (*app, error) {
	dbURL, baseURL := cfg.db, cfg.baseURL
	st, err := openStoreWith(ctx, dbURL, cfg.exportDir)
	if err != nil {
		return nil, err
	}
	reg, err := search.NewRegistry()
	if err != nil {
		st.Close()
		return nil, err
	}
	var clk clock.Clock = clock.System{}
	if cfg.clock != nil {
		clk = cfg.clock
	}
	fhirBase := strings.TrimSuffix(baseURL, "/") + "/fhir"
	eng := search.NewEngine(reg, fhirBase)
	dir := &directory.Directory{Store: st, Clock: clk, Indexer: eng}
	as, ok := st.(store.AuthStore)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("the %s backend keeps no client registrations", st.Backend())
	}
	site := cfg.auditSite
	if site == "" {
		site, _ = os.Hostname()
	}
	recorder := &audit.Recorder{Log: &audit.Log{Dir: dir, Clock: clk, Source: audit.Source{Site: site, FHIRBase: fhirBase, TimeSource: clk.Source()}},
		Indexer: &audit.Indexer{Store: st, Indexer: eng, Logger: log}}
	authSrv, err := auth.New(auth.Config{
		BaseURL: baseURL, Store: as, Clock: clk, Logger: log, Types: reg.Types(), OnToken: recorder.OnToken, OnAuthenticated: recorder.OnAuthenticated,
		Fetcher: &auth.JWKSFetcher{Clock: clk, AllowPrivate: cfg.jwksAllowPrivate},
		CheckFilter: func(typ string, q url.Values) error {
			_, err := eng.Filter(typ, q)
			return err
		},
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	srv, err := rest.New(rest.Config{
		BaseURL: baseURL, Store: st, Directory: dir, Search: eng, Clock: clk, Logger: log,
		MaxBodyBytes: cfg.maxBody, HSTS: cfg.hsts, Version: buildVersion(),
		Authorize: authSrv.Authorize, Access: authSrv.Access,
		OnWrite: func(ctx context.Context, w *directory.Writer, req *rest.Request, changes []*directory.Change) error {
			if err := recordWrite(ctx, w, req, changes); err != nil {
				return err
			}
			return recorder.OnWrite(ctx, w, req, changes)
		},
		OnExecuted:   recorder.OnExecuted,
		BeforeSearch: recorder.BeforeSearch,
		Security:     &rest.Security{TokenURL: authSrv.TokenURL(), IntrospectURL: authSrv.IntrospectURL()},
		Operations:   []rest.Operation{{Name: "export", Definition: bulk.OperationDefinition}},
		Instantiates: []string{bulk.CapabilityStatement},
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	exporter, err := bulk.New(bulk.Config{Store: st, Search: eng, Clock: clk, Logger: log, FHIRBase: fhirBase,
		Access: authSrv.Access, Viewer: srv.Viewer, ClientID: clientID,
		Workers: cfg.exportWorkers, MaxJobsPerClient: cfg.exportMaxJobs, FileSize: cfg.exportFileSize, Expiry: cfg.exportExpiry,
		OnRecord: recorder.OnExport, BeforeStream: recorder.BeforeStream, BeforeSearch: recorder.BeforeSearch})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &app{store: st, clock: clk, search: eng, dir: dir, rest: srv, auth: authSrv, audit: recorder, bulk: exporter}, nil
}

// clientID is the authenticated client of a request ("" for none).
func clientID(ctx context.Context) string {
	if p := auth.PrincipalFrom(ctx); p != nil {
		return p.ClientID
	}
	return ""
}

// newLogger logs to w: JSON when it is not a terminal, text when it is.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "auto":
		if isTerminal(w) {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use auto, json or text", format)
}
