package bulk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// TestExportEverything exports the IG examples and checks the manifest,
// every file's lines against the stored resources, gzip, and the audit
// records of each step.
func TestExportEverything(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		want := s.seed()
		before := time.Now().UTC().Add(-time.Second)
		status := s.kickoff("c1", "/fhir/$export")
		m := s.wait("c1", status)
		if !m.RequiresAccessToken || m.Request != s.base+"/fhir/$export" {
			t.Errorf("manifest request %q, requiresAccessToken %v", m.Request, m.RequiresAccessToken)
		}
		tt, err := time.Parse(time.RFC3339Nano, m.TransactionTime)
		if err != nil || tt.Before(before) || tt.After(time.Now().Add(time.Second)) {
			t.Errorf("transactionTime %q: %v", m.TransactionTime, err)
		}
		if m.Deleted != nil || len(m.Error) != 0 {
			t.Errorf("deleted %v, error %v: want none without _since", m.Deleted, m.Error)
		}
		got := map[string]int{}
		for _, it := range m.Output {
			lines := s.lines("c1", it)
			got[it.Type] += len(lines)
			for _, l := range lines {
				// Each line is the stored resource, byte for byte, or
				// what c1 may see of a restricted one.
				var r struct{ ID string }
				_ = json.Unmarshal(l, &r)
				v, err := s.store.Read(context.Background(), it.Type, r.ID)
				want := v.Body
				if err == nil && v.Restricted {
					want, _, _, err = (&interaction.Viewer{Organization: "Organization/org-c1"}).Body(v)
				}
				if err != nil || !bytes.Equal(want, l) {
					t.Fatalf("%s/%s: the line differs from the stored resource (%v)", it.Type, r.ID, err)
				}
			}
			if z := s.gunzip("c1", it.URL); !bytes.Equal(z, joinLines(lines)) {
				t.Errorf("%s: gzip download differs from the plain one", it.URL)
			}
		}
		delete(got, "Provenance") // written by the load itself
		delete(want, "Provenance")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("exported %v\nwant %v", got, want)
		}

		// Audit: the kick-off with its query and types, the polls, the
		// downloads with their file.
		kick := s.auditEvents("export")
		if len(kick) != 1 || kick[0]["outcome"] != "0" || kick[0]["action"] != "E" {
			t.Fatalf("kick-off records: %v", kick)
		}
		if !strings.Contains(fmt.Sprint(kick[0]["entity"]), "types: ") || !strings.Contains(fmt.Sprint(kick[0]["agent"]), "c1") {
			t.Errorf("kick-off record: %v", kick[0])
		}
		if n := len(s.auditEvents("export-status")); n < 1 {
			t.Errorf("%d status records", n)
		}
		downloads := s.auditEvents("export-download")
		if len(downloads) != 2*len(m.Output) {
			t.Errorf("%d download records for %d downloads", len(downloads), 2*len(m.Output))
		}
		if !strings.Contains(fmt.Sprint(downloads[0]["entity"]), "$export-file/") {
			t.Errorf("download record names no file: %v", downloads[0]["entity"])
		}
	})
}

func joinLines(lines [][]byte) []byte {
	var b []byte
	for _, l := range lines {
		b = append(b, l...)
		b = append(b, '\n')
	}
	return b
}

