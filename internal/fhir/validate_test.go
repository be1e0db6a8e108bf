package fhir

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// fixtureDir holds the VhDir IG's example resources, shared by the checkout.
var fixtureDir = filepath.Join("..", "ig", "examples") // the IG examples package ig embeds

func fixtures(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if err != nil || len(files) == 0 {
		tb.Skipf("no IG fixtures in %s (they come with the shared checkout)", fixtureDir)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func TestValidateFixtures(t *testing.T) {
	for name, body := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // Validate shares its shapes and pool between goroutines
			res, err := ParseResource(body)
			if err != nil {
				t.Fatalf("ParseResource(%s) = %v; want no error", name, err)
			}
			if res.Type == "" || res.ID == "" || res.Obj == nil {
				t.Errorf("ParseResource(%s) = %+v; want type, id and object", name, res)
			}
			if issues := Validate(res.Obj); issues != nil {
				t.Errorf("Validate(%s) issues = %v; want none", name, issues)
			}
		})
	}
}

// pr wraps members in a Practitioner.
func pr(members string) string { return `{"resourceType":"Practitioner",` + members + `}` }

// org wraps members in an Organization.
func org(members string) string { return `{"resourceType":"Organization",` + members + `}` }

const restrictExt = `"extension":[{"url":"http://hl7.org/fhir/uv/vhdir/StructureDefinition/usage-restriction","valueReference":{"reference":"#c1"}}]`

