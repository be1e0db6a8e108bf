package rest

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
)

// Page sizes (_count).
const (
	defaultCount = 50
	maxCount     = 1000
)

// history serves _history at instance, type and system level, newest
// first, paged by an opaque cursor on the write sequence so that pages stay
// exact while writes continue.
func (s *Server) history(ctx context.Context, req *interaction.Request, acc *interaction.Access) (*interaction.Response, error) {
	types, err := s.checkHistory(ctx, req, acc)
	if err != nil {
		return nil, err
	}
	q := store.HistoryQuery{Type: req.Type, ID: req.ID, Types: types, Count: defaultCount, WantTotal: req.Kind == interaction.HistoryInstance}
	for k, vs := range req.Query {
		v := vs[len(vs)-1]
		switch k {
		case "_count":
			n, err := parseCount(v)
			if err != nil {
				return nil, err
			}
			q.Count = n
		case "_since":
			lo, _, err := search.DateRange(v)
			if err != nil {
				return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "_since %q is not an instant", v)
			}
			q.Since = time.UnixMicro(lo).UTC()
		case "_page":
			seq, err := decodeCursor('h', v)
			if err != nil {
				return nil, err
			}
			q.AfterSeq = seq
		case "_format", "_pretty":
		case "_at", "_list":
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "history parameter %s is not supported", k)
		default:
			if !req.Prefer.Lenient() {
				return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "unknown history parameter %q (supported: _count, _since)", k)
			}
		}
	}
	if q.Count == 0 {
		q.Count = 1 // _count=0 still answers with the total; pages need a size
	}
	viewer, err := acc.Viewer(ctx)
	if err != nil {
		return nil, err
	}
	q.Viewer = viewer.Store()
	page, err := s.cfg.Store.History(ctx, q)
	if err != nil {
		return nil, err
	}
	b := fhir.NewBundle("history", "", fhir.FormatInstant(s.cfg.Clock.Now()))
	if page.Total >= 0 {
		b.SetTotal(page.Total)
	}
	b.Link("self", s.selfURL(req, nil))
	if page.NextSeq > 0 {
		b.Link("next", s.selfURL(req, url.Values{"_page": {encodeCursor('h', page.NextSeq)}}))
	}
	resp := newResponse(http.StatusOK, nil)
	for _, v := range page.Versions {
		body, visible, err := viewBody(resp, v, viewer)
		if err != nil {
			return nil, err
		}
		if !visible {
			continue
		}
		b.Entry(s.historyEntry(v, body))
	}
	resp.Body = b.Object()
	return resp, nil
}

func (s *Server) historyEntry(v *store.Version, body []byte) *jsontree.Object {
	e := &jsontree.Object{}
	e.Set("fullUrl", s.fullURL(v.Type, v.ID))
	if !v.Deleted {
		e.Set("resource", jsontree.Raw(body))
	}
	reqObj := &jsontree.Object{}
	respObj := &jsontree.Object{}
	switch {
	case v.Deleted:
		reqObj.Set("method", "DELETE")
		reqObj.Set("url", v.Type+"/"+v.ID)
		respObj.Set("status", "204 No Content")
	case v.VersionID == 1:
		reqObj.Set("method", "POST")
		reqObj.Set("url", v.Type)
		respObj.Set("status", "201 Created")
	default:
		reqObj.Set("method", "PUT")
		reqObj.Set("url", v.Type+"/"+v.ID)
		respObj.Set("status", "200 OK")
	}
	respObj.Set("etag", fhir.ETag(v.VersionID))
	respObj.Set("lastModified", fhir.FormatInstant(v.LastUpdated))
	e.Set("request", reqObj)
	e.Set("response", respObj)
	return e
}

// selfURL rebuilds the request URL with replacements applied.
func (s *Server) selfURL(req *interaction.Request, replace url.Values) string {
	u := s.fhirBase
	switch req.Kind {
	case interaction.HistoryInstance:
		u += "/" + req.Type + "/" + req.ID + "/_history"
	case interaction.HistoryType:
		u += "/" + req.Type + "/_history"
	case interaction.HistorySystem:
		u += "/_history"
	case interaction.SearchType:
		u += "/" + req.Type
	}
	q := url.Values{}
	for k, v := range req.Query {
		if k != "_page" {
			q[k] = v
		}
	}
	for k, v := range replace {
		q[k] = v
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func parseCount(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "_count %q is not a non-negative integer", v)
	}
	return min(n, maxCount), nil
}

// encodeCursor makes an opaque page token: a kind byte and a number.
func encodeCursor(kind byte, n int64) string {
	buf := binary.AppendVarint([]byte{kind}, n)
	return base64.RawURLEncoding.EncodeToString(buf)
}

func decodeCursor(kind byte, s string) (int64, error) {
	buf, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && len(buf) > 1 && buf[0] == kind {
		if n, k := binary.Varint(buf[1:]); k == len(buf)-1 && n > 0 {
			return n, nil
		}
	}
	return 0, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "_page %q is not a page token this server issued", s)
}

// checkHistory applies the caller's limits to history, and returns the
// types a system history lists. History shows past versions, which
// conditions on current content cannot vouch for: under a query-filtered
// scope only an instance's history is offered (when its current version
// qualifies), and system history, like system search, lists the types the
// caller may search without conditions.
func (s *Server) checkHistory(ctx context.Context, req *interaction.Request, acc *interaction.Access) ([]string, error) {
	switch req.Kind {
	case interaction.HistoryInstance:
		return nil, s.checkRead(ctx, req, acc)
	case interaction.HistoryType:
		if acc.Constraints(req.Type, interaction.PermSearch) != nil {
			return nil, forbidden("the access token limits %s by a query, which type history cannot honour; use search", req.Type)
		}
	case interaction.HistorySystem:
		all := s.cfg.Search.Registry().Types()
		types := slices.DeleteFunc(slices.Clone(all), func(t string) bool { return !searchable(acc, t) })
		switch len(types) {
		case 0:
			return nil, forbidden("system history needs search access without conditions to some type, and the access token allows none")
		case len(all):
			return nil, nil // every type: no filter (one scan, not one per type)
		}
		return types, nil
	}
	return nil, nil
}
