package rest

import (
	"context"
	"errors"
	"net/http"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
)

// maxRun is the most writes a batch commits together: enough to amortize
// a commit (and its fsync) over a Bundle of a hundred entries, few enough
// that no run holds the writer for long.
const maxRun = 256

// batch runs each entry as if sent alone, in order, under the Bundle's
// access; failures are reported in their entry and do not affect the
// others. Consecutive writes are committed together, in runs (see
// writeRun): every entry still sees the ones before it, as it would
// alone.
func (s *Server) batch(ctx context.Context, req *interaction.Request, acc *interaction.Access) (*interaction.Response, error) {
	entries := bundleEntries(req.Bundle)
	reqs := make([]*interaction.Request, len(entries))
	refused := make([]error, len(entries))
	for i, e := range entries {
		reqs[i], refused[i] = s.parseEntry(i, e, req)
	}
	results := make([]*interaction.Response, len(entries))
	for i := 0; i < len(reqs); {
		if err := refused[i]; err != nil { // refused before it could run: still reported
			s.cfg.Auditor.Executed(ctx, &interaction.Request{Entry: i, Method: entryMethod(entries[i])}, nil, err)
			results[i] = errorResponse(ctx, s.log, entryError(i, err))
			i++
			continue
		}
		end := i
		for end < len(reqs) && end-i < maxRun && refused[end] == nil && runnable(reqs[end]) {
			end++
		}
		if end == i {
			results[i] = s.runEntry(ctx, i, reqs[i], acc)
			i++
			continue
		}
		i = s.writeRun(ctx, reqs, results, i, end, acc)
	}
	out := fhir.NewBundle("batch-response", "", fhir.FormatInstant(s.cfg.Clock.Now()))
	for _, resp := range results {
		out.Entry(responseEntry(resp))
	}
	return newResponse(http.StatusOK, out.Object()), nil
}

// runnable reports whether a parsed entry may join a run of writes.
func runnable(r *interaction.Request) bool {
	return r.Kind == interaction.Create || r.Kind == interaction.Update || r.Kind == interaction.Delete
}

// runEntry runs entry i alone and answers it, a failure included.
func (s *Server) runEntry(ctx context.Context, i int, r *interaction.Request, acc *interaction.Access) *interaction.Response {
	resp, err := s.run(ctx, r, acc)
	if err != nil {
		return errorResponse(ctx, s.log, entryError(i, err))
	}
	return resp
}

// errRunStopped ends a run's transaction at the first entry that fails.
var errRunStopped = errors.New("rest: a batch run stopped at a failed entry")

// writeRun writes reqs[start:end] in one transaction, each entry with its
// own Provenance and audit records (recorded together, after the last),
// and returns where the batch goes on.
// An entry that fails rolls the run back: the entries before it are
// written again without it, in a run of their own, and it then runs alone,
// so that its failure is answered and recorded exactly as if it had been
// sent alone. A failure of the run's commit is every entry's.
func (s *Server) writeRun(ctx context.Context, reqs []*interaction.Request, results []*interaction.Response, start, end int, acc *interaction.Access) int {
	for {
		failed := -1
		_, err := s.cfg.Directory.Write(ctx, func(w *directory.Writer) error {
			failed = -1
			writes := make([]written, 0, end-start)
			for k := start; k < end; k++ {
				n := len(w.Changes())
				resp, err := s.writeEntry(ctx, w, reqs[k], acc)
				if err != nil {
					failed = k
					return errRunStopped
				}
				results[k] = resp
				writes = append(writes, written{reqs[k], w.Changes()[n:]})
			}
			return s.recordWrite(ctx, w, acc, writes...)
		})
		switch {
		case err == nil:
			for k := start; k < end; k++ {
				s.cfg.Auditor.Executed(ctx, reqs[k], results[k], nil)
			}
			return end
		case failed < 0 || !errors.Is(err, errRunStopped):
			for k := start; k < end; k++ {
				s.cfg.Auditor.Executed(ctx, reqs[k], nil, err)
				results[k] = errorResponse(ctx, s.log, entryError(k, err))
			}
			return end
		case failed == start:
			results[start] = s.runEntry(ctx, start, reqs[start], acc)
			return start + 1
		}
		end = failed
	}
}

// writeEntry is one write of a run, inside its transaction, and its
// answer; the run records its writes together.
func (s *Server) writeEntry(ctx context.Context, w *directory.Writer, r *interaction.Request, acc *interaction.Access) (*interaction.Response, error) {
	if err := acc.Permit(r); err != nil {
		return nil, err
	}
	c, err := s.apply(ctx, w, r, acc)
	if err != nil {
		return nil, err
	}
	return s.writeResponse(ctx, r, c, acc)
}
