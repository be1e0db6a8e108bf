package audit

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/store"
)

// Trail collects the records of one HTTP request. Handlers add what they
// know (the interaction, the entities, the client); Middleware commits it
// before the response is released.
type Trail struct {
	mu       sync.Mutex
	events   []*Event
	recorded int                 // records already committed in a write transaction
	client   *interaction.Caller // the authenticated client, once known
	// stashed are the links a write recorded in its transaction, until
	// the transaction's outcome is known; stashedBy is that transaction's
	// writer. A transaction tried again, or a batch's next run of writes,
	// has a writer of its own: what an earlier one stashed was rolled back.
	stashed   []store.AuditLink
	stashedBy any

	// release commits the records so far and lets the response stream
	// (set by Middleware); released reports that it did.
	release  func(ctx context.Context) error
	released bool

	// What the request itself says, for every record of it.
	RequestID, Address, Method, URI string
}

// Release commits the records added so far and lets the rest of the
// response go straight to the client, for bodies too large to hold (export
// file downloads): the record of the transfer is durable before its first
// byte leaves, and a transfer that breaks off later stays recorded as
// started. If the commit fails, nothing is released and the request must
// fail. Records added after Release are committed when the handler ends.
func (t *Trail) Release(ctx context.Context) error {
	if t.release == nil || t.released {
		return nil
	}
	if err := t.release(ctx); err != nil {
		return err
	}
	t.released = true
	return nil
}

type trailKey struct{}

// TrailFrom returns the request's trail (nil outside Middleware).
func TrailFrom(ctx context.Context) *Trail {
	t, _ := ctx.Value(trailKey{}).(*Trail)
	return t
}

// WithTrail returns ctx carrying t.
func WithTrail(ctx context.Context, t *Trail) context.Context {
	return context.WithValue(ctx, trailKey{}, t)
}

// Add queues events for the commit before the response. Each gets the
// request's id and address where it has none.
func (t *Trail) Add(events ...*Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range events {
		if e.RequestID == "" {
			e.RequestID = t.RequestID
		}
		if e.Address == "" {
			e.Address = t.Address
		}
		t.events = append(t.events, e)
	}
}

// SetClient notes the authenticated client, for records made outside the
// handlers that know it (Fallback).
func (t *Trail) SetClient(a *interaction.Caller) {
	t.mu.Lock()
	t.client = a
	t.mu.Unlock()
}

// Client is the authenticated client, if known.
func (t *Trail) Client() *interaction.Caller {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.client
}

func (t *Trail) stash(by any, links []store.AuditLink) {
	t.mu.Lock()
	if t.stashedBy != by {
		t.stashed, t.stashedBy = nil, by
	}
	t.stashed = append(t.stashed, links...)
	t.mu.Unlock()
}

func (t *Trail) unstash() []store.AuditLink {
	t.mu.Lock()
	defer t.mu.Unlock()
	links := t.stashed
	t.stashed, t.stashedBy = nil, nil
	return links
}

// Recorded notes n records committed with a write's transaction.
func (t *Trail) Recorded(n int) {
	t.mu.Lock()
	t.recorded += n
	t.mu.Unlock()
}

// take returns the queued events and whether the request left any record.
func (t *Trail) take() ([]*Event, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ev := t.events
	t.events = nil
	return ev, len(ev) > 0 || t.recorded > 0
}

