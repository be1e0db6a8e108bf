package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/vhdir/vhdir/internal/store"
)

// testNewInTransaction: a transaction that creates resources one Put at a
// time (as a batch's entries do) reads each of them back at once, by key,
// by keys and by search, may update and delete them, cannot create one
// twice, and commits them in the order written, however many; a failed
// transaction leaves none.
func testNewInTransaction(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	put(t, s, "Organization", "old", t0, nil)
	const n = 600 // more than a backend may hold back at once
	code := store.TokenMatch{Param: pCode, Code: ptr("new")}
	newRole := func(i int) *store.Version {
		id := fmt.Sprintf("r%03d", i)
		return &store.Version{Type: "PractitionerRole", ID: id, VersionID: 1, LastUpdated: t0, Body: body("PractitionerRole", id, 1)}
	}
	tagged := &store.Index{Tokens: []store.TokenValue{{Param: pCode, Code: "new"}}}
	var order []string // type/id/version in write order
	err := s.Update(ctx, func(tx store.Tx) error {
		order = order[:0]
		for i := range n {
			if err := tx.Put(ctx, newRole(i), tagged); err != nil {
				return err
			}
			order = append(order, fmt.Sprintf("PractitionerRole/r%03d/1", i))
			switch i {
			case 3:
				v, err := tx.Current(ctx, "PractitionerRole", "r003")
				if err != nil || v.VersionID != 1 {
					return fmt.Errorf("current r003 right after its Put = %v, %v; want version 1", v, err)
				}
			case 5:
				got, err := tx.CurrentMany(ctx, []store.Key{{Type: "PractitionerRole", ID: "r004"}, {Type: "PractitionerRole", ID: "r005"}, {Type: "Organization", ID: "old"}})
				if err != nil || len(got) != 3 {
					return fmt.Errorf("current rows after their Puts = %d versions, %v; want 3", len(got), err)
				}
			case 7:
				page, err := tx.Search(ctx, &store.Query{Types: []string{"PractitionerRole"}, Count: 100, Total: store.TotalAccurate, Where: code})
				if err != nil || page.Total != 8 {
					return fmt.Errorf("search after 8 Puts = total %d, %v; want 8", lenOfTotal(page), err)
				}
			case 9:
				// The one written before an update of an older resource is
				// written first.
				v := &store.Version{Type: "Organization", ID: "old", VersionID: 2, LastUpdated: t0, Body: body("Organization", "old", 2)}
				if err := tx.Put(ctx, v, nil); err != nil {
					return err
				}
				order = append(order, "Organization/old/2")
			case 11:
				v := newRole(11)
				v.VersionID = 2
				v.Body = body("PractitionerRole", "r011", 2)
				if err := tx.Put(ctx, v, tagged); err != nil {
					return fmt.Errorf("update of r011 in the transaction that created it: %w", err)
				}
				order = append(order, "PractitionerRole/r011/2")
			case 13:
				v := newRole(13)
				v.VersionID, v.Deleted, v.Body = 2, true, nil
				if err := tx.Put(ctx, v, nil); err != nil {
					return fmt.Errorf("delete of r013 in the transaction that created it: %w", err)
				}
				order = append(order, "PractitionerRole/r013/2")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	page := mustSearch(t, s, &store.Query{Types: []string{"PractitionerRole"}, Count: 10, Total: store.TotalAccurate, Where: code})
	if page.Total != n-1 {
		t.Errorf("after commit, %d roles match; want %d (all but the deleted one)", page.Total, n-1)
	}
	h, err := s.History(ctx, store.HistoryQuery{Count: 2 * n})
	if err != nil {
		t.Fatal(err)
	}
	got := keys(h.Versions)
	slices.Reverse(got)
	if want := append([]string{"Organization/old/1"}, order...); !slices.Equal(got, want) {
		t.Errorf("history oldest first = %v…; want %v…", got[:min(16, len(got))], want[:min(16, len(want))])
	}

	// The same key created twice in one transaction fails it, and a failed
	// transaction leaves none of its new resources.
	err = s.Update(ctx, func(tx store.Tx) error {
		for _, id := range []string{"twice", "twice"} {
			v := &store.Version{Type: "Location", ID: id, VersionID: 1, LastUpdated: t0, Body: body("Location", id, 1)}
			if err := tx.Put(ctx, v, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		t.Error("two creates of Location/twice in one transaction committed")
	}
	boom := errors.New("boom")
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, &store.Version{Type: "Location", ID: "gone", VersionID: 1, LastUpdated: t0, Body: body("Location", "gone", 1)}, nil); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v; want boom", err)
	}
	for _, id := range []string{"twice", "gone"} {
		if _, err := s.Read(ctx, "Location", id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Read(Location/%s) after a failed transaction error = %v; want ErrNotFound", id, err)
		}
	}
}

func lenOfTotal(p *store.SearchPage) int64 {
	if p == nil {
		return -1
	}
	return p.Total
}
