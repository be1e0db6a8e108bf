package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/store"
)

// readStored reads the version a read or vread asks for.
func (s *Server) readStored(ctx context.Context, req *Request) (*store.Version, error) {
	if req.Interaction == VRead {
		return s.cfg.Store.VRead(ctx, req.Type, req.ID, req.VersionID)
	}
	return s.cfg.Store.Read(ctx, req.Type, req.ID)
}

// read serves read and vread: the stored bytes, not re-encoded.
func (s *Server) read(ctx context.Context, req *Request) (*Response, error) {
	if err := s.checkRead(ctx, req); err != nil {
		return nil, err
	}
	v, err := s.readStored(ctx, req)
	if errors.Is(err, store.ErrNotFound) && serverKept[req.Type] && s.cfg.BeforeSearch != nil {
		// Perhaps written but not yet stored where reads look (AuditEvents).
		if err := s.cfg.BeforeSearch(ctx, []string{req.Type}, nil); err != nil {
			return nil, err
		}
		v, err = s.readStored(ctx, req)
	}
	switch {
	case errors.Is(err, store.ErrNotFound) && req.Interaction == VRead:
		return nil, noVersion(req)
	case errors.Is(err, store.ErrNotFound):
		return nil, notKnown(req)
	case err != nil && !errors.Is(err, store.ErrGone):
		return nil, err
	case v == nil:
		return nil, fmt.Errorf("read %s/%s: the store returned no version", req.Type, req.ID)
	}
	deleted := errors.Is(err, store.ErrGone) || v.Deleted // a read's ErrGone, or vread of a delete version
	body, subsetted, err := s.readView(ctx, req, v)
	if err != nil {
		return nil, err
	}
	if deleted {
		return gone(v), nil
	}
	if req.Interaction == Read {
		if req.IfNoneMatch == v.VersionID || !req.IfModifiedSince.IsZero() && !lastModifiedSince(v, req.IfModifiedSince) {
			return newResponse(http.StatusNotModified, nil).versionHeaders(v), nil
		}
	}
	sh, err := parseShaping(req.Query, req.Type)
	if err != nil {
		return nil, err
	}
	shaped, err := sh.apply(body, v.Type)
	if err != nil {
		return nil, err
	}
	resp := newResponse(http.StatusOK, shaped).versionHeaders(v)
	if subsetted {
		resp.Restriction.subsetted(v)
	}
	return resp, nil
}

func notKnown(req *Request) *fhir.Error {
	return fhir.Errorf(http.StatusNotFound, fhir.IssueNotFound, "%s/%s is not known", req.Type, req.ID)
}

func noVersion(req *Request) *fhir.Error {
	return fhir.Errorf(http.StatusNotFound, fhir.IssueNotFound, "%s/%s has no version %d", req.Type, req.ID, req.VersionID)
}

// readView is what the caller may see of version v: a 404 when a
// restriction hides it (deleted or not), else its body, shaped when it
// carries restrictions. Unrestricted versions (nearly all) need no viewer.
func (s *Server) readView(ctx context.Context, req *Request, v *store.Version) (body []byte, subsetted bool, err error) {
	if v.Guard == 0 && !v.Restricted {
		return v.Body, false, nil
	}
	viewer, err := s.Viewer(ctx)
	if err != nil {
		return nil, false, err
	}
	ok, err := s.visible(ctx, v, viewer)
	if err != nil {
		return nil, false, err
	}
	if ok {
		body, ok, subsetted, err = ViewBody(v, viewer) // a delete has no body: passed through
	}
	switch {
	case err != nil:
		return nil, false, err
	case !ok && req.Interaction == VRead:
		return nil, false, noVersion(req).Wrap(errHidden)
	case !ok:
		return nil, false, notKnown(req).Wrap(errHidden)
	}
	return body, subsetted, nil
}

// gone answers for a deleted resource: 410 with the deletion's version.
func gone(v *store.Version) *Response {
	oo := fhir.OutcomeOf(fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueDeleted,
		Diagnostics: "" + v.Type + "/" + v.ID + " was deleted (version " + itoa(v.VersionID) + ")"})
	return newResponse(http.StatusGone, oo).versionHeaders(v)
}
