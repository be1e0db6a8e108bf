package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// Usage restrictions (store.Restriction, store.Viewer): the store must
// leave out, for each viewer, the resources and index values it may not
// see, everywhere a query can reach them.

// Parameter ids of the restriction subtests.
const (
	pPartOf  = 140
	pSecret  = 141 // a token only in guarded rows (rules 0 and 1)
	pSpecial = 142 // a token only in guarded rows (rule 0)
	pLoc     = 143 // a reference only in guarded rows
	pNote    = 144 // a string only in guarded rows
	pWhen    = 145 // a date only in guarded rows
	pFill    = 146
)

// Permit keys, and the viewers holding them.
const (
	keyA = "Organization/acme"
	keyB = "label:shelter-staff"
	keyC = "Organization/cedar"
)

var (
	viewerNowhere = &store.Viewer{Keys: []string{"Organization/unnamed"}}
	viewerA       = &store.Viewer{Keys: []string{keyA}}
	viewerB       = &store.Viewer{Keys: []string{keyB}}
	viewerAB      = &store.Viewer{Keys: []string{"Organization/unnamed", keyA, keyB}}
)

// rootRule restricts a whole version to holders of one of keys (rule 0).
func rootRule(keys ...string) *store.Restriction {
	return &store.Restriction{Root: 1, Rules: [][]string{keys}, Marked: true}
}

// perViewer holds what each viewer of the restriction subtests gets. The
// viewer without keys and the one whose keys no restriction names must
// get the same (none).
type perViewer struct {
	none, a, b, ab, all string
}

// each runs fn once per viewer with what that viewer should get.
func (w perViewer) each(t *testing.T, fn func(t *testing.T, v *store.Viewer, want string)) {
	t.Helper()
	for _, c := range []struct {
		name string
		v    *store.Viewer
		want string
	}{
		{"nil", nil, w.none},
		{"no keys", &store.Viewer{}, w.none},
		{"named nowhere", viewerNowhere, w.none},
		{"A", viewerA, w.a},
		{"B", viewerB, w.b},
		{"A+B", viewerAB, w.ab},
		{"all", store.SeeAll, w.all},
	} {
		t.Run(c.name, func(t *testing.T) { fn(t, c.v, c.want) })
	}
}

// hiddenFromNone is what a root restriction to key A gives: viewers
// holding A (and all) see got, the others none.
func hiddenFromNone(none, got string) perViewer {
	return perViewer{none: none, a: got, b: none, ab: got, all: got}
}

// guardedAB is what a value guarded by rules 0 and 1 gives.
func guardedAB(none, got string) perViewer {
	return perViewer{none: none, a: none, b: none, ab: got, all: got}
}

// seedRestricted writes a directory where organization sec and role
// r-hidden are restricted to key A, and role r-elem hides some values
// from viewers without keys A and B:
//
//	pub ← sec (partof) ← child (partof)
//	r-pub → pub, r-sec → sec, r-hidden → child, r-elem → pub (and, guarded, → Location/l1)
func seedRestricted(t *testing.T, s store.Store) {
	t.Helper()
	name := func(n string) []store.StringValue { return []store.StringValue{{Param: pName, Norm: n, Exact: n}} }
	partOf := func(id string) []store.RefValue {
		return []store.RefValue{{Param: pPartOf, Type: "Organization", ID: id}}
	}
	role := func(org string, r *store.Restriction) *store.Index {
		return &store.Index{
			Tokens:      []store.TokenValue{{Param: pCode, Code: "x"}},
			Refs:        []store.RefValue{{Param: pOrg, Type: "Organization", ID: org}},
			Restriction: r,
		}
	}
	put(t, s, "Organization", "pub", t0, &store.Index{Strings: name("public org")})
	put(t, s, "Organization", "sec", t0, &store.Index{Strings: name("secret org"), Refs: partOf("pub"), Restriction: rootRule(keyA)})
	put(t, s, "Organization", "child", t0, &store.Index{Strings: name("child org"), Refs: partOf("sec")})
	put(t, s, "Location", "l1", t0, &store.Index{Strings: name("loc one")})
	put(t, s, "PractitionerRole", "r-pub", t0, role("pub", nil))
	put(t, s, "PractitionerRole", "r-sec", t0, role("sec", nil))
	put(t, s, "PractitionerRole", "r-hidden", t0, role("child", rootRule(keyA)))
	put(t, s, "PractitionerRole", "r-elem", t0, role("pub", &store.Restriction{
		Rules:  [][]string{{keyA}, {keyB}},
		Marked: true,
		Guarded: []store.GuardedIndex{
			{Mask: 0b11, Index: &store.Index{
				Tokens:  []store.TokenValue{{Param: pSecret, System: "s", Code: "secret-code"}},
				Strings: []store.StringValue{{Param: pNote, Norm: "hidden note", Exact: "Hidden note"}},
				Refs:    []store.RefValue{{Param: pLoc, Type: "Location", ID: "l1"}},
				Dates:   []store.DateValue{{Param: pWhen, Lo: 1000, Hi: 2000}},
			}},
			{Mask: 0b01, Index: &store.Index{Tokens: []store.TokenValue{{Param: pSpecial, Code: "a-only"}}}},
		},
	}))
}

