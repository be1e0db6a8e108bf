package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/provenance"
	"github.com/vhdir/vhdir/internal/store"
)

// write runs a create, update or delete in its own transaction: the
// write, its Provenance and its audit records commit together or not at
// all.
func (s *Server) write(ctx context.Context, req *interaction.Request, acc *interaction.Access) (*interaction.Response, error) {
	var change *directory.Change
	_, err := s.cfg.Directory.Write(ctx, func(w *directory.Writer) error {
		c, err := s.apply(ctx, w, req, acc)
		if err != nil {
			return err
		}
		change = c
		return s.recordWrite(ctx, w, acc, written{req, w.Changes()})
	})
	if err != nil {
		return nil, err
	}
	return s.writeResponse(ctx, req, change, acc)
}

// apply performs one write interaction with w, within the caller's
// query-filtered scopes if it has any.
func (s *Server) apply(ctx context.Context, w *directory.Writer, req *interaction.Request, acc *interaction.Access) (*directory.Change, error) {
	perm := map[interaction.Kind]interaction.Perm{interaction.Create: interaction.PermCreate, interaction.Update: interaction.PermUpdate, interaction.Delete: interaction.PermDelete}[req.Kind]
	cond, err := s.constraint(acc, req.Type, perm)
	if err != nil {
		return nil, err
	}
	viewer, err := acc.Viewer(ctx)
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

// applyConstrained performs a write under a query-filtered scope: the
// resource replaced or deleted must match the condition before, and the
// one written must match it after, inside the same transaction (the row
// is locked first, so the check cannot go stale).
func (s *Server) applyConstrained(ctx context.Context, w *directory.Writer, req *interaction.Request, cond store.Cond) (*directory.Change, error) {
	if req.Conditional() {
		return nil, forbidden("the access token limits %s writes by a query; conditional update and delete are not available under it", req.Type)
	}
	tx := w.Tx()
	if req.Kind != interaction.Create {
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
func (s *Server) applyFree(ctx context.Context, w *directory.Writer, req *interaction.Request) (*directory.Change, error) {
	switch req.Kind {
	case interaction.Create:
		return w.Create(ctx, req.Resource, "", req.IfNoneExist)
	case interaction.Update:
		if req.Conditional() {
			return w.ConditionalUpdate(ctx, req.Resource, req.Query, req.IfMatch)
		}
		return w.Update(ctx, req.Resource, req.ID, req.IfMatch)
	case interaction.Delete:
		if req.Conditional() {
			return w.ConditionalDelete(ctx, req.Type, req.Query)
		}
		return w.Delete(ctx, req.Type, req.ID, req.IfMatch)
	}
	return nil, fmt.Errorf("rest: %v is not a write", req.Kind)
}

// recordWrite adds, inside the writes' transaction, what every write
// leaves: one Provenance per version stored, naming the caller (and the
// request's X-Provenance, if any: a Bundle's entries share the Bundle's),
// then the writes' audit records.
func (s *Server) recordWrite(ctx context.Context, w *directory.Writer, acc *interaction.Access, writes ...written) error {
	changes := writes[0].changes
	if len(writes) > 1 {
		changes = nil
		for _, wr := range writes {
			changes = append(changes, wr.changes...)
		}
	}
	if err := provenance.Record(ctx, w, changes, acc.Caller, writes[0].req.Provenance); err != nil {
		return err
	}
	return s.cfg.Auditor.Written(ctx, w, each(writes))
}

// writeResponse answers a write per FHIR: status by outcome, Location,
// ETag and Last-Modified, and a body chosen by Prefer: return.
func (s *Server) writeResponse(ctx context.Context, req *interaction.Request, c *directory.Change, acc *interaction.Access) (*interaction.Response, error) {
	status := http.StatusOK
	switch c.Action {
	case directory.Created:
		status = http.StatusCreated
	case directory.Deleted, directory.Absent:
		return s.deleteResponse(req, c), nil
	}
	v := c.Version
	resp := withVersion(newResponse(status, nil), v)
	if c.Action == directory.Created || c.Action == directory.Updated || c.Action == directory.Unchanged {
		resp.Header.Set("Location", s.fullURL(v.Type, v.ID)+"/_history/"+strconv.FormatInt(v.VersionID, 10))
	}
	resp.Issues = c.Issues
	switch req.Prefer.Return {
	case "minimal":
	case "OperationOutcome":
		resp.Body = fhir.OutcomeOf(append([]fhir.Issue{{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
			Diagnostics: fmt.Sprintf("%s/%s version %d %s", v.Type, v.ID, v.VersionID, describe(c.Action))}}, c.Issues...)...)
	default:
		// What the caller may see of it: a conditional create may have
		// matched a resource with elements hidden from the caller.
		viewer, err := acc.Viewer(ctx)
		if err != nil {
			return nil, err
		}
		body, _, err := viewBody(resp, v, viewer)
		if err != nil {
			return nil, err
		}
		resp.Body = jsontree.Raw(body)
	}
	return resp, nil
}

func (s *Server) deleteResponse(req *interaction.Request, c *directory.Change) *interaction.Response {
	if req.Prefer.Return == "minimal" {
		resp := newResponse(http.StatusNoContent, nil)
		if c.Version != nil && c.Action == directory.Deleted {
			withVersion(resp, c.Version)
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
		withVersion(resp, c.Version)
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
