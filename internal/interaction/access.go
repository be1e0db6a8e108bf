package interaction

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/vhdir/vhdir/internal/fhir"
)

// Grants are what a caller's access token allows (package auth parses
// SMART scopes into them).
type Grants interface {
	// Allows reports whether every letter of p is granted on typ, with or
	// without conditions. An empty p is refused.
	Allows(typ string, p Perm) bool
	// Filters says how p on typ is constrained: unrestricted when some
	// grant of every letter has no condition; else the conditions of the
	// query-filtered grants (a resource must match one of them).
	Filters(typ string, p Perm) (filters []url.Values, unrestricted bool)
}

// Authorizer decides what a caller's token grants. An error means it
// cannot be decided now: the request fails and gets nothing.
type Authorizer interface {
	Grants(ctx context.Context, c *Caller) (Grants, error)
}

// ViewerResolver resolves a caller into the viewer usage restrictions
// judge.
type ViewerResolver interface {
	Viewer(ctx context.Context, c *Caller) (*Viewer, error)
}

// Access is what one caller may do and see, decided once per request
// (Decide) and handed to every step that needs it: the interaction's
// permission, the types of system-level searches and exports, the
// conditions of query-filtered scopes, which included and chained types
// may show, and the viewer usage restrictions judge.
type Access struct {
	Caller *Caller
	grants Grants

	resolve func(ctx context.Context) (*Viewer, error)
	once    sync.Once
	viewer  *Viewer
	err     error
}

// Decide returns the access of the caller ctx carries, or a 401 when it
// carries none. The viewer is resolved on first use (most reads meet no
// restricted data and need none), once.
func Decide(ctx context.Context, authz Authorizer, viewers ViewerResolver) (*Access, error) {
	c := CallerFrom(ctx)
	if c == nil {
		return nil, fhir.Errorf(http.StatusUnauthorized, fhir.IssueLogin, "an access token is required")
	}
	g, err := authz.Grants(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("the grants of client %s: %w", c.ClientID, err)
	}
	return &Access{Caller: c, grants: g, resolve: func(ctx context.Context) (*Viewer, error) {
		return viewers.Viewer(ctx, c)
	}}, nil
}

// Viewer returns the caller as usage restrictions see it.
func (a *Access) Viewer(ctx context.Context) (*Viewer, error) {
	a.once.Do(func() {
		a.viewer, a.err = a.resolve(ctx)
		if a.err != nil {
			a.err = fmt.Errorf("resolve the caller for usage restrictions: %w", a.err)
		}
	})
	return a.viewer, a.err
}

// Allowed reports whether the caller holds p on typ (with or without
// conditions).
func (a *Access) Allowed(typ string, p Perm) bool { return a.grants.Allows(typ, p) }

// Constraints returns the alternative conditions (OR-ed) that a resource
// of typ must match for p, from query-filtered scopes: nil when some grant
// of p on typ has none, and an empty list when nothing grants p.
func (a *Access) Constraints(typ string, p Perm) []url.Values {
	filters, unrestricted := a.grants.Filters(typ, p)
	switch {
	case unrestricted:
		return nil
	case filters == nil:
		return []url.Values{}
	}
	return filters
}

// Readable reports whether included, chained or system-level results of
// typ may be shown: read or search permission without a condition.
func (a *Access) Readable(typ string) bool {
	for _, p := range []Perm{PermRead, PermSearch} {
		if a.Allowed(typ, p) && a.Constraints(typ, p) == nil {
			return true
		}
	}
	return false
}

// MayRead reports whether the caller may read resources of typ at all:
// read or search permission, with or without conditions (an export
// applies the conditions; see ReadConditions).
func (a *Access) MayRead(typ string) bool {
	return a.Allowed(typ, PermRead) || a.Allowed(typ, PermSearch)
}

// ReadConditions are the conditions (OR-ed) under which the caller reads
// typ; scoped is false when some read or search grant has none.
func (a *Access) ReadConditions(typ string) (conds []url.Values, scoped bool) {
	for _, p := range []Perm{PermRead, PermSearch} {
		if !a.Allowed(typ, p) {
			continue
		}
		alts := a.Constraints(typ, p)
		if alts == nil {
			return nil, false
		}
		conds = append(conds, alts...)
	}
	return conds, true
}

// Permit checks an interaction against the caller's grants: the SMART
// letter it takes on its type (Request.Needs). Interactions that take
// none are narrowed where they run.
func (a *Access) Permit(req *Request) error {
	need := req.Needs()
	if need == 0 || req.Type == "" {
		return nil
	}
	if !a.Allowed(req.Type, need) {
		return fhir.Errorf(http.StatusForbidden, fhir.IssueForbidden, "the access token does not allow %s on %s (needs scope system/%s.%s)", req.Kind, req.Type, req.Type, need)
	}
	return nil
}