func testRestrictSearch(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	seedRestricted(t, s)
	roles := []string{"PractitionerRole"}
	orgs := []string{"Organization"}
	tests := []struct {
		name  string
		types []string
		where store.Cond
		want  perViewer
	}{
		{"resources of a type", orgs, nil, hiddenFromNone("[pub child]", "[pub sec child]")},
		{"main value of a hidden resource", orgs, store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "secret"}, hiddenFromNone("[]", "[sec]")},
		{"token", roles, store.TokenMatch{Param: pCode, Code: ptr("x")}, hiddenFromNone("[r-pub r-sec r-elem]", "[r-pub r-sec r-hidden r-elem]")},
		{"chain to a hidden target", roles, store.Chain{Param: pOrg, Types: orgs, Where: store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "secret"}},
			hiddenFromNone("[]", "[r-sec]")},
		{"_has from a hidden source", orgs, store.Has{Type: "PractitionerRole", Param: pOrg, Where: store.TokenMatch{Param: pCode, Code: ptr("x")}},
			hiddenFromNone("[pub]", "[pub sec child]")},
		{"hierarchy below through a hidden member", roles, store.Hierarchy{Param: pOrg, Type: "Organization", ID: "pub", PartOf: pPartOf, Below: true},
			hiddenFromNone("[r-pub r-elem]", "[r-pub r-sec r-hidden r-elem]")},
		{"hierarchy above through a hidden member", roles, store.Hierarchy{Param: pOrg, Type: "Organization", ID: "child", PartOf: pPartOf},
			hiddenFromNone("[r-sec]", "[r-pub r-sec r-hidden r-elem]")},
		{"guarded token", roles, store.TokenMatch{Param: pSecret, Code: ptr("secret-code")}, guardedAB("[]", "[r-elem]")},
		{"guarded token with system", roles, store.TokenMatch{Param: pSecret, System: ptr("s"), Code: ptr("secret-code")}, guardedAB("[]", "[r-elem]")},
		{"guarded string", roles, store.StringMatch{Param: pNote, Mode: store.StringPrefix, Value: "hidden"}, guardedAB("[]", "[r-elem]")},
		{"guarded reference", roles, store.RefMatch{Param: pLoc, Type: "Location", ID: "l1"}, guardedAB("[]", "[r-elem]")},
		{"guarded date", roles, store.DateMatch{Param: pWhen, Op: store.Ge, Lo: 1500, Hi: 1500}, guardedAB("[]", "[r-elem]")},
		{"value guarded by one rule", roles, store.TokenMatch{Param: pSpecial, Code: ptr("a-only")},
			perViewer{none: "[]", a: "[r-elem]", b: "[]", ab: "[r-elem]", all: "[r-elem]"}},
		{"hidden value is missing", roles, store.Missing{Param: pSecret, Table: store.TableToken, Missing: true},
			perViewer{none: "[r-pub r-sec r-elem]", a: "[r-pub r-sec r-hidden r-elem]", b: "[r-pub r-sec r-elem]", ab: "[r-pub r-sec r-hidden]", all: "[r-pub r-sec r-hidden]"}},
		{"hidden value is not present", roles, store.Missing{Param: pSecret, Table: store.TableToken}, guardedAB("[]", "[r-elem]")},
		{"not a hidden value", roles, store.Not{X: store.TokenMatch{Param: pSecret, Code: ptr("secret-code")}},
			perViewer{none: "[r-pub r-sec r-elem]", a: "[r-pub r-sec r-hidden r-elem]", b: "[r-pub r-sec r-elem]", ab: "[r-pub r-sec r-hidden]", all: "[r-pub r-sec r-hidden]"}},
		{"main and guarded values", roles, store.And{store.TokenMatch{Param: pCode, Code: ptr("x")}, store.TokenMatch{Param: pSecret, Code: ptr("secret-code")}},
			guardedAB("[]", "[r-elem]")},
		{"chain through a guarded reference", roles, store.Chain{Param: pLoc, Types: []string{"Location"}, Where: store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "loc"}},
			guardedAB("[]", "[r-elem]")},
		{"_has through a guarded reference", []string{"Location"}, store.Has{Type: "PractitionerRole", Param: pLoc, Where: store.TokenMatch{Param: pCode, Code: ptr("x")}},
			guardedAB("[]", "[l1]")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.each(t, func(t *testing.T, v *store.Viewer, want string) {
				page := mustSearch(t, s, &store.Query{Types: tt.types, Where: tt.where, Count: 50, Total: store.TotalAccurate, Viewer: v})
				if got := fmt.Sprint(ids(page)); got != want {
					t.Errorf("Search(%#v) = %s; want %s", tt.where, got, want)
				}
				if page.Total != int64(len(page.Versions)) {
					t.Errorf("Search(%#v) total = %d; want %d", tt.where, page.Total, len(page.Versions))
				}
			})
		})
	}
}

