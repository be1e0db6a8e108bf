package fhir

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// fixture parses one IG example.
func fixture(tb testing.TB, name string) *jsontree.Object {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		tb.Skipf("no IG fixture %s (it comes with the shared checkout): %v", name, err)
	}
	return mustObject(tb, string(b))
}

func mustObject(tb testing.TB, s string) *jsontree.Object {
	tb.Helper()
	o, err := jsontree.ParseObject([]byte(s))
	if err != nil {
		tb.Fatalf("ParseObject(%s) = %v", s, err)
	}
	return o
}

// at returns the value at path, dot-separated member names and array
// indexes: "name.0.given.1".
func at(v any, path string) (any, bool) {
	for seg := range strings.SplitSeq(path, ".") {
		switch x := v.(type) {
		case *jsontree.Object:
			var ok bool
			if v, ok = x.Get(seg); !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// scribble overwrites every member and item of v, so that a test can see
// whether anything of v is shared with another tree.
func scribble(v any) {
	switch x := v.(type) {
	case *jsontree.Object:
		for i := range x.Members {
			scribble(x.Members[i].Value)
			x.Members[i].Value = "scribbled"
		}
	case []any:
		for i := range x {
			scribble(x[i])
			x[i] = "scribbled"
		}
	}
}

func TestParseSummary(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want SummaryMode
		ok   bool
	}{
		{"true", "true", SummaryTrue, true},
		{"text", "text", SummaryText, true},
		{"data", "data", SummaryData, true},
		{"false", "false", SummaryFalse, true},
		{"count", "count", SummaryCount, true},
		{"empty", "", 0, false},
		{"upper case", "TRUE", 0, false},
		{"space", "true ", 0, false},
		{"other", "yes", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSummary(tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("ParseSummary(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
				}
				if got.String() != tt.in {
					t.Errorf("ParseSummary(%q).String() = %q; want %q", tt.in, got.String(), tt.in)
				}
				return
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "_summary") {
				t.Errorf("ParseSummary(%q) = %v, %v; want a 400 *Error naming _summary", tt.in, got, err)
			}
		})
	}
}

func TestSummaryModeString(t *testing.T) {
	if got := SummaryMode(9).String(); got != "SummaryMode(9)" {
		t.Errorf("SummaryMode(9).String() = %q; want %q", got, "SummaryMode(9)")
	}
}

// TestSummarizeFixtures checks which members of IG examples survive, at
// several depths.
func TestSummarizeFixtures(t *testing.T) {
	tests := []struct {
		name string
		file string
		mode SummaryMode
		keep []string
		drop []string
	}{
		{
			name: "practitioner true",
			file: "practitioner-example-washington.json",
			mode: SummaryTrue,
			keep: []string{
				"resourceType", "id", "meta.versionId", "meta.profile.0", "active", "gender", "birthDate",
				"identifier.0.use", "identifier.0.type.coding.0.code", "identifier.0.type.text",
				"identifier.0.system", "identifier.0.period.start", "identifier.0.assigner.display",
				"name.0.family", "name.0.given.0", "telecom.0.rank", "address.0.city", "address.0.line.0",
			},
			drop: []string{"extension", "identifier.0.extension", "address.0.extension", "qualification", "communication"},
		},
		{
			name: "location true",
			file: "location-loc-ffmh.json",
			mode: SummaryTrue,
			keep: []string{
				"status", "name", "description", "type.0.coding.0.code", "physicalType.coding.0.userSelected",
				"managingOrganization.reference", "identifier.0.assigner.reference", "meta.profile.0",
			},
			drop: []string{"extension", "identifier.0.extension", "telecom", "address", "position", "hoursOfOperation", "availabilityExceptions", "endpoint"},
		},
		{
			name: "insurance plan true",
			file: "insuranceplan-example-qhp.json",
			mode: SummaryTrue,
			keep: []string{"status", "name", "type.0.coding.0.code", "identifier.0.value", "ownedBy.reference", "administeredBy.display", "coverageArea.0.reference"},
			drop: []string{"text", "alias", "period", "contact", "endpoint", "network", "coverage", "plan", "identifier.0.extension"},
		},
		{
			name: "contained only referenced from extensions: true",
			file: "location-womens-shelter.json",
			mode: SummaryTrue,
			keep: []string{"status", "name"},
			drop: []string{"contained", "telecom", "address"},
		},
		{
			name: "contained only referenced from extensions: text",
			file: "location-womens-shelter.json",
			mode: SummaryText,
			keep: []string{"id", "meta"},
			drop: []string{"contained", "name", "status"},
		},
		{
			name: "insurance plan text",
			file: "insuranceplan-example-qhp.json",
			mode: SummaryText,
			keep: []string{"resourceType", "id", "meta.profile.0"},
			drop: []string{"identifier", "status", "name", "plan"},
		},
		{
			name: "bundle true summarizes entries by their type",
			file: "womens-shelter.json",
			mode: SummaryTrue,
			keep: []string{"type", "entry.0.fullUrl", "entry.0.resource.resourceType", "entry.0.resource.id", "entry.0.resource.name"},
			drop: []string{"entry.0.resource.contained", "entry.0.resource.telecom"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := fixture(t, tt.file)
			got, removed := Summarize(in, tt.mode)
			if !removed {
				t.Fatalf("Summarize(%s, %s) removed nothing; want %v dropped", tt.file, tt.mode, tt.drop)
			}
			for _, p := range tt.keep {
				if _, ok := at(got, p); !ok {
					t.Errorf("Summarize(%s, %s) lacks %s; want it kept", tt.file, tt.mode, p)
				}
			}
			for _, p := range tt.drop {
				if _, ok := at(got, p); ok {
					t.Errorf("Summarize(%s, %s) has %s; want it dropped", tt.file, tt.mode, p)
				}
			}
		})
	}
}

// TestSummarizeFixturesValid checks every IG example in every mode: the
// input is left alone, the result shares nothing with it, and a reduced
// resource, tagged SUBSETTED, is still structurally valid.
func TestSummarizeFixturesValid(t *testing.T) {
	shapes := []struct {
		name  string
		shape func(*jsontree.Object) (*jsontree.Object, bool)
	}{
		{"true", func(o *jsontree.Object) (*jsontree.Object, bool) { return Summarize(o, SummaryTrue) }},
		{"text", func(o *jsontree.Object) (*jsontree.Object, bool) { return Summarize(o, SummaryText) }},
		{"data", func(o *jsontree.Object) (*jsontree.Object, bool) { return Summarize(o, SummaryData) }},
		{"false", func(o *jsontree.Object) (*jsontree.Object, bool) { return Summarize(o, SummaryFalse) }},
		{"elements name", func(o *jsontree.Object) (*jsontree.Object, bool) { return Elements(o, []string{"name"}) }},
		{"elements none", func(o *jsontree.Object) (*jsontree.Object, bool) { return Elements(o, nil) }},
	}
	for file, body := range fixtures(t) {
		for _, s := range shapes {
			t.Run(file+"/"+s.name, func(t *testing.T) {
				in := mustObject(t, string(body))
				orig := jsontree.Clone(in)
				got, removed := s.shape(in)
				if !removed {
					if got != in {
						t.Errorf("%s(%s) removed nothing but returned a new tree; want the input", s.name, file)
					}
					return
				}
				if got == in {
					t.Fatalf("%s(%s) removed something but returned the input; want a copy", s.name, file)
				}
				MarkSubsetted(got)
				if issues := Validate(got); issues != nil {
					t.Errorf("Validate(%s(%s)) = %v; want no issues\n%s", s.name, file, issues, jsontree.Marshal(got))
				}
				scribble(got)
				if !jsontree.Equal(in, orig) {
					t.Errorf("%s(%s) changed its input or shares a part with it", s.name, file)
				}
			})
		}
	}
}

// Hand-written resources for exact results. Each is valid, so that the
// reduced result can be validated too.
const (
	narrative = `"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}`
	anExt     = `{"url":"http://example.org/x","valueString":"x"}`
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		mode SummaryMode
		in   string
		want string // "" when nothing is removed
	}{
		{
			name: "true keeps companions of kept primitives only",
			mode: SummaryTrue,
			in:   pr(`"id":"p","meta":{"versionId":"2","extension":[` + anExt + `]},` + narrative + `,"language":"en","_language":{"id":"l"},"gender":"male","_gender":{"extension":[` + anExt + `]},"_birthDate":{"id":"b","extension":[` + anExt + `]}`),
			want: pr(`"id":"p","meta":{"versionId":"2","extension":[` + anExt + `]},"gender":"male","_gender":{"extension":[` + anExt + `]},"_birthDate":{"id":"b","extension":[` + anExt + `]}`),
		},
		{
			name: "true walks data types and keeps primitive arrays aligned",
			mode: SummaryTrue,
			in:   pr(`"name":[{"extension":[` + anExt + `],"family":"F","given":["A",null],"_given":[null,{"extension":[` + anExt + `]}],"period":{"id":"x","start":"2001"}}]`),
			want: pr(`"name":[{"family":"F","given":["A",null],"_given":[null,{"extension":[` + anExt + `]}],"period":{"start":"2001"}}]`),
		},
		{
			name: "true drops values left empty",
			mode: SummaryTrue,
			in:   pr(`"identifier":[{"extension":[` + anExt + `]},{"value":"1"}],"telecom":[{"id":"t","extension":[` + anExt + `]}],"active":true`),
			want: pr(`"identifier":[{"value":"1"}],"active":true`),
		},
		{
			name: "true drops contained referenced from dropped elements",
			mode: SummaryTrue,
			in:   pr(`"id":"p","contained":[{"resourceType":"Organization","id":"o","name":"O"}],"qualification":[{"code":{"text":"MD"},"issuer":{"reference":"#o"}}],"active":true`),
			want: pr(`"id":"p","active":true`),
		},
		{
			name: "true keeps contained referenced from kept elements, reduced",
			mode: SummaryTrue,
			in: `{"resourceType":"Location","id":"l","contained":[` +
				`{"resourceType":"Organization","id":"o","name":"O","alias":["A"],"partOf":{"reference":"#p"}},` +
				`{"resourceType":"Organization","id":"p","name":"P","telecom":[{"system":"phone","value":"1"}]},` +
				`{"resourceType":"Organization","id":"q","name":"Q"}],` +
				`"extension":[{"url":"http://example.org/x","valueReference":{"reference":"#q"}}],"name":"L","managingOrganization":{"reference":"#o"}}`,
			want: `{"resourceType":"Location","id":"l","contained":[` +
				`{"resourceType":"Organization","id":"o","name":"O","partOf":{"reference":"#p"}},` +
				`{"resourceType":"Organization","id":"p","name":"P"}],` +
				`"name":"L","managingOrganization":{"reference":"#o"}}`,
		},
		{
			name: "true keeps mandatory elements and backbone modifier extensions",
			mode: SummaryTrue,
			in: `{"resourceType":"Provenance","target":[{"reference":"Location/1"}],"recorded":"2020-01-01T00:00:00Z","_recorded":{"id":"r"},` +
				`"reason":[{"text":"why"}],"agent":[{"modifierExtension":[` + anExt + `],"type":{"text":"author"},"role":[{"text":"r"}],"who":{"reference":"Practitioner/1"}}]}`,
			want: `{"resourceType":"Provenance","target":[{"reference":"Location/1"}],"recorded":"2020-01-01T00:00:00Z","_recorded":{"id":"r"},` +
				`"agent":[{"modifierExtension":[` + anExt + `],"type":{"text":"author"},"who":{"reference":"Practitioner/1"}}]}`,
		},
		{
			name: "true keeps only what is always kept of an unknown type",
			mode: SummaryTrue,
			in:   `{"resourceType":"Foo","id":"f","meta":{"versionId":"1"},"name":"n"}`,
			want: `{"resourceType":"Foo","id":"f","meta":{"versionId":"1"}}`,
		},
		{
			name: "true with nothing to remove",
			mode: SummaryTrue,
			in:   pr(`"id":"p","meta":{"versionId":"1"},"active":true,"name":[{"family":"F"}]`),
		},
		{
			name: "text keeps text, always kept and mandatory elements",
			mode: SummaryText,
			in: `{"resourceType":"Provenance","id":"v",` + narrative + `,"target":[{"reference":"Location/1"}],"recorded":"2020-01-01T00:00:00Z","_recorded":{"id":"r"},` +
				`"reason":[{"text":"why"}],"agent":[{"role":[{"text":"r"}],"who":{"reference":"Practitioner/1"}}]}`,
			want: `{"resourceType":"Provenance","id":"v",` + narrative + `,"target":[{"reference":"Location/1"}],"recorded":"2020-01-01T00:00:00Z","_recorded":{"id":"r"},` +
				`"agent":[{"role":[{"text":"r"}],"who":{"reference":"Practitioner/1"}}]}`,
		},
		{
			name: "text keeps contained referenced from mandatory elements, whole",
			mode: SummaryText,
			in: `{"resourceType":"Provenance","contained":[{"resourceType":"Location","id":"c","name":"C","alias":["A"]}],"target":[{"reference":"#c"}],` +
				`"recorded":"2020-01-01T00:00:00Z","agent":[{"who":{"reference":"Practitioner/1"}}],"reason":[{"text":"why"}]}`,
			want: `{"resourceType":"Provenance","contained":[{"resourceType":"Location","id":"c","name":"C","alias":["A"]}],"target":[{"reference":"#c"}],` +
				`"recorded":"2020-01-01T00:00:00Z","agent":[{"who":{"reference":"Practitioner/1"}}]}`,
		},
		{
			name: "text of a resource with no text",
			mode: SummaryText,
			in:   pr(`"id":"p","active":true`),
			want: pr(`"id":"p"`),
		},
		{
			name: "data drops text only",
			mode: SummaryData,
			in:   pr(`"id":"p",` + narrative + `,"contained":[{"resourceType":"Organization","id":"o","name":"O"}],"qualification":[{"code":{"text":"MD"},"issuer":{"reference":"#o"}}]`),
			want: pr(`"id":"p","contained":[{"resourceType":"Organization","id":"o","name":"O"}],"qualification":[{"code":{"text":"MD"},"issuer":{"reference":"#o"}}]`),
		},
		{
			name: "data without text",
			mode: SummaryData,
			in:   pr(`"id":"p","language":"en"`),
		},
		{
			name: "false",
			mode: SummaryFalse,
			in:   pr(`"id":"p",` + narrative + `,"language":"en"`),
		},
		{
			name: "count",
			mode: SummaryCount,
			in:   pr(`"id":"p",` + narrative + `,"language":"en"`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mustObject(t, tt.in)
			orig := jsontree.Clone(in)
			got, removed := Summarize(in, tt.mode)
			checkShaped(t, "Summarize("+tt.mode.String()+")", in, orig, got, removed, tt.want)
		})
	}
}

