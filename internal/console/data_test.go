package console_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/load"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/store"
)

// loadJSON stores resources as vhdir load does (through the directory, with
// their Provenance and audit records), as an operator: a resource's JSON,
// or a transaction Bundle's (through the FHIR pipeline).
func (h *harness) loadJSON(t *testing.T, name string, data string) {
	t.Helper()
	ctx := server.AsOperator(context.Background(), "tester", "test")
	sum, err := load.RunFiles(ctx, h.Server.LoadConfig(), []load.File{{Name: name + ".json", Data: []byte(data)}})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	if len(sum.Problems) > 0 {
		t.Fatalf("load %s: %v", name, sum.Problems)
	}
	if sum.Total()+sum.Unchanged == 0 {
		t.Fatalf("load %s stored nothing", name)
	}
}

// storeUnchecked stores a resource's first version straight into the
// store, past the directory's profile check: data written under
// --profile-validation off, which the console's validation must show.
func (h *harness) storeUnchecked(t *testing.T, typ, id, body string) {
	t.Helper()
	err := h.Store.Update(context.Background(), func(tx store.Tx) error {
		at := time.Now().UTC().Truncate(time.Millisecond)
		if nb := tx.NotBefore(); at.Before(nb) {
			at = nb
		}
		return tx.Put(context.Background(), &store.Version{Type: typ, ID: id, VersionID: 1, LastUpdated: at, Body: []byte(body)}, &store.Index{})
	})
	if err != nil {
		t.Fatalf("store %s/%s: %v", typ, id, err)
	}
}

// practitionerExample is the IG's example Practitioner (practitioner1).
func practitionerExample(t *testing.T) string {
	t.Helper()
	for _, f := range ig.Examples() {
		if f.Name == "practitioner-example-washington.json" {
			return string(f.Data)
		}
	}
	t.Fatal("no practitioner-example-washington.json among the IG's examples")
	return ""
}

// elementHTML is the HTML of the tag element with id, up to its first
// closing tag; "" when the page has none.
func elementHTML(body, tag, id string) string {
	at := strings.Index(body, ` id="`+id+`"`)
	if at < 0 {
		return ""
	}
	start := strings.LastIndex(body[:at], "<"+tag)
	if start < 0 || strings.Contains(body[start:at], ">") {
		return ""
	}
	end := strings.Index(body[start:], "</"+tag+">")
	if end < 0 {
		return body[start:]
	}
	return body[start : start+end]
}

func TestDataTypes(t *testing.T) {
	forEachBackend(t, startOptions{}, func(t *testing.T, h *harness) {
		c := h.login()
		status, body := h.get(c, "/data")
		if status != http.StatusOK {
			t.Fatalf("/data: %d\n%s", status, body)
		}
		list := elementHTML(body, "ul", "types")
		for _, typ := range []string{"Practitioner", "Organization", "Location", "Provenance", "AuditEvent"} {
			if !strings.Contains(list, `<a href="/data/`+typ+`">`+typ+`</a>`) {
				t.Errorf("/data does not link %s:\n%s", typ, list)
			}
		}
	})
}

func TestDataSearch(t *testing.T) {
	forEachBackend(t, startOptions{Seed: true}, func(t *testing.T, h *harness) {
		c := h.login()
		tests := []struct {
			name   string
			path   string
			status int
			has    []string // in the page
			hasNot []string
		}{
			{name: "by name", path: "/data/Practitioner?name=Washington", status: http.StatusOK,
				has: []string{`href="/data/Practitioner/practitioner1"`, "George Washington"}},
			{name: "by identifier", path: "/data/Practitioner?identifier=http://hl7.org/fhir/sid/us-npi%7C1234567893", status: http.StatusOK,
				has: []string{`href="/data/Practitioner/practitioner1"`}},
			{name: "no match", path: "/data/Practitioner?name=Nobody-Here", status: http.StatusOK,
				has: []string{"No Practitioner matches."}, hasNot: []string{"practitioner1"}},
			{name: "empty fields are left out", path: "/data/Practitioner?name=Washington&identifier=&family=&_count=", status: http.StatusOK,
				has: []string{`href="/data/Practitioner/practitioner1"`}},
			{name: "an organization by name", path: "/data/Organization?name=Founding", status: http.StatusOK,
				has: []string{"Founding Fathers Memorial Hospital"}},
			{name: "a restricted resource is marked", path: "/data/Location?_id=loc-ws", status: http.StatusOK,
				has: []string{`href="/data/Location/loc-ws"`, `class="bad restricted"`}},
			{name: "an unrestricted one is not", path: "/data/Practitioner?_id=practitioner1", status: http.StatusOK,
				has: []string{`href="/data/Practitioner/practitioner1"`}, hasNot: []string{`class="bad restricted"`}},
			{name: "unknown parameter", path: "/data/Practitioner?bogus=1", status: http.StatusBadRequest,
				has: []string{`id="error"`, "bogus", `id="data-search"`}, hasNot: []string{`id="results"`}},
			{name: "bad value", path: "/data/Practitioner?_lastUpdated=yesterday", status: http.StatusBadRequest,
				has: []string{`id="error"`}},
			{name: "bad _count", path: "/data/Practitioner?_count=many", status: http.StatusBadRequest,
				has: []string{`id="error"`}},
			{name: "unknown type", path: "/data/Patient?name=x", status: http.StatusNotFound,
				has: []string{"Patient"}, hasNot: []string{`id="data-search"`}},
			{name: "unreadable query", path: "/data/Practitioner?name=%zz", status: http.StatusBadRequest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, body := h.get(c, tt.path)
				if status != tt.status {
					t.Fatalf("%s: %d; want %d\n%s", tt.path, status, tt.status, body)
				}
				for _, s := range tt.has {
					if !strings.Contains(body, s) {
						t.Errorf("%s: page lacks %q\n%s", tt.path, s, body)
					}
				}
				for _, s := range tt.hasNot {
					if strings.Contains(body, s) {
						t.Errorf("%s: page has %q", tt.path, s)
					}
				}
			})
		}
	})
}

