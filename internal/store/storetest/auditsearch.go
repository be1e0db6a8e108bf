package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// AuditEvent parameters as the search package numbers them.
var (
	aAction    = store.ParamID(store.AuditType, "action")
	aOutcome   = store.ParamID(store.AuditType, "outcome")
	aType      = store.ParamID(store.AuditType, "type")
	aSubtype   = store.ParamID(store.AuditType, "subtype")
	aAddress   = store.ParamID(store.AuditType, "address")
	aAgent     = store.ParamID(store.AuditType, "agent")
	aAgentIdt  = store.ParamID(store.AuditType, "agent:identifier")
	aEntity    = store.ParamID(store.AuditType, "entity")
	aEntityIdt = store.ParamID(store.AuditType, "entity:identifier")
	aSourceIdt = store.ParamID(store.AuditType, "source:identifier")
	aDate      = store.ParamID(store.AuditType, "date")
	aPolicy    = store.ParamID(store.AuditType, "policy")
	aProfile   = store.ParamID(store.AuditType, "_profile")
	aSecurity  = store.ParamID(store.AuditType, "_security")
)

// auditRecords are the records the search tests chain, in order.
func auditRecords() []store.AuditItem {
	rest := store.AuditCode{System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest"}
	login := store.AuditCode{System: "http://dicom.nema.org/resources/ontology/DCM", Code: "110114"}
	read := store.AuditCode{System: "http://hl7.org/fhir/restful-interaction", Code: "read"}
	create := store.AuditCode{System: "http://hl7.org/fhir/restful-interaction", Code: "create"}
	base := "https://dir.example/fhir"
	org := store.AuditRef{Type: "Organization", ID: "o1"}
	recs := []store.AuditFields{
		{Recorded: t0, Action: "R", Outcome: "0", Type: rest, Subtype: read, Client: "acme", Address: "192.0.2.1", Source: base,
			Policy: "urn:vhdir:access-token:t1", Profile: "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Read",
			RequestID: "req-1", Refs: []store.AuditRef{org, {Entity: true, Type: "Practitioner", ID: "p1"}}},
		{Recorded: t0.Add(time.Minute), Action: "C", Outcome: "0", Type: rest, Subtype: create, Client: "acme", Address: "192.0.2.1", Source: base,
			Policy: "urn:vhdir:access-token:t1", Profile: "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Create",
			Refs: []store.AuditRef{org, {Entity: true, Type: "Practitioner", ID: "p2"}, {Entity: true, Type: "Practitioner", ID: "p3"}}},
		{Recorded: t0.Add(time.Hour), Action: "R", Outcome: "4", Type: rest, Subtype: read, Client: "beta", Address: "198.51.100.7", Source: base,
			Refs: []store.AuditRef{{Entity: true, Type: "Practitioner", ID: "p1"}, {Entity: true, URL: "https://elsewhere/fhir/Practitioner/p9"}}},
		{Recorded: t0.Add(2 * time.Hour), Action: "E", Outcome: "4", Type: login, Client: "evil", Address: "2001:DB8::1", Source: base},
		{Recorded: t0.Add(3 * time.Hour), Action: "E", Outcome: "8", Type: login, Source: ""},
	}
	items := make([]store.AuditItem, len(recs))
	for i, f := range recs {
		id := fmt.Sprintf("ae%d", i+1)
		items[i] = store.AuditItem{ID: id, Body: body(store.AuditType, id, 1), Fields: f}
	}
	return items
}

func testAuditSearch(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	if _, err := s.AppendAudit(ctx, auditRecords()); err != nil {
		t.Fatal(err)
	}
	put(t, s, "Organization", "o1", t0, &store.Index{Strings: []store.StringValue{{Param: pName, Norm: "acme health", Exact: "Acme Health"}}})
	put(t, s, "Practitioner", "p1", t0, nil)
	put(t, s, "Practitioner", "p2", t0, nil)
	put(t, s, "Practitioner", "p3", t0, nil)
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMicro() }
	tests := []struct {
		name  string
		where store.Cond
		want  string
	}{
		{"everything", nil, "[ae1 ae2 ae3 ae4 ae5]"},
		{"action", store.TokenMatch{Param: aAction, Code: ptr("R")}, "[ae1 ae3]"},
		{"action without a system", store.TokenMatch{Param: aAction, System: ptr(""), Code: ptr("E")}, "[ae4 ae5]"},
		{"action in a system it has not", store.TokenMatch{Param: aAction, System: ptr("x"), Code: ptr("R")}, "[]"},
		{"action or", store.Or{store.TokenMatch{Param: aAction, Code: ptr("C")}, store.TokenMatch{Param: aAction, Code: ptr("E")}}, "[ae2 ae4 ae5]"},
		{"action:not", store.Not{X: store.TokenMatch{Param: aAction, Code: ptr("R")}}, "[ae2 ae4 ae5]"},
		{"outcome", store.TokenMatch{Param: aOutcome, Code: ptr("4")}, "[ae3 ae4]"},
		{"type code", store.TokenMatch{Param: aType, Code: ptr("110114")}, "[ae4 ae5]"},
		{"type system|code", store.TokenMatch{Param: aType, System: ptr("http://terminology.hl7.org/CodeSystem/audit-event-type"), Code: ptr("rest")}, "[ae1 ae2 ae3]"},
		{"type system|", store.TokenMatch{Param: aType, System: ptr("http://dicom.nema.org/resources/ontology/DCM")}, "[ae4 ae5]"},
		{"subtype", store.TokenMatch{Param: aSubtype, System: ptr("http://hl7.org/fhir/restful-interaction"), Code: ptr("create")}, "[ae2]"},
		{"subtype:missing", store.Missing{Param: aSubtype, Table: store.TableToken, Missing: true}, "[ae4 ae5]"},
		{"address prefix", store.StringMatch{Param: aAddress, Mode: store.StringPrefix, Value: "192.0"}, "[ae1 ae2]"},
		{"address prefix, either case", store.StringMatch{Param: aAddress, Mode: store.StringPrefix, Value: "2001:db8"}, "[ae4]"},
		{"address of the server", store.StringMatch{Param: aAddress, Mode: store.StringPrefix, Value: "https://dir"}, "[ae1 ae2 ae3 ae4]"},
		{"address exact", store.StringMatch{Param: aAddress, Mode: store.StringExact, Value: "198.51.100.7", Norm: "198.51.100.7"}, "[ae3]"},
		{"address contains", store.StringMatch{Param: aAddress, Mode: store.StringContains, Value: "100"}, "[ae3]"},
		{"address contains a LIKE wildcard", store.StringMatch{Param: aAddress, Mode: store.StringContains, Value: "_"}, "[]"},
		{"address:missing", store.Missing{Param: aAddress, Table: store.TableString, Missing: true}, "[ae5]"},
		{"agent", store.RefMatch{Param: aAgent, Type: "Organization", ID: "o1"}, "[ae1 ae2]"},
		{"agent by id", store.RefMatch{Param: aAgent, ID: "o1"}, "[ae1 ae2]"},
		{"agent is not an entity", store.RefMatch{Param: aAgent, Type: "Practitioner", ID: "p1"}, "[]"},
		{"agent:missing", store.Missing{Param: aAgent, Table: store.TableRef, Missing: true}, "[ae3 ae4 ae5]"},
		{"agent:identifier client", store.TokenMatch{Param: aAgentIdt, System: ptr(store.AuditClientSystem), Code: ptr("acme")}, "[ae1 ae2]"},
		{"agent:identifier code only", store.TokenMatch{Param: aAgentIdt, Code: ptr("beta")}, "[ae3]"},
		{"agent:identifier server", store.TokenMatch{Param: aAgentIdt, System: ptr(store.AuditURISystem), Code: ptr("https://dir.example/fhir")}, "[ae1 ae2 ae3 ae4]"},
		{"agent:identifier any client", store.TokenMatch{Param: aAgentIdt, System: ptr(store.AuditClientSystem)}, "[ae1 ae2 ae3 ae4]"},
		{"entity", store.RefMatch{Param: aEntity, Type: "Practitioner", ID: "p1"}, "[ae1 ae3]"},
		{"entity by url", store.RefMatch{Param: aEntity, URL: "https://elsewhere/fhir/Practitioner/p9"}, "[ae3]"},
		{"entity by url, none", store.RefMatch{Param: aEntity, URL: "https://elsewhere/Practitioner/p1"}, "[]"},
		{"entity, a record's second", store.RefMatch{Param: aEntity, Type: "Practitioner", ID: "p3"}, "[ae2]"},
		{"entity by id, a record's second", store.RefMatch{Param: aEntity, ID: "p3"}, "[ae2]"},
		{"entity by id", store.RefMatch{Param: aEntity, ID: "p1"}, "[ae1 ae3]"},
		{"entity by id, a LIKE wildcard", store.RefMatch{Param: aEntity, ID: "_1"}, "[]"},
		{"entity:missing", store.Missing{Param: aEntity, Table: store.TableRef, Missing: true}, "[ae4 ae5]"},
		{"entity:identifier", store.TokenMatch{Param: aEntityIdt, Code: ptr("req-1")}, "[ae1]"},
		{"source:identifier", store.TokenMatch{Param: aSourceIdt, System: ptr(store.AuditURISystem), Code: ptr("https://dir.example/fhir")}, "[ae1 ae2 ae3 ae4]"},
		{"date eq, to the millisecond", store.DateMatch{Param: aDate, Op: store.Eq, Lo: ms(time.Hour), Hi: ms(time.Hour) + 999}, "[ae3]"},
		{"date ge", store.DateMatch{Param: aDate, Op: store.Ge, Lo: ms(time.Hour), Hi: ms(time.Hour) + 999}, "[ae3 ae4 ae5]"},
		{"date lt", store.DateMatch{Param: aDate, Op: store.Lt, Lo: ms(time.Hour), Hi: ms(time.Hour) + 999}, "[ae1 ae2]"},
		{"date in a day", store.DateMatch{Param: aDate, Op: store.Eq, Lo: ms(-time.Hour), Hi: ms(90 * time.Minute)}, "[ae1 ae2 ae3]"},
		{"_lastUpdated gt", store.LastUpdated{Op: store.Gt, Lo: t0.Add(time.Hour), Hi: t0.Add(time.Hour)}, "[ae4 ae5]"},
		{"_id", store.IDIs{IDs: []string{"ae2", "ae5", "nope"}}, "[ae2 ae5]"},
		{"policy", store.URIMatch{Param: aPolicy, Mode: store.URIExact, Value: "urn:vhdir:access-token:t1"}, "[ae1 ae2]"},
		{"policy:below", store.URIMatch{Param: aPolicy, Mode: store.URIBelow, Value: "urn:vhdir:access-token:"}, "[ae1 ae2]"},
		{"_profile:above", store.URIMatch{Param: aProfile, Mode: store.URIAbove, Value: "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Read/x"}, "[ae1]"},
		{"policy:missing", store.Missing{Param: aPolicy, Table: store.TableURI, Missing: true}, "[ae3 ae4 ae5]"},
		{"a parameter no record has", store.TokenMatch{Param: aSecurity, Code: ptr("x")}, "[]"},
		{"a parameter no record has:missing", store.Missing{Param: aSecurity, Table: store.TableToken, Missing: true}, "[ae1 ae2 ae3 ae4 ae5]"},
		{"and", store.And{store.TokenMatch{Param: aAction, Code: ptr("R")}, store.TokenMatch{Param: aAgentIdt, Code: ptr("beta")}}, "[ae3]"},
		{"chain agent.name", store.Chain{Param: aAgent, Types: []string{"Organization"}, Where: store.StringMatch{Param: pName, Mode: store.StringPrefix, Value: "acme"}}, "[ae1 ae2]"},
		{"chain entity._id", store.Chain{Param: aEntity, Types: []string{"Practitioner"}, Where: store.IDIs{IDs: []string{"p2"}}}, "[ae2]"},
		{"chain entity._id, a record's second", store.Chain{Param: aEntity, Types: []string{"Practitioner"}, Where: store.IDIs{IDs: []string{"p3"}}}, "[ae2]"},
		{"chain entity._id, either", store.Chain{Param: aEntity, Types: []string{"Practitioner"}, Where: store.IDIs{IDs: []string{"p1", "p3"}}}, "[ae1 ae2 ae3]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := mustSearch(t, s, &store.Query{Types: []string{store.AuditType}, Where: tt.where, Count: 10, Total: store.TotalAccurate})
			got := ids(page)
			if fmt.Sprint(got) != tt.want {
				t.Errorf("AuditEvent search %s = %v; want %s", tt.name, got, tt.want)
			}
			if page.Total != int64(len(got)) {
				t.Errorf("total = %d; want %d", page.Total, len(got))
			}
		})
	}
	for _, v := range mustSearch(t, s, &store.Query{Types: []string{store.AuditType}, Count: 10}).Versions {
		if !bytes.Equal(v.Body, body(store.AuditType, v.ID, 1)) || v.VersionID != 1 {
			t.Errorf("search returned %s as %+v; want its bytes as chained", v.ID, v)
		}
	}
	testAuditSearchPaging(t, s)
	testAuditSearchRelated(t, s)
}