func testRestrictIncludes(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	seedRestricted(t, s)
	tests := []struct {
		name string
		typ  string
		id   string
		inc  store.Include
		want perViewer
	}{
		{"forward to a hidden resource", "PractitionerRole", "r-sec", store.Include{Source: "PractitionerRole", Param: pOrg},
			hiddenFromNone("[]", "[Organization/sec]")},
		{"reverse from a hidden resource", "Organization", "child", store.Include{Reverse: true, Source: "PractitionerRole", Param: pOrg},
			hiddenFromNone("[]", "[PractitionerRole/r-hidden]")},
		{"iterate through a hidden resource", "Organization", "child", store.Include{Source: "Organization", Param: pPartOf, Iterate: true},
			hiddenFromNone("[]", "[Organization/sec Organization/pub]")},
		{"forward through a guarded reference", "PractitionerRole", "r-elem", store.Include{Source: "PractitionerRole", Param: pLoc},
			guardedAB("[]", "[Location/l1]")},
		{"reverse through a guarded reference", "Location", "l1", store.Include{Reverse: true, Source: "PractitionerRole", Param: pLoc},
			guardedAB("[]", "[PractitionerRole/r-elem]")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.each(t, func(t *testing.T, v *store.Viewer, want string) {
				page := mustSearch(t, s, &store.Query{Types: []string{tt.typ}, Where: store.IDIs{IDs: []string{tt.id}}, Count: 10,
					Includes: []store.Include{tt.inc}, Viewer: v})
				got := []string{}
				for _, v := range page.Included {
					got = append(got, v.Type+"/"+v.ID)
				}
				if fmt.Sprint(got) != want {
					t.Errorf("included = %v; want %s", got, want)
				}
			})
		})
	}
}

