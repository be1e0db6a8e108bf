package r4

import (
	"encoding/json"
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