func TestParseResourceInvalid(t *testing.T) {
	tests := []struct {
		name string
		body string
		code string
		path string
		diag string // a part of the diagnostics
	}{
		// Rule 1: a concrete resource type.
		{"no resourceType", `{"id":"a"}`, IssueRequired, "resourceType", "missing resourceType"},
		{"unknown resourceType", `{"resourceType":"Foo"}`, IssueStructure, "resourceType", `"Foo"`},
		{"abstract resourceType", `{"resourceType":"DomainResource"}`, IssueStructure, "resourceType", "not an R4 resource type"},
		{"resourceType not string", `{"resourceType":7}`, IssueStructure, "resourceType", "must be a string"},

		// Rule 2: known members only, one per choice.
		{"unknown member", pr(`"foo":1`), IssueStructure, "Practitioner", `unknown element "foo"`},
		{"unknown nested member", pr(`"name":[{"family":"W","nick":"G"}]`), IssueStructure, "Practitioner.name[0]", `unknown element "nick"`},
		{"underscore on complex", pr(`"_name":[{"id":"a"}]`), IssueStructure, "Practitioner", `unknown element "_name"`},
		{"resourceType in data type", pr(`"name":[{"resourceType":"HumanName","family":"W"}]`), IssueStructure, "Practitioner.name[0]", `"resourceType"`},
		{"unknown in backbone", pr(`"qualification":[{"code":{"text":"MD"},"grade":"A"}]`), IssueStructure, "Practitioner.qualification[0]", `"grade"`},
		{"two choice types", pr(`"extension":[{"url":"http://x.org/e","valueString":"a","valueCode":"b"}]`), IssueStructure, "Practitioner.extension[0]", "more than one value"},
		{"choice type not allowed", pr(`"extension":[{"url":"http://x.org/e","valueFoo":"a","valueBoolean":true}]`), IssueStructure, "Practitioner.extension[0]", `"valueFoo"`},
		{"bare choice name", pr(`"extension":[{"url":"http://x.org/e","value":"a","valueBoolean":true}]`), IssueStructure, "Practitioner.extension[0]", `"value"`},

		// Rule 3: arrays, nulls, empties.
		{"repeating as object", pr(`"name":{"family":"W"}`), IssueStructure, "Practitioner.name", "must be a non-empty array"},
		{"single complex as array", pr(`"text":[{"status":"generated","div":"<div>x</div>"}]`), IssueStructure, "Practitioner.text", "must not be an array"},
		{"single primitive as array", pr(`"active":[true]`), IssueStructure, "Practitioner.active", "must not be an array"},
		{"repeating primitive as string", pr(`"name":[{"given":"George"}]`), IssueStructure, "Practitioner.name[0].given", "must be a non-empty array"},
		{"empty array", pr(`"name":[]`), IssueStructure, "Practitioner.name", "non-empty array"},
		{"empty primitive array", pr(`"name":[{"given":[]}]`), IssueStructure, "Practitioner.name[0].given", "non-empty array"},
		{"empty object", pr(`"name":[{}]`), IssueStructure, "Practitioner.name[0]", "empty object"},
		{"only id", pr(`"name":[{"id":"n1"}]`), IssueInvariant, "Practitioner.name[0]", "ele-1"},
		{"null single", pr(`"active":null`), IssueStructure, "Practitioner.active", "null"},
		{"null in complex array", pr(`"name":[null]`), IssueStructure, "Practitioner.name[0]", "got null"},
		{"null in primitive array", pr(`"name":[{"given":["a",null]}]`), IssueStructure, "Practitioner.name[0].given[1]", "null entry"},
		{"both null", pr(`"name":[{"given":["a",null],"_given":[null,null]}]`), IssueStructure, "Practitioner.name[0].given[1]", "null entry"},
		{"lengths differ", pr(`"name":[{"given":["a","b"],"_given":[{"id":"x"}]}]`), IssueStructure, "Practitioner.name[0].given", "same length"},
		{"underscore null alone", pr(`"name":[{"_given":[null]}]`), IssueStructure, "Practitioner.name[0].given[0]", "null entry"},

		// Rule 4: primitives.
		{"boolean as string", pr(`"active":"true"`), IssueValue, "Practitioner.active", "expected boolean"},
		{"boolean as number", pr(`"active":1`), IssueValue, "Practitioner.active", "expected boolean"},
		{"date as number", pr(`"birthDate":1970`), IssueValue, "Practitioner.birthDate", "expected date"},
		{"string as number", pr(`"name":[{"given":["a",1]}]`), IssueValue, "Practitioner.name[0].given[1]", "expected string"},
		{"string as object", pr(`"name":[{"family":{"v":"W"}}]`), IssueValue, "Practitioner.name[0].family", "got an object"},
		{"decimal as string", pr(`"extension":[{"url":"http://x.org/e","valueDecimal":"1.5"}]`), IssueValue, "Practitioner.extension[0].value.ofType(decimal)", "expected decimal"},
		{"integer with fraction", pr(`"extension":[{"url":"http://x.org/e","valueInteger":1.0}]`), IssueValue, "Practitioner.extension[0].value.ofType(integer)", "invalid integer"},
		{"integer with exponent", pr(`"extension":[{"url":"http://x.org/e","valueInteger":1e3}]`), IssueValue, "Practitioner.extension[0].value.ofType(integer)", "invalid integer"},
		{"integer over int32", pr(`"extension":[{"url":"http://x.org/e","valueInteger":2147483648}]`), IssueValue, "Practitioner.extension[0].value.ofType(integer)", "invalid integer"},
		{"positiveInt zero", pr(`"telecom":[{"system":"phone","value":"1","rank":0}]`), IssueValue, "Practitioner.telecom[0].rank", "invalid positiveInt"},
		{"unsignedInt negative", pr(`"extension":[{"url":"http://x.org/e","valueUnsignedInt":-1}]`), IssueValue, "Practitioner.extension[0].value.ofType(unsignedInt)", "invalid unsignedInt"},
		{"date not in calendar", pr(`"birthDate":"2019-02-30"`), IssueValue, "Practitioner.birthDate", "invalid date"},
		{"date in choice", pr(`"extension":[{"url":"http://x.org/e","valueDate":"2019-02-29"}]`), IssueValue, "Practitioner.extension[0].value.ofType(date)", "invalid date"},
		{"dateTime bad month", pr(`"identifier":[{"value":"1","period":{"start":"2019-13-01"}}]`), IssueValue, "Practitioner.identifier[0].period.start", "invalid dateTime"},
		{"dateTime without zone", pr(`"identifier":[{"value":"1","period":{"start":"2019-01-01T10:00:00"}}]`), IssueValue, "Practitioner.identifier[0].period.start", "invalid dateTime"},
		{"instant without time", pr(`"meta":{"lastUpdated":"2019-01-01"}`), IssueValue, "Practitioner.meta.lastUpdated", "invalid instant"},
		{"empty string", pr(`"name":[{"family":""}]`), IssueValue, "Practitioner.name[0].family", "empty string"},
		{"NUL in a string", pr(`"name":[{"family":"a\u0000b"}]`), IssueValue, "Practitioner.name[0].family", "NUL"},
		{"NUL in a uri", pr(`"meta":{"source":"http://a\u0000"}`), IssueValue, "Practitioner.meta.source", "NUL"},
		{"string too long", pr(`"name":[{"family":"` + strings.Repeat("a", maxString+1) + `"}]`), IssueValue, "Practitioner.name[0].family", "longer than"},
		{"code with double space", pr(`"gender":"ma  le"`), IssueValue, "Practitioner.gender", "invalid code"},
		{"code with leading space", pr(`"gender":" male"`), IssueValue, "Practitioner.gender", "invalid code"},
		{"uri with space", pr(`"meta":{"source":"http://a b"}`), IssueValue, "Practitioner.meta.source", "invalid uri"},
		{"id type", pr(`"meta":{"versionId":"1_2"}`), IssueValue, "Practitioner.meta.versionId", "invalid id"},
		{"uuid upper case", pr(`"extension":[{"url":"http://x.org/e","valueUuid":"urn:uuid:A0000000-0000-0000-0000-000000000000"}]`), IssueValue, "Practitioner.extension[0].value.ofType(uuid)", "invalid uuid"},
		{"base64 broken", pr(`"photo":[{"data":"abc"}]`), IssueValue, "Practitioner.photo[0].data", "invalid base64Binary"},
		{"time bad", pr(`"extension":[{"url":"http://x.org/e","valueTime":"25:00:00"}]`), IssueValue, "Practitioner.extension[0].value.ofType(time)", "invalid time"},
		{"underscore unknown member", pr(`"birthDate":"1970-01-01","_birthDate":{"foo":1}`), IssueStructure, "Practitioner.birthDate", `unknown element "foo"`},
		{"underscore id not string", pr(`"birthDate":"1970-01-01","_birthDate":{"id":1}`), IssueValue, "Practitioner.birthDate.id", "expected string"},
		{"underscore not object", pr(`"birthDate":"1970-01-01","_birthDate":"x"`), IssueStructure, "Practitioner.birthDate", "expected an object"},
		{"underscore array entry bad", pr(`"name":[{"given":["a","b"],"_given":[null,{"foo":1}]}]`), IssueStructure, "Practitioner.name[0].given[1]", `unknown element "foo"`},
		{"underscore without value or extension", pr(`"_birthDate":{"id":"b"}`), IssueInvariant, "Practitioner.birthDate", "ele-1"},
		{"div not a div", pr(`"text":{"status":"generated","div":"<p>x</p>"}`), IssueValue, "Practitioner.text.div", "<div>"},
		{"div prefix only", pr(`"text":{"status":"generated","div":"<divx>a</divx></div>"}`), IssueValue, "Practitioner.text.div", "<div>"},
		{"div with script", pr(`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><SCRIPT>alert(1)</SCRIPT></div>"}`), IssueValue, "Practitioner.text.div", "<script"},
		{"div with iframe", pr(`"text":{"status":"generated","div":"<div><iframe src=\"x\"/></div>"}`), IssueValue, "Practitioner.text.div", "<iframe"},
		{"div with event attribute", pr(`"text":{"status":"generated","div":"<div><img src=\"x\" onError = \"alert(1)\"/></div>"}`), IssueValue, "Practitioner.text.div", "event attribute"},
		{"div with javascript url", pr(`"text":{"status":"generated","div":"<div><a href=\"JavaScript:alert(1)\">x</a></div>"}`), IssueValue, "Practitioner.text.div", "javascript:"},
		{"div as number", pr(`"text":{"status":"generated","div":1}`), IssueValue, "Practitioner.text.div", "expected xhtml"},

		// Rule 5: required elements.
		{"backbone missing required", pr(`"qualification":[{"identifier":[{"value":"1"}]}]`), IssueRequired, "Practitioner.qualification[0]", `"code"`},
		{"narrative missing status", pr(`"text":{"div":"<div>x</div>"}`), IssueRequired, "Practitioner.text", `"status"`},
		{"extension missing url", pr(`"extension":[{"valueString":"a"}]`), IssueRequired, "Practitioner.extension[0]", `"url"`},
		{"required choice missing", `{"resourceType":"Organization","name":"O","extension":[{"url":"http://x.org/e","valueUsageContext":{"code":{"code":"c"}}}]}`, IssueRequired, "Organization.extension[0].value.ofType(UsageContext)", `"value[x]"`},
		{"bundle missing type", `{"resourceType":"Bundle"}`, IssueRequired, "Bundle", `"type"`},

		// Rule 6: ids and contained resources.
		{"bad root id", pr(`"id":"a_b"`), IssueValue, "Practitioner.id", "invalid id"},
		{"root id too long", pr(`"id":"` + strings.Repeat("a", 65) + `"`), IssueValue, "Practitioner.id", "invalid id"},
		{"root id empty", pr(`"id":""`), IssueValue, "Practitioner.id", "empty"},
		{"contained bad id", org(`"contained":[{"resourceType":"Location","id":"c_1"}]`), IssueValue, "Organization.contained[0].id", "invalid id"},
		{"contained without id", org(`"contained":[{"resourceType":"Location","name":"L"}]`), IssueRequired, "Organization.contained[0]", "must have an id"},
		{"contained without type", org(restrictExt + `,"contained":[{"id":"c1"}]`), IssueRequired, "Organization.contained[0]", "missing resourceType"},
		{"contained unknown type", org(restrictExt + `,"contained":[{"resourceType":"Nope","id":"c1"}]`), IssueStructure, "Organization.contained[0]", `"Nope"`},
		{"contained not object", org(`"contained":["x"]`), IssueStructure, "Organization.contained[0]", "expected an object"},
		{"dom-2", org(restrictExt + `,"contained":[{"resourceType":"Location","id":"c1","contained":[{"resourceType":"Location","id":"c2"}]}]`), IssueInvariant, "Organization.contained[0].contained", "dom-2"},
		{"dom-3", org(`"contained":[{"resourceType":"Location","id":"c1","name":"L"}]`), IssueInvariant, "Organization.contained[0]", "dom-3"},
		{"dom-4 versionId", org(restrictExt + `,"contained":[{"resourceType":"Location","id":"c1","meta":{"versionId":"1"}}]`), IssueInvariant, "Organization.contained[0].meta.versionId", "dom-4"},
		{"dom-4 lastUpdated", org(restrictExt + `,"contained":[{"resourceType":"Location","id":"c1","meta":{"lastUpdated":"2019-01-01T00:00:00Z"}}]`), IssueInvariant, "Organization.contained[0].meta.lastUpdated", "dom-4"},
		{"dom-5", org(restrictExt + `,"contained":[{"resourceType":"Location","id":"c1","text":{"status":"generated","div":"<div>x</div>"}}]`), IssueInvariant, "Organization.contained[0].text", "dom-5"},
		{"duplicate among many contained", org(manyContained(20, map[int]string{17: "c3"})), IssueInvariant, "Organization.contained[17].id", `"c3" is not unique`},
		{"unreferenced among many contained", org(manyContained(20, map[int]string{19: "x"})), IssueInvariant, "Organization.contained[19]", `dom-3: contained resource "x"`},
		{"duplicate contained id", org(restrictExt + `,"contained":[{"resourceType":"Location","id":"c1"},{"resourceType":"Location","id":"c1"}]`), IssueInvariant, "Organization.contained[1].id", "not unique"},
		{"error inside contained", org(restrictExt + `,"contained":[{"resourceType":"Location","id":"c1","status":"open","mode":1}]`), IssueValue, "Organization.contained[0].mode", "expected code"},
		{"dom-3 after nested scopes", org(restrictExt + `,"contained":[{"resourceType":"Bundle","id":"c1","type":"collection","entry":[` +
			`{"resource":{"resourceType":"Organization","id":"o1",` + restrictExt + `,"contained":[{"resourceType":"Location","id":"c1"}]}}]},` +
			`{"resourceType":"Location","id":"c2"}]`), IssueInvariant, "Organization.contained[1]", `dom-3: contained resource "c2"`},
		{"container reference outside contained", org(`"contained":[{"resourceType":"Bundle","id":"c1","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"p1"}}]}],` +
			`"extension":[{"url":"http://x.org/e","valueReference":{"reference":"#"}}]`), IssueInvariant, "Organization.contained[0]", `dom-3: contained resource "c1"`},
		{"error inside bundle entry", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","active":"yes"}}]}`, IssueValue, "Bundle.entry[0].resource.active", "expected boolean"},
		{"bundle entry id", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"a/b"}}]}`, IssueValue, "Bundle.entry[0].resource.id", "invalid id"},
		{"bundle entry without type", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"id":"a"}}]}`, IssueRequired, "Bundle.entry[0].resource", "missing resourceType"},

		// Rule 7: extensions.
		{"relative extension url", pr(`"extension":[{"url":"accepting","valueBoolean":true}]`), IssueValue, "Practitioner.extension[0].url", "absolute"},
		{"scheme-only extension url", pr(`"extension":[{"url":"http:","valueBoolean":true}]`), IssueValue, "Practitioner.extension[0].url", "absolute"},
		{"relative modifierExtension url", pr(`"modifierExtension":[{"url":"x","valueBoolean":true}]`), IssueValue, "Practitioner.modifierExtension[0].url", "absolute"},
		{"relative url on primitive extension", pr(`"birthDate":"1970-01-01","_birthDate":{"extension":[{"url":"x","valueBoolean":true}]}`), IssueValue, "Practitioner.birthDate.extension[0].url", "absolute"},
		{"extension url with space", pr(`"extension":[{"url":"http://x.org/a b","valueBoolean":true}]`), IssueValue, "Practitioner.extension[0].url", "invalid uri"},
		{"extension url empty", pr(`"extension":[{"url":"","valueBoolean":true}]`), IssueValue, "Practitioner.extension[0].url", "empty"},
		{"ext-1 both", pr(`"extension":[{"url":"http://x.org/e","valueBoolean":true,"extension":[{"url":"a","valueBoolean":true}]}]`), IssueInvariant, "Practitioner.extension[0]", "ext-1"},
		{"ext-1 neither", pr(`"extension":[{"url":"http://x.org/e"}]`), IssueInvariant, "Practitioner.extension[0]", "ext-1"},
		{"ext-1 nested", pr(`"extension":[{"url":"http://x.org/e","extension":[{"url":"a","id":"x"}]}]`), IssueInvariant, "Practitioner.extension[0].extension[0]", "ext-1"},

		// Rule 8: references.
		{"reference no id", pr(`"qualification":[{"code":{"text":"MD"},"issuer":{"reference":"Organization/"}}]`), IssueValue, "Practitioner.qualification[0].issuer.reference", "has no id"},
		{"reference unknown type", pr(`"identifier":[{"assigner":{"reference":"Foo/1"}}]`), IssueValue, "Practitioner.identifier[0].assigner.reference", `"Foo"`},
		{"reference bad id", pr(`"identifier":[{"assigner":{"reference":"Organization/a b"}}]`), IssueValue, "Practitioner.identifier[0].assigner.reference", "whitespace"},
		{"reference no slash", pr(`"identifier":[{"assigner":{"reference":"abc"}}]`), IssueValue, "Practitioner.identifier[0].assigner.reference", "not a reference"},
		{"reference bad uuid", pr(`"identifier":[{"assigner":{"reference":"urn:uuid:1234"}}]`), IssueValue, "Practitioner.identifier[0].assigner.reference", "urn:uuid"},
		{"reference bad oid", pr(`"identifier":[{"assigner":{"reference":"urn:oid:3.1"}}]`), IssueValue, "Practitioner.identifier[0].assigner.reference", "urn:oid"},
		{"ref-1", pr(`"identifier":[{"assigner":{"reference":"#org1"}}]`), IssueInvariant, "Practitioner.identifier[0].assigner.reference", "ref-1"},
		{"wrong target", pr(`"qualification":[{"code":{"text":"MD"},"issuer":{"reference":"Patient/1"}}]`), IssueValue, "Practitioner.qualification[0].issuer.reference", "Patient"},
		{"wrong absolute target", pr(`"qualification":[{"code":{"text":"MD"},"issuer":{"reference":"https://other.example/fhir/Patient/1/_history/2"}}]`), IssueValue, "Practitioner.qualification[0].issuer.reference", "Patient"},
		{"reference as number", pr(`"identifier":[{"assigner":{"reference":1}}]`), IssueValue, "Practitioner.identifier[0].assigner.reference", "expected string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResource([]byte(tt.body))
			fe := asError(t, err)
			want := Issue{Severity: SeverityError, Code: tt.code, Expression: []string{tt.path}}
			if len(fe.Issues) != 1 || !sameIssue(fe.Issues[0], want) || !strings.Contains(fe.Issues[0].Diagnostics, tt.diag) {
				t.Errorf("ParseResource(%s) issues = %v; want one %s issue at %s saying %q", short(tt.body), fe.Issues, tt.code, tt.path, tt.diag)
			}
		})
	}
}

