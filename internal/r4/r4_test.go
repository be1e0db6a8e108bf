package r4

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestLookupFields(t *testing.T) {
	tests := []struct {
		typ, path   string // path of JSON members from the type
		wantType    string
		wantArray   bool
		wantTargets []string
	}{
		{"Practitioner", "name", "HumanName", true, nil},
		{"Practitioner", "qualification.issuer", "Reference", false, []string{"Organization"}},
		{"Practitioner", "qualification.code", "CodeableConcept", false, nil},
		{"Extension", "valueString", "string", false, nil},
		{"Extension", "valueCodeableConcept", "CodeableConcept", false, nil},
		{"Extension", "url", "uri", false, nil},
		{"Location", "position.latitude", "decimal", false, nil},
		{"Questionnaire", "item.item.item.linkId", "string", false, nil},
		{"Bundle", "entry.resource", "Resource", false, nil},
		{"Practitioner", "contained", "Resource", true, nil},
		{"Practitioner", "id", "string", false, nil}, // System.String in the snapshot; the id rule is checked by the validator
		// R4's members, where Medplum's snapshot has R5's or more targets.
		{"EvidenceVariable", "characteristic.definitionReference", "Reference", false, []string{"Group"}},
		{"EvidenceVariable", "characteristic.definitionTriggerDefinition", "TriggerDefinition", false, nil},
		{"EvidenceVariable", "characteristic.timeFromStart", "Duration", false, nil},
		{"AuditEvent", "source.observer", "Reference", false, []string{"PractitionerRole", "Practitioner", "Organization", "Device", "Patient", "RelatedPerson"}},
		{"Bundle", "entry.response.outcome", "Resource", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"."+tt.path, func(t *testing.T) {
			f := resolve(t, tt.typ, tt.path)
			if f.Type != tt.wantType || f.Element.IsArray() != tt.wantArray {
				t.Errorf("field %s.%s = type %s array %v; want %s array %v", tt.typ, tt.path, f.Type, f.Element.IsArray(), tt.wantType, tt.wantArray)
			}
			if tt.wantTargets != nil {
				got, _ := json.Marshal(f.Element.Types[0].Targets)
				want, _ := json.Marshal(tt.wantTargets)
				if string(got) != string(want) {
					t.Errorf("targets = %s; want %s", got, want)
				}
			}
		})
	}
}

func resolve(t *testing.T, typ, path string) *Field {
	t.Helper()
	ty := Lookup(typ)
	if ty == nil {
		t.Fatalf("Lookup(%q) = nil", typ)
	}
	fields := ty.Fields
	var f *Field
	for _, seg := range splitDots(path) {
		f = fields[seg]
		if f == nil {
			t.Fatalf("no member %q in %s.%s", seg, typ, path)
		}
		fields = FieldsOf(f.Element, f.Type)
	}
	return f
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func TestPrimitives(t *testing.T) {
	tests := []struct {
		typ, value string
		ok         bool
	}{
		{"id", "abc-1.2", true},
		{"id", "abc_1", false},
		{"date", "2019-02", true},
		{"date", "2019-13", false},
		{"dateTime", "2019-02-03T10:00:00Z", true},
		{"dateTime", "2019-02-03T10:00:00", false},
		{"instant", "2019-02-03", false},
		{"code", "a b", true},
		{"code", "a  b", false},
		{"uri", "http://x y", false},
		{"oid", "urn:oid:1.2.3", true},
	}
	for _, tt := range tests {
		p := Lookup(tt.typ).Pattern
		if got := p.MatchString(tt.value); got != tt.ok {
			t.Errorf("%s pattern matches %q = %v; want %v", tt.typ, tt.value, got, tt.ok)
		}
	}
	for name, want := range map[string]bool{"Practitioner": true, "Consent": true, "Bundle": true, "DomainResource": false, "HumanName": false, "Foo": false} {
		if got := IsResourceType(name); got != want {
			t.Errorf("IsResourceType(%q) = %v; want %v", name, got, want)
		}
	}
	if len(CoreSearchParameters()) == 0 {
		t.Errorf("no core search parameters embedded")
	}
}

func TestTypeConstraints(t *testing.T) {
	tests := []struct {
		name     string
		typ      string
		want     map[string]string // key → expression
		wantOnly bool              // the type declares no other invariant
		notKeys  []string          // inherited, so not the type's own
	}{
		{name: "Organization", typ: "Organization", want: map[string]string{"org-1": "(identifier.count() + name.count()) > 0"}, wantOnly: true, notKeys: []string{"dom-2", "ele-1"}},
		{name: "Element", typ: "Element", want: map[string]string{"ele-1": "hasValue() or (children().count() > id.count())"}, wantOnly: true},
		{name: "Extension", typ: "Extension", want: map[string]string{"ext-1": "extension.exists() != value.exists()"}, wantOnly: true},
		{name: "DomainResource", typ: "DomainResource", want: map[string]string{"dom-2": "contained.contained.empty()", "dom-5": "contained.meta.security.empty()"}},
		{name: "ContactPoint", typ: "ContactPoint", want: map[string]string{"cpt-2": "value.empty() or system.exists()"}, wantOnly: true},
		{name: "Period", typ: "Period", want: map[string]string{"per-1": "start.hasValue().not() or end.hasValue().not() or (start <= end)"}, wantOnly: true},
		{name: "Age inherits qty-3", typ: "Age", want: map[string]string{"age-1": ""}, wantOnly: true, notKeys: []string{"qty-3"}},
		{name: "Bundle", typ: "Bundle", want: map[string]string{"bdl-1": "total.empty() or (type = 'searchset') or (type = 'history')"}},
		{name: "no own invariants", typ: "Practitioner", want: map[string]string{}, wantOnly: true},
		{name: "primitive", typ: "string", want: map[string]string{}, wantOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ty := Lookup(tt.typ)
			if ty == nil {
				t.Fatalf("Lookup(%q) = nil", tt.typ)
			}
			checkConstraints(t, tt.typ, ty.Constraints, tt.want, tt.wantOnly, tt.notKeys)
		})
	}
	for _, k := range []string{"dom-2", "dom-3", "dom-4", "dom-5", "dom-6"} {
		if !slices.ContainsFunc(Lookup("DomainResource").Constraints, func(c Constraint) bool { return c.Key == k }) {
			t.Errorf("DomainResource lacks %s", k)
		}
	}
}

