package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
)

func (s *Server) parseSearchType(r *http.Request) (*interaction.Request, error) {
	req := s.newRequest(r, interaction.SearchType)
	if err := s.checkType(req.Type); err != nil {
		return nil, err
	}
	q, err := searchParams(r)
	if err != nil {
		return nil, err
	}
	req.Query = q
	return req, nil
}

func (s *Server) parseSearchSystem(r *http.Request) (*interaction.Request, error) {
	req := s.newRequest(r, interaction.SearchSystem)
	q, err := searchParams(r)
	if err != nil {
		return nil, err
	}
	req.Query = q
	return req, nil
}

// searchParams merges the URL query with a POST _search form body.
func searchParams(r *http.Request) (url.Values, error) {
	q := r.URL.Query()
	if r.Method != http.MethodPost {
		return q, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, fhir.Errorf(http.StatusUnsupportedMediaType, fhir.IssueNotSupported, "POST _search takes application/x-www-form-urlencoded parameters, not %s", ct)
	}
	if err := r.ParseForm(); err != nil {
		if errors.Is(err, errBusy) {
			return nil, busyError(err)
		}
		return nil, bodyError(err, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "the _search form body cannot be parsed"))
	}
	for k, vs := range r.PostForm {
		q[k] = append(q[k], vs...)
	}
	return q, nil
}

// search serves type and system searches.
func (s *Server) search(ctx context.Context, req *interaction.Request, acc *interaction.Access) (*interaction.Response, error) {
	types := []string{req.Type}
	if req.Kind == interaction.SearchSystem {
		var err error
		if types, err = s.searchTypes(req.Query); err != nil {
			return nil, err
		}
		if types, err = s.checkSearchTypes(acc, types, req.Query.Has("_type")); err != nil {
			return nil, err
		}
	}
	plan, err := s.cfg.Search.Compile(types, req.Query, search.Options{Lenient: req.Prefer.Lenient()})
	if err != nil {
		return nil, err
	}
	if err := checkTraversals(acc, plan.Query.Where); err != nil {
		return nil, err
	}
	if req.Kind == interaction.SearchType {
		cond, err := s.constraint(acc, req.Type, interaction.PermSearch)
		if err != nil {
			return nil, err
		}
		if cond != nil {
			plan.Query.Where = andCond(plan.Query.Where, cond)
		}
	}
	shapeType := req.Type
	if len(types) == 1 {
		shapeType = types[0]
	}
	sh, err := parseShaping(req.Query, shapeType)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"_summary", "_elements"} {
		if req.Query.Has(k) {
			plan.Applied[k] = req.Query[k]
		}
	}
	viewer, err := acc.Viewer(ctx)
	if err != nil {
		return nil, err
	}
	plan.Query.Viewer = viewer.Store()
	page, err := s.cfg.Store.Search(ctx, plan.Query)
	switch {
	case errors.Is(err, store.ErrBadCursor):
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "_page belongs to a search with other sort keys").Wrap(err)
	case errors.Is(err, store.ErrUnsupported):
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "this search cannot be answered: %v", err).Wrap(err)
	}
	if err != nil {
		return nil, err
	}
	page.Included = visibleIncludes(acc, page.Included)
	b := fhir.NewBundle("searchset", "", fhir.FormatInstant(s.cfg.Clock.Now()))
	if page.Total >= 0 {
		b.SetTotal(page.Total)
	}
	applied := plan.Applied
	if req.Kind == interaction.SearchSystem && req.Query.Has("_type") {
		applied["_type"] = req.Query["_type"]
	}
	self := &interaction.Request{Kind: req.Kind, Type: req.Type, Query: applied}
	b.Link("self", s.selfURL(self, nil))
	if page.Next != nil {
		b.Link("next", s.selfURL(self, url.Values{"_page": {search.EncodeCursor(page.Next)}}))
	}
	resp := newResponse(http.StatusOK, nil)
	// _elements shapes the matches; _summary every entry.
	incShape := shaping{summary: sh.summary}
	for _, group := range []struct {
		mode     string
		versions []*store.Version
		sh       shaping
	}{{"match", page.Versions, sh}, {"include", page.Included, incShape}} {
		for _, v := range group.versions {
			body, visible, err := viewBody(resp, v, viewer)
			if err != nil {
				return nil, err
			}
			if !visible {
				continue
			}
			res, err := group.sh.apply(body, v.Type)
			if err != nil {
				return nil, err
			}
			e := &jsontree.Object{}
			e.Set("fullUrl", s.fullURL(v.Type, v.ID))
			e.Set("resource", res)
			m := &jsontree.Object{}
			m.Set("mode", group.mode)
			e.Set("search", m)
			b.Entry(e)
		}
	}
	if page.IncludedTruncated {
		plan.Ignored = append(plan.Ignored, fmt.Sprintf("includes stopped at %d resources for this page; ask for smaller pages (_count)", plan.Query.MaxIncluded))
	}
	if len(plan.Ignored) > 0 {
		var issues []fhir.Issue
		for _, msg := range plan.Ignored {
			issues = append(issues, fhir.Issue{Severity: fhir.SeverityWarning, Code: fhir.IssueNotSupported, Diagnostics: "ignored: " + msg})
		}
		e := &jsontree.Object{}
		e.Set("resource", fhir.OutcomeOf(issues...))
		m := &jsontree.Object{}
		m.Set("mode", "outcome")
		e.Set("search", m)
		b.Entry(e)
	}
	resp.Body = b.Object()
	return resp, nil
}

// searchTypes reads _type for a system search (all served types without it).
func (s *Server) searchTypes(q url.Values) ([]string, error) {
	if !q.Has("_type") {
		return nil, nil
	}
	var types []string
	for _, v := range q["_type"] {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if err := s.checkType(t); err != nil {
				return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "_type: %s", err)
			}
			types = append(types, t)
		}
	}
	return types, nil
}

// andCond adds c to the conditions where.
func andCond(where, c store.Cond) store.Cond {
	if where == nil {
		return c
	}
	return store.And{where, c}
}
