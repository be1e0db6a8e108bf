package audit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/store"
)

// Indexer adds the search-index rows of AuditEvents after they are
// committed. Records are written without them (one row per record and one
// chain link: the commit each request waits for stays small); the indexer
// extracts their rows in batches of up to indexBatch records, which share
// pages and commits. It runs in the background (Run) and on demand before
// a search that can reach AuditEvents (CatchUp), so auditors find every
// record committed before their search. Several nodes may run it: the
// store moves the indexed position with a compare-and-set, and a node that
// loses simply reads the new position.
type Indexer struct {
	Store   store.Store
	Indexer directory.Indexer
	Logger  *slog.Logger

	mu sync.Mutex // one catch-up at a time per node
}

const indexBatch = 1000

// CatchUp indexes every record committed so far.
func (ix *Indexer) CatchUp(ctx context.Context) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	as, ok := ix.Store.(store.AuditStore)
	if !ok {
		return fmt.Errorf("the %s backend keeps no audit chain", ix.Store.Backend())
	}
	for {
		from, err := as.AuditIndexed(ctx)
		if err != nil {
			return err
		}
		links, err := as.AuditChain(ctx, from, indexBatch)
		if err != nil {
			return err
		}
		if len(links) == 0 {
			return nil
		}
		items := make([]store.AuditIndexItem, 0, len(links))
		for _, l := range links {
			if l.Body == nil {
				continue // gone: verify reports it
			}
			res, err := fhir.ParseResource(l.Body)
			if err != nil {
				return fmt.Errorf("audit index: record %d: %w", l.Seq, err)
			}
			idx, err := ix.Indexer.Index(res)
			if err != nil {
				return fmt.Errorf("audit index: record %d: %w", l.Seq, err)
			}
			items = append(items, store.AuditIndexItem{ID: l.ID, Index: idx})
		}
		to := links[len(links)-1].Seq
		err = ix.Store.Update(ctx, func(tx store.Tx) error {
			_, err := tx.IndexAudit(ctx, from, to, items)
			return err
		})
		if err != nil {
			return fmt.Errorf("audit index: %w", err)
		}
	}
}

// Run catches up every interval until ctx ends.
func (ix *Indexer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := ix.CatchUp(ctx); err != nil && ctx.Err() == nil && ix.Logger != nil {
			ix.Logger.Error("audit index", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