// TestExportSelect covers _type, type-level kick-off, _typeFilter, POST
// with a Parameters body, _elements and file splitting.
func TestExportSelect(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		want := s.seed()
		search := func(q string) map[string]bool { return s.searchIDs("c1", q) }
		t.Run("_type", func(t *testing.T) {
			m := s.wait("c1", s.kickoff("c1", "/fhir/$export?_type=Practitioner,Location"))
			got := map[string]int{}
			for _, it := range m.Output {
				got[it.Type] += it.Count
			}
			if fmt.Sprint(got) != fmt.Sprint(map[string]int{"Location": want["Location"], "Practitioner": want["Practitioner"]}) {
				t.Errorf("got %v", got)
			}
		})
		t.Run("type level", func(t *testing.T) {
			m := s.wait("c1", s.kickoff("c1", "/fhir/Organization/$export"))
			if len(m.Output) != 1 || m.Output[0].Type != "Organization" || m.Output[0].Count != want["Organization"] {
				t.Errorf("output %v, want %d Organizations", m.Output, want["Organization"])
			}
		})
		t.Run("_typeFilter", func(t *testing.T) {
			filter := url.QueryEscape("Location?address-state=DC") + "," + url.QueryEscape("Location?address-city=Ann Arbor,Boston")
			m := s.wait("c1", s.kickoff("c1", "/fhir/$export?_type=Location,Endpoint&_typeFilter="+filter))
			wantIDs := search("Location?address-state=DC")
			for id := range search("Location?address-city=" + url.QueryEscape("Ann Arbor,Boston")) {
				wantIDs[id] = true
			}
			got := map[string]bool{}
			sawEndpoint := false
			for _, it := range m.Output {
				if it.Type == "Endpoint" {
					sawEndpoint = it.Count == want["Endpoint"]
					continue
				}
				for id := range ids(s.lines("c1", it)) {
					got[id] = true
				}
			}
			if len(wantIDs) == 0 || len(wantIDs) == want["Location"] || fmt.Sprint(got) != fmt.Sprint(wantIDs) {
				t.Errorf("filtered Locations %v, want %v (of %d)", got, wantIDs, want["Location"])
			}
			if !sawEndpoint {
				t.Errorf("Endpoints (unfiltered) not all exported: %v", m.Output)
			}
		})
		t.Run("POST Parameters", func(t *testing.T) {
			body := `{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Endpoint"},{"name":"_outputFormat","valueString":"application/fhir+ndjson"}]}`
			r := s.do("POST", "/fhir/$export", "c1", async, body)
			if r.status != http.StatusAccepted {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			m := s.wait("c1", r.header.Get("Content-Location"))
			if len(m.Output) != 1 || m.Output[0].Type != "Endpoint" || m.Request != s.base+"/fhir/$export" {
				t.Errorf("manifest %+v", m)
			}
		})
		t.Run("POST with the parameters in the URL", func(t *testing.T) {
			r := s.do("POST", "/fhir/$export?_type=Endpoint", "c1", async, "")
			if r.status != http.StatusAccepted {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if m := s.wait("c1", r.header.Get("Content-Location")); len(m.Output) != 1 || m.Output[0].Type != "Endpoint" {
				t.Errorf("manifest %+v", m)
			}
		})
		t.Run("_elements", func(t *testing.T) {
			m := s.wait("c1", s.kickoff("c1", "/fhir/$export?_type=Practitioner&_elements=identifier,Organization.name"))
			for _, l := range s.lines("c1", m.Output[0]) {
				var r map[string]any
				_ = json.Unmarshal(l, &r)
				for k := range r {
					if k != "resourceType" && k != "id" && k != "meta" && k != "identifier" {
						t.Fatalf("_elements=identifier kept %s: %s", k, l)
					}
				}
				if !strings.Contains(string(l), `"SUBSETTED"`) {
					t.Fatalf("no SUBSETTED tag: %s", l)
				}
			}
		})
	})
}

// TestExportSplitsFiles writes files of at most FileSize bytes.
func TestExportSplitsFiles(t *testing.T) {
	s := newStack(t, testdb.All[0].Fresh(t), clock.System{}, func(c *server.Export) { c.FileSize = 4096 })
	s.start()
	want := s.seed()
	m := s.wait("c1", s.kickoff("c1", "/fhir/$export?_type=Practitioner"))
	total := 0
	for _, it := range m.Output {
		lines := s.lines("c1", it)
		if len(joinLines(lines)) > 4096 && len(lines) > 1 {
			t.Errorf("%s: %d bytes in %d lines, over the 4096-byte split", it.URL, len(joinLines(lines)), len(lines))
		}
		total += len(lines)
	}
	if len(m.Output) < 2 || total != want["Practitioner"] {
		t.Errorf("%d files, %d lines; want several files, %d lines", len(m.Output), total, want["Practitioner"])
	}
}

