package profile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/jsontree"
)

func validator(t testing.TB) *Validator {
	t.Helper()
	v, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// example returns an IG example, parsed, by file name.
func example(t testing.TB, name string) *jsontree.Object {
	t.Helper()
	for _, f := range ig.Examples() {
		if f.Name == name {
			o, err := jsontree.ParseObject(f.Data)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
	}
	t.Fatalf("no example %s", name)
	return nil
}

// TestExamplesValid: every IG example has no structural issue and no error
// against its profiles (warnings and information are allowed and logged).
func TestExamplesValid(t *testing.T) {
	v := validator(t)
	for _, f := range ig.Examples() {
		t.Run(f.Name, func(t *testing.T) {
			o, err := jsontree.ParseObject(f.Data)
			if err != nil {
				t.Fatal(err)
			}
			if issues := fhir.Validate(o); issues != nil {
				t.Fatalf("structure: %v", issues)
			}
			for _, is := range v.Validate(o) {
				if is.Severity == fhir.SeverityError {
					t.Errorf("%s %s: %s", is.Code, is.Expression, is.Diagnostics)
				} else {
					t.Logf("%s %s %s: %s", is.Severity, is.Code, is.Expression, is.Diagnostics)
				}
			}
		})
	}
}

// path walks members and array indexes of a parsed resource to an object.
func path(t testing.TB, o *jsontree.Object, steps ...any) *jsontree.Object {
	t.Helper()
	var cur any = o
	for _, s := range steps {
		switch s := s.(type) {
		case string:
			obj, ok := cur.(*jsontree.Object)
			if !ok {
				t.Fatalf("step %q: not an object", s)
			}
			cur, ok = obj.Get(s)
			if !ok {
				t.Fatalf("no member %q", s)
			}
		case int:
			arr, ok := cur.([]any)
			if !ok || s >= len(arr) {
				t.Fatalf("step %d: not an array that long", s)
			}
			cur = arr[s]
		}
	}
	obj, ok := cur.(*jsontree.Object)
	if !ok {
		t.Fatalf("%v: not an object", steps)
	}
	return obj
}

func parseValue(t testing.TB, js string) any {
	t.Helper()
	v, err := jsontree.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRuleClasses breaks one rule of each kind in an IG example and expects
// the issue at its exact expression.
func TestRuleClasses(t *testing.T) {
	v := validator(t)
	const (
		prac = "practitioner-example-washington.json"
		ct   = "careteam-example-cardiology.json"
		hcs  = "healthcareservice-womens-shelter.json"
		org  = "org-example-homeland.json"
	)
	cases := []struct {
		name     string
		file     string
		mutate   func(t testing.TB, o *jsontree.Object)
		severity string
		code     string
		expr     string
		text     string // in the diagnostics
	}{
		{"profile min", prac, func(t testing.TB, o *jsontree.Object) { o.Delete("active") },
			"error", "required", "Practitioner", "Practitioner.active: minimum required = 1"},
		{"profile max 0", ct, func(t testing.TB, o *jsontree.Object) {
			o.Set("subject", parseValue(t, `{"reference":"Patient/p1"}`))
		}, "error", "structure", "CareTeam", "CareTeam.subject: maximum allowed = 0"},
		{"slice min", prac, func(t testing.TB, o *jsontree.Object) { path(t, o, "identifier", 0).Delete("extension") },
			"error", "required", "Practitioner.identifier[0]", "Practitioner.identifier.extension:status: minimum required = 1"},
		{"required binding (R4)", prac, func(t testing.TB, o *jsontree.Object) { o.Set("gender", "robot") },
			"error", "code-invalid", "Practitioner.gender", "'robot' is not in the required value set http://hl7.org/fhir/ValueSet/administrative-gender"},
		{"required binding (profile)", prac, func(t testing.TB, o *jsontree.Object) {
			path(t, o, "telecom", 0).Set("system", "carrier-pigeon")
		}, "error", "code-invalid", "Practitioner.telecom[0].system", "'carrier-pigeon' is not in the required value set http://hl7.org/fhir/ValueSet/contact-point-system"},
		{"required binding (extension)", prac, func(t testing.TB, o *jsontree.Object) {
			path(t, o, "identifier", 0, "extension", 0).Set("valueCode", "bogus")
		}, "error", "code-invalid", "Practitioner.identifier[0].extension[0].value.ofType(code)", "http://hl7.org/fhir/uv/vhdir/ValueSet/identifierstatus"},
		{"fixed value", hcs, func(t testing.TB, o *jsontree.Object) {
			path(t, o, "contained", 0, "provision").Set("type", "deny")
		}, "error", "value", "HealthcareService.contained[0].provision.type", `must be exactly "permit"`},
		{"extension value type", prac, func(t testing.TB, o *jsontree.Object) {
			e := path(t, o, "identifier", 0, "extension", 0)
			e.Delete("valueCode")
			e.Set("valueString", "active")
		}, "error", "structure", "Practitioner.identifier[0].extension[0].value.ofType(string)", "type string is not allowed; allowed: code"},
		{"extension context", prac, func(t testing.TB, o *jsontree.Object) {
			exts, _ := o.Get("extension")
			o.Set("extension", append(exts.([]any), parseValue(t, `{"url":"http://hl7.org/fhir/uv/vhdir/StructureDefinition/org-description","valueString":"x"}`)))
		}, "error", "extension", "Practitioner.extension[3]", "is not allowed on Practitioner"},
		{"unknown extension", prac, func(t testing.TB, o *jsontree.Object) {
			exts, _ := o.Get("extension")
			o.Set("extension", append(exts.([]any), parseValue(t, `{"url":"http://example.org/unknown","valueString":"x"}`)))
		}, "information", "extension", "Practitioner.extension[3]", "http://example.org/unknown"},
		{"invariant (R4 data type)", prac, func(t testing.TB, o *jsontree.Object) {
			path(t, o, "identifier", 0).Set("period", parseValue(t, `{"start":"2010-01-01","end":"2009-01-01"}`))
		}, "error", "invariant", "Practitioner.identifier[0].period", "per-1"},
		{"invariant (R4 resource)", org, func(t testing.TB, o *jsontree.Object) { o.Delete("name") },
			"error", "invariant", "Organization", "org-1"},
		{"reference target (profile)", ct, func(t testing.TB, o *jsontree.Object) {
			path(t, o, "participant", 0).Set("member", parseValue(t, `{"reference":"Patient/p1"}`))
		}, "error", "structure", "CareTeam.participant[0].member.reference", "a reference to Patient is not allowed"},
		{"unknown claimed profile", org, func(t testing.TB, o *jsontree.Object) {
			path(t, o, "meta").Set("profile", parseValue(t, `["http://example.org/StructureDefinition/other"]`))
		}, "warning", "not-supported", "Organization.meta.profile[0]", "http://example.org/StructureDefinition/other"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := example(t, tc.file)
			tc.mutate(t, o)
			issues := v.Validate(o)
			for _, is := range issues {
				if is.Severity == tc.severity && is.Code == tc.code && len(is.Expression) == 1 &&
					is.Expression[0] == tc.expr && strings.Contains(is.Diagnostics, tc.text) {
					return
				}
			}
			t.Errorf("want %s %s at %s containing %q; got:\n%s", tc.severity, tc.code, tc.expr, tc.text, show(issues))
		})
	}
}

func show(issues []fhir.Issue) string {
	var b strings.Builder
	for _, is := range issues {
		fmt.Fprintf(&b, "  %s %s %v: %s\n", is.Severity, is.Code, is.Expression, is.Diagnostics)
	}
	return b.String()
}

// TestStructuralInvariants: the R4 invariants this package leaves to
// package fhir (structural) are refused by its structural validation, so
// skipping them here loses nothing. Each sample breaks one.
func TestStructuralInvariants(t *testing.T) {
	samples := map[string]string{
		"ele-1": `{"resourceType":"Practitioner","name":[{"id":"n1"}]}`,
		"ext-1": `{"resourceType":"Practitioner","extension":[{"url":"http://example.org/x"}]}`,
		"dom-2": `{"resourceType":"Practitioner","contained":[{"resourceType":"Organization","id":"o","contained":[{"resourceType":"Location","id":"l"}]}],"extension":[{"url":"http://example.org/x","valueReference":{"reference":"#o"}}]}`,
		"dom-3": `{"resourceType":"Practitioner","contained":[{"resourceType":"Organization","id":"o","name":"x"}]}`,
		"dom-4": `{"resourceType":"Practitioner","contained":[{"resourceType":"Organization","id":"o","meta":{"versionId":"1"},"name":"x"}],"extension":[{"url":"http://example.org/x","valueReference":{"reference":"#o"}}]}`,
		"ref-1": `{"resourceType":"Practitioner","extension":[{"url":"http://example.org/x","valueReference":{"reference":"#missing"}}]}`,
	}
	if len(samples) != len(structural) {
		t.Fatalf("%d samples for %d structural invariants", len(samples), len(structural))
	}
	for key := range structural {
		t.Run(key, func(t *testing.T) {
			o, err := jsontree.ParseObject([]byte(samples[key]))
			if err != nil {
				t.Fatal(err)
			}
			issues := fhir.Validate(o)
			for _, is := range issues {
				if strings.HasPrefix(is.Diagnostics, key+":") {
					return
				}
			}
			t.Errorf("structural validation of a resource breaking %s: %v", key, issues)
		})
	}
}

// TestEveryInvariantCompiles: every invariant of R4 (all resource and data
// types, the core extensions) and of the IG compiles with package fhirpath,
// so none is skipped as not checked for want of a function. The one
// exception is an R4 erratum: allergyintolerance-substanceExposureRisk's
// inv-1 names an element no Extension has, so it is reported as not
// checked rather than failing every use.
func TestEveryInvariantCompiles(t *testing.T) {
	errata := map[string]string{"inv-1": `no R4 type has an element "substanceExposureRisk"`}
	for key, why := range validator(t).Unchecked() {
		if want, ok := errata[key]; ok && strings.Contains(why, want) {
			continue
		}
		t.Errorf("%s cannot be evaluated: %s", key, why)
	}
}

// TestValidateShell: a Bundle checked as a shell keeps its own rules
// (bdl-1: a total only in a searchset or history) and leaves its entries'
// resources alone; checked whole, the entries' issues are reported too.
func TestValidateShell(t *testing.T) {
	v := validator(t)
	b, err := jsontree.ParseObject([]byte(`{"resourceType":"Bundle","type":"collection","total":1,
		"entry":[{"resource":{"resourceType":"Practitioner","active":true,"gender":"robot","name":[{"family":"A","given":["B"]}]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	has := func(issues []fhir.Issue, expr, text string) bool {
		for _, is := range issues {
			if is.Expression[0] == expr && strings.Contains(is.Diagnostics, text) {
				return true
			}
		}
		return false
	}
	whole, shell := v.Validate(b), v.ValidateShell(b)
	if !has(whole, "Bundle", "bdl-1") || !has(shell, "Bundle", "bdl-1") {
		t.Errorf("bdl-1 missing: whole %s shell %s", show(whole), show(shell))
	}
	if !has(whole, "Bundle.entry[0].resource.gender", "administrative-gender") {
		t.Errorf("Validate skipped the entry's resource:\n%s", show(whole))
	}
	if has(shell, "Bundle.entry[0].resource.gender", "") {
		t.Errorf("ValidateShell checked the entry's resource:\n%s", show(shell))
	}
}