func TestElementConstraints(t *testing.T) {
	tests := []struct {
		name     string
		path     string // type.members
		want     map[string]string
		wantOnly bool
	}{
		{name: "data type declared at the resource", path: "Organization.address", want: map[string]string{"org-2": "where(use = 'home').empty()"}, wantOnly: true},
		{name: "telecom", path: "Organization.telecom", want: map[string]string{"org-3": "where(use = 'home').empty()"}, wantOnly: true},
		{name: "backbone", path: "CareTeam.participant", want: map[string]string{"ctm-1": ""}, wantOnly: true},
		{name: "backbone of a data type", path: "Timing.repeat", want: map[string]string{"tim-1": "duration.empty() or durationUnit.exists()"}},
		{name: "contentReference repeats the referenced invariants", path: "Questionnaire.item.item", want: map[string]string{"que-1": "", "que-3": ""}},
		{name: "plain element: ele-1 lives on Element", path: "Organization.name", want: map[string]string{}, wantOnly: true},
		{name: "Element's own child", path: "Element.extension", want: map[string]string{}, wantOnly: true},
		{name: "Extension's own child", path: "Extension.extension", want: map[string]string{}, wantOnly: true},
		{name: "R5 evv-1 dropped", path: "EvidenceVariable.characteristic", want: map[string]string{}, wantOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := element(t, tt.path)
			checkConstraints(t, tt.path, e.Constraints, tt.want, tt.wantOnly, nil)
		})
	}
}

func checkConstraints(t *testing.T, what string, got []Constraint, want map[string]string, only bool, notKeys []string) {
	t.Helper()
	byKey := map[string]Constraint{}
	for _, c := range got {
		byKey[c.Key] = c
	}
	for key, expr := range want {
		c, ok := byKey[key]
		if !ok {
			t.Errorf("%s constraints = %v; want %s", what, keys(got), key)
			continue
		}
		if expr != "" && c.Expression != expr {
			t.Errorf("%s %s expression = %q; want %q", what, key, c.Expression, expr)
		}
	}
	if only && len(got) != len(want) {
		t.Errorf("%s constraints = %v; want only %v", what, keys(got), want)
	}
	for _, k := range notKeys {
		if _, ok := byKey[k]; ok {
			t.Errorf("%s carries inherited constraint %s", what, k)
		}
	}
}

func keys(cs []Constraint) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Key)
	}
	return out
}

// element returns the element at a path of JSON member names.
func element(t *testing.T, path string) *Element {
	t.Helper()
	typ, rest, _ := strings.Cut(path, ".")
	return resolve(t, typ, rest).Element
}

