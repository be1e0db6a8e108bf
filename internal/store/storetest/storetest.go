// Package storetest is the conformance suite every store backend runs, so
// that SQLite and PostgreSQL behave identically (the way Dex tests its
// storage drivers). A backend's test calls Run with a function that makes a
// fresh, empty database.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// NewDB makes one fresh, empty database for a subtest and returns a function
// that opens a handle to it. Calling the function again opens another handle
// to the same database (a second node, or a restart). Handles are closed by
// the suite; the database is removed by the backend's t.Cleanup.
type NewDB func(t *testing.T) (open func() store.Store)

// Run runs the whole suite.
func Run(t *testing.T, newDB NewDB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newDB NewDB)
	}{
		{"CreateReadVersions", testCreateReadVersions},
		{"DeleteAndRecreate", testDeleteAndRecreate},
		{"WriteErrors", testWriteErrors},
		{"TransactionAtomic", testTransactionAtomic},
		{"History", testHistory},
		{"HistoryPaging", testHistoryPaging},
		{"HistoryTypes", testHistoryTypes},
		{"HistoryTypesPaging", testHistoryTypesPaging},
		{"SearchConditions", testSearchConditions},
		{"SearchDates", testSearchDates},
		{"SearchNumbers", testSearchNumbers},
		{"SearchChainHas", testSearchChainHas},
		{"SearchPagingTotal", testSearchPagingTotal},
		{"SearchManyShapes", testSearchManyShapes},
		{"SearchWalk", testSearchWalk},
		{"CountDistinct", testCountDistinct},
		{"IndexReplacedOnUpdate", testIndexReplacedOnUpdate},
		{"SearchInTransaction", testSearchInTransaction},
		{"NewInTransaction", testNewInTransaction},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentConditionalCreate", testConcurrentConditionalCreate},
		{"TwoHandles", testTwoHandles},
		{"BulkLoad", testBulkLoad},
		{"PutMany", testPutMany},
		{"SharedValues", testSharedValues},
		{"SortAndPaging", testSortAndPaging},
		{"Includes", testIncludes},
		{"Hierarchy", testHierarchy},
		{"NearSort", testNearSort},
		{"RestrictSearch", testRestrictSearch},
		{"RestrictIncludes", testRestrictIncludes},
		{"RestrictPlans", testRestrictPlans},
		{"RestrictHistory", testRestrictHistory},
		{"RestrictScan", testRestrictScan},
		{"RestrictUpdate", testRestrictUpdate},
		{"TxRestrict", testTxRestrict},
		{"RestrictSort", testRestrictSort},
		{"RestrictionChecked", testRestrictionChecked},
		{"AuthClients", testAuthClients},
		{"AuthClientsEmpty", testAuthClientsEmpty},
		{"AuthAssertions", testAuthAssertions},
		{"AuthAssertionRace", testAuthAssertionRace},
		{"AuthTokens", testAuthTokens},
		{"AuthIssueToken", testAuthIssueToken},
		{"AuthPurge", testAuthPurge},
		{"AuditChain", testAuditChain},
		{"AuditAppendBesideWrite", testAuditAppendBesideWrite},
		{"AuditSearch", testAuditSearch},
		{"AuditExportSince", testAuditExportSince},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newDB) })
	}
	RunExport(t, newDB)
}

// RunExport runs the export part of the suite alone: for a backend
// variant that differs only there (export files in a folder).
func RunExport(t *testing.T, newDB NewDB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newDB NewDB)
	}{
		{"ExportSnapshot", testExportSnapshot},
		{"ExportSnapshotWaits", testExportSnapshotWaits},
		{"ExportSnapshotUnderLoad", testExportSnapshotUnderLoad},
		{"ExportSnapshotLongWriter", testExportSnapshotLongWriter},
		{"ExportJobs", testExportJobs},
		{"ExportJobList", testExportJobList},
		{"ExportJobReclaim", testExportJobReclaim},
		{"ExportClaimRace", testExportClaimRace},
		{"ExportPurge", testExportPurge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newDB) })
	}
}