// manyContained returns Organization members with n contained Locations
// with ids c0, c1, …, each referenced from an extension, except those whose
// id ids replaces, which are not referenced.
func manyContained(n int, ids map[int]string) string {
	var ext, con []string
	for i := range n {
		id, replaced := ids[i]
		if !replaced {
			id = fmt.Sprintf("c%d", i)
			ext = append(ext, fmt.Sprintf(`{"url":"http://x.org/e","valueReference":{"reference":"#%s"}}`, id))
		}
		con = append(con, fmt.Sprintf(`{"resourceType":"Location","id":"%s"}`, id))
	}
	return `"extension":[` + strings.Join(ext, ",") + `],"contained":[` + strings.Join(con, ",") + `]`
}

// asError asserts that err is an *Error with status 400.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var fe *Error
	if !errors.As(err, &fe) || fe.Status != http.StatusBadRequest {
		t.Fatalf("error = %v (%T); want *Error with status 400", err, err)
	}
	return fe
}

func sameIssue(got, want Issue) bool {
	return got.Severity == want.Severity && got.Code == want.Code && slices.Equal(got.Expression, want.Expression)
}

func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func TestParseResourceValid(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"minimal", `{"resourceType":"Practitioner"}`},
		{"primitive array with extension in place of a value", pr(`"name":[{"given":["a",null],"_given":[null,{"extension":[{"url":"http://x.org/e","valueBoolean":true}]}]}]`)},
		{"primitive array extension only", pr(`"name":[{"_given":[{"extension":[{"url":"http://x.org/e","valueBoolean":true}]}]}]`)},
		{"id on primitive with value", pr(`"birthDate":"1970-01-01","_birthDate":{"id":"b"}`)},
		{"required met by underscore", pr(`"text":{"_status":{"extension":[{"url":"http://x.org/e","valueCode":"x"}]},"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"a\" title=\"x onclick=y\">once on=upon</p></div>"}`)},
		{"nested extension with simple url", pr(`"extension":[{"url":"http://x.org/e","extension":[{"url":"acceptingPatients","valueBoolean":true}]}]`)},
		{"urn extension url", pr(`"extension":[{"url":"urn:oid:1.2.3","valueBoolean":true}]`)},
		{"leap day", pr(`"birthDate":"2020-02-29"`)},
		{"partial dates", pr(`"birthDate":"1970","identifier":[{"period":{"start":"1970-01","end":"2019-01-01T10:00:00.123+14:00"}}]`)},
		{"integer limits", pr(`"extension":[{"url":"http://x.org/a","valueInteger":-2147483648},{"url":"http://x.org/b","valueInteger":-0}]`)},
		{"decimal forms", pr(`"extension":[{"url":"http://x.org/a","valueDecimal":1.50},{"url":"http://x.org/b","valueDecimal":-1e-3}]`)},
		{"contained referenced", org(restrictExt + `,"contained":[{"resourceType":"Location","id":"c1"}]`)},
		{"contained refers to container", org(`"contained":[{"resourceType":"Location","id":"c1","managingOrganization":{"reference":"#"}}]`)},
		{"contained referenced by uri", org(`"extension":[{"url":"http://x.org/e","valueUri":"#c1"}],"contained":[{"resourceType":"Location","id":"c1"}]`)},
		{"contained referencing another", org(restrictExt + `,"contained":[{"resourceType":"Location","id":"c1","partOf":{"reference":"#c2"}},{"resourceType":"Location","id":"c2"}]`)},
		{"contained bundle with nested scopes", org(restrictExt + `,"contained":[{"resourceType":"Bundle","id":"c1","type":"collection","entry":[` +
			`{"resource":{"resourceType":"Organization","id":"o1",` + restrictExt + `,"contained":[{"resourceType":"Location","id":"c1"}]}},` +
			`{"resource":{"resourceType":"Organization","id":"o2",` + restrictExt + `,"contained":[{"resourceType":"Location","id":"c1"}]}}]},` +
			`{"resourceType":"Location","id":"c2","partOf":{"reference":"#"}}]`)},
		{"reference forms", pr(`"identifier":[` +
			`{"assigner":{"reference":"Organization/o1/_history/2"}},` +
			`{"assigner":{"reference":"https://other.example/fhir/Organization/o1"}},` +
			`{"assigner":{"reference":"https://other.example/some/thing?x=1"}},` +
			`{"assigner":{"reference":"urn:uuid:0e4f2c1a-3b5d-4c6e-8f90-1a2b3c4d5e6f"}},` +
			`{"assigner":{"reference":"urn:oid:2.16.840.1.113883"}}]`)},
		{"any target via extension", pr(`"extension":[{"url":"http://x.org/e","valueReference":{"reference":"Patient/1"}}]`)},
		{"bundle of resources", `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:0e4f2c1a-3b5d-4c6e-8f90-1a2b3c4d5e6f","resource":{"resourceType":"Patient","id":"p1"}},{"resource":{"resourceType":"Organization","id":"o1",` + restrictExt + `,"contained":[{"resourceType":"Location","id":"c1"}]}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseResource([]byte(tt.body)); err != nil {
				t.Errorf("ParseResource(%s) = %v; want no error", short(tt.body), err)
			}
		})
	}
}

func TestParseResourceSyntax(t *testing.T) {
	tests := []struct {
		name string
		body string
		diag string
	}{
		{"truncated", "{\n  \"resourceType\": \"Practitioner\",\n  \"active\": tru", "line 3 column 13"},
		{"duplicate member", `{"resourceType":"Practitioner","active":true,"active":false}`, "line 1"},
		{"not an object", `["resourceType"]`, "expected a JSON object"},
		{"trailing data", `{"resourceType":"Practitioner"} x`, "line 1 column 33"},
		{"empty", ``, "unexpected end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResource([]byte(tt.body))
			fe := asError(t, err)
			if len(fe.Issues) != 1 || fe.Issues[0].Code != IssueStructure || !strings.Contains(fe.Issues[0].Diagnostics, tt.diag) {
				t.Errorf("ParseResource(%q) issues = %v; want one structure issue saying %q", tt.body, fe.Issues, tt.diag)
			}
		})
	}
}

func TestValidateIssueCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Practitioner"`)
	for i := range 150 {
		b.WriteString(`,"x` + strings.Repeat("y", i) + `":1`)
	}
	b.WriteString("}")
	obj, err := jsontree.ParseObject([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	issues := Validate(obj)
	if len(issues) != maxIssues+1 {
		t.Fatalf("Validate(150 unknown members) = %d issues; want %d", len(issues), maxIssues+1)
	}
	if last := issues[maxIssues]; last.Severity != SeverityInformation || !strings.Contains(last.Diagnostics, "suppressed") {
		t.Errorf("Validate(150 unknown members) last issue = %v; want an information issue saying more were suppressed", last)
	}
	if got := issues[maxIssues-1]; got.Severity != SeverityError {
		t.Errorf("Validate(150 unknown members) issue %d = %v; want an error", maxIssues-1, got)
	}
}

func TestValidateExactlyAtCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Practitioner"`)
	for i := range maxIssues {
		b.WriteString(`,"x` + strings.Repeat("y", i) + `":1`)
	}
	b.WriteString("}")
	obj, _ := jsontree.ParseObject([]byte(b.String()))
	if issues := Validate(obj); len(issues) != maxIssues || issues[maxIssues-1].Severity != SeverityError {
		t.Errorf("Validate(%d unknown members) = %d issues; want %d errors and no suppression note", maxIssues, len(issues), maxIssues)
	}
}

