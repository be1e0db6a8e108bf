package rest_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// withoutServerMeta drops what the server sets (meta.versionId and
// meta.lastUpdated, and meta if nothing else is left) so a stored resource
// can be compared with what was sent.
func withoutServerMeta(o *jsontree.Object) *jsontree.Object {
	c := jsontree.Clone(o).(*jsontree.Object)
	if m, ok := c.Object("meta"); ok {
		m.Delete("versionId")
		m.Delete("lastUpdated")
		if m.Len() == 0 {
			c.Delete("meta")
		}
	}
	return c
}

// TestExamplesRoundTrip stores every IG example with PUT and reads it back
// unchanged, then again after a restart.
func TestExamplesRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		type sent struct {
			typ, id string
			obj     *jsontree.Object
		}
		var all []sent
		for _, f := range ig.Examples() {
			o, err := jsontree.ParseObject(f.Data)
			if err != nil {
				t.Fatal(err)
			}
			var resources []*jsontree.Object
			if rt, _ := o.String("resourceType"); rt == "Bundle" {
				raw, _ := o.Get("entry")
				for _, e := range raw.([]any) {
					r, _ := e.(*jsontree.Object).Object("resource")
					resources = append(resources, r)
				}
			} else {
				resources = append(resources, o)
			}
			for _, r := range resources {
				typ, _ := r.String("resourceType")
				id, _ := r.String("id")
				resp := srv.do(http.MethodPut, "/"+typ+"/"+id, string(jsontree.Marshal(r)))
				if resp.status != http.StatusCreated && resp.status != http.StatusOK {
					t.Fatalf("PUT %s/%s (%s) = %d %s", typ, id, f.Name, resp.status, resp.body)
				}
				all = append(all, sent{typ, id, r})
			}
		}
		check := func(stage string) {
			for _, s := range all {
				resp := srv.do(http.MethodGet, "/"+s.typ+"/"+s.id, "").want(t, http.StatusOK)
				if !jsontree.Equal(withoutServerMeta(resp.obj), withoutServerMeta(s.obj)) {
					t.Errorf("%s: GET %s/%s differs from what was stored:\n got %s\nwant %s", stage, s.typ, s.id, jsontree.Marshal(withoutServerMeta(resp.obj)), jsontree.Marshal(withoutServerMeta(s.obj)))
				}
				if v := resp.str("meta", "versionId"); v != "1" {
					t.Errorf("%s: %s/%s versionId = %q; want 1 (the Bundle repeats are identical and make no new version)", stage, s.typ, s.id, v)
				}
			}
		}
		check("before restart")
		srv.restart()
		check("after restart")
	})
}

func TestCreateReadUpdateDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		body := `{"resourceType":"Organization","id":"ignored","active":true,"name":"Acme Clinic"}`
		created := srv.do(http.MethodPost, "/Organization", body).want(t, http.StatusCreated)
		id := created.str("id")
		if id == "" || id == "ignored" {
			t.Fatalf("create id = %q; want a server-assigned id", id)
		}
		if loc := created.header.Get("Location"); loc != srv.base+"/Organization/"+id+"/_history/1" {
			t.Errorf("Location = %q", loc)
		}
		if et := created.header.Get("ETag"); et != `W/"1"` {
			t.Errorf("ETag = %q; want W/\"1\"", et)
		}
		if lu := created.str("meta", "lastUpdated"); lu != "2026-03-04T05:06:07.000Z" {
			t.Errorf("meta.lastUpdated = %q; want the clock's time", lu)
		}

		read := srv.do(http.MethodGet, "/Organization/"+id, "").want(t, http.StatusOK)
		if read.header.Get("Last-Modified") != "Wed, 04 Mar 2026 05:06:07 GMT" || read.header.Get("ETag") != `W/"1"` {
			t.Errorf("read headers = %v", read.header)
		}
		srv.do(http.MethodGet, "/Organization/"+id, "", "If-None-Match", `W/"1"`).want(t, http.StatusNotModified)
		srv.do(http.MethodGet, "/Organization/"+id, "", "If-Modified-Since", "Wed, 04 Mar 2026 05:06:07 GMT").want(t, http.StatusNotModified)

		srv.clock.Advance(time.Minute)
		upd := `{"resourceType":"Organization","id":"` + id + `","active":false,"name":"Acme Clinic"}`
		srv.do(http.MethodPut, "/Organization/"+id, upd, "If-Match", `W/"7"`).want(t, http.StatusPreconditionFailed)
		v2 := srv.do(http.MethodPut, "/Organization/"+id, upd, "If-Match", `W/"1"`).want(t, http.StatusOK)
		if v2.str("meta", "versionId") != "2" || v2.header.Get("ETag") != `W/"2"` {
			t.Errorf("update version = %s, ETag %s; want 2", v2.str("meta", "versionId"), v2.header.Get("ETag"))
		}
		same := srv.do(http.MethodPut, "/Organization/"+id, upd).want(t, http.StatusOK)
		if same.str("meta", "versionId") != "2" {
			t.Errorf("identical update made version %s; want it to stay 2", same.str("meta", "versionId"))
		}
		if srv.do(http.MethodGet, "/Organization/"+id+"/_history/1", "").want(t, http.StatusOK).get("active") != true {
			t.Errorf("vread 1 does not show the first version")
		}
		srv.do(http.MethodGet, "/Organization/"+id+"/_history/3", "").want(t, http.StatusNotFound)

		del := srv.do(http.MethodDelete, "/Organization/"+id, "").want(t, http.StatusOK)
		if del.str("resourceType") != "OperationOutcome" {
			t.Errorf("delete body = %s; want an OperationOutcome", del.body)
		}
		gone := srv.do(http.MethodGet, "/Organization/"+id, "").want(t, http.StatusGone)
		if gone.header.Get("ETag") != `W/"3"` {
			t.Errorf("410 ETag = %q; want the delete version W/\"3\"", gone.header.Get("ETag"))
		}
		srv.do(http.MethodGet, "/Organization/"+id+"/_history/3", "").want(t, http.StatusGone)
		srv.do(http.MethodGet, "/Organization/"+id+"/_history/2", "").want(t, http.StatusOK)
		srv.do(http.MethodDelete, "/Organization/"+id, "").want(t, http.StatusOK) // idempotent
		srv.do(http.MethodDelete, "/Organization/"+id, "", "Prefer", "return=minimal").want(t, http.StatusNoContent)

		again := srv.do(http.MethodPut, "/Organization/"+id, upd).want(t, http.StatusCreated)
		if again.str("meta", "versionId") != "4" {
			t.Errorf("re-create after delete version = %s; want 4", again.str("meta", "versionId"))
		}
		srv.do(http.MethodGet, "/Organization/nope", "").want(t, http.StatusNotFound)
	})
}

func TestUpdateAsCreateAndIDRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		srv.do(http.MethodPut, "/Endpoint/ep-1", `{"resourceType":"Endpoint","id":"ep-1","status":"active","connectionType":{"code":"direct-project"},"payloadType":[{"text":"any"}],"address":"mailto:a@b.example"}`).want(t, http.StatusCreated)
		tests := []struct {
			name, path, body string
			status           int
			diag             string
		}{
			{"id missing in body", "/Endpoint/ep-2", `{"resourceType":"Endpoint","status":"active","connectionType":{"code":"x"},"payloadType":[{"text":"any"}],"address":"x"}`, 400, "has no id"},
			{"id differs", "/Endpoint/ep-2", `{"resourceType":"Endpoint","id":"ep-3","status":"active","connectionType":{"code":"x"},"payloadType":[{"text":"any"}],"address":"x"}`, 400, "differs"},
			{"type differs", "/Endpoint/ep-2", `{"resourceType":"Location","id":"ep-2"}`, 400, "URL names Endpoint"},
			{"bad id in URL", "/Endpoint/a_b", `{"resourceType":"Endpoint","id":"a_b"}`, 400, "not a valid resource id"},
			{"id too long", "/Endpoint/" + strings.Repeat("a", 65), `{}`, 400, "not a valid resource id"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := srv.do(http.MethodPut, tt.path, tt.body).want(t, tt.status)
				if d, _ := r.issue(); !strings.Contains(d, tt.diag) {
					t.Errorf("diagnostics = %q; want it to mention %q", d, tt.diag)
				}
			})
		}
	})
}

func TestBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		tests := []struct {
			name         string
			method, path string
			body         string
			header       []string
			status       int
			diag, expr   string
		}{
			{"malformed JSON", "POST", "/Practitioner", "{\"resourceType\":\"Practitioner\",\n\"active\": tru}", nil, 400, "line 2 column 11", ""},
			{"resourceType differs from URL", "POST", "/Practitioner", `{"resourceType":"Organization"}`, nil, 400, "URL names Practitioner", "resourceType"},
			{"unknown resourceType", "POST", "/Practitioner", `{"resourceType":"Foo"}`, nil, 400, "", "resourceType"},
			{"boolean as string", "POST", "/Practitioner", `{"resourceType":"Practitioner","active":"true"}`, nil, 400, "boolean", "Practitioner.active"},
			{"integer in string array", "POST", "/Practitioner", `{"resourceType":"Practitioner","name":[{"given":["a",1]}]}`, nil, 400, "", "Practitioner.name[0].given[1]"},
			{"bad date", "POST", "/Practitioner", `{"resourceType":"Practitioner","birthDate":"1970-02-30"}`, nil, 400, "", "Practitioner.birthDate"},
			{"bad decimal", "POST", "/Location", `{"resourceType":"Location","position":{"latitude":"38.8","longitude":-77}}`, nil, 400, "", "Location.position.latitude"},
			{"bad instant", "POST", "/Endpoint", `{"resourceType":"Endpoint","status":"active","connectionType":{"code":"x"},"payloadType":[{"text":"a"}],"address":"x","period":{"start":"2020-13-01"}}`, nil, 400, "", "Endpoint.period.start"},
			{"bad code", "POST", "/Practitioner", `{"resourceType":"Practitioner","gender":"male "}`, nil, 400, "", "Practitioner.gender"},
			{"bad uri", "POST", "/Practitioner", `{"resourceType":"Practitioner","identifier":[{"system":"http://a b","value":"1"}]}`, nil, 400, "", "Practitioner.identifier[0].system"},
			{"malformed reference", "POST", "/PractitionerRole", `{"resourceType":"PractitionerRole","practitioner":{"reference":"Practitioner/"}}`, nil, 400, "", "PractitionerRole.practitioner.reference"},
			{"reference to a wrong type", "POST", "/PractitionerRole", `{"resourceType":"PractitionerRole","practitioner":{"reference":"Organization/1"}}`, nil, 400, "", "PractitionerRole.practitioner.reference"},
			{"malformed extension url", "POST", "/Practitioner", `{"resourceType":"Practitioner","extension":[{"url":"not a url","valueString":"x"}]}`, nil, 400, "", "Practitioner.extension[0].url"},
			{"unknown element", "POST", "/Practitioner", `{"resourceType":"Practitioner","nickname":"x"}`, nil, 400, "nickname", "Practitioner"},
			{"empty body", "POST", "/Practitioner", "", nil, 400, "no body", ""},
			{"xml body", "POST", "/Practitioner", `<Practitioner/>`, []string{"Content-Type", "application/fhir+xml"}, 415, "JSON only", ""},
			{"xml wanted", "GET", "/metadata", "", []string{"Accept", "application/fhir+xml"}, 406, "JSON only", ""},
			{"_format xml", "GET", "/metadata?_format=xml", "", nil, 406, "JSON only", ""},
			{"unknown type", "GET", "/Patient/1", "", nil, 404, "not served", ""},
			{"patch", "PATCH", "/Practitioner/1", `[]`, []string{"Content-Type", "application/json-patch+json"}, 405, "PATCH", ""},
			{"audit events are server-written", "POST", "/AuditEvent", `{"resourceType":"AuditEvent"}`, nil, 405, "written by the server", ""},
			{"too large", "POST", "/Practitioner", `{"resourceType":"Practitioner","name":[{"text":"` + strings.Repeat("x", testMaxBody) + `"}]}`, nil, 413, "larger than", ""},
			{"bad If-Match", "PUT", "/Practitioner/x", `{"resourceType":"Practitioner","id":"x"}`, []string{"If-Match", "seven"}, 400, "If-Match", ""},
			{"conditional update without criteria", "PUT", "/Practitioner", `{"resourceType":"Practitioner"}`, nil, 405, "needs an id", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := srv.do(tt.method, tt.path, tt.body, tt.header...).want(t, tt.status)
				if r.str("resourceType") != "OperationOutcome" {
					t.Fatalf("body = %s; want an OperationOutcome", r.body)
				}
				diag, expr := r.issue()
				if !strings.Contains(diag, tt.diag) {
					t.Errorf("diagnostics = %q; want it to contain %q", diag, tt.diag)
				}
				if tt.expr != "" && expr != tt.expr {
					t.Errorf("expression = %q; want %q (diagnostics %q)", expr, tt.expr, diag)
				}
			})
		}
		// Nothing of the above was stored: the history holds their audit
		// records alone.
		h := srv.do(http.MethodGet, "/_history?_count=1000", "").want(t, http.StatusOK)
		if got := historyRefs(h, "AuditEvent"); len(got) != 0 {
			t.Errorf("after refused requests the history has %v; want no entries but AuditEvents", got)
		}
	})
}