// TestExportSince: a delta export lists what changed after the previous
// export's transactionTime, and the deletions.
func TestExportSince(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		s.put("Endpoint", "e1", `{"resourceType":"Endpoint","id":"e1","status":"active","connectionType":{"code":"hl7-fhir-rest"},"payloadType":[{"text":"any"}],"address":"https://e1.example.org/fhir"}`)
		s.put("Endpoint", "e2", `{"resourceType":"Endpoint","id":"e2","status":"active","connectionType":{"code":"hl7-fhir-rest"},"payloadType":[{"text":"any"}],"address":"https://e2.example.org/fhir"}`)
		s.put("Endpoint", "e3", `{"resourceType":"Endpoint","id":"e3","status":"active","connectionType":{"code":"hl7-fhir-rest"},"payloadType":[{"text":"any"}],"address":"https://e3.example.org/fhir"}`)
		first := s.wait("c1", s.kickoff("c1", "/fhir/$export?_type=Endpoint"))
		if len(first.Output) != 1 || first.Output[0].Count != 3 {
			t.Fatalf("first export: %+v", first.Output)
		}
		s.put("Endpoint", "e1", `{"resourceType":"Endpoint","id":"e1","status":"off","connectionType":{"code":"hl7-fhir-rest"},"payloadType":[{"text":"any"}],"address":"https://e1.example.org/fhir"}`)
		s.put("Endpoint", "e4", `{"resourceType":"Endpoint","id":"e4","status":"active","connectionType":{"code":"hl7-fhir-rest"},"payloadType":[{"text":"any"}],"address":"https://e4.example.org/fhir"}`)
		if r := s.do("DELETE", "/fhir/Endpoint/e2", "writer", nil, ""); r.status != 200 && r.status != 204 {
			t.Fatalf("delete: %d %s", r.status, r.raw)
		}
		delta := s.wait("c1", s.kickoff("c1", "/fhir/$export?_type=Endpoint&_since="+url.QueryEscape(first.TransactionTime)))
		if len(delta.Output) != 1 {
			t.Fatalf("delta output %+v", delta.Output)
		}
		if got := ids(s.lines("c1", delta.Output[0])); fmt.Sprint(got) != fmt.Sprint(map[string]bool{"e1": true, "e4": true}) {
			t.Errorf("delta exported %v, want e1 and e4", got)
		}
		if len(delta.Deleted) != 1 || delta.Deleted[0].Count != 1 || delta.Deleted[0].Type != "Bundle" {
			t.Fatalf("deleted %+v", delta.Deleted)
		}
		r := s.do("GET", delta.Deleted[0].URL, "c1", nil, "")
		var b struct {
			ResourceType, Type string
			Entry              []struct {
				Request struct{ Method, URL string }
			}
		}
		if err := json.Unmarshal(bytes.TrimSpace(r.raw), &b); err != nil || b.ResourceType != "Bundle" || b.Type != "transaction" ||
			len(b.Entry) != 1 || b.Entry[0].Request.Method != "DELETE" || b.Entry[0].Request.URL != "Endpoint/e2" {
			t.Errorf("deleted file: %s (%v)", r.raw, err)
		}
		// Nothing changed since the delta: the next one is empty.
		last := s.wait("c1", s.kickoff("c1", "/fhir/$export?_type=Endpoint&_since="+url.QueryEscape(delta.TransactionTime)))
		if len(last.Output) != 0 || len(last.Deleted) != 0 {
			t.Errorf("export since the delta: %+v", last)
		}
	})
}

// TestExportNoGapsUnderWrites: while writers create resources without a
// pause, a full export and then delta exports chained by transactionTime
// together contain every resource (none is lost between snapshots).
func TestExportNoGapsUnderWrites(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var mu sync.Mutex
		written := map[string]bool{}
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					id := fmt.Sprintf("w%d-%d", w, i)
					body := fmt.Sprintf(`{"resourceType":"Endpoint","id":%q,"status":"active","connectionType":{"code":"hl7-fhir-rest"},"payloadType":[{"text":"any"}],"address":"https://x.example.org/%s"}`, id, id)
					r := s.do("PUT", "/fhir/Endpoint/"+id, "writer", nil, body)
					if r.status != 201 {
						t.Errorf("PUT: %d %s", r.status, r.raw)
						return
					}
					mu.Lock()
					written[id] = true
					mu.Unlock()
				}
			}()
		}
		seen := map[string]bool{}
		since := ""
		for round := range 4 {
			if round == 3 {
				stop() // the last delta runs after the writers stopped
				wg.Wait()
			}
			path := "/fhir/$export?_type=Endpoint"
			if since != "" {
				path += "&_since=" + url.QueryEscape(since)
			}
			m := s.wait("c1", s.kickoff("c1", path))
			for _, it := range m.Output {
				for id := range ids(s.lines("c1", it)) {
					seen[id] = true
				}
			}
			since = m.TransactionTime
		}
		stop()
		wg.Wait()
		missing := 0
		for id := range written {
			if !seen[id] {
				missing++
			}
		}
		if missing > 0 || len(written) < 10 {
			t.Errorf("%d of %d written resources are in no export", missing, len(written))
		}
	})
}