// TestLexicalMatchesPattern holds the hand-written primitive checks to the
// R4 regexes they replace.
func TestLexicalMatchesPattern(t *testing.T) {
	inputs := []string{
		"", " ", "a", "a b", "a  b", " a", "a ", "a\tb", "a\nb", "a\fb", "a\vb", "a\u00a0b", "é", "\r",
		"0", "-0", "00", "01", "1", "-1", "+1", "1.0", "1e3", "2147483647", "2147483648", "-2147483648",
		"-2147483649", "99999999999999999999", "-", "--1", "12a",
		"abc-1.2", "abc_1", strings.Repeat("a", 64), strings.Repeat("a", 65),
		"http://x.org/a", "http://x.org/a b", "urn:oid:1.2", "#c1",
		"2019", "2019-02", "2019-02-28", "2019-02-30", "2020-02-29", "1900-02-29", "2000-02-29", "2019-04-31",
		"2019-01-01T10:00:00Z", "2019-01-01T10:00:00", "2019-01-01T24:00:00Z", "2019-12-31T23:59:60+14:00",
		"0000", "0100", "1000", "2019-01-01T10:00:00.5-05:30", "2019-01-01T10:00:00.123Z", "2019-01-01T10:00:00+13:59",
		"2019-01-01T10:00:00-14:01", "2019-01-01T10:00:00+14:00", "2019-01-01T10:00Z", "2019-01-01T10:00:00.Z",
	}
	checks := []struct {
		typ   string
		check func(string) bool
		extra func(string) bool // what the check adds to the regex
	}{
		{"integer", isInteger, fitsInt32},
		{"positiveInt", isPositiveInt, fitsInt32},
		{"unsignedInt", isUnsignedInt, fitsInt32},
		{"string", isString, nil},
		{"markdown", isString, nil},
		{"code", isCode, nil},
		{"id", ValidID, nil},
		{"uri", isURI, nil},
		{"url", isURI, nil},
		{"canonical", isURI, nil},
		{"date", temporalCheck(tDate), realDay},
		{"dateTime", temporalCheck(tDateTime), realDay},
		{"instant", temporalCheck(tInstant), realDay},
	}
	for _, c := range checks {
		re := r4.Lookup(c.typ).Pattern
		for _, in := range mutations(inputs) {
			want := re.MatchString(in) && (c.extra == nil || c.extra(in))
			if got := c.check(in); got != want {
				t.Errorf("%s check(%q) = %v; want %v (regex %s)", c.typ, in, got, want, re)
			}
		}
	}
	for _, day := range []string{"2019-02-30", "1900-02-29", "2019-04-31"} {
		if realDay(day) {
			t.Errorf("realDay(%q) = true; want false", day)
		}
	}
}