// historyRefs lists a history Bundle's entries (fullUrl and ETag), leaving
// out those of the types skipped.
func historyRefs(r *response, skip ...string) []string {
	var out []string
	for _, e := range asArray(r.get("entry")) {
		eo := e.(*jsontree.Object)
		u, _ := eo.String("fullUrl")
		resp, _ := eo.Object("response")
		etag, _ := resp.String("etag")
		if !slices.ContainsFunc(skip, func(typ string) bool { return strings.Contains(u, "/"+typ+"/") }) {
			out = append(out, u+" "+etag)
		}
	}
	return out
}

func asArray(v any) []any {
	a, _ := v.([]any)
	return a
}

func TestConditionalInteractions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		prac := func(npi, family string) string {
			return `{"resourceType":"Practitioner","active":true,"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"` + npi + `"}],"name":[{"family":"` + family + `"}]}`
		}
		first := srv.do(http.MethodPost, "/Practitioner", prac("111", "Ames"), "If-None-Exist", "identifier=http://hl7.org/fhir/sid/us-npi|111").want(t, http.StatusCreated)
		again := srv.do(http.MethodPost, "/Practitioner", prac("111", "Ames"), "If-None-Exist", "identifier=http://hl7.org/fhir/sid/us-npi|111").want(t, http.StatusOK)
		if again.str("id") != first.str("id") {
			t.Errorf("conditional create matched %q; want the existing %q", again.str("id"), first.str("id"))
		}
		srv.do(http.MethodPost, "/Practitioner", prac("222", "Ames"), "If-None-Exist", "Practitioner?identifier=222").want(t, http.StatusCreated)
		srv.do(http.MethodPost, "/Practitioner", prac("333", "Ames"), "If-None-Exist", "family=ames").want(t, http.StatusPreconditionFailed)
		srv.do(http.MethodPost, "/Practitioner", prac("333", "Ames"), "If-None-Exist", "bogus=1").want(t, http.StatusBadRequest)

		// Conditional update: no match creates, one match updates, two are refused.
		created := srv.do(http.MethodPut, "/Practitioner?identifier=444", prac("444", "Baker")).want(t, http.StatusCreated)
		updated := srv.do(http.MethodPut, "/Practitioner?identifier=444", prac("444", "Barker")).want(t, http.StatusOK)
		if updated.str("id") != created.str("id") || updated.str("meta", "versionId") != "2" {
			t.Errorf("conditional update = %s v%s; want %s v2", updated.str("id"), updated.str("meta", "versionId"), created.str("id"))
		}
		srv.do(http.MethodPut, "/Practitioner?family=ames", prac("555", "Ames")).want(t, http.StatusPreconditionFailed)

		// Conditional delete.
		srv.do(http.MethodDelete, "/Practitioner?family=ames", "").want(t, http.StatusPreconditionFailed)
		srv.do(http.MethodDelete, "/Practitioner?identifier=444", "").want(t, http.StatusOK)
		srv.do(http.MethodGet, "/Practitioner/"+created.str("id"), "").want(t, http.StatusGone)
		srv.do(http.MethodDelete, "/Practitioner?identifier=444", "").want(t, http.StatusOK)
	})
}

func TestPrefer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		body := `{"resourceType":"Location","status":"active","name":"Annex"}`
		min := srv.do(http.MethodPost, "/Location", body, "Prefer", "return=minimal").want(t, http.StatusCreated)
		if len(min.body) != 0 || min.header.Get("Location") == "" {
			t.Errorf("return=minimal: body %q, Location %q; want no body and a Location", min.body, min.header.Get("Location"))
		}
		oo := srv.do(http.MethodPost, "/Location", body, "Prefer", "return=OperationOutcome").want(t, http.StatusCreated)
		if oo.str("resourceType") != "OperationOutcome" {
			t.Errorf("return=OperationOutcome body = %s", oo.body)
		}
		rep := srv.do(http.MethodPost, "/Location", body, "Prefer", "return=representation").want(t, http.StatusCreated)
		if rep.str("resourceType") != "Location" {
			t.Errorf("return=representation body = %s", rep.body)
		}
	})
}

