package auth

import (
	"encoding/json"
	"strings"
)

// Registration is a registered client system: what it is called, which
// organization it acts for (recorded in every AuditEvent and Provenance,
// and matched against usage restrictions), how its keys are found, and the
// most it may be granted. It is stored as JSON in store.ClientRecord.Data.
type Registration struct {
	ClientID string `json:"client_id"`
	Name     string `json:"client_name"`
	// Organization is a reference to the directory's Organization
	// ("Organization/123").
	Organization     string   `json:"organization"`
	OrganizationName string   `json:"organization_name,omitempty"`
	Contacts         []string `json:"contacts,omitempty"`
	// Exactly one of JWKS (the key set by value) and JWKSURI (an https URL
	// serving it) is set.
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri,omitempty"`
	// JKU lists the JWKS URLs an assertion's jku header may name; empty
	// means a jku header is refused.
	JKU []string `json:"jku,omitempty"`
	// Scope is the space-separated set of scopes the client may be granted
	// (the ceiling of scope mediation).
	Scope string `json:"scope"`
	// Roles are the client's roles for usage restrictions: a restriction
	// whose provision.securityLabel has a role's code ("code") or coding
	// ("system|code") permits the client.
	Roles []string `json:"roles,omitempty"`
	// SeesRestricted registers a directory operator's client (data
	// stewardship): every usage restriction permits it.
	SeesRestricted bool `json:"sees_restricted,omitempty"`
	// Disabled mirrors store.ClientRecord.Disabled (not part of Data).
	Disabled bool `json:"-"`
}

// SplitList reads one of a registration's lists (contacts, JKU, roles) as
// operators write it, comma-separated: each entry trimmed, empty ones
// dropped.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
