// Package directory is vhdir's write engine: it turns FHIR write
// interactions (create, update, delete and their conditional forms) into
// store versions, inside store transactions. It stamps id, meta.versionId and
// meta.lastUpdated from the one clock, extracts search-index rows, checks
// version preconditions, resolves conditions and skips updates that change
// nothing.
//
// It does not parse HTTP, check scopes or write audit records: package rest
// does, around it, and may add its own writes (Provenance, AuditEvent) to the
// same transaction through Writer.Tx.
//
// # Usage restrictions
//
// Every write path (Create, Update, Put, PutAll and the conditional forms)
// refuses a resource whose usage restrictions cannot be honoured as written
// (restrict.Restrictions.Err) with a 422 naming each element and problem,
// quoting nothing of the resource. The Indexer attaches the resource's own
// restrictions to its index (store.Restriction).
//
// A VerificationResult is visible only where what it validates is (IG
// SHALL). On its write the directory reads the current version of each
// target (target[].reference: Type/id, or an absolute URL with Type/id, which
// may name this server and is taken as local, failing closed; a deleted or
// missing target adds nothing) and adds to the VerificationResult's
// Restriction the target's root rules, and for each targetLocation, the
// rules covering that location in the target (restrict.Restrictions.Covering).
// A targetLocation belongs to the targets of its type; one naming no
// target's type is checked against every target, and one that is more than
// a simple path is covered by every element rule. Inherited rules come
// after the VerificationResult's own (whose numbers its guarded index rows
// use), rules with the same permit keys once, and all of them are root
// rules: a viewer must pass them to see the VerificationResult at all.
//
// The rule is kept at every write: when a resource other than a
// VerificationResult is written and its previous or new version carries
// restrictions, every VerificationResult whose target it is gets its
// Restriction recomputed (its own plus what it now inherits;
// store.Tx.Restrict) in the same transaction. A delete changes nothing:
// the VerificationResults keep what the last live version gave them, as
// they still describe data someone restricted (failing closed). A PutAll
// batch's VerificationResults follow their targets as the batch leaves
// them.
//
// The searches the directory runs for conditional interactions see every
// resource (store.SeeAll) unless the caller passes the viewer on whose
// behalf it writes (WithViewer; package rest decides who may write what).
// Its own maintenance (the cascade) always sees everything.
package directory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store"
)

// Indexer extracts search-index rows and compiles the searches of
// conditional interactions. Package search implements it.
type Indexer interface {
	// Index returns the index rows of a resource, with its Restriction
	// whenever a usage restriction applies (in force or broken:
	// restrict.Restrictions.None is false; see store.Restriction). The
	// directory looks for broken restrictions only in resources whose
	// index has one. Errors a client causes (too many restrictions) are
	// *fhir.Error.
	Index(res *fhir.Resource) (*store.Index, error)
	// Conditional compiles the query of a conditional interaction
	// (If-None-Exist, PUT/DELETE [type]?query). Errors are *fhir.Error.
	Conditional(typ string, query url.Values) (*store.Query, error)
}

// Directory writes resources.
type Directory struct {
	Store   store.Store
	Clock   clock.Clock
	Indexer Indexer
	// IDs makes server-assigned ids; nil means time-ordered UUIDs
	// (version 7), which keep index inserts local.
	IDs func() string
	// Profiles checks every resource before it is written, on every path
	// (REST, Bundles, loads), after the structural validation that parsing
	// did: profile validation against R4 and the VhDir StructureDefinitions
	// (profile.Policy). Required: Write refuses to run without it.
	Profiles Checker
}

// Checker validates a resource about to be written. It returns the issues
// to report with the stored resource, or an error (a *fhir.Error 422) that
// refuses it.
type Checker interface {
	Check(res *fhir.Resource) ([]fhir.Issue, error)
}

// Action says what a write did.
type Action uint8

// Actions.
const (
	Created   Action = iota + 1 // a new resource, or one re-created after a delete
	Updated                     // a new version
	Deleted                     // a delete version
	Unchanged                   // an update identical to the current version: no new version
	Matched                     // a conditional create found the resource: nothing written
	Absent                      // a delete of a resource that did not exist or was deleted already
)

func (a Action) String() string {
	switch a {
	case Created:
		return "created"
	case Updated:
		return "updated"
	case Deleted:
		return "deleted"
	case Unchanged:
		return "unchanged"
	case Matched:
		return "matched"
	case Absent:
		return "absent"
	}
	return fmt.Sprintf("Action(%d)", a)
}