func openOne(t *testing.T, newDB NewDB) store.Store {
	t.Helper()
	open := newDB(t)
	s := open()
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 123000000, time.UTC)

func body(typ, id string, v int64) []byte {
	return fmt.Appendf(nil, `{"resourceType":%q,"id":%q,"meta":{"versionId":"%d"}}`, typ, id, v)
}

// put writes the next version of typ/id (creating it when absent) with idx.
func put(t *testing.T, s store.Store, typ, id string, at time.Time, idx *store.Index) *store.Version {
	t.Helper()
	var out *store.Version
	err := s.Update(context.Background(), func(tx store.Tx) error {
		next := int64(1)
		cur, err := tx.Current(context.Background(), typ, id)
		switch {
		case err == nil:
			next = cur.VersionID + 1
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		v := &store.Version{Type: typ, ID: id, VersionID: next, LastUpdated: at, Body: body(typ, id, next)}
		if err := tx.Put(context.Background(), v, idx); err != nil {
			return err
		}
		out = v
		return nil
	})
	if err != nil {
		t.Fatalf("put %s/%s: %v", typ, id, err)
	}
	return out
}

func del(t *testing.T, s store.Store, typ, id string, at time.Time) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		cur, err := tx.Current(context.Background(), typ, id)
		if err != nil {
			return err
		}
		return tx.Put(context.Background(), &store.Version{Type: typ, ID: id, VersionID: cur.VersionID + 1, LastUpdated: at, Deleted: true}, nil)
	})
	if err != nil {
		t.Fatalf("delete %s/%s: %v", typ, id, err)
	}
}

func testCreateReadVersions(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	v1 := put(t, s, "Practitioner", "p1", t0, nil)
	v2 := put(t, s, "Practitioner", "p1", t0.Add(time.Second), nil)
	if v1.VersionID != 1 || v2.VersionID != 2 || v2.Seq <= v1.Seq {
		t.Fatalf("versions = %d (seq %d), %d (seq %d); want 1, 2 with growing seq", v1.VersionID, v1.Seq, v2.VersionID, v2.Seq)
	}
	got, err := s.Read(ctx, "Practitioner", "p1")
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got.VersionID != 2 || string(got.Body) != string(body("Practitioner", "p1", 2)) || !got.LastUpdated.Equal(t0.Add(time.Second)) {
		t.Errorf("Read = v%d %s at %v; want v2 body at %v", got.VersionID, got.Body, got.LastUpdated, t0.Add(time.Second))
	}
	if got.LastUpdated.Location() != time.UTC {
		t.Errorf("Read LastUpdated location = %v; want UTC", got.LastUpdated.Location())
	}
	for _, want := range []int64{1, 2} {
		v, err := s.VRead(ctx, "Practitioner", "p1", want)
		if err != nil || v.VersionID != want || string(v.Body) != string(body("Practitioner", "p1", want)) {
			t.Errorf("VRead(%d) = %v, %v; want version %d", want, v, err, want)
		}
	}
	for _, missing := range []int64{0, 3, -1} {
		if _, err := s.VRead(ctx, "Practitioner", "p1", missing); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("VRead(%d) error = %v; want ErrNotFound", missing, err)
		}
	}
	if _, err := s.Read(ctx, "Practitioner", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Read(unknown) error = %v; want ErrNotFound", err)
	}
	if _, err := s.Read(ctx, "Organization", "p1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Read(other type, same id) error = %v; want ErrNotFound", err)
	}
}

