package profile

import (
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// slicingProfile slices Practitioner.identifier by pattern (closed) and
// telecom by existence: discriminators the IG's own profiles do not use.
const slicingProfile = `{"resourceType":"StructureDefinition","id":"test-slicing","url":"http://example.org/sd/test-slicing",
 "type":"Practitioner","derivation":"constraint","differential":{"element":[
 {"id":"Practitioner","path":"Practitioner"},
 {"id":"Practitioner.identifier","path":"Practitioner.identifier","slicing":{"discriminator":[{"type":"pattern","path":"system"}],"rules":"closed"}},
 {"id":"Practitioner.identifier:npi","path":"Practitioner.identifier","sliceName":"npi","min":1,"max":"1"},
 {"id":"Practitioner.identifier:npi.system","path":"Practitioner.identifier.system","patternUri":"http://hl7.org/fhir/sid/us-npi"},
 {"id":"Practitioner.telecom","path":"Practitioner.telecom","slicing":{"discriminator":[{"type":"exists","path":"period"}],"rules":"open"}},
 {"id":"Practitioner.telecom:dated","path":"Practitioner.telecom","sliceName":"dated","max":"1"},
 {"id":"Practitioner.telecom:dated.period","path":"Practitioner.telecom.period","min":1}]}}`

// TestSlicingDiscriminators: pattern and exists discriminators, slice
// cardinality and closed slicing, on a profile of the test's own.
func TestSlicingDiscriminators(t *testing.T) {
	v, err := compile()
	if err != nil {
		t.Fatal(err)
	}
	def, err := parseDefinition([]byte(slicingProfile), v.terms)
	if err != nil {
		t.Fatal(err)
	}
	v.defs[def.URL] = def
	if err := v.resolve(); err != nil {
		t.Fatal(err)
	}
	const (
		npi   = `{"system":"http://hl7.org/fhir/sid/us-npi","value":"1"}`
		other = `{"system":"http://example.org/ids","value":"2"}`
		dated = `{"system":"phone","value":"1","period":{"start":"2020-01-01"}}`
		plain = `{"system":"phone","value":"2"}`
	)
	cases := []struct {
		name, identifiers, telecoms string
		want                        string // a diagnostics fragment of a test-slicing issue; "" for none
	}{
		{"one of each", npi, dated + "," + plain, ""},
		{"slice missing", "", plain, "Practitioner.identifier:npi: minimum required = 1"},
		{"slice twice", npi + "," + npi, plain, "Practitioner.identifier:npi: maximum allowed = 1"},
		{"closed slicing", npi + "," + other, plain, "Practitioner.identifier: the item matches no slice"},
		{"exists discriminator", npi, dated + "," + dated, "Practitioner.telecom:dated: maximum allowed = 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			js := `{"resourceType":"Practitioner","telecom":[` + tc.telecoms + `]`
			if tc.identifiers != "" {
				js += `,"identifier":[` + tc.identifiers + `]`
			}
			o, err := jsontree.ParseObject([]byte(js + `}`))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, is := range v.Validate(o, def.URL) {
				if strings.Contains(is.Diagnostics, "(test-slicing)") {
					got = append(got, is.Diagnostics)
				}
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("want no test-slicing issue; got %q", got)
			case tc.want != "" && !strings.Contains(strings.Join(got, "\n"), tc.want):
				t.Errorf("want %q; got %q", tc.want, got)
			}
		})
	}
}