// TestDecimalIsJSONNumber holds up the decimal type's missing lexical check:
// a JSON number lexeme, as jsontree accepts it, is exactly a decimal.
func TestDecimalIsJSONNumber(t *testing.T) {
	re := r4.Lookup("decimal").Pattern
	for _, in := range mutations([]string{"0", "-0", "10", "1.50", "-1e-3", "2E+10", "0.0e0"}) {
		v, err := jsontree.Parse([]byte(in))
		n, isNum := v.(jsontree.Number)
		if want := re.MatchString(in); want != (err == nil && isNum && string(n) == in) {
			if err == nil && isNum && re.MatchString(string(n)) {
				continue // surrounding whitespace, trimmed from the lexeme
			}
			t.Errorf("jsontree.Parse(%q) = %#v, %v; decimal regex match = %v", in, v, err, want)
		}
	}
}

// mutations returns seeds plus every variant of each with one byte replaced
// by, inserted as or removed for a byte that matters to some primitive's
// grammar, so that the checks meet their regexes at every boundary.
func mutations(seeds []string) []string {
	const alphabet = "0123569-:.TZ+ \t\fa_#"
	out := slices.Clone(seeds)
	for _, s := range seeds {
		for i := range len(s) + 1 {
			if i < len(s) {
				out = append(out, s[:i]+s[i+1:])
			}
			for _, c := range []byte(alphabet) {
				out = append(out, s[:i]+string(c)+s[i:])
				if i < len(s) {
					out = append(out, s[:i]+string(c)+s[i+1:])
				}
			}
		}
	}
	return out
}