// TestExportCancel: DELETE on the status URL removes the job and its
// files.
func TestExportCancel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		s.seed()
		status := s.kickoff("c1", "/fhir/$export?_type=Practitioner")
		m := s.wait("c1", status)
		if r := s.do("DELETE", status, "c2", nil, ""); r.status != 404 {
			t.Errorf("another client's cancel: %d", r.status)
		}
		if r := s.do("DELETE", status, "c1", nil, ""); r.status != http.StatusAccepted {
			t.Fatalf("cancel: %d %s", r.status, r.raw)
		}
		if r := s.do("GET", status, "c1", nil, ""); r.status != 404 {
			t.Errorf("status after cancel: %d", r.status)
		}
		if r := s.do("GET", m.Output[0].URL, "c1", nil, ""); r.status != 404 {
			t.Errorf("download after cancel: %d", r.status)
		}
		if r := s.do("DELETE", status, "c1", nil, ""); r.status != 404 {
			t.Errorf("second cancel: %d", r.status)
		}
		if n := len(s.auditEvents("export-cancel")); n != 3 {
			t.Errorf("%d cancel records, want 3", n)
		}
		// Cancelling a queued job: the workers never run it.
		s.halt()
		status = s.kickoff("c1", "/fhir/$export?_type=Practitioner")
		if r := s.do("DELETE", status, "c1", nil, ""); r.status != http.StatusAccepted {
			t.Fatalf("cancel queued: %d", r.status)
		}
		id := status[strings.LastIndex(status, "/")+1:]
		if _, err := s.store.ExportJob(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("cancelled job still stored: %v", err)
		}
	})
}

// TestExportRestart: a job whose node stopped mid-way is taken over once
// its lease ends, and one handed back at shutdown restarts at once.
func TestExportRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		want := s.seed()
		s.halt()
		status := s.kickoff("c1", "/fhir/$export?_type=Practitioner")
		es := s.store
		// A node claims the job, writes a stray chunk and dies.
		now := time.Now()
		j, err := es.ClaimExportJob(context.Background(), "dead-node", now, now.Add(300*time.Millisecond))
		if err != nil || j == nil {
			t.Fatalf("claim: %v %v", j, err)
		}
		if err := es.AddExportChunk(context.Background(), "dead-node", store.ExportFile{Job: j.ID, N: 0, Type: "Practitioner", Kind: "output"}, 0, []byte("{\"half\n")); err != nil {
			t.Fatal(err)
		}
		if r := s.do("GET", status, "c1", nil, ""); r.status != http.StatusAccepted {
			t.Fatalf("status of the orphaned job: %d", r.status)
		}
		s.start()
		m := s.wait("c1", status)
		if len(m.Output) != 1 || m.Output[0].Count != want["Practitioner"] {
			t.Fatalf("after takeover: %+v", m.Output)
		}
		s.lines("c1", m.Output[0]) // every line a Practitioner: the stray chunk is gone
		j, _ = es.ExportJob(context.Background(), j.ID)
		if j.Attempts != 2 {
			t.Errorf("attempts %d, want 2", j.Attempts)
		}
	})
}

