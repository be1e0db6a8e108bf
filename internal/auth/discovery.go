package auth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/vhdir/vhdir/internal/interaction"
)

// SigningAlgorithms are the client assertion algorithms the token endpoint
// accepts, as advertised.
var SigningAlgorithms = []string{"RS384", "ES384"}

// smartConfiguration is the SMART App Launch 2.2 discovery document of a
// backend-services-only server.
type smartConfiguration struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Capabilities                      []string `json:"capabilities"`
	// Required by SMART 2.2 for every server; S256 only (no authorization
	// code flow is offered, so it is never used).
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
}

// ScopesSupported lists the scopes a client may ask for: the wildcards in
// v2 and v1 form, then each type's read and search scope (AuditEvent's
// among them: wildcards do not reach it). Narrower scopes, v1 forms and
// query-filtered scopes are accepted too.
func (s *Server) ScopesSupported() []string {
	out := []string{"system/*.rs", "system/*.cruds", "system/*.read", "system/*.write", "system/*.*"}
	for _, t := range s.cfg.Types {
		out = append(out, "system/"+t+".rs")
	}
	return out
}

// handleDiscovery serves .well-known/smart-configuration: public, JSON
// whatever the Accept header. The middleware stack makes it readable
// cross-origin (SMART 2.2).
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	doc := smartConfiguration{
		TokenEndpoint:                     s.tokenURL,
		IntrospectionEndpoint:             s.IntrospectURL(),
		GrantTypesSupported:               []string{"client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{"private_key_jwt"},
		TokenEndpointAuthSigningAlgs:      SigningAlgorithms,
		ScopesSupported:                   s.ScopesSupported(),
		Capabilities:                      []string{"client-confidential-asymmetric", "permission-v1", "permission-v2"},
		CodeChallengeMethodsSupported:     []string{"S256"},
	}
	writeJSON(w, http.StatusOK, doc)
}

// introspection is RFC 7662's answer for an active token, with SMART's
// fields.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope"`
	ClientID  string `json:"client_id"`
	Sub       string `json:"sub"`
	Exp       int64  `json:"exp"`
	Iat       int64  `json:"iat"`
	TokenType string `json:"token_type"`
}

// handleIntrospect answers whether a token is active. The caller must hold
// a valid token itself (RequireToken runs first); anything unknown,
// expired, malformed or of a disabled client is {"active": false}.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	if !strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") {
		WriteOAuthError(w, http.StatusBadRequest, "invalid_request", "introspection takes an application/x-www-form-urlencoded body")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenForm)
	if err := r.ParseForm(); err != nil {
		if bte := new(interaction.BodyTimeoutError); errors.As(err, &bte) {
			WriteOAuthError(w, http.StatusRequestTimeout, "invalid_request", bte.Error())
			return
		}
		WriteOAuthError(w, http.StatusBadRequest, "invalid_request", "the form body cannot be read")
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		WriteOAuthError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	p, err := s.Authenticate(r.Context(), token)
	if errors.Is(err, ErrInvalidToken) {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "introspection failed", "err", err)
		WriteOAuthError(w, http.StatusInternalServerError, "server_error", "the token cannot be checked right now")
		return
	}
	writeJSON(w, http.StatusOK, introspection{
		Active: true, Scope: p.Scope, ClientID: p.ClientID, Sub: p.ClientID,
		Exp: p.Expires.Unix(), Iat: p.IssuedAt.Unix(), TokenType: "Bearer",
	})
}