func testDeleteAndRecreate(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	put(t, s, "Location", "l1", t0, &store.Index{Tokens: []store.TokenValue{{Param: 1, Code: "active"}}})
	del(t, s, "Location", "l1", t0.Add(time.Second))
	v, err := s.Read(ctx, "Location", "l1")
	if !errors.Is(err, store.ErrGone) || v == nil || v.VersionID != 2 || !v.Deleted {
		t.Fatalf("Read after delete = %+v, %v; want version 2 deleted with ErrGone", v, err)
	}
	if v, err := s.VRead(ctx, "Location", "l1", 2); err != nil || !v.Deleted || v.Body != nil {
		t.Errorf("VRead(delete version) = %+v, %v; want Deleted with no body", v, err)
	}
	if v, err := s.VRead(ctx, "Location", "l1", 1); err != nil || v.Deleted {
		t.Errorf("VRead(1) after delete = %+v, %v; want the old version", v, err)
	}
	page, err := s.Search(ctx, &store.Query{Types: []string{"Location"}, Count: 10, Where: store.TokenMatch{Param: 1, Code: ptr("active")}})
	if err != nil || len(page.Versions) != 0 {
		t.Errorf("Search after delete = %d matches, %v; want none (index rows removed)", lenOf(page), err)
	}
	v3 := put(t, s, "Location", "l1", t0.Add(2*time.Second), nil)
	if v3.VersionID != 3 {
		t.Errorf("recreate version = %d; want 3", v3.VersionID)
	}
	if v, err := s.Read(ctx, "Location", "l1"); err != nil || v.VersionID != 3 {
		t.Errorf("Read after recreate = %+v, %v; want version 3", v, err)
	}
}

func testWriteErrors(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	put(t, s, "Endpoint", "e1", t0, nil)
	tests := []struct {
		name    string
		version int64
		want    error
	}{
		{"create existing", 1, store.ErrExists},
		{"skip a version", 3, store.ErrVersionConflict},
		{"zero version", 0, store.ErrVersionConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx store.Tx) error {
				return tx.Put(ctx, &store.Version{Type: "Endpoint", ID: "e1", VersionID: tt.version, LastUpdated: t0, Body: []byte(`{}`)}, nil)
			})
			if !errors.Is(err, tt.want) {
				t.Errorf("Put(version %d) error = %v; want %v", tt.version, err, tt.want)
			}
		})
	}
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Put(ctx, &store.Version{Type: "Endpoint", ID: "new", VersionID: 2, LastUpdated: t0, Body: []byte(`{}`)}, nil)
	}); !errors.Is(err, store.ErrVersionConflict) {
		t.Errorf("Put(version 2 of a new resource) error = %v; want ErrVersionConflict", err)
	}
	if v, err := s.Read(ctx, "Endpoint", "e1"); err != nil || v.VersionID != 1 {
		t.Errorf("after failed writes Read = %+v, %v; want version 1 untouched", v, err)
	}
}

func testTransactionAtomic(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := range 3 {
			v := &store.Version{Type: "Organization", ID: fmt.Sprint("o", i), VersionID: 1, LastUpdated: t0, Body: []byte(`{}`)}
			if err := tx.Put(ctx, v, &store.Index{Tokens: []store.TokenValue{{Param: 7, Code: "x"}}}); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v; want boom", err)
	}
	for i := range 3 {
		if _, err := s.Read(ctx, "Organization", fmt.Sprint("o", i)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Read(o%d) after rolled-back transaction error = %v; want ErrNotFound", i, err)
		}
	}
	page, err := s.Search(ctx, &store.Query{Count: 10, Where: store.TokenMatch{Param: 7, Code: ptr("x")}})
	if err != nil || len(page.Versions) != 0 {
		t.Errorf("Search after rollback = %d, %v; want no matches", lenOf(page), err)
	}
	h, err := s.History(ctx, store.HistoryQuery{Count: 10})
	if err != nil || len(h.Versions) != 0 {
		t.Errorf("History after rollback = %d versions, %v; want none", len(h.Versions), err)
	}
}

