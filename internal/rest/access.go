package rest

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/store"
)

// Permission letters, as SMART v2 writes them.
const (
	PermCreate byte = 'c'
	PermRead   byte = 'r'
	PermUpdate byte = 'u'
	PermDelete byte = 'd'
	PermSearch byte = 's'
)

// Access limits what one caller may see and do. Config.Access returns it
// for a request's context; nil means no limits (the server without
// authorization, and tests).
type Access struct {
	// Allowed reports whether the caller holds permission perm on typ.
	Allowed func(typ string, perm byte) bool
	// Constraints returns the alternative search conditions (OR-ed) that a
	// resource of typ must match for perm, from query-filtered scopes; nil
	// when some grant of perm on typ has no condition.
	Constraints func(typ string, perm byte) []url.Values
	// Organization (Organization/id) and Roles are the caller's, as
	// registered; usage restrictions permit by them (see Server.Viewer).
	// Operator marks a caller registered to see restricted data
	// (--sees-restricted).
	Organization string
	Roles        []string
	Operator     bool
}

// access returns the caller's limits, or nil.
func (s *Server) access(ctx context.Context) *Access {
	if s.cfg.Access == nil {
		return nil
	}
	return s.cfg.Access(ctx)
}

// readable reports whether included or system-level results of typ may be
// shown: read or search permission, without a condition.
func (a *Access) readable(typ string) bool {
	if a == nil {
		return true
	}
	for _, p := range []byte{PermRead, PermSearch} {
		if a.Allowed(typ, p) && a.Constraints(typ, p) == nil {
			return true
		}
	}
	return false
}

func forbidden(format string, args ...any) error {
	return fhir.Errorf(http.StatusForbidden, fhir.IssueForbidden, format, args...)
}

// constraint compiles the caller's conditions on typ for perm into one
// condition (nil: unconstrained).
func (s *Server) constraint(a *Access, typ string, perm byte) (store.Cond, error) {
	if a == nil {
		return nil, nil
	}
	alts := a.Constraints(typ, perm)
	if alts == nil {
		return nil, nil
	}
	c := s.cfg.Search.FilterAny(typ, alts)
	if c == nil {
		return nil, forbidden("the access token's conditions on %s cannot be evaluated", typ)
	}
	return c, nil
}

// searcher is what both a store and a transaction search with.
type searcher interface {
	Search(ctx context.Context, q *store.Query) (*store.SearchPage, error)
}

// matches reports whether typ/id currently satisfies cond, judged on what
// viewer sees of it.
func matches(ctx context.Context, st searcher, typ, id string, cond store.Cond, viewer *store.Viewer) (bool, error) {
	page, err := st.Search(ctx, &store.Query{Types: []string{typ}, Where: store.AllOf(store.IDIs{IDs: []string{id}}, cond), Count: 1, Total: store.TotalNone, Viewer: viewer})
	if err != nil {
		return false, err
	}
	return len(page.Versions) > 0, nil
}

// checkRead hides a resource the caller may read only under conditions it
// does not meet: 404, as if it did not exist.
func (s *Server) checkRead(ctx context.Context, req *Request) error {
	a := s.access(ctx)
	cond, err := s.constraint(a, req.Type, PermRead)
	if err != nil || cond == nil {
		return err
	}
	viewer, err := s.Viewer(ctx)
	if err != nil {
		return err
	}
	ok, err := matches(ctx, s.cfg.Store, req.Type, req.ID, cond, viewer.Store())
	if err != nil {
		return err
	}
	if !ok {
		return fhir.Errorf(http.StatusNotFound, fhir.IssueNotFound, "%s/%s is not known", req.Type, req.ID)
	}
	return nil
}

// checkSearchTypes narrows a system search's types to those the caller
// may search without conditions, and refuses named types it may not.
func (s *Server) checkSearchTypes(ctx context.Context, types []string, named bool) ([]string, error) {
	a := s.access(ctx)
	if a == nil {
		return types, nil
	}
	if !named {
		types = s.cfg.Search.Registry().Types()
	}
	var out []string
	for _, t := range types {
		ok := a.Allowed(t, PermSearch) && a.Constraints(t, PermSearch) == nil
		switch {
		case ok:
			out = append(out, t)
		case named:
			return nil, forbidden("the access token does not allow searching %s across types (a type-level search may be allowed)", t)
		}
	}
	if len(out) == 0 {
		return nil, forbidden("the access token allows no type to be searched")
	}
	return out, nil
}

// checkTraversals refuses chains and _has through types the caller may not
// read: their values would leak through which resources match.
func checkTraversals(a *Access, c store.Cond) error {
	if a == nil {
		return nil
	}
	var err error
	walkCond(c, func(c store.Cond) {
		var types []string
		switch c := c.(type) {
		case store.Chain:
			types = c.Types
		case store.Has:
			types = []string{c.Type}
		}
		for _, t := range types {
			if err == nil && !a.readable(t) {
				err = forbidden("the access token does not allow reading %s, so searches may not chain through it", t)
			}
		}
	})
	return err
}

// walkCond calls fn on c and every condition inside it.
func walkCond(c store.Cond, fn func(store.Cond)) {
	fn(c)
	switch c := c.(type) {
	case store.And:
		for _, x := range c {
			walkCond(x, fn)
		}
	case store.Or:
		for _, x := range c {
			walkCond(x, fn)
		}
	case store.Not:
		walkCond(c.X, fn)
	case store.Chain:
		walkCond(c.Where, fn)
	case store.Has:
		walkCond(c.Where, fn)
	}
}

// visibleIncludes drops included resources the caller may not read.
func visibleIncludes(a *Access, vs []*store.Version) []*store.Version {
	if a == nil {
		return vs
	}
	return slices.DeleteFunc(vs, func(v *store.Version) bool { return !a.readable(v.Type) })
}
