package fhirpath

import (
	"errors"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// field returns the definition of a member of an R4 type.
func field(t testing.TB, typ, name string) *r4.Element {
	t.Helper()
	f := r4.Lookup(typ).Fields[name]
	if f == nil {
		t.Fatalf("%s has no field %s", typ, name)
	}
	return f.Element
}

func obj(t testing.TB, v any) *jsontree.Object {
	t.Helper()
	o, ok := v.(*jsontree.Object)
	if !ok {
		t.Fatalf("%T is not an object", v)
	}
	return o
}

func TestCheck(t *testing.T) {
	res := mustParse(t, testPractitioner)
	telecom, _ := res.Get("telecom")
	phone := obj(t, telecom.([]any)[0])
	careTeam := mustParse(t, `{"resourceType": "CareTeam", "contained": [{"resourceType": "Organization", "id": "org"}],
		"participant": [{"member": {"reference": "#org"}, "onBehalfOf": {"reference": "Organization/o1"}},
		                {"member": {"reference": "Practitioner/p"}, "onBehalfOf": {"reference": "Organization/o1"}}]}`)
	parts, _ := careTeam.Get("participant")
	contained, _ := res.Get("contained")
	inside := obj(t, contained.([]any)[0])
	inside.Set("extension", []any{mustParse(t, `{"url": "u", "valueReference": {"reference": "#l1"}}`)})
	ctm1 := "onBehalfOf.exists() implies (member.resolve().iif(empty(), true, ofType(Practitioner).exists()))"
	ref1 := "reference.startsWith('#').not() or (reference.substring(1) in %rootResource.contained.id)"
	tests := []struct {
		name           string
		src            string
		resource, root *jsontree.Object
		focus          Focus
		ok             bool
		err            string
	}{
		{"data type passes", "value.empty() or system.exists()", res, nil, Focus{Value: phone, Type: "ContactPoint"}, true, ""},
		{"data type fails", "system.empty()", res, nil, Focus{Value: phone, Type: "ContactPoint"}, false, ""},
		{"empty passes", "use = 'home'", res, nil, Focus{Value: phone, Type: "ContactPoint"}, true, ""},
		{"non-boolean passes", "value", res, nil, Focus{Value: phone, Type: "ContactPoint"}, true, ""},
		{"many items is an error", "%resource.telecom", res, nil, Focus{Value: phone, Type: "ContactPoint"}, false, "gave 3 items"},
		{"$this and %context are the focus", "$this.value = '1' and %context.system = 'phone'", res, nil, Focus{Value: phone, Type: "ContactPoint"}, true, ""},
		{"%resource", "%resource.gender = 'female'", res, nil, Focus{Value: phone, Type: "ContactPoint"}, true, ""},
		{"resource level", "(identifier.count() + name.count()) > 0", res, res, Focus{Value: res, Type: "Practitioner"}, true, ""},
		{"backbone fails", ctm1, careTeam, nil, Focus{Value: parts.([]any)[0], Type: "BackboneElement", Element: field(t, "CareTeam", "participant")}, false, ""},
		{"backbone passes", ctm1, careTeam, nil, Focus{Value: parts.([]any)[1], Type: "BackboneElement", Element: field(t, "CareTeam", "participant")}, true, ""},
		{"primitive", "empty() or ($this = '*') or (toInteger() >= 0)", res, nil, Focus{Value: "*", Type: "string", Element: field(t, "ElementDefinition", "max")}, true, ""},
		{"primitive fails", "empty() or ($this = '*') or (toInteger() >= 0)", res, nil, Focus{Value: "-1", Type: "string"}, false, ""},
		{"primitive with only an extension", "hasValue() or (children().count() > id.count())", res, nil,
			Focus{Type: "string", Ext: mustParse(t, `{"extension": [{"url": "u", "valueCode": "x"}]}`)}, true, ""},
		{"primitive with only an id", "hasValue() or (children().count() > id.count())", res, nil,
			Focus{Type: "string", Ext: mustParse(t, `{"id": "x"}`)}, false, ""},
		{"contained resource: %resource and %rootResource", "%resource.id = 'o1' and %rootResource.id = 'p1'", inside, res, Focus{Value: inside, Type: "Organization"}, true, ""},
		{"contained reference to a sibling", ref1, inside, res, Focus{Value: mustParse(t, `{"reference": "#l1"}`), Type: "Reference"}, true, ""},
		{"contained reference to nothing", ref1, inside, res, Focus{Value: mustParse(t, `{"reference": "#zz"}`), Type: "Reference"}, false, ""},
		{"resolve from a contained resource", "extension.value.resolve() is Location", inside, res, Focus{Value: inside, Type: "Organization"}, true, ""},
		{"evaluation error", "'a' < 1", res, nil, Focus{Value: res, Type: "Practitioner"}, false, "cannot compare"},
		{"unsupported", "gender.memberOf('http://hl7.org/fhir/ValueSet/administrative-gender')", res, nil, Focus{Value: res, Type: "Practitioner"}, false, "cannot be evaluated"},
		{"no resource", "true", nil, nil, Focus{Value: res, Type: "Practitioner"}, false, "no resource"},
		{"bad root", "true", res, mustParse(t, `{"resourceType": "Nope"}`), Focus{Value: res, Type: "Practitioner"}, false, "not an R4 resource type"},
		{"focus without type", "true", res, nil, Focus{Value: phone}, false, "focus has no type"},
		{"focus of unknown type", "true", res, nil, Focus{Value: phone, Type: "Phone"}, false, `focus type "Phone"`},
		{"backbone without definition", "true", res, nil, Focus{Value: phone, Type: "BackboneElement"}, false, "without its element definition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := MustCompile(tt.src).Check(tt.resource, tt.root, tt.focus)
			switch {
			case tt.err == "" && err != nil, tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("Check(%q) error = %v; want %q", tt.src, err, tt.err)
			case ok != tt.ok:
				t.Errorf("Check(%q) = %v; want %v", tt.src, ok, tt.ok)
			}
		})
	}
	if _, err := MustCompile("conformsTo('http://x/p')").Check(res, nil, Focus{Value: res, Type: "Practitioner"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Check(conformsTo()) error = %v; want ErrUnsupported", err)
	}
}

// TestCheckConcurrent checks one invariant from many goroutines, on a
// backbone element whose info is built on first use; run with -race.
func TestCheckConcurrent(t *testing.T) {
	team := mustParse(t, `{"resourceType": "CareTeam", "participant": [{"member": {"reference": "Practitioner/p"}, "onBehalfOf": {"reference": "Organization/o"}}]}`)
	parts, _ := team.Get("participant")
	focus := Focus{Value: parts.([]any)[0], Type: "BackboneElement", Element: field(t, "CareTeam", "participant")}
	e := MustCompile("onBehalfOf.exists() implies (member.resolve().iif(empty(), true, ofType(Practitioner).exists())) and (member | member | onBehalfOf).count() = 2")
	done := make(chan error)
	for range 8 {
		go func() {
			var err error
			for range 200 {
				var ok bool
				if ok, err = e.Check(team, nil, focus); err == nil && !ok {
					err = errors.New("failed")
				}
				if err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Errorf("concurrent Check = %v; want pass", err)
		}
	}
}

// TestCheckAllocations: a passing simple invariant allocates nothing once
// the pools are warm.
func TestCheckAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	res := mustParse(t, testPractitioner)
	telecom, _ := res.Get("telecom")
	phone := Focus{Value: telecom.([]any)[0], Type: "ContactPoint"}
	for _, src := range []string{
		"value.empty() or system.exists()",
		"hasValue() or (children().count() > id.count())",
		"(identifier.count() + name.count()) > 0",
		"start.hasValue().not() or end.hasValue().not() or (start <= end)",
	} {
		e := MustCompile(src)
		focus := phone
		if strings.Contains(src, "identifier") {
			focus = Focus{Value: res, Type: "Practitioner"}
		}
		if strings.Contains(src, "start") {
			focus = Focus{Value: mustParse(t, `{"start": "2020-01-01T10:00:00Z", "end": "2020-01-02"}`), Type: "Period"}
		}
		allocs := testing.AllocsPerRun(100, func() {
			if ok, err := e.Check(res, nil, focus); !ok || err != nil {
				t.Fatalf("Check(%q) = %v, %v", src, ok, err)
			}
		})
		if allocs != 0 {
			t.Errorf("Check(%q) allocates %.0f times; want 0", src, allocs)
		}
	}
}

// BenchmarkCheck measures invariants as a validator runs them: one
// ContactPoint, one element-wide and one resource-level invariant.
func BenchmarkCheck(b *testing.B) {
	res := mustParse(b, testPractitioner)
	telecom, _ := res.Get("telecom")
	phone := Focus{Value: telecom.([]any)[0], Type: "ContactPoint"}
	for _, bc := range []struct {
		name, src string
		focus     Focus
	}{
		{"cpt-2", "value.empty() or system.exists()", phone},
		{"ele-1", "hasValue() or (children().count() > id.count())", phone},
		{"org-1", "(identifier.count() + name.count()) > 0", Focus{Value: res, Type: "Practitioner"}},
		{"dom-3", r4Invariants[8].src, Focus{Value: res, Type: "Practitioner"}},
	} {
		e := MustCompile(bc.src)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Check(res, nil, bc.focus); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
