package profile

import (
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// TestCoreExtensions: R4's core extensions are checked against their
// definitions wherever they are used: by the url alone (geolocation on an
// address, organization-period on a plain Organization) or sliced in by a
// profile (vhdir-network's organization-period), and out of context.
func TestCoreExtensions(t *testing.T) {
	v := validator(t)
	const (
		prac    = "practitioner-example-washington.json"
		network = "network-example-patriotppo.json"
		org     = "org-example-homeland.json"
	)
	addExtension := func(js string) func(t testing.TB, o *jsontree.Object) {
		return func(t testing.TB, o *jsontree.Object) {
			exts, _ := o.Get("extension")
			o.Set("extension", append(asArray(exts), parseValue(t, js)))
		}
	}
	cases := []struct {
		name     string
		file     string
		mutate   func(t testing.TB, o *jsontree.Object)
		severity string // "" : no issue at expr
		code     string
		expr     string
		text     string
	}{
		{"geolocation latitude type", prac, func(t testing.TB, o *jsontree.Object) {
			lat := path(t, o, "address", 0, "extension", 0, "extension", 0)
			lat.Delete("valueDecimal")
			lat.Set("valueString", "38.897957")
		}, "error", "structure", "Practitioner.address[0].extension[0].extension[0].value.ofType(string)", "type string is not allowed; allowed: decimal (geolocation)"},
		{"geolocation without longitude", prac, func(t testing.TB, o *jsontree.Object) {
			geo := path(t, o, "address", 0, "extension", 0)
			parts, _ := geo.Get("extension")
			geo.Set("extension", asArray(parts)[:1])
		}, "error", "required", "Practitioner.address[0].extension[0]", "Extension.extension:longitude: minimum required = 1"},
		{"geolocation latitude twice", prac, func(t testing.TB, o *jsontree.Object) {
			geo := path(t, o, "address", 0, "extension", 0)
			parts, _ := geo.Get("extension")
			geo.Set("extension", append(asArray(parts), parseValue(t, `{"url":"latitude","valueDecimal":1}`)))
		}, "error", "structure", "Practitioner.address[0].extension[0]", "Extension.extension:latitude: maximum allowed = 1, but found 2 (geolocation)"},
		{"geolocation out of context", prac, addExtension(`{"url":"http://hl7.org/fhir/StructureDefinition/geolocation","extension":[{"url":"latitude","valueDecimal":1},{"url":"longitude","valueDecimal":2}]}`),
			"error", "extension", "Practitioner.extension[3]", "is not allowed on Practitioner; its contexts are Address (geolocation)"},
		{"organization-period sliced in, value type", network, func(t testing.TB, o *jsontree.Object) {
			p := path(t, o, "extension", 0)
			p.Delete("valuePeriod")
			p.Set("valueString", "2012")
		}, "error", "structure", "Organization.extension[0].value.ofType(string)", "type string is not allowed; allowed: Period (organization-period)"},
		{"organization-period by url, value type", org, addExtension(`{"url":"http://hl7.org/fhir/StructureDefinition/organization-period","valueString":"2012"}`),
			"error", "structure", "Organization.extension[1].value.ofType(string)", "type string is not allowed; allowed: Period (organization-period)"},
		{"organization-period by url, valid", org, addExtension(`{"url":"http://hl7.org/fhir/StructureDefinition/organization-period","valuePeriod":{"start":"2012-03-11"}}`),
			"", "", "Organization.extension[1]", ""},
		{"organization-period out of context", prac, addExtension(`{"url":"http://hl7.org/fhir/StructureDefinition/organization-period","valuePeriod":{"start":"2012-03-11"}}`),
			"error", "extension", "Practitioner.extension[3]", "is not allowed on Practitioner; its contexts are Organization (organization-period)"},
		{"unknown extension under R4's base", prac, addExtension(`{"url":"http://hl7.org/fhir/StructureDefinition/no-such-extension","valueString":"x"}`),
			"information", "extension", "Practitioner.extension[3]", "extension 'http://hl7.org/fhir/StructureDefinition/no-such-extension' is not known to this server"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := example(t, tc.file)
			tc.mutate(t, o)
			if is := fhir.Validate(o); is != nil {
				t.Fatalf("structure: %v", is)
			}
			issues := v.Validate(o)
			if tc.severity == "" {
				for _, is := range issues {
					if len(is.Expression) == 1 && strings.HasPrefix(is.Expression[0], tc.expr) && is.Severity != fhir.SeverityInformation {
						t.Errorf("want no issue at %s; got:\n%s", tc.expr, show(issues))
					}
				}
				return
			}
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

// TestCoreExtensionsCompile: every R4 core extension compiles, none is
// skipped, and none shadows an IG definition.
func TestCoreExtensionsCompile(t *testing.T) {
	v := validator(t)
	for url, why := range v.skipped {
		t.Errorf("skipped %s: %s", url, why)
	}
	core := 0
	for _, d := range v.defs {
		if d.core {
			core++
		}
	}
	if want := len(r4.Extensions()); core != want {
		t.Errorf("%d core extensions compiled, want %d", core, want)
	}
	for _, url := range []string{
		"http://hl7.org/fhir/StructureDefinition/geolocation",
		"http://hl7.org/fhir/StructureDefinition/organization-period",
		"http://hl7.org/fhir/StructureDefinition/location-boundary-geojson",
	} {
		if d := v.extensions[url]; d == nil || !d.core {
			t.Errorf("%s: not known as a core extension", url)
		}
	}
	for _, d := range v.extensions {
		if strings.HasPrefix(d.URL, "http://hl7.org/fhir/uv/vhdir/") && d.core {
			t.Errorf("%s: an IG extension marked core", d.URL)
		}
	}
}

// TestDefinitionPrecedence: an IG definition replaces a core one of the
// same URL, by its URL and by its extension url; a core extension that
// does not resolve is skipped with its reason and forgotten.
func TestDefinitionPrecedence(t *testing.T) {
	const url = "http://hl7.org/fhir/StructureDefinition/x"
	v := &Validator{defs: map[string]*definition{}, extensions: map[string]*definition{}}
	core := &definition{URL: url, ExtensionURL: url, Type: "Extension", core: true, Root: &rules{}}
	v.add(core)
	igDef := &definition{URL: url, ExtensionURL: url, Type: "Extension", Root: &rules{}}
	v.add(igDef)
	if v.defs[url] != igDef || v.extensions[url] != igDef {
		t.Errorf("the IG's definition does not win")
	}

	v = &Validator{defs: map[string]*definition{}, extensions: map[string]*definition{}}
	broken := &definition{URL: url, ExtensionURL: url, Type: "Extension", core: true,
		Root: &rules{ID: "Extension", Children: map[string]*rules{"value": {ID: "Extension.value", TargetProfiles: []string{"http://example.org/nowhere"}}}}}
	broken.Root.order = []string{"value"}
	v.add(broken)
	if err := v.resolve(); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if v.defs[url] != nil || v.extensions[url] != nil {
		t.Errorf("an unresolvable core extension is still known")
	}
	if why := v.skipped[url]; !strings.Contains(why, "target profile http://example.org/nowhere is unknown") {
		t.Errorf("skipped reason %q", why)
	}
	broken.core = false
	v.add(broken)
	if err := v.resolve(); err == nil {
		t.Errorf("an unresolvable IG definition did not fail")
	}
}

// TestTypeOfProfile: target profiles resolve to resource types from the IG,
// R4's base definitions and R4's own profiles.
func TestTypeOfProfile(t *testing.T) {
	v := validator(t)
	for _, tc := range []struct{ url, want string }{
		{"http://hl7.org/fhir/uv/vhdir/StructureDefinition/vhdir-network", "Organization"},
		{"http://hl7.org/fhir/StructureDefinition/Practitioner", "Practitioner"},
		{"http://hl7.org/fhir/StructureDefinition/bodyheight", "Observation"},
		{"http://hl7.org/fhir/StructureDefinition/vitalsigns|4.0.1", "Observation"},
		{"http://hl7.org/fhir/StructureDefinition/shareablevalueset", "ValueSet"},
		{"http://example.org/StructureDefinition/other", ""},
	} {
		got, ok := v.typeOfProfile(tc.url)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("typeOfProfile(%s) = %q, %v; want %q", tc.url, got, ok, tc.want)
		}
	}
}

// TestContextAllows: element contexts by type, ancestor type and path;
// extension and fhirpath contexts allow anywhere (not decided here).
func TestContextAllows(t *testing.T) {
	path := "Practitioner.communication"
	for _, tc := range []struct {
		name    string
		ctx     []extContext
		defPath *string
		typ     string
		want    bool
	}{
		{"no context", nil, nil, "Practitioner", true},
		{"type", []extContext{{"element", "Organization"}}, nil, "Organization", true},
		{"other type", []extContext{{"element", "Organization"}}, nil, "Practitioner", false},
		{"ancestor type", []extContext{{"element", "Resource"}}, nil, "Practitioner", true},
		{"Element", []extContext{{"element", "Element"}}, nil, "Address", true},
		{"path", []extContext{{"element", "Practitioner.communication"}}, &path, "CodeableConcept", true},
		{"other path", []extContext{{"element", "Patient.communication"}}, &path, "CodeableConcept", false},
		{"extension", []extContext{{"extension", "http://example.org/outer"}}, nil, "Practitioner", true},
		{"fhirpath", []extContext{{"fhirpath", "Observation.value"}}, nil, "Practitioner", true},
	} {
		d := &definition{Contexts: tc.ctx}
		if got := contextAllows(d, tc.defPath, tc.typ); got != tc.want {
			t.Errorf("%s: contextAllows = %v, want %v", tc.name, got, tc.want)
		}
	}
}
