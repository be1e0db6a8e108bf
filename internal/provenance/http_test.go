package provenance_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
	vhdir "github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/server/servertest"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// server is vhdir as served, with every request made by the client acme
// (a stand-in for its access token).
type server struct {
	t     *testing.T
	ts    *httptest.Server
	clock *clock.Fake
	base  string
}

func forEachBackend(t *testing.T, fn func(t *testing.T, srv *server)) {
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Fresh(t)
			t.Cleanup(func() { st.Close() })
			clk := clock.NewFake(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
			ts := servertest.Start(t, vhdir.Config{Store: st, Clock: clk, MaxBodyBytes: 1 << 20, Version: "test",
				Identify: func(*http.Request) (*interaction.Caller, error) {
					c := *acme
					c.Scope = "system/*.cruds"
					return &c, nil
				}})
			fn(t, &server{t: t, ts: ts.TS, clock: clk, base: ts.URL + "/fhir"})
		})
	}
}

type response struct {
	status int
	header http.Header
	obj    *jsontree.Object
	body   string
}

// do sends a request; header is name, value pairs.
func (s *server) do(method, path, body string, header ...string) *response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	obj, _ := jsontree.ParseObject(data)
	return &response{status: resp.StatusCode, header: resp.Header, obj: obj, body: string(data)}
}

func (r *response) want(t *testing.T, status int) *response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d; want %d; body %s", r.status, status, r.body)
	}
	return r
}

// provenances returns the Provenance found by a search, oldest first.
func (s *server) provenances(query string) []*jsontree.Object {
	s.t.Helper()
	r := s.do(http.MethodGet, "/Provenance?_sort=_lastUpdated&_count=100&"+query, "").want(s.t, http.StatusOK)
	var out []*jsontree.Object
	for i := range count(r.obj, "entry") {
		out = append(out, at(r.obj, "entry", strconv.Itoa(i), "resource").(*jsontree.Object))
	}
	return out
}

func targets(ps []*jsontree.Object) string {
	var out []string
	for _, p := range ps {
		out = append(out, str(p, "target", "0", "reference"))
	}
	return strings.Join(out, " ")
}

const prac = `{"resourceType":"Practitioner","id":"p1","active":true,"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1234567893"}]}`

// TestWriteProvenance follows one resource through create, update,
// delete and writes that change nothing.
func TestWriteProvenance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *server) {
		steps := []struct {
			name     string
			method   string
			path     string
			body     string
			header   []string
			status   int
			activity string // of the new Provenance; "" for none
			version  string
		}{
			{"create", http.MethodPut, "/Practitioner/p1", prac, nil, http.StatusCreated, "CREATE", "1"},
			{"update", http.MethodPut, "/Practitioner/p1", strings.Replace(prac, `"active":true`, `"active":false`, 1), nil, http.StatusOK, "UPDATE", "2"},
			{"identical update", http.MethodPut, "/Practitioner/p1", strings.Replace(prac, `"active":true`, `"active":false`, 1), nil, http.StatusOK, "", ""},
			{"conditional create that matches", http.MethodPost, "/Practitioner", `{"resourceType":"Practitioner","active":true}`,
				[]string{"If-None-Exist", "identifier=http://hl7.org/fhir/sid/us-npi|1234567893"}, http.StatusOK, "", ""},
			{"delete", http.MethodDelete, "/Practitioner/p1", "", nil, http.StatusOK, "DELETE", "3"},
			{"delete again", http.MethodDelete, "/Practitioner/p1", "", nil, http.StatusOK, "", ""},
		}
		n := 0
		for _, st := range steps {
			srv.clock.Advance(time.Minute)
			resp := srv.do(st.method, st.path, st.body, st.header...).want(t, st.status)
			ps := srv.provenances("target=Practitioner/p1")
			if st.activity == "" {
				if len(ps) != n {
					t.Fatalf("%s: %d Provenance; want still %d", st.name, len(ps), n)
				}
				continue
			}
			n++
			if len(ps) != n {
				t.Fatalf("%s: %d Provenance (%s); want %d", st.name, len(ps), targets(ps), n)
			}
			p := ps[n-1]
			if got, want := str(p, "target", "0", "reference"), "Practitioner/p1/_history/"+st.version; got != want {
				t.Errorf("%s: target = %q; want %q", st.name, got, want)
			}
			if got := str(p, "activity", "coding", "0", "code"); got != st.activity {
				t.Errorf("%s: activity = %q; want %s", st.name, got, st.activity)
			}
			// recorded is the version's lastUpdated: the write's time.
			wantTime := fhir.FormatInstant(srv.clock.Now())
			if st.method != http.MethodDelete {
				wantTime = str(resp.obj, "meta", "lastUpdated")
			}
			if got := str(p, "recorded"); got != wantTime || got != str(p, "meta", "lastUpdated") {
				t.Errorf("%s: recorded = %q; want %q, the version's lastUpdated (Provenance lastUpdated %q)", st.name, got, wantTime, str(p, "meta", "lastUpdated"))
			}
			if got := str(p, "agent", "0", "who", "identifier", "value") + " " + str(p, "agent", "0", "onBehalfOf", "reference"); got != "acme Organization/acme-org" {
				t.Errorf("%s: agent = %q", st.name, got)
			}
		}
		// The client's agent is searchable as the author of all of them.
		if ps := srv.provenances("agent:identifier=urn:vhdir:client-id|acme"); len(ps) != 3 {
			t.Errorf("agent:identifier search found %d; want 3", len(ps))
		}
	})
}

