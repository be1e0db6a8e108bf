package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them; callers match with errors.Is.
var (
	// ErrNotFound: no such resource or version ever existed.
	ErrNotFound = errors.New("not found")
	// ErrGone: the resource exists but its current version is a delete.
	ErrGone = errors.New("deleted")
	// ErrVersionConflict: a write expected a different current version.
	ErrVersionConflict = errors.New("version conflict")
	// ErrExists: a create found a resource with that type and id.
	ErrExists = errors.New("already exists")
	// ErrBadCursor: a page cursor does not fit the query it is used with.
	ErrBadCursor = errors.New("cursor does not fit the query")
	// ErrRetry: the transaction lost a race with a concurrent one and may be
	// run again from the start. Update retries it itself a few times.
	ErrRetry = errors.New("transaction conflict, retry")
	// ErrUnsupported: the store cannot answer a query of this shape (an
	// AuditEvent search combined with other types, say).
	ErrUnsupported = errors.New("query not supported")
)

// Version is one stored version of a resource.
type Version struct {
	Type        string
	ID          string
	VersionID   int64 // 1, 2, …
	LastUpdated time.Time
	Deleted     bool
	// Body is the resource JSON exactly as served, meta included; nil for a
	// delete.
	Body []byte
	// Seq orders all writes of the store (history paging). Set by the store.
	Seq int64
	// Restricted says the version carries usage restrictions
	// (Restriction.Marked): its body must be shaped per viewer
	// (restrict.View) before it is served. Guard is its Restriction.Root:
	// ask RestrictStore.Visible whether a viewer may see it at all. Both
	// are set by the store on the versions it returns.
	Restricted bool
	Guard      int64
}

// Key names a resource.
type Key struct {
	Type, ID string
}

// Store keeps FHIR resources, and what the server shares between nodes
// beside them: client registrations and tokens (AuthStore), the audit
// chain (AuditStore), export jobs and snapshots (ExportStore), and the
// visibility of restricted versions (RestrictStore). Every backend
// implements all of it; storetest checks them alike. All methods take ctx
// first and are safe for concurrent use. Times are the caller's (its
// clock.Clock): a store never reads the wall clock for data it keeps.
type Store interface {
	AuthStore
	AuditStore
	ExportStore
	RestrictStore

	// Read returns the current version of a resource. It returns ErrNotFound
	// when it never existed and ErrGone (with the deletion version, so the
	// caller can report it) when its current version is a delete.
	Read(ctx context.Context, typ, id string) (*Version, error)
	// VRead returns one version; a version that is a delete is returned with
	// Deleted set and a nil error.
	VRead(ctx context.Context, typ, id string, version int64) (*Version, error)
	// History returns a page of versions, newest first.
	History(ctx context.Context, q HistoryQuery) (*HistoryPage, error)
	// Search runs a compiled search query against current versions.
	Search(ctx context.Context, q *Query) (*SearchPage, error)
	// Update runs fn in one transaction and commits when it returns nil. On
	// ErrRetry from the database it runs fn again (fn must be repeatable).
	Update(ctx context.Context, fn func(Tx) error) error
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	// Backend names the backend ("sqlite", "postgres").
	Backend() string
	Close() error
}

// Tx is a write transaction, valid only inside the function given to
// Store.Update.
type Tx interface {
	// Current returns the current version (a delete included, with Deleted
	// set) or ErrNotFound. Where the database needs it, the row is locked
	// until the transaction ends so the version read stays current.
	Current(ctx context.Context, typ, id string) (*Version, error)
	// CurrentMany is Current for many resources at once (bulk loads); a
	// resource that does not exist is absent from the map.
	CurrentMany(ctx context.Context, keys []Key) (map[Key]*Version, error)
	// Put stores v as the new current version with its index rows. v.VersionID
	// must be one more than the current version (1 for a new resource), else
	// ErrVersionConflict; a new resource whose id is taken gives ErrExists.
	// Put sets v.Seq, and v.Guard and v.Restricted from idx.Restriction; a
	// delete (Deleted, nil idx.Restriction) keeps its previous version's
	// restriction, so that a restricted resource's deletion stays hidden
	// from whoever could not see the resource.
	Put(ctx context.Context, v *Version, idx *Index) error
	// PutMany is Put for several versions, in order, with fewer round trips.
	PutMany(ctx context.Context, vs []*Version, idxs []*Index) error
	// Search runs a query inside the transaction (conditional interactions).
	Search(ctx context.Context, q *Query) (*SearchPage, error)
	// CreateClient registers a client; ErrExists when the id is taken.
	// Created and Updated must be set.
	CreateClient(ctx context.Context, c *ClientRecord) error
	// UpdateClient replaces a registration's Data, Disabled and Updated
	// (which must be set); ErrNotFound when absent.
	UpdateClient(ctx context.Context, c *ClientRecord) error
	// Lock serializes transactions that lock the same key until they end, so
	// a conditional create cannot race another with the same condition.
	Lock(ctx context.Context, key string) error
	// ChainAudit appends AuditEvents to the audit chain in order (see
	// AuditHash), each with its body and fields, and returns their links
	// (without bodies). Chain
	// appends are serialized across nodes until the transaction ends, so
	// call it last.
	ChainAudit(ctx context.Context, items []AuditItem) ([]AuditLink, error)
	// DeleteExportJob removes an $export job and its files in the
	// transaction (ErrNotFound if none), so that a record of the deletion
	// can commit with it; files kept in a folder are removed once it has
	// committed.
	DeleteExportJob(ctx context.Context, id string) error
	// NotBefore is the earliest LastUpdated this transaction may stamp on
	// versions: the time of the latest export snapshot (see ExportStore).
	// Writers stamp max(clock, NotBefore).
	NotBefore() time.Time
	// Restrict replaces the index rows and the restriction
	// (idx.Restriction, nil: none) of a resource's current version without
	// making a version: a VerificationResult's visibility follows its
	// targets, which may change after it was written.
	Restrict(ctx context.Context, typ, id string, idx *Index) error
}

// HistoryQuery selects versions for _history. Type and ID narrow it to a
// type or one resource; empty Type means the whole system.
type HistoryQuery struct {
	Type, ID string
	// Types, when not empty, keeps only versions of these types: a system
	// listing narrowed to what the caller may see. With Type it keeps
	// Type's versions only if Types names it. Each type named costs an
	// index scan of its own, so Types names a handful (the served types).
	Types []string
	// Since keeps versions with LastUpdated >= Since (zero: no bound).
	Since time.Time
	// Before keeps versions with LastUpdated < Before (zero: no bound).
	Before time.Time
	// Count is the page size.
	Count int
	// AfterSeq continues a previous page: only versions with Seq < AfterSeq.
	AfterSeq int64
	// WantTotal asks for the number of matching versions (one more query).
	WantTotal bool
	// Viewer is who lists: versions whose Guard does not permit it are
	// left out (nil: see only unrestricted versions).
	Viewer *Viewer
}

// HistoryPage is one page of versions, newest first.
type HistoryPage struct {
	Versions []*Version
	// NextSeq continues the listing (0 when this is the last page).
	NextSeq int64
	// Total counts all versions the query matches (-1 unless asked).
	Total int64
}
