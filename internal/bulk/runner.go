package bulk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store"
)

// Run works on export jobs until ctx ends: it claims queued jobs (and jobs
// whose node stopped) up to Workers at a time, and purges expired ones.
// On return, jobs still running have been released for another node.
func (s *Service) Run(ctx context.Context) {
	tick := time.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	lastPurge := time.Time{}
	for {
		s.claimAll(ctx)
		if now := s.cfg.Clock.Now(); now.Sub(lastPurge) > time.Minute {
			lastPurge = now
			if n, err := s.es.PurgeExportJobs(ctx, now); err != nil && ctx.Err() == nil {
				s.log.Error("purging expired export jobs", "err", err)
			} else if n > 0 {
				s.log.Info("purged expired export jobs", "jobs", n)
			}
		}
		select {
		case <-ctx.Done():
			// Wait for running jobs to hand their leases back (taking every
			// slot), then free the slots for a later Run.
			for range cap(s.slots) {
				s.slots <- struct{}{}
			}
			for range cap(s.slots) {
				<-s.slots
			}
			return
		case <-tick.C:
		case <-s.wake:
		}
	}
}

// notify wakes the workers (a job was queued on this node).
func (s *Service) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// claimAll starts claimable jobs while a worker slot is free.
func (s *Service) claimAll(ctx context.Context) {
	for ctx.Err() == nil {
		select {
		case s.slots <- struct{}{}:
		default:
			return // all workers busy
		}
		owner := newID()
		now := s.cfg.Clock.Now()
		j, err := s.es.ClaimExportJob(ctx, owner, now, now.Add(s.cfg.Lease))
		if err != nil || j == nil {
			<-s.slots
			if err != nil && ctx.Err() == nil {
				s.log.Error("claiming an export job", "err", err)
			}
			return
		}
		go func() {
			defer func() { <-s.slots }()
			s.work(ctx, j, owner)
		}()
	}
}

// work runs one job to its end, or until it is cancelled, lost or ctx
// ends (then its lease is handed back so that it restarts at once).
func (s *Service) work(ctx context.Context, j *store.ExportJob, owner string) {
	log := s.log.With("job", j.ID, "attempt", j.Attempts)
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p := &progress{}
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		s.renew(jctx, cancel, j.ID, owner, p)
	}()
	log.Info("export job started", "client_id", j.ClientID)
	manifest, files, err := s.export(jctx, j, owner, p)
	cancel(nil)
	<-renewed
	switch {
	case ctx.Err() != nil:
		// Shutting down: give the job back for whoever runs next.
		rctx, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer done()
		_ = s.es.RenewExportJob(rctx, j.ID, owner, s.cfg.Clock.Now().Add(-time.Second), "interrupted; will restart")
		log.Info("export job interrupted; released for restart")
		return
	case errors.Is(context.Cause(jctx), errJobGone), errors.Is(err, store.ErrNotFound):
		log.Info("export job cancelled or taken over; stopped")
		return
	}
	state, result := store.ExportDone, manifest
	if err != nil {
		log.Error("export job failed", "err", err)
		state, result = store.ExportFailed, failureResult(err)
	}
	if err := s.es.FinishExportJob(context.WithoutCancel(ctx), j.ID, owner, state, result, files); err != nil && !errors.Is(err, store.ErrNotFound) {
		log.Error("recording the end of an export job", "err", err)
		return
	}
	log.Info("export job ended", "state", state, "resources", p.written.Load())
}

var errJobGone = errors.New("export job cancelled or taken over")

// renew extends the job's lease until ctx ends; when the job is gone it
// cancels the work.
func (s *Service) renew(ctx context.Context, cancel context.CancelCauseFunc, id, owner string, p *progress) {
	t := time.NewTicker(s.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.es.RenewExportJob(ctx, id, owner, s.cfg.Clock.Now().Add(s.cfg.Lease), p.String())
		if errors.Is(err, store.ErrNotFound) {
			cancel(errJobGone)
			return
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("renewing an export job's lease", "job", id, "err", err)
		}
	}
}

// failureResult is a failed job's Result: the status and OperationOutcome
// the status endpoint answers with.
func failureResult(err error) []byte {
	status, oo := fhir.Outcome(err, "")
	if status < 500 && status != http.StatusBadRequest {
		status = http.StatusInternalServerError
	}
	b, _ := json.Marshal(failure{Status: status, Outcome: jsontree.Marshal(oo)})
	return b
}

// progress is what X-Progress shows.
type progress struct {
	written atomic.Int64
	typ     atomic.Value // string
	done    atomic.Int32
	types   atomic.Int32 // set once the job's spec is read, while renewals may run
}

func (p *progress) String() string {
	t, _ := p.typ.Load().(string)
	return fmt.Sprintf("%d resources written; %s (%d of %d types done)", p.written.Load(), t, p.done.Load(), p.types.Load())
}

// export writes the job's files from one snapshot and returns the manifest.
func (s *Service) export(ctx context.Context, j *store.ExportJob, owner string, p *progress) ([]byte, []store.ExportFile, error) {
	spec, err := decodeSpec(j.Request)
	if err != nil {
		return nil, nil, err
	}
	p.types.Store(int32(len(spec.Types)))
	fw := &fileWriter{s: s, ctx: ctx, job: j.ID, owner: owner}
	var txTime time.Time
	now := func() time.Time { return fhir.Truncate(s.cfg.Clock.Now()) }
	err = s.es.Snapshot(ctx, now, func(snap store.Snapshot) error {
		txTime = snap.Time()
		for _, ts := range spec.Types {
			p.typ.Store(ts.Type)
			if err := s.exportType(ctx, snap, spec, ts, fw, p); err != nil {
				return err
			}
			p.done.Add(1)
		}
		return nil
	})
	if err == nil {
		err = fw.notes(spec.Notes)
	}
	if err == nil {
		err = fw.close()
	}
	if err != nil {
		fw.abandon()
		return nil, nil, err
	}
	return s.manifest(j, spec, txTime, fw.files), fw.files, nil
}

