package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// testHistoryTypes checks a listing narrowed to several types: only their
// versions, newest first across them, with totals and with Type.
func testHistoryTypes(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	put(t, s, "Practitioner", "a", t0, nil)                    // seq 1
	put(t, s, "Organization", "o", t0.Add(1*time.Second), nil) // 2
	put(t, s, "Location", "l", t0.Add(2*time.Second), nil)     // 3
	put(t, s, "Practitioner", "a", t0.Add(3*time.Second), nil) // 4
	del(t, s, "Organization", "o", t0.Add(4*time.Second))      // 5
	put(t, s, "Location", "l2", t0.Add(5*time.Second), nil)    // 6
	put(t, s, "Practitioner", "b", t0.Add(6*time.Second), nil) // 7
	po := []string{"Practitioner", "Organization"}
	tests := []struct {
		name string
		q    store.HistoryQuery
		want []string // type/id/version, newest first
	}{
		{"two types", store.HistoryQuery{Types: po}, []string{"Practitioner/b/1", "Organization/o/2", "Practitioner/a/2", "Organization/o/1", "Practitioner/a/1"}},
		{"one type", store.HistoryQuery{Types: []string{"Location"}}, []string{"Location/l2/1", "Location/l/1"}},
		{"named twice", store.HistoryQuery{Types: []string{"Location", "Location"}}, []string{"Location/l2/1", "Location/l/1"}},
		{"since", store.HistoryQuery{Types: po, Since: t0.Add(3 * time.Second)}, []string{"Practitioner/b/1", "Organization/o/2", "Practitioner/a/2"}},
		{"before", store.HistoryQuery{Types: po, Before: t0.Add(3 * time.Second)}, []string{"Organization/o/1", "Practitioner/a/1"}},
		{"type not stored", store.HistoryQuery{Types: []string{"Endpoint"}}, nil},
		{"with Type named", store.HistoryQuery{Type: "Location", Types: []string{"Location", "Practitioner"}}, []string{"Location/l2/1", "Location/l/1"}},
		{"with Type not named", store.HistoryQuery{Type: "Location", Types: po}, nil},
		{"instance named", store.HistoryQuery{Type: "Practitioner", ID: "a", Types: po}, []string{"Practitioner/a/2", "Practitioner/a/1"}},
		{"instance not named", store.HistoryQuery{Type: "Location", ID: "l", Types: po}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Count = 10
			tt.q.WantTotal = true
			page, err := s.History(ctx, tt.q)
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			if got := keys(page.Versions); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("History(%+v) = %v; want %v", tt.q, got, tt.want)
			}
			if page.Total != int64(len(tt.want)) {
				t.Errorf("History(%+v) total = %d; want %d", tt.q, page.Total, len(tt.want))
			}
			if page.NextSeq != 0 {
				t.Errorf("History(%+v) NextSeq = %d; want 0 for a single page", tt.q, page.NextSeq)
			}
		})
	}
}

// testHistoryTypesPaging pages through a listing narrowed to two types
// while versions of other types, interleaved and written between pages,
// are skipped: every page is full, and the pages hold exactly the
// versions of those types written before paging began.
func testHistoryTypesPaging(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	var want []string
	for i := range 7 {
		at := t0.Add(time.Duration(i) * time.Second)
		v := put(t, s, "Practitioner", "a", at, nil)
		want = append(want, fmt.Sprintf("Practitioner/a/%d", v.VersionID))
		for j := range 3 {
			put(t, s, "Organization", fmt.Sprintf("o%d-%d", i, j), at, nil)
		}
		put(t, s, "Location", fmt.Sprint("l", i), at, nil)
		want = append(want, fmt.Sprintf("Location/l%d/1", i))
		put(t, s, "Practitioner", "a", at, nil) // its earlier version moves to history
		want = append(want, fmt.Sprintf("Practitioner/a/%d", v.VersionID+1))
	}
	slices.Reverse(want)
	var got []string
	q := store.HistoryQuery{Types: []string{"Practitioner", "Location"}, Count: 4}
	for range 10 {
		page, err := s.History(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, keys(page.Versions)...)
		if page.NextSeq == 0 {
			break
		}
		if len(page.Versions) != q.Count {
			t.Errorf("History page of %d versions with a next page; want %d", len(page.Versions), q.Count)
		}
		// Writes between pages must not shift what later pages hold.
		put(t, s, "Organization", fmt.Sprint("new", len(got)), t0, nil)
		put(t, s, "Location", fmt.Sprint("new", len(got)), t0, nil)
		q.AfterSeq = page.NextSeq
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paged History(Types %v) = %v; want %v", q.Types, got, want)
	}
}