// testRestrictPlans makes the planner probe conditions row by row (a
// condition matching many rows, a scan, chains and _has over many rows)
// rather than read them as sets, and walks hierarchies through guarded
// partof references.
func testRestrictPlans(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	const n = 150
	err := s.Update(ctx, func(tx store.Tx) error {
		var vs []*store.Version
		var idxs []*store.Index
		add := func(typ, id string, idx *store.Index) {
			vs = append(vs, &store.Version{Type: typ, ID: id, VersionID: 1, LastUpdated: t0, Body: body(typ, id, 1)})
			idxs = append(idxs, idx)
		}
		name := func(n string) []store.StringValue { return []store.StringValue{{Param: pName, Norm: n, Exact: n}} }
		for i := range n {
			add("Location", fmt.Sprint("loc", i), &store.Index{Strings: name("loc")})
			add("PractitionerRole", fmt.Sprint("f", i), &store.Index{
				Tokens: []store.TokenValue{{Param: pFill, Code: "f"}},
				Refs:   []store.RefValue{{Param: pLoc, Type: "Location", ID: fmt.Sprint("loc", i)}},
			})
		}
		add("Location", "lt", &store.Index{Strings: name("loc target")})
		add("PractitionerRole", "target", &store.Index{
			Strings: name("needle"),
			Restriction: &store.Restriction{Rules: [][]string{{keyA}}, Marked: true, Guarded: []store.GuardedIndex{{Mask: 1, Index: &store.Index{
				Tokens: []store.TokenValue{{Param: pFill, Code: "g"}},
				Refs:   []store.RefValue{{Param: pLoc, Type: "Location", ID: "lt"}},
			}}}},
		})
		add("PractitionerRole", "hid", &store.Index{Tokens: []store.TokenValue{{Param: pFill, Code: "f"}}, Restriction: rootRule(keyA)})
		// top ← sub, sub's partof seen by key A only; an endpoint at each.
		add("Organization", "top", nil)
		add("Organization", "sub", &store.Index{Restriction: &store.Restriction{Rules: [][]string{{keyA}}, Marked: true, Guarded: []store.GuardedIndex{
			{Mask: 1, Index: &store.Index{Refs: []store.RefValue{{Param: pPartOf, Type: "Organization", ID: "top"}}}},
		}}})
		add("Endpoint", "at-top", &store.Index{Refs: []store.RefValue{{Param: pOrg, Type: "Organization", ID: "top"}}})
		add("Endpoint", "at-sub", &store.Index{Refs: []store.RefValue{{Param: pOrg, Type: "Organization", ID: "sub"}}})
		return tx.PutMany(ctx, vs, idxs)
	})
	if err != nil {
		t.Fatal(err)
	}
	anyFill := store.TokenMatch{Param: pFill}
	needle := store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "needle"}
	tests := []struct {
		name  string
		typ   string
		where store.Cond
		none  int // matches for viewers without key A
		a     int
	}{
		{"probe beside a set", "PractitionerRole", store.And{needle, anyFill}, 0, 1},
		{"scan", "PractitionerRole", anyFill, n, n + 2},
		{"missing in a scan", "PractitionerRole", store.Missing{Param: pFill, Table: store.TableToken, Missing: true}, 1, 0},
		{"two common conditions", "PractitionerRole", store.And{anyFill, store.Not{X: store.TokenMatch{Param: pFill, Code: ptr("nothing")}}}, n, n + 2},
		{"chain probe through a guarded reference", "PractitionerRole",
			store.And{needle, store.Chain{Param: pLoc, Types: []string{"Location"}, Where: store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "loc"}}}, 0, 1},
		{"_has probe through a guarded reference", "Location",
			store.And{store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "loc target"}, store.Has{Type: "PractitionerRole", Param: pLoc}}, 0, 1},
		{"hierarchy below through a guarded partof", "Endpoint", store.Hierarchy{Param: pOrg, Type: "Organization", ID: "top", PartOf: pPartOf, Below: true}, 1, 2},
		{"hierarchy above through a guarded partof", "Endpoint", store.Hierarchy{Param: pOrg, Type: "Organization", ID: "sub", PartOf: pPartOf}, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			perViewer{none: fmt.Sprint(tt.none), a: fmt.Sprint(tt.a), b: fmt.Sprint(tt.none), ab: fmt.Sprint(tt.a), all: fmt.Sprint(tt.a)}.each(t, func(t *testing.T, v *store.Viewer, want string) {
				page := mustSearch(t, s, &store.Query{Types: []string{tt.typ}, Where: tt.where, Count: 2 * n, Total: store.TotalAccurate, Viewer: v})
				if got := fmt.Sprint(len(page.Versions)); got != want || page.Total != int64(len(page.Versions)) {
					t.Errorf("Search(%#v) = %d matches (total %d); want %s", tt.where, len(page.Versions), page.Total, want)
				}
			})
		})
	}
}

