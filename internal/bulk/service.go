package bulk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
)

// Config is what a Service needs. Zero durations and sizes take the
// defaults below; every collaborator is required.
type Config struct {
	Store  store.Store
	Search *search.Engine
	Clock  clock.Clock
	Logger *slog.Logger
	// FHIRBase is the public FHIR base URL (https://host/fhir).
	FHIRBase string
	// Authorizer and Viewers decide the caller's access, as for every
	// FHIR interaction (interaction.Decide): the types it may export, the
	// conditions of its query-filtered scopes, and the viewer usage
	// restrictions judge (a job keeps the viewer of its kick-off).
	Authorizer interaction.Authorizer
	Viewers    interaction.ViewerResolver
	// Auditor records every request.
	Auditor Auditor
	// Workers bounds the jobs this node runs at once.
	Workers int
	// MaxJobsPerClient bounds a client's queued and running jobs: a
	// kick-off beyond it is answered 429, so that one client cannot fill
	// the queue.
	MaxJobsPerClient int
	// FileSize is the size at which an output file is split.
	FileSize int64
	// Expiry is how long a job and its files are kept after kick-off.
	Expiry time.Duration
	// Lease is how long a running job stays with its node without a
	// renewal: a stopped node's job is taken over after at most this.
	Lease time.Duration
	// Poll is how often idle workers look for queued jobs (kick-offs on
	// this node wake them at once).
	Poll time.Duration
}

// Auditor is the audit trail as bulk export meets it. The service cannot
// run without one: package audit's Recorder is it.
type Auditor interface {
	// Exported learns every request.
	Exported(ctx context.Context, rec Record)
	// Release runs before a file's bytes are sent: the audit record of the
	// download is committed there, since a streamed body cannot be held
	// back until after it. An error refuses the download.
	Release(ctx context.Context) error
}

// Defaults.
const (
	DefaultWorkers  = 2
	DefaultMaxJobs  = 4
	DefaultFileSize = 256 << 20
	DefaultExpiry   = 24 * time.Hour
	DefaultLease    = 30 * time.Second
	defaultPoll     = time.Second
	// chunkSize is the unit in which files are stored: each chunk is one
	// small durable transaction (SQLite: one fsync), so not too small; two
	// are in flight per job, so not too large.
	chunkSize = 4 << 20
)

// Record describes one bulk request for the audit trail.
type Record struct {
	Kind   Kind
	Job    string
	Method string
	URI    string
	// Body is a POST kick-off's body (its parameters).
	Body []byte
	// Types are the types a kick-off exports.
	Types []string
	// File is the downloaded file's URL, Type its resource type, Count its
	// lines, Subsetted those with elements removed by usage restrictions.
	File, FileType   string
	Count, Subsetted int64
	Status           int
	// Err is why the request failed (nil on success).
	Err error
}

// Kind is the kind of bulk request.
type Kind string

// Kinds of request.
const (
	KickOff  Kind = "export"
	Status   Kind = "export-status"
	Cancel   Kind = "export-cancel"
	Download Kind = "export-download"
)

// Service serves $export.
type Service struct {
	cfg Config
	es  store.ExportStore
	log *slog.Logger
	// kickoffs and jobs hold the endpoints: /fhir/{type}/$export and
	// /fhir/$export-status/{job} overlap, so they cannot share a mux.
	kickoffs, jobs *http.ServeMux
	wake           chan struct{}
	slots          chan struct{}
}

// New checks cfg and returns a service. Run must run for jobs to progress.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil, cfg.Search == nil, cfg.Clock == nil, cfg.FHIRBase == "":
		return nil, errors.New("bulk: Store, Search, Clock and FHIRBase are required")
	case cfg.Authorizer == nil, cfg.Viewers == nil, cfg.Auditor == nil:
		return nil, errors.New("bulk: Authorizer, Viewers and Auditor are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.MaxJobsPerClient <= 0 {
		cfg.MaxJobsPerClient = DefaultMaxJobs
	}
	if cfg.FileSize <= 0 {
		cfg.FileSize = DefaultFileSize
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = DefaultExpiry
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Poll <= 0 {
		cfg.Poll = defaultPoll
	}
	cfg.FHIRBase = strings.TrimSuffix(cfg.FHIRBase, "/")
	s := &Service{cfg: cfg, es: cfg.Store, log: cfg.Logger, wake: make(chan struct{}, 1), slots: make(chan struct{}, cfg.Workers)}
	s.routes()
	return s, nil
}

// OperationDefinition is the canonical of the operation served, for the
// CapabilityStatement.
const OperationDefinition = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"

// CapabilityStatement is the Bulk Data capability statement the server
// instantiates.
const CapabilityStatement = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"

// Paths of the status and file endpoints, under the FHIR base.
const (
	statusPath = "/fhir/$export-status/"
	filePath   = "/fhir/$export-file/"
)

// routes registers the bulk endpoints on the service's own muxes: their
// patterns would overlap the FHIR API's ({type}/{id}), and each other's.
func (s *Service) routes() {
	s.kickoffs, s.jobs = http.NewServeMux(), http.NewServeMux()
	s.kickoffs.HandleFunc("/fhir/$export", s.handleKickoff)
	s.kickoffs.HandleFunc("/fhir/{type}/$export", s.handleKickoff)
	s.jobs.HandleFunc(statusPath+"{job}", s.handleStatus)
	s.jobs.HandleFunc(filePath+"{job}/{file}", s.handleFile)
}

// Handler serves the bulk endpoints and passes every other request to
// next (the FHIR API).
func (s *Service) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, statusPath), strings.HasPrefix(p, filePath):
			s.jobs.ServeHTTP(w, r)
		case isKickoffPath(p):
			s.kickoffs.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// IsDownload reports whether r asks for an export file: its answer
// streams for as long as the file takes, so no request deadline may cut
// it (rest.StackConfig.Untimed).
func IsDownload(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, filePath) }

// isKickoffPath: /fhir/$export or /fhir/Type/$export.
func isKickoffPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/fhir/")
	if !ok {
		return false
	}
	return rest == "$export" || strings.Count(rest, "/") == 1 && strings.HasSuffix(rest, "/$export")
}

// newID is an unguessable job id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusURL and fileURL are the public addresses of a job's endpoints.
func (s *Service) statusURL(job string) string {
	return s.cfg.FHIRBase + "/$export-status/" + job
}

func (s *Service) fileURL(job string, n int) string {
	return fmt.Sprintf("%s/$export-file/%s/%d.ndjson", s.cfg.FHIRBase, job, n)
}

// writeError answers with err's OperationOutcome.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) int {
	err = fhir.Timeout(r.Context(), err)
	if fhir.StatusOf(err) >= 500 {
		s.log.ErrorContext(r.Context(), "bulk request failed", "err", err, "path", r.URL.Path)
	}
	w.Header().Set("Cache-Control", "no-store")
	return fhir.WriteOutcome(w, err, interaction.RequestID(r.Context()))
}

func writeJSON(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Service) record(ctx context.Context, rec Record) {
	s.cfg.Auditor.Exported(ctx, rec)
}

func notFound(format string, args ...any) error {
	return fhir.Errorf(http.StatusNotFound, fhir.IssueNotFound, format, args...)
}

func notAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return fhir.Errorf(http.StatusMethodNotAllowed, fhir.IssueNotSupported, "allowed methods here: %s", allow)
}