func TestBindings(t *testing.T) {
	tests := []struct {
		path     string
		want     *Binding
		wantNone bool
	}{
		{path: "Practitioner.gender", want: &Binding{"required", "http://hl7.org/fhir/ValueSet/administrative-gender"}},
		{path: "ContactPoint.system", want: &Binding{"required", "http://hl7.org/fhir/ValueSet/contact-point-system"}},
		{path: "Organization.contact.purpose", want: &Binding{"extensible", "http://hl7.org/fhir/ValueSet/contactentity-type"}},
		{path: "Practitioner.language", want: &Binding{"preferred", "http://hl7.org/fhir/ValueSet/languages"}},
		{path: "Organization.type", want: &Binding{"example", "http://hl7.org/fhir/ValueSet/organization-type"}},
		{path: "ClinicalImpression.code", want: &Binding{"example", ""}},
		// R4 binds it to observation-status; Medplum's snapshot names an R5 value set.
		{path: "DetectedIssue.status", want: &Binding{"required", "http://hl7.org/fhir/ValueSet/observation-status"}},
		{path: "EvidenceVariable.characteristic.groupMeasure", want: &Binding{"required", "http://hl7.org/fhir/ValueSet/group-measure"}},
		{path: "Practitioner.name", wantNone: true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := element(t, tt.path).Binding
			switch {
			case tt.wantNone && got != nil:
				t.Errorf("%s binding = %+v; want none", tt.path, *got)
			case tt.wantNone:
			case got == nil:
				t.Errorf("%s binding = nil; want %+v", tt.path, *tt.want)
			case *got != *tt.want:
				t.Errorf("%s binding = %+v; want %+v", tt.path, *got, *tt.want)
			}
		})
	}
}

// TestDefinitions checks properties every type and element must have.
func TestDefinitions(t *testing.T) {
	names := TypeNames()
	if !slices.IsSorted(names) || !slices.Contains(names, "string") || !slices.Contains(names, "Resource") || !slices.Contains(names, "Organization") {
		t.Errorf("TypeNames() = %d names, sorted %v; want every type, sorted", len(names), slices.IsSorted(names))
	}
	for _, name := range names {
		ty := Lookup(name)
		checkAll(t, name, ty.Constraints)
		for _, e := range ty.Elements {
			checkAll(t, e.Path, e.Constraints)
			if b := e.Binding; b != nil {
				if !slices.Contains([]string{"required", "extensible", "preferred", "example"}, b.Strength) {
					t.Errorf("%s binding strength = %q", e.Path, b.Strength)
				}
				if strings.Contains(b.ValueSet, "|") || strings.Contains(b.ValueSet, "medplum") {
					t.Errorf("%s binding value set = %q; want an R4 URL without version", e.Path, b.ValueSet)
				}
			}
			for _, tr := range e.Types {
				for _, target := range tr.Targets {
					if Lookup(target) == nil {
						t.Errorf("%s targets %s, not an R4 type", e.Path, target)
					}
				}
			}
			if (e.Fixed != nil) != (e.FixedType != "") || (e.Pattern != nil) != (e.PatternType != "") {
				t.Errorf("%s fixed %s (%q), pattern %s (%q): a value needs its type", e.Path, e.Fixed, e.FixedType, e.Pattern, e.PatternType)
			}
		}
	}
}

func checkAll(t *testing.T, what string, cs []Constraint) {
	t.Helper()
	for _, c := range cs {
		if c.Key == "" || c.Human == "" || c.Expression == "" || (c.Severity != "error" && c.Severity != "warning") {
			t.Errorf("%s constraint %+v: want key, human, expression and severity error|warning", what, c)
		}
	}
}

func TestTerminology(t *testing.T) {
	type concept struct {
		Code    string    `json:"code"`
		Concept []concept `json:"concept"`
	}
	type resource struct {
		ResourceType string `json:"resourceType"`
		URL          string `json:"url"`
		Version      string `json:"version"`
		Content      string `json:"content"`
		Compose      struct {
			Include []struct {
				ValueSet []string `json:"valueSet"`
			} `json:"include"`
		} `json:"compose"`
		Concept []concept `json:"concept"`
	}
	byURL := map[string]resource{}
	for _, raw := range Terminology() {
		var r resource
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("Terminology(): %v", err)
		}
		byURL[r.ResourceType+" "+r.URL] = r
		if strings.Contains(string(raw), `"display":`) || strings.Contains(string(raw), `"definition":`) {
			t.Errorf("%s %s is not compacted", r.ResourceType, r.URL)
		}
		if strings.HasPrefix(r.URL, "http://hl7.org/fhir/") && r.Version != Version {
			t.Errorf("%s %s version %s; want only R4's", r.ResourceType, r.URL, r.Version)
		}
	}
	if _, ok := byURL["ValueSet http://hl7.org/fhir/ValueSet/administrative-gender"]; !ok {
		t.Errorf("no ValueSet administrative-gender")
	}
	cs, ok := byURL["CodeSystem http://hl7.org/fhir/administrative-gender"]
	var codes []string
	for _, c := range cs.Concept {
		codes = append(codes, c.Code)
	}
	if want := []string{"male", "female", "other", "unknown"}; !ok || cs.Content != "complete" || !slices.Equal(codes, want) {
		t.Errorf("CodeSystem administrative-gender = %v, content %q, codes %v; want complete, codes %v", ok, cs.Content, codes, want)
	}
	// The hierarchy is kept: v3-RoleCode nests its codes under abstract ones.
	if rc := byURL["CodeSystem http://terminology.hl7.org/CodeSystem/v3-RoleCode"]; len(rc.Concept) == 0 || !slices.ContainsFunc(rc.Concept, func(c concept) bool { return len(c.Concept) > 0 }) {
		t.Errorf("CodeSystem v3-RoleCode has no nested concepts")
	}
	// Included value sets are there too (security-labels includes four v3 ones).
	for _, inc := range byURL["ValueSet http://hl7.org/fhir/ValueSet/security-labels"].Compose.Include {
		for _, vs := range inc.ValueSet {
			if _, ok := byURL["ValueSet "+vs]; !ok {
				t.Errorf("ValueSet security-labels includes %s, which is missing", vs)
			}
		}
	}
	// Every required binding finds its value set, but for the one R4 does
	// not publish (a LOINC answer list).
	absent := map[string]bool{"http://loinc.org/vs/LL379-9": true}
	for _, name := range TypeNames() {
		for _, e := range Lookup(name).Elements {
			if b := e.Binding; b != nil && b.Strength == "required" && !absent[b.ValueSet] {
				if _, ok := byURL["ValueSet "+b.ValueSet]; !ok {
					t.Errorf("%s binds %s, which Terminology() lacks", e.Path, b.ValueSet)
				}
			}
		}
	}
}