// testRestrictHistory: history lists each version as its own restriction
// allows, a delete keeps its resource's, and Visible judges a version by
// its own rule keys.
func testRestrictHistory(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	sec := func(r *store.Restriction) *store.Index { return &store.Index{Restriction: r} }
	put(t, s, "Organization", "pub", t0, nil)
	put(t, s, "Organization", "sec", t0.Add(1*time.Second), sec(rootRule(keyA)))
	put(t, s, "Organization", "sec", t0.Add(2*time.Second), nil)
	put(t, s, "Organization", "sec", t0.Add(3*time.Second), sec(rootRule(keyB)))
	put(t, s, "Practitioner", "gone", t0.Add(4*time.Second), sec(rootRule(keyA)))
	del(t, s, "Practitioner", "gone", t0.Add(5*time.Second))
	tests := []struct {
		name string
		q    store.HistoryQuery
		want perViewer
	}{
		{"instance", store.HistoryQuery{Type: "Organization", ID: "sec"}, perViewer{
			none: "[Organization/sec/2]", a: "[Organization/sec/2 Organization/sec/1]", b: "[Organization/sec/3 Organization/sec/2]",
			ab: "[Organization/sec/3 Organization/sec/2 Organization/sec/1]", all: "[Organization/sec/3 Organization/sec/2 Organization/sec/1]"}},
		{"type", store.HistoryQuery{Type: "Organization"}, perViewer{
			none: "[Organization/sec/2 Organization/pub/1]", a: "[Organization/sec/2 Organization/sec/1 Organization/pub/1]",
			b:  "[Organization/sec/3 Organization/sec/2 Organization/pub/1]",
			ab: "[Organization/sec/3 Organization/sec/2 Organization/sec/1 Organization/pub/1]", all: "[Organization/sec/3 Organization/sec/2 Organization/sec/1 Organization/pub/1]"}},
		{"system", store.HistoryQuery{}, perViewer{
			none: "[Organization/sec/2 Organization/pub/1]",
			a:    "[Practitioner/gone/2 Practitioner/gone/1 Organization/sec/2 Organization/sec/1 Organization/pub/1]",
			b:    "[Organization/sec/3 Organization/sec/2 Organization/pub/1]",
			ab:   "[Practitioner/gone/2 Practitioner/gone/1 Organization/sec/3 Organization/sec/2 Organization/sec/1 Organization/pub/1]",
			all:  "[Practitioner/gone/2 Practitioner/gone/1 Organization/sec/3 Organization/sec/2 Organization/sec/1 Organization/pub/1]"}},
		{"deleted instance", store.HistoryQuery{Type: "Practitioner", ID: "gone"}, hiddenFromNone("[]", "[Practitioner/gone/2 Practitioner/gone/1]")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.each(t, func(t *testing.T, v *store.Viewer, want string) {
				q := tt.q
				q.Count, q.WantTotal, q.Viewer = 10, true, v
				page, err := s.History(ctx, q)
				if err != nil {
					t.Fatalf("History: %v", err)
				}
				got := keys(page.Versions)
				if fmt.Sprint(got) != want && !(want == "[]" && len(got) == 0) {
					t.Errorf("History(%+v) = %v; want %s", tt.q, got, want)
				}
				if page.Total != int64(len(got)) {
					t.Errorf("History(%+v) total = %d; want %d", tt.q, page.Total, len(got))
				}
				for _, hv := range page.Versions {
					if hv.Guard != 0 && !hv.Restricted {
						t.Errorf("history entry %s/%d: Guard %d without Restricted", hv.ID, hv.VersionID, hv.Guard)
					}
				}
			})
		})
	}

	rs := s
	read := func(id string, version int64) *store.Version {
		t.Helper()
		typ := "Organization"
		if id == "gone" {
			typ = "Practitioner"
		}
		v, err := s.VRead(ctx, typ, id, version)
		if err != nil {
			t.Fatalf("VRead(%s, %d): %v", id, version, err)
		}
		return v
	}
	cur, err := s.Read(ctx, "Practitioner", "gone")
	if !errors.Is(err, store.ErrGone) || cur.Guard != 1 || !cur.Restricted {
		t.Fatalf("Read(deleted restricted) = %+v, %v; want ErrGone with Guard 1 and Restricted", cur, err)
	}
	visible := []struct {
		name string
		v    *store.Version
		want perViewer
	}{
		{"version restricted to A", read("sec", 1), hiddenFromNone("false", "true")},
		{"unrestricted version", read("sec", 2), perViewer{"true", "true", "true", "true", "true"}},
		{"current version restricted to B", read("sec", 3), perViewer{none: "false", a: "false", b: "true", ab: "true", all: "true"}},
		{"deleted version", cur, hiddenFromNone("false", "true")},
		{"version before the delete", read("gone", 1), hiddenFromNone("false", "true")},
	}
	for _, tt := range visible {
		t.Run("Visible/"+tt.name, func(t *testing.T) {
			tt.want.each(t, func(t *testing.T, v *store.Viewer, want string) {
				ok, err := rs.Visible(ctx, tt.v, v)
				if err != nil || fmt.Sprint(ok) != want {
					t.Errorf("Visible(%s/%d, Guard %d) = %v, %v; want %s", tt.v.ID, tt.v.VersionID, tt.v.Guard, ok, err, want)
				}
			})
		})
	}
}

