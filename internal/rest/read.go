package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/store"
)

// readStored reads the version a read or vread asks for.
func (s *Server) readStored(ctx context.Context, req *interaction.Request) (*store.Version, error) {
	if req.Kind == interaction.VRead {
		return s.cfg.Store.VRead(ctx, req.Type, req.ID, req.VersionID)
	}
	return s.cfg.Store.Read(ctx, req.Type, req.ID)
}

// read serves read and vread: the stored bytes, not re-encoded.
func (s *Server) read(ctx context.Context, req *interaction.Request, acc *interaction.Access) (*interaction.Response, error) {
	if err := s.checkRead(ctx, req, acc); err != nil {
		return nil, err
	}
	v, err := s.readStored(ctx, req)
	switch {
	case errors.Is(err, store.ErrNotFound) && req.Kind == interaction.VRead:
		return nil, noVersion(req)
	case errors.Is(err, store.ErrNotFound):
		return nil, notKnown(req)
	case err != nil && !errors.Is(err, store.ErrGone):
		return nil, err
	case v == nil:
		return nil, fmt.Errorf("read %s/%s: the store returned no version", req.Type, req.ID)
	}
	deleted := errors.Is(err, store.ErrGone) || v.Deleted // a read's ErrGone, or vread of a delete version
	body, subsetted, err := s.readView(ctx, req, v, acc)
	if err != nil {
		return nil, err
	}
	if deleted {
		return gone(v), nil
	}
	if notModified(req, v) {
		return withVersion(newResponse(http.StatusNotModified, nil), v), nil
	}
	sh, err := parseShaping(req.Query, req.Type)
	if err != nil {
		return nil, err
	}
	shaped, err := sh.apply(body, v.Type)
	if err != nil {
		return nil, err
	}
	resp := withVersion(newResponse(http.StatusOK, shaped), v)
	if subsetted {
		resp.Restriction.Note(v)
	}
	return resp, nil
}

// notModified reports whether a read or vread of version v (one that
// exists: no delete) is answered 304: If-None-Match lists it or is *
// (weak comparison); without If-None-Match, a read's If-Modified-Since
// is not earlier than v (RFC 9110 §13.1.3 ignores it beside If-None-Match).
func notModified(req *interaction.Request, v *store.Version) bool {
	if req.IfNoneMatch.Present() {
		return req.IfNoneMatch.Match(v.VersionID)
	}
	return req.Kind == interaction.Read && !req.IfModifiedSince.IsZero() && !lastModifiedSince(v, req.IfModifiedSince)
}

func notKnown(req *interaction.Request) *fhir.Error {
	return fhir.Errorf(http.StatusNotFound, fhir.IssueNotFound, "%s/%s is not known", req.Type, req.ID)
}

func noVersion(req *interaction.Request) *fhir.Error {
	return fhir.Errorf(http.StatusNotFound, fhir.IssueNotFound, "%s/%s has no version %d", req.Type, req.ID, req.VersionID)
}

// readView is what the caller may see of version v: a 404 when a
// restriction hides it (deleted or not), else its body, shaped when it
// carries restrictions. Unrestricted versions (nearly all) need no viewer.
func (s *Server) readView(ctx context.Context, req *interaction.Request, v *store.Version, acc *interaction.Access) (body []byte, subsetted bool, err error) {
	if v.Guard == 0 && !v.Restricted {
		return v.Body, false, nil
	}
	viewer, err := acc.Viewer(ctx)
	if err != nil {
		return nil, false, err
	}
	ok, err := s.visible(ctx, v, viewer)
	if err != nil {
		return nil, false, err
	}
	if ok {
		body, ok, subsetted, err = viewer.Body(v) // a delete has no body: passed through
	}
	switch {
	case err != nil:
		return nil, false, err
	case !ok && req.Kind == interaction.VRead:
		return nil, false, noVersion(req).Wrap(interaction.ErrHidden)
	case !ok:
		return nil, false, notKnown(req).Wrap(interaction.ErrHidden)
	}
	return body, subsetted, nil
}

// gone answers for a deleted resource: 410 with the deletion's version.
func gone(v *store.Version) *interaction.Response {
	status, oo := fhir.Outcome(fhir.Errorf(http.StatusGone, fhir.IssueDeleted, "%s/%s was deleted (version %d)", v.Type, v.ID, v.VersionID), "")
	return withVersion(newResponse(status, oo), v)
}