// TestDataSearchForm: the form has an input per search parameter of the
// type, named as the parameter and filled from the URL, and _count; what
// the URL holds beyond its fields is kept in the form.
func TestDataSearchForm(t *testing.T) {
	forEachBackend(t, startOptions{}, func(t *testing.T, h *harness) {
		c := h.login()
		status, body := h.get(c, "/data/Practitioner?name=Smith&name:exact=Jo&_sort=-_lastUpdated&_count=20")
		if status != http.StatusOK {
			t.Fatalf("%d\n%s", status, body)
		}
		form := elementHTML(body, "form", "data-search")
		if !strings.Contains(form, `method="get"`) || !strings.Contains(form, `action="/data/Practitioner"`) {
			t.Errorf("the search form is not a GET of /data/Practitioner:\n%s", form)
		}
		for _, in := range []string{
			`name="name" value="Smith"`, `name="identifier" value=""`, `name="family" value=""`, `name="_id" value=""`,
			`name="_lastUpdated" value=""`, `name="_count" value="20"`, `name="name:exact" value="Jo"`, `name="_sort" value="-_lastUpdated"`,
		} {
			if !strings.Contains(form, in) {
				t.Errorf("the form lacks <input %s>", in)
			}
		}
		// Everyday parameters first, the others folded after them.
		more := strings.Index(form, "<summary>More parameters of Practitioner</summary>")
		if i := strings.Index(form, `name="name"`); more < 0 || i < 0 || i > more {
			t.Errorf("name is not among the first parameters, before the folded others")
		}
		if i := strings.Index(form, `name="address-postalcode"`); i < more {
			t.Errorf("address-postalcode is not among the folded parameters")
		}
		if !strings.Contains(body, `id="search-note"`) {
			t.Errorf("no note that any parameter may be typed in the URL")
		}
		// An Organization's form has its own parameters, not a Practitioner's.
		_, body = h.get(c, "/data/Organization")
		form = elementHTML(body, "form", "data-search")
		if !strings.Contains(form, `name="partof"`) || strings.Contains(form, `name="family"`) {
			t.Errorf("Organization's form does not have Organization's parameters:\n%s", form)
		}
	})
}

var nextLinkRE = regexp.MustCompile(`<a id="next" href="([^"]+)"`)

// TestDataSearchPaging: the next link stays on the console and leads to
// the next page, until the last.
func TestDataSearchPaging(t *testing.T) {
	forEachBackend(t, startOptions{Seed: true}, func(t *testing.T, h *harness) {
		c := h.login()
		seen := map[string]bool{}
		path := "/data/Organization?_count=2"
		for pages := 0; path != ""; pages++ {
			if pages > 20 {
				t.Fatal("more than 20 pages of Organizations")
			}
			status, body := h.get(c, path)
			if status != http.StatusOK {
				t.Fatalf("%s: %d\n%s", path, status, body)
			}
			rows := regexp.MustCompile(`href="/data/Organization/([^"]+)"`).FindAllStringSubmatch(elementHTML(body, "table", "results"), -1)
			if len(rows) == 0 || len(rows) > 2 {
				t.Fatalf("%s: %d rows; want 1 or 2", path, len(rows))
			}
			for _, r := range rows {
				if seen[r[1]] {
					t.Errorf("Organization %s on two pages", r[1])
				}
				seen[r[1]] = true
			}
			path = ""
			if m := nextLinkRE.FindStringSubmatch(body); m != nil {
				path = html.UnescapeString(m[1])
				if !strings.HasPrefix(path, "/data/Organization?") || !strings.Contains(path, "_page=") {
					t.Fatalf("next link %q is not a console search of the next page", path)
				}
			}
		}
		if len(seen) < 5 {
			t.Errorf("%d Organizations over all pages; want every seeded one (at least 5)", len(seen))
		}
	})
}

