package audit

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/bulk"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/store"
)

var (
	testSource   = Source{Site: "node-1", FHIRBase: "https://dir.example/fhir", TimeSource: "system clock checked against ntp://time.example:123"}
	testRecorded = time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	acmeCaller   = &interaction.Caller{ClientID: "acme", ClientName: "Acme \"Health\" Plan", Organization: "Organization/acme", OrganizationName: "Acme\u2028Inc", TokenID: "0123456789abcdef"}
)

// recordCases are events of every kind the server records, with the edge
// cases of their text: empty members, escapes, control characters,
// invalid UTF-8.
func recordCases() map[string]*Event {
	v := &store.Version{Type: "Practitioner", ID: "p1", VersionID: 3}
	read := &interaction.Response{Status: http.StatusOK, Version: v, Restriction: interaction.RestrictionNote{Subsetted: []string{"Practitioner/p1"}}}
	search := &interaction.Request{Kind: interaction.SearchType, Type: "Practitioner", Method: "GET", Entry: -1, Query: url.Values{"name": {"ann"}}}
	cases := map[string]*Event{
		"read":                 ForInteraction(&interaction.Request{Kind: interaction.Read, Type: "Practitioner", ID: "p1", Method: "GET", Entry: -1}, read, nil, acmeCaller, "/fhir/Practitioner/p1"),
		"search":               ForInteraction(search, &interaction.Response{Status: 200}, nil, acmeCaller, "/fhir/Practitioner?name=ann"),
		"refused":              ForInteraction(&interaction.Request{Kind: interaction.Create, Type: "Practitioner", Method: "POST", Entry: -1}, nil, fhir.Errorf(422, fhir.IssueInvalid, "bad \x0c thing"), nil, ""),
		"hidden":               ForInteraction(&interaction.Request{Kind: interaction.Read, Type: "Practitioner", ID: "p9", Method: "GET", Entry: -1}, nil, fhir.Errorf(404, fhir.IssueNotFound, "gone").Wrap(interaction.ErrHidden), acmeCaller, "/fhir/Practitioner/p9"),
		"internal":             ForInteraction(&interaction.Request{Kind: interaction.Read, Type: "Spaceship", ID: "a_b", Method: "GET", Entry: 2}, nil, errors.New("boom"), acmeCaller, ""),
		"entry refused":        ForInteraction(&interaction.Request{Entry: 4, Method: "P\xffST"}, nil, fhir.Errorf(400, fhir.IssueInvalid, "no"), acmeCaller, ""),
		"token granted":        ForToken(auth.TokenOutcome{Client: &auth.Registration{ClientID: "acme", Name: "Acme", Organization: "Organization/acme"}, Address: "192.0.2.1", Status: 200, Scope: "system/*.rs", TokenID: "tok"}),
		"token refused":        ForToken(auth.TokenOutcome{ClaimedClient: "evil\x00id", Address: "192.0.2.1", Status: 400, Error: "invalid_client", Description: "no", Reason: strings.Repeat("é", 3000)}),
		"token unknown client": ForToken(auth.TokenOutcome{Address: "192.0.2.1", Status: 429, Error: "invalid_request"}),
		"registration":         ForRegistration("add", &auth.Registration{ClientID: "acme", Name: "Acme", Organization: "Organization/acme", Scope: "system/*.rs", Roles: []string{"a", "b"}}, &interaction.Caller{ClientID: "operator:alice", ClientName: "operator alice", Address: "host"}),
		"load":                 ForLoad(&interaction.Caller{ClientID: "operator:alice", Address: "host"}, "a.ndjson", map[string]int{"Practitioner": 3, "Organization": 1}, 2),
		"export download":      ForExport(bulk.Record{Kind: bulk.Download, Job: "j1", File: "https://dir.example/fhir/$export-file/j1/0.ndjson", FileType: "Practitioner", Count: 10, Subsetted: 2, Status: 200}, acmeCaller),
		"export kick-off":      ForExport(bulk.Record{Kind: bulk.KickOff, Job: "j1", Method: "POST", URI: "/fhir/$export", Body: []byte(`{"resourceType":"Parameters"}`), Types: []string{"Practitioner"}, Status: 202}, acmeCaller),
		// No constructor makes these: the shape of empty members only.
		"shape: bare":                 {},
		"shape: empty coding members": {Type: Coding{Code: "x"}, Subtype: Coding{System: "s", Code: "c"}, Client: &interaction.Caller{}, Entities: []Entity{{Detail: []Detail{{}, {Type: "t"}, {Value: "v"}}}}},
	}
	for _, e := range ForChanges(&interaction.Request{Kind: interaction.Transaction}, []*directory.Change{
		{Action: directory.Created, Type: "Organization", ID: "o1", Version: &store.Version{VersionID: 1}},
		{Action: directory.Absent, Type: "Practitioner"},
		{Action: directory.Updated, Type: "Provenance", ID: "x", Version: &store.Version{VersionID: 1}},
	}, acmeCaller) {
		cases["change "+e.Subtype.Code+" "+e.Entities[0].Description] = e
	}
	cases["read"].RequestID, cases["read"].Address = "req-1", "198.51.100.7"
	return cases
}

