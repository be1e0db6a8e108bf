package rest

import (
	"context"
	"errors"
	"net/http"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/store"
)

// read serves read and vread: the stored bytes, not re-encoded.
func (s *Server) read(ctx context.Context, req *Request) (*Response, error) {
	if err := s.checkRead(ctx, req); err != nil {
		return nil, err
	}
	var v *store.Version
	var err error
	if req.Interaction == VRead {
		v, err = s.cfg.Store.VRead(ctx, req.Type, req.ID, req.VersionID)
	} else {
		v, err = s.cfg.Store.Read(ctx, req.Type, req.ID)
	}
	switch {
	case errors.Is(err, store.ErrNotFound) && req.Interaction == VRead:
		return nil, fhir.Errorf(http.StatusNotFound, fhir.IssueNotFound, "%s/%s has no version %d", req.Type, req.ID, req.VersionID)
	case errors.Is(err, store.ErrNotFound):
		return nil, fhir.Errorf(http.StatusNotFound, fhir.IssueNotFound, "%s/%s is not known", req.Type, req.ID)
	case errors.Is(err, store.ErrGone):
		return gone(v), nil
	case err != nil:
		return nil, err
	}
	if v.Deleted { // vread of a delete version
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
	body, err := sh.apply(v.Body, v.Type)
	if err != nil {
		return nil, err
	}
	return newResponse(http.StatusOK, body).versionHeaders(v), nil
}

// gone answers for a deleted resource: 410 with the deletion's version.
func gone(v *store.Version) *Response {
	oo := fhir.OutcomeOf(fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueDeleted,
		Diagnostics: "" + v.Type + "/" + v.ID + " was deleted (version " + itoa(v.VersionID) + ")"})
	return newResponse(http.StatusGone, oo).versionHeaders(v)
}