// TestExportRefusals covers authorization and malformed kick-offs: each
// gets its OperationOutcome with the right status and starts nothing.
func TestExportRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		s.seed()
		tests := []struct {
			name, method, path, scope, body string
			header                          http.Header
			status                          int
		}{
			{name: "no Prefer: respond-async", method: "GET", path: "/fhir/$export", header: http.Header{}, status: 400},
			{name: "Accept XML", method: "GET", path: "/fhir/$export", header: http.Header{"Prefer": {"respond-async"}, "Accept": {"application/fhir+xml"}}, status: 400},
			{name: "unknown _outputFormat", method: "GET", path: "/fhir/$export?_outputFormat=text/csv", status: 400},
			{name: "_since not an instant", method: "GET", path: "/fhir/$export?_since=yesterday", status: 400},
			{name: "_since without zone", method: "GET", path: "/fhir/$export?_since=2026-01-01T00:00:00", status: 400},
			{name: "_since twice", method: "GET", path: "/fhir/$export?_since=2026-01-01T00:00:00Z&_since=2026-01-02T00:00:00Z", status: 400},
			{name: "unknown _type", method: "GET", path: "/fhir/$export?_type=Patient", status: 400},
			{name: "unsupported parameter", method: "GET", path: "/fhir/$export?patient=Patient/1", status: 400},
			{name: "_typeFilter without type", method: "GET", path: "/fhir/$export?_typeFilter=active%3Dtrue", status: 400},
			{name: "_typeFilter unknown parameter", method: "GET", path: "/fhir/$export?_typeFilter=" + url.QueryEscape("Practitioner?colour=blue"), status: 400},
			{name: "_typeFilter result parameter", method: "GET", path: "/fhir/$export?_typeFilter=" + url.QueryEscape("Practitioner?_sort=name"), status: 400},
			{name: "_elements unknown", method: "GET", path: "/fhir/$export?_type=Practitioner&_elements=colour", status: 400},
			{name: "type level with another _type", method: "GET", path: "/fhir/Practitioner/$export?_type=Location", status: 400},
			{name: "type level unknown type", method: "GET", path: "/fhir/Patient/$export", status: 404},
			{name: "POST not Parameters", method: "POST", path: "/fhir/$export", body: `{"resourceType":"Practitioner"}`, status: 400},
			{name: "POST not JSON", method: "POST", path: "/fhir/$export", body: `_type=Practitioner`, status: 400},
			{name: "PUT", method: "PUT", path: "/fhir/$export", status: 405},
			{name: "type not readable", method: "GET", path: "/fhir/$export?_type=Practitioner", scope: "system/Location.rs", status: 403},
			{name: "type level not readable", method: "GET", path: "/fhir/Practitioner/$export", scope: "system/Location.rs", status: 403},
			{name: "nothing readable", method: "GET", path: "/fhir/$export", scope: "system/Practitioner.c", status: 403},
		}
		jobsBefore := len(s.auditEvents("export"))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := tt.header
				if h == nil {
					h = async.Clone()
				}
				if tt.scope != "" {
					h = h.Clone()
					h.Set("X-Test-Scope", tt.scope)
				}
				r := s.do(tt.method, tt.path, "c1", h, tt.body)
				if r.status != tt.status || r.body["resourceType"] != "OperationOutcome" {
					t.Errorf("%d %s, want %d with an OperationOutcome", r.status, r.raw, tt.status)
				}
				if r.header.Get("Content-Location") != "" {
					t.Errorf("a refused kick-off gave a status URL")
				}
			})
		}
		if r := s.do("GET", "/fhir/$export", "", async, ""); r.status != 401 {
			t.Errorf("kick-off without a token: %d", r.status)
		}
		// Every refusal is recorded, as a failure.
		recs := s.auditEvents("export")[jobsBefore:]
		if len(recs) != len(tests) {
			t.Errorf("%d kick-off records for %d refusals", len(recs), len(tests))
		}
		for _, r := range recs {
			if r["outcome"] == "0" || r["outcomeDesc"] == nil {
				t.Errorf("refusal recorded as %v: %v", r["outcome"], r["outcomeDesc"])
			}
		}
	})
}

// TestExportLenient: with Prefer: handling=lenient, what cannot be served
// is left out and explained in the error file.
func TestExportLenient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		want := s.seed()
		h := http.Header{"Prefer": {"respond-async, handling=lenient"}, "X-Test-Scope": {"system/Location.rs system/Endpoint.rs"}}
		r := s.do("GET", "/fhir/$export?_type=Location,Practitioner,Patient&patient=Patient/1", "c1", h, "")
		if r.status != http.StatusAccepted {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		m := s.wait("c1", r.header.Get("Content-Location"))
		if len(m.Output) != 1 || m.Output[0].Type != "Location" || m.Output[0].Count != want["Location"] {
			t.Errorf("output %+v", m.Output)
		}
		if len(m.Error) != 1 || m.Error[0].Type != "OperationOutcome" || m.Error[0].Count != 3 {
			t.Fatalf("error %+v", m.Error)
		}
		notes := string(s.do("GET", m.Error[0].URL, "c1", nil, "").raw)
		for _, want := range []string{"Practitioner", "Patient", "patient"} {
			if !strings.Contains(notes, want) {
				t.Errorf("error file does not mention %s: %s", want, notes)
			}
		}
		// Without _type, only what the token reads is exported.
		h.Set("Prefer", "respond-async")
		r = s.do("GET", "/fhir/$export", "c1", h, "")
		m = s.wait("c1", r.header.Get("Content-Location"))
		for _, it := range m.Output {
			if it.Type != "Location" && it.Type != "Endpoint" {
				t.Errorf("exported %s, which the token cannot read", it.Type)
			}
		}
	})
}