// checkShaped compares the result of Summarize or Elements on in with want
// ("" for in itself, unchanged), member order included, and checks that in
// still equals orig and the result validates.
func checkShaped(t *testing.T, call string, in *jsontree.Object, orig any, got *jsontree.Object, removed bool, want string) {
	t.Helper()
	if !jsontree.Equal(in, orig) {
		t.Errorf("%s changed its input to %s", call, jsontree.Marshal(in))
	}
	if want == "" {
		if removed || got != in {
			t.Errorf("%s = %s, %v; want the input, false", call, jsontree.Marshal(got), removed)
		}
		return
	}
	w := mustObject(t, want)
	if g, wb := jsontree.Marshal(got), jsontree.Marshal(w); !removed || string(g) != string(wb) {
		t.Errorf("%s = %s, %v; want %s, true", call, g, removed, wb)
	}
	if rt, _ := got.String("resourceType"); rt == "Foo" {
		return // not a resource Validate knows
	}
	if issues := Validate(got); issues != nil {
		t.Errorf("Validate(%s) = %v; want no issues", call, issues)
	}
}

func TestElements(t *testing.T) {
	obs := func(members string) string {
		return `{"resourceType":"Observation","id":"o","meta":{"versionId":"1"},` + narrative + `,"status":"final","code":{"text":"c"},` + members + `}`
	}
	tests := []struct {
		name  string
		in    string
		names []string
		want  string // "" when nothing is removed
	}{
		{
			name:  "listed elements with their companions",
			in:    pr(`"id":"p",` + narrative + `,"active":true,"birthDate":"1970","_birthDate":{"id":"b"},"gender":"male","name":[{"family":"F"}]`),
			names: []string{"birthDate", "name"},
			want:  pr(`"id":"p","birthDate":"1970","_birthDate":{"id":"b"},"name":[{"family":"F"}]`),
		},
		{
			name:  "companion alone",
			in:    org(`"name":"N","alias":["A",null],"_alias":[null,{"extension":[` + anExt + `]}],"active":true`),
			names: []string{"alias"},
			want:  org(`"alias":["A",null],"_alias":[null,{"extension":[` + anExt + `]}]`),
		},
		{
			name:  "mandatory elements are always kept",
			in:    obs(`"subject":{"reference":"Patient/1"},"valueString":"v"`),
			names: []string{"subject"},
			want:  `{"resourceType":"Observation","id":"o","meta":{"versionId":"1"},"status":"final","code":{"text":"c"},"subject":{"reference":"Patient/1"}}`,
		},
		{
			name:  "no names",
			in:    obs(`"valueString":"v"`),
			names: nil,
			want:  `{"resourceType":"Observation","id":"o","meta":{"versionId":"1"},"status":"final","code":{"text":"c"}}`,
		},
		{
			name:  "choice by element name",
			in:    obs(`"valueString":"v","_valueString":{"id":"v"},"issued":"2020-01-01T00:00:00Z"`),
			names: []string{"value"},
			want:  `{"resourceType":"Observation","id":"o","meta":{"versionId":"1"},"status":"final","code":{"text":"c"},"valueString":"v","_valueString":{"id":"v"}}`,
		},
		{
			name:  "choice by typed name keeps that type only",
			in:    obs(`"valueString":"v"`),
			names: []string{"valueQuantity"},
			want:  `{"resourceType":"Observation","id":"o","meta":{"versionId":"1"},"status":"final","code":{"text":"c"}}`,
		},
		{
			name:  "contained referenced from a kept element",
			in:    pr(`"id":"p","contained":[{"resourceType":"Organization","id":"o","name":"O","alias":["A"]}],"qualification":[{"code":{"text":"MD"},"issuer":{"reference":"#o"}}],"active":true`),
			names: []string{"qualification"},
			want:  pr(`"id":"p","contained":[{"resourceType":"Organization","id":"o","name":"O","alias":["A"]}],"qualification":[{"code":{"text":"MD"},"issuer":{"reference":"#o"}}]`),
		},
		{
			name:  "contained referenced from a dropped element",
			in:    pr(`"id":"p","contained":[{"resourceType":"Organization","id":"o","name":"O"}],"qualification":[{"code":{"text":"MD"},"issuer":{"reference":"#o"}}],"active":true`),
			names: []string{"active"},
			want:  pr(`"id":"p","active":true`),
		},
		{
			name:  "everything listed",
			in:    pr(`"id":"p","active":true,"name":[{"family":"F"}]`),
			names: []string{"active", "name"},
		},
		{
			name:  "unknown type matches by JSON name",
			in:    `{"resourceType":"Foo","id":"f","name":"n","other":1}`,
			names: []string{"name"},
			want:  `{"resourceType":"Foo","id":"f","name":"n"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mustObject(t, tt.in)
			orig := jsontree.Clone(in)
			got, removed := Elements(in, tt.names)
			checkShaped(t, "Elements("+strings.Join(tt.names, ",")+")", in, orig, got, removed, tt.want)
		})
	}
}

func TestParseElements(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		in   string
		want []string
		bad  string // a part of the error message; "" for success
	}{
		{"one", "Practitioner", "name", []string{"name"}, ""},
		{"several with spaces", "Practitioner", " name , identifier,active", []string{"name", "identifier", "active"}, ""},
		{"repeats", "Practitioner", "name,name", []string{"name"}, ""},
		{"always kept", "Practitioner", "resourceType,id,meta", []string{"resourceType", "id", "meta"}, ""},
		{"choice element", "Patient", "deceased", []string{"deceased"}, ""},
		{"choice with [x]", "Patient", "deceased[x]", []string{"deceased"}, ""},
		{"typed choice", "Patient", "deceasedBoolean", []string{"deceasedBoolean"}, ""},
		{"unknown", "Practitioner", "name,foo", nil, `"foo"`},
		{"nested", "Practitioner", "name.family", nil, `"name.family"`},
		{"companion", "Practitioner", "_birthDate", nil, `"_birthDate"`},
		{"empty", "Practitioner", "", nil, `""`},
		{"trailing comma", "Practitioner", "name,", nil, `""`},
		{"[x] on a plain element", "Practitioner", "name[x]", nil, `"name[x]"`},
		{"unknown choice type", "Patient", "deceasedFoo", nil, `"deceasedFoo"`},
		{"case matters", "Practitioner", "Name", nil, `"Name"`},
		{"unknown type", "Foo", "name", nil, `"Foo"`},
		{"abstract type", "DomainResource", "text", nil, `"DomainResource"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseElements(tt.typ, tt.in)
			if tt.bad == "" {
				if err != nil || !slices.Equal(got, tt.want) {
					t.Errorf("ParseElements(%s, %q) = %q, %v; want %q, nil", tt.typ, tt.in, got, err, tt.want)
				}
				return
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.Status != http.StatusBadRequest || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("ParseElements(%s, %q) = %q, %v; want a 400 *Error naming %s", tt.typ, tt.in, got, err, tt.bad)
			}
		})
	}
}