// testAuditSearchPaging: sorted by date, newest first, in pages of two.
func testAuditSearchPaging(t *testing.T, s store.Store) {
	q := &store.Query{Types: []string{store.AuditType}, Count: 2, Sort: []store.SortKey{{Param: aDate, Kind: store.SortDate, Desc: true}}}
	var all []string
	for range 5 {
		page := mustSearch(t, s, q)
		all = append(all, ids(page)...)
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	if fmt.Sprint(all) != "[ae5 ae4 ae3 ae2 ae1]" {
		t.Errorf("AuditEvent?_sort=-date in pages of 2 = %v", all)
	}
	q = &store.Query{Types: []string{store.AuditType}, Count: 10, Sort: []store.SortKey{{Param: aAgentIdt, Kind: store.SortToken}}}
	q.Sort = []store.SortKey{{Kind: store.SortID, Desc: true}}
	if got := ids(mustSearch(t, s, q)); fmt.Sprint(got) != "[ae5 ae4 ae3 ae2 ae1]" {
		t.Errorf("AuditEvent?_sort=-_id = %v", got)
	}
	q.Sort = []store.SortKey{{Param: aOutcome, Kind: store.SortToken, Desc: true}, {Kind: store.SortLastUpdated}}
	if got := ids(mustSearch(t, s, q)); fmt.Sprint(got) != "[ae5 ae3 ae4 ae1 ae2]" {
		t.Errorf("AuditEvent?_sort=-outcome,_lastUpdated = %v", got)
	}
	bad := &store.Query{Types: []string{store.AuditType}, Count: 2, Sort: q.Sort, After: &store.Cursor{Keys: []any{1.5, "x"}}}
	if _, err := s.Search(context.Background(), bad); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("a cursor that does not fit = %v; want ErrBadCursor", err)
	}
}

