package rest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// exampleJSON returns an IG example with edit applied, as JSON text.
func exampleJSON(t testing.TB, name string, edit func(o *jsontree.Object)) string {
	t.Helper()
	for _, f := range ig.Examples() {
		if f.Name == name {
			o, err := jsontree.ParseObject(f.Data)
			if err != nil {
				t.Fatal(err)
			}
			if edit != nil {
				edit(o)
			}
			return string(jsontree.Marshal(o))
		}
	}
	t.Fatalf("no example %s", name)
	return ""
}

const pracExample = "practitioner-example-washington.json"

// robot is the IG's Practitioner with a gender outside the required value
// set: structurally valid R4, refused by profile validation.
func robot(t testing.TB) string {
	return exampleJSON(t, pracExample, func(o *jsontree.Object) { o.Set("gender", "robot") })
}

// hasIssue reports whether an OperationOutcome holds an issue of severity
// at expression (* for any) whose diagnostics contain text.
func hasIssue(r *response, severity, expr, text string) bool {
	issues, _ := r.get("issue").([]any)
	for i := range issues {
		is := &response{obj: issues[i].(*jsontree.Object)}
		if is.str("severity") == severity && (expr == "*" || is.str("expression", "0") == expr) && strings.Contains(is.str("diagnostics"), text) {
			return true
		}
	}
	return false
}

