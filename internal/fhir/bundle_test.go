package fhir

import (
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// entryBundle is a batch Bundle whose second entry's resource has an
// identifier.value written as a number.
const entryBundle = `{"resourceType":"Bundle","type":"batch","entry":[
	{"resource":{"resourceType":"Practitioner","active":true},"request":{"method":"POST","url":"Practitioner"}},
	{"resource":{"resourceType":"Practitioner","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":1234567893}]},"request":{"method":"POST","url":"Practitioner"}}]}`

// TestParseBundleLeavesEntryResources: a Bundle to be run is judged by its
// own structure; its entries' resources are each judged on their own.
func TestParseBundleLeavesEntryResources(t *testing.T) {
	res, err := ParseBundle([]byte(entryBundle))
	if err != nil {
		t.Fatalf("ParseBundle(a batch with one bad entry resource) = %v; want the Bundle, its entries judged one by one", err)
	}
	if res.Type != "Bundle" {
		t.Errorf("ParseBundle type = %q; want Bundle", res.Type)
	}
	if _, err := ParseResource([]byte(entryBundle)); err == nil {
		t.Errorf("ParseResource(the same Bundle) = nil; want the entry's issue: the whole resource is judged")
	}
}

func TestParseBundleInvalidShell(t *testing.T) {
	tests := []struct {
		name, body, path, diag string
	}{
		{"entry not an array", `{"resourceType":"Bundle","type":"batch","entry":{}}`, "Bundle.entry", "non-empty array"},
		{"entry not an object", `{"resourceType":"Bundle","type":"batch","entry":[1]}`, "Bundle.entry[0]", "expected an object"},
		{"unknown entry element", `{"resourceType":"Bundle","type":"batch","entry":[{"resourse":{}}]}`, "Bundle.entry[0]", `unknown element "resourse"`},
		{"request url a number", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":1}}]}`, "Bundle.entry[0].request.url", "expected uri"},
		{"request without method", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"url":"Practitioner"}}]}`, "Bundle.entry[0].request", `"method"`},
		{"no type", `{"resourceType":"Bundle","entry":[{"request":{"method":"GET","url":"Practitioner"}}]}`, "Bundle", `"type"`},
		{"not a Bundle, invalid", `{"resourceType":"Practitioner","active":"yes"}`, "Practitioner.active", "expected boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBundle([]byte(tt.body))
			fe := asError(t, err)
			if len(fe.Issues) != 1 || fe.Issues[0].Expression[0] != tt.path || !strings.Contains(fe.Issues[0].Diagnostics, tt.diag) {
				t.Errorf("ParseBundle(%s) issues = %v; want one at %s saying %q", tt.body, fe.Issues, tt.path, tt.diag)
			}
		})
	}
	if _, err := ParseBundle([]byte(`[{"resourceType":"Bundle"}]`)); err == nil {
		t.Errorf("ParseBundle(a JSON array) = nil; want a syntax error")
	}
}

func TestValidateEntry(t *testing.T) {
	tests := []struct {
		name     string
		i        int
		resource string
		path     string // "" for valid
		diag     string
	}{
		{"number for a string", 1, `{"resourceType":"Practitioner","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":1234567893}]}`,
			"Bundle.entry[1].resource.identifier[0].value", "expected string"},
		{"no resourceType", 3, `{"id":"a"}`, "Bundle.entry[3].resource", "missing resourceType"},
		{"not an object", 0, `"Practitioner"`, "Bundle.entry[0].resource", "expected an object"},
		{"contained rules", 2, `{"resourceType":"Organization","contained":[{"resourceType":"Location","id":"c1"}]}`, "Bundle.entry[2].resource.contained[0]", "dom-3"},
		{"conditional reference", 0, `{"resourceType":"PractitionerRole","practitioner":{"reference":"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1"}}`, "", ""},
		{"valid", 5, `{"resourceType":"Practitioner","active":true}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := jsontree.Parse([]byte(tt.resource))
			if err != nil {
				t.Fatal(err)
			}
			issues := ValidateEntry(tt.i, v)
			if tt.path == "" {
				if issues != nil {
					t.Errorf("ValidateEntry(%d, %s) = %v; want none", tt.i, tt.resource, issues)
				}
				return
			}
			if len(issues) != 1 || issues[0].Expression[0] != tt.path || !strings.Contains(issues[0].Diagnostics, tt.diag) {
				t.Errorf("ValidateEntry(%d, %s) = %v; want one issue at %s saying %q", tt.i, tt.resource, issues, tt.path, tt.diag)
			}
		})
	}
}

// TestValidateEntryMatchesValidate: an entry's resource judged alone gets
// the issues it got within its Bundle.
func TestValidateEntryMatchesValidate(t *testing.T) {
	obj, err := jsontree.ParseObject([]byte(entryBundle))
	if err != nil {
		t.Fatal(err)
	}
	whole := Validate(obj)
	var alone []Issue
	for i, e := range asArrayOf(obj, "entry") {
		res, _ := e.(*jsontree.Object).Get("resource")
		alone = append(alone, ValidateEntry(i, res)...)
	}
	if len(whole) == 0 || len(alone) != len(whole) {
		t.Fatalf("entries alone = %v; whole Bundle = %v; want the same issues", alone, whole)
	}
	for i := range whole {
		if !sameIssue(alone[i], whole[i]) || alone[i].Diagnostics != whole[i].Diagnostics {
			t.Errorf("issue %d alone = %v; within the Bundle = %v", i, alone[i], whole[i])
		}
	}
}

func asArrayOf(o *jsontree.Object, name string) []any {
	v, _ := o.Get(name)
	a, _ := v.([]any)
	return a
}