// TestExportLenientTypeFilter: under Prefer: handling=lenient, what a
// _typeFilter query asks that the server does not support is ignored and
// noted, as other unsupported kick-off parameters are; the rest of the
// query still filters. Strict handling refuses the kick-off.
func TestExportLenientTypeFilter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		want := s.seed()
		dc := s.searchIDs("c1", "Location?address-state=DC")
		if len(dc) == 0 || len(dc) == want["Location"] {
			t.Fatalf("address-state=DC matches %d of %d Locations; the test needs a proper subset", len(dc), want["Location"])
		}
		filters := []string{"Location?address-state=DC&colour=blue", "Practitioner?colour=red", "Patient?name=x"}
		var enc []string
		for _, f := range filters {
			enc = append(enc, url.QueryEscape(f))
		}
		path := "/fhir/$export?_type=Location,Practitioner&_typeFilter=" + strings.Join(enc, ",")
		if r := s.do("GET", path, "c1", async, ""); r.status != http.StatusBadRequest || !strings.Contains(string(r.raw), "colour") {
			t.Errorf("strict kick-off: %d %s; want 400 naming colour", r.status, r.raw)
		}
		r := s.do("GET", path, "c1", http.Header{"Prefer": {"respond-async, handling=lenient"}}, "")
		if r.status != http.StatusAccepted {
			t.Fatalf("lenient kick-off: %d %s; want 202", r.status, r.raw)
		}
		m := s.wait("c1", r.header.Get("Content-Location"))
		got := map[string]map[string]bool{}
		for _, it := range m.Output {
			got[it.Type] = ids(s.lines("c1", it))
		}
		// colour is dropped from the Location query, which still filters;
		// nothing is left of the Practitioner query, so every Practitioner
		// is exported; Patient is not served, and its query is ignored.
		if fmt.Sprint(got["Location"]) != fmt.Sprint(dc) {
			t.Errorf("exported Locations %v; want those with address-state=DC %v", got["Location"], dc)
		}
		if len(got["Practitioner"]) != want["Practitioner"] {
			t.Errorf("exported %d Practitioners; want all %d", len(got["Practitioner"]), want["Practitioner"])
		}
		if len(m.Error) != 1 || m.Error[0].Type != "OperationOutcome" || m.Error[0].Count != len(filters) {
			t.Fatalf("error %+v; want one OperationOutcome file of %d lines", m.Error, len(filters))
		}
		notes := diagnostics(s.lines("c1", m.Error[0]))
		for i, want := range [][]string{
			{"Location?address-state=DC&colour=blue", `"colour"`, "address-state=DC"},
			{"Practitioner?colour=red", `"colour"`, "Practitioner is exported unfiltered"},
			{"Patient?name=x", "Patient", "not a resource type served here"},
		} {
			for _, w := range want {
				if !strings.Contains(notes[i], w) {
					t.Errorf("error line %d %q; want it to mention %s", i, notes[i], w)
				}
			}
		}
	})
}

// TestExportOnlyItsClient: status and files answer only the client that
// started the job; others get 404, as if it did not exist.
func TestExportOnlyItsClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		s.seed()
		status := s.kickoff("c1", "/fhir/$export?_type=Location")
		m := s.wait("c1", status)
		for _, u := range []string{status, m.Output[0].URL} {
			if r := s.do("GET", u, "c2", nil, ""); r.status != 404 {
				t.Errorf("%s as another client: %d", u, r.status)
			}
			if r := s.do("GET", u, "", nil, ""); r.status != 401 {
				t.Errorf("%s without a token: %d", u, r.status)
			}
		}
		for _, u := range []string{m.Output[0].URL + "x", strings.Replace(m.Output[0].URL, "/0.ndjson", "/7.ndjson", 1), s.base + "/fhir/$export-status/nope"} {
			if r := s.do("GET", u, "c1", nil, ""); r.status != 404 || r.body["resourceType"] != "OperationOutcome" {
				t.Errorf("%s: %d %s", u, r.status, r.raw)
			}
		}
		if r := s.do("GET", m.Output[0].URL, "c1", http.Header{"Accept": {"text/csv"}}, ""); r.status != 406 {
			t.Errorf("download with Accept text/csv: %d", r.status)
		}
	})
}

// TestExportScopedByQuery: a v2 scope with a query exports only what the
// query admits.
func TestExportScopedByQuery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		s.put("Endpoint", "on", `{"resourceType":"Endpoint","id":"on","status":"active","connectionType":{"code":"hl7-fhir-rest"},"payloadType":[{"text":"any"}],"address":"https://on.example.org/fhir"}`)
		s.put("Endpoint", "off", `{"resourceType":"Endpoint","id":"off","status":"off","connectionType":{"code":"hl7-fhir-rest"},"payloadType":[{"text":"any"}],"address":"https://off.example.org/fhir"}`)
		h := async.Clone()
		h.Set("X-Test-Scope", "system/Endpoint.rs?status=active")
		r := s.do("GET", "/fhir/$export?_type=Endpoint", "c1", h, "")
		if r.status != http.StatusAccepted {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		m := s.wait("c1", r.header.Get("Content-Location"))
		if len(m.Output) != 1 || fmt.Sprint(ids(s.lines("c1", m.Output[0]))) != fmt.Sprint(map[string]bool{"on": true}) {
			t.Errorf("scoped export: %+v", m.Output)
		}
	})
}

