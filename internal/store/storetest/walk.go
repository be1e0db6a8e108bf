package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/vhdir/vhdir/internal/store"
)

// testSearchWalk pages through token searches whose token matches most of
// a type, so that a backend may find their pages from the token's index in
// row order: a code under three systems, resources holding it under
// several, values two parameters share, a probe and a set beside it,
// guarded and root-restricted matches, deleted resources. Every page of
// every viewer must hold exactly the matches in order, once each.
func testSearchWalk(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	const n = 300
	guarded := func(i int) bool { return i%50 == 7 }
	hidden := func(i int) bool { return i%50 == 13 }
	deleted := func(i int) bool { return i%40 == 3 }
	tok := func(p int64, system, code string) store.TokenValue {
		return store.TokenValue{Param: p, System: system, Code: code}
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		var vs []*store.Version
		var idxs []*store.Index
		for i := range n {
			id := fmt.Sprintf("r%03d", i)
			idx := &store.Index{Strings: []store.StringValue{{Param: pName, Norm: []string{"even", "odd"}[i%2], Exact: "x"}}}
			switch {
			case guarded(i):
				idx.Tokens = []store.TokenValue{tok(pFill, "s1", "d")}
				idx.Restriction = &store.Restriction{Rules: [][]string{{keyA}}, Marked: true, Guarded: []store.GuardedIndex{{Mask: 1, Index: &store.Index{
					Tokens: []store.TokenValue{tok(pFill, "s1", "c")},
				}}}}
			case i%3 == 0:
				idx.Tokens = []store.TokenValue{tok(pFill, "s1", "c")}
			case i%3 == 1:
				idx.Tokens = []store.TokenValue{tok(pFill, "s2", "c")}
			default:
				idx.Tokens = []store.TokenValue{tok(pFill, "s1", "d")}
			}
			if i%7 == 0 && !guarded(i) {
				idx.Tokens = append(idx.Tokens, tok(pFill, "s2", "c"))
			}
			if i%11 == 0 && !guarded(i) {
				idx.Tokens = append(idx.Tokens, tok(pFill, "s3", "c"))
			}
			if i%5 == 0 {
				idx.Tokens = append(idx.Tokens, tok(pCode, "s1", "c"))
			}
			if hidden(i) {
				idx.Restriction = rootRule(keyA)
			}
			vs = append(vs, &store.Version{Type: "PractitionerRole", ID: id, VersionID: 1, LastUpdated: t0, Body: body("PractitionerRole", id, 1)})
			idxs = append(idxs, idx)
		}
		return tx.PutMany(ctx, vs, idxs)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if deleted(i) {
			del(t, s, "PractitionerRole", fmt.Sprintf("r%03d", i), t0)
		}
	}
	// has reports whether role i holds code c under system (any: "").
	has := func(i int, system string, seesA bool) bool {
		if guarded(i) {
			return seesA && (system == "" || system == "s1")
		}
		held := map[string]bool{"s1": i%3 == 0, "s2": i%3 == 1 || i%7 == 0, "s3": i%11 == 0}
		if system == "" {
			return held["s1"] || held["s2"] || held["s3"]
		}
		return held[system]
	}
	code := store.TokenMatch{Param: pFill, Code: ptr("c")}
	inS2 := store.TokenMatch{Param: pFill, System: ptr("s2"), Code: ptr("c")}
	even := store.StringMatch{Param: pName, Mode: store.StringExact, Norm: "even", Value: "x"}
	tests := []struct {
		name  string
		where store.Cond
		match func(i int, seesA bool) bool
	}{
		{"code under any system", code, func(i int, a bool) bool { return has(i, "", a) }},
		{"code and system", inS2, func(i int, a bool) bool { return has(i, "s2", a) }},
		{"a probe beside", store.And{code, even}, func(i int, a bool) bool { return has(i, "", a) && i%2 == 0 }},
		{"a set beside", store.And{store.TokenMatch{Param: pCode, Code: ptr("c")}, code},
			func(i int, a bool) bool { return has(i, "", a) && i%5 == 0 }},
		{"a set beside one range", store.And{store.TokenMatch{Param: pCode, Code: ptr("c")}, inS2},
			func(i int, a bool) bool { return has(i, "s2", a) && i%5 == 0 }},
		{"a negation beside", store.And{store.Not{X: store.TokenMatch{Param: pFill, System: ptr("s2")}}, code},
			func(i int, a bool) bool { return has(i, "", a) && !has(i, "s2", a) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range []struct {
				name  string
				v     *store.Viewer
				seesA bool
			}{{"none", nil, false}, {"B", viewerB, false}, {"A", viewerA, true}, {"all", store.SeeAll, true}} {
				var want []string
				for i := range n {
					if !deleted(i) && (!hidden(i) || v.seesA) && tt.match(i, v.seesA) {
						want = append(want, fmt.Sprintf("r%03d", i))
					}
				}
				for _, count := range []int{7, 1000} {
					q := &store.Query{Types: []string{"PractitionerRole"}, Where: tt.where, Count: count, Total: store.TotalAccurate, Viewer: v.v}
					var got []string
					for page := 0; ; page++ {
						p := mustSearch(t, s, q)
						if page == 0 && p.Total != int64(len(want)) {
							t.Errorf("%s, _count=%d: total %d; want %d", v.name, count, p.Total, len(want))
						}
						if p.Next != nil && len(p.Versions) != count {
							t.Fatalf("%s, _count=%d: page %d holds %d with more to come", v.name, count, page, len(p.Versions))
						}
						got = append(got, ids(p)...)
						if p.Next == nil || page > n {
							break
						}
						q.After, q.Total = p.Next, store.TotalNone
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s, _count=%d: paged %v; want %v", v.name, count, got, want)
					}
				}
			}
		})
	}
}
