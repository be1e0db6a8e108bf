package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store"
)

// write runs a create, update or delete in its own transaction.
func (s *Server) write(ctx context.Context, req *Request) (*Response, error) {
	var change *directory.Change
	_, err := s.cfg.Directory.Write(ctx, func(w *directory.Writer) error {
		c, err := s.apply(ctx, w, req)
		if err != nil {
			return err
		}
		change = c
		return s.onWrite(ctx, w, req)
	})
	if err != nil {
		return nil, err
	}
	return s.writeResponse(ctx, req, change)
}

// apply performs one write interaction with w, within the caller's
// query-filtered scopes if it has any.
func (s *Server) apply(ctx context.Context, w *directory.Writer, req *Request) (*directory.Change, error) {
	cond, err := s.writeConstraint(ctx, req)
	if err != nil {
		return nil, err
	}
	viewer, err := s.Viewer(ctx)
	if err != nil {
		return nil, err
	}
	var c *directory.Change
	if cond == nil {
		c, err = s.applyFree(directory.WithViewer(ctx, viewer.Store()), w, req)
	} else {
		c, err = s.applyConstrained(directory.WithViewer(ctx, viewer.Store()), w, req, cond)
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkRestrictedWrite(ctx, w.Tx(), c, viewer); err != nil {
		return nil, err
	}
	return c, nil
}

// writeConstraint is the condition the caller's scope puts on this write.
func (s *Server) writeConstraint(ctx context.Context, req *Request) (store.Cond, error) {
	perm := map[Interaction]byte{Create: PermCreate, Update: PermUpdate, Delete: PermDelete}[req.Interaction]
	return s.constraint(s.access(ctx), req.Type, perm)
}

// applyConstrained performs a write under a query-filtered scope: the
// resource replaced or deleted must match the condition before, and the
// one written must match it after, inside the same transaction (the row
// is locked first, so the check cannot go stale).
func (s *Server) applyConstrained(ctx context.Context, w *directory.Writer, req *Request, cond store.Cond) (*directory.Change, error) {
	if req.Conditional() {
		return nil, forbidden("the access token limits %s writes by a query; conditional update and delete are not available under it", req.Type)
	}
	tx := w.Tx()
	if req.Interaction != Create {
		cur, err := tx.Current(ctx, req.Type, req.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && !cur.Deleted {
			ok, err := matches(ctx, tx, req.Type, req.ID, cond, store.SeeAll)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, forbidden("the access token does not allow changing %s/%s: it is outside the token's query-filtered scope", req.Type, req.ID)
			}
		}
	}
	c, err := s.applyFree(ctx, w, req)
	if err != nil || c.Action == directory.Deleted || c.Version == nil {
		return c, err
	}
	ok, err := matches(ctx, tx, c.Type, c.ID, cond, store.SeeAll)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, forbidden("the access token does not allow writing this %s: the result would be outside the token's query-filtered scope", c.Type)
	}
	return c, nil
}

// applyFree performs one write interaction with w.
func (s *Server) applyFree(ctx context.Context, w *directory.Writer, req *Request) (*directory.Change, error) {
	switch req.Interaction {
	case Create:
		return w.Create(ctx, req.Resource, "", req.IfNoneExist)
	case Update:
		if req.Conditional() {
			return w.ConditionalUpdate(ctx, req.Resource, req.Query, req.IfMatch)
		}
		return w.Update(ctx, req.Resource, req.ID, req.IfMatch)
	case Delete:
		if req.Conditional() {
			return w.ConditionalDelete(ctx, req.Type, req.Query)
		}
		return w.Delete(ctx, req.Type, req.ID, req.IfMatch)
	}
	return nil, fmt.Errorf("rest: %v is not a write", req.Interaction)
}

func (s *Server) onWrite(ctx context.Context, w *directory.Writer, req *Request) error {
	if s.cfg.OnWrite == nil {
		return nil
	}
	return s.cfg.OnWrite(ctx, w, req, w.Changes())
}

// writeResponse answers a write per FHIR: status by outcome, Location,
// ETag and Last-Modified, and a body chosen by Prefer: return.
func (s *Server) writeResponse(ctx context.Context, req *Request, c *directory.Change) (*Response, error) {
	status := http.StatusOK
	switch c.Action {
	case directory.Created:
		status = http.StatusCreated
	case directory.Deleted, directory.Absent:
		return s.deleteResponse(req, c), nil
	}
	v := c.Version
	resp := newResponse(status, nil).versionHeaders(v)
	if c.Action == directory.Created || c.Action == directory.Updated || c.Action == directory.Unchanged {
		resp.Header.Set("Location", s.fullURL(v.Type, v.ID)+"/_history/"+strconv.FormatInt(v.VersionID, 10))
	}
	switch req.Prefer.Return {
	case "minimal":
	case "OperationOutcome":
		resp.Body = fhir.OutcomeOf(fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
			Diagnostics: fmt.Sprintf("%s/%s version %d %s", v.Type, v.ID, v.VersionID, describe(c.Action))})
	default:
		// What the caller may see of it: a conditional create may have
		// matched a resource with elements hidden from the caller.
		viewer, err := s.Viewer(ctx)
		if err != nil {
			return nil, err
		}
		body, _, err := resp.viewBody(v, viewer)
		if err != nil {
			return nil, err
		}
		resp.Body = jsontree.Raw(body)
	}
	return resp, nil
}

func (s *Server) deleteResponse(req *Request, c *directory.Change) *Response {
	if req.Prefer.Return == "minimal" {
		resp := newResponse(http.StatusNoContent, nil)
		if c.Version != nil && c.Action == directory.Deleted {
			resp.versionHeaders(c.Version)
		}
		return resp
	}
	msg := "nothing to delete: no current resource matched"
	if c.Action == directory.Deleted {
		msg = fmt.Sprintf("%s/%s deleted (version %d)", c.Type, c.ID, c.Version.VersionID)
	} else if c.ID != "" {
		msg = fmt.Sprintf("nothing to delete: %s/%s does not exist or is deleted already", c.Type, c.ID)
	}
	resp := newResponse(http.StatusOK, fhir.OutcomeOf(fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational, Diagnostics: msg}))
	if c.Version != nil && c.Action == directory.Deleted {
		resp.versionHeaders(c.Version)
	}
	return resp
}

func describe(a directory.Action) string {
	switch a {
	case directory.Created:
		return "created"
	case directory.Updated:
		return "updated"
	case directory.Unchanged:
		return "unchanged: the update was identical to the current version, so no new version was made"
	case directory.Matched:
		return "exists already: If-None-Exist matched it, nothing was created"
	}
	return a.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
