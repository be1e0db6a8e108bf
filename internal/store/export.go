package store

import (
	"context"
	"time"
)

// Bulk export ($export) needs three things of a store: a consistent
// read-only view of every resource at one instant (Snapshot), durable job
// records that any node can read and resume (ExportJob), and the files a
// job writes, kept in the database so that any node can serve them.
//
// Snapshots and _since. A delta export (_since = the transactionTime of
// the previous export) must miss nothing, even with writes running
// concurrently on several nodes whose clocks differ. Stamping versions
// with the clock alone cannot promise that: a transaction stamped before
// the snapshot's time may commit after the snapshot was taken. So the
// store keeps an export mark, and taking a snapshot (1) waits until no
// write transaction is in flight while holding new ones back, (2) sets the
// mark to the snapshot's time T (never lower than before), (3) opens the
// read-only view, and (4) lets writers go. Every write transaction learns
// the mark when it begins (Tx.NotBefore) and stamps its versions no
// earlier. Hence: every write in the view committed before it; every write
// not in the view carries LastUpdated >= T, and "LastUpdated >= T" finds
// it.

// ExportStore serves bulk export.
type ExportStore interface {
	// Snapshot runs fn over a consistent read-only view of the store, taken
	// at now() (or at the previous snapshot's time, if later: times never
	// go back). now is the caller's clock and must give times as versions
	// are stamped (truncated to the millisecond). The view stays valid
	// until fn returns.
	Snapshot(ctx context.Context, now func() time.Time, fn func(Snapshot) error) error

	// CreateExportJob stores a new job (State ExportQueued). ID, ClientID,
	// Request, Created and Expires must be set.
	CreateExportJob(ctx context.Context, j *ExportJob) error
	// ExportJob returns a job, or ErrNotFound.
	ExportJob(ctx context.Context, id string) (*ExportJob, error)
	// ExportJobs lists every job, newest first (by Created, then by ID
	// descending), for an operator's overview. Result is left nil: the
	// manifest or OperationOutcome can be large, and ExportJob reads it.
	ExportJobs(ctx context.Context) ([]*ExportJob, error)
	// ActiveExportJobs counts a client's jobs that are queued or running.
	ActiveExportJobs(ctx context.Context, clientID string) (int, error)
	// ClaimExportJob hands the oldest claimable job to owner until
	// leaseUntil: a queued job, or a running one whose lease ended before
	// now (its node stopped). The job becomes running, Owner is set and
	// Attempts incremented; files an earlier attempt wrote are deleted. It
	// returns nil, nil when there is nothing to claim. Concurrent callers
	// (several nodes) never get the same job.
	ClaimExportJob(ctx context.Context, owner string, now, leaseUntil time.Time) (*ExportJob, error)
	// RenewExportJob extends owner's lease and records progress (shown in
	// X-Progress). It returns ErrNotFound when the job is gone (cancelled)
	// or no longer owner's: the worker must stop.
	RenewExportJob(ctx context.Context, id, owner string, leaseUntil time.Time, progress string) error
	// AddExportChunk appends data to file n of a job owned by owner
	// (ErrNotFound otherwise). Chunks are numbered from 0 per file and
	// read back in that order. The file's row is created by its first
	// chunk and its type and kind are taken from f.
	AddExportChunk(ctx context.Context, owner string, f ExportFile, chunk int, data []byte) error
	// FinishExportJob ends owner's job in state (ExportDone or
	// ExportFailed) with result (the manifest or the OperationOutcome, as
	// the caller encodes it) and the final counts of its files. It returns
	// ErrNotFound when the job is gone or no longer owner's.
	FinishExportJob(ctx context.Context, id, owner string, state ExportState, result []byte, files []ExportFile) error
	// DeleteExportJob removes a job and its files (ErrNotFound if none).
	DeleteExportJob(ctx context.Context, id string) error
	// ExportFiles lists a job's files in order of N.
	ExportFiles(ctx context.Context, id string) ([]ExportFile, error)
	// ReadExportFile calls fn with the bytes of file n of job id, in
	// order, in pieces (the chunks as written, or pieces of up to 1 MiB
	// where the bytes are kept in a file); ErrNotFound when there is no
	// such file.
	// The piece is valid only during the call.
	ReadExportFile(ctx context.Context, id string, n int, fn func(chunk []byte) error) error
	// PurgeExportJobs removes jobs (and their files) that expired before
	// now and returns how many.
	PurgeExportJobs(ctx context.Context, now time.Time) (int, error)
}

// Snapshot is a consistent read-only view of a store (see ExportStore).
type Snapshot interface {
	// Time is the snapshot's instant: every write committed after the
	// view was taken carries LastUpdated >= Time.
	Time() time.Time
	// Scan calls fn with each resource q selects, as it stood in the view,
	// in the store's internal order. v is valid only during the call. fn's
	// error stops the scan and is returned.
	Scan(ctx context.Context, q ExportScan, fn func(v *Version) error) error
}

// ExportScan selects resources of one type for export.
type ExportScan struct {
	Type string
	// Since keeps resources with LastUpdated >= Since (zero: all).
	Since time.Time
	// Cond, when set, keeps resources that match it (as Query.Cond does);
	// ignored with Deleted.
	Cond Cond
	// Deleted selects the resources whose current version is a delete
	// (Body nil) instead of the live ones.
	Deleted bool
	// Viewer is who exports: resources (and deletions) it may not see
	// are left out, as Query.Viewer does for searches.
	Viewer *Viewer
}

// ExportState is where a job is.
type ExportState string

// Job states.
const (
	ExportQueued  ExportState = "queued"
	ExportRunning ExportState = "running"
	ExportDone    ExportState = "done"
	ExportFailed  ExportState = "failed"
)

// ExportJob is one $export request and its progress.
type ExportJob struct {
	ID       string
	ClientID string
	// Request is the kick-off as the caller encodes it (what to export).
	Request []byte
	State   ExportState
	Created time.Time
	// Expires is when the job and its files are purged.
	Expires time.Time
	// Owner holds the job while running, until LeaseUntil.
	Owner      string
	LeaseUntil time.Time
	Attempts   int
	Progress   string
	// Result is the manifest (done) or OperationOutcome (failed), as the
	// caller encoded it.
	Result []byte
}

// ExportFile is one file of a job.
type ExportFile struct {
	Job string
	N   int
	// Type is the resource type its lines hold; Kind is "output",
	// "deleted" or "error", the manifest array it belongs to.
	Type, Kind string
	Count      int64 // lines
	Bytes      int64
	// Subsetted counts the lines served with elements removed by usage
	// restrictions (the download's AuditEvent says so).
	Subsetted int64
}