// TestValidateOperation: $validate answers 200 with an OperationOutcome of
// what it found, for a resource or Parameters, at type and instance level,
// under every --profile-validation mode; malformed requests are 400.
func TestValidateOperation(t *testing.T) {
	open := opener(t, testdb.All[0])
	srv := startWith(t, open, func(cfg *server.Config) { cfg.ProfileValidation = profile.Off })
	params := func(res, mode, prof string) string {
		p := `{"resourceType":"Parameters","parameter":[`
		var parts []string
		if res != "" {
			parts = append(parts, `{"name":"resource","resource":`+res+`}`)
		}
		if mode != "" {
			parts = append(parts, `{"name":"mode","valueCode":"`+mode+`"}`)
		}
		if prof != "" {
			parts = append(parts, `{"name":"profile","valueUri":"`+prof+`"}`)
		}
		return p + strings.Join(parts, ",") + `]}`
	}
	const vhdirPrac = "http://hl7.org/fhir/uv/vhdir/StructureDefinition/vhdir-practitioner"
	noActive := exampleJSON(t, pracExample, func(o *jsontree.Object) { o.Delete("active") })
	cases := []struct {
		name, path, body string
		header           []string
		status           int
		severity, expr   string
		text             string
	}{
		{"valid example", "/Practitioner/$validate", exampleJSON(t, pracExample, nil), nil, 200, "warning", "Practitioner", "dom-6"},
		{"required binding", "/Practitioner/$validate", robot(t), nil, 200, "error", "Practitioner.gender", "administrative-gender"},
		{"profile cardinality", "/Practitioner/$validate", noActive, nil, 200, "error", "Practitioner", "Practitioner.active: minimum required = 1"},
		{"structure reported, not refused", "/Practitioner/$validate", `{"resourceType":"Practitioner","gender":7}`, nil, 200, "error", "Practitioner.gender", ""},
		{"parameters", "/Practitioner/$validate", params(robot(t), "create", ""), nil, 200, "error", "Practitioner.gender", "administrative-gender"},
		{"parameters with a known profile", "/Practitioner/$validate", params(noActive, "", vhdirPrac), nil, 200, "error", "Practitioner", "Practitioner.active"},
		{"unknown profile", "/Practitioner/$validate", params(exampleJSON(t, pracExample, nil), "", "http://example.org/sd"), nil, 200, "error", "", "not known"},
		{"type mismatch", "/Organization/$validate", exampleJSON(t, pracExample, nil), nil, 200, "error", "resourceType", "URL names Organization"},
		{"instance update id mismatch", "/Practitioner/other/$validate", params(exampleJSON(t, pracExample, nil), "update", ""), nil, 200, "error", "Practitioner.id", "needs the resource's id"},
		{"instance update", "/Practitioner/practitioner1/$validate", params(exampleJSON(t, pracExample, nil), "update", ""), nil, 200, "warning", "Practitioner", "dom-6"},
		{"no issues at all", "/Organization/$validate", exampleJSON(t, "org-example-homeland.json", func(o *jsontree.Object) {
			o.Set("text", &jsontree.Object{Members: []jsontree.Member{{Key: "status", Value: "generated"}, {Key: "div", Value: `<div xmlns="http://www.w3.org/1999/xhtml">Homeland</div>`}}})
		}), nil, 200, "information", "", "no issues"},
		{"delete", "/Practitioner/practitioner1/$validate", params("", "delete", ""), nil, 200, "information", "", "deleting Practitioner/practitioner1"},
		{"update without an instance", "/Practitioner/$validate", params(exampleJSON(t, pracExample, nil), "update", ""), nil, 400, "error", "", "needs an instance"},
		{"bad mode", "/Practitioner/$validate", params(exampleJSON(t, pracExample, nil), "merge", ""), nil, 400, "error", "", "use create, update or delete"},
		{"malformed JSON", "/Practitioner/$validate", `{"resourceType":`, nil, 400, "error", "", "line"},
		{"no body", "/Practitioner/$validate", "", nil, 400, "error", "", "no body"},
		{"unknown parameter", "/Practitioner/$validate", `{"resourceType":"Parameters","parameter":[{"name":"x","valueString":"y"}]}`, nil, 400, "error", "Parameters.parameter[0]", "no parameter"},
		{"scope without create", "/Practitioner/$validate", robot(t), []string{"X-Scope", "system/Practitioner.rs"}, 403, "error", "", "does not allow"},
		{"not served", "/Observation/$validate", `{"resourceType":"Observation"}`, nil, 404, "error", "", "not served"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := srv.do(http.MethodPost, tc.path, tc.body, tc.header...).want(t, tc.status)
			if r.str("resourceType") != "OperationOutcome" || !hasIssue(r, tc.severity, tc.expr, tc.text) {
				t.Errorf("want a %s issue at %q containing %q; got %s", tc.severity, tc.expr, tc.text, r.body)
			}
			if tc.severity != "error" && hasIssue(r, "error", "*", "") {
				t.Errorf("want no error; got %s", r.body)
			}
		})
	}
	// Another method on its path is a 405 that names POST.
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		for _, path := range []string{"/Practitioner/$validate", "/Practitioner/p1/$validate"} {
			r := srv.do(m, path, "").want(t, http.StatusMethodNotAllowed)
			if r.header.Get("Allow") != "POST" {
				t.Errorf("%s %s: Allow %q; want POST", m, path, r.header.Get("Allow"))
			}
		}
	}
	// $validate stores nothing, is audited, and the CapabilityStatement
	// declares it on every served type.
	srv.do(http.MethodGet, "/Practitioner/practitioner1", "").want(t, http.StatusNotFound)
	audit := srv.do(http.MethodGet, "/AuditEvent?subtype=operation", "").want(t, http.StatusOK)
	if n, _ := audit.get("total").(jsontree.Number); n == "0" || n == "" {
		t.Errorf("no AuditEvent with subtype operation: %s", audit.body)
	}
	cs := srv.do(http.MethodGet, "/metadata", "").want(t, http.StatusOK)
	if cs.str("rest", "0", "resource", "0", "operation", "0", "name") != "validate" {
		t.Errorf("CapabilityStatement lacks $validate on %s", cs.str("rest", "0", "resource", "0", "type"))
	}
}