func TestDataResource(t *testing.T) {
	forEachBackend(t, startOptions{Seed: true}, func(t *testing.T, h *harness) {
		c := h.login()
		h.loadJSON(t, "washington-v2", strings.Replace(practitionerExample(t), `"text": "George Washington"`, `"text": "Martha Washington"`, 1))

		status, body := h.get(c, "/data/Practitioner/practitioner1")
		if status != http.StatusOK {
			t.Fatalf("%d\n%s", status, body)
		}
		pre := elementHTML(body, "pre", "resource")
		if !strings.Contains(pre, `&#34;resourceType&#34;: &#34;Practitioner&#34;`) || !strings.Contains(pre, "Martha Washington") ||
			!strings.Contains(pre, "\n  &#34;id&#34;: &#34;practitioner1&#34;") {
			t.Errorf("the resource's current JSON is not shown pretty-printed:\n%s", pre)
		}

		hist := elementHTML(body, "section", "history")
		for _, want := range []string{"version 2", "version 1", `<div class="diff">`, "Changes since version 1"} {
			if !strings.Contains(hist, want) {
				t.Errorf("history lacks %q:\n%s", want, hist)
			}
		}
		if !regexp.MustCompile(`<del>- +&#34;text&#34;: &#34;George Washington&#34;,?</del>`).MatchString(hist) ||
			!regexp.MustCompile(`<ins>\+ +&#34;text&#34;: &#34;Martha Washington&#34;,?</ins>`).MatchString(hist) {
			t.Errorf("history has no diff of the name's change:\n%s", hist)
		}
		// Only the name and meta's versionId and lastUpdated changed.
		if ins, del := strings.Count(hist, "<ins>"), strings.Count(hist, "<del>"); ins != 3 || del != 3 {
			t.Errorf("the diff has %d insertions and %d deletions; want 3 of each (name.text, meta.versionId, meta.lastUpdated):\n%s", ins, del, hist)
		}
		if strings.Index(hist, "version 2") > strings.Index(hist, "version 1") {
			t.Errorf("history is not newest first")
		}

		prov := elementHTML(body, "section", "provenance")
		if n := strings.Count(prov, `href="/data/Provenance/`); n < 2 {
			t.Errorf("provenance lists %d records; want one per load (2):\n%s", n, prov)
		}
		for _, want := range []string{"operator tester (vhdir test)", "Practitioner/practitioner1/_history/2", "Practitioner/practitioner1/_history/1"} {
			if !strings.Contains(prov, want) {
				t.Errorf("provenance lacks %q:\n%s", want, prov)
			}
		}

		// The IG's example has no narrative: R4's dom-6 warns.
		valid := elementHTML(body, "section", "validation")
		if !strings.Contains(valid, "<td>warning</td><td><code>Practitioner</code></td><td>dom-6: ") || strings.Contains(valid, "no issues") {
			t.Errorf("the validation section does not list the example's warning:\n%s", valid)
		}
		if r := elementHTML(body, "section", "restrictions"); !strings.Contains(r, `id="no-restrictions"`) {
			t.Errorf("an unrestricted resource's restrictions are not none:\n%s", r)
		}
	})
}

// TestDataResourceChecks: a restricted resource shows its restrictions;
// Provenance and AuditEvent records have pages too; unknown types and ids
// are 404.
func TestDataResourceChecks(t *testing.T) {
	forEachBackend(t, startOptions{Seed: true}, func(t *testing.T, h *harness) {
		c := h.login()
		status, body := h.get(c, "/data/Location/loc-ws")
		if status != http.StatusOK {
			t.Fatalf("%d\n%s", status, body)
		}
		if !strings.Contains(body, `<p class="bad restricted">2 elements restricted</p>`) {
			t.Errorf("loc-ws's page does not say it is restricted")
		}
		r := elementHTML(body, "section", "restrictions")
		for _, want := range []string{"<td><code>Location.address</code></td>", "<td><code>Location.telecom[1]</code></td>", "in force", "Blue Team @ The W shelter"} {
			if !strings.Contains(r, want) || strings.Contains(r, `id="no-restrictions"`) {
				t.Errorf("loc-ws's restrictions lack %q:\n%s", want, r)
			}
		}

		// The records' own pages: a Provenance and an AuditEvent, found
		// by searching their types.
		for _, search := range []string{"/data/Provenance?target=Practitioner/practitioner1", "/data/AuditEvent?_count=1"} {
			_, body := h.get(c, search)
			m := regexp.MustCompile(`href="(/data/(?:Provenance|AuditEvent)/[^"]+)"`).FindStringSubmatch(elementHTML(body, "table", "results"))
			if m == nil {
				t.Errorf("%s finds no record:\n%s", search, body)
				continue
			}
			if status, body := h.get(c, m[1]); status != http.StatusOK || elementHTML(body, "pre", "resource") == "" {
				t.Errorf("%s: %d, or no current version shown\n%s", m[1], status, body)
			}
		}

		for _, tt := range []struct {
			path   string
			status int
		}{
			{"/data/Practitioner/nobody", http.StatusNotFound},
			{"/data/Patient/x", http.StatusNotFound},
		} {
			if status, body := h.get(c, tt.path); status != tt.status || !strings.Contains(body, `id="error"`) {
				t.Errorf("%s: %d; want %d with an error page\n%s", tt.path, status, tt.status, body)
			}
		}
	})
}