// middleware holds each response until the request's records are
// committed to log; if they cannot be, the response is dropped and failed
// answers instead (fail-closed: no data leaves unaudited). A request no
// handler recorded (refused before reaching one: no token, unknown path)
// is described by fallback from its method, path and status.
func middleware(log *Log, failed func(w http.ResponseWriter, r *http.Request, err error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if unaudited[r.URL.Path] {
				next.ServeHTTP(w, r)
				return
			}
			t := &Trail{RequestID: interaction.RequestID(r.Context()), Address: hostOf(r.RemoteAddr), Method: r.Method, URI: r.URL.RequestURI()}
			bw := &heldResponse{header: http.Header{}}
			t.release = func(ctx context.Context) error {
				events, _ := t.take()
				if err := log.Commit(ctx, events...); err != nil {
					return err
				}
				bw.passThrough(w)
				return nil
			}
			next.ServeHTTP(bw, r.WithContext(WithTrail(r.Context(), t)))
			if t.released {
				if events, _ := t.take(); len(events) > 0 {
					if err := log.Commit(r.Context(), events...); err != nil {
						slog.ErrorContext(r.Context(), "audit records after a streamed response could not be committed", "err", err, "request_id", t.RequestID)
					}
				}
				return
			}
			events, any := t.take()
			if !any {
				t.Add(fallback(t, r, bw.statusCode()))
				events, _ = t.take()
			}
			if err := log.Commit(r.Context(), events...); err != nil {
				failed(w, r, err)
				return
			}
			bw.release(w)
		})
	}
}

// hostOf is the IP of a remote address (host:port).
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// heldResponse keeps a response in memory until it may be sent, or, once
// passThrough is called, sends it straight on. The body is kept in the
// pieces it was written in (small writes share a piece): a large response
// (a transaction's Bundle) is held once, at its size, never in a buffer
// that grows by copying itself.
type heldResponse struct {
	header http.Header
	status int
	body   [][]byte
	size   int
	direct http.ResponseWriter
}

// heldPiece is the least a piece of a held body is made to hold.
const heldPiece = 32 << 10

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(status int) {
	if h.direct != nil {
		h.direct.WriteHeader(status)
		return
	}
	if h.status == 0 {
		h.status = status
	}
}

func (h *heldResponse) Write(b []byte) (int, error) {
	if h.direct != nil {
		return h.direct.Write(b)
	}
	if h.status == 0 {
		h.status = http.StatusOK
	}
	if n := len(h.body); n > 0 && cap(h.body[n-1])-len(h.body[n-1]) >= len(b) {
		h.body[n-1] = append(h.body[n-1], b...)
	} else {
		h.body = append(h.body, append(make([]byte, 0, max(len(b), heldPiece)), b...))
	}
	h.size += len(b)
	return len(b), nil
}

// send writes the held body to w and lets it go.
func (h *heldResponse) send(w http.ResponseWriter) {
	for _, p := range h.body {
		if _, err := w.Write(p); err != nil {
			break
		}
	}
	h.body, h.size = nil, 0
}

// passThrough sends what is held and lets the rest go straight to w.
func (h *heldResponse) passThrough(w http.ResponseWriter) {
	dst := w.Header()
	for k, v := range h.header {
		dst[k] = v
	}
	h.header = dst
	if h.status != 0 {
		w.WriteHeader(h.status)
		h.send(w)
	}
	h.direct = w
}

func (h *heldResponse) statusCode() int {
	if h.status == 0 {
		return http.StatusOK
	}
	return h.status
}

func (h *heldResponse) release(w http.ResponseWriter) {
	dst := w.Header()
	for k, v := range h.header {
		dst[k] = v
	}
	// The whole body is here: its length is known, whether or not the
	// handler could say it (rest streams large encodings).
	if h.size > 0 && dst.Get("Content-Length") == "" {
		dst.Set("Content-Length", strconv.Itoa(h.size))
	}
	w.WriteHeader(h.statusCode())
	h.send(w)
}

// outcomeOf maps an HTTP status to an AuditEvent outcome.
func outcomeOf(status int) string {
	switch {
	case status >= 500:
		return SeriousFailure
	case status >= 400:
		return MinorFailure
	}
	return Success
}

// firstLine is the request line recorded as a query: method and URI, no
// headers (an Authorization header must never be recorded).
func firstLine(method, uri string) string {
	return method + " " + strings.TrimSpace(uri)
}
