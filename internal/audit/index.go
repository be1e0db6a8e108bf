package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/store"
)

// Indexer stores committed AuditEvents as resources with their
// search-index rows. Records are committed as chain links alone, their
// bodies staged in them (one row per record: the commit every request
// waits for stays small); the indexer stores them in batches of up to
// indexBatch records, which share pages and commits. It runs in the
// background (Run) and on demand before a search, read or history that
// can reach AuditEvents (CatchUp), so auditors find every record committed
// before they ask. Several nodes may run it: the store moves the indexed
// position with a compare-and-set, and a node that loses simply reads the
// new position.
type Indexer struct {
	Store   store.Store
	Indexer directory.Indexer
	Logger  *slog.Logger

	mu sync.Mutex // one catch-up at a time per node
}

const indexBatch = 1000

// CatchUp stores and indexes every record committed so far.
func (ix *Indexer) CatchUp(ctx context.Context) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	as := ix.Store
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
			it, err := ix.item(l)
			if err != nil {
				// One damaged record must not stop every auditor's search:
				// it stays as it is, and vhdir audit verify names it.
				if ix.Logger != nil {
					ix.Logger.Error("audit record not stored: run vhdir audit verify", "seq", l.Seq, "id", l.ID, "err", err)
				}
				continue
			}
			items = append(items, it)
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

// item is a chained record ready to store. Only a record that still
// matches its link is stored (a damaged one would be served and searched).
func (ix *Indexer) item(l store.AuditLink) (store.AuditIndexItem, error) {
	switch {
	case l.Body == nil:
		return store.AuditIndexItem{}, errors.New("gone")
	case !bytes.Equal(store.AuditHash(l.Prev, l.Seq, l.ID, l.Body), l.Hash):
		return store.AuditIndexItem{}, errors.New("edited: it no longer matches its hash")
	}
	res, err := fhir.ParseResource(l.Body)
	if err != nil {
		return store.AuditIndexItem{}, err
	}
	idx, err := ix.Indexer.Index(res)
	if err != nil {
		return store.AuditIndexItem{}, err
	}
	v, err := auditVersion(res, l)
	if err != nil {
		return store.AuditIndexItem{}, err
	}
	return store.AuditIndexItem{ID: l.ID, Version: v, Index: idx}, nil
}

// auditVersion is a chained record as the resource it is stored as: the
// link's exact bytes, at the time its meta.lastUpdated says.
func auditVersion(res *fhir.Resource, l store.AuditLink) (*store.Version, error) {
	meta, _ := res.Obj.Object("meta")
	var stamp string
	if meta != nil {
		stamp, _ = meta.String("lastUpdated")
	}
	at, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return nil, fmt.Errorf("meta.lastUpdated %q: %w", stamp, err)
	}
	return &store.Version{Type: "AuditEvent", ID: l.ID, VersionID: 1, LastUpdated: at.UTC(), Body: l.Body}, nil
}