// Change is the outcome of one write.
type Change struct {
	Action Action
	Type   string
	ID     string
	// Version is the version written (or found, for Matched and Unchanged);
	// nil for Absent.
	Version *store.Version
	// Issues are what profile validation found in the resource written and
	// did not refuse it for: warnings and information (errors too under
	// --profile-validation warn).
	Issues []fhir.Issue

	before *store.Version // the version replaced, if any (see Replaced)
}

// Replaced is the version the write replaced: the current version before
// an update, a delete, or a create over a deleted resource; nil for none.
func (c *Change) Replaced() *store.Version { return c.before }

// Wrote reports whether the change stored a new version.
func (c *Change) Wrote() bool {
	return c.Action == Created || c.Action == Updated || c.Action == Deleted
}

// Writer performs writes inside one store transaction.
type Writer struct {
	d       *Directory
	tx      store.Tx
	now     time.Time
	changes []*Change
	// wrote is the last change that stored a version of each resource
	// (see written): a transaction's Provenance look up the writes they
	// record, one lookup each, however many entries it has.
	wrote map[store.Key]*Change
}

// Write runs fn with a Writer in one transaction; everything fn does
// commits together or not at all. All versions written share one
// lastUpdated, taken from the clock when the transaction starts (or the
// time of the latest export snapshot, if later: see store.Tx.NotBefore).
func (d *Directory) Write(ctx context.Context, fn func(*Writer) error) ([]*Change, error) {
	if d.Profiles == nil {
		return nil, errors.New("directory: no profile checker configured")
	}
	var changes []*Change
	err := d.Store.Update(ctx, func(tx store.Tx) error {
		w := &Writer{d: d, tx: tx, now: fhir.Truncate(d.Clock.Now())}
		// Never before the latest export snapshot, whatever this node's
		// clock says: a later _since export must find this write.
		if nb := tx.NotBefore(); w.now.Before(nb) {
			w.now = nb
		}
		if err := fn(w); err != nil {
			return err
		}
		changes = w.changes
		return nil
	})
	if err != nil {
		return nil, err
	}
	return changes, nil
}

// Tx is the transaction, for writes of the caller's own (Provenance, audit).
func (w *Writer) Tx() store.Tx { return w.tx }

// Now is the time stamped on this transaction's versions.
func (w *Writer) Now() time.Time { return w.now }

// Changes lists the writes so far.
func (w *Writer) Changes() []*Change { return w.changes }

// Check runs profile validation on res as a write would, so that bulk
// loads can do it on all cores beforehand (Item.Checked).
func (d *Directory) Check(res *fhir.Resource) ([]fhir.Issue, error) {
	return d.Profiles.Check(res)
}

// NewID returns a fresh server-assigned id.
func (d *Directory) NewID() string {
	if d.IDs != nil {
		return d.IDs()
	}
	return uuid.Must(uuid.NewV7()).String()
}

// Create stores res as a new resource. The server assigns the id (any id in
// res is replaced), unless id is given (a transaction assigns ids up front
// to resolve urn:uuid references). With ifNoneExist, an existing match is
// returned instead (Matched); several matches are a 412.
func (w *Writer) Create(ctx context.Context, res *fhir.Resource, id string, ifNoneExist url.Values) (*Change, error) {
	if len(ifNoneExist) > 0 {
		found, err := w.match(ctx, res.Type, ifNoneExist)
		if err != nil {
			return nil, err
		}
		switch len(found) {
		case 0:
		case 1:
			return w.record(&Change{Action: Matched, Type: res.Type, ID: found[0].ID, Version: found[0]}), nil
		default:
			return nil, fhir.Errorf(http.StatusPreconditionFailed, fhir.IssueMultipleMatch,
				"If-None-Exist matches %d %s resources; it must match at most one", len(found), res.Type)
		}
	}
	if id == "" {
		id = w.d.NewID()
	}
	return w.put(ctx, res, id, nil, fhir.ETags{}, nil)
}

// Update stores res as the new version of res.Type/id, creating it when it
// does not exist (update as create). A present ifMatch requires a current
// version (no delete) that it matches: one it lists, or any for *.
func (w *Writer) Update(ctx context.Context, res *fhir.Resource, id string, ifMatch fhir.ETags) (*Change, error) {
	cur, err := w.current(ctx, res.Type, id)
	if err != nil {
		return nil, err
	}
	return w.put(ctx, res, id, cur, ifMatch, nil)
}

