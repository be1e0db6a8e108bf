package rest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// StackConfig configures the fixed middleware stack.
type StackConfig struct {
	Logger       *slog.Logger
	MaxBodyBytes int64
	// BodyTimeout bounds the time to receive a request's body, from the end
	// of its header fields (408 beyond; 0: no bound).
	BodyTimeout time.Duration
	// RequestTimeout is each request's deadline, from the end of its header
	// fields (with BodyTimeout on top for a request with a body): what
	// waits past it (a database call) fails, 503 (0: none).
	RequestTimeout time.Duration
	// Untimed selects the requests RequestTimeout does not bound: those
	// whose answer streams for long ($export downloads).
	Untimed func(*http.Request) bool
	// HSTS adds Strict-Transport-Security to every response (TLS only).
	HSTS bool
	// CORS is the cross-origin policy (nil: no origin but on the public
	// endpoints).
	CORS *CORS
	// Inner middleware run after the standard ones, outermost first: the
	// audit trail goes here, so that refused requests are still logged and
	// limited.
	Inner []Middleware
}

// Stack wraps h in vhdir's middleware, in this order (outermost first):
// recover → request ID → access log → limits → security headers → CORS →
// cfg.Inner → header size → h. Recover is outermost so a panic anywhere
// becomes a logged 500; the request ID comes next so every later log line
// and error names it. Limits (body size and deadline, request deadline)
// come before anything reads the body or the database. CORS is outside
// cfg.Inner (the audit trail) and authentication, so that every answer
// carries its headers; it answers preflights itself. The header size
// check (MaxHeaderBytes) is inside the audit trail, so that its 431 is
// recorded like any refusal.
func Stack(h http.Handler, cfg StackConfig) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h = headerLimit(h, MaxHeaderBytes)
	for i := len(cfg.Inner) - 1; i >= 0; i-- {
		h = cfg.Inner[i](h)
	}
	h = cfg.CORS.Middleware(h)
	h = securityHeaders(h, cfg.HSTS)
	h = limits(h, cfg)
	h = accessLog(h, log)
	h = requestID(h)
	h = recoverPanics(h, log)
	return h
}

// RequestID returns the request's ID ("" outside a request).
func RequestID(ctx context.Context) string { return interaction.RequestID(ctx) }

// requestID takes X-Request-Id from the client when it is a sane token
// (so IDs can be traced across systems), else makes one, and echoes it.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			var b [16]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(interaction.WithRequestID(r.Context(), id)))
	})
}

// validRequestID accepts 1–128 printable characters without spaces or
// characters that could forge log lines.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func accessLog(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		log.LogAttrs(r.Context(), level, "request",
			slog.String("request_id", RequestID(r.Context())),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Int64("bytes", sw.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

func securityHeaders(next http.Handler, hsts bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a logged 500 OperationOutcome.
func recoverPanics(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			log.ErrorContext(r.Context(), "panic serving request", "err", fmt.Sprint(p), "request_id", RequestID(r.Context()), "stack", string(debug.Stack()))
			status, oo := fhir.Outcome(fmt.Errorf("panic: %v", p), RequestID(r.Context()))
			writeResponse(w, newResponse(status, oo), format{contentType: "application/fhir+json; charset=utf-8"})
		}()
		next.ServeHTTP(w, r)
	})
}

// CanonicalPaths refuses a FHIR path that is not in canonical form (an
// empty, "." or ".." segment) with a 400 OperationOutcome. ServeMux would
// redirect it to its cleaned form instead, which may lie outside the FHIR
// base (/fhir/a/../../x) and is not a FHIR answer. It goes between the
// audit trail and the routes, so that the refusal is recorded.
func CanonicalPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ServeMux judges the escaped path: %2F is not a separator.
		p := r.URL.EscapedPath()
		if (p == "/fhir" || strings.HasPrefix(p, "/fhir/")) && !canonical(p) {
			fhir.WriteOutcome(w, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid,
				"the path %s has empty, '.' or '..' segments; FHIR paths are [base]/[type]/[id]…", p), RequestID(r.Context()))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// canonical reports whether p is its own cleaned form, as ServeMux cleans
// paths (a trailing slash kept).
func canonical(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}
