package rest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// loadExamples stores every IG example with PUT.
func loadExamples(t *testing.T, srv *testServer) {
	t.Helper()
	for _, f := range ig.Examples() {
		o, err := jsontree.ParseObject(f.Data)
		if err != nil {
			t.Fatal(err)
		}
		if typ, _ := o.String("resourceType"); typ == "Bundle" {
			continue // its two resources are also examples of their own
		}
		typ, _ := o.String("resourceType")
		id, _ := o.String("id")
		if r := srv.do(http.MethodPut, "/"+typ+"/"+id, string(f.Data)); r.status != http.StatusCreated {
			t.Fatalf("PUT %s/%s = %d %s", typ, id, r.status, r.body)
		}
	}
}

// entries lists the Type/id of a searchset's entries of a mode (match or
// include), in order.
func entries(r *response, mode string) []string {
	var out []string
	for _, e := range asArray(r.get("entry")) {
		eo := e.(*jsontree.Object)
		s, _ := eo.Object("search")
		if m, _ := s.String("mode"); m != mode {
			continue
		}
		res, _ := eo.Object("resource")
		typ, _ := res.String("resourceType")
		id, _ := res.String("id")
		out = append(out, typ+"/"+id)
	}
	return out
}

// TestSearchIGExamples runs every parameter type and modifier against the
// IG's examples; both backends must give the same answers.
func TestSearchIGExamples(t *testing.T) {
	tests := []struct {
		name, query string
		want        []string // matches, sorted unless the query sorts
		sorted      bool
	}{
		// string
		{"string prefix", "Organization?name=found", []string{"Organization/foundingfathers"}, false},
		{"string prefix, case and accents", "Organization?name=FOUNDÌNG", []string{"Organization/foundingfathers"}, false},
		{"string exact", "Organization?name:exact=Homeland Health Insurance", []string{"Organization/homeland"}, false},
		{"string exact wrong case", "Organization?name:exact=homeland health insurance", nil, false},
		{"string contains", "Organization?name:contains=vernon", []string{"Organization/mtvernon"}, false},
		{"string address part", "Location?address=Washington", []string{"Location/loc-ffmh", "Location/loc-ffmh-hvi"}, false},
		{"string address line", "Location?address=3300 wash", []string{"Location/loc-ws"}, false},
		{"string address-city", "Organization?address-city=washington", []string{"Organization/foundingfathers", "Organization/patriotppo"}, false},
		{"string OR", "Organization?name=homeland,monument", []string{"Organization/homeland", "Organization/monumentHIE"}, false},
		{"string AND (prefix of the whole value)", "Organization?name=patriot&name=dental", nil, false},
		{"string AND", "Organization?name=patriot&name:contains=dental", []string{"Organization/patriotdental"}, false},
		{"string HumanName", "Practitioner?family=wash", []string{"Practitioner/practitioner1"}, false},
		{"string name alias branch", "InsurancePlan?name=patriot", []string{"InsurancePlan/insuranceplan1"}, false},
		// token
		{"token code", "Organization?type=prov", []string{"Organization/foundingfathers", "Organization/independencerehab", "Organization/mtvernon"}, false},
		{"token system|code", "Organization?type=http://terminology.hl7.org/CodeSystem/organization-type|ins", []string{"Organization/homeland"}, false},
		{"token system| only", "Organization?type=http://hl7.org/fhir/uv/vhdir/CodeSystem/network-type|", []string{"Organization/patriotppo"}, false},
		{"token |code (no system)", "Location?status=|active", []string{"Location/loc-ffmh", "Location/loc-ffmh-hvi", "Location/loc-ws", "Location/wash-dc-metro"}, false},
		{"token :text", "Organization?type:text=health information", []string{"Organization/monumentHIE"}, false},
		{"token :not", "Organization?type:not=prov", []string{"Organization/homeland", "Organization/monumentHIE", "Organization/patriotdental", "Organization/patriotppo"}, false},
		{"token boolean", "HealthcareService?active=true&specialty=394602003", []string{"HealthcareService/independencerehab1", "HealthcareService/independencerehab2"}, false},
		{"token identifier", "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1234567893", []string{"Practitioner/practitioner1"}, false},
		{"token identifier :of-type", "Practitioner?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|PRN|1234567893", []string{"Practitioner/practitioner1"}, false},
		{"token :missing", "Organization?partof:missing=true", []string{"Organization/homeland", "Organization/independencerehab", "Organization/monumentHIE", "Organization/mtvernon"}, false},
		{"token extension (new-patient)", "PractitionerRole?new-patient=true", []string{"PractitionerRole/practitionerrole1"}, false},
		{"token via extension (usecase-type)", "Endpoint?usecase-type=treatment", []string{"Endpoint/direct321"}, false},
		// reference
		{"reference Type/id", "PractitionerRole?organization=Organization/foundingfathers", []string{"PractitionerRole/practitionerrole1"}, false},
		{"reference id", "HealthcareService?organization=independencerehab", []string{"HealthcareService/independencerehab1", "HealthcareService/independencerehab2"}, false},
		{"reference :Type", "CareTeam?organization:Organization=foundingfathers", []string{"CareTeam/cardiologycareteam1"}, false},
		{"reference absolute to this server", "PractitionerRole?practitioner={base}/Practitioner/practitioner1", []string{"PractitionerRole/practitionerrole1"}, false},
		{"reference :missing", "Location?partof:missing=false", []string{"Location/loc-ffmh-hvi"}, false},
		{"reference extension (network)", "PractitionerRole?network=Organization/patriotppo", []string{"PractitionerRole/practitionerrole1"}, false},
		{"reference :below", "Organization?partof:below=Organization/homeland", []string{"Organization/patriotdental", "Organization/patriotppo"}, false},
		{"reference :below through levels", "PractitionerRole?organization:below=Organization/mtvernon", []string{"PractitionerRole/practitionerrole1"}, false},
		{"reference :above", "Location?partof:above=Location/loc-ffmh-hvi", []string{"Location/loc-ffmh-hvi"}, false}, // part of loc-ffmh, which is above
		{"reference :above on a resource's own org", "Location?organization:above=Organization/foundingfathers", []string{"Location/loc-ffmh", "Location/loc-ffmh-hvi"}, false},
		// chains and reverse chains
		{"chain", "PractitionerRole?organization.name=founding", []string{"PractitionerRole/practitionerrole1"}, false},
		{"chain two levels", "PractitionerRole?organization.partof.name=mount", []string{"PractitionerRole/practitionerrole1"}, false},
		{"chain with type", "Location?organization:Organization.type=prov", []string{"Location/loc-ffmh", "Location/loc-ffmh-hvi"}, false},
		{"_has", "Organization?_has:PractitionerRole:organization:specialty=394579002", []string{"Organization/foundingfathers"}, false},
		{"_has nested", "Practitioner?_has:PractitionerRole:practitioner:_has:CareTeam:participant:status=active", []string{"Practitioner/practitioner1"}, false},
		// date, number, quantity, uri, near
		{"date Period ge", "OrganizationAffiliation?date=ge2019", []string{"OrganizationAffiliation/orgrole1"}, false},
		{"date Period eq month outside", "OrganizationAffiliation?date=2017-03", nil, false},
		{"date open-ended period", "CareTeam?date=ge2020-01-01", []string{"CareTeam/cardiologycareteam1"}, false},
		{"date _lastUpdated", "Practitioner?_lastUpdated=ge2026-03-04", []string{"Practitioner/practitioner1"}, false},
		{"number", "InsurancePlan?general-cost-groupsize=1", []string{"InsurancePlan/insuranceplan1"}, false},
		{"number gt", "InsurancePlan?general-cost-groupsize=gt1", nil, false},
		{"quantity Money with currency", "InsurancePlan?general-cost-value=gt6000|urn:iso:std:iso:4217|USD", []string{"InsurancePlan/insuranceplan1"}, false},
		{"quantity other currency", "InsurancePlan?general-cost-value=gt6000||EUR", nil, false},
		{"uri :below", "Endpoint?usecase-standard:below=http://wiki.directproject.org", []string{"Endpoint/direct321"}, false},
		{"near (the IG example's swapped coordinates)", "Location?near=-77.0165|38.886|1|km", []string{"Location/loc-ffmh", "Location/loc-ffmh-hvi"}, false},
		// common parameters and system search
		{"_id", "Organization?_id=homeland,mtvernon", []string{"Organization/homeland", "Organization/mtvernon"}, false},
		{"_profile", "Organization?_profile=http://hl7.org/fhir/uv/vhdir/StructureDefinition/vhdir-network", []string{"Organization/patriotdental", "Organization/patriotppo"}, false},
		{"system search by _id with _type", "?_type=Organization,Location&_id=homeland,loc-ffmh", []string{"Location/loc-ffmh", "Organization/homeland"}, false},
		{"system search by _profile", "?_profile=http://hl7.org/fhir/uv/vhdir/StructureDefinition/vhdir-validation", []string{"VerificationResult/example-license"}, false},
		// sort
		{"_sort by name", "Organization?_sort=name&type=prov", []string{"Organization/foundingfathers", "Organization/independencerehab", "Organization/mtvernon"}, true},
		{"_sort desc", "Organization?_sort=-name&type=prov", []string{"Organization/mtvernon", "Organization/independencerehab", "Organization/foundingfathers"}, true},
	}
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		loadExamples(t, srv)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				path := strings.ReplaceAll(tt.query, "{base}", url.QueryEscape(srv.base))
				path = "/" + strings.TrimPrefix(strings.ReplaceAll(path, " ", "%20"), "?")
				if strings.HasPrefix(tt.query, "?") {
					path = "?" + strings.TrimPrefix(path, "/")
				}
				r := srv.do(http.MethodGet, path, "").want(t, http.StatusOK)
				got := entries(r, "match")
				if !tt.sorted {
					slices.Sort(got)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
					t.Errorf("%s = %v; want %v", tt.query, got, tt.want)
				}
				if total := fmt.Sprint(r.get("total")); total != fmt.Sprint(len(tt.want)) {
					t.Errorf("%s total = %s; want %d", tt.query, total, len(tt.want))
				}
			})
		}
	})
}

