package rest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
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
	return s.writeResponse(req, change), nil
}

// apply performs one write interaction with w.
func (s *Server) apply(ctx context.Context, w *directory.Writer, req *Request) (*directory.Change, error) {
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
func (s *Server) writeResponse(req *Request, c *directory.Change) *Response {
	status := http.StatusOK
	switch c.Action {
	case directory.Created:
		status = http.StatusCreated
	case directory.Deleted, directory.Absent:
		return s.deleteResponse(req, c)
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
		resp.Body = jsontree.Raw(v.Body)
	}
	return resp
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