func TestHistory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		for i := range 3 {
			srv.clock.Advance(time.Second)
			srv.do(http.MethodPut, "/HealthcareService/h1", fmt.Sprintf(`{"resourceType":"HealthcareService","id":"h1","active":true,"name":"v%d"}`, i))
		}
		srv.do(http.MethodDelete, "/HealthcareService/h1", "")
		srv.do(http.MethodPut, "/Location/l1", `{"resourceType":"Location","id":"l1","status":"active"}`)
		inst := srv.do(http.MethodGet, "/HealthcareService/h1/_history", "").want(t, http.StatusOK)
		if inst.str("type") != "history" || inst.get("total") != jsontree.Number("4") {
			t.Errorf("instance history type %q total %v; want history, 4", inst.str("type"), inst.get("total"))
		}
		methods := []string{}
		for i := range 4 {
			methods = append(methods, inst.str("entry", fmt.Sprint(i), "request", "method"))
		}
		if fmt.Sprint(methods) != "[DELETE PUT PUT POST]" {
			t.Errorf("history methods = %v; want newest first [DELETE PUT PUT POST]", methods)
		}
		if inst.get("entry", "0", "resource") != nil {
			t.Errorf("the delete entry carries a resource")
		}
		// Paging through the system history with _count=2 sees every version
		// once: the five written, one Provenance of each, and the audit
		// records.
		var seen []string
		next := srv.base + "/_history?_count=2"
		for next != "" {
			page := srv.do(http.MethodGet, next, "").want(t, http.StatusOK)
			seen = append(seen, historyRefs(page)...)
			next = ""
			for _, l := range asArray(page.get("link")) {
				lo := l.(*jsontree.Object)
				if rel, _ := lo.String("relation"); rel == "next" {
					next, _ = lo.String("url")
				}
			}
		}
		var data, provenances []string
		for _, v := range seen {
			switch {
			case strings.Contains(v, "/Provenance/"):
				provenances = append(provenances, v)
			case !strings.Contains(v, "/AuditEvent/"):
				data = append(data, v)
			}
		}
		if len(data) != 5 || len(provenances) != 5 {
			t.Errorf("paged system history = %v; want 5 versions and 5 Provenances", seen)
		}
		if dups := len(seen) - len(slices.Compact(slices.Sorted(slices.Values(seen)))); dups != 0 {
			t.Errorf("paged system history lists %d versions twice: %v", dups, seen)
		}
		typ := srv.do(http.MethodGet, "/Location/_history", "").want(t, http.StatusOK)
		if n := len(asArray(typ.get("entry"))); n != 1 {
			t.Errorf("type history has %d entries; want 1", n)
		}
		srv.do(http.MethodGet, "/_history?_page=garbage", "").want(t, http.StatusBadRequest)
		srv.do(http.MethodGet, "/_history?_at=2020", "").want(t, http.StatusBadRequest)
	})
}

