package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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
	// Indexer stores chained AuditEvents as resources with their index
	// rows; searches, reads, histories and exports that can reach them
	// bring it up to date first (BeforeSearch).
	Indexer *Indexer
}

// BeforeSearch is rest's and bulk's BeforeSearch hook: a search, read,
// history or export that can reach AuditEvents (their type, the whole
// system, or a chain, _has or include naming them) first stores and
// indexes every record committed so far, so an auditor never misses one.
func (rc *Recorder) BeforeSearch(ctx context.Context, types []string, query url.Values) error {
	if rc.Indexer == nil || !reachesAudit(types, query) {
		return nil
	}
	if err := rc.Indexer.CatchUp(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

func reachesAudit(types []string, query url.Values) bool {
	if len(types) != 1 || types[0] == "AuditEvent" {
		return true
	}
	for k, vs := range query {
		if strings.Contains(k, "AuditEvent") {
			return true
		}
		for _, v := range vs {
			if strings.Contains(v, "AuditEvent") {
				return true
			}
		}
	}
	return false
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
	links, err := rc.Log.WriteTx(ctx, w, events...)
	if err != nil {
		return err
	}
	t.stash(links)
	return nil
}

// OnExecuted records an interaction's outcome on the request's trail. A
// write that succeeded was recorded by OnWrite, in its transaction; one
// that failed rolled that record back, so its failure is recorded here.
func (rc *Recorder) OnExecuted(ctx context.Context, req *rest.Request, resp *rest.Response, err error) {
	t := TrailFrom(ctx)
	if t == nil {
		return
	}
	if req.Interaction.Writes() && req.Interaction != rest.Batch {
		// The write's transaction has ended: its records committed with it
		// (stream them now) or were rolled back with it.
		links := t.unstash()
		if err == nil {
			t.Recorded(1)
			if rc.Log.Stream != nil && len(links) > 0 {
				rc.Log.Stream(links)
			}
			return
		}
	}
	uri := ""
	if req.Entry < 0 {
		uri = t.URI
	}
	t.Add(ForInteraction(req, resp, err, AgentOf(ctx), uri))
}

// OnAuthenticated is auth's OnAuthenticated hook: the trail learns the
// client, for records made outside the handlers (introspection, refusals
// after authentication).
func (rc *Recorder) OnAuthenticated(ctx context.Context, p *auth.Principal) {
	if t := TrailFrom(ctx); t != nil {
		t.SetClient(agentOfPrincipal(p))
	}
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