func testHistory(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	put(t, s, "Practitioner", "a", t0, nil)                    // seq 1
	put(t, s, "Organization", "o", t0.Add(1*time.Second), nil) // 2
	put(t, s, "Practitioner", "a", t0.Add(2*time.Second), nil) // 3
	del(t, s, "Practitioner", "a", t0.Add(3*time.Second))      // 4
	put(t, s, "Practitioner", "b", t0.Add(4*time.Second), nil) // 5
	tests := []struct {
		name string
		q    store.HistoryQuery
		want []string // type/id/version, newest first
	}{
		{"instance", store.HistoryQuery{Type: "Practitioner", ID: "a"}, []string{"Practitioner/a/3", "Practitioner/a/2", "Practitioner/a/1"}},
		{"type", store.HistoryQuery{Type: "Practitioner"}, []string{"Practitioner/b/1", "Practitioner/a/3", "Practitioner/a/2", "Practitioner/a/1"}},
		{"system", store.HistoryQuery{}, []string{"Practitioner/b/1", "Practitioner/a/3", "Practitioner/a/2", "Organization/o/1", "Practitioner/a/1"}},
		{"since", store.HistoryQuery{Since: t0.Add(2 * time.Second)}, []string{"Practitioner/b/1", "Practitioner/a/3", "Practitioner/a/2"}},
		{"before", store.HistoryQuery{Before: t0.Add(2 * time.Second)}, []string{"Organization/o/1", "Practitioner/a/1"}},
		{"unknown instance", store.HistoryQuery{Type: "Practitioner", ID: "zz"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Count = 10
			tt.q.WantTotal = true
			page, err := s.History(ctx, tt.q)
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			got := keys(page.Versions)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("History(%+v) = %v; want %v", tt.q, got, tt.want)
			}
			if page.Total != int64(len(tt.want)) {
				t.Errorf("History total = %d; want %d", page.Total, len(tt.want))
			}
			if page.NextSeq != 0 {
				t.Errorf("History NextSeq = %d; want 0 for a single page", page.NextSeq)
			}
		})
	}
	page, _ := s.History(ctx, store.HistoryQuery{Type: "Practitioner", ID: "a", Count: 10})
	if !page.Versions[0].Deleted || page.Versions[0].Body != nil {
		t.Errorf("history delete entry = %+v; want Deleted with no body", page.Versions[0])
	}
}

func testHistoryPaging(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	for i := range 7 {
		put(t, s, "Practitioner", "a", t0.Add(time.Duration(i)*time.Second), nil)
		put(t, s, "Location", fmt.Sprint("l", i), t0.Add(time.Duration(i)*time.Second), nil)
	}
	var all []string
	q := store.HistoryQuery{Count: 3}
	for range 10 {
		page, err := s.History(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, keys(page.Versions)...)
		if page.NextSeq == 0 {
			break
		}
		// A write between pages must not shift what later pages hold.
		put(t, s, "Organization", fmt.Sprint("new", len(all)), t0, nil)
		q.AfterSeq = page.NextSeq
	}
	if len(all) != 14 {
		t.Fatalf("paged history returned %d versions %v; want the 14 written before paging began", len(all), all)
	}
	seen := map[string]bool{}
	for _, k := range all {
		if seen[k] {
			t.Errorf("paged history returned %s twice", k)
		}
		seen[k] = true
	}
}

func ptr[T any](v T) *T { return &v }

func lenOf(p *store.SearchPage) int {
	if p == nil {
		return -1
	}
	return len(p.Versions)
}

func keys(vs []*store.Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%s/%s/%d", v.Type, v.ID, v.VersionID))
	}
	return out
}

func ids(p *store.SearchPage) []string {
	var out []string
	for _, v := range p.Versions {
		out = append(out, v.ID)
	}
	return out
}

func mustSearch(t *testing.T, s interface {
	Search(context.Context, *store.Query) (*store.SearchPage, error)
}, q *store.Query) *store.SearchPage {
	t.Helper()
	page, err := s.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	return page
}

