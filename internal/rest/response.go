package rest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store"
)

// Response is what an interaction produces; the adapter writes it.
type Response struct {
	Status int
	Header http.Header
	// Body is a JSON tree (*jsontree.Object) or stored JSON
	// (jsontree.Raw); nil for no body.
	Body any

	// Restriction notes what usage restrictions removed from the body.
	Restriction RestrictionNote

	version *store.Version // the version the response is about, if any
}

// Version is the resource version the response is about (nil for none):
// what a read returned, what a write stored.
func (r *Response) Version() *store.Version { return r.version }

func newResponse(status int, body any) *Response {
	return &Response{Status: status, Header: http.Header{}, Body: body}
}

// versionHeaders sets ETag and Last-Modified for a version.
func (r *Response) versionHeaders(v *store.Version) *Response {
	r.version = v
	r.Header.Set("ETag", fhir.ETag(v.VersionID))
	r.Header.Set("Last-Modified", v.LastUpdated.UTC().Format(http.TimeFormat))
	return r
}

// write sends the response.
func (r *Response) write(w http.ResponseWriter, f format) {
	h := w.Header()
	for k, vs := range r.Header {
		h[k] = vs
	}
	if r.Body == nil {
		w.WriteHeader(r.Status)
		return
	}
	var buf []byte
	switch raw, isRaw := r.Body.(jsontree.Raw); {
	case isRaw && !f.pretty:
		buf = raw // stored bytes go out as they are
	case f.pretty:
		buf = jsontree.AppendIndent(make([]byte, 0, 1024), r.Body)
	default:
		buf = jsontree.Append(make([]byte, 0, 1024), r.Body)
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(r.Status)
	_, _ = w.Write(buf)
}

// errorResponse maps an error to its OperationOutcome response: the one
// place handlers' errors become client answers. Internal errors are logged
// with the request ID and shown only as "internal error".
func errorResponse(ctx context.Context, log *slog.Logger, err error) *Response {
	id := RequestID(ctx)
	status, oo := fhir.Outcome(err, id)
	switch {
	case status >= 500:
		log.ErrorContext(ctx, "request failed", "err", err, "request_id", id)
	case errors.Is(err, context.Canceled):
		log.InfoContext(ctx, "request canceled", "request_id", id)
	}
	resp := newResponse(status, oo)
	var fe *fhir.Error
	if errors.As(err, &fe) && fe.Status == http.StatusMethodNotAllowed {
		if allow, ok := allowOf(fe); ok {
			resp.Header.Set("Allow", allow)
		}
	}
	return resp
}

// methodNotAllowed is a 405 carrying its Allow header.
type allowError struct {
	allow string
}

func (a allowError) Error() string { return "allowed: " + a.allow }

func notAllowed(allow, format string, args ...any) *fhir.Error {
	return fhir.Errorf(http.StatusMethodNotAllowed, fhir.IssueNotSupported, format, args...).Wrap(allowError{allow})
}

func allowOf(err error) (string, bool) {
	var a allowError
	if errors.As(err, &a) {
		return a.allow, true
	}
	return "", false
}

// lastModifiedSince reports whether v changed after t (HTTP dates have
// second precision).
func lastModifiedSince(v *store.Version, t time.Time) bool {
	return v.LastUpdated.Truncate(time.Second).After(t)
}
