package rest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store"
)

func newResponse(status int, body any) *interaction.Response {
	return &interaction.Response{Status: status, Header: http.Header{}, Body: body}
}

// withVersion makes r about version v: ETag and Last-Modified.
func withVersion(r *interaction.Response, v *store.Version) *interaction.Response {
	r.Version = v
	r.Header.Set("ETag", fhir.ETag(v.VersionID))
	r.Header.Set("Last-Modified", v.LastUpdated.UTC().Format(http.TimeFormat))
	return r
}

// writeResponse sends r in format f.
func writeResponse(w http.ResponseWriter, r *interaction.Response, f format) {
	h := w.Header()
	for k, vs := range r.Header {
		h[k] = vs
	}
	if r.Body == nil {
		w.WriteHeader(r.Status)
		return
	}
	h.Set("Content-Type", f.contentType)
	var buf []byte
	switch raw, isRaw := r.Body.(jsontree.Raw); {
	case isRaw && !f.pretty:
		buf = raw // stored bytes go out as they are
	case f.pretty:
		buf = jsontree.AppendIndent(make([]byte, 0, 1024), r.Body)
	default:
		// Encoded as it is written: a Bundle of many resources is never
		// encoded whole here, beside the copy the audit trail holds until
		// its records commit (which then sets Content-Length).
		w.WriteHeader(r.Status)
		_ = jsontree.Encode(w, r.Body)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(r.Status)
	_, _ = w.Write(buf)
}

// errorResponse maps an error to its OperationOutcome response: the one
// place handlers' errors become client answers. Internal errors are logged
// with the request ID and shown only as "internal error"; past the
// request's deadline they are 503 (fhir.Timeout).
func errorResponse(ctx context.Context, log *slog.Logger, err error) *interaction.Response {
	id := interaction.RequestID(ctx)
	err = fhir.Timeout(ctx, err)
	status, oo := fhir.Outcome(err, id)
	switch {
	case errors.Is(err, errBusy):
		log.WarnContext(ctx, "large request body refused: the body budget stayed full", "request_id", id)
	case status >= 500:
		log.ErrorContext(ctx, "request failed", "err", err, "request_id", id)
	case errors.Is(err, context.Canceled):
		log.InfoContext(ctx, "request canceled", "request_id", id)
	}
	resp := newResponse(status, oo)
	if after := fhir.RetryAfter(err); after != "" {
		resp.Header.Set("Retry-After", after)
	}
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