func TestSearchIncludes(t *testing.T) {
	tests := []struct {
		name, query string
		match       []string
		include     []string
	}{
		{"_include", "PractitionerRole?_include=PractitionerRole:practitioner", []string{"PractitionerRole/practitionerrole1"}, []string{"Practitioner/practitioner1"}},
		{"_include with target", "PractitionerRole?_include=PractitionerRole:location:Location", []string{"PractitionerRole/practitionerrole1"}, []string{"Location/loc-ffmh-hvi"}},
		{"_include:iterate", "PractitionerRole?_include=PractitionerRole:organization&_include:iterate=Organization:partof", []string{"PractitionerRole/practitionerrole1"}, []string{"Organization/foundingfathers", "Organization/mtvernon"}},
		{"_revinclude", "Practitioner?_revinclude=PractitionerRole:practitioner&_revinclude=VerificationResult:target", []string{"Practitioner/practitioner1"}, []string{"PractitionerRole/practitionerrole1", "VerificationResult/example-license"}},
		{"_include *", "OrganizationAffiliation?_id=orgrole2&_include=*", []string{"OrganizationAffiliation/orgrole2"}, []string{"Organization/foundingfathers", "Organization/monumentHIE"}},
	}
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		loadExamples(t, srv)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := srv.do(http.MethodGet, "/"+tt.query, "").want(t, http.StatusOK)
				match, inc := entries(r, "match"), entries(r, "include")
				slices.Sort(match)
				slices.Sort(inc)
				if fmt.Sprint(match) != fmt.Sprint(tt.match) || fmt.Sprint(inc) != fmt.Sprint(tt.include) {
					t.Errorf("%s = match %v include %v; want %v, %v", tt.query, match, inc, tt.match, tt.include)
				}
			})
		}
		for _, bad := range []string{
			"PractitionerRole?_include=PractitionerRole:bogus",
			"PractitionerRole?_include=PractitionerRole:practitioner:Organization",
			"PractitionerRole?_include=Organization:partof", // not the searched type without :iterate
			"Practitioner?_revinclude=PractitionerRole:organization",
			"PractitionerRole?_include=nonsense",
		} {
			srv.do(http.MethodGet, "/"+bad, "").want(t, http.StatusBadRequest)
		}
	})
}

