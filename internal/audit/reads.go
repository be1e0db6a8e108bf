package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// auditType is the type of the records the Indexer stores after the fact.
const auditType = "AuditEvent"

// Reads returns st with the reads that can reach AuditEvents made to
// bring the indexer up to date first, so that an auditor never misses a
// record committed before it asked: a read or vread of an AuditEvent not
// found yet (it looks a second time), a history of AuditEvents or of the
// whole system, a search over AuditEvents, over the whole system, or
// chaining, _has-ing or including through them, and every export
// snapshot. Other reads pass straight through.
func (ix *Indexer) Reads(st store.Store) store.Store {
	return &caughtUp{Store: st, ix: ix}
}

type caughtUp struct {
	store.Store
	ix *Indexer
}

func (c *caughtUp) catchUp(ctx context.Context) error {
	if err := c.ix.CatchUp(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

func (c *caughtUp) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	v, err := c.Store.Read(ctx, typ, id)
	if typ != auditType || !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	if err := c.catchUp(ctx); err != nil {
		return nil, err
	}
	return c.Store.Read(ctx, typ, id)
}

func (c *caughtUp) VRead(ctx context.Context, typ, id string, version int64) (*store.Version, error) {
	v, err := c.Store.VRead(ctx, typ, id, version)
	if typ != auditType || !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	if err := c.catchUp(ctx); err != nil {
		return nil, err
	}
	return c.Store.VRead(ctx, typ, id, version)
}

func (c *caughtUp) History(ctx context.Context, q store.HistoryQuery) (*store.HistoryPage, error) {
	if q.Type == auditType || q.Type == "" && (len(q.Types) == 0 || slices.Contains(q.Types, auditType)) {
		if err := c.catchUp(ctx); err != nil {
			return nil, err
		}
	}
	return c.Store.History(ctx, q)
}

func (c *caughtUp) Search(ctx context.Context, q *store.Query) (*store.SearchPage, error) {
	if reachesAudit(q) {
		if err := c.catchUp(ctx); err != nil {
			return nil, err
		}
	}
	return c.Store.Search(ctx, q)
}

// Snapshot catches up before the view is taken: its view then holds every
// record committed before the export began, and one committed meanwhile
// is stored no earlier than the snapshot, so the next _since export finds
// it (store.Tx.IndexAudit).
func (c *caughtUp) Snapshot(ctx context.Context, now func() time.Time, fn func(store.Snapshot) error) error {
	if err := c.catchUp(ctx); err != nil {
		return err
	}
	return c.Store.Snapshot(ctx, now, fn)
}

// reachesAudit reports whether q can match, traverse or include
// AuditEvents.
func reachesAudit(q *store.Query) bool {
	if len(q.Types) == 0 || slices.Contains(q.Types, auditType) {
		return true
	}
	for _, inc := range q.Includes {
		if inc.Source == auditType || slices.Contains(inc.Targets, auditType) {
			return true
		}
	}
	return condReaches(q.Where)
}

// condReaches reports whether a condition chains or _has through
// AuditEvents.
func condReaches(c store.Cond) bool {
	switch c := c.(type) {
	case store.And:
		return slices.ContainsFunc(c, condReaches)
	case store.Or:
		return slices.ContainsFunc(c, condReaches)
	case store.Not:
		return condReaches(c.X)
	case store.Chain:
		return len(c.Types) == 0 || slices.Contains(c.Types, auditType) || condReaches(c.Where)
	case store.Has:
		return c.Type == auditType || condReaches(c.Where)
	}
	return false
}