// exportType writes one type's resources (and, with _since, its deletions).
func (s *Service) exportType(ctx context.Context, snap store.Snapshot, spec *Spec, ts TypeSpec, fw *fileWriter, p *progress) error {
	cond, none, err := s.condition(ts)
	if err != nil {
		return err
	}
	if !none {
		elements := spec.elementsFor(ts.Type)
		fw.start(ts.Type, "output")
		viewer := spec.Viewer
		err := snap.Scan(ctx, store.ExportScan{Type: ts.Type, Since: spec.Since, Cond: cond, Viewer: viewer.Store()}, func(v *store.Version) error {
			body, visible, subsetted, err := viewer.Body(v)
			if err != nil || !visible {
				return err // invisible: the scan's filter left such resources out already
			}
			p.written.Add(1)
			if err := fw.line(encodeLine(body, elements, subsetted)); err != nil {
				return err
			}
			if subsetted {
				fw.subsetted()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("export %s: %w", ts.Type, err)
		}
	}
	if spec.Since.IsZero() || ts.Scoped {
		// A deletion cannot be checked against scope conditions (nothing is
		// left to check): callers with conditional scopes get none, as
		// the error file says.
		return nil
	}
	// The file's lines are Bundles: its manifest type says so (Bulk Data
	// 2.0: the type of the resources the file contains).
	fw.start("Bundle", "deleted")
	err = snap.Scan(ctx, store.ExportScan{Type: ts.Type, Since: spec.Since, Deleted: true, Viewer: spec.Viewer.Store()}, func(v *store.Version) error {
		return fw.line(deletionLine(s.cfg.FHIRBase, v))
	})
	if err != nil {
		return fmt.Errorf("export deleted %s: %w", ts.Type, err)
	}
	return nil
}

// condition compiles a type's filters (any of them) and scope conditions
// (any of them), both to hold; none reports that nothing can match
// (scoped by conditions that no longer compile).
func (s *Service) condition(ts TypeSpec) (cond store.Cond, none bool, err error) {
	filters := make([]store.Cond, 0, len(ts.Filters))
	for _, q := range decodeQueries(ts.Filters) {
		c, err := s.cfg.Search.Filter(ts.Type, q)
		if err != nil {
			return nil, false, fmt.Errorf("_typeFilter %s?%s: %w", ts.Type, q.Encode(), err)
		}
		filters = append(filters, c)
	}
	var scope store.Cond
	if ts.Scoped {
		if scope = s.cfg.Search.FilterAny(ts.Type, decodeQueries(ts.Scope)); scope == nil {
			return nil, true, nil
		}
	}
	return store.AllOf(store.AnyOf(filters...), scope), false, nil
}

// decodeQueries parses queries stored encoded in a job (they were encoded
// by url.Values.Encode, so they parse).
func decodeQueries(enc []string) []url.Values {
	out := make([]url.Values, 0, len(enc))
	for _, e := range enc {
		q, _ := url.ParseQuery(e)
		out = append(out, q)
	}
	return out
}

// encodeLine is a resource as one NDJSON line: the stored bytes as they
// are, unless _elements asks for a subset. subsetted says body is a
// restricted view (re-encoded already: one line).
func encodeLine(body []byte, elements []string, subsetted bool) []byte {
	if elements == nil && (subsetted || bytes.IndexByte(body, '\n') < 0) {
		return body
	}
	obj, err := jsontree.ParseObject(body)
	if err != nil {
		return body // stored bodies are valid JSON; keep them as they are
	}
	if elements != nil {
		if sub, removed := fhir.Elements(obj, elements); removed {
			fhir.MarkSubsetted(sub)
			obj = sub
		}
	}
	return jsontree.Marshal(obj)
}

// deletionLine is a deleted resource as Bulk Data 2.0 lists it: a
// transaction Bundle with one DELETE entry.
func deletionLine(base string, v *store.Version) []byte {
	ref := v.Type + "/" + v.ID
	b := obj("resourceType", "Bundle", "type", "transaction",
		"meta", obj("lastUpdated", fhir.FormatInstant(v.LastUpdated)),
		"entry", []any{obj("fullUrl", base+"/"+ref, "request", obj("method", "DELETE", "url", ref))})
	return jsontree.Marshal(b)
}

// manifest is the completed job's status answer.
func (s *Service) manifest(j *store.ExportJob, spec *Spec, txTime time.Time, files []store.ExportFile) []byte {
	output, deleted, errs := []any{}, []any{}, []any{}
	for _, f := range files {
		item := obj("type", f.Type, "url", s.fileURL(j.ID, f.N), "count", jsontree.Number(fmt.Sprint(f.Count)))
		switch f.Kind {
		case "output":
			output = append(output, item)
		case "deleted":
			deleted = append(deleted, item)
		default:
			errs = append(errs, item)
		}
	}
	m := obj("transactionTime", fhir.FormatInstant(txTime), "request", spec.Request, "requiresAccessToken", true,
		"output", output, "error", errs)
	if !spec.Since.IsZero() {
		m.Set("deleted", deleted)
	}
	return jsontree.Marshal(m)
}

func obj(kv ...any) *jsontree.Object {
	o := &jsontree.Object{Members: make([]jsontree.Member, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Members = append(o.Members, jsontree.Member{Key: kv[i].(string), Value: kv[i+1]})
	}
	return o
}
