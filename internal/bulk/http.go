package bulk

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store"
)

// handleKickoff starts a job: 202 with the status URL in Content-Location.
func (s *Service) handleKickoff(w http.ResponseWriter, r *http.Request) {
	rec := Record{Kind: KickOff, Method: r.Method, URI: r.URL.RequestURI()}
	job, types, body, err := s.kickoff(w, r)
	rec.Job, rec.Types, rec.Body = job, types, body
	if err != nil {
		rec.Err = err
		rec.Status = s.writeError(w, r, err)
	} else {
		rec.Status = http.StatusAccepted
		w.Header().Set("Content-Location", s.statusURL(job))
		oo := fhir.OutcomeOf(fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
			Diagnostics: "export started; poll " + s.statusURL(job)})
		writeJSON(w, http.StatusAccepted, "application/fhir+json", jsontree.Marshal(oo))
	}
	s.record(r.Context(), rec)
}

func (s *Service) kickoff(w http.ResponseWriter, r *http.Request) (job string, types []string, body []byte, err error) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return "", nil, nil, notAllowed(w, "GET, POST")
	}
	typ := r.PathValue("type")
	if typ != "" && !s.cfg.Search.Registry().Serves(typ) {
		return "", nil, nil, fhir.Errorf(http.StatusNotFound, fhir.IssueNotSupported, "resource type %s is not served here", quote(typ))
	}
	if r.Method == http.MethodPost {
		// Keep the body for the audit record (the parameters are the query).
		body, err = io.ReadAll(io.LimitReader(r.Body, maxKickoffBody+1))
		if err != nil {
			if bte := new(interaction.BodyTimeoutError); errors.As(err, &bte) {
				return "", nil, nil, bte.Outcome()
			}
			return "", nil, nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "reading the request body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	acc, err := interaction.Decide(r.Context(), s.cfg.Authorizer, s.cfg.Viewers)
	if err != nil {
		return "", nil, body, err
	}
	client := acc.Caller.ClientID
	spec, err := s.parseKickoff(r, typ, acc)
	if err != nil {
		return "", nil, body, err
	}
	for _, t := range spec.Types {
		types = append(types, t.Type)
	}
	req, err := encodeSpec(spec)
	if err != nil {
		return "", types, body, err
	}
	// A soft limit (two kick-offs at once may both pass): enough to keep
	// one client from filling the queue.
	active, err := s.es.ActiveExportJobs(r.Context(), client)
	if err != nil {
		return "", types, body, fmt.Errorf("count export jobs: %w", err)
	}
	if active >= s.cfg.MaxJobsPerClient {
		w.Header().Set("Retry-After", "60")
		return "", types, body, fhir.Errorf(http.StatusTooManyRequests, fhir.IssueThrottled,
			"this client has %d exports queued or running (at most %d); wait for one to finish, or cancel one with DELETE on its status URL", active, s.cfg.MaxJobsPerClient)
	}
	now := s.cfg.Clock.Now()
	j := &store.ExportJob{ID: newID(), ClientID: client, Request: req, State: store.ExportQueued, Created: now, Expires: now.Add(s.cfg.Expiry)}
	if err := s.es.CreateExportJob(r.Context(), j); err != nil {
		return "", types, body, fmt.Errorf("create export job: %w", err)
	}
	s.notify()
	return j.ID, types, body, nil
}

// clientID is the caller's ("" for none: it owns no job).
func clientID(ctx context.Context) string {
	if c := interaction.CallerFrom(ctx); c != nil {
		return c.ClientID
	}
	return ""
}

// ownJob returns the caller's job id, or 404: another client's job is
// answered as if it did not exist.
func (s *Service) ownJob(ctx context.Context, id string) (*store.ExportJob, error) {
	j, err := s.es.ExportJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && j.ClientID != clientID(ctx) {
		return nil, notFound("no export job %s (it may have expired or been cancelled)", quote(id))
	}
	if err != nil {
		return nil, fmt.Errorf("read export job: %w", err)
	}
	return j, nil
}

// handleStatus answers a status poll (GET) or cancels a job (DELETE).
func (s *Service) handleStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("job")
	rec := Record{Kind: Status, Job: id, Method: r.Method, URI: r.URL.RequestURI()}
	var err error
	switch r.Method {
	case http.MethodGet:
		rec.Status, err = s.status(w, r, id)
	case http.MethodDelete:
		rec.Kind = Cancel
		rec.Status, err = s.cancel(w, r, id)
	default:
		err = notAllowed(w, "GET, DELETE")
	}
	if err != nil {
		rec.Err = err
		rec.Status = s.writeError(w, r, err)
	}
	s.record(r.Context(), rec)
}

// retryAfter is the polling interval suggested while a job runs.
const retryAfter = "2"

