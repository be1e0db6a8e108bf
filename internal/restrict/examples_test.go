package restrict

import (
	"slices"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// example parses one of the IG's embedded examples.
func example(t *testing.T, name string) *jsontree.Object {
	t.Helper()
	for _, f := range ig.Examples() {
		if f.Name == name {
			o, err := jsontree.ParseObject(f.Data)
			if err != nil {
				t.Fatalf("ParseObject(%s) = %v", name, err)
			}
			return o
		}
	}
	t.Fatalf("no IG example %s", name)
	return nil
}

// edit returns a copy of obj changed by fn, for building expected results
// out of the original so that untouched parts compare byte for byte.
func edit(obj *jsontree.Object, fn func(o *jsontree.Object)) *jsontree.Object {
	c := jsontree.Clone(obj).(*jsontree.Object)
	fn(c)
	return c
}

// keepItems replaces array member key of o by the items at indexes keep.
func keepItems(o *jsontree.Object, key string, keep ...int) {
	v, _ := o.Get(key)
	items := v.([]any)
	var out []any
	for _, i := range keep {
		out = append(out, items[i])
	}
	o.Set(key, out)
}

// hideHCS applies to HealthcareService/hcs-ws what a viewer not permitted
// by its Consent must get.
func hideHCS(o *jsontree.Object) {
	o.Delete("location") // its only item is restricted
	keepItems(o, "telecom", 0)
	o.Delete("contained")
	fhir.MarkSubsetted(o)
}

// hideLoc does the same for Location/loc-ws.
func hideLoc(o *jsontree.Object) {
	keepItems(o, "telecom", 0)
	o.Delete("address")
	o.Delete("contained")
	fhir.MarkSubsetted(o)
}

func entryResource(o *jsontree.Object, i int) *jsontree.Object {
	v, _ := o.Get("entry")
	r, _ := v.([]any)[i].(*jsontree.Object).Object("resource")
	return r
}

func TestExamples(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		elements []string
		hide     func(o *jsontree.Object)
	}{
		{
			name:     "HealthcareService",
			file:     "healthcareservice-womens-shelter.json",
			elements: []string{"HealthcareService.location[0]", "HealthcareService.telecom[1]"},
			hide:     hideHCS,
		},
		{
			name:     "Location",
			file:     "location-womens-shelter.json",
			elements: []string{"Location.telecom[1]", "Location.address"},
			hide:     hideLoc,
		},
		{
			name: "Bundle",
			file: "womens-shelter.json",
			elements: []string{
				"Bundle.entry[0].resource.location[0]", "Bundle.entry[0].resource.telecom[1]",
				"Bundle.entry[1].resource.telecom[1]", "Bundle.entry[1].resource.address",
			},
			hide: func(o *jsontree.Object) {
				hideHCS(entryResource(o, 0))
				hideLoc(entryResource(o, 1))
				fhir.MarkSubsetted(o)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := example(t, tt.file)
			before := string(jsontree.Marshal(obj))
			rs := Parse(obj)
			if err := rs.Err(); err != nil {
				t.Errorf("Err() = %v; want nil", err)
			}
			var got []string
			for _, r := range rs.All {
				got = append(got, r.Element)
				if r.Root() {
					t.Errorf("%s: restriction on the root; the example restricts elements only", r.Element)
				}
				if r.Rule.Status != "active" || r.Rule.Consent != "restrict" {
					t.Errorf("%s: Rule = %+v; want active #restrict", r.Element, r.Rule)
				}
				// The example actor is a display only: no reference, so only
				// operators; its securityLabel has no code.
				if len(r.Rule.Actors) != 0 || !slices.Equal(r.Rule.Unreferenced, []string{"Blue Team @ The W shelter (CareTeam)"}) {
					t.Errorf("%s: actors %q, unreferenced %q", r.Element, r.Rule.Actors, r.Rule.Unreferenced)
				}
			}
			if !slices.Equal(got, tt.elements) {
				t.Errorf("Parse(%s) elements = %q; want %q", tt.file, got, tt.elements)
			}

			denied := []Viewer{
				{},
				{Organization: "Organization/blue-team", Roles: []string{"womens-abuse-councellors"}},
				{Organization: "CareTeam/blue", Membership: func(string) []string { return []string{"CareTeam/blue"} }},
			}
			want := string(jsontree.Marshal(edit(obj, tt.hide)))
			for _, v := range denied {
				out, visible, subsetted := View(obj, rs, v)
				if !visible || !subsetted {
					t.Fatalf("View(%+v) visible, subsetted = %v, %v; want true, true", v, visible, subsetted)
				}
				if got := string(jsontree.Marshal(out)); got != want {
					t.Errorf("View(%+v) =\n%s\nwant\n%s", v, got, want)
				}
			}

			out, visible, subsetted := View(obj, rs, Viewer{Operator: true})
			if out != obj || !visible || subsetted {
				t.Errorf("View(operator) = %p, %v, %v; want the input %p, true, false", out, visible, subsetted, obj)
			}
			if after := string(jsontree.Marshal(obj)); after != before {
				t.Errorf("View modified its input")
			}
		})
	}
}

// TestExamplesUnrestricted checks that no other IG example is restricted, so
// that View hands them back as they are.
func TestExamplesUnrestricted(t *testing.T) {
	restricted := map[string]bool{
		"healthcareservice-womens-shelter.json": true,
		"location-womens-shelter.json":          true,
		"womens-shelter.json":                   true,
	}
	for _, f := range ig.Examples() {
		obj := example(t, f.Name)
		rs := Parse(obj)
		if rs.None() == restricted[f.Name] {
			t.Errorf("Parse(%s).None() = %v; want %v", f.Name, rs.None(), !restricted[f.Name])
		}
		if out, visible, _ := View(obj, rs, Viewer{}); !restricted[f.Name] && (out != obj || !visible) {
			t.Errorf("View(%s) did not return the input", f.Name)
		}
	}
}

func TestTargetOfExample(t *testing.T) {
	vr := example(t, "verificationresult-example-license.json")
	targets, locations := TargetOf(vr)
	if !slices.Equal(targets, []string{"Practitioner/practitioner1"}) || !slices.Equal(locations, []string{"Practitioner.qualification[0]"}) {
		t.Errorf("TargetOf = %q, %q; want [Practitioner/practitioner1], [Practitioner.qualification[0]]", targets, locations)
	}
}
