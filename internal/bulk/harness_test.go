package bulk_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/gen"
	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/load"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/server/servertest"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// stack is vhdir as served, behind a stand-in for token checks:
// X-Test-Client names the client and X-Test-Scope its granted scopes
// (without a client: 401). Token issuance itself is tested in package auth
// and end to end in cmd/vhdir.
type stack struct {
	t     testing.TB
	srv   *servertest.Server
	ts    *httptest.Server
	store store.Store
	clock clock.Clock
	base  string
}

const allScopes = "system/*.cruds"

func forEachBackend(t *testing.T, fn func(t *testing.T, s *stack)) {
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			s := newStack(t, b.Fresh(t), clock.System{}, nil)
			s.start()
			fn(t, s)
		})
	}
}

// newStack serves st; tune adjusts the export settings.
func newStack(t testing.TB, st store.Store, clk clock.Clock, tune func(*server.Export)) *stack {
	ex := server.Export{Poll: 20 * time.Millisecond, Lease: 600 * time.Millisecond}
	if tune != nil {
		tune(&ex)
	}
	s := &stack{t: t, store: st, clock: clk}
	s.srv = servertest.Start(t, server.Config{Store: st, Clock: clk, MaxBodyBytes: 1 << 20, Version: "test", Export: ex, Identify: testCaller})
	s.ts, s.base = s.srv.TS, s.srv.URL
	t.Cleanup(func() { st.Close() })
	return s
}

// start runs the job workers (and the rest of the server's background
// work) until halt (or the test's end).
func (s *stack) start() { s.srv.RunRunners() }

// halt stops the workers as a shutdown does.
func (s *stack) halt() { s.srv.StopRunners() }

// testCaller stands in for token checks: X-Test-Client names the client
// (none: no token), X-Test-Scope what it was granted (default allScopes).
// The client writer is the operator's, which writes restricted data for
// others.
func testCaller(r *http.Request) (*interaction.Caller, error) {
	id := r.Header.Get("X-Test-Client")
	if id == "" {
		return nil, auth.ErrNoToken
	}
	scope := r.Header.Get("X-Test-Scope")
	if scope == "" {
		scope = allScopes
	}
	return &interaction.Caller{ClientID: id, ClientName: "Client " + id, Organization: "Organization/org-" + id, Scope: scope, TokenID: "tok-" + id,
		SeesRestricted: id == "writer"}, nil
}

// seed loads the VhDir IG's example resources and a small generated
// directory (vhdir gen, 40 practitioners), and returns how many of each
// type are stored.
func (s *stack) seed() map[string]int {
	s.t.Helper()
	var files []load.File
	for _, f := range ig.Examples() {
		files = append(files, load.File{Name: f.Name, Data: f.Data})
	}
	dir := s.t.TempDir()
	if _, err := gen.Run(context.Background(), gen.Config{Practitioners: 40, Seed: 7, Dir: dir}); err != nil {
		s.t.Fatal(err)
	}
	for _, typ := range gen.Types() {
		data, err := os.ReadFile(filepath.Join(dir, typ+".ndjson"))
		if err != nil {
			s.t.Fatal(err)
		}
		files = append(files, load.File{Name: typ + ".ndjson", Data: data})
	}
	ctx := server.AsOperator(context.Background(), "test", "load")
	sum, err := load.RunFiles(ctx, s.srv.LoadConfig(), files)
	if err != nil {
		s.t.Fatal(err)
	}
	if len(sum.Problems) > 0 || sum.Total() < 200 {
		s.t.Fatalf("only %d resources loaded: %v", sum.Total(), sum.Problems)
	}
	return s.counts()
}

// servedTypes are the resource types the server serves.
func servedTypes(t testing.TB) []string {
	reg, err := search.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return reg.Types()
}

