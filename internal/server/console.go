package server

import (
	"time"

	"github.com/vhdir/vhdir/internal/console"
)

// ConsoleOptions are what `vhdir console` chooses for its console.
type ConsoleOptions struct {
	// Operator is the operating-system user running the console.
	Operator string
	// Database describes the database (no password) for the overview.
	Database string
	// Secure marks the console served over TLS.
	Secure      bool
	SessionIdle time.Duration
}

// Console builds the operator console on this server's parts: the FHIR
// pipeline it reads through, the client registry, the audit trail that
// records each of its requests, and the readiness checks /readyz runs.
func (s *Server) Console(opts ConsoleOptions) (*console.Console, error) {
	checks := make([]console.Check, len(s.checks))
	for i, c := range s.checks {
		checks[i] = console.Check{Name: c.Name, Run: c.Run}
	}
	return console.New(console.Config{
		FHIR: s.rest, Registry: s.registry, Recorder: s.recorder, Store: s.cfg.Store, Clock: s.cfg.Clock,
		Validator: s.validator, Search: s.search, Types: s.search.Registry().Types(), Checks: checks,
		Monitor: s.cfg.Monitor, Operator: opts.Operator, Database: opts.Database, Secure: opts.Secure,
		SessionIdle: opts.SessionIdle, Logger: s.log,
	})
}
