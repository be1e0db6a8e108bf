package rest

import (
	"context"
	"net/http"
	"slices"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/store"
)

func forbidden(format string, args ...any) error {
	return fhir.Errorf(http.StatusForbidden, fhir.IssueForbidden, format, args...)
}

// constraint compiles the caller's conditions on typ for perm into one
// condition (nil: unconstrained).
func (s *Server) constraint(acc *interaction.Access, typ string, perm interaction.Perm) (store.Cond, error) {
	alts := acc.Constraints(typ, perm)
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
func (s *Server) checkRead(ctx context.Context, req *interaction.Request, acc *interaction.Access) error {
	cond, err := s.constraint(acc, req.Type, interaction.PermRead)
	if err != nil || cond == nil {
		return err
	}
	viewer, err := acc.Viewer(ctx)
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
// AuditEvents are audit records, not directory data: a search across
// types leaves them out, and one that names them names them alone.
func (s *Server) checkSearchTypes(acc *interaction.Access, types []string, named bool) ([]string, error) {
	if !named {
		types = slices.DeleteFunc(s.cfg.Search.Registry().Types(), func(t string) bool { return t == store.AuditType })
	} else if len(types) > 1 && slices.Contains(types, store.AuditType) {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "_type: AuditEvent is searched on its own (GET [base]/AuditEvent?…), not together with other types")
	}
	var out []string
	for _, t := range types {
		switch {
		case searchable(acc, t):
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

// searchable reports whether the caller may search typ without conditions:
// across types (system search and history), where a query-filtered
// scope's condition is not applied.
func searchable(acc *interaction.Access, typ string) bool {
	return acc.Allowed(typ, interaction.PermSearch) && acc.Constraints(typ, interaction.PermSearch) == nil
}

// checkTraversals refuses chains and _has through types the caller may not
// read: their values would leak through which resources match.
func checkTraversals(acc *interaction.Access, c store.Cond) error {
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
			if err == nil && !acc.Readable(t) {
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
func visibleIncludes(acc *interaction.Access, vs []*store.Version) []*store.Version {
	return slices.DeleteFunc(vs, func(v *store.Version) bool { return !acc.Readable(v.Type) })
}
