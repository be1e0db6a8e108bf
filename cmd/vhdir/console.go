package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/console"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/tlsconf"
)

type consoleFlags struct {
	addr, db, dataDir, tlsCert, tlsKey, ntp string
	plainHTTP, allowRemote                  bool
	sessionIdle, maxClockOffset             time.Duration
}

// runConsole serves the operator console, acting for the operator
// directly on the database as vhdir clients does.
func runConsole(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f consoleFlags
	fs := newFlags("console", "console [flags]", stderr)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8444", "listen address (host:port); a loopback address unless --allow-remote (remote operators use an SSH tunnel)")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "let --addr be an address other hosts reach")
	fs.StringVar(&f.db, "db", defaultDB, "database: sqlite:PATH or postgres://…")
	fs.StringVar(&f.dataDir, "data-dir", "vhdir-data", "folder for local state: the development TLS certificate")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate chain; reloaded on SIGHUP (default: a self-signed development certificate in --data-dir/tls)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.BoolVar(&f.plainHTTP, "plain-http", false, "serve without TLS (the session cookie is then not Secure): only on loopback behind an SSH tunnel")
	fs.DurationVar(&f.sessionIdle, "session-idle", console.DefaultSessionIdle, "a console session unused this long ends")
	fs.StringVar(&f.ntp, "ntp", "", "NTP server (host[:port]) the host clock is checked against, its offset shown on the overview (default: unchecked)")
	fs.DurationVar(&f.maxClockOffset, "max-clock-offset", clock.DefaultMaxOffset, "largest accepted offset of the host clock from --ntp")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := f.check(); err != nil {
		return err
	}
	log, err := newLogger(stderr, "auto", "info")
	if err != nil {
		return err
	}
	return serveConsole(ctx, f, stdout, log)
}

func (f consoleFlags) check() error {
	host, _, err := net.SplitHostPort(f.addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", f.addr, err)
	}
	if ip := net.ParseIP(host); !f.allowRemote && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--addr %q is not a loopback address: other hosts could reach the console; use an SSH tunnel, or --allow-remote", f.addr)
	}
	switch {
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case f.plainHTTP && f.tlsCert != "":
		return errors.New("--plain-http and --tls-cert exclude each other")
	case f.sessionIdle <= 0:
		return fmt.Errorf("--session-idle %v: must be positive", f.sessionIdle)
	case f.maxClockOffset <= 0:
		return fmt.Errorf("--max-clock-offset %v: must be positive", f.maxClockOffset)
	}
	return nil
}

func serveConsole(ctx context.Context, f consoleFlags, stdout io.Writer, log *slog.Logger) error {
	var monitor *clock.NTPMonitor
	var clk clock.Clock = clock.System{}
	if f.ntp != "" {
		var err error
		if monitor, err = clock.NewNTPMonitor(clock.NTPConfig{Server: f.ntp, MaxOffset: f.maxClockOffset, Logger: log}); err != nil {
			return fmt.Errorf("--ntp: %w", err)
		}
		clk = clock.Checked{Monitor: monitor}
		go monitor.Run(ctx)
	}
	st, err := openStoreWith(ctx, f.db, "", log)
	if err != nil {
		return err
	}
	defer st.Close()
	scheme := "https://"
	if f.plainHTTP {
		scheme = "http://"
	}
	srv, err := server.New(server.Config{BaseURL: cliBase, Store: st, Clock: clk, Logger: log, Monitor: monitor,
		AuditSite: strings.TrimSpace("console " + hostname()),
		// The console writes no directory resources; the default policy
		// stands in for the required collaborator.
		ProfileValidation: profile.Enforce})
	if err != nil {
		return err
	}
	con, err := srv.Console(server.ConsoleOptions{Operator: operatorName(), Database: redactDB(f.db), Secure: !f.plainHTTP, SessionIdle: f.sessionIdle})
	if err != nil {
		return err
	}
	go con.Run(ctx)
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: con.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if !f.plainHTTP {
		certs, err := loadCertificate(serveFlags{addr: f.addr, dataDir: f.dataDir, tlsCert: f.tlsCert, tlsKey: f.tlsKey}, clk)
		if err != nil {
			ln.Close()
			return err
		}
		httpSrv.TLSConfig = tlsconf.Server(certs)
		ln = tls.NewListener(ln, httpSrv.TLSConfig)
		if f.tlsCert == "" {
			log.Info("the console's certificate is the self-signed development certificate", "dir", filepath.Join(f.dataDir, "tls"), "sha256", certs.Fingerprint())
		}
		go reloadOnHUP(ctx, certs, log)
	}
	fmt.Fprintf(stdout, "vhdir console for %s on %s\nOpen this one-time login link in a browser (it works once):\n\n    %s%s/login?token=%s\n\n",
		operatorName(), redactDB(f.db), scheme, ln.Addr().String(), con.LoginToken())
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// hostname is this host's name ("" when unknown).
func hostname() string {
	h, _ := os.Hostname()
	return h
}
