package console_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/vhdir/vhdir/internal/store"
)

// auditAPI is the FHIR API of the console's server, served beside it, for
// clients registered through the console to leave records as API clients
// do: a token from a signed assertion, then FHIR requests.
type auditAPI struct {
	t    testing.TB
	h    *harness
	ts   *httptest.Server
	key  *ecdsa.PrivateKey
	jwks string
}

func newAuditAPI(t testing.TB, h *harness) *auditAPI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: "ES384", Use: "sig", KeyID: "audit-test"}
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(h.Server.Handler())
	t.Cleanup(ts.Close)
	return &auditAPI{t: t, h: h, ts: ts, key: key, jwks: string(set)}
}

// register registers a client through the console's form.
func (a *auditAPI) register(c *http.Client, id, org string) {
	a.t.Helper()
	resp, body := a.h.post(c, "/clients", url.Values{"name": {"Client " + id}, "organization": {org}, "organization_name": {"Org of " + id},
		"jwks": {a.jwks}, "scope": {"system/*.rs"}, "client_id": {id}})
	if resp.StatusCode != http.StatusSeeOther {
		a.t.Fatalf("register %s = %s: %s", id, resp.Status, body)
	}
}

// token gets an access token for a registered client.
func (a *auditAPI) token(id string) string {
	a.t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: a.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), "audit-test"))
	if err != nil {
		a.t.Fatal(err)
	}
	var jti [16]byte
	rand.Read(jti[:])
	now := time.Now()
	assertion, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{a.h.Server.Auth().TokenURL()},
		Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute)), IssuedAt: jwt.NewNumericDate(now),
		ID: base64.RawURLEncoding.EncodeToString(jti[:])}).Serialize()
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := a.ts.Client().PostForm(a.ts.URL+"/auth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}})
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
		a.t.Fatalf("token for %s = %s: %s", id, resp.Status, body)
	}
	return tok.AccessToken
}

// do sends a FHIR request with a token and a request id, and returns the
// status.
func (a *auditAPI) do(method, path, token, reqID string) int {
	a.t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"resourceType":"Organization","name":"x"}`)
	}
	req, err := http.NewRequest(method, a.ts.URL+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Request-Id", reqID)
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	resp, err := a.ts.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// auditRecord is a record as the store holds it.
type auditRecord struct {
	ID     string
	Body   []byte
	Fields store.AuditFields
}

// auditRecords reads every record from the store, behind the console.
func auditRecords(t testing.TB, h *harness) []auditRecord {
	t.Helper()
	links, err := h.Store.AuditChain(context.Background(), 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]auditRecord, 0, len(links))
	for _, l := range links {
		f, err := store.AuditFieldsOf(l.Body)
		if err != nil {
			t.Fatalf("record %s: %v", l.ID, err)
		}
		out = append(out, auditRecord{ID: l.ID, Body: l.Body, Fields: f})
	}
	return out
}

var (
	auditRowLink = regexp.MustCompile(`<td><a href="/audit/([^"/?]+)">`)
	auditNext    = regexp.MustCompile(`<a id="next" href="([^"]+)"`)
	auditInput   = regexp.MustCompile(`<input name="(\w+)" value="([^"]*)"`)
	auditSelect  = regexp.MustCompile(`(?s)<select name="(\w+)">(.*?)</select>`)
	auditChosen  = regexp.MustCompile(`<option value="([^"]*)" selected>`)
	auditError   = regexp.MustCompile(`(?s)<p class="error" id="error">(.*?)</p>`)
	auditTotal   = regexp.MustCompile(`<p id="audit-total">(\d+) matching`)
)