// TestShapesRequiredFit checks that every shape's required elements fit the
// 64-bit mask the validator tracks them in.
func TestShapesRequiredFit(t *testing.T) {
	shapesOnce.Do(buildShapes)
	all := []*shape{}
	for _, s := range typeShapes {
		all = append(all, s)
	}
	for _, s := range elemShapes {
		all = append(all, s)
	}
	for _, s := range all {
		elems := map[*r4.Element]bool{}
		for _, m := range s.members {
			if m.elem.Min > 0 {
				elems[m.elem] = true
			}
		}
		if len(elems) != len(s.required) {
			t.Errorf("shape %s tracks %d required elements; want %d", s.name, len(s.required), len(elems))
		}
	}
}

func FuzzParseResource(f *testing.F) {
	for _, body := range fixtures(f) {
		f.Add(body)
	}
	f.Add([]byte(pr(`"name":[{"given":["a",null],"_given":[null,{"id":"x"}]}]`)))
	f.Add([]byte(org(restrictExt + `,"contained":[{"resourceType":"Location","id":"c1","partOf":{"reference":"#"}}]`)))
	f.Add([]byte(pr(`"text":{"status":"generated","div":"<div><a onclick='x'>y</a></div>"}`)))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := ParseResource(body)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || fe.Status != http.StatusBadRequest || len(fe.Issues) == 0 || len(fe.Issues) > maxIssues+1 {
				t.Fatalf("ParseResource error = %#v; want *Error 400 with 1 to %d issues", err, maxIssues+1)
			}
			return
		}
		again, err := jsontree.ParseObject(jsontree.Marshal(res.Obj))
		if err != nil {
			t.Fatalf("re-parse of accepted resource: %v", err)
		}
		if issues := Validate(again); issues != nil {
			t.Fatalf("Validate(re-encoded) issues = %v; want none", issues)
		}
	})
}

func BenchmarkParseResource(b *testing.B) {
	files := fixtures(b)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		body := files[name]
		b.Run(strings.TrimSuffix(name, ".json"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := ParseResource(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidateManyContained guards against quadratic contained-resource
// checks: 5,000 contained resources, each referenced.
func BenchmarkValidateManyContained(b *testing.B) {
	obj, err := jsontree.ParseObject([]byte(org(manyContained(5000, nil))))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if issues := Validate(obj); issues != nil {
			b.Fatal(issues)
		}
	}
}