// CreateAll stores new resources, each under a fresh server-assigned id
// (any id in them is replaced), with a few queries for all of them
// (PutAll) instead of several each: the Provenance of every entry of a
// transaction.
func (w *Writer) CreateAll(ctx context.Context, res []*fhir.Resource) ([]*Change, error) {
	items := make([]Item, len(res))
	for i, r := range res {
		r.ID = ""
		idx, err := w.d.Indexer.Index(r)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", r.Type, err)
		}
		items[i] = Item{Res: r, Index: idx}
	}
	return w.PutAll(ctx, items)
}

// Item is a resource with the index rows the caller computed for it.
type Item struct {
	Res   *fhir.Resource
	Index *store.Index
	// Checked says the caller ran Directory.Check on Res and it passed;
	// Issues are what it returned.
	Checked bool
	Issues  []fhir.Issue
}

// PutAll is Put for many resources in input order, with a few queries for
// the whole batch instead of several per resource (bulk loads). A resource
// listed twice gets two versions.
func (w *Writer) PutAll(ctx context.Context, items []Item) ([]*Change, error) {
	keys := make([]store.Key, 0, len(items))
	for _, it := range items {
		if it.Res.ID != "" {
			keys = append(keys, store.Key{Type: it.Res.Type, ID: it.Res.ID})
		}
	}
	state, err := w.tx.CurrentMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	vs := make([]*store.Version, 0, len(items))
	idxs := make([]*store.Index, 0, len(items))
	changes := make([]*Change, 0, len(items))
	var cascades []store.Key // written resources whose VerificationResults may change
	var vrs []int            // positions in vs of VerificationResults
	var resOf []*fhir.Resource
	for _, it := range items {
		res := it.Res
		id := res.ID
		if id == "" {
			id = w.d.NewID()
		}
		key := store.Key{Type: res.Type, ID: id}
		cur := state[key]
		version, action := int64(1), Created
		if cur != nil {
			version = cur.VersionID + 1
			if !cur.Deleted {
				action = Updated
				if unchanged(res, id, cur) {
					changes = append(changes, &Change{Action: Unchanged, Type: res.Type, ID: id, Version: cur})
					continue
				}
			}
		}
		issues := it.Issues
		if !it.Checked {
			if issues, err = w.d.Check(res); err != nil {
				return nil, err
			}
		}
		if err := checkRestrictions(res, it.Index); err != nil {
			return nil, err
		}
		fhir.SetMeta(res.Obj, id, version, w.now)
		res.ID = id
		v := &store.Version{Type: res.Type, ID: id, VersionID: version, LastUpdated: w.now, Body: jsontree.Marshal(res.Obj)}
		stamp(v, it.Index)
		if follows(res.Type) {
			vrs = append(vrs, len(vs))
		} else if (cur != nil && cur.Restricted) || restricted(it.Index) {
			cascades = append(cascades, key)
		}
		state[key] = v
		vs = append(vs, v)
		idxs = append(idxs, it.Index)
		resOf = append(resOf, res)
		changes = append(changes, &Change{Action: action, Type: res.Type, ID: id, Version: v, Issues: issues})
	}
	// A VerificationResult follows its targets as the batch leaves them.
	for _, i := range vrs {
		var c store.Index
		if idxs[i] != nil {
			c = *idxs[i]
		}
		r, err := w.verificationRestriction(ctx, resOf[i].Obj, c.Restriction, state)
		if err != nil {
			return nil, err
		}
		if r != c.Restriction {
			c.Restriction = r
			idxs[i] = &c
			stamp(vs[i], idxs[i])
		}
	}
	if len(vs) > 0 {
		if err := w.tx.PutMany(ctx, vs, idxs); err != nil {
			return nil, wrapStoreErr(err, vs[0].Type, vs[0].ID)
		}
	}
	// In one order, as VerificationResult writers take their locks.
	slices.SortFunc(cascades, func(a, b store.Key) int { return strings.Compare(a.Type+"/"+a.ID, b.Type+"/"+b.ID) })
	for i, k := range cascades {
		if i > 0 && cascades[i-1] == k {
			continue
		}
		if err := w.cascade(ctx, k.Type, k.ID); err != nil {
			return nil, err
		}
	}
	for _, c := range changes {
		w.record(c)
	}
	return changes, nil
}

// Put stores res under its own id (creating or updating it), or under a new
// id when it has none, with index rows the caller computed beforehand: bulk
// loads extract them on all cores while one transaction writes. The rows
// must come from Indexer.Index on this same resource.
func (w *Writer) Put(ctx context.Context, res *fhir.Resource, idx *store.Index) (*Change, error) {
	id := res.ID
	if id == "" {
		return w.put(ctx, res, w.d.NewID(), nil, fhir.ETags{}, idx)
	}
	cur, err := w.current(ctx, res.Type, id)
	if err != nil {
		return nil, err
	}
	return w.put(ctx, res, id, cur, fhir.ETags{}, idx)
}

