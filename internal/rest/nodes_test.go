package rest_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// aliasOrg is an Organization of n aliases, each one letter long: n+3
// JSON values in all.
func aliasOrg(n int) string {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Organization","alias":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"a"`)
	}
	b.WriteString(`]}`)
	return b.String()
}

// TestNodeLimit: a resource holding more JSON values than the server
// allows (100,000 by default) is refused with 413 while it is parsed,
// whatever its bytes: a million one-letter aliases are 4 MB, well within
// the body limit. Nothing is stored, the OperationOutcome and the audit
// record say which limit and how it is raised, and a resource at the limit
// is stored.
func TestNodeLimit(t *testing.T) {
	for _, be := range testdb.All {
		t.Run(be.Name, func(t *testing.T) {
			srv := startWith(t, opener(t, be), func(c *server.Config) { c.MaxBodyBytes = 16 << 20 })
			r := srv.do(http.MethodPost, "/Organization", aliasOrg(1_000_000)).want(t, http.StatusRequestEntityTooLarge)
			diag, _ := r.issue()
			for _, want := range []string{"more than 100000 JSON values", "--max-resource-nodes"} {
				if !strings.Contains(diag, want) {
					t.Errorf("diagnostics = %q; want it to name %q", diag, want)
				}
			}
			if code := r.str("issue", "0", "code"); code != "too-costly" {
				t.Errorf("issue code = %q; want too-costly", code)
			}
			if total := srv.do(http.MethodGet, "/Organization?_summary=count", "").want(t, http.StatusOK).get("total"); fmt.Sprint(total) != "0" {
				t.Errorf("Organizations after the refused create: %v; want 0", total)
			}
			audit := srv.do(http.MethodGet, "/AuditEvent?outcome=4", "").want(t, http.StatusOK)
			if !strings.Contains(string(audit.body), "more than 100000 JSON values") {
				t.Errorf("no audit record of the refusal names the limit: %.2000s", audit.body)
			}

			// At the limit it is stored; one more value is refused.
			srv.do(http.MethodPost, "/Organization", aliasOrg(100_000-3)).want(t, http.StatusCreated)
			srv.do(http.MethodPost, "/Organization", aliasOrg(100_000-2)).want(t, http.StatusRequestEntityTooLarge)
		})
	}
}

// TestNodeLimitBundles: in a Bundle each entry's resource is held to the
// limit on one resource (a batch answers that entry alone with 413, a
// transaction is refused whole), and the Bundle as a whole to one value
// per 16 bytes of the body limit; a transaction of 10,000 ordinary
// resources is within both.
func TestNodeLimitBundles(t *testing.T) {
	entry := func(res, method, url string) string {
		return `{"resource":` + res + `,"request":{"method":"` + method + `","url":"` + url + `"}}`
	}
	bundle := func(typ string, entries ...string) string {
		return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`
	}
	small := `{"resourceType":"Organization","name":"Small"}`
	for _, be := range testdb.All {
		t.Run(be.Name, func(t *testing.T) {
			// 1,000 values a resource; 1 MiB of body: 65,536 values a Bundle.
			srv := startWith(t, opener(t, be), func(c *server.Config) { c.MaxResourceNodes = 1000 })
			big := aliasOrg(1000)

			r := srv.do(http.MethodPost, "", bundle("batch", entry(small, "POST", "Organization"), entry(big, "POST", "Organization"))).want(t, http.StatusOK)
			if got := []string{r.str("entry", "0", "response", "status"), r.str("entry", "1", "response", "status")}; got[0] != "201 Created" || got[1] != "413 Request Entity Too Large" {
				t.Errorf("batch entry statuses = %v; want 201 and 413", got)
			}
			if d := r.str("entry", "1", "response", "outcome", "issue", "0", "diagnostics"); !strings.Contains(d, "Bundle.entry[1]: the resource holds more than 1000 JSON values") {
				t.Errorf("batch entry 1 outcome = %q", d)
			}

			r = srv.do(http.MethodPost, "", bundle("transaction", entry(small, "POST", "Organization"), entry(big, "PUT", "Organization/big"))).want(t, http.StatusRequestEntityTooLarge)
			if d, expr := r.issue(); !strings.Contains(d, "more than 1000 JSON values") || expr != "Bundle.entry[1].resource" {
				t.Errorf("transaction refused with %q at %q; want the limit at Bundle.entry[1].resource", d, expr)
			}

			var many []string
			for range 100 {
				many = append(many, entry(aliasOrg(700), "POST", "Organization"))
			}
			r = srv.do(http.MethodPost, "", bundle("batch", many...)).want(t, http.StatusRequestEntityTooLarge)
			if d, _ := r.issue(); !strings.Contains(d, "the Bundle holds more than 65536 JSON values") || !strings.Contains(d, "--max-body") {
				t.Errorf("Bundle over its bound: %q", d)
			}
			if total := srv.do(http.MethodGet, "/Organization?_summary=count", "").want(t, http.StatusOK).get("total"); fmt.Sprint(total) != "1" {
				t.Errorf("Organizations stored = %v; want the batch's one", total)
			}
		})
	}
}

// TestLargeTransaction: a transaction of 10,000 ordinary resources (about
// 4 MB, 300,000 values) is accepted under the default limits.
func TestLargeTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 writes on each backend")
	}
	for _, be := range testdb.All {
		t.Run(be.Name, func(t *testing.T) {
			srv := startWith(t, opener(t, be), func(c *server.Config) { c.MaxBodyBytes = 16 << 20 })
			var entries []string
			for i := range 10_000 {
				entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Practitioner","active":true,"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"%d"}],"name":[{"family":"Family%d","given":["Given%d"]}],"telecom":[{"system":"phone","value":"555-%04d"}],"address":[{"city":"Boston","state":"MA","postalCode":"02118"}]},"request":{"method":"POST","url":"Practitioner"}}`, 1000000000+i, i, i, i%10000))
			}
			r := srv.do(http.MethodPost, "", `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`, "Prefer", "return=minimal").want(t, http.StatusOK)
			if n := len(r.get("entry").([]any)); n != 10_000 {
				t.Errorf("transaction-response entries = %d; want 10000", n)
			}
			if got, want := r.header.Get("Content-Length"), strconv.Itoa(len(r.body)); got != want {
				t.Errorf("Content-Length = %q; want %s (the streamed Bundle's length)", got, want)
			}
		})
	}
}

// TestBodyBudgetServed: with a budget smaller than any large body, each
// large body still runs (alone), whether it declares its length or is
// sent in chunks, and gives its share back when answered.
func TestBodyBudgetServed(t *testing.T) {
	srv := startWith(t, opener(t, testdb.All[0]), func(c *server.Config) { c.MaxBodyBytes, c.BodyBudget = 16<<20, 1 })
	long := `"` + strings.Repeat("a", 160) + `"`
	body := `{"resourceType":"Organization","alias":[` + strings.TrimSuffix(strings.Repeat(long+",", 12_000), ",") + `]}`
	for i, chunked := range []bool{false, true, false} {
		var rd io.Reader = strings.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // no length known to the client: sent chunked
		}
		req, err := http.NewRequest(http.MethodPost, srv.base+"/Organization", rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Prefer", "return=minimal")
		resp, err := srv.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("large body %d (chunked %v) = %d; want 201", i, chunked, resp.StatusCode)
		}
	}
}