func testConcurrentUpdates(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	put(t, s, "Organization", "busy", t0, nil)
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				err := s.Update(context.Background(), func(tx store.Tx) error {
					cur, err := tx.Current(context.Background(), "Organization", "busy")
					if err != nil {
						return err
					}
					return tx.Put(context.Background(), &store.Version{Type: "Organization", ID: "busy", VersionID: cur.VersionID + 1, LastUpdated: t0, Body: []byte(`{}`)}, nil)
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent update: %v", err)
	}
	v, err := s.Read(context.Background(), "Organization", "busy")
	if err != nil || v.VersionID != 1+workers*each {
		t.Errorf("after %d concurrent updates Read = %+v, %v; want version %d (no lost update)", workers*each, v, err, 1+workers*each)
	}
}

// testConcurrentConditionalCreate races creates guarded by Lock + Search:
// exactly one must win, as If-None-Exist requires.
func testConcurrentConditionalCreate(t *testing.T, newDB NewDB) {
	open := newDB(t)
	a, b := open(), open()
	t.Cleanup(func() { a.Close(); b.Close() })
	const workers = 6
	var wg sync.WaitGroup
	for i := range workers {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			err := s.Update(context.Background(), func(tx store.Tx) error {
				if err := tx.Lock(context.Background(), "Practitioner?identifier=npi|1"); err != nil {
					return err
				}
				page, err := tx.Search(context.Background(), &store.Query{Types: []string{"Practitioner"}, Count: 2, Where: store.TokenMatch{Param: 9, System: ptr("npi"), Code: ptr("1")}})
				if err != nil || len(page.Versions) > 0 {
					return err
				}
				return tx.Put(context.Background(), &store.Version{Type: "Practitioner", ID: fmt.Sprint("w", i), VersionID: 1, LastUpdated: t0, Body: []byte(`{}`)},
					&store.Index{Tokens: []store.TokenValue{{Param: 9, System: "npi", Code: "1"}}})
			})
			if err != nil {
				t.Errorf("conditional create %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	page := mustSearch(t, a, &store.Query{Types: []string{"Practitioner"}, Count: 10, Total: store.TotalAccurate, Where: store.TokenMatch{Param: 9, Code: ptr("1")}})
	if page.Total != 1 {
		t.Errorf("after %d racing conditional creates there are %d matches %v; want exactly 1", workers, page.Total, ids(page))
	}
}

func testTwoHandles(t *testing.T, newDB NewDB) {
	open := newDB(t)
	a := open()
	put(t, a, "Endpoint", "shared", t0, &store.Index{URIs: []store.URIValue{{Param: 3, URI: "https://x.example/fhir"}}})
	b := open()
	t.Cleanup(func() { b.Close() })
	if v, err := b.Read(context.Background(), "Endpoint", "shared"); err != nil || v.VersionID != 1 {
		t.Errorf("second handle Read = %+v, %v; want version 1", v, err)
	}
	put(t, b, "Endpoint", "shared", t0.Add(time.Second), nil)
	if v, err := a.Read(context.Background(), "Endpoint", "shared"); err != nil || v.VersionID != 2 {
		t.Errorf("first handle sees second's write: Read = %+v, %v; want version 2", v, err)
	}
	// Closing and reopening (a restart) keeps everything.
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c := open()
	t.Cleanup(func() { c.Close() })
	if v, err := c.VRead(context.Background(), "Endpoint", "shared", 1); err != nil || v.VersionID != 1 {
		t.Errorf("after reopen VRead(1) = %+v, %v; want version 1", v, err)
	}
}

func testBulkLoad(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	const n = 3000 // enough to cross the index flush threshold several times
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			idx := &store.Index{
				Tokens:  []store.TokenValue{{Param: 11, System: "s", Code: fmt.Sprint(i % 10)}},
				Strings: []store.StringValue{{Param: 12, Norm: fmt.Sprintf("name%04d", i), Exact: fmt.Sprintf("Name%04d", i)}},
			}
			v := &store.Version{Type: "Practitioner", ID: fmt.Sprint("bulk", i), VersionID: 1, LastUpdated: t0, Body: body("Practitioner", fmt.Sprint("bulk", i), 1)}
			if err := tx.Put(ctx, v, idx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("bulk Update: %v", err)
	}
	page := mustSearch(t, s, &store.Query{Types: []string{"Practitioner"}, Count: 1, Total: store.TotalAccurate, Where: store.TokenMatch{Param: 11, Code: ptr("7")}})
	if page.Total != n/10 {
		t.Errorf("token matches after bulk load = %d; want %d", page.Total, n/10)
	}
	page = mustSearch(t, s, &store.Query{Types: []string{"Practitioner"}, Count: 5, Where: store.StringMatch{Param: 12, Mode: store.StringExact, Value: "Name2999", Norm: "name2999"}})
	if got := ids(page); fmt.Sprint(got) != "[bulk2999]" {
		t.Errorf("exact match on the last row = %v; want [bulk2999]", got)
	}
}

// testPutMany writes a batch mixing creates, an update of an existing
// resource, two versions of one resource and equal ids of two types.
func testPutMany(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	put(t, s, "Organization", "old", t0, &store.Index{Tokens: []store.TokenValue{{Param: 1, Code: "before"}}})
	err := s.Update(ctx, func(tx store.Tx) error {
		keys := []store.Key{{Type: "Organization", ID: "old"}, {Type: "Organization", ID: "x"}, {Type: "Location", ID: "x"}}
		cur, err := tx.CurrentMany(ctx, keys)
		if err != nil {
			return err
		}
		if len(cur) != 1 || cur[keys[0]] == nil || cur[keys[0]].VersionID != 1 || string(cur[keys[0]].Body) != string(body("Organization", "old", 1)) {
			return fmt.Errorf("CurrentMany = %v; want only Organization/old version 1 with its body", cur)
		}
		vs := []*store.Version{
			{Type: "Organization", ID: "x", VersionID: 1, LastUpdated: t0, Body: body("Organization", "x", 1)},
			{Type: "Location", ID: "x", VersionID: 1, LastUpdated: t0, Body: body("Location", "x", 1)},
			{Type: "Organization", ID: "old", VersionID: 2, LastUpdated: t0, Body: body("Organization", "old", 2)},
			{Type: "Organization", ID: "x", VersionID: 2, LastUpdated: t0, Body: body("Organization", "x", 2)},
			{Type: "Location", ID: "y", VersionID: 1, LastUpdated: t0, Body: body("Location", "y", 1)},
		}
		idxs := []*store.Index{
			{Tokens: []store.TokenValue{{Param: 1, Code: "x1"}}},
			{Tokens: []store.TokenValue{{Param: 1, Code: "lx"}}},
			{Tokens: []store.TokenValue{{Param: 1, Code: "after"}}},
			{Tokens: []store.TokenValue{{Param: 1, Code: "x2"}}},
			nil,
		}
		if err := tx.PutMany(ctx, vs, idxs); err != nil {
			return err
		}
		for i := 1; i < len(vs); i++ {
			if vs[i].Seq <= vs[i-1].Seq {
				return fmt.Errorf("PutMany seqs %d then %d; want increasing", vs[i-1].Seq, vs[i].Seq)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		typ, id string
		version int64
	}{{"Organization", "x", 2}, {"Location", "x", 1}, {"Organization", "old", 2}, {"Location", "y", 1}} {
		v, err := s.Read(ctx, want.typ, want.id)
		if err != nil || v.VersionID != want.version || string(v.Body) != string(body(want.typ, want.id, want.version)) {
			t.Errorf("Read(%s/%s) = %+v, %v; want version %d", want.typ, want.id, v, err, want.version)
		}
	}
	for code, want := range map[string]string{"before": "[]", "after": "[old]", "x1": "[]", "x2": "[x]", "lx": "[x]"} {
		page := mustSearch(t, s, &store.Query{Count: 10, Where: store.TokenMatch{Param: 1, Code: ptr(code)}})
		if got := fmt.Sprint(ids(page)); got != want {
			t.Errorf("index rows for %q = %s; want %s", code, got, want)
		}
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.PutMany(ctx, []*store.Version{{Type: "Location", ID: "y", VersionID: 1, LastUpdated: t0, Body: []byte(`{}`)}}, []*store.Index{nil})
	})
	if !errors.Is(err, store.ErrExists) {
		t.Errorf("PutMany creating an existing resource error = %v; want ErrExists", err)
	}
}