// TestSearchPagingSorted walks sorted pages: every match once, in order.
func TestSearchPagingSorted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		var want []string
		for i := range 23 {
			name := fmt.Sprintf("Org %02d", (i*7)%23)
			srv.do(http.MethodPut, fmt.Sprintf("/Organization/o%d", i), fmt.Sprintf(`{"resourceType":"Organization","id":"o%d","active":true,"name":%q}`, i, name)).want(t, http.StatusCreated)
		}
		for n := range 23 {
			for i := range 23 {
				if (i*7)%23 == n {
					want = append(want, fmt.Sprintf("Organization/o%d", i))
				}
			}
		}
		slices.Reverse(want)
		var got []string
		next := srv.base + "/Organization?_sort=-name&_count=5"
		for next != "" {
			r := srv.do(http.MethodGet, next, "").want(t, http.StatusOK)
			got = append(got, entries(r, "match")...)
			next = ""
			for _, l := range asArray(r.get("link")) {
				if rel, _ := l.(*jsontree.Object).String("relation"); rel == "next" {
					next, _ = l.(*jsontree.Object).String("url")
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("sorted pages = %v; want %v", got, want)
		}
		count := srv.do(http.MethodGet, "/Organization?_summary=count", "").want(t, http.StatusOK)
		if fmt.Sprint(count.get("total")) != "23" || count.get("entry") != nil {
			t.Errorf("_summary=count = total %v, entries %v", count.get("total"), count.get("entry"))
		}
	})
}

