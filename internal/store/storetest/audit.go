package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// appendAudit chains AuditEvents with the given ids, in one transaction.
// With stored, they are also stored as resources in it, as records were
// before their bodies were staged in the chain (migration 0006).
func appendAudit(ctx context.Context, s store.Store, stored bool, ids ...string) error {
	return s.Update(ctx, func(tx store.Tx) error {
		items := make([]store.AuditItem, len(ids))
		for i, id := range ids {
			v := auditVersion(id)
			if stored {
				if err := tx.Put(ctx, v, nil); err != nil {
					return err
				}
			}
			items[i] = store.AuditItem{ID: id, Body: v.Body}
		}
		links, err := tx.ChainAudit(ctx, items)
		if err == nil && len(links) != len(ids) {
			err = fmt.Errorf("ChainAudit returned %d links for %d items", len(links), len(ids))
		}
		return err
	})
}

func auditVersion(id string) *store.Version {
	return &store.Version{Type: "AuditEvent", ID: id, VersionID: 1, LastUpdated: t0, Body: body("AuditEvent", id, 1)}
}

func testAuditChain(t *testing.T, newDB NewDB) {
	open := newDB(t)
	h1, h2 := open(), open()
	t.Cleanup(func() { h1.Close(); h2.Close() })
	ctx := context.Background()
	if links, err := h1.AuditChain(ctx, 0, 10); err != nil || len(links) != 0 {
		t.Fatalf("empty chain = %v, %v", links, err)
	}
	if err := appendAudit(ctx, h1, true, "a1", "a2"); err != nil {
		t.Fatal(err)
	}
	// A rolled-back transaction leaves no link.
	err := h1.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.ChainAudit(ctx, []store.AuditItem{{ID: "ghost", Body: []byte("{}")}}); err != nil {
			return err
		}
		return fmt.Errorf("roll back")
	})
	if err == nil {
		t.Fatal("the failing transaction committed")
	}
	// Two nodes appending at once extend one chain, without gaps or forks.
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, 2*n)
	for i := range n {
		for k, h := range []store.Store{h1, h2} {
			wg.Go(func() { errs[2*i+k] = appendAudit(ctx, h, false, fmt.Sprintf("n%d-%d", k, i)) })
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent append: %v", err)
		}
	}
	var all []store.AuditLink
	for after := int64(0); ; {
		page, err := h2.AuditChain(ctx, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 5 {
			break
		}
		after = page[len(page)-1].Seq
	}
	if len(all) != 2+2*n {
		t.Fatalf("chain has %d links, want %d", len(all), 2+2*n)
	}
	prev := []byte{}
	seen := map[string]bool{}
	for i, l := range all {
		if l.Seq != int64(i+1) {
			t.Fatalf("link %d has seq %d", i, l.Seq)
		}
		if !bytes.Equal(l.Prev, prev) || !bytes.Equal(l.Hash, store.AuditHash(prev, l.Seq, l.ID, l.Body)) {
			t.Fatalf("link %d (%s) does not chain", l.Seq, l.ID)
		}
		if !bytes.Equal(l.Body, body("AuditEvent", l.ID, 1)) {
			t.Errorf("link %d body = %s", l.Seq, l.Body)
		}
		if seen[l.ID] {
			t.Errorf("%s chained twice", l.ID)
		}
		seen[l.ID] = true
		prev = l.Hash
	}
	if all[0].ID != "a1" || all[1].ID != "a2" {
		t.Errorf("first links %s, %s; want a1, a2 in order", all[0].ID, all[1].ID)
	}

	// Index rows come later, once per position, whichever node is first.
	if got, err := h1.AuditIndexed(ctx); err != nil || got != 0 {
		t.Fatalf("indexed position = %d, %v; want 0", got, err)
	}
	idx := &store.Index{Tokens: []store.TokenValue{{Param: 7, System: "s", Code: "c"}}}
	items := []store.AuditIndexItem{{ID: "a1", Index: idx}, {ID: "a2", Index: idx}, {ID: "gone", Index: idx}}
	index := func(h store.Store, from, to int64, items []store.AuditIndexItem) (ok bool, err error) {
		err = h.Update(ctx, func(tx store.Tx) error {
			ok, err = tx.IndexAudit(ctx, from, to, items)
			return err
		})
		return ok, err
	}
	if ok, err := index(h1, 0, 2, items); err != nil || !ok {
		t.Fatalf("IndexAudit(0, 2) = %v, %v; want true", ok, err)
	}
	if ok, err := index(h2, 0, 2, items); err != nil || ok {
		t.Fatalf("IndexAudit(0, 2) again, on the other node = %v, %v; want false", ok, err)
	}
	if got, err := h2.AuditIndexed(ctx); err != nil || got != 2 {
		t.Errorf("indexed position = %d, %v; want 2", got, err)
	}
	match := &store.Query{Types: []string{"AuditEvent"}, Where: store.TokenMatch{Param: 7, System: ptr("s"), Code: ptr("c")}, Count: 10}
	page, err := h2.Search(ctx, match)
	if err != nil || len(page.Versions) != 2 {
		t.Errorf("search on the added rows = %v, %v; want a1 and a2", page, err)
	}
	// The rows are known to the resource's row (idx_tables), so a later
	// version replaces them rather than leaving them behind.
	err = h1.Update(ctx, func(tx store.Tx) error {
		return tx.Put(ctx, &store.Version{Type: "AuditEvent", ID: "a1", VersionID: 2, LastUpdated: t0, Body: body("AuditEvent", "a1", 2)}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	page, err = h2.Search(ctx, match)
	if err != nil || len(page.Versions) != 1 || page.Versions[0].ID != "a2" {
		t.Errorf("search after a1 lost its rows = %v, %v; want only a2", page, err)
	}

	// Records staged in the chain are not resources until indexed; then
	// they are, with their rows, and the chain still shows their bodies.
	if _, err := h1.Read(ctx, "AuditEvent", "n0-0"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("read of a staged record = %v; want not found", err)
	}
	var staged []store.AuditIndexItem
	for _, l := range all[2:] {
		staged = append(staged, store.AuditIndexItem{ID: l.ID, Version: auditVersion(l.ID), Index: idx})
	}
	if ok, err := index(h2, 2, int64(len(all)), staged); err != nil || !ok {
		t.Fatalf("IndexAudit of the staged records = %v, %v; want true", ok, err)
	}
	for _, l := range all[2:] {
		v, err := h1.Read(ctx, "AuditEvent", l.ID)
		if err != nil || !bytes.Equal(v.Body, l.Body) || !v.LastUpdated.Equal(t0) || v.VersionID != 1 {
			t.Fatalf("read of stored record %s = %+v, %v", l.ID, v, err)
		}
	}
	again, err := h2.AuditChain(ctx, 0, 1000)
	if err != nil || len(again) != len(all) {
		t.Fatalf("chain after storing = %d links, %v", len(again), err)
	}
	for i, l := range again[2:] { // a1 has a later version by now
		if !bytes.Equal(l.Body, all[2+i].Body) || !bytes.Equal(l.Hash, all[2+i].Hash) {
			t.Errorf("link %d changed when its record was stored", l.Seq)
		}
	}
	match.Count = 100
	page, err = h2.Search(ctx, match)
	if err != nil || len(page.Versions) != 1+2*n {
		t.Errorf("search after storing = %v, %v; want a2 and the %d staged records", page, err, 2*n)
	}

	// A record chained before an export snapshot but stored after it is
	// stored no earlier than the snapshot, so the next _since export
	// finds it; its body keeps its own time.
	later := t0.Add(time.Hour)
	if err := h1.Snapshot(ctx, func() time.Time { return later }, func(store.Snapshot) error { return nil }); err != nil {
		t.Fatal(err)
	}
	late, err := h1.AppendAudit(ctx, []store.AuditItem{{ID: "late", Body: auditVersion("late").Body}})
	if err != nil || len(late) != 1 || late[0].Seq != int64(len(all))+1 {
		t.Fatalf("AppendAudit = %+v, %v; want link %d", late, err, len(all)+1)
	}
	item := []store.AuditIndexItem{{ID: "late", Version: auditVersion("late"), Index: idx}}
	if ok, err := index(h2, int64(len(all)), late[0].Seq, item); err != nil || !ok {
		t.Fatalf("IndexAudit of the late record = %v, %v", ok, err)
	}
	v, err := h2.Read(ctx, "AuditEvent", "late")
	if err != nil || v.LastUpdated.Before(later) || !bytes.Equal(v.Body, auditVersion("late").Body) {
		t.Errorf("late record = %+v, %v; want stored at %v or later, body as chained", v, err, later)
	}
}
