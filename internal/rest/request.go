package rest

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/provenance"
)

// format is the representation negotiated for the response.
type format struct {
	contentType string
	pretty      bool
}

// negotiate picks the response format from _format and Accept. Only JSON is
// offered: an XML-only client gets a clear 406.
func negotiate(r *http.Request) (format, error) {
	f := format{contentType: "application/fhir+json; charset=utf-8"}
	q := r.URL.Query()
	if p := q.Get("_pretty"); p == "true" {
		f.pretty = true
	}
	if fv := q.Get("_format"); fv != "" {
		switch strings.ToLower(fv) {
		case "json", "application/fhir+json", "application/json", "application/json+fhir":
			if strings.ToLower(fv) == "application/json" {
				f.contentType = "application/json; charset=utf-8"
			}
			return f, nil
		case "xml", "application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir":
			return f, fhir.Errorf(http.StatusNotAcceptable, fhir.IssueNotSupported, "_format=%s: this server speaks FHIR JSON only (use _format=json)", fv)
		default:
			return f, fhir.Errorf(http.StatusNotAcceptable, fhir.IssueNotSupported, "_format=%s is not a format this server offers (json)", fv)
		}
	}
	accept := r.Header.Values("Accept")
	if len(accept) == 0 {
		return f, nil
	}
	sawXML := false
	for _, a := range accept {
		for _, part := range strings.Split(a, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch mt {
			case "application/fhir+json", "application/json+fhir", "*/*", "application/*":
				return f, nil
			case "application/json":
				f.contentType = "application/json; charset=utf-8"
				return f, nil
			case "application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir":
				sawXML = true
			case "text/html", "text/*", "application/xhtml+xml":
				// Browsers: they get JSON, which they display.
				return f, nil
			}
		}
	}
	if sawXML {
		return f, fhir.Errorf(http.StatusNotAcceptable, fhir.IssueNotSupported, "this server speaks FHIR JSON only; send Accept: application/fhir+json")
	}
	return f, fhir.Errorf(http.StatusNotAcceptable, fhir.IssueNotSupported, "none of the types in Accept (%s) is offered; this server speaks application/fhir+json", strings.Join(accept, ", "))
}

// checkQuery refuses a query string that does not parse: a bad escape
// (%zz) or a semicolon separator. url.URL.Query would drop such a
// parameter silently, and a search, or a conditional update or delete,
// would then match more than was asked for.
func checkQuery(r *http.Request) error {
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "the query string is malformed: %v", err).Wrap(err)
	}
	return nil
}

// single returns the value of header name, refusing it when sent more than
// once: conditions and media types hold one value each.
func single(h http.Header, name string) (string, error) {
	vs := h.Values(name)
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "the request has %d %s headers; send one", len(vs), name)
}

// readBody reads a request body that must be FHIR JSON. A body that
// declares its length is read into a buffer of that size, refused at once
// when it declares more than MaxBodyBytes, and grows no copies on the way.
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	ct, err := single(r.Header, "Content-Type")
	if err != nil {
		return nil, err
	}
	if ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, fhir.Errorf(http.StatusUnsupportedMediaType, fhir.IssueNotSupported, "Content-Type %q cannot be parsed", ct)
		}
		switch mt {
		case "application/fhir+json", "application/json", "application/json+fhir":
		case "application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir":
			return nil, fhir.Errorf(http.StatusUnsupportedMediaType, fhir.IssueNotSupported, "this server accepts FHIR JSON only; send Content-Type: application/fhir+json")
		default:
			return nil, fhir.Errorf(http.StatusUnsupportedMediaType, fhir.IssueNotSupported, "Content-Type %s is not FHIR JSON (application/fhir+json)", mt)
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return nil, fhir.Errorf(http.StatusUnsupportedMediaType, fhir.IssueNotSupported, "charset %s: FHIR JSON is UTF-8", cs)
		}
	}
	var data []byte
	switch n := r.ContentLength; {
	case n > s.cfg.MaxBodyBytes:
		return nil, tooLarge(s.cfg.MaxBodyBytes)
	case n > 0:
		data = make([]byte, n)
		_, err = io.ReadFull(r.Body, data)
	default:
		data, err = io.ReadAll(r.Body)
	}
	if err != nil {
		return nil, bodyError(err, fhir.Errorf(http.StatusBadRequest, fhir.IssueStructure, "the request body could not be read"))
	}
	if len(data) == 0 {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueRequired, "the request has no body; a FHIR resource is expected")
	}
	return data, nil
}

// bodyError is the answer to a request whose body could not be read: 413
// when it is too large, 408 when it came too slowly, 503 when the body
// budget stayed full, else otherwise.
func bodyError(err error, otherwise *fhir.Error) error {
	var mbe *http.MaxBytesError
	var bte *interaction.BodyTimeoutError
	switch {
	case errors.As(err, &mbe):
		return tooLarge(mbe.Limit)
	case errors.As(err, &bte):
		return bte.Outcome()
	case errors.Is(err, errBusy):
		return busyError(err)
	}
	return otherwise.Wrap(err)
}

// parseIfMatch reads If-Match: * or W/"3", W/"4", … (its lines joined, as
// RFC 9110 §5.3 allows).
func parseIfMatch(h http.Header) (fhir.ETags, error) {
	v := strings.Join(h.Values("If-Match"), ", ")
	e, err := fhir.ParseIfMatch(v)
	if err != nil {
		return e, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "If-Match %q: %v", v, err).Wrap(err)
	}
	return e, nil
}

// parseIfNoneMatch reads If-None-Match: * or a list of ETags.
func parseIfNoneMatch(h http.Header) (fhir.ETags, error) {
	v := strings.Join(h.Values("If-None-Match"), ", ")
	e, err := fhir.ParseIfNoneMatch(v)
	if err != nil {
		return e, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "If-None-Match %q: %v", v, err).Wrap(err)
	}
	return e, nil
}

// parseIfNoneExist reads If-None-Exist: a search query, with or without
// the leading "Type?".
func parseIfNoneExist(typ, v string) (url.Values, error) {
	if v == "" {
		return nil, nil
	}
	v = strings.TrimPrefix(v, typ)
	v = strings.TrimPrefix(v, "?")
	q, err := url.ParseQuery(v)
	if err != nil || len(q) == 0 {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "If-None-Exist %q is not a search query", v)
	}
	return q, nil
}

// parseProvenance reads the X-Provenance header (FHIR R4
// provenance.html#header): nil when absent, a 400 when it is not an
// acceptable Provenance or is sent more than once.
func parseProvenance(h http.Header) (*fhir.Resource, error) {
	vs := h.Values(provenance.HeaderName)
	switch len(vs) {
	case 0:
		return nil, nil
	case 1:
		return provenance.ParseHeader(vs[0])
	}
	return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "the request has %d %s headers; send one Provenance", len(vs), provenance.HeaderName)
}

func parseVersion(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, fhir.Errorf(http.StatusNotFound, fhir.IssueNotFound, "version %q does not exist: versions are 1, 2, …", s)
	}
	return n, nil
}