// ConditionalUpdate updates the one resource matching query, or creates res
// when none does (with res's id if it has one); several matches are a 412.
// ifMatch applies to the resource updated, as in Update.
func (w *Writer) ConditionalUpdate(ctx context.Context, res *fhir.Resource, query url.Values, ifMatch fhir.ETags) (*Change, error) {
	found, err := w.match(ctx, res.Type, query)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		id := res.ID
		if id == "" {
			id = w.d.NewID()
		}
		return w.Update(ctx, res, id, ifMatch)
	case 1:
		if res.ID != "" && res.ID != found[0].ID {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid,
				"the resource id %q differs from the id %q of the resource the condition matches", res.ID, found[0].ID).At(res.Type + ".id")
		}
		return w.Update(ctx, res, found[0].ID, ifMatch)
	default:
		return nil, fhir.Errorf(http.StatusPreconditionFailed, fhir.IssueMultipleMatch,
			"the condition matches %d %s resources; it must match at most one", len(found), res.Type)
	}
}

// Delete deletes typ/id. Deleting what does not exist or is deleted already
// succeeds without writing (Absent), as FHIR's delete is idempotent. A
// present ifMatch requires the current version to be one it lists (the
// delete version of a deleted resource included: deleting it again
// changes nothing), or, for *, a current version that is no delete.
func (w *Writer) Delete(ctx context.Context, typ, id string, ifMatch fhir.ETags) (*Change, error) {
	cur, err := w.current(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	if err := checkIfMatch(typ, id, cur, ifMatch, !ifMatch.Any); err != nil {
		return nil, err
	}
	if cur == nil || cur.Deleted {
		return w.record(&Change{Action: Absent, Type: typ, ID: id, Version: cur}), nil
	}
	v := &store.Version{Type: typ, ID: id, VersionID: cur.VersionID + 1, LastUpdated: w.now, Deleted: true}
	if err := w.tx.Put(ctx, v, nil); err != nil {
		return nil, wrapStoreErr(err, typ, id)
	}
	// No cascade: the VerificationResults of a deleted resource keep what
	// they inherited from its last version (failing closed: they still
	// describe data someone restricted).
	return w.record(&Change{Action: Deleted, Type: typ, ID: id, Version: v, before: cur}), nil
}

// ConditionalDelete deletes the one resource matching query; none is a
// success without a write, several are a 412.
func (w *Writer) ConditionalDelete(ctx context.Context, typ string, query url.Values) (*Change, error) {
	found, err := w.match(ctx, typ, query)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return w.record(&Change{Action: Absent, Type: typ}), nil
	case 1:
		return w.Delete(ctx, typ, found[0].ID, fhir.ETags{})
	default:
		return nil, fhir.Errorf(http.StatusPreconditionFailed, fhir.IssueMultipleMatch,
			"the condition matches %d %s resources; conditional delete deletes at most one", len(found), typ)
	}
}

// Resolve returns the ids of the resources of typ matching query (at most
// two are looked for: callers need to know "none", "one" or "several").
func (w *Writer) Resolve(ctx context.Context, typ string, query url.Values) ([]string, error) {
	found, err := w.match(ctx, typ, query)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(found))
	for i, v := range found {
		ids[i] = v.ID
	}
	return ids, nil
}

// match runs a conditional search in the transaction. The condition is
// locked first, so two transactions with the same condition cannot both
// find nothing and both create.
func (w *Writer) match(ctx context.Context, typ string, query url.Values) ([]*store.Version, error) {
	q, err := w.d.Indexer.Conditional(typ, query)
	if err != nil {
		return nil, err
	}
	if err := w.tx.Lock(ctx, typ+"?"+query.Encode()); err != nil {
		return nil, fmt.Errorf("lock condition: %w", err)
	}
	q.Count = 2
	// The condition sees everything (store.SeeAll), unless the caller
	// said on whose behalf the write runs (WithViewer): who may write what
	// is package rest's decision, not the directory's.
	q.Viewer = viewerOf(ctx)
	page, err := w.tx.Search(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("conditional search: %w", err)
	}
	return page.Versions, nil
}