// testAuditSearchRelated: includes and _has between records and the
// resources they name; records are searched apart from other types.
func testAuditSearchRelated(t *testing.T, s store.Store) {
	ctx := context.Background()
	// _total=accurate is the count of every match, whether the first page
	// holds them all or a later page is asked for.
	all := mustSearch(t, s, &store.Query{Types: []string{store.AuditType}, Count: 1000, Total: store.TotalAccurate})
	if n := int64(len(all.Versions)); all.Total != n || n < 3 {
		t.Fatalf("all records: %d, total %d", n, all.Total)
	}
	q := &store.Query{Types: []string{store.AuditType}, Count: 2, Total: store.TotalAccurate}
	for n := 1; ; n++ {
		p := mustSearch(t, s, q)
		if p.Total != all.Total {
			t.Errorf("page %d of 2 records: total %d; want %d", n, p.Total, all.Total)
		}
		if p.Next == nil || n > 100 {
			break
		}
		q.After = p.Next
	}
	page := mustSearch(t, s, &store.Query{Types: []string{store.AuditType}, Count: 10, Where: store.TokenMatch{Param: aAction, Code: ptr("R")},
		Includes: []store.Include{{Source: store.AuditType, Param: aEntity}, {Source: store.AuditType, Param: aAgent, Targets: []string{"Organization"}}}})
	if got := refs(page.Included); fmt.Sprint(got) != "[Organization/o1 Practitioner/p1]" {
		t.Errorf("_include=AuditEvent:entity&_include=AuditEvent:agent = %v", got)
	}
	page = mustSearch(t, s, &store.Query{Types: []string{store.AuditType}, Count: 10, Where: store.TokenMatch{Param: aAction, Code: ptr("C")},
		Includes: []store.Include{{Source: store.AuditType, Param: aEntity}}})
	if got := refs(page.Included); fmt.Sprint(got) != "[Practitioner/p2 Practitioner/p3]" {
		t.Errorf("AuditEvent?action=C&_include=AuditEvent:entity = %v; want both of its entities", got)
	}
	page = mustSearch(t, s, &store.Query{Types: []string{"Practitioner"}, Count: 10, Where: store.IDIs{IDs: []string{"p1", "p3"}},
		Includes: []store.Include{{Reverse: true, Source: store.AuditType, Param: aEntity}}})
	if got := refs(page.Included); fmt.Sprint(got) != "[AuditEvent/ae1 AuditEvent/ae2 AuditEvent/ae3]" {
		t.Errorf("Practitioner?_id=p1,p3&_revinclude=AuditEvent:entity = %v", got)
	}
	page = mustSearch(t, s, &store.Query{Types: []string{"Practitioner"}, Count: 10, Where: store.IDIs{IDs: []string{"p1"}},
		Includes: []store.Include{{Reverse: true, Source: store.AuditType, Param: aEntity}}})
	if got := refs(page.Included); fmt.Sprint(got) != "[AuditEvent/ae1 AuditEvent/ae3]" {
		t.Errorf("Practitioner?_id=p1&_revinclude=AuditEvent:entity = %v", got)
	}
	page = mustSearch(t, s, &store.Query{Types: []string{"Practitioner"}, Count: 10,
		Where: store.Has{Type: store.AuditType, Param: aEntity, Where: store.TokenMatch{Param: aAction, Code: ptr("C")}}})
	if got := ids(page); fmt.Sprint(got) != "[p2 p3]" {
		t.Errorf("Practitioner?_has:AuditEvent:entity:action=C = %v", got)
	}
	if _, err := s.Search(ctx, &store.Query{Types: []string{store.AuditType, "Practitioner"}, Count: 10}); !errors.Is(err, store.ErrUnsupported) {
		t.Errorf("a search of AuditEvent and Practitioner together = %v; want ErrUnsupported", err)
	}
	// No resource refers to a record: _has inside a record search matches none.
	page = mustSearch(t, s, &store.Query{Types: []string{store.AuditType}, Count: 10, Where: store.Has{Type: "Provenance", Param: 1, Where: store.IDIs{IDs: []string{"x"}}}})
	if got := ids(page); len(got) != 0 {
		t.Errorf("AuditEvent?_has:… = %v; want none", got)
	}
	if page := mustSearch(t, s, &store.Query{Count: 100}); slices.ContainsFunc(page.Versions, func(v *store.Version) bool { return v.Type == store.AuditType }) {
		t.Errorf("a search of every type returned records: %v", refs(page.Versions))
	}
}