// TestHeader checks X-Provenance on single writes.
func TestHeader(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *server) {
		const hdr = `{"resourceType":"Provenance","occurredDateTime":"2026-01-02","agent":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/provenance-participant-type","code":"verifier"}]},"who":{"reference":"Practitioner/steward","display":"Data Steward"}}]}`
		tests := []struct {
			name   string
			method string
			path   string
			body   string
			header []string
			status int
			inDiag string
			check  func(t *testing.T, p *jsontree.Object)
		}{
			{name: "merged on create", method: http.MethodPut, path: "/Organization/o1", body: `{"resourceType":"Organization","id":"o1","name":"One"}`,
				header: []string{"X-Provenance", hdr}, status: http.StatusCreated,
				check: func(t *testing.T, p *jsontree.Object) {
					if got := str(p, "target", "0", "reference"); got != "Organization/o1/_history/1" {
						t.Errorf("target = %q", got)
					}
					if got := str(p, "occurredDateTime"); got != "2026-01-02" {
						t.Errorf("occurredDateTime = %q", got)
					}
					if n := count(p, "agent"); n != 2 {
						t.Fatalf("%d agents; want the header's and the server's", n)
					}
					if got := str(p, "agent", "0", "who", "reference"); got != "Practitioner/steward" {
						t.Errorf("agent[0] = %q; want the header's", got)
					}
					if got := str(p, "agent", "1", "who", "identifier", "value"); got != "acme" {
						t.Errorf("agent[1] = %q; want the authenticated client", got)
					}
				}},
			{name: "on delete", method: http.MethodDelete, path: "/Organization/o1", header: []string{"X-Provenance", `{"resourceType":"Provenance","reason":[{"text":"closed"}]}`}, status: http.StatusOK,
				check: func(t *testing.T, p *jsontree.Object) {
					if got := str(p, "reason", "0", "text") + " " + str(p, "target", "0", "reference"); got != "closed Organization/o1/_history/2" {
						t.Errorf("reason, target = %q", got)
					}
				}},
			{name: "header with target", method: http.MethodPut, path: "/Organization/o2", body: `{"resourceType":"Organization","id":"o2","name":"Two"}`,
				header: []string{"X-Provenance", `{"resourceType":"Provenance","target":[{"reference":"Organization/o2"}]}`}, status: http.StatusBadRequest, inDiag: "must not have a target"},
			{name: "malformed JSON", method: http.MethodPost, path: "/Organization", body: `{"resourceType":"Organization","name":"Three"}`,
				header: []string{"X-Provenance", `{"resourceType":"Provenance"`}, status: http.StatusBadRequest, inDiag: "not a JSON Provenance"},
			{name: "invalid element", method: http.MethodPost, path: "/Organization", body: `{"resourceType":"Organization","name":"Three"}`,
				header: []string{"X-Provenance", `{"resourceType":"Provenance","occurredDateTime":"soon"}`}, status: http.StatusBadRequest, inDiag: "X-Provenance header:"},
			{name: "two headers", method: http.MethodPost, path: "/Organization", body: `{"resourceType":"Organization","name":"Three"}`,
				header: []string{"X-Provenance", `{"resourceType":"Provenance"}`, "X-Provenance", `{"resourceType":"Provenance"}`}, status: http.StatusBadRequest, inDiag: "2 X-Provenance headers"},
			{name: "bad header on delete", method: http.MethodDelete, path: "/Organization/o1", header: []string{"X-Provenance", `{}`}, status: http.StatusBadRequest, inDiag: "resourceType"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := srv.provenances("")
				srv.clock.Advance(time.Minute)
				resp := srv.do(tt.method, tt.path, tt.body, tt.header...).want(t, tt.status)
				after := srv.provenances("")
				if tt.status >= 400 {
					if got := str(resp.obj, "resourceType"); got != "OperationOutcome" {
						t.Fatalf("body is a %q; want an OperationOutcome", got)
					}
					if d := str(resp.obj, "issue", "0", "diagnostics"); !strings.Contains(d, tt.inDiag) {
						t.Errorf("diagnostics = %q; want it to contain %q", d, tt.inDiag)
					}
					if len(after) != len(before) {
						t.Errorf("a refused request stored %d Provenance", len(after)-len(before))
					}
					if tt.method == http.MethodPut {
						srv.do(http.MethodGet, tt.path, "").want(t, http.StatusNotFound)
					}
					return
				}
				if len(after) != len(before)+1 {
					t.Fatalf("%d new Provenance; want 1", len(after)-len(before))
				}
				tt.check(t, after[len(after)-1])
			})
		}
		if n := count(srv.do(http.MethodGet, "/Organization", "").want(t, http.StatusOK).obj, "entry"); n != 0 {
			t.Errorf("%d Organizations exist; the refused creates stored some", n)
		}
	})
}