// TestDataResourceValidation: the validation section lists a stored
// resource's issues (one stored with validation off), or says there are
// none.
func TestDataResourceValidation(t *testing.T) {
	forEachBackend(t, startOptions{}, func(t *testing.T, h *harness) {
		c := h.login()
		h.loadJSON(t, "good-org", validOrganization("good-org", "Valid Org"))
		h.storeUnchecked(t, "Organization", "bad-org", `{"resourceType":"Organization","id":"bad-org","name":"No Active Flag","telecom":[{"value":"x"}]}`)
		tests := []struct {
			id     string
			has    []string
			hasNot []string
		}{
			{"good-org", []string{`id="no-issues"`}, []string{"<table>"}},
			{"bad-org", []string{
				`<tr><td><span class="bad">error</span></td><td><code>Organization.telecom[0]</code></td><td>cpt-2: `,
				`<tr><td><span class="bad">error</span></td><td><code>Organization</code></td><td>Organization.active: minimum required = 1`,
			}, []string{`id="no-issues"`}},
		}
		for _, tt := range tests {
			status, body := h.get(c, "/data/Organization/"+tt.id)
			if status != http.StatusOK {
				t.Fatalf("%s: %d\n%s", tt.id, status, body)
			}
			v := elementHTML(body, "section", "validation")
			for _, s := range tt.has {
				if !strings.Contains(v, s) {
					t.Errorf("%s: validation lacks %q:\n%s", tt.id, s, v)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(v, s) {
					t.Errorf("%s: validation has %q:\n%s", tt.id, s, v)
				}
			}
		}
	})
}

// TestDataResourceDeleted: a deleted resource says so and shows its
// history, its delete included.
func TestDataResourceDeleted(t *testing.T) {
	forEachBackend(t, startOptions{Seed: true}, func(t *testing.T, h *harness) {
		c := h.login()
		h.loadJSON(t, "delete", `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Endpoint/direct321"}}]}`)
		status, body := h.get(c, "/data/Endpoint/direct321")
		if status != http.StatusOK {
			t.Fatalf("%d\n%s", status, body)
		}
		if !strings.Contains(body, `id="deleted"`) || strings.Contains(body, `<pre id="resource">`) {
			t.Errorf("a deleted resource's page does not say it is deleted, or shows a current version")
		}
		hist := elementHTML(body, "section", "history")
		if !strings.Contains(hist, "version 2") || !strings.Contains(hist, `<span class="bad">deleted</span>`) || !strings.Contains(hist, "version 1") {
			t.Errorf("the history does not show the creation and the delete:\n%s", hist)
		}
	})
}

const xssName = `<script>alert(1)</script><b>x</b>`

// validOrganization is an Organization valid against R4 and VhDir's profile.
func validOrganization(id, name string) string {
	out, err := json.Marshal(map[string]any{
		"resourceType": "Organization", "id": id, "active": true, "name": name,
		"text": map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml">An organization</div>`},
		"type": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov"}}}},
	})
	if err != nil {
		panic(err)
	}
	return string(out)
}

// TestDataEscapes: resource text holding HTML is shown as text, on the
// search results and on the resource's page.
func TestDataEscapes(t *testing.T) {
	forEachBackend(t, startOptions{}, func(t *testing.T, h *harness) {
		c := h.login()
		h.loadJSON(t, "xss", validOrganization("xss", xssName))
		escaped := html.EscapeString(xssName)
		for _, path := range []string{"/data/Organization?_id=xss", "/data/Organization/xss"} {
			status, body := h.get(c, path)
			if status != http.StatusOK {
				t.Fatalf("%s: %d\n%s", path, status, body)
			}
			if strings.Contains(body, "<script>alert") || strings.Contains(body, "<b>x</b>") {
				t.Errorf("%s shows the name's HTML as HTML", path)
			}
			if !strings.Contains(body, escaped) {
				t.Errorf("%s does not show the name as text (%s)", path, escaped)
			}
		}
	})
}