// TestProfileValidationOnWrite: under enforce, a resource with profile
// errors is refused with 422 and its OperationOutcome and nothing is
// stored, alone, in a batch (that entry only) and in a transaction (all of
// it); under warn it is stored and its issues come back with Prefer:
// return=OperationOutcome and in Bundle entry outcomes.
func TestProfileValidationOnWrite(t *testing.T) {
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			enforce := startWith(t, opener(t, b), func(cfg *server.Config) { cfg.ProfileValidation = profile.Enforce })
			r := enforce.do(http.MethodPost, "/Practitioner", robot(t)).want(t, http.StatusUnprocessableEntity)
			if !hasIssue(r, "error", "Practitioner.gender", "administrative-gender") {
				t.Errorf("422 body lacks the binding issue: %s", r.body)
			}
			enforce.do(http.MethodPut, "/Practitioner/practitioner1", robot(t)).want(t, http.StatusUnprocessableEntity)
			enforce.do(http.MethodGet, "/Practitioner/practitioner1", "").want(t, http.StatusNotFound)
			if n := enforce.do(http.MethodGet, "/Practitioner?gender=robot", "").want(t, http.StatusOK).get("total"); n != jsontree.Number("0") {
				t.Errorf("a refused Practitioner is searchable: total %v", n)
			}
			valid := exampleJSON(t, pracExample, func(o *jsontree.Object) { o.Delete("id") })
			enforce.do(http.MethodPost, "/Practitioner", valid).want(t, http.StatusCreated)

			entries := `[{"resource":` + valid + `,"request":{"method":"POST","url":"Practitioner"}},` +
				`{"resource":` + robot(t) + `,"request":{"method":"PUT","url":"Practitioner/practitioner1"}}]`
			batch := enforce.do(http.MethodPost, "", `{"resourceType":"Bundle","type":"batch","entry":`+entries+`}`).want(t, http.StatusOK)
			if s := batch.str("entry", "0", "response", "status"); !strings.HasPrefix(s, "201") {
				t.Errorf("batch entry 0: %s; want 201", s)
			}
			if s := batch.str("entry", "1", "response", "status"); !strings.HasPrefix(s, "422") {
				t.Errorf("batch entry 1: %s; want 422", s)
			}
			if out := (&response{obj: asObj(batch.get("entry", "1", "response", "outcome"))}); !hasIssue(out, "error", "Bundle.entry[1].resource.gender", "administrative-gender") {
				t.Errorf("batch entry 1's outcome lacks the issue at its entry: %s", batch.body)
			}
			before := enforce.do(http.MethodGet, "/Practitioner", "").want(t, http.StatusOK).get("total")
			tx := enforce.do(http.MethodPost, "", `{"resourceType":"Bundle","type":"transaction","entry":`+entries+`}`).want(t, http.StatusUnprocessableEntity)
			if !hasIssue(tx, "error", "Bundle.entry[1].resource.gender", "administrative-gender") {
				t.Errorf("the refused transaction's issue is not rooted in its entry: %s", tx.body)
			}
			if after := enforce.do(http.MethodGet, "/Practitioner", "").want(t, http.StatusOK).get("total"); after != before {
				t.Errorf("a refused transaction stored something: %v Practitioners, %v before", after, before)
			}

			warn := startWith(t, opener(t, b), func(cfg *server.Config) { cfg.ProfileValidation = profile.Warn })
			r = warn.do(http.MethodPut, "/Practitioner/practitioner1", robot(t), "Prefer", "return=OperationOutcome").want(t, http.StatusCreated)
			if !hasIssue(r, "error", "Practitioner.gender", "administrative-gender") {
				t.Errorf("warn: the stored resource's issues are not returned: %s", r.body)
			}
			warn.do(http.MethodGet, "/Practitioner/practitioner1", "").want(t, http.StatusOK)
			entries = strings.ReplaceAll(strings.Replace(entries, "Practitioner/practitioner1", "Practitioner/p2", 1), `"id":"practitioner1"`, `"id":"p2"`)
			batch = warn.do(http.MethodPost, "", `{"resourceType":"Bundle","type":"batch","entry":`+entries+`}`).want(t, http.StatusOK)
			out := &response{obj: asObj(batch.get("entry", "1", "response", "outcome"))}
			if !hasIssue(out, "error", "Practitioner.gender", "administrative-gender") {
				t.Errorf("warn: batch entry 1's outcome lacks the issue: %s", batch.body)
			}
		})
	}
}

func asObj(v any) *jsontree.Object {
	o, _ := v.(*jsontree.Object)
	return o
}
