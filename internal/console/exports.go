package console

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/vhdir/vhdir/internal/store"
)

// exportRow is one $export job as the console lists it.
type exportRow struct {
	Job   *store.ExportJob
	Files []store.ExportFile
	// Request is the kick-off URL the job was started with, Types the
	// types it exports (read from the job's stored request, best effort).
	Request string
	Types   []string
	Active  bool // queued or running: cancelling stops it
}

// exportList lists every $export job, newest first, with its files.
func (c *Console) exportList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	jobs, err := c.cfg.Store.ExportJobs(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	rows := make([]exportRow, len(jobs))
	for i, j := range jobs {
		row := exportRow{Job: j, Active: j.State == store.ExportQueued || j.State == store.ExportRunning}
		if row.Files, err = c.cfg.Store.ExportFiles(ctx, j.ID); err != nil {
			c.fail(w, r, err)
			return
		}
		row.Request, row.Types = kickoffOf(j.Request)
		rows[i] = row
	}
	c.render(w, r, http.StatusOK, "exports.html", "Exports", rows)
}

// kickoffOf reads the kick-off URL and the types from a job's stored
// request (bulk.Spec's encoding); what cannot be read is left empty.
func kickoffOf(raw []byte) (request string, types []string) {
	var spec struct {
		Request string `json:"request"`
		Types   []struct {
			Type string `json:"type"`
		} `json:"types"`
	}
	if json.Unmarshal(raw, &spec) != nil {
		return "", nil
	}
	for _, t := range spec.Types {
		types = append(types, t.Type)
	}
	return spec.Request, types
}

// exportCancel cancels a job as the FHIR API's DELETE on its status URL
// does: the job and its files are deleted, and a worker running it stops
// at its next lease renewal or chunk. The deletion and its audit record
// commit together.
func (c *Console) exportCancel(w http.ResponseWriter, r *http.Request) {
	if !c.checkForm(w, r) {
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	err := c.cfg.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteExportJob(ctx, id); err != nil {
			return err
		}
		return c.cfg.Recorder.ExportCancelled(ctx, tx, c.cfg.Clock.Now(), id)
	})
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, notFound("no export job %q (it may have expired or been cancelled)", id))
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	recordedInItsTransaction(r)
	http.Redirect(w, r, "/exports", http.StatusSeeOther)
}
