package auth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
)

// publicFHIR are FHIR paths served without a token: what a client needs
// to find out how to get one.
func publicFHIR(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
		return false
	}
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/fhir/metadata", "/fhir/.well-known/smart-configuration":
		return true
	}
	return false
}

// Identify finds the caller of an HTTP request: ErrNoToken or
// ErrInvalidToken when there is none, another error when it cannot be
// checked now. BearerCaller is the production one; tests may stand in
// their own (see RequireCaller).
type Identify func(r *http.Request) (*interaction.Caller, error)

// BearerCaller identifies the caller by its access token (Authorization:
// Bearer, RFC 6750).
func (s *Server) BearerCaller(r *http.Request) (*interaction.Caller, error) {
	token, ok := bearer(r)
	if !ok {
		return nil, ErrNoToken
	}
	return s.Authenticate(r.Context(), token)
}

// RequireToken lets through requests with a valid access token (their
// caller in the context) and answers the rest 401 with WWW-Authenticate
// (RFC 6750 §3). Under /fhir the answer is an OperationOutcome; discovery
// and metadata stay public.
func (s *Server) RequireToken(next http.Handler) http.Handler {
	return s.RequireCaller(next, s.BearerCaller)
}

// RequireCaller is RequireToken with the caller found by identify.
func (s *Server) RequireCaller(next http.Handler, identify Identify) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if publicFHIR(r) {
			next.ServeHTTP(w, r)
			return
		}
		c, err := identify(r)
		switch {
		case errors.Is(err, ErrNoToken):
			s.unauthorized(w, r, `Bearer realm="vhdir"`, "an access token is required (Authorization: Bearer …); get one at "+s.tokenURL)
			return
		case errors.Is(err, ErrInvalidToken):
			s.unauthorized(w, r, `Bearer realm="vhdir", error="invalid_token", error_description="the access token is invalid or expired"`, "the access token is invalid, expired or revoked")
			return
		case err != nil:
			s.log.ErrorContext(r.Context(), "token check failed", "err", err)
			fhir.WriteOutcome(w, fhir.Errorf(http.StatusServiceUnavailable, fhir.IssueException, "the access token cannot be checked right now; retry").Wrap(err), interaction.RequestID(r.Context()))
			return
		}
		// One cached caller serves every request of its token: this
		// request's copy gets its own source address.
		caller := *c
		caller.Address = sourceAddr(r)
		s.cfg.Auditor.Authenticated(r.Context(), &caller)
		next.ServeHTTP(w, r.WithContext(interaction.WithCaller(r.Context(), &caller)))
	})
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, challenge, msg string) {
	w.Header().Set("WWW-Authenticate", challenge)
	if strings.HasPrefix(r.URL.Path, "/fhir") {
		fhir.WriteOutcome(w, fhir.Errorf(http.StatusUnauthorized, fhir.IssueLogin, "%s", msg), interaction.RequestID(r.Context()))
		return
	}
	WriteOAuthError(w, http.StatusUnauthorized, "invalid_token", msg)
}

// Mount registers the authorization server's endpoints on mux and serves
// fhirAPI (the FHIR handlers, under /fhir) behind RequireCaller with
// identify.
func (s *Server) Mount(mux *http.ServeMux, fhirAPI http.Handler, identify Identify) {
	s.Routes(mux)
	h := s.RequireCaller(fhirAPI, identify)
	mux.Handle("/fhir", h)
	mux.Handle("/fhir/", h)
}