func TestMarkSubsetted(t *testing.T) {
	const tag = `{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED"}`
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"no meta", pr(`"id":"p","active":true`), pr(`"id":"p","meta":{"tag":[` + tag + `]},"active":true`)},
		{"no meta, no id", pr(`"active":true`), pr(`"meta":{"tag":[` + tag + `]},"active":true`)},
		{"meta kept", pr(`"id":"p","meta":{"versionId":"2","lastUpdated":"2020-01-01T00:00:00Z"},"active":true`),
			pr(`"id":"p","meta":{"versionId":"2","lastUpdated":"2020-01-01T00:00:00Z","tag":[` + tag + `]},"active":true`)},
		{"other tags kept", pr(`"id":"p","meta":{"tag":[{"system":"http://example.org","code":"a"}]}`),
			pr(`"id":"p","meta":{"tag":[{"system":"http://example.org","code":"a"},` + tag + `]}`)},
		{"already tagged", pr(`"id":"p","meta":{"tag":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"subsetted"}]}`),
			pr(`"id":"p","meta":{"tag":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"subsetted"}]}`)},
		{"same code, other system", pr(`"id":"p","meta":{"tag":[{"system":"http://example.org","code":"SUBSETTED"}]}`),
			pr(`"id":"p","meta":{"tag":[{"system":"http://example.org","code":"SUBSETTED"},` + tag + `]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := mustObject(t, tt.in)
			want := string(jsontree.Marshal(mustObject(t, tt.want)))
			for i := 1; i <= 2; i++ { // the second call must change nothing
				MarkSubsetted(obj)
				if got := string(jsontree.Marshal(obj)); got != want {
					t.Fatalf("MarkSubsetted(%s) call %d = %s; want %s", tt.in, i, got, want)
				}
			}
		})
	}
}

// FuzzParseElements checks that ParseElements never panics and that the
// names it returns read back as themselves.
func FuzzParseElements(f *testing.F) {
	for _, s := range []string{"name", "name,identifier", " deceased[x] ", "deceasedBoolean", "name.family", ",", "_id", "value[x][x]"} {
		f.Add("Patient", s)
	}
	f.Add("Practitioner", "qualification,communication")
	f.Fuzz(func(t *testing.T, typ, v string) {
		names, err := ParseElements(typ, v)
		if err != nil {
			return
		}
		again, err := ParseElements(typ, strings.Join(names, ","))
		if err != nil || !slices.Equal(again, names) {
			t.Errorf("ParseElements(%s, %q) = %q, %v; want %q, nil", typ, strings.Join(names, ","), again, err, names)
		}
	})
}

// FuzzSummarize checks, for any valid resource, that no mode changes the
// input and every reduced result is still structurally valid.
func FuzzSummarize(f *testing.F) {
	for _, body := range fixtures(f) {
		f.Add(body)
	}
	f.Add([]byte(pr(`"contained":[{"resourceType":"Organization","id":"o","name":"O"}],"name":[{"family":"F"}],"qualification":[{"code":{"text":"MD"},"issuer":{"reference":"#o"}}]`)))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := ParseResource(body)
		if err != nil {
			return
		}
		orig := jsontree.Clone(res.Obj)
		for _, mode := range []SummaryMode{SummaryTrue, SummaryText, SummaryData} {
			got, removed := Summarize(res.Obj, mode)
			if !removed {
				continue
			}
			MarkSubsetted(got)
			if issues := Validate(got); issues != nil {
				t.Errorf("Validate(Summarize(%s)) = %v; want no issues\n%s", mode, issues, jsontree.Marshal(got))
			}
		}
		if !jsontree.Equal(res.Obj, orig) {
			t.Errorf("Summarize changed its input")
		}
	})
}

func BenchmarkSummarize(b *testing.B) {
	obj := fixture(b, "practitioner-example-washington.json")
	b.ReportAllocs()
	for b.Loop() {
		Summarize(obj, SummaryTrue)
	}
}