func TestSearchNearSorted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		for id, pos := range map[string]string{"capitol": "38.8899|-77.0091", "arlington": "38.8816|-77.0910", "baltimore": "39.2904|-76.6122"} {
			lat, lon, _ := strings.Cut(pos, "|")
			srv.do(http.MethodPut, "/Location/"+id, fmt.Sprintf(`{"resourceType":"Location","id":%q,"status":"active","position":{"latitude":%s,"longitude":%s}}`, id, lat, lon)).want(t, http.StatusCreated)
		}
		for _, tt := range []struct{ query, want string }{
			{"Location?near=38.8977|-77.0365|100|km&_sort=near", "[Location/capitol Location/arlington Location/baltimore]"},
			{"Location?near=38.8977|-77.0365|100|km&_sort=-near", "[Location/baltimore Location/arlington Location/capitol]"},
			{"Location?near=38.8977|-77.0365|10|km", "[Location/arlington Location/capitol]"},
			{"Location?near=38.8977|-77.0365|10|mi&_sort=near", "[Location/capitol Location/arlington]"},
		} {
			r := srv.do(http.MethodGet, "/"+tt.query, "").want(t, http.StatusOK)
			got := entries(r, "match")
			if !strings.Contains(tt.query, "_sort") {
				slices.Sort(got)
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("%s = %v; want %s", tt.query, got, tt.want)
			}
		}
		srv.do(http.MethodGet, "/Location?_sort=near", "").want(t, http.StatusBadRequest)
	})
}

func TestSummaryAndElements(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		loadExamples(t, srv)
		r := srv.do(http.MethodGet, "/Practitioner/practitioner1?_elements=name", "").want(t, http.StatusOK)
		if r.get("name") == nil || r.get("address") != nil || r.get("qualification") != nil || !subsetted(r.obj) {
			t.Errorf("read _elements=name = %s", r.body)
		}
		if r.header.Get("ETag") != `W/"1"` {
			t.Errorf("shaped read lost its ETag")
		}
		full := srv.do(http.MethodGet, "/Practitioner/practitioner1", "").want(t, http.StatusOK)
		if subsetted(full.obj) || full.get("qualification") == nil {
			t.Errorf("plain read is shaped: %s", full.body)
		}
		s := srv.do(http.MethodGet, "/Practitioner?_summary=true", "").want(t, http.StatusOK)
		res := s.get("entry", "0", "resource")
		if !subsetted(res) || res.(*jsontree.Object).Len() == 0 {
			t.Errorf("_summary=true entry = %v", res)
		}
		if q, _ := res.(*jsontree.Object).Get("qualification"); q != nil {
			t.Errorf("_summary=true kept qualification (not a summary element)")
		}
		data := srv.do(http.MethodGet, "/Location/loc-ffmh?_summary=data", "").want(t, http.StatusOK)
		if data.get("text") != nil {
			t.Errorf("_summary=data kept text")
		}
		self := s.str("link", "0", "url")
		if !strings.Contains(self, "_summary=true") {
			t.Errorf("self link %q lacks _summary", self)
		}
		srv.do(http.MethodGet, "/Practitioner?_elements=nonsense", "").want(t, http.StatusBadRequest)
		srv.do(http.MethodGet, "/Practitioner?_summary=maybe", "").want(t, http.StatusBadRequest)
		srv.do(http.MethodGet, "/Practitioner/practitioner1?_elements=nonsense", "").want(t, http.StatusBadRequest)
	})
}