// TestRecordBytes: the bytes a record is written as are, byte for byte,
// the AuditEvent built as a tree (element order, members left out when
// empty, escapes), and a valid R4 resource, for every kind of record.
func TestRecordBytes(t *testing.T) {
	for name, e := range recordCases() {
		t.Run(name, func(t *testing.T) {
			for _, src := range []Source{testSource, {}} {
				got := e.appendRecord(nil, src, "01a2b3c4-d5e6-7f80-9a0b-1c2d3e4f5a6b", testRecorded)
				want := e.tree(src, "01a2b3c4-d5e6-7f80-9a0b-1c2d3e4f5a6b", testRecorded)
				if !bytes.Equal(got, want) {
					t.Fatalf("appendRecord =\n%s\nwant (the tree)\n%s", got, want)
				}
				if src == testSource && !strings.HasPrefix(name, "shape: ") {
					if _, err := fhir.ParseResource(got); err != nil {
						t.Errorf("the record is not a valid resource: %v\n%s", err, got)
					}
				}
			}
		})
	}
}

// FuzzRecord: whatever text a request puts in a record's members, the
// bytes written are the tree's.
func FuzzRecord(f *testing.F) {
	f.Add("acme", "Acme", "Organization/acme", "a desc", "name\x00", "detail", "198.51.100.7", "GET /fhir/x?y=\xff")
	f.Fuzz(func(t *testing.T, client, clientName, org, desc, name, detail, address, query string) {
		e := &Event{Type: typeRest, Subtype: Coding{sysRestful, name, desc}, Action: "R", Outcome: Success, OutcomeDesc: desc, Profile: name,
			Client:        &interaction.Caller{ClientID: client, ClientName: clientName, Organization: org, OrganizationName: name, TokenID: client},
			ClaimedClient: clientName, Address: address, RequestID: address,
			Entities: []Entity{{What: org, Type: Coding{Code: "2"}, Name: name, Description: desc, Detail: []Detail{{detail, desc}}}, queryEntity(query, desc)}}
		src := Source{Site: name, FHIRBase: address, TimeSource: desc}
		got := e.appendRecord(nil, src, client, testRecorded)
		if want := e.tree(src, client, testRecorded); !bytes.Equal(got, want) {
			t.Fatalf("appendRecord =\n%s\nwant (the tree)\n%s", got, want)
		}
		checkEventFields(t, e, src)
	})
}

// TestFieldsOfRecord: the fields a record is searched by, computed from
// the event, are those read back from its bytes, for every kind of record.
func TestFieldsOfRecord(t *testing.T) {
	for name, e := range recordCases() {
		t.Run(name, func(t *testing.T) {
			for _, src := range []Source{testSource, {}} {
				checkEventFields(t, e, src)
			}
		})
	}
}

func checkEventFields(t *testing.T, e *Event, src Source) {
	t.Helper()
	body := e.appendRecord(nil, src, "id-1", testRecorded)
	want, err := store.AuditFieldsOf(body)
	if err != nil {
		t.Fatalf("AuditFieldsOf: %v\n%s", err, body)
	}
	if got := e.fields(src, testRecorded); !reflect.DeepEqual(got, want) {
		t.Fatalf("fields =\n%+v\nread from the record\n%+v\n%s", got, want, body)
	}
}
