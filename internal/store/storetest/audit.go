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
func appendAudit(ctx context.Context, s store.Store, ids ...string) error {
	return s.Update(ctx, func(tx store.Tx) error {
		items := make([]store.AuditItem, len(ids))
		for i, id := range ids {
			v := auditVersion(id)
			items[i] = store.AuditItem{ID: id, Body: v.Body, Fields: auditFields(id)}
		}
		links, err := tx.ChainAudit(ctx, items)
		if err == nil && len(links) != len(ids) {
			err = fmt.Errorf("ChainAudit returned %d links for %d items", len(links), len(ids))
		}
		return err
	})
}

// appendOwn chains AuditEvents with the given ids in a transaction of
// their own (store.AuditStore.AppendAudit).
func appendOwn(ctx context.Context, s store.Store, ids ...string) error {
	items := make([]store.AuditItem, len(ids))
	for i, id := range ids {
		items[i] = store.AuditItem{ID: id, Body: auditVersion(id).Body, Fields: auditFields(id)}
	}
	links, err := s.AppendAudit(ctx, items)
	if err == nil && len(links) != len(ids) {
		err = fmt.Errorf("AppendAudit returned %d links for %d items", len(links), len(ids))
	}
	return err
}

// testAuditAppendBesideWrite: records appended in a transaction of their
// own (a read's) do not wait for a write transaction in flight, however
// long it runs, and the write's own records then chain after them.
func testAuditAppendBesideWrite(t *testing.T, newDB NewDB) {
	open := newDB(t)
	h := open()
	t.Cleanup(func() { h.Close() })
	ctx := context.Background()
	inWrite, release := make(chan struct{}), make(chan struct{})
	written := make(chan error, 1)
	go func() {
		written <- h.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put(ctx, &store.Version{Type: "Patient", ID: "long", VersionID: 1, LastUpdated: t0, Body: body("Patient", "long", 1)}, nil); err != nil {
				return err
			}
			close(inWrite)
			<-release
			_, err := tx.ChainAudit(ctx, []store.AuditItem{{ID: "w1", Body: auditVersion("w1").Body, Fields: auditFields("w1")}})
			return err
		})
	}()
	<-inWrite
	appended := make(chan error, 1)
	go func() { appended <- appendOwn(ctx, h, "r1") }()
	select {
	case err := <-appended:
		if err != nil {
			t.Fatalf("append beside the write: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("an append of a read's records waited for a write transaction in flight")
	}
	close(release)
	if err := <-written; err != nil {
		t.Fatalf("the write: %v", err)
	}
	links, err := h.AuditChain(ctx, 0, 10)
	if err != nil || len(links) != 2 || links[0].ID != "r1" || links[1].ID != "w1" {
		var ids []string
		for _, l := range links {
			ids = append(ids, l.ID)
		}
		t.Fatalf("chain = %v, %v; want r1 then w1", ids, err)
	}
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
	if head, err := h1.AuditHead(ctx); err != nil || head.Seq != 0 || len(head.Hash) != 0 {
		t.Fatalf("empty chain's head = %+v, %v; want none", head, err)
	}
	if err := appendAudit(ctx, h1, "a1", "a2"); err != nil {
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
	// Two nodes appending at once extend one chain, without gaps or forks:
	// from write transactions and in transactions of their own (the
	// records of requests that change nothing), alternately.
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, 2*n)
	for i := range n {
		for k, h := range []store.Store{h1, h2} {
			id := fmt.Sprintf("n%d-%d", k, i)
			if (i+k)%2 == 0 {
				wg.Go(func() { errs[2*i+k] = appendAudit(ctx, h, id) })
			} else {
				wg.Go(func() { errs[2*i+k] = appendOwn(ctx, h, id) })
			}
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
	// Either node reads the head the other appended.
	last := all[len(all)-1]
	for _, h := range []store.Store{h1, h2} {
		if head, err := h.AuditHead(ctx); err != nil || head.Seq != last.Seq || !bytes.Equal(head.Hash, last.Hash) {
			t.Fatalf("head = %d %x, %v; want %d %x", head.Seq, head.Hash, err, last.Seq, last.Hash)
		}
	}

	// Records of one instant, newest first in pages of 4: ties go newest
	// first too, and paging through them reaches each once.
	var newest []string
	q := &store.Query{Types: []string{store.AuditType}, Count: 4, Sort: []store.SortKey{{Param: aDate, Kind: store.SortDate, Desc: true}}}
	for range len(all) {
		page := mustSearch(t, h1, q)
		newest = append(newest, ids(page)...)
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	for i, l := range all {
		if j := len(all) - 1 - i; j >= len(newest) || newest[j] != l.ID {
			t.Fatalf("_sort=-date over records of one instant = %v; want the chain's order reversed", newest)
		}
	}

	// Each link keeps its fields, references and all, for searches and
	// for verify to check against the body.
	for _, l := range all {
		if l.Fields == nil || !l.Fields.Same(auditFields(l.ID)) {
			t.Fatalf("link %d (%s) fields = %+v; want %+v", l.Seq, l.ID, l.Fields, auditFields(l.ID))
		}
	}

	// A record reads as version 1 of its AuditEvent, byte for byte as
	// chained, at the time it was recorded; nothing else is a version.
	for _, l := range all {
		v, err := h1.Read(ctx, store.AuditType, l.ID)
		if err != nil || !bytes.Equal(v.Body, l.Body) || v.VersionID != 1 || !v.LastUpdated.Equal(auditFields(l.ID).Recorded) {
			t.Fatalf("read %s = %+v, %v", l.ID, v, err)
		}
	}
	if v, err := h2.VRead(ctx, store.AuditType, "a1", 1); err != nil || !bytes.Equal(v.Body, all[0].Body) {
		t.Errorf("vread a1/1 = %+v, %v", v, err)
	}
	for _, read := range []func() (*store.Version, error){
		func() (*store.Version, error) { return h2.VRead(ctx, store.AuditType, "a1", 2) },
		func() (*store.Version, error) { return h2.Read(ctx, store.AuditType, "ghost") },
	} {
		if _, err := read(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("read of what was never chained = %v; want ErrNotFound", err)
		}
	}
	// Records are never resources: a write of one is refused.
	err = h1.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, auditVersion("a1"), nil) })
	if err == nil {
		t.Error("Put of an AuditEvent succeeded; records are written by ChainAudit alone")
	}
	if v, err := h1.Read(ctx, store.AuditType, "a1"); err != nil || !bytes.Equal(v.Body, all[0].Body) {
		t.Errorf("a1 after the refused put = %+v, %v", v, err)
	}

	// The type's history lists the records newest first, in pages; the
	// system's history does not hold them.
	var listed []string
	for after := int64(0); ; {
		page, err := h2.History(ctx, store.HistoryQuery{Type: store.AuditType, Count: 7, AfterSeq: after, WantTotal: true})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != int64(len(all)) {
			t.Errorf("history total = %d, want %d", page.Total, len(all))
		}
		for _, v := range page.Versions {
			listed = append(listed, v.ID)
		}
		if page.NextSeq == 0 {
			break
		}
		after = page.NextSeq
	}
	if len(listed) != len(all) || listed[0] != all[len(all)-1].ID || listed[len(listed)-1] != "a1" {
		t.Errorf("history = %v; want the %d records newest first", listed, len(all))
	}
	if page, err := h2.History(ctx, store.HistoryQuery{Type: store.AuditType, ID: "a2"}); err != nil || len(page.Versions) != 1 || page.Versions[0].ID != "a2" {
		t.Errorf("history of a2 = %+v, %v", page, err)
	}
	for _, q := range []store.HistoryQuery{{}, {Types: []string{store.AuditType}}, {Types: []string{store.AuditType, "Practitioner"}}} {
		if page, err := h2.History(ctx, q); err != nil || len(page.Versions) != 0 {
			t.Errorf("system history %+v = %d versions, %v; want none", q.Types, len(page.Versions), err)
		}
	}
}

// auditFields are the fields storetest gives record id.
func auditFields(id string) store.AuditFields {
	return store.AuditFields{Recorded: t0, Action: "R", Outcome: "0", Type: store.AuditCode{System: "ts", Code: "rest"},
		Client: "client-" + id, Source: "https://dir.example/fhir", RequestID: "req-" + id,
		Refs: []store.AuditRef{{Type: "Organization", ID: "org"}, {Entity: true, Type: "Practitioner", ID: id}}}
}
