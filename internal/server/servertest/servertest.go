// Package servertest serves the real vhdir server, built by server.New as
// `vhdir serve` builds it, on a real TLS listener for a test's life: the
// one harness every package's tests and benchmarks share. The test
// controls what it must through server.Config (the clock, the store, a
// stand-in for token checks where one is needed); everything else is the
// production wiring.
package servertest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/server"
)

// Server is a vhdir serving on a TLS listener.
type Server struct {
	*server.Server
	t testing.TB
	// TS is the listener; URL is its base URL (https://host:port) and
	// Config.BaseURL.
	TS  *httptest.Server
	URL string
	// Config is what the server was built from.
	Config server.Config
	stop   context.CancelFunc
	done   chan struct{}
}

// New builds a server from cfg (BaseURL is the listener's) without
// starting it: set TS.TLS first to serve another TLS configuration.
func New(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	s := &Server{t: t, TS: ts, URL: "https://" + ts.Listener.Addr().String()}
	t.Cleanup(func() {
		s.StopRunners()
		ts.Close()
	})
	s.Rebuild(cfg)
	// vhdir serve's http.Server: the limits net/http enforces are the
	// production ones too.
	ts.Config = s.Server.HTTPServer()
	return s
}

// Start builds a server from cfg and starts serving.
func Start(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	s := New(t, cfg)
	s.TS.StartTLS()
	return s
}

// Rebuild serves a server built anew from cfg on the same listener, as a
// restarted process would (on a new store handle, say). The http.Server's
// own limits stay those New set.
func (s *Server) Rebuild(cfg server.Config) {
	s.t.Helper()
	cfg.BaseURL = s.URL
	if cfg.ProfileValidation == 0 {
		// Most tests write minimal resources to exercise other behaviour:
		// every write is still validated against the profiles, and refused
		// only where a test asks for enforce.
		cfg.ProfileValidation = profile.Warn
	}
	srv, err := server.New(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	s.Server, s.Config = srv, cfg
	s.TS.Config.Handler = srv.Handler()
}

// RunRunners starts the server's background work (server.Server.Run)
// until StopRunners or the test's end.
func (s *Server) RunRunners() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	srv := s.Server
	go func() {
		defer close(s.done)
		srv.Run(ctx)
	}()
}

// StopRunners stops the background work and waits for it.
func (s *Server) StopRunners() {
	if s.stop != nil {
		s.stop()
		<-s.done
		s.stop = nil
	}
}
