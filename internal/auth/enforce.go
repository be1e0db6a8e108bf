package auth

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/rest"
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

// RequireToken lets through requests with a valid access token (the
// principal in their context) and answers the rest 401 with
// WWW-Authenticate (RFC 6750 §3). Under /fhir the answer is an
// OperationOutcome; discovery and metadata stay public.
func (s *Server) RequireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if publicFHIR(r) {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := bearer(r)
		if !ok {
			s.unauthorized(w, r, `Bearer realm="vhdir"`, "an access token is required (Authorization: Bearer …); get one at "+s.tokenURL)
			return
		}
		p, err := s.Authenticate(r.Context(), token)
		if err == errInvalidToken {
			s.unauthorized(w, r, `Bearer realm="vhdir", error="invalid_token", error_description="the access token is invalid or expired"`, "the access token is invalid, expired or revoked")
			return
		}
		if err != nil {
			s.log.ErrorContext(r.Context(), "token check failed", "err", err)
			writeOutcome(w, http.StatusServiceUnavailable, fhir.IssueException, "the access token cannot be checked right now; retry")
			return
		}
		if s.cfg.OnAuthenticated != nil {
			s.cfg.OnAuthenticated(r.Context(), p)
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, challenge, msg string) {
	w.Header().Set("WWW-Authenticate", challenge)
	if strings.HasPrefix(r.URL.Path, "/fhir") {
		writeOutcome(w, http.StatusUnauthorized, fhir.IssueLogin, msg)
		return
	}
	oauthError(w, http.StatusUnauthorized, "invalid_token", msg)
}

func writeOutcome(w http.ResponseWriter, status int, code, msg string) {
	body := fhir.OutcomeOf(fhir.Issue{Severity: fhir.SeverityError, Code: code, Diagnostics: msg})
	w.Header().Set("Content-Type", "application/fhir+json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(jsontree.Marshal(body))
}

// Authorize is rest.Config.Authorize: it checks every interaction (each
// Bundle entry too) against the caller's scopes. SMART v2 letters: r for
// read, vread and instance history; s for search and type or system
// history; c create; u update (and update-as-create); d delete;
// conditional writes also need s, since they search.
func (s *Server) Authorize(ctx context.Context, req *rest.Request) error {
	if req.Interaction == rest.Capabilities {
		return nil
	}
	p := PrincipalFrom(ctx)
	if p == nil {
		return fhir.Errorf(http.StatusUnauthorized, fhir.IssueLogin, "an access token is required")
	}
	need := needs(req)
	if need == 0 || req.Type == "" {
		return nil // system-level search and history, and Bundles: narrowed or checked per entry by rest
	}
	if !p.Grants.Allows(req.Type, need) {
		return fhir.Errorf(http.StatusForbidden, fhir.IssueForbidden, "the access token does not allow %s on %s (needs scope system/%s.%s)", req.Interaction, req.Type, req.Type, need)
	}
	return nil
}

// needs is the permission an interaction takes.
func needs(req *rest.Request) Perm {
	switch req.Interaction {
	case rest.Read, rest.VRead, rest.HistoryInstance:
		return PermRead
	case rest.SearchType, rest.HistoryType:
		return PermSearch
	case rest.Create:
		if req.IfNoneExist != nil {
			return PermCreate | PermSearch
		}
		return PermCreate
	case rest.Update:
		if req.Conditional() {
			return PermUpdate | PermSearch
		}
		return PermUpdate
	case rest.Delete:
		if req.Conditional() {
			return PermDelete | PermSearch
		}
		return PermDelete
	}
	return 0
}

// Access is rest.Config.Access: the caller's grants as the FHIR server
// applies them to results.
func (s *Server) Access(ctx context.Context) *rest.Access {
	p := PrincipalFrom(ctx)
	if p == nil {
		// Unreachable behind RequireToken; fail closed if it ever is.
		return &rest.Access{
			Allowed:     func(string, byte) bool { return false },
			Constraints: func(string, byte) []url.Values { return nil },
		}
	}
	g := p.Grants
	return &rest.Access{
		Organization: p.Organization, Roles: p.Roles, Operator: p.SeesRestricted,
		Allowed: func(typ string, perm byte) bool { return g.Allows(typ, permOf(perm)) },
		Constraints: func(typ string, perm byte) []url.Values {
			filters, unrestricted := g.Filters(typ, permOf(perm))
			if unrestricted {
				return nil
			}
			if filters == nil {
				return []url.Values{} // granted by nothing: no alternative matches
			}
			return filters
		},
	}
}

// permOf maps a rest permission letter to a Perm.
func permOf(b byte) Perm {
	switch b {
	case rest.PermCreate:
		return PermCreate
	case rest.PermRead:
		return PermRead
	case rest.PermUpdate:
		return PermUpdate
	case rest.PermDelete:
		return PermDelete
	case rest.PermSearch:
		return PermSearch
	}
	return 0
}

// Mount registers the authorization server's endpoints on mux and serves
// fhirAPI (the FHIR handlers, under /fhir) behind RequireToken.
func (s *Server) Mount(mux *http.ServeMux, fhirAPI http.Handler) {
	s.Routes(mux)
	h := s.RequireToken(fhirAPI)
	mux.Handle("/fhir", h)
	mux.Handle("/fhir/", h)
}