// testRestrictScan: exports leave out what the viewer may not see,
// deletions included.
func testRestrictScan(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	name := func(n string, r *store.Restriction) *store.Index {
		return &store.Index{Strings: []store.StringValue{{Param: pName, Norm: n, Exact: n}}, Restriction: r}
	}
	put(t, s, "Organization", "pub", t0, name("public", nil))
	put(t, s, "Organization", "sec", t0, name("secret", rootRule(keyA)))
	put(t, s, "Organization", "gone-pub", t0, name("public", nil))
	put(t, s, "Organization", "gone-sec", t0, name("secret", rootRule(keyA)))
	del(t, s, "Organization", "gone-pub", t0.Add(time.Second))
	del(t, s, "Organization", "gone-sec", t0.Add(time.Second))
	tests := []struct {
		name string
		q    store.ExportScan
		want perViewer
	}{
		{"live", store.ExportScan{Type: "Organization"}, hiddenFromNone("[pub]", "[pub sec]")},
		{"live matching", store.ExportScan{Type: "Organization", Cond: store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "secret"}}, hiddenFromNone("[]", "[sec]")},
		{"deleted", store.ExportScan{Type: "Organization", Deleted: true}, hiddenFromNone("[gone-pub]", "[gone-pub gone-sec]")},
	}
	err := s.Snapshot(ctx, func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }, func(snap store.Snapshot) error {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.want.each(t, func(t *testing.T, v *store.Viewer, want string) {
					q := tt.q
					q.Viewer = v
					got := []string{}
					err := snap.Scan(ctx, q, func(sv *store.Version) error {
						got = append(got, sv.ID)
						if (sv.ID == "sec" || sv.ID == "gone-sec") && (sv.Guard != 1 || !sv.Restricted) {
							t.Errorf("scanned %s with Guard %d, Restricted %v; want 1, true", sv.ID, sv.Guard, sv.Restricted)
						}
						return nil
					})
					slices.Sort(got)
					if err != nil || fmt.Sprint(got) != want {
						t.Errorf("Scan(%+v) = %v, %v; want %s", tt.q, got, err, want)
					}
				})
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testRestrictUpdate: a new version's restriction replaces the old one's
// (its keys and guarded rows), and the versions carry Guard and
// Restricted wherever they are read.
func testRestrictUpdate(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	version := func(r *store.Restriction, secret string) *store.Index {
		idx := &store.Index{Strings: []store.StringValue{{Param: pName, Norm: "pat", Exact: "Pat"}}, Restriction: r}
		if secret != "" {
			r.Guarded = []store.GuardedIndex{{Mask: 1, Index: &store.Index{Tokens: []store.TokenValue{{Param: pSecret, Code: secret}}}}}
		}
		return idx
	}
	check := func(step string, cond store.Cond, want perViewer) {
		t.Helper()
		t.Run(step, func(t *testing.T) {
			want.each(t, func(t *testing.T, v *store.Viewer, want string) {
				page := mustSearch(t, s, &store.Query{Types: []string{"Practitioner"}, Where: cond, Count: 10, Viewer: v})
				if got := fmt.Sprint(ids(page)); got != want {
					t.Errorf("Search(%#v) = %s; want %s", cond, got, want)
				}
			})
		})
	}
	byName := store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "pat"}
	secret := func(code string) store.Cond { return store.TokenMatch{Param: pSecret, Code: ptr(code)} }

	put(t, s, "Practitioner", "p", t0, version(rootRule(keyA), "s1"))
	check("restricted/name", byName, hiddenFromNone("[]", "[p]"))
	check("restricted/guarded", secret("s1"), hiddenFromNone("[]", "[p]"))

	put(t, s, "Practitioner", "p", t0, version(nil, ""))
	check("unrestricted/name", byName, perViewer{"[p]", "[p]", "[p]", "[p]", "[p]"})
	check("unrestricted/old guarded value gone", secret("s1"), perViewer{"[]", "[]", "[]", "[]", "[]"})
	if v, err := s.Read(ctx, "Practitioner", "p"); err != nil || v.Guard != 0 || v.Restricted {
		t.Errorf("Read(unrestricted version) = %+v, %v; want Guard 0, not Restricted", v, err)
	}

	put(t, s, "Practitioner", "p", t0, version(rootRule(keyB), "s3"))
	check("restricted again/name", byName, perViewer{none: "[]", a: "[]", b: "[p]", ab: "[p]", all: "[p]"})
	check("restricted again/guarded", secret("s3"), perViewer{none: "[]", a: "[]", b: "[p]", ab: "[p]", all: "[p]"})
	if v, err := s.Read(ctx, "Practitioner", "p"); err != nil || v.Guard != 1 || !v.Restricted || v.VersionID != 3 {
		t.Errorf("Read(restricted version) = %+v, %v; want version 3 with Guard 1, Restricted", v, err)
	}
	// Marked without a root mask: readable by all, shaped per viewer.
	put(t, s, "Practitioner", "m", t0, &store.Index{Restriction: &store.Restriction{Marked: true, Rules: [][]string{{keyA}}}})
	page := mustSearch(t, s, &store.Query{Types: []string{"Practitioner"}, Where: store.IDIs{IDs: []string{"m"}}, Count: 1})
	if len(page.Versions) != 1 || !page.Versions[0].Restricted || page.Versions[0].Guard != 0 {
		t.Errorf("Search(marked, unguarded) = %v; want it, Restricted with Guard 0", keys(page.Versions))
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.CurrentMany(ctx, []store.Key{{Type: "Practitioner", ID: "p"}, {Type: "Practitioner", ID: "m"}})
		if err != nil {
			return err
		}
		if p, m := cur[store.Key{Type: "Practitioner", ID: "p"}], cur[store.Key{Type: "Practitioner", ID: "m"}]; p.Guard != 1 || !p.Restricted || m.Guard != 0 || !m.Restricted {
			return fmt.Errorf("tx.CurrentMany = p %+v, m %+v; want p Guard 1, m Guard 0, both Restricted", p, m)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// testTxRestrict: Tx.Restrict replaces a current version's index rows,
// root, rules and mark, without a new version.
func testTxRestrict(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	put(t, s, "Practitioner", "q", t0, &store.Index{
		Strings: []store.StringValue{{Param: pName, Norm: "quinn", Exact: "Quinn"}},
		Restriction: &store.Restriction{Rules: [][]string{{keyA}, {keyB}}, Marked: true, Guarded: []store.GuardedIndex{
			{Mask: 0b10, Index: &store.Index{Tokens: []store.TokenValue{{Param: pSecret, Code: "q-secret"}}}},
		}},
	})
	viewerAC := &store.Viewer{Keys: []string{keyA, keyC}}
	search := func(cond store.Cond, v *store.Viewer) string {
		t.Helper()
		return fmt.Sprint(ids(mustSearch(t, s, &store.Query{Types: []string{"Practitioner"}, Where: cond, Count: 10, Viewer: v})))
	}
	byName := store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "quinn"}
	secret := store.TokenMatch{Param: pSecret, Code: ptr("q-secret")}
	// q's rows under restriction r: its name, and its secret guarded by
	// rule 1 (when r has rules).
	restrict := func(id string, r *store.Restriction) error {
		idx := &store.Index{Strings: []store.StringValue{{Param: pName, Norm: "quinn", Exact: "Quinn"}}}
		if r != nil && len(r.Rules) > 1 {
			c := *r
			c.Guarded = []store.GuardedIndex{{Mask: 0b10, Index: &store.Index{Tokens: []store.TokenValue{{Param: pSecret, Code: "q-secret"}}}}}
			idx.Restriction = &c
		} else {
			idx.Restriction = r
		}
		return s.Update(ctx, func(tx store.Tx) error { return tx.Restrict(ctx, "Practitioner", id, idx) })
	}
	type probe struct {
		cond store.Cond
		v    *store.Viewer
		want string
	}
	steps := []struct {
		name   string
		r      *store.Restriction
		probes []probe
	}{
		{"before", nil, []probe{{secret, viewerB, "[q]"}, {secret, viewerA, "[]"}, {byName, nil, "[q]"}}},
		{"root restricted, rule 1 changed", &store.Restriction{Root: 1, Rules: [][]string{{keyA}, {keyC}}, Marked: true}, []probe{
			{byName, nil, "[]"}, {byName, viewerA, "[q]"}, {byName, viewerB, "[]"}, {secret, viewerA, "[]"}, {secret, viewerAC, "[q]"}, {secret, viewerAB, "[]"},
		}},
		{"element rule again", &store.Restriction{Rules: [][]string{{keyA}, {keyB}}, Marked: true}, []probe{
			{byName, nil, "[q]"}, {secret, viewerAC, "[]"}, {secret, viewerB, "[q]"}, {secret, store.SeeAll, "[q]"},
		}},
		{"unrestricted", nil, []probe{{byName, nil, "[q]"}, {byName, viewerB, "[q]"}, {secret, viewerB, "[]"}, {secret, store.SeeAll, "[]"}}},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if i > 0 {
				if err := restrict("q", st.r); err != nil {
					t.Fatalf("Restrict: %v", err)
				}
				v, err := s.Read(ctx, "Practitioner", "q")
				want := store.Restriction{}
				if st.r != nil {
					want = *st.r
				}
				if err != nil || v.Guard != want.Root || v.Restricted != want.Marked || v.VersionID != 1 {
					t.Errorf("Read after Restrict = %+v, %v; want version 1, Guard %d, Restricted %v", v, err, want.Root, want.Marked)
				}
			}
			for _, p := range st.probes {
				if got := search(p.cond, p.v); got != p.want {
					t.Errorf("Search(%#v, viewer %+v) = %s; want %s", p.cond, p.v, got, p.want)
				}
			}
		})
	}

	// In the transaction that wrote the version, over its buffered keys.
	err := s.Update(ctx, func(tx store.Tx) error {
		v := &store.Version{Type: "Practitioner", ID: "w", VersionID: 1, LastUpdated: t0, Body: body("Practitioner", "w", 1)}
		if err := tx.Put(ctx, v, &store.Index{Strings: []store.StringValue{{Param: pName, Norm: "wren", Exact: "Wren"}}, Restriction: rootRule(keyA)}); err != nil {
			return err
		}
		if err := tx.Restrict(ctx, "Practitioner", "w", &store.Index{Strings: []store.StringValue{{Param: pName, Norm: "wren", Exact: "Wren"}}, Restriction: rootRule(keyB)}); err != nil {
			return err
		}
		cur, err := tx.Current(ctx, "Practitioner", "w")
		if err != nil || cur.Guard != 1 || !cur.Restricted {
			return fmt.Errorf("current after Restrict = %+v, %v; want Guard 1, Restricted", cur, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wren := store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "wren"}
	if got := search(wren, viewerA); got != "[]" {
		t.Errorf("Search(restricted to B in its writing transaction, viewer A) = %s; want []", got)
	}
	if got := search(wren, viewerB); got != "[w]" {
		t.Errorf("Search(restricted to B in its writing transaction, viewer B) = %s; want [w]", got)
	}
	if err := restrict("nobody", rootRule(keyA)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Restrict(unknown resource) error = %v; want ErrNotFound", err)
	}
	if err := restrict("q", &store.Restriction{Root: -1}); err == nil {
		t.Errorf("Restrict(mask with bit 63) = nil; want an error")
	}
}

// testRestrictSort: results are ordered by the values the viewer may see:
// a value hidden from it never orders them (the resource sorts by what is
// left, or last), and a value a restriction permits it orders them for it.
func testRestrictSort(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	name := func(n string) store.StringValue { return store.StringValue{Param: pName, Norm: n, Exact: n} }
	put(t, s, "Practitioner", "mid", t0, &store.Index{Strings: []store.StringValue{name("mmm")}})
	// Visible to holders of A only, and sorting first for them.
	put(t, s, "Practitioner", "root", t0, &store.Index{Strings: []store.StringValue{name("aaa")}, Restriction: rootRule(keyA)})
	// Visible to all as "zzz"; holders of B also see "bbb".
	put(t, s, "Practitioner", "elem", t0, &store.Index{Strings: []store.StringValue{name("zzz")}, Restriction: &store.Restriction{
		Rules: [][]string{{keyB}}, Marked: true,
		Guarded: []store.GuardedIndex{{Mask: 1, Index: &store.Index{Strings: []store.StringValue{name("bbb")}}}},
	}})
	// Visible to all, its only name hidden from all but holders of B.
	put(t, s, "Practitioner", "nameless", t0, &store.Index{Restriction: &store.Restriction{
		Rules: [][]string{{keyB}}, Marked: true,
		Guarded: []store.GuardedIndex{{Mask: 1, Index: &store.Index{Strings: []store.StringValue{name("ccc")}}}},
	}})
	want := perViewer{
		none: "[mid elem nameless]",
		a:    "[root mid elem nameless]",
		b:    "[elem nameless mid]",
		ab:   "[root elem nameless mid]",
		all:  "[root elem nameless mid]",
	}
	want.each(t, func(t *testing.T, v *store.Viewer, want string) {
		page := mustSearch(t, s, &store.Query{Types: []string{"Practitioner"}, Sort: []store.SortKey{{Param: pName, Kind: store.SortString}}, Count: 10, Viewer: v})
		if got := fmt.Sprint(ids(page)); got != want {
			t.Errorf("sorted by name = %s; want %s", got, want)
		}
	})
}

// testRestrictionChecked: Put refuses a restriction the store cannot
// honour, and stores nothing of it. A root mask or guarded rows need the
// version marked restricted: searches look for guarded rows only in
// restricted versions.
func testRestrictionChecked(t *testing.T, newDB NewDB) {
	guarded := []store.GuardedIndex{{Mask: 1, Index: &store.Index{Tokens: []store.TokenValue{{Param: pSecret, Code: "x"}}}}}
	for _, tt := range []struct {
		name string
		r    *store.Restriction
		ok   bool
	}{
		{"marked, root and guarded rows", &store.Restriction{Root: 1, Rules: [][]string{{keyA}}, Guarded: guarded, Marked: true}, true},
		{"marked, nothing hidden", &store.Restriction{Rules: [][]string{{keyA}}, Marked: true}, true},
		{"root mask, not marked", &store.Restriction{Root: 1, Rules: [][]string{{keyA}}}, false},
		{"guarded rows, not marked", &store.Restriction{Rules: [][]string{{keyA}}, Guarded: guarded}, false},
		{"guarded rows without a mask", &store.Restriction{Rules: [][]string{{keyA}}, Marked: true, Guarded: []store.GuardedIndex{{Index: guarded[0].Index}}}, false},
		{"root mask on bit 63", &store.Restriction{Root: -1 << 63, Marked: true}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newDB(t)()
			t.Cleanup(func() { s.Close() })
			ctx := context.Background()
			err := s.Update(ctx, func(tx store.Tx) error {
				v := &store.Version{Type: "Practitioner", ID: "p", VersionID: 1, LastUpdated: t0, Body: body("Practitioner", "p", 1)}
				return tx.Put(ctx, v, &store.Index{Restriction: tt.r})
			})
			if (err == nil) != tt.ok {
				t.Fatalf("Put = %v; want ok %v", err, tt.ok)
			}
			if _, err := s.Read(ctx, "Practitioner", "p"); tt.ok != (err == nil) {
				t.Errorf("Read after Put = %v; want stored %v", err, tt.ok)
			}
		})
	}
}
