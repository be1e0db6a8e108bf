package audit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/bulk"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/store"
)

// Recorder is the audit trail as the rest of the server meets it: the
// auditor of the FHIR pipeline (rest.Auditor), of the authorization server
// (auth.Auditor) and of bulk export (bulk.Auditor), and the HTTP
// middleware that holds every response until its records are committed.
type Recorder struct {
	log    *Log
	logger *slog.Logger
}

// NewRecorder returns the recorder writing to l; logger learns why a
// request failed closed.
func NewRecorder(l *Log, logger *slog.Logger) (*Recorder, error) {
	if l == nil {
		return nil, errors.New("audit: a Log is required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{log: l, logger: logger}, nil
}

// Log is the log the recorder writes to.
func (rc *Recorder) Log() *Log { return rc.log }

// Written records writes' changes (each interaction with its own) inside
// their transaction, so that they commit with it or not at all. A write
// through the HTTP API carries a trail, which streams the records once the
// transaction has committed; one made by an operator on the command line
// (vhdir load) has none and is recorded all the same, naming the operator.
func (rc *Recorder) Written(ctx context.Context, w *directory.Writer, writes iter.Seq2[*interaction.Request, []*directory.Change]) error {
	var events []*Event
	for req, changes := range writes {
		events = append(events, ForChanges(req, changes, interaction.CallerFrom(ctx))...)
	}
	t := TrailFrom(ctx)
	for _, e := range events {
		if t != nil {
			e.RequestID, e.Address = t.RequestID, t.Address
		} else if e.Client != nil {
			e.Address = e.Client.Address
		}
	}
	links, err := rc.log.WriteTx(ctx, w, events...)
	if err != nil {
		return err
	}
	if t != nil {
		t.stash(w, links)
	}
	return nil
}

// Executed records an interaction's outcome on the request's trail. A
// write that succeeded was recorded by Written, in its transaction; one
// that failed rolled that record back, so its failure is recorded here.
// Outside an HTTP request (the command line) only writes are recorded.
func (rc *Recorder) Executed(ctx context.Context, req *interaction.Request, resp *interaction.Response, err error) {
	t := TrailFrom(ctx)
	if t == nil {
		return
	}
	err = fhir.Timeout(ctx, err) // as answered: cut short by the deadline, or by the client leaving
	if req.Kind.Writes() && req.Kind != interaction.Batch {
		// The write's transaction has ended: its records committed with it
		// (stream them now) or were rolled back with it.
		links := t.unstash()
		if err == nil {
			t.Recorded(1)
			if rc.log.Stream != nil && len(links) > 0 {
				rc.log.Stream(links)
			}
			return
		}
	}
	uri := ""
	if req.Entry < 0 {
		uri = t.URI
	}
	t.Add(ForInteraction(req, resp, err, interaction.CallerFrom(ctx), uri))
}

// Authenticated is auth's: the trail learns the caller, for records made
// outside the handlers (introspection, refusals after authentication).
func (rc *Recorder) Authenticated(ctx context.Context, c *interaction.Caller) {
	if t := TrailFrom(ctx); t != nil {
		t.SetClient(c)
	}
}

// Token records a token request on its trail.
func (rc *Recorder) Token(ctx context.Context, o auth.TokenOutcome) {
	if t := TrailFrom(ctx); t != nil {
		t.Add(ForToken(o))
	}
}

// Registered is the client registry's: a registration change is recorded
// in the transaction that makes it, naming the caller of ctx (the
// operator), who must be known.
func (rc *Recorder) Registered(ctx context.Context, tx store.Tx, now time.Time, change string, reg *auth.Registration) error {
	by := interaction.CallerFrom(ctx)
	if by == nil {
		return fmt.Errorf("%w: a registration change names no one who made it", ErrUnavailable)
	}
	_, err := rc.log.ChainTx(ctx, tx, now, ForRegistration(change, reg, by))
	return err
}

// ExportCancelled is the console's: an operator's cancel of an $export job
// is recorded in the transaction that deletes the job, as a client's
// cancel is recorded, naming the operator (the caller of ctx).
func (rc *Recorder) ExportCancelled(ctx context.Context, tx store.Tx, now time.Time, job string) error {
	by := interaction.CallerFrom(ctx)
	if by == nil {
		return fmt.Errorf("%w: a cancel names no one who made it", ErrUnavailable)
	}
	e := ForExport(bulk.Record{Kind: bulk.Cancel, Job: job, Status: http.StatusAccepted}, by)
	e.Address = by.Address
	if t := TrailFrom(ctx); t != nil {
		e.RequestID = t.RequestID
	}
	_, err := rc.log.ChainTx(ctx, tx, now, e)
	return err
}

// Loaded is vhdir load's: a batch it wrote is recorded in the batch's
// transaction, naming the operator (the caller of ctx).
func (rc *Recorder) Loaded(ctx context.Context, w *directory.Writer, source string, changes []*directory.Change) error {
	by := interaction.CallerFrom(ctx)
	if by == nil {
		return fmt.Errorf("%w: a load names no one who ran it", ErrUnavailable)
	}
	written := map[string]int{}
	for _, c := range changes {
		if c.Wrote() {
			written[c.Type]++
		}
	}
	if len(written) == 0 {
		return nil // nothing changed: nothing to record
	}
	_, err := rc.log.WriteTx(ctx, w, ForLoad(by, "a batch of "+source, written, 0))
	return err
}

// Exported is bulk's: the request's record goes on its trail.
func (rc *Recorder) Exported(ctx context.Context, rec bulk.Record) {
	if t := TrailFrom(ctx); t != nil {
		t.Add(ForExport(rec, interaction.CallerFrom(ctx)))
	}
}

// Release is bulk's, before a file's bytes are sent: the records so far
// are committed and the response is released to stream (see
// Trail.Release).
func (rc *Recorder) Release(ctx context.Context) error {
	if t := TrailFrom(ctx); t != nil {
		return t.Release(ctx)
	}
	return nil
}

// unaudited are the paths not audited: probes that carry no data.
var unaudited = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// Middleware is the audit middleware for the HTTP stack: everything but
// the health probes and metrics is recorded before its answer leaves.
func (rc *Recorder) Middleware(next http.Handler) http.Handler {
	return middleware(rc.log, rc.failed)(next)
}

// failed answers a request whose record could not be written: 500, and
// nothing of what the handler produced. The reason goes to the log.
func (rc *Recorder) failed(w http.ResponseWriter, r *http.Request, err error) {
	id := interaction.RequestID(r.Context())
	rc.logger.ErrorContext(r.Context(), "request failed closed: its audit record could not be written", "err", err, "request_id", id, "path", r.URL.Path)
	const msg = "the audit record of this request could not be written, so its result is withheld"
	w.Header().Set("Cache-Control", "no-store")
	if strings.HasPrefix(r.URL.Path, "/auth/") {
		auth.WriteOAuthError(w, http.StatusInternalServerError, "server_error", msg)
		return
	}
	fhir.WriteOutcome(w, &fhir.Error{Status: http.StatusInternalServerError, Issues: []fhir.Issue{{Severity: fhir.SeverityFatal, Code: fhir.IssueException, Diagnostics: msg}}, Err: err}, id)
}