// blockingSnapshots holds every snapshot until its context ends, as a
// job still running at shutdown would be.
type blockingSnapshots struct {
	store.Store
	started chan struct{}
}

func (b *blockingSnapshots) Snapshot(ctx context.Context, now func() time.Time, fn func(store.Snapshot) error) error {
	close(b.started)
	<-ctx.Done()
	return ctx.Err()
}

// TestExportShutdownHandsBack: a job running when its node shuts down is
// handed back at once, so the next node (or the same after a restart)
// runs it without waiting for the lease to run out.
func TestExportShutdownHandsBack(t *testing.T) {
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Fresh(t)
			blocked := &blockingSnapshots{Store: st, started: make(chan struct{})}
			first := newStack(t, blocked, clock.System{}, func(c *server.Export) { c.Lease = time.Hour })
			first.start()
			status := first.kickoff("c1", "/fhir/$export?_type=Endpoint")
			select {
			case <-blocked.started:
			case <-time.After(10 * time.Second):
				t.Fatal("the job did not start")
			}
			first.halt() // shutdown: the job is interrupted and handed back
			id := status[strings.LastIndex(status, "/")+1:]
			j, err := st.ExportJob(context.Background(), id)
			if err != nil || j.State != store.ExportRunning || !j.LeaseUntil.Before(time.Now()) {
				t.Fatalf("after shutdown: %+v, %v; want running with its lease ended", j, err)
			}
			// The next node: an hour-long lease would have kept the job from
			// it had the lease not been handed back.
			second := newStack(t, st, clock.System{}, func(c *server.Export) { c.Lease = time.Hour })
			second.start()
			m := second.wait("c1", strings.Replace(status, first.base, second.base, 1))
			if len(m.Output) != 0 || len(m.Error) != 0 {
				t.Errorf("manifest %+v: want an empty export (no Endpoints)", m)
			}
		})
	}
}

// TestExportJobsPerClient: a client with MaxJobsPerClient exports queued
// or running gets 429 until one ends; other clients are not affected.
func TestExportJobsPerClient(t *testing.T) {
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			s := newStack(t, b.Fresh(t), clock.System{}, func(c *server.Export) { c.MaxJobsPerClient = 2 })
			first := s.kickoff("c1", "/fhir/$export?_type=Endpoint") // no workers: jobs stay queued
			s.kickoff("c1", "/fhir/$export?_type=Endpoint")
			r := s.do("GET", "/fhir/$export?_type=Endpoint", "c1", async, "")
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.body["resourceType"] != "OperationOutcome" {
				t.Errorf("third kick-off: %d %v %s; want 429 with Retry-After", r.status, r.header, r.raw)
			}
			s.kickoff("c2", "/fhir/$export?_type=Endpoint")
			if r := s.do("DELETE", first, "c1", nil, ""); r.status != http.StatusAccepted {
				t.Fatalf("cancel: %d", r.status)
			}
			s.kickoff("c1", "/fhir/$export?_type=Endpoint")
		})
	}
}