// refs are the type/id of versions, sorted.
func refs(vs []*store.Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Type+"/"+v.ID)
	}
	slices.Sort(out)
	return out
}

// testAuditExportSince: an AuditEvent export _since a snapshot's time
// holds exactly the records chained after that snapshot, whatever time
// they were recorded at (records are appended without the export mark).
func testAuditExportSince(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	ctx := context.Background()
	recs := auditRecords()
	if _, err := s.AppendAudit(ctx, recs[:2]); err != nil {
		t.Fatal(err)
	}
	first := t0.Add(24 * time.Hour)
	scan := func(at time.Time, since time.Time, cond store.Cond) (ids []string) {
		t.Helper()
		err := s.Snapshot(ctx, func() time.Time { return at }, func(snap store.Snapshot) error {
			return snap.Scan(ctx, store.ExportScan{Type: store.AuditType, Since: since, Cond: cond}, func(v *store.Version) error {
				if !bytes.Equal(v.Body, body(store.AuditType, v.ID, 1)) {
					t.Errorf("export of %s = %s", v.ID, v.Body)
				}
				ids = append(ids, v.ID)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := scan(first, time.Time{}, nil); fmt.Sprint(got) != "[ae1 ae2]" {
		t.Fatalf("first export = %v", got)
	}
	// Recorded before the first snapshot's time, chained after it.
	if _, err := s.AppendAudit(ctx, recs[2:]); err != nil {
		t.Fatal(err)
	}
	if got := scan(first.Add(time.Hour), first, nil); fmt.Sprint(got) != "[ae3 ae4 ae5]" {
		t.Errorf("export _since the first snapshot = %v; want the 3 records chained after it", got)
	}
	if got := scan(first.Add(2*time.Hour), t0.Add(90*time.Minute), nil); fmt.Sprint(got) != "[ae4 ae5]" {
		t.Errorf("export _since a time no snapshot had = %v; want the records recorded since", got)
	}
	if got := scan(first.Add(3*time.Hour), time.Time{}, store.TokenMatch{Param: aAction, Code: ptr("R")}); fmt.Sprint(got) != "[ae1 ae3]" {
		t.Errorf("export with _typeFilter=AuditEvent?action=R = %v", got)
	}
}