// auditPageIDs are the ids of the records a timeline page lists, in order.
func auditPageIDs(t testing.TB, body string) []string {
	t.Helper()
	if !strings.Contains(body, `<table class="audit">`) {
		t.Fatalf("no audit table on the page:\n%s", body)
	}
	var ids []string
	for _, m := range auditRowLink.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// auditForm is what the filter form holds, by input name.
func auditForm(t testing.TB, body string) map[string]string {
	t.Helper()
	start := strings.Index(body, `<form id="audit-filters"`)
	if start < 0 {
		t.Fatalf("no filter form on the page:\n%s", body)
	}
	form := body[start:]
	form = form[:strings.Index(form, "</form>")]
	out := map[string]string{}
	for _, m := range auditInput.FindAllStringSubmatch(form, -1) {
		out[m[1]] = html.UnescapeString(m[2])
	}
	for _, m := range auditSelect.FindAllStringSubmatch(form, -1) {
		if c := auditChosen.FindStringSubmatch(m[2]); c != nil {
			out[m[1]] = html.UnescapeString(c[1])
		}
	}
	return out
}

// auditNextLink is the page's next-page link, "" for none.
func auditNextLink(body string) string {
	if m := auditNext.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

func auditHasOrganization(f store.AuditFields, ref string) bool {
	for _, r := range f.Refs {
		if !r.Entity && r.Key() == ref {
			return true
		}
	}
	return false
}

// TestAuditTimelineFilters: each filter of the timeline lists exactly the
// records that match it, newest first, and the form shows it.
func TestAuditTimelineFilters(t *testing.T) {
	forEachBackend(t, startOptions{}, func(t *testing.T, h *harness) {
		c := h.login()
		api := newAuditAPI(t, h)
		// Phase 1, the operator's: two clients registered.
		api.register(c, "alpha", "Organization/org-a")
		api.register(c, "beta", "Organization/org-b")
		phase1 := auditRecords(t, h)
		last1 := phase1[len(phase1)-1].Fields.Recorded
		// Phase 2, a second later at least: the clients' requests.
		time.Sleep(time.Until(last1.Truncate(time.Second).Add(1100 * time.Millisecond)))
		alpha := api.token("alpha")
		if st := api.do("GET", "/fhir/Organization?name=x", alpha, "alpha-search"); st != http.StatusOK {
			t.Fatalf("alpha's search = %d", st)
		}
		if st := api.do("GET", "/fhir/Organization/nope", alpha, "alpha-read"); st != http.StatusNotFound {
			t.Fatalf("alpha's read = %d", st)
		}
		beta := api.token("beta")
		if st := api.do("GET", "/fhir/Organization/gone", beta, "beta-read"); st != http.StatusNotFound {
			t.Fatalf("beta's read = %d", st)
		}
		if st := api.do("POST", "/fhir/Organization", beta, "beta-create"); st < 400 {
			t.Fatalf("beta's create (without the scope) = %d", st)
		}
		all := auditRecords(t, h)
		first2 := all[len(phase1)].Fields.Recorded
		t1 := last1.UTC().Format("2006-01-02T15:04:05") // phase 1's last second
		t2 := first2.UTC().Format("2006-01-02T15:04:05")
		t2s := first2.UTC().Truncate(time.Second)
		firstDay := all[0].Fields.Recorded.UTC().Format("2006-01-02")
		dayBefore := all[0].Fields.Recorded.UTC().AddDate(0, 0, -1).Format("2006-01-02")

		const (
			some = iota // some records match, not all
			none
			every
		)
		in := func(v string, set ...string) bool { return slices.Contains(set, v) }
		cases := []struct {
			name  string
			query url.Values
			match func(f store.AuditFields) bool
			want  int
			form  map[string]string // what the form shows, when not the query
		}{
			{"no filter", url.Values{}, func(store.AuditFields) bool { return true }, every, nil},
			{"client", url.Values{"client": {"alpha"}}, func(f store.AuditFields) bool { return f.Client == "alpha" }, some, nil},
			{"client operator", url.Values{"client": {"operator:tester"}}, func(f store.AuditFields) bool { return f.Client == "operator:tester" }, some, nil},
			{"client with search syntax", url.Values{"client": {"alpha,beta"}}, func(store.AuditFields) bool { return false }, none, nil},
			{"organization", url.Values{"organization": {"Organization/org-a"}}, func(f store.AuditFields) bool { return auditHasOrganization(f, "Organization/org-a") }, some, nil},
			{"organization by id", url.Values{"organization": {"org-b"}}, func(f store.AuditFields) bool { return auditHasOrganization(f, "Organization/org-b") }, some,
				map[string]string{"organization": "Organization/org-b"}},
			{"action R", url.Values{"action": {"R"}}, func(f store.AuditFields) bool { return f.Action == "R" }, some, nil},
			{"action c", url.Values{"action": {"c"}}, func(f store.AuditFields) bool { return f.Action == "C" }, some, map[string]string{"action": "C"}},
			{"action E", url.Values{"action": {"E"}}, func(f store.AuditFields) bool { return f.Action == "E" }, some, nil},
			{"outcome 0", url.Values{"outcome": {"0"}}, func(f store.AuditFields) bool { return f.Outcome == "0" }, some, nil},
			{"outcome 4", url.Values{"outcome": {"4"}}, func(f store.AuditFields) bool { return f.Outcome == "4" }, some, nil},
			{"any failure", url.Values{"outcome": {"4, 8,12"}}, func(f store.AuditFields) bool { return in(f.Outcome, "4", "8", "12") }, some,
				map[string]string{"outcome": "4,8,12"}},
			{"serious failures", url.Values{"outcome": {"8,12"}}, func(f store.AuditFields) bool { return in(f.Outcome, "8", "12") }, none, nil},
			{"type", url.Values{"type": {"rest"}}, func(f store.AuditFields) bool { return f.Type.Code == "rest" }, some, nil},
			{"types", url.Values{"type": {"110114,110137"}}, func(f store.AuditFields) bool { return in(f.Type.Code, "110114", "110137") }, some, nil},
			{"subtype", url.Values{"type": {"read"}}, func(f store.AuditFields) bool { return f.Subtype.Code == "read" }, some, nil},
			{"subtypes", url.Values{"type": {"ITI-71,clients-add"}}, func(f store.AuditFields) bool { return in(f.Subtype.Code, "ITI-71", "clients-add") }, some, nil},
			{"from", url.Values{"from": {t2}}, func(f store.AuditFields) bool { return !f.Recorded.Before(t2s) }, some, nil},
			{"to", url.Values{"to": {t1}}, func(f store.AuditFields) bool { return f.Recorded.Before(last1.Truncate(time.Second).Add(time.Second)) }, some, nil},
			{"from and to", url.Values{"from": {t2}, "to": {t2}}, func(f store.AuditFields) bool {
				return !f.Recorded.Before(t2s) && f.Recorded.Before(t2s.Add(time.Second))
			}, some, nil},
			{"from a day", url.Values{"from": {firstDay}}, func(store.AuditFields) bool { return true }, every, nil},
			{"to the day before", url.Values{"to": {dayBefore}}, func(store.AuditFields) bool { return false }, none, nil},
			{"client and outcome", url.Values{"client": {"alpha"}, "outcome": {"4"}}, func(f store.AuditFields) bool { return f.Client == "alpha" && f.Outcome == "4" }, some, nil},
			{"organization and action", url.Values{"organization": {"Organization/org-b"}, "action": {"C"}}, func(f store.AuditFields) bool {
				return auditHasOrganization(f, "Organization/org-b") && f.Action == "C"
			}, some, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				recs := auditRecords(t, h)
				recorded := map[string]time.Time{}
				var want []string
				for _, r := range recs {
					recorded[r.ID] = r.Fields.Recorded
					if tc.match(r.Fields) {
						want = append(want, r.ID)
					}
				}
				switch {
				case len(want) > 50:
					t.Fatalf("%d records match: more than a page, which this test does not expect", len(want))
				case tc.want == some && (len(want) == 0 || len(want) == len(recs)),
					tc.want == none && len(want) != 0,
					tc.want == every && len(want) != len(recs):
					t.Fatalf("the test's records do not exercise the filter: %d of %d match", len(want), len(recs))
				}
				status, body := h.get(c, "/audit?"+tc.query.Encode())
				if status != http.StatusOK {
					t.Fatalf("GET /audit?%s = %d: %s", tc.query.Encode(), status, body)
				}
				got := auditPageIDs(t, body)
				if !slices.IsSortedFunc(got, func(a, b string) int { return recorded[b].Compare(recorded[a]) }) {
					t.Errorf("records not listed newest first: %v", got)
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("listed %d records %v; want the %d that match %v", len(got), got, len(want), want)
				}
				if auditNextLink(body) != "" {
					t.Errorf("a next page link with all records on the page")
				}
				if m := auditTotal.FindStringSubmatch(body); m != nil && m[1] != strconv.Itoa(len(want)) {
					t.Errorf("the page says %s records match; want %d", m[1], len(want))
				}
				wantForm := map[string]string{}
				for _, k := range []string{"client", "organization", "action", "outcome", "type", "from", "to"} {
					wantForm[k] = tc.query.Get(k)
					if v, ok := tc.form[k]; ok {
						wantForm[k] = v
					}
				}
				if form := auditForm(t, body); !reflect.DeepEqual(form, wantForm) {
					t.Errorf("the form holds %v; want %v", form, wantForm)
				}
			})
		}
	})
}

// TestAuditTimelinePaging: following the next links walks every record
// once, newest first, 50 a page, and a filtered walk keeps its filter.
func TestAuditTimelinePaging(t *testing.T) {
	forEachBackend(t, startOptions{}, func(t *testing.T, h *harness) {
		c := h.login()
		// Unknown paths: each is recorded as a failed request (outcome 4).
		for i := range 70 {
			if status, _ := h.get(c, "/no-such-page-"+strconv.Itoa(i)); status != http.StatusNotFound {
				t.Fatalf("unknown path = %d", status)
			}
		}
		for _, tc := range []struct {
			name  string
			query string
			match func(f store.AuditFields) bool
		}{
			{"all", "", func(store.AuditFields) bool { return true }},
			{"failures", "outcome=4", func(f store.AuditFields) bool { return f.Outcome == "4" }},
			{"failures of the operator", "client=operator%3Atester&outcome=4&type=110100", func(f store.AuditFields) bool {
				return f.Outcome == "4" && f.Client == "operator:tester" && f.Type.Code == "110100"
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				recorded := map[string]time.Time{}
				var want []string
				for _, r := range auditRecords(t, h) {
					recorded[r.ID] = r.Fields.Recorded
					if tc.match(r.Fields) {
						want = append(want, r.ID)
					}
				}
				if len(want) <= 50 {
					t.Fatalf("%d records match: fewer than two pages", len(want))
				}
				var got []string
				seen := map[string]bool{}
				pages := 0
				for link := "/audit?" + tc.query; link != ""; pages++ {
					if pages > 10 {
						t.Fatalf("more than 10 pages for %d records", len(want))
					}
					status, body := h.get(c, link)
					if status != http.StatusOK {
						t.Fatalf("GET %s = %d: %s", link, status, body)
					}
					ids := auditPageIDs(t, body)
					if len(ids) > 50 {
						t.Errorf("page %d lists %d records", pages, len(ids))
					}
					for _, id := range ids {
						if seen[id] {
							t.Errorf("record %s listed twice (page %d)", id, pages)
						}
						seen[id] = true
						if len(got) > 0 && recorded[id].After(recorded[got[len(got)-1]]) {
							t.Errorf("record %s on page %d is newer than the one before it", id, pages)
						}
						got = append(got, id)
					}
					link = auditNextLink(body)
					if link != "" {
						u, err := url.Parse(link)
						if err != nil || u.Path != "/audit" || u.Query().Get("_page") == "" {
							t.Fatalf("next link %q is not the timeline with a cursor", link)
						}
						want, _ := url.ParseQuery(tc.query)
						for k := range want {
							if u.Query().Get(k) != want.Get(k) {
								t.Errorf("next link %q lost %s=%s", link, k, want.Get(k))
							}
						}
					}
				}
				if pages < 2 {
					t.Errorf("%d records on %d page", len(got), pages)
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("the pages listed %d records; want the %d that matched before the walk", len(got), len(want))
				}
			})
		}
	})
}

// TestAuditTimelineBadFilters: a filter that cannot be one is a 400 page
// that names it, never a server error or an empty list.
func TestAuditTimelineBadFilters(t *testing.T) {
	forEachBackend(t, startOptions{}, func(t *testing.T, h *harness) {
		c := h.login()
		for _, tc := range []struct {
			query, says string
		}{
			{"outcome=zzz", "outcome"},
			{"outcome=4,zz", "outcome"},
			{"outcome=1", "outcome"},
			{"action=X", "action"},
			{"action=R,", "action"},
			{"from=yesterday", "from"},
			{"to=2026-13-45", "to"},
			{"from=2026-12-07T25:00", "from"},
			{"from=ge2026-12-07", "from"},
			{"organization=Practitioner/p1", "organization"},
			{"organization=Organization/a%20b", "organization"},
			{"type=rest,read", "type"},
			{"type=read,,create", "type"},
			{"_page=not-a-cursor", "_page"},
		} {
			t.Run(tc.query, func(t *testing.T) {
				status, body := h.get(c, "/audit?"+tc.query)
				if status != http.StatusBadRequest {
					t.Fatalf("GET /audit?%s = %d; want 400: %s", tc.query, status, body)
				}
				m := auditError.FindStringSubmatch(body)
				if m == nil || !strings.Contains(m[1], tc.says) {
					t.Errorf("the error page does not name %s: %v", tc.says, m)
				}
			})
		}
	})
}

// TestAuditRecord: a record's page shows its fields, links to what it
// names and the record itself; an unknown id is a 404 page.
func TestAuditRecord(t *testing.T) {
	forEachBackend(t, startOptions{}, func(t *testing.T, h *harness) {
		c := h.login()
		api := newAuditAPI(t, h)
		api.register(c, "alpha", "Organization/org-a")
		if st := api.do("GET", "/fhir/Organization/nope", api.token("alpha"), "req-record-1"); st != http.StatusNotFound {
			t.Fatalf("alpha's read = %d", st)
		}
		var rec auditRecord
		for _, r := range auditRecords(t, h) {
			if r.Fields.RequestID == "req-record-1" && r.Fields.Subtype.Code == "read" {
				rec = r
			}
		}
		if rec.ID == "" {
			t.Fatal("no record of alpha's read")
		}
		var stored struct {
			OutcomeDesc string `json:"outcomeDesc"`
		}
		if err := json.Unmarshal(rec.Body, &stored); err != nil || stored.OutcomeDesc == "" {
			t.Fatalf("alpha's failed read has no outcomeDesc: %s", rec.Body)
		}

		status, body := h.get(c, "/audit/"+rec.ID)
		if status != http.StatusOK {
			t.Fatalf("GET /audit/%s = %d: %s", rec.ID, status, body)
		}
		checkAuditFields(t, body, map[string][]string{
			"f-id":           {rec.ID},
			"f-recorded":     {rec.Fields.Recorded.UTC().Format("2006-01-02 15:04:05Z")},
			"f-action":       {"R"},
			"f-type":         {">rest<", `href="/audit?type=rest"`},
			"f-subtype":      {">read<", "http://hl7.org/fhir/restful-interaction"},
			"f-outcome":      {`class="bad">4<`},
			"f-outcome-desc": {html.EscapeString(stored.OutcomeDesc)},
			"f-client":       {`href="/clients/alpha"`, "Client alpha", `href="/audit?client=alpha"`},
			"f-organization": {`href="/data/Organization/org-a"`, "Organization/org-a"},
			"f-address":      {"127.0.0.1"},
			"f-request-id":   {"req-record-1"},
			"f-entities":     {`href="/data/Organization/nope"`, "req-record-1"},
		})
		checkAuditJSON(t, body, rec.Body)

		// The operator's read of that record is recorded: its page links
		// the record it read, and names the operator, who is no client.
		var read auditRecord
		for _, r := range auditRecords(t, h) {
			if r.Fields.Client == "operator:tester" && r.Fields.Subtype.Code == "read" {
				read = r
			}
		}
		if read.ID == "" {
			t.Fatal("the console's read of a record left no record")
		}
		status, body = h.get(c, "/audit/"+read.ID)
		if status != http.StatusOK {
			t.Fatalf("GET /audit/%s = %d: %s", read.ID, status, body)
		}
		checkAuditFields(t, body, map[string][]string{
			"f-outcome":  {`class="ok">0<`},
			"f-client":   {"operator:tester", "session"},
			"f-entities": {`href="/audit/` + rec.ID + `"`},
		})
		if strings.Contains(body, `href="/clients/operator`) {
			t.Error("the operator is linked as a client")
		}
		checkAuditJSON(t, body, read.Body)

		for _, id := range []string{"no-such-record", "0f0e0d0c-0000-4000-8000-000000000000"} {
			status, body = h.get(c, "/audit/"+id)
			if status != http.StatusNotFound || !strings.Contains(body, `id="error"`) {
				t.Errorf("GET /audit/%s = %d; want the 404 page: %s", id, status, body)
			}
		}
	})
}

// checkAuditFields checks that each field of a record page (dd by id)
// holds the texts given.
func checkAuditFields(t *testing.T, body string, want map[string][]string) {
	t.Helper()
	if !strings.Contains(body, `<dl class="fields" id="fields">`) {
		t.Fatalf("no fields on the record page:\n%s", body)
	}
	for id, texts := range want {
		m := regexp.MustCompile(`(?s)<dd id="` + id + `">(.*?)</dd>`).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("no field %s on the record page", id)
			continue
		}
		for _, s := range texts {
			if !strings.Contains(m[1], s) {
				t.Errorf("field %s = %q; want it to hold %q", id, m[1], s)
			}
		}
	}
}

var auditPre = regexp.MustCompile(`(?s)<pre id="record">(.*?)</pre>`)

// checkAuditJSON checks that the page shows the record, pretty-printed.
func checkAuditJSON(t *testing.T, body string, record []byte) {
	t.Helper()
	m := auditPre.FindStringSubmatch(body)
	if m == nil {
		t.Fatal(`no <pre id="record"> on the record page`)
	}
	shown := html.UnescapeString(m[1])
	var got, want any
	if err := json.Unmarshal([]byte(shown), &got); err != nil {
		t.Fatalf("the record shown is not JSON: %v\n%s", err, shown)
	}
	if err := json.Unmarshal(record, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the record shown differs from the record stored:\n%s\nwant\n%s", shown, record)
	}
	if !strings.Contains(shown, "\n  \"resourceType\": \"AuditEvent\"") {
		t.Errorf("the record is not pretty-printed:\n%s", shown)
	}
}