// counts are the live resources of each type, by search.
func (s *stack) counts() map[string]int {
	s.t.Helper()
	out := map[string]int{}
	for _, typ := range servedTypes(s.t) {
		if typ == "AuditEvent" {
			continue
		}
		r := s.do("GET", "/fhir/"+typ+"?_summary=count", "counter", nil, "")
		if r.status != 200 {
			s.t.Fatalf("count %s: %d %s", typ, r.status, r.raw)
		}
		if n := int(r.body["total"].(float64)); n > 0 {
			out[typ] = n
		}
	}
	return out
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// do sends a request as client ("" for none) with extra headers.
func (s *stack) do(method, path, client string, header http.Header, body string) *reply {
	s.t.Helper()
	target := path
	if !strings.HasPrefix(path, "https://") {
		target = s.base + path
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if client != "" {
		req.Header.Set("X-Test-Client", client)
	}
	tr := s.ts.Client().Transport.(*http.Transport).Clone()
	tr.DisableCompression = true // see the bytes as sent
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	r := &reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

var async = http.Header{"Prefer": {"respond-async"}, "Accept": {"application/fhir+json"}}

// kickoff starts an export and returns its status URL.
func (s *stack) kickoff(client, path string) string {
	s.t.Helper()
	r := s.do("GET", path, client, async, "")
	if r.status != http.StatusAccepted {
		s.t.Fatalf("kick-off %s: %d %s", path, r.status, r.raw)
	}
	loc := r.header.Get("Content-Location")
	if !strings.HasPrefix(loc, s.base+"/fhir/$export-status/") {
		s.t.Fatalf("kick-off: Content-Location %q", loc)
	}
	return loc
}

// manifest is a completed job's status answer.
type manifest struct {
	TransactionTime     string `json:"transactionTime"`
	Request             string `json:"request"`
	RequiresAccessToken bool   `json:"requiresAccessToken"`
	Output              []item `json:"output"`
	Deleted             []item `json:"deleted"`
	Error               []item `json:"error"`
}

type item struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int    `json:"count"`
}

// wait polls a status URL until the job completes.
func (s *stack) wait(client, status string) *manifest {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := s.do("GET", status, client, nil, "")
		switch r.status {
		case http.StatusAccepted:
			if r.header.Get("X-Progress") == "" || r.header.Get("Retry-After") == "" {
				s.t.Fatalf("202 without X-Progress or Retry-After: %v", r.header)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		case http.StatusOK:
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				s.t.Errorf("manifest Content-Type %q", ct)
			}
			var m manifest
			if err := json.Unmarshal(r.raw, &m); err != nil {
				s.t.Fatalf("manifest: %v\n%s", err, r.raw)
			}
			return &m
		default:
			s.t.Fatalf("status: %d %s", r.status, r.raw)
		}
	}
	s.t.Fatal("export did not complete in 30 s")
	return nil
}

// lines downloads a file and returns its lines, checking each is a
// resource of typ and the count.
func (s *stack) lines(client string, it item) [][]byte {
	s.t.Helper()
	r := s.do("GET", it.URL, client, http.Header{"Accept": {"application/fhir+ndjson"}}, "")
	if r.status != 200 {
		s.t.Fatalf("download %s: %d %s", it.URL, r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/fhir+ndjson" {
		s.t.Errorf("download Content-Type %q", ct)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(r.raw))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		var res struct {
			ResourceType string `json:"resourceType"`
		}
		if err := json.Unmarshal(line, &res); err != nil {
			s.t.Fatalf("%s: line %d is not JSON: %v", it.URL, len(out)+1, err)
		}
		if res.ResourceType != it.Type {
			s.t.Fatalf("%s: line %d is a %s, the manifest says %s", it.URL, len(out)+1, res.ResourceType, it.Type)
		}
		out = append(out, line)
	}
	if len(out) != it.Count {
		s.t.Errorf("%s: %d lines, the manifest says %d", it.URL, len(out), it.Count)
	}
	return out
}

// gunzip downloads a file gzip-compressed and returns it inflated.
func (s *stack) gunzip(client, url string) []byte {
	s.t.Helper()
	r := s.do("GET", url, client, http.Header{"Accept-Encoding": {"gzip"}}, "")
	if r.status != 200 || r.header.Get("Content-Encoding") != "gzip" {
		s.t.Fatalf("gzip download: %d %v", r.status, r.header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.raw))
	if err != nil {
		s.t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// diagnostics returns each OperationOutcome line's first diagnostics.
func diagnostics(lines [][]byte) []string {
	var out []string
	for _, l := range lines {
		var oo struct {
			Issue []struct {
				Diagnostics string `json:"diagnostics"`
			} `json:"issue"`
		}
		_ = json.Unmarshal(l, &oo)
		d := ""
		if len(oo.Issue) > 0 {
			d = oo.Issue[0].Diagnostics
		}
		out = append(out, d)
	}
	return out
}

// searchIDs returns the ids a search as client finds (one page of up to
// 1000).
func (s *stack) searchIDs(client, query string) map[string]bool {
	s.t.Helper()
	r := s.do("GET", "/fhir/"+query+"&_count=1000&_elements=id", client, nil, "")
	if r.status != 200 {
		s.t.Fatalf("search %s: %d %s", query, r.status, r.raw)
	}
	out := map[string]bool{}
	entries, _ := r.body["entry"].([]any)
	for _, e := range entries {
		out[e.(map[string]any)["resource"].(map[string]any)["id"].(string)] = true
	}
	return out
}

// ids returns the ids of NDJSON resources.
func ids(lines [][]byte) map[string]bool {
	out := map[string]bool{}
	for _, l := range lines {
		var r struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(l, &r)
		out[r.ID] = true
	}
	return out
}

// put writes a resource as the operator.
func (s *stack) put(typ, id, body string) {
	s.t.Helper()
	r := s.do("PUT", "/fhir/"+typ+"/"+id, "writer", nil, body)
	if r.status != 200 && r.status != 201 {
		s.t.Fatalf("PUT %s/%s: %d %s", typ, id, r.status, r.raw)
	}
}

// auditEvents returns the AuditEvents of subtype code, parsed.
func (s *stack) auditEvents(code string) []map[string]any {
	s.t.Helper()
	links, err := s.store.AuditChain(context.Background(), 0, 100000)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range links {
		if _, err := fhir.ParseResource(l.Body); err != nil {
			s.t.Fatalf("record %d is not a valid resource: %v", l.Seq, err)
		}
		var m map[string]any
		_ = json.Unmarshal(l.Body, &m)
		for _, st := range m["subtype"].([]any) {
			if st.(map[string]any)["code"] == code {
				out = append(out, m)
			}
		}
	}
	return out
}