// TestExportAuditEventsFiltered: AuditEvents are stored and indexed after
// they are committed; an export of them, filtered or not, first brings
// them up to date, so it finds the records of the requests just made.
func TestExportAuditEventsFiltered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		s.wait("c1", s.kickoff("c1", "/fhir/$export?_type=Endpoint")) // leaves export records
		h := async.Clone()
		h.Set("X-Test-Scope", "system/AuditEvent.rs")
		r := s.do("GET", "/fhir/$export?_type=AuditEvent&_typeFilter="+url.QueryEscape("AuditEvent?subtype=export"), "auditor", h, "")
		if r.status != http.StatusAccepted {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		m := s.wait("auditor", r.header.Get("Content-Location"))
		// c1's kick-off record, and perhaps the auditor's own (committed
		// as its response left, maybe after the job began).
		if len(m.Output) != 1 || m.Output[0].Count < 1 {
			t.Fatalf("output %+v; want the kick-off records", m.Output)
		}
		sawC1 := false
		for _, l := range s.lines("auditor", m.Output[0]) {
			if !strings.Contains(string(l), `"code":"export"`) {
				t.Errorf("a record that is not a kick-off: %s", l)
			}
			sawC1 = sawC1 || strings.Contains(string(l), `"value":"c1"`)
		}
		if !sawC1 {
			t.Errorf("c1's kick-off record is not in the export")
		}
		// Unfiltered too: records are stored as resources after they are
		// chained, and the export stores those not yet stored first.
		s.wait("c1", s.kickoff("c1", "/fhir/$export?_type=Location"))
		r = s.do("GET", "/fhir/$export?_type=AuditEvent", "auditor", h, "")
		if r.status != http.StatusAccepted {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		m = s.wait("auditor", r.header.Get("Content-Location"))
		sawLocation := false
		for _, it := range m.Output {
			for _, l := range s.lines("auditor", it) {
				sawLocation = sawLocation || strings.Contains(string(l), `"description":"types: Location"`)
			}
		}
		if !sawLocation {
			t.Errorf("the unfiltered export lacks c1's latest kick-off record")
		}
	})
}

// TestExportRestricted: an export holds what its client may see: a
// resource restricted to another organization is left out (and so is its
// deletion), an element restricted to others is removed from the line.
func TestExportRestricted(t *testing.T) {
	const consent = `{"resourceType":"Consent","id":"restrict","status":"active","scope":{"coding":[{"system":"http://hl7.org/fhir/uv/vhdir/CodeSystem/consent","code":"protect"}]},"category":[{"coding":[{"system":"http://loinc.org","code":"57016-8"}]}],"provision":{"type":"permit","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Organization/org-a"}}]}}`
	const ext = `{"url":"http://hl7.org/fhir/uv/vhdir/StructureDefinition/usage-restriction","valueReference":{"reference":"#restrict"}}`
	forEachBackend(t, func(t *testing.T, s *stack) {
		s.put("Practitioner", "open", `{"resourceType":"Practitioner","id":"open","name":[{"family":"Open"}]}`)
		s.put("Practitioner", "secret", `{"resourceType":"Practitioner","id":"secret","contained":[`+consent+`],"extension":[`+ext+`],"name":[{"family":"Secret"}]}`)
		s.put("Practitioner", "partial", `{"resourceType":"Practitioner","id":"partial","contained":[`+consent+`],"name":[{"family":"Partial"}],"telecom":[{"extension":[`+ext+`],"system":"phone","value":"555-0199"}]}`)
		export := func(client, query string) (map[string]bool, string, *manifest) {
			m := s.wait(client, s.kickoff(client, "/fhir/Practitioner/$export"+query))
			got, text := map[string]bool{}, ""
			for _, it := range m.Output {
				for _, l := range s.lines(client, it) {
					text += string(l)
				}
				for id := range ids(s.lines(client, it)) {
					got[id] = true
				}
			}
			return got, text, m
		}
		got, text, first := export("b", "")
		if !got["open"] || got["secret"] || !got["partial"] || strings.Contains(text, "555-0199") || strings.Contains(text, "Secret") {
			t.Errorf("org-b exported %v: %s", got, text)
		}
		// The download's record says one line was subsetted.
		noted := false
		for _, e := range s.auditEvents("export-download") {
			raw, _ := json.Marshal(e)
			if strings.Contains(string(raw), first.Output[0].URL) && strings.Contains(string(raw), "subsetted: 1 of the lines") {
				noted = true
			}
		}
		if !noted {
			t.Errorf("no export-download AuditEvent of %s notes the subsetted line", first.Output[0].URL)
		}
		got, text, _ = export("a", "")
		if !got["open"] || !got["secret"] || !strings.Contains(text, "555-0199") {
			t.Errorf("org-a exported %v: %s", got, text)
		}
		if r := s.do("DELETE", "/fhir/Practitioner/secret", "writer", nil, ""); r.status != 200 && r.status != 204 {
			t.Fatalf("delete: %d %s", r.status, r.raw)
		}
		since := "?_since=" + url.QueryEscape(first.TransactionTime)
		if _, _, m := export("b", since); len(m.Deleted) != 0 {
			t.Errorf("org-b's delta lists deletions %+v: the deleted resource was never visible to it", m.Deleted)
		}
		if _, _, m := export("a", since); len(m.Deleted) != 1 || m.Deleted[0].Count != 1 {
			t.Errorf("org-a's delta lists deletions %+v, want the one", m.Deleted)
		}
	})
}