// TestExtensions: the core extensions are R4's own, sorted by url, each a
// constraining Extension definition with a differential, compacted (no
// narrative members), and the slicing R4 leaves to the base Extension is
// written out where a differential slices.
func TestExtensions(t *testing.T) {
	exts := Extensions()
	if len(exts) < 300 {
		t.Fatalf("%d core extensions, want R4's ~390", len(exts))
	}
	byURL := map[string]json.RawMessage{}
	prev := ""
	for _, raw := range exts {
		var sd struct {
			ResourceType, URL, Type, Derivation string
			Differential                        struct {
				Element []map[string]json.RawMessage
			}
		}
		if err := json.Unmarshal(raw, &sd); err != nil {
			t.Fatal(err)
		}
		if sd.ResourceType != "StructureDefinition" || sd.Type != "Extension" || sd.Derivation != "constraint" ||
			!strings.HasPrefix(sd.URL, "http://hl7.org/fhir/StructureDefinition/") {
			t.Errorf("%s: %s of %s, %s", sd.URL, sd.ResourceType, sd.Type, sd.Derivation)
		}
		if sd.URL <= prev {
			t.Errorf("%s after %s: not sorted by url", sd.URL, prev)
		}
		prev = sd.URL
		if len(sd.Differential.Element) == 0 {
			t.Errorf("%s: no differential", sd.URL)
		}
		for _, el := range sd.Differential.Element {
			for _, k := range []string{"short", "definition", "comment", "mapping"} {
				if _, ok := el[k]; ok {
					t.Errorf("%s: element keeps %s", sd.URL, k)
				}
			}
		}
		byURL[sd.URL] = raw
	}
	geo := string(byURL["http://hl7.org/fhir/StructureDefinition/geolocation"])
	for _, want := range []string{
		`"context":[{"type":"element","expression":"Address"}]`,
		`{"id":"Extension.extension","path":"Extension.extension","slicing":{"discriminator":[{"type":"value","path":"url"}],"rules":"open"}}`,
		`"sliceName":"latitude","min":1,"max":"1"`,
		`"fixedUri":"latitude"`,
		`"type":[{"code":"decimal"}]`,
	} {
		if !strings.Contains(geo, want) {
			t.Errorf("geolocation lacks %s:\n%s", want, geo)
		}
	}
	if p := string(byURL["http://hl7.org/fhir/StructureDefinition/organization-period"]); !strings.Contains(p, `"type":[{"code":"Period"}]`) {
		t.Errorf("organization-period: %s", p)
	}
}

func TestProfileType(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"http://hl7.org/fhir/StructureDefinition/bodyheight", "Observation"},
		{"http://hl7.org/fhir/StructureDefinition/shareablevalueset", "ValueSet"},
		{"http://hl7.org/fhir/StructureDefinition/ehrsrle-provenance", "Provenance"},
		{"http://hl7.org/fhir/StructureDefinition/Observation", ""},          // a base definition, not a profile
		{"http://hl7.org/fhir/StructureDefinition/elementdefinition-de", ""}, // on a data type
		{"http://hl7.org/fhir/StructureDefinition/geolocation", ""},
	} {
		got, ok := ProfileType(tc.url)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("ProfileType(%s) = %q, %v; want %q", tc.url, got, ok, tc.want)
		}
	}
}
