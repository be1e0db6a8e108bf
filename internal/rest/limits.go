package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
)

// limits bounds each request before any handler sees it:
//
//   - its body: at most cfg.MaxBodyBytes (413 beyond), received within
//     cfg.BodyTimeout of the end of its header fields. The deadline is the
//     connection's read deadline on HTTP/1.x and the stream's on HTTP/2
//     (http.ResponseController), so a read past it fails at once, whatever
//     the handler waits in; limits reports it as
//     interaction.BodyTimeoutError, which handlers answer 408. (The
//     http.Server's ReadTimeout stays unset: it would bound header fields
//     and body together, and break the connection without an answer.)
//   - its work: the request context's deadline, cfg.RequestTimeout from
//     now, which every database call honours; fhir.Timeout turns what
//     fails past it into 503. A request with a body gets cfg.BodyTimeout
//     on top, so that a body that took its allowance to arrive still
//     leaves the work its time. Requests cfg.Untimed selects (responses
//     that stream for long) have no deadline.
//
// An HTTP/1.x answer that starts before the request body was read to its
// end (refused before reading it, cut off, too large) closes the
// connection: else net/http reads up to 256 KiB of what is left before
// sending the answer, so that the connection can carry another request,
// and a refusal waits for a slow client's body. HTTP/2 resets the stream
// once the answer is sent, and needs nothing.
func limits(next http.Handler, cfg StackConfig) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cfg.RequestTimeout > 0 && (cfg.Untimed == nil || !cfg.Untimed(r)) {
			timeout := cfg.RequestTimeout
			if hasBody(r) {
				timeout += cfg.BodyTimeout
			}
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		if hasBody(r) {
			if cfg.BodyTimeout > 0 {
				// Not supported only by writers without a connection (tests'
				// recorders), which have no body to wait for either.
				_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(cfg.BodyTimeout))
			}
			var src io.ReadCloser = r.Body
			if cfg.MaxBodyBytes > 0 {
				src = http.MaxBytesReader(w, src, cfg.MaxBodyBytes)
			}
			body := &timedBody{ReadCloser: src, timeout: cfg.BodyTimeout}
			r2 := *r
			r2.Body = body
			r = &r2
			if r.ProtoMajor == 1 {
				w = &closeUnread{ResponseWriter: w, body: body}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hasBody reports whether r comes with a body to read.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// timedBody is a request body read under the body deadline: a read past
// it fails with interaction.BodyTimeoutError; ended reports that the body
// was read to its end.
type timedBody struct {
	io.ReadCloser
	timeout time.Duration
	ended   atomic.Bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		b.ended.Store(true)
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = &interaction.BodyTimeoutError{Timeout: b.timeout}
	}
	return n, err
}

// closeUnread writes the answer to an HTTP/1.x request with a body: when
// the answer starts before the body was read to its end, it closes the
// connection (Connection: close) instead of letting net/http read the
// rest first.
type closeUnread struct {
	http.ResponseWriter
	body    *timedBody
	started bool
}

func (w *closeUnread) WriteHeader(code int) {
	if !w.started && code >= 200 {
		w.started = true
		if !w.body.ended.Load() {
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *closeUnread) Write(b []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *closeUnread) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// MaxHeaderBytes is the most a request's line and header fields may take
// (431 beyond): checked by a handler, so that the answer under /fhir is an
// OperationOutcome. net/http's own limit (http.Server.MaxHeaderBytes) must
// be set above it, by HeaderSlack; beyond that, net/http answers 431 in
// plain text before any handler runs, as it answers 400 to a request it
// cannot parse (a missing Host, a malformed header line).
const MaxHeaderBytes = 64 << 10

// HeaderSlack is how far above MaxHeaderBytes the http.Server's limit
// lies: room for HTTP/2's 32 bytes of accounting per field and for what
// MaxHeaderBytes does not count (obsolete line folding, spacing).
const HeaderSlack = 16 << 10

// headerLimit answers 431 to a request whose line and header fields take
// more than maxBytes: an OperationOutcome under /fhir, plain text
// elsewhere (as net/http's own answer).
func headerLimit(next http.Handler, maxBytes int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := headerSize(r)
		if n <= maxBytes {
			next.ServeHTTP(w, r)
			return
		}
		const status = http.StatusRequestHeaderFieldsTooLarge
		msg := fmt.Sprintf("the request line and header fields take %d bytes, more than this server's limit of %d", n, maxBytes)
		if strings.HasPrefix(r.URL.Path, "/fhir") {
			fhir.WriteOutcome(w, fhir.Errorf(status, fhir.IssueTooLong, "%s", msg), RequestID(r.Context()))
			return
		}
		http.Error(w, msg, status)
	})
}

// headerSize is the size of r's request line and header fields as sent
// over HTTP/1.1 (what net/http's MaxHeaderBytes counts).
func headerSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}
