package fhir

import (
	"slices"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// ext wraps an extension with value member v in a Practitioner.
func ext(v string) string { return pr(`"extension":[{"url":"http://x.org/e",` + v + `}]`) }

// obs is an Observation with members added.
func obs(members string) string {
	return `{"resourceType":"Observation","status":"final","code":{"text":"x"},` + members + `}`
}

func TestRepair(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string   // the resource after Repair; "" means unchanged
		repairs []string // Repaired.String() of each repair, in document order
	}{
		// A JSON number or boolean where a string-typed primitive belongs.
		{"number in identifier.value", pr(`"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":1234567893}]`),
			pr(`"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1234567893"}]`),
			[]string{"Practitioner.identifier[0].value: number 1234567893 → string"}},
		{"number keeps its text", pr(`"name":[{"family":1.50e+3}]`), pr(`"name":[{"family":"1.50e+3"}]`),
			[]string{"Practitioner.name[0].family: number 1.50e+3 → string"}},
		{"number beyond float64 precision", pr(`"identifier":[{"value":12345678901234567890123}]`), pr(`"identifier":[{"value":"12345678901234567890123"}]`),
			[]string{"Practitioner.identifier[0].value: number 12345678901234567890123 → string"}},
		{"boolean in a code", pr(`"qualification":[{"code":{"coding":[{"code":true}]}}]`), pr(`"qualification":[{"code":{"coding":[{"code":"true"}]}}]`),
			[]string{"Practitioner.qualification[0].code.coding[0].code: boolean true → code"}},
		{"number in a code", pr(`"gender":false,"qualification":[{"code":{"coding":[{"system":"http://nucc.org/provider-taxonomy","code":207}]}}]`),
			pr(`"gender":"false","qualification":[{"code":{"coding":[{"system":"http://nucc.org/provider-taxonomy","code":"207"}]}}]`),
			[]string{"Practitioner.gender: boolean false → code", "Practitioner.qualification[0].code.coding[0].code: number 207 → code"}},
		{"number as resource id", pr(`"id":42`), pr(`"id":"42"`), []string{"Practitioner.id: number 42 → id"}},
		{"number in a uri", pr(`"identifier":[{"system":7,"value":"a"}]`), pr(`"identifier":[{"system":"7","value":"a"}]`),
			[]string{"Practitioner.identifier[0].system: number 7 → uri"}},
		{"number in markdown", `{"resourceType":"HealthcareService","extraDetails":5}`, `{"resourceType":"HealthcareService","extraDetails":"5"}`,
			[]string{"HealthcareService.extraDetails: number 5 → markdown"}},
		{"number in a nested primitive array", pr(`"name":[{"family":"F"},{"given":["A",42,"C"]}]`), pr(`"name":[{"family":"F"},{"given":["A","42","C"]}]`),
			[]string{"Practitioner.name[1].given[1]: number 42 → string"}},
		{"number in an extension's value[x]", ext(`"valueString":123`), ext(`"valueString":"123"`),
			[]string{"Practitioner.extension[0].value.ofType(string): number 123 → string"}},
		{"nested extension", ext(`"extension":[{"url":"a","valueCode":3}]`), ext(`"extension":[{"url":"a","valueCode":"3"}]`),
			[]string{"Practitioner.extension[0].extension[0].value.ofType(code): number 3 → code"}},

		// A string holding a number or boolean where one belongs.
		{"decimal keeps its digits", `{"resourceType":"Location","position":{"longitude":-77.0364,"latitude":"38.50"}}`,
			`{"resourceType":"Location","position":{"longitude":-77.0364,"latitude":38.50}}`,
			[]string{`Location.position.latitude: string "38.50" → decimal`}},
		{"decimal with exponent", ext(`"valueDecimal":"-1.5E-3"`), ext(`"valueDecimal":-1.5E-3`),
			[]string{`Practitioner.extension[0].value.ofType(decimal): string "-1.5E-3" → decimal`}},
		{"integer", ext(`"valueInteger":"-12"`), ext(`"valueInteger":-12`),
			[]string{`Practitioner.extension[0].value.ofType(integer): string "-12" → integer`}},
		{"choice valueInteger", obs(`"valueInteger":"7"`), obs(`"valueInteger":7`),
			[]string{`Observation.value.ofType(integer): string "7" → integer`}},
		{"positiveInt", pr(`"telecom":[{"system":"phone","value":"555","rank":"1"}]`), pr(`"telecom":[{"system":"phone","value":"555","rank":1}]`),
			[]string{`Practitioner.telecom[0].rank: string "1" → positiveInt`}},
		{"unsignedInt zero", pr(`"photo":[{"contentType":"image/png","size":"0"}]`), pr(`"photo":[{"contentType":"image/png","size":0}]`),
			[]string{`Practitioner.photo[0].size: string "0" → unsignedInt`}},
		{"boolean", pr(`"active":"true"`), pr(`"active":true`), []string{`Practitioner.active: string "true" → boolean`}},
		{"boolean false", pr(`"active":"false"`), pr(`"active":false`), []string{`Practitioner.active: string "false" → boolean`}},
		{"in a primitive's extension", pr(`"name":[{"given":["A"],"_given":[{"extension":[{"url":"http://x.org/e","valueDecimal":"2.0"}]}]}]`),
			pr(`"name":[{"given":["A"],"_given":[{"extension":[{"url":"http://x.org/e","valueDecimal":2.0}]}]}]`),
			[]string{`Practitioner.name[0].given[0].extension[0].value.ofType(decimal): string "2.0" → decimal`}},
		{"in a single primitive's extension", pr(`"birthDate":"1970-01-01","_birthDate":{"extension":[{"url":"http://x.org/e","valueBoolean":"true"}]}`),
			pr(`"birthDate":"1970-01-01","_birthDate":{"extension":[{"url":"http://x.org/e","valueBoolean":true}]}`),
			[]string{`Practitioner.birthDate.extension[0].value.ofType(boolean): string "true" → boolean`}},
		{"in a contained resource", org(`"contained":[{"resourceType":"Location","id":"l1","identifier":[{"value":9}]}],"extension":[{"url":"http://x.org/e","valueReference":{"reference":"#l1"}}]`),
			org(`"contained":[{"resourceType":"Location","id":"l1","identifier":[{"value":"9"}]}],"extension":[{"url":"http://x.org/e","valueReference":{"reference":"#l1"}}]`),
			[]string{"Organization.contained[0].identifier[0].value: number 9 → string"}},
		{"in a Bundle entry", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Practitioner","active":"true"}}]}`,
			`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Practitioner","active":true}}]}`,
			[]string{`Bundle.entry[0].resource.active: string "true" → boolean`}},

		// Not unambiguous, or not a primitive mismatch: refused as before.
		{"object for a string", pr(`"identifier":[{"value":{"v":1}}]`), "", nil},
		{"array for a single string", pr(`"identifier":[{"value":[1]}]`), "", nil},
		{"string for an object", pr(`"identifier":["1"]`), "", nil},
		{"null", pr(`"active":null`), "", nil},
		{"unknown element", pr(`"rank":"1"`), "", nil},
		{"12abc for an integer", obs(`"valueInteger":"12abc"`), "", nil},
		{"1.0 for an integer", obs(`"valueInteger":"1.0"`), "", nil},
		{"1e3 for an integer", obs(`"valueInteger":"1e3"`), "", nil},
		{"integer beyond 32 bits", obs(`"valueInteger":"2147483648"`), "", nil},
		{"leading zero", obs(`"valueInteger":"07"`), "", nil},
		{"0 for a positiveInt", pr(`"telecom":[{"system":"phone","value":"555","rank":"0"}]`), "", nil},
		{"negative unsignedInt", ext(`"valueUnsignedInt":"-1"`), "", nil},
		{"blank around a decimal", ext(`"valueDecimal":" 1.5"`), "", nil},
		{"decimal with plus", ext(`"valueDecimal":"+1.5"`), "", nil},
		{"decimal without leading digit", ext(`"valueDecimal":".5"`), "", nil},
		{"decimal beyond a double", ext(`"valueDecimal":"1e400"`), "", nil},
		{"decimal NaN", ext(`"valueDecimal":"NaN"`), "", nil},
		{"empty string for a decimal", ext(`"valueDecimal":""`), "", nil},
		{"TRUE for a boolean", pr(`"active":"TRUE"`), "", nil},
		{"yes for a boolean", pr(`"active":"yes"`), "", nil},
		{"number for a boolean", pr(`"active":1`), "", nil},
		{"boolean for a decimal", ext(`"valueDecimal":true`), "", nil},
		{"number for a date", pr(`"birthDate":19700101`), "", nil},
		{"number for a dateTime", obs(`"effectiveDateTime":2020`), "", nil},
		{"number for an instant", pr(`"meta":{"lastUpdated":1700000000}`), "", nil},
		{"number for a time", ext(`"valueTime":1200`), "", nil},
		{"number for base64Binary", pr(`"photo":[{"data":1234}]`), "", nil},
		{"number for an oid", ext(`"valueOid":1`), "", nil},
		{"number for a uuid", ext(`"valueUuid":1`), "", nil},
		{"number for xhtml", pr(`"text":{"status":"generated","div":1}`), "", nil},
		{"number not a valid id", pr(`"id":1E+5`), "", nil},
		{"number for a reference", pr(`"identifier":[{"assigner":{"reference":123}}]`), "", nil},
		{"number for a top-level extension url", pr(`"extension":[{"url":1,"valueBoolean":true}]`), "", nil},
		{"number for resourceType", `{"resourceType":1}`, "", nil},
		{"repairable beside a problem", pr(`"identifier":[{"value":1234567893}],"active":"yes"`), "", nil},
		{"repair uncovering another problem (dom-3)", org(`"contained":[{"resourceType":"Location","id":"l1"},{"resourceType":"Location","id":1}],"extension":[{"url":"http://x.org/e","valueReference":{"reference":"#l1"}}]`), "", nil},
		{"valid", pr(`"id":"p1","active":true,"identifier":[{"value":"1"}]`), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := jsontree.ParseObject([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got := Repair(obj)
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if out := string(jsontree.Marshal(obj)); out != want {
				t.Errorf("Repair(%s) left\n%s\nwant\n%s", tt.in, out, want)
			}
			if s := repairStrings(got); !slices.Equal(s, tt.repairs) {
				t.Errorf("Repair(%s) = %q; want %q", tt.in, s, tt.repairs)
			}
			if len(got) > 0 {
				if issues := Validate(obj); issues != nil {
					t.Errorf("Validate after Repair(%s) = %v; want none", tt.in, issues)
				}
			}
		})
	}
}

func repairStrings(rs []Repaired) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

func TestRepairedString(t *testing.T) {
	long := "1." + string(slices.Repeat([]byte("0"), 200))
	r := Repaired{Expression: "X.v", From: long, Type: "decimal"}
	if s := r.String(); len(s) > 120 {
		t.Errorf("Repaired.String() = %d bytes; want the value shortened", len(s))
	}
	r = Repaired{Expression: "X.v", From: jsontree.Number(long), Type: "string"}
	if s := r.String(); len(s) > 120 {
		t.Errorf("Repaired.String() = %d bytes; want the number shortened", len(s))
	}
}

func TestRepairEntries(t *testing.T) {
	const entry1 = `{"resource":{"resourceType":"Practitioner","id":"p1","identifier":[{"value":1234567893}],` +
		`"qualification":[{"code":{"text":"MD"},"issuer":{"reference":"Organization?identifier=x"}}]},"request":{"method":"PUT","url":"Practitioner/p1"}}`
	const entry2 = `{"resource":{"resourceType":"Practitioner","active":"true"},"request":{"method":"POST","url":"Practitioner"}}`
	tests := []struct {
		name, in, want string
		repairs        [][]string
	}{
		{"conditional reference beside a repair",
			`{"resourceType":"Bundle","type":"transaction","entry":[` + entry1 + `]}`,
			`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Practitioner","id":"p1","identifier":[{"value":"1234567893"}],` +
				`"qualification":[{"code":{"text":"MD"},"issuer":{"reference":"Organization?identifier=x"}}]},"request":{"method":"PUT","url":"Practitioner/p1"}}]}`,
			[][]string{{"Practitioner.identifier[0].value: number 1234567893 → string"}}},
		{"entries are repaired alone",
			`{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Location","status":"active"},"request":{"method":"POST","url":"Location"}},` + entry2 + `]}`,
			`{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Location","status":"active"},"request":{"method":"POST","url":"Location"}},` +
				`{"resource":{"resourceType":"Practitioner","active":true},"request":{"method":"POST","url":"Practitioner"}}]}`,
			[][]string{nil, {`Practitioner.active: string "true" → boolean`}}},
		{"the Bundle's own elements are left", `{"resourceType":"Bundle","type":"batch","total":"1","entry":[` + entry2 + `]}`,
			`{"resourceType":"Bundle","type":"batch","total":"1","entry":[{"resource":{"resourceType":"Practitioner","active":true},"request":{"method":"POST","url":"Practitioner"}}]}`,
			[][]string{{`Practitioner.active: string "true" → boolean`}}},
		{"an unrepairable entry leaves only itself", `{"resourceType":"Bundle","type":"batch","entry":[` + entry2 +
			`,{"resource":{"resourceType":"Location","status":{"code":"active"}},"request":{"method":"POST","url":"Location"}}]}`,
			`{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Practitioner","active":true},"request":{"method":"POST","url":"Practitioner"}}` +
				`,{"resource":{"resourceType":"Location","status":{"code":"active"}},"request":{"method":"POST","url":"Location"}}]}`,
			[][]string{{`Practitioner.active: string "true" → boolean`}, nil}},
		{"a repair that does not make its entry valid is undone", `{"resourceType":"Bundle","type":"batch","entry":[` +
			`{"resource":{"resourceType":"Practitioner","active":"true","name":{"family":"x"}},"request":{"method":"POST","url":"Practitioner"}}]}`, "", nil},
		{"no entries", `{"resourceType":"Bundle","type":"batch"}`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := jsontree.ParseObject([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got := RepairEntries(obj)
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if out := string(jsontree.Marshal(obj)); out != want {
				t.Errorf("RepairEntries left\n%s\nwant\n%s", out, want)
			}
			var s [][]string
			for _, rs := range got {
				s = append(s, repairStrings(rs))
			}
			if !slices.EqualFunc(s, tt.repairs, slices.Equal) {
				t.Errorf("RepairEntries = %q; want %q", s, tt.repairs)
			}
		})
	}
}

// FuzzRepair checks that Repair never panics, that a resource it changes
// then validates, that it changes nothing when it reports nothing, and that
// a second Repair finds nothing more.
func FuzzRepair(f *testing.F) {
	for _, body := range fixtures(f) {
		f.Add(body)
	}
	for _, s := range []string{
		pr(`"identifier":[{"value":1234567893}],"active":"true","name":[{"given":["A",2],"_given":[null,{"extension":[{"url":"http://x.org/e","valueInteger":"3"}]}]}]`),
		obs(`"valueInteger":"7","component":[{"code":{"text":"c"},"valueBoolean":"false"}]`),
		`{"resourceType":"Location","position":{"longitude":"-77.0364","latitude":"38.50"}}`,
		org(`"contained":[{"resourceType":"Location","id":1}],"extension":[{"url":"http://x.org/e","valueReference":{"reference":"#1"}}]`),
		`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Practitioner","active":"true"},"request":{"method":"POST","url":"Practitioner"}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, err := jsontree.ParseObject(body)
		if err != nil {
			return
		}
		before := jsontree.Marshal(obj)
		repairs := Repair(obj)
		after := jsontree.Marshal(obj)
		if len(repairs) == 0 {
			if string(after) != string(before) {
				t.Fatalf("Repair(%s) reported nothing but changed it to %s", before, after)
			}
		} else if issues := Validate(obj); issues != nil {
			t.Fatalf("Validate(Repair(%s)) = %v; want no issues", before, issues)
		}
		if again := Repair(obj); again != nil || string(jsontree.Marshal(obj)) != string(after) {
			t.Fatalf("second Repair(%s) = %v; want nothing", after, again)
		}
		copyObj, _ := jsontree.Clone(obj).(*jsontree.Object)
		for _, rs := range RepairEntries(copyObj) {
			for _, r := range rs {
				if r.Expression == "" || r.Type == "" {
					t.Fatalf("RepairEntries(%s) returned %+v", after, r)
				}
			}
		}
	})
}
