package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/bulk"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/rest"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/tlsconf"
)

type serveFlags struct {
	addr, baseURL, db, dataDir        string
	tlsCert, tlsKey                   string
	plainHTTP, seedExamples           bool
	jwksAllowPrivate                  bool
	maxBody                           int64
	maxResourceNodes                  int
	bodyBudget                        int64
	maxBundleEntries                  int
	logFormat, logLevel               string
	shutdownTimeout, readHeaderTimout time.Duration
	bodyTimeout, requestTimeout       time.Duration
	ntp, metrics, auditSite           string
	exportDir                         string
	auditSyslog, auditSyslogCA        string
	maxClockOffset                    time.Duration
	exportWorkers, exportMaxJobs      int
	exportFileSize                    int64
	exportExpiry                      time.Duration
	corsOrigins                       originList
	profiles                          profileMode
}

// originList is --cors-origins, checked as it is set (from the command
// line or the environment).
type originList []string

func (o *originList) String() string { return strings.Join(*o, ",") }

func (o *originList) Set(v string) error {
	list, err := rest.ParseOrigins(v)
	if err != nil {
		return err
	}
	*o = list
	return nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f serveFlags
	fs := newFlags("serve", "serve [flags]", stderr)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8443", "listen address (host:port)")
	fs.StringVar(&f.baseURL, "base-url", "", "public base URL clients use: links, the token endpoint (the audience of client assertions), discovery; default https://<addr>")
	fs.StringVar(&f.db, "db", defaultDB, "database: sqlite:PATH (embedded) or postgres://user@host:port/db")
	fs.StringVar(&f.dataDir, "data-dir", "vhdir-data", "folder for local state: the development TLS certificate")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate chain; reloaded on SIGHUP (default: a self-signed development certificate in --data-dir/tls)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.BoolVar(&f.plainHTTP, "plain-http", false, "serve without TLS, only behind a TLS-terminating proxy on a secured network")
	fs.BoolVar(&f.seedExamples, "seed-examples", false, "load the VhDir IG's example resources when the database is empty")
	fs.BoolVar(&f.jwksAllowPrivate, "jwks-allow-private", false, "let client JWKS URLs resolve to private, loopback or link-local addresses (a private network; off guards against SSRF)")
	fs.Int64Var(&f.maxBody, "max-body", 16<<20, "largest request body in bytes (413 beyond)")
	fs.Int64Var(&f.bodyBudget, "body-budget", 0, "bytes of request bodies over 1 MiB handled at once, each counting its Content-Length (--max-body when it has none); one that finds no room waits up to 30s, then gets 503 with Retry-After (default --max-body: one body of the largest size at a time, or several smaller)")
	fs.IntVar(&f.maxResourceNodes, "max-resource-nodes", rest.DefaultMaxResourceNodes, "most JSON values (objects, arrays, strings, numbers, true, false, null) in one resource, sent alone or in a Bundle, 413 beyond; a whole Bundle may hold one per 16 bytes of --max-body")
	fs.IntVar(&f.maxBundleEntries, "max-bundle-entries", rest.DefaultMaxBundleEntries, "most entries in one batch or transaction Bundle (413 beyond): a transaction holds the database's write lock, and its memory, until it commits; other writes wait for it")
	fs.StringVar(&f.logFormat, "log-format", "auto", "log format: auto (text on a terminal, else JSON), json or text")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long SIGTERM waits for in-flight requests")
	fs.DurationVar(&f.readHeaderTimout, "read-header-timeout", server.DefaultReadHeaderTimeout, "how long a client may take to send request headers")
	fs.DurationVar(&f.bodyTimeout, "body-timeout", server.DefaultBodyTimeout, "how long a client may take to send a request body, from the end of its headers (408 beyond); the default lets --max-body's 16 MiB arrive at about 2.3 Mbit/s")
	fs.DurationVar(&f.requestTimeout, "request-timeout", server.DefaultRequestTimeout, "how long the server may work on a request, from the end of its headers (with --body-timeout on top for a request with a body): a database wait past it ends, 503 with Retry-After ($export downloads are not bounded)")
	fs.StringVar(&f.ntp, "ntp", "", "the single time source: NTP server (host[:port], port 123) the host clock is checked against at start and every minute; the host keeps its clock with chrony or timesyncd, vhdir never adjusts it (default: unchecked)")
	fs.DurationVar(&f.maxClockOffset, "max-clock-offset", clock.DefaultMaxOffset, "largest accepted offset of the host clock from --ntp; beyond it, or with --ntp unreachable for 3 minutes, /readyz fails")
	fs.StringVar(&f.auditSite, "audit-site", "", "the name of this installation in audit records (AuditEvent.source.site; default: the host name)")
	fs.StringVar(&f.auditSyslog, "audit-syslog", "", "also stream every committed audit record to this syslog repository (host:port), RFC 5424 over TLS (RFC 5425)")
	fs.StringVar(&f.auditSyslogCA, "audit-syslog-ca", "", "PEM file of the CA certificates that --audit-syslog's server must chain to (default: the system's)")
	fs.IntVar(&f.exportWorkers, "export-workers", bulk.DefaultWorkers, "$export jobs this node runs at once (others wait in the queue)")
	fs.IntVar(&f.exportMaxJobs, "export-max-jobs", bulk.DefaultMaxJobs, "$export jobs one client may have queued or running at once (429 beyond)")
	fs.StringVar(&f.exportDir, "export-dir", "", "folder for $export files (default: with SQLite beside the database file, PATH-exports; with PostgreSQL in the database, so that any node serves them — a folder here must then be shared by every node)")
	fs.Int64Var(&f.exportFileSize, "export-file-size", bulk.DefaultFileSize, "size in bytes at which an $export output file is split")
	fs.DurationVar(&f.exportExpiry, "export-expiry", bulk.DefaultExpiry, "how long an $export job and its files are kept after kick-off")
	fs.Var(&f.corsOrigins, "cors-origins", "origins browser clients may call the API from: a comma-separated list of scheme://host[:port], or * for any (default: none; metadata and discovery are readable from any origin)")
	f.profiles = profileMode(profile.Enforce)
	fs.Var(&f.profiles, "profile-validation", profileValidationUsage)
	fs.StringVar(&f.metrics, "metrics", "loopback", "who may read /metrics: loopback (clients on 127.0.0.0/8 or ::1; behind a proxy on this host, every proxied client), public, or off")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch f.metrics {
	case "loopback", "public", "off":
	default:
		return fmt.Errorf("--metrics %q: use loopback, public or off", f.metrics)
	}
	if f.auditSyslog != "" {
		if _, _, err := net.SplitHostPort(f.auditSyslog); err != nil {
			return fmt.Errorf("--audit-syslog %q: want host:port", f.auditSyslog)
		}
	}
	if f.exportWorkers < 1 || f.exportMaxJobs < 1 || f.exportFileSize < 1<<10 || f.exportExpiry < time.Minute {
		return errors.New("--export-workers and --export-max-jobs must be at least 1, --export-file-size at least 1024 bytes, --export-expiry at least 1m")
	}
	if f.maxBody < 1 || f.maxResourceNodes < 1 || f.bodyBudget < 0 {
		return errors.New("--max-body and --max-resource-nodes must be at least 1, --body-budget at least 0 (0: --max-body)")
	}
	if f.maxBundleEntries < 1 {
		return fmt.Errorf("--max-bundle-entries %d: must be at least 1", f.maxBundleEntries)
	}
	if f.maxClockOffset <= 0 {
		return fmt.Errorf("--max-clock-offset %v: must be positive", f.maxClockOffset)
	}
	if f.bodyTimeout <= 0 || f.requestTimeout <= 0 || f.readHeaderTimout <= 0 {
		return errors.New("--body-timeout, --request-timeout and --read-header-timeout must be positive")
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if f.plainHTTP && f.tlsCert != "" {
		return errors.New("--plain-http and --tls-cert exclude each other")
	}
	log, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	if f.baseURL == "" {
		scheme := "https://"
		if f.plainHTTP {
			scheme = "http://"
		}
		f.baseURL = scheme + f.addr
	}
	return serve(ctx, f, log)
}

func serve(ctx context.Context, f serveFlags, log *slog.Logger) error {
	// The host clock is the one time source; with --ntp a monitor checks it.
	var monitor *clock.NTPMonitor
	timeCheck := "unchecked (no --ntp)"
	var clk clock.Clock = clock.System{}
	if f.ntp != "" {
		var err error
		monitor, err = clock.NewNTPMonitor(clock.NTPConfig{Server: f.ntp, MaxOffset: f.maxClockOffset, Logger: log})
		if err != nil {
			return fmt.Errorf("--ntp: %w", err)
		}
		timeCheck = fmt.Sprintf("ntp://%s every %v, max offset %v", monitor.Server(), monitor.Interval(), monitor.MaxOffset())
		clk = clock.Checked{Monitor: monitor}
	} else {
		log.Warn("the host clock is not checked against a time source: set --ntp")
	}
	var syslog *audit.Syslog
	if f.auditSyslog != "" {
		var err error
		if syslog, err = auditSyslog(f, log); err != nil {
			return err
		}
	}
	st, err := openStoreWith(ctx, f.db, f.exportDir, log)
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := server.New(server.Config{
		BaseURL: f.baseURL, Store: st, Clock: clk, Logger: log, MaxBodyBytes: f.maxBody, MaxResourceNodes: f.maxResourceNodes, BodyBudget: f.bodyBudget, HSTS: !f.plainHTTP, Version: buildVersion(),
		MaxBundleEntries: f.maxBundleEntries, BodyTimeout: f.bodyTimeout, RequestTimeout: f.requestTimeout, ReadHeaderTimeout: f.readHeaderTimout,
		AuditSite: f.auditSite, JWKSAllowPrivate: f.jwksAllowPrivate, Metrics: f.metrics, Monitor: monitor, AuditSyslog: syslog, CORSOrigins: f.corsOrigins,
		ProfileValidation: profile.Mode(f.profiles),
		Export:            server.Export{Workers: f.exportWorkers, MaxJobsPerClient: f.exportMaxJobs, FileSize: f.exportFileSize, Expiry: f.exportExpiry},
	})
	if err != nil {
		return err
	}
	if f.seedExamples {
		if err := seedExamples(ctx, srv, log); err != nil {
			return err
		}
	}
	httpSrv := srv.HTTPServer()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	tlsMode := "off (--plain-http: terminate TLS in front of this server)"
	if !f.plainHTTP {
		certs, err := loadCertificate(f, clk)
		if err != nil {
			ln.Close()
			return err
		}
		httpSrv.TLSConfig = tlsconf.Server(certs)
		ln = tls.NewListener(ln, httpSrv.TLSConfig)
		tlsMode = "TLS 1.2+ certificate sha256 " + certs.Fingerprint()
		if f.tlsCert == "" {
			tlsMode += " (self-signed development certificate in " + filepath.Join(f.dataDir, "tls") + ")"
		}
		go reloadOnHUP(ctx, certs, log)
	} else {
		log.Warn("serving plain HTTP: only behind a TLS-terminating proxy on a secured network")
	}
	// The background work ($export jobs, NTP checks, syslog, token
	// purging) runs until ctx ends; running export jobs are handed back
	// before serve returns.
	runCtx, stopRunners := context.WithCancel(ctx)
	runnersDone := make(chan struct{})
	go func() {
		defer close(runnersDone)
		srv.Run(runCtx)
	}()
	defer func() {
		stopRunners()
		<-runnersDone
	}()
	log.Info("vhdir serving", "base_url", srv.FHIRBase(), "listen", ln.Addr().String(), "db", redactDB(f.db),
		"backend", st.Backend(), "tls", tlsMode, "fips140", fipsMode(), "time_source", clk.Source(), "time_check", timeCheck, "metrics", f.metrics, "cors_origins", cmp.Or(f.corsOrigins.String(), "none"),
		"body_timeout", f.bodyTimeout, "request_timeout", f.requestTimeout, "version", buildVersion())
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", f.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// auditSyslog is the sender of --audit-syslog, trusting --audit-syslog-ca.
func auditSyslog(f serveFlags, log *slog.Logger) (*audit.Syslog, error) {
	host, _, err := net.SplitHostPort(f.auditSyslog)
	if err != nil {
		return nil, fmt.Errorf("--audit-syslog %q: want host:port", f.auditSyslog)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if f.auditSyslogCA != "" {
		pem, err := os.ReadFile(f.auditSyslogCA)
		if err != nil {
			return nil, fmt.Errorf("--audit-syslog-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--audit-syslog-ca %s: no PEM certificates", f.auditSyslogCA)
		}
	}
	site := f.auditSite
	if site == "" {
		site, _ = os.Hostname()
	}
	log.Info("audit records are streamed", "syslog", f.auditSyslog)
	return audit.NewSyslog(f.auditSyslog, cfg, site, log), nil
}

func loadCertificate(f serveFlags, clk clock.Clock) (*tlsconf.Certificate, error) {
	if f.tlsCert != "" {
		return tlsconf.Load(f.tlsCert, f.tlsKey)
	}
	host, _, err := net.SplitHostPort(f.addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", f.addr, err)
	}
	return tlsconf.DevCertificate(filepath.Join(f.dataDir, "tls"), []string{host}, clk.Now())
}

// reloadOnHUP re-reads the certificate files on SIGHUP.
func reloadOnHUP(ctx context.Context, certs *tlsconf.Certificate, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := certs.Reload(); err != nil {
				log.Error("certificate reload failed; keeping the previous one", "err", err)
			} else {
				log.Info("certificate reloaded", "sha256", certs.Fingerprint())
			}
		}
	}
}

// seedExamples loads the IG examples into an empty directory, as the
// operator running serve.
func seedExamples(ctx context.Context, srv *server.Server, log *slog.Logger) error {
	loaded, sum, err := srv.SeedExamples(server.AsOperator(ctx, operatorName(), "serve --seed-examples"))
	if err != nil {
		return err
	}
	if !loaded {
		log.Info("--seed-examples: the directory is not empty; examples not loaded")
		return nil
	}
	for _, p := range sum.Problems {
		log.Warn("seed example not loaded", "problem", p.String())
	}
	log.Info("seeded the VhDir IG examples", "resources", sum.Total())
	return nil
}