func TestSearchBasics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		for i := range 5 {
			srv.do(http.MethodPost, "/Organization", fmt.Sprintf(`{"resourceType":"Organization","active":true,"name":"Clinic %d","address":[{"city":"Boston"}]}`, i)).want(t, http.StatusCreated)
		}
		srv.do(http.MethodPost, "/Organization", `{"resourceType":"Organization","active":false,"name":"Müller Praxis"}`).want(t, http.StatusCreated)
		tests := []struct {
			query string
			total int
		}{
			{"name=clinic", 5},
			{"name=MULLER", 1},
			{"name:exact=Clinic 3", 1},
			{"name:contains=inic", 5},
			{"active=false", 1},
			{"active:not=false", 5},
			{"address-city=boston&active=true", 5},
			{"name=clinic 1,clinic 2", 2},
		}
		for _, tt := range tests {
			r := srv.do(http.MethodGet, "/Organization?"+strings.ReplaceAll(tt.query, " ", "%20"), "").want(t, http.StatusOK)
			if r.get("total") != jsontree.Number(fmt.Sprint(tt.total)) {
				t.Errorf("Organization?%s total = %v; want %d", tt.query, r.get("total"), tt.total)
			}
		}
		page := srv.do(http.MethodGet, "/Organization?name=clinic&_count=2", "").want(t, http.StatusOK)
		if n := len(asArray(page.get("entry"))); n != 2 {
			t.Errorf("_count=2 returned %d entries", n)
		}
		post := srv.do(http.MethodPost, "/Organization/_search", "name=clinic", "Content-Type", "application/x-www-form-urlencoded").want(t, http.StatusOK)
		if post.get("total") != jsontree.Number("5") {
			t.Errorf("POST _search total = %v; want 5", post.get("total"))
		}
		srv.do(http.MethodGet, "/Organization?bogus=1", "").want(t, http.StatusBadRequest)
		lenient := srv.do(http.MethodGet, "/Organization?bogus=1&name=clinic", "", "Prefer", "handling=lenient").want(t, http.StatusOK)
		if lenient.get("total") != jsontree.Number("5") {
			t.Errorf("lenient search total = %v; want 5", lenient.get("total"))
		}
		if self := lenient.str("link", "0", "url"); strings.Contains(self, "bogus") {
			t.Errorf("self link %q shows an ignored parameter", self)
		}
		srv.do(http.MethodGet, "/Organization?_lastUpdated=ge2018-13-45", "").want(t, http.StatusBadRequest)
	})
}

func TestMetadata(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		cs := srv.do(http.MethodGet, "/metadata", "").want(t, http.StatusOK)
		if cs.str("instantiates", "0") != "http://hl7.org/fhir/uv/vhdir/CapabilityStatement/vhdir-server" {
			t.Errorf("instantiates = %v", cs.get("instantiates"))
		}
		types := map[string]*jsontree.Object{}
		for _, r := range asArray(cs.get("rest", "0", "resource")) {
			o := r.(*jsontree.Object)
			typ, _ := o.String("type")
			types[typ] = o
		}
		for _, typ := range []string{"Practitioner", "PractitionerRole", "Organization", "Location", "HealthcareService", "Endpoint", "InsurancePlan", "CareTeam", "OrganizationAffiliation", "VerificationResult"} {
			if types[typ] == nil {
				t.Errorf("CapabilityStatement lacks %s", typ)
			}
		}
		if ae := types["AuditEvent"]; ae != nil {
			for _, in := range asArray(mustGet(ae, "interaction")) {
				if c, _ := in.(*jsontree.Object).String("code"); c == "create" {
					t.Errorf("AuditEvent advertises create")
				}
			}
		}
		found := false
		for _, p := range asArray(mustGet(types["Practitioner"], "searchParam")) {
			if def, _ := p.(*jsontree.Object).String("definition"); def == "http://hl7.org/fhir/uv/vhdir/SearchParameter/practitioner-qualification-status" {
				found = true
			}
		}
		if !found {
			t.Errorf("Practitioner searchParam lacks the IG's qualification-status")
		}
	})
}

func mustGet(o *jsontree.Object, k string) any {
	v, _ := o.Get(k)
	return v
}

func TestRequestIDAndHeaders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		r := srv.do(http.MethodGet, "/metadata", "", "X-Request-Id", "trace-123")
		if r.header.Get("X-Request-Id") != "trace-123" {
			t.Errorf("X-Request-Id = %q; want the client's echoed", r.header.Get("X-Request-Id"))
		}
		r = srv.do(http.MethodGet, "/metadata", "", "X-Request-Id", "bad id\twith tab")
		if id := r.header.Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
			t.Errorf("X-Request-Id = %q; want a fresh one for an unsafe value", id)
		}
		if r.header.Get("Strict-Transport-Security") == "" {
			t.Errorf("no HSTS header")
		}
		if ct := r.header.Get("Content-Type"); ct != "application/fhir+json; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		if ct := srv.do(http.MethodGet, "/metadata", "", "Accept", "application/json").header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Accept: application/json gives Content-Type %q", ct)
		}
		pretty := srv.do(http.MethodGet, "/metadata?_pretty=true", "")
		if !strings.Contains(string(pretty.body), "\n  \"resourceType\"") {
			t.Errorf("_pretty=true is not indented")
		}
		ready := srv.do(http.MethodGet, strings.TrimSuffix(srv.base, "/fhir")+"/readyz", "")
		if ready.status != http.StatusOK {
			t.Errorf("/readyz = %d %s", ready.status, ready.body)
		}
	})
}