// current returns the current version, nil when the resource never existed.
func (w *Writer) current(ctx context.Context, typ, id string) (*store.Version, error) {
	cur, err := w.tx.Current(ctx, typ, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return cur, nil
}

// put writes res as the version after cur (nil: a new resource). idx, if
// nil, is extracted here.
func (w *Writer) put(ctx context.Context, res *fhir.Resource, id string, cur *store.Version, ifMatch fhir.ETags, idx *store.Index) (*Change, error) {
	if err := checkIfMatch(res.Type, id, cur, ifMatch, false); err != nil {
		return nil, err
	}
	version := int64(1)
	action := Created
	if cur != nil {
		version = cur.VersionID + 1
		if !cur.Deleted {
			action = Updated
			if unchanged(res, id, cur) {
				return w.record(&Change{Action: Unchanged, Type: res.Type, ID: id, Version: cur}), nil
			}
		}
	}
	issues, err := w.d.Check(res)
	if err != nil {
		return nil, err
	}
	fhir.SetMeta(res.Obj, id, version, w.now)
	res.ID = id
	if idx == nil {
		var err error
		if idx, err = w.d.Indexer.Index(res); err != nil {
			return nil, fmt.Errorf("index %s/%s: %w", res.Type, id, err)
		}
	}
	idx, err = w.restriction(ctx, res, idx, nil)
	if err != nil {
		return nil, err
	}
	v := &store.Version{Type: res.Type, ID: id, VersionID: version, LastUpdated: w.now, Body: jsontree.Marshal(res.Obj)}
	stamp(v, idx)
	if err := w.tx.Put(ctx, v, idx); err != nil {
		return nil, wrapStoreErr(err, res.Type, id)
	}
	if (cur != nil && cur.Restricted) || restricted(idx) {
		if err := w.cascade(ctx, res.Type, id); err != nil {
			return nil, err
		}
	}
	return w.record(&Change{Action: action, Type: res.Type, ID: id, Version: v, Issues: issues, before: cur}), nil
}

// unchanged reports whether res, stamped like cur, is byte for byte cur's
// body: then an update would only add a copy.
func unchanged(res *fhir.Resource, id string, cur *store.Version) bool {
	probe := jsontree.Clone(res.Obj).(*jsontree.Object)
	fhir.SetMeta(probe, id, cur.VersionID, cur.LastUpdated)
	return string(jsontree.Marshal(probe)) == string(cur.Body)
}

// record adds c to the transaction's changes.
func (w *Writer) record(c *Change) *Change {
	w.changes = append(w.changes, c)
	if c.Wrote() {
		if w.wrote == nil {
			w.wrote = map[store.Key]*Change{}
		}
		w.wrote[store.Key{Type: c.Type, ID: c.ID}] = c
	}
	return c
}

// checkIfMatch checks a write's If-Match against the current version cur
// (nil: none), read in the write's transaction: a 412 unless it matches.
// A delete version counts as current only when deleteMatches (a delete
// naming it); else the resource has no current version.
func checkIfMatch(typ, id string, cur *store.Version, ifMatch fhir.ETags, deleteMatches bool) error {
	if !ifMatch.Present() {
		return nil
	}
	var have int64
	if cur != nil && (!cur.Deleted || deleteMatches) {
		have = cur.VersionID
	}
	if ifMatch.Match(have) {
		return nil
	}
	return versionMismatch(typ, id, cur, ifMatch)
}

func versionMismatch(typ, id string, cur *store.Version, want fhir.ETags) error {
	have := "it does not exist"
	if cur != nil {
		have = fmt.Sprintf("the current version is %d", cur.VersionID)
		if cur.Deleted {
			have += " (deleted)"
		}
	}
	switch {
	case want.Any:
		return fhir.Errorf(http.StatusPreconditionFailed, fhir.IssueConflict,
			"If-Match * asks that %s/%s exist but %s", typ, id, have)
	case len(want.Versions) == 1:
		return fhir.Errorf(http.StatusPreconditionFailed, fhir.IssueConflict,
			"If-Match asks for version %d of %s/%s but %s", want.Versions[0], typ, id, have)
	}
	return fhir.Errorf(http.StatusPreconditionFailed, fhir.IssueConflict,
		"If-Match asks for one of the versions %s of %s/%s but %s", want, typ, id, have)
}

// wrapStoreErr turns store errors a client can cause into FHIR errors.
func wrapStoreErr(err error, typ, id string) error {
	switch {
	case errors.Is(err, store.ErrRetry):
		return err // Update runs the transaction again
	case errors.Is(err, store.ErrVersionConflict):
		return fhir.Errorf(http.StatusConflict, fhir.IssueConflict, "%s/%s was changed concurrently; retry", typ, id).Wrap(err)
	case errors.Is(err, store.ErrExists):
		return fhir.Errorf(http.StatusConflict, fhir.IssueDuplicate, "%s/%s already exists", typ, id).Wrap(err)
	}
	return err
}