// TestBundles: every write entry of a transaction or batch gets its own
// Provenance carrying the Bundle's X-Provenance; a failed transaction
// leaves none.
func TestBundles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *server) {
		srv.do(http.MethodPut, "/Location/old", `{"resourceType":"Location","id":"old","status":"active"}`).want(t, http.StatusCreated)
		const hdr = `{"resourceType":"Provenance","agent":[{"who":{"display":"Bulk steward"}}]}`
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[
		 {"fullUrl":"urn:uuid:9b1c3a8e-0000-4000-8000-000000000001","resource":{"resourceType":"Organization","name":"New Org"},"request":{"method":"POST","url":"Organization"}},
		 {"resource":{"resourceType":"Location","id":"loc-a","status":"active","managingOrganization":{"reference":"urn:uuid:9b1c3a8e-0000-4000-8000-000000000001"}},"request":{"method":"PUT","url":"Location/loc-a"}},
		 {"request":{"method":"DELETE","url":"Location/old"}},
		 {"request":{"method":"GET","url":"Location/old"}}
		]}`
		before := len(srv.provenances(""))
		srv.do(http.MethodPost, "", tx, "X-Provenance", hdr).want(t, http.StatusOK)
		ps := srv.provenances("")[before:]
		if len(ps) != 3 {
			t.Fatalf("transaction of 3 writes: %d Provenance (%s); want 3", len(ps), targets(ps))
		}
		acts := map[string]string{}
		for _, p := range ps {
			ref := str(p, "target", "0", "reference")
			acts[strings.SplitN(ref, "/", 2)[0]+" "+str(p, "activity", "coding", "0", "code")] = ref
			if got := str(p, "agent", "0", "who", "display") + " / " + str(p, "agent", "1", "who", "identifier", "value"); got != "Bulk steward / acme" {
				t.Errorf("%s agents = %q; want the header's then the client", ref, got)
			}
		}
		for _, want := range []string{"Organization CREATE", "Location CREATE", "Location DELETE"} {
			if _, ok := acts[want]; !ok {
				t.Errorf("no %s Provenance; got %v", want, acts)
			}
		}
		if acts["Location DELETE"] != "Location/old/_history/2" {
			t.Errorf("delete target = %q", acts["Location DELETE"])
		}

		t.Run("failed transaction", func(t *testing.T) {
			bad := `{"resourceType":"Bundle","type":"transaction","entry":[
			 {"resource":{"resourceType":"Organization","id":"o9","name":"Nine"},"request":{"method":"PUT","url":"Organization/o9"}},
			 {"resource":{"resourceType":"Organization","id":"o8","name":"Eight"},"request":{"method":"PUT","url":"Organization/o8","ifMatch":"W/\"4\""}}
			]}`
			before := len(srv.provenances(""))
			srv.do(http.MethodPost, "", bad).want(t, http.StatusPreconditionFailed)
			if n := len(srv.provenances("")) - before; n != 0 {
				t.Errorf("a failed transaction stored %d Provenance", n)
			}
			srv.do(http.MethodGet, "/Organization/o9", "").want(t, http.StatusNotFound)
		})

		t.Run("batch", func(t *testing.T) {
			batch := `{"resourceType":"Bundle","type":"batch","entry":[
			 {"resource":{"resourceType":"Organization","id":"b1","name":"B1"},"request":{"method":"PUT","url":"Organization/b1"}},
			 {"resource":{"resourceType":"Organization","id":"b2","name":"B2"},"request":{"method":"PUT","url":"Organization/b2","ifMatch":"W/\"4\""}},
			 {"resource":{"resourceType":"Organization","id":"b3","name":"B3"},"request":{"method":"PUT","url":"Organization/b3"}}
			]}`
			before := len(srv.provenances(""))
			srv.do(http.MethodPost, "", batch, "X-Provenance", hdr).want(t, http.StatusOK)
			ps := srv.provenances("")[before:]
			if got := targets(ps); got != "Organization/b1/_history/1 Organization/b3/_history/1" {
				t.Errorf("batch Provenance targets = %q; want the two entries that succeeded", got)
			}
			for _, p := range ps {
				if got := str(p, "agent", "0", "who", "display"); got != "Bulk steward" {
					t.Errorf("batch entry Provenance agent[0] = %q; want the Bundle's header agent", got)
				}
			}
		})

		t.Run("invalid header refuses the Bundle", func(t *testing.T) {
			before := len(srv.provenances(""))
			one := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Organization","id":"t1","name":"T1"},"request":{"method":"PUT","url":"Organization/t1"}}]}`
			srv.do(http.MethodPost, "", one, "X-Provenance", `{"resourceType":"Provenance","target":[{"reference":"Organization/t1"}]}`).want(t, http.StatusBadRequest)
			srv.do(http.MethodGet, "/Organization/t1", "").want(t, http.StatusNotFound)
			if n := len(srv.provenances("")) - before; n != 0 {
				t.Errorf("%d Provenance stored", n)
			}
		})
	})
}

// TestClientsCannotWriteProvenance: Provenance is server-kept (405), in a
// Bundle too.
func TestClientsCannotWriteProvenance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *server) {
		body := `{"resourceType":"Provenance","id":"x","target":[{"reference":"Organization/o"}],"recorded":"2026-01-01T00:00:00Z","agent":[{"who":{"display":"me"}}]}`
		tests := []struct {
			method, path, body string
			status             int
		}{
			{http.MethodPost, "/Provenance", body, http.StatusMethodNotAllowed},
			{http.MethodPut, "/Provenance/x", body, http.StatusMethodNotAllowed},
			{http.MethodDelete, "/Provenance/x", "", http.StatusMethodNotAllowed},
			{http.MethodPut, "/Provenance?target=Organization/o", body, http.StatusMethodNotAllowed},
		}
		for _, tt := range tests {
			srv.do(tt.method, tt.path, tt.body).want(t, tt.status)
		}
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + body + `,"request":{"method":"PUT","url":"Provenance/x"}}]}`
		srv.do(http.MethodPost, "", tx).want(t, http.StatusMethodNotAllowed)
		if ps := srv.provenances(""); len(ps) != 0 {
			t.Errorf("%d Provenance exist; want none", len(ps))
		}
	})
}
