package audit

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/rest"
)

// Recorder connects the audit trail to the REST server's and the
// authorization server's hooks (rest.Config.OnWrite and OnExecuted,
// auth.Config.OnToken) and to the HTTP stack (Middleware).
type Recorder struct {
	Log *Log
}

// OnWrite records a write's changes inside its transaction. Writes that
// come through the HTTP API carry a trail (Middleware); writes without one
// are an operator's bulk load (vhdir load, serve --seed-examples), recorded
// once for the whole run by the command (ForLoad), not per resource.
func (rc *Recorder) OnWrite(ctx context.Context, w *directory.Writer, req *rest.Request, changes []*directory.Change) error {
	t := TrailFrom(ctx)
	if t == nil {
		return nil
	}
	events := ForChanges(req, changes, AgentOf(ctx))
	for _, e := range events {
		e.RequestID, e.Address = t.RequestID, t.Address
	}
	return rc.Log.WriteTx(ctx, w, events...)
}

// OnExecuted records an interaction's outcome on the request's trail. A
// write that succeeded was recorded by OnWrite, in its transaction; one
// that failed rolled that record back, so its failure is recorded here.
func (rc *Recorder) OnExecuted(ctx context.Context, req *rest.Request, resp *rest.Response, err error) {
	t := TrailFrom(ctx)
	if t == nil {
		return
	}
	if req.Interaction.Writes() && req.Interaction != rest.Batch && err == nil {
		t.Recorded(1)
		return
	}
	uri := ""
	if req.Entry < 0 {
		uri = t.URI
	}
	t.Add(ForInteraction(req, resp, err, AgentOf(ctx), uri))
}

// OnToken records a token request on its trail.
func (rc *Recorder) OnToken(ctx context.Context, o auth.TokenOutcome) {
	if t := TrailFrom(ctx); t != nil {
		t.Add(ForToken(o))
	}
}

// Middleware is the audit middleware for the HTTP stack: everything but
// the health probes and metrics is recorded before its answer leaves.
func (rc *Recorder) Middleware(requestID func(context.Context) string) func(http.Handler) http.Handler {
	return Middleware(MiddlewareConfig{
		Log:       rc.Log,
		RequestID: requestID,
		Fallback:  Fallback,
		Failed:    failed,
		Skip:      map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true},
	})
}

// failed answers a request whose record could not be written: 500, and
// nothing of what the handler produced.
func failed(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Cache-Control", "no-store")
	if strings.HasPrefix(r.URL.Path, "/auth/") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "server_error", "error_description": "the audit record of this request could not be written, so its result is withheld"})
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(http.StatusInternalServerError)
	oo := fhir.OutcomeOf(fhir.Issue{Severity: "fatal", Code: fhir.IssueException, Diagnostics: "the audit record of this request could not be written, so its result is withheld"})
	_, _ = w.Write(jsontree.Marshal(oo))
}