func (s *Service) status(w http.ResponseWriter, r *http.Request, id string) (int, error) {
	j, err := s.ownJob(r.Context(), id)
	if err != nil {
		return 0, err
	}
	switch j.State {
	case store.ExportQueued, store.ExportRunning:
		progress := j.Progress
		if progress == "" {
			progress = string(j.State)
		}
		w.Header().Set("X-Progress", progress)
		w.Header().Set("Retry-After", retryAfter)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusAccepted)
		return http.StatusAccepted, nil
	case store.ExportDone:
		w.Header().Set("Expires", j.Expires.UTC().Format(http.TimeFormat))
		writeJSON(w, http.StatusOK, "application/json", j.Result)
		return http.StatusOK, nil
	}
	// Failed: the stored OperationOutcome, with the status it carries.
	var f failure
	if err := json.Unmarshal(j.Result, &f); err != nil || f.Status == 0 {
		return 0, fmt.Errorf("export job %s: unreadable failure record: %v", id, err)
	}
	writeJSON(w, f.Status, "application/fhir+json", f.Outcome)
	return f.Status, nil
}

// failure is the Result of a failed job.
type failure struct {
	Status  int             `json:"status"`
	Outcome json.RawMessage `json:"outcome"`
}

func (s *Service) cancel(w http.ResponseWriter, r *http.Request, id string) (int, error) {
	if _, err := s.ownJob(r.Context(), id); err != nil {
		return 0, err
	}
	if err := s.es.DeleteExportJob(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, notFound("no export job %s", quote(id))
		}
		return 0, fmt.Errorf("delete export job: %w", err)
	}
	oo := fhir.OutcomeOf(fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational, Diagnostics: "export job deleted with its files"})
	writeJSON(w, http.StatusAccepted, "application/fhir+json", jsontree.Marshal(oo))
	return http.StatusAccepted, nil
}

// handleFile streams one output file, gzip-compressed when the client
// accepts it.
func (s *Service) handleFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("job")
	rec := Record{Kind: Download, Job: id, Method: r.Method, URI: r.URL.RequestURI(), File: s.cfg.FHIRBase + strings.TrimPrefix(r.URL.Path, "/fhir")}
	f, err := s.file(w, r, id)
	if f != nil {
		rec.FileType, rec.Count, rec.Subsetted = f.Type, f.Count, f.Subsetted
	}
	if err != nil {
		rec.Err = err
		rec.Status = s.writeError(w, r, err)
		s.record(r.Context(), rec)
		return
	}
	rec.Status = http.StatusOK
	// The download is recorded, and the record committed, before any byte
	// leaves; a transfer that breaks off later stays recorded as started.
	s.record(r.Context(), rec)
	if err := s.cfg.Auditor.Release(r.Context()); err != nil {
		s.writeError(w, r, fmt.Errorf("audit before download: %w", err))
		return
	}
	s.stream(w, r, f)
}

// file checks a download request and returns the file it names.
func (s *Service) file(w http.ResponseWriter, r *http.Request, id string) (*store.ExportFile, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil, notAllowed(w, "GET")
	}
	if err := checkNDJSONAccept(r.Header.Get("Accept")); err != nil {
		return nil, err
	}
	name := r.PathValue("file")
	n, err := strconv.Atoi(strings.TrimSuffix(name, ".ndjson"))
	if err != nil || n < 0 || !strings.HasSuffix(name, ".ndjson") {
		return nil, notFound("no file %s", quote(name))
	}
	j, err := s.ownJob(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if j.State != store.ExportDone {
		return nil, notFound("export job %s has no files to download yet", quote(id))
	}
	files, err := s.es.ExportFiles(r.Context(), id)
	if err != nil {
		return nil, fmt.Errorf("list export files: %w", err)
	}
	for i := range files {
		if files[i].N == n {
			return &files[i], nil
		}
	}
	return nil, notFound("export job %s has no file %d", quote(id), n)
}

// checkNDJSONAccept accepts NDJSON (Bulk Data: application/fhir+ndjson),
// or no preference.
func checkNDJSONAccept(v string) error {
	if v == "" || acceptsOneOf(v, "application/fhir+ndjson", "application/ndjson", "application/x-ndjson") {
		return nil
	}
	return fhir.Errorf(http.StatusNotAcceptable, fhir.IssueNotSupported, "export files are application/fhir+ndjson; Accept %s does not allow it", quote(v))
}

// stream writes the file's chunks as they are read from the store.
func (s *Service) stream(w http.ResponseWriter, r *http.Request, f *store.ExportFile) {
	h := w.Header()
	h.Set("Content-Type", "application/fhir+ndjson")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Encoding")
	var out io.Writer = w
	var zw *gzip.Writer
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		out = zw
	} else {
		h.Set("Content-Length", strconv.FormatInt(f.Bytes, 10))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	var sent int64
	err := s.es.ReadExportFile(r.Context(), f.Job, f.N, func(chunk []byte) error {
		sent += int64(len(chunk))
		_, err := out.Write(chunk)
		return err
	})
	if err == nil && sent != f.Bytes {
		err = fmt.Errorf("file ended after %d of %d bytes (the job was deleted meanwhile?)", sent, f.Bytes)
	}
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if err != nil && r.Context().Err() == nil {
		// The status is sent: all that is left is to cut the transfer short,
		// so the client sees an incomplete body rather than a short file.
		s.log.ErrorContext(r.Context(), "export file download failed", "job", f.Job, "file", f.N, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// acceptsGzip reports whether Accept-Encoding allows gzip (q > 0).
func acceptsGzip(v string) bool {
	for part := range strings.SplitSeq(v, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		params = strings.ReplaceAll(params, " ", "")
		return params != "q=0" && params != "q=0.0" && params != "q=0.00" && params != "q=0.000"
	}
	return false
}
