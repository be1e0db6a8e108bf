package fhir

import (
	"strings"
	"testing"
)

func TestParseReference(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Reference // Raw is filled in from in
	}{
		{"relative", "Practitioner/1", Reference{Kind: RefRelative, Type: "Practitioner", ID: "1"}},
		{"relative with dots and dashes", "Organization/a-b.C9", Reference{Kind: RefRelative, Type: "Organization", ID: "a-b.C9"}},
		{"relative version", "Practitioner/1/_history/2", Reference{Kind: RefRelative, Type: "Practitioner", ID: "1", Version: "2"}},
		{"absolute FHIR", "https://other.example/fhir/Practitioner/1", Reference{Kind: RefAbsolute, Type: "Practitioner", ID: "1", Base: "https://other.example/fhir"}},
		{"absolute FHIR version", "http://x.org/Location/l1/_history/3", Reference{Kind: RefAbsolute, Type: "Location", ID: "l1", Version: "3", Base: "http://x.org"}},
		{"absolute other", "https://other.example/docs/page", Reference{Kind: RefAbsolute}},
		{"absolute unknown type", "https://other.example/fhir/Foo/1", Reference{Kind: RefAbsolute}},
		{"absolute with query", "https://other.example/fhir/Practitioner/1?x=y", Reference{Kind: RefAbsolute}},
		{"absolute with fragment", "https://other.example/fhir/Practitioner/1#x", Reference{Kind: RefAbsolute}},
		{"absolute without host", "http://Practitioner/1", Reference{Kind: RefAbsolute}},
		{"absolute other scheme", "urn:isbn:0451450523", Reference{Kind: RefAbsolute}},
		{"contained", "#restrict", Reference{Kind: RefContained, ID: "restrict"}},
		{"container", "#", Reference{Kind: RefContained}},
		{"urn uuid", "urn:uuid:0e4f2c1a-3b5d-4c6e-8f90-1a2b3c4d5e6f", Reference{Kind: RefURN}},
		{"urn oid", "urn:oid:2.16.840.1.113883.4.6", Reference{Kind: RefURN}},
		{"urn oid zero arc", "urn:oid:1.0.3", Reference{Kind: RefURN}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.Raw = tt.in
			got, err := ParseReference(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseReference(%q) = %+v, %v; want %+v, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseReferenceMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // a part of the error text
	}{
		{"empty", "", "empty reference"},
		{"no id", "Practitioner/", `"Practitioner/" has no id`},
		{"unknown type", "Foo/1", `"Foo" is not an R4 resource type`},
		{"abstract type", "DomainResource/1", `"DomainResource" is not an R4 resource type`},
		{"lower-case type", "practitioner/1", `"practitioner" is not an R4 resource type`},
		{"space in id", "Practitioner/a b", "whitespace"},
		{"bad id", "Practitioner/a_b", `"a_b" is not a valid resource id`},
		{"long id", "Practitioner/" + strings.Repeat("a", 65), "is not a valid resource id"},
		{"no slash", "abc", `"abc" is not a reference of the form`},
		{"leading slash", "/Practitioner/1", `"" is not an R4 resource type`},
		{"extra segment", "Practitioner/1/2", "is not of the form Type/id or Type/id/_history/version"},
		{"history without version", "Practitioner/1/_history/", "no valid version"},
		{"history bad version", "Practitioner/1/_history/a/b", "no valid version"},
		{"contained bad id", "#a_b", `"a_b" is not a valid contained resource id`},
		{"uuid upper case", "urn:uuid:0E4F2C1A-3B5D-4C6E-8F90-1A2B3C4D5E6F", "lower-case UUID"},
		{"uuid short", "urn:uuid:0e4f2c1a", "lower-case UUID"},
		{"uuid empty", "urn:uuid:", "lower-case UUID"},
		{"urn prefix upper case", "URN:UUID:0e4f2c1a-3b5d-4c6e-8f90-1a2b3c4d5e6f", "lower-case UUID"},
		{"oid bad root", "urn:oid:3.1", "valid OID"},
		{"oid leading zero", "urn:oid:1.02", "valid OID"},
		{"oid trailing dot", "urn:oid:1.2.", "valid OID"},
		{"oid single arc", "urn:oid:1", "valid OID"},
		{"scheme only", "http:", "nothing after its scheme"},
		{"space in URL", "http://x.org/a b", "whitespace"},
		{"tab", "Practitioner/1\t", "whitespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReference(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseReference(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseReferenceLongInputQuotedShort(t *testing.T) {
	in := "Foo" + strings.Repeat("x", 10000) + "/1"
	_, err := ParseReference(in)
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("ParseReference(10 kB type) error = %.300v; want an error under 200 bytes", err)
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"simple", "practitioner1", true},
		{"all classes", "A-z.0", true},
		{"max length", strings.Repeat("a", 64), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", 65), false},
		{"underscore", "a_b", false},
		{"slash", "a/b", false},
		{"space", "a b", false},
		{"non-ASCII", "é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidID(tt.in); got != tt.want {
				t.Errorf("ValidID(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestRefKindString(t *testing.T) {
	for k, want := range map[RefKind]string{RefRelative: "relative", RefAbsolute: "absolute", RefContained: "contained", RefURN: "urn", 0: "RefKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("RefKind(%d).String() = %q; want %q", k, got, want)
		}
	}
}
