package fhirpath

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// testPractitioner reaches every navigation case: choice values, primitive
// arrays with companions, primitives with only an extension, contained
// resources and every kind of reference resolve() meets.
const testPractitioner = `{
  "resourceType": "Practitioner",
  "id": "p1",
  "meta": {"lastUpdated": "2024-01-02T03:04:05Z", "profile": ["http://x/p1", "http://x/p2"]},
  "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
  "contained": [
    {"resourceType": "Organization", "id": "o1", "name": "Inside"},
    {"resourceType": "Location", "id": "l1"},
    {"resourceType": "NotAType", "id": "bad"}
  ],
  "extension": [
    {"url": "http://x/ref", "valueReference": {"reference": "#o1"}},
    {"url": "http://x/ref", "valueReference": {"reference": "Organization/o2"}},
    {"url": "http://x/ref", "valueReference": {"reference": "https://h.example/fhir/Location/l9/_history/3"}},
    {"url": "http://x/ref", "valueReference": {"reference": "urn:uuid:0f6e7e7a-0000-4000-8000-000000000001"}},
    {"url": "http://x/ref", "valueReference": {"reference": "#missing"}},
    {"url": "http://x/ref", "valueReference": {"reference": "#"}},
    {"url": "http://x/ref", "valueReference": {"display": "no reference"}},
    {"url": "http://x/dec", "valueDecimal": 1.50},
    {"url": "http://x/age", "valueAge": {"value": 42, "unit": "a"}},
    {"url": "http://x/str", "_valueString": {"extension": [{"url": "http://x/why", "valueCode": "masked"}]}},
    {"url": "http://x/nested", "extension": [
      {"url": "a", "valueCodeableConcept": {"text": "A"}},
      {"url": "a", "valueReference": {"reference": "Location/l2"}},
      {"url": "b", "valueBoolean": false}
    ]}
  ],
  "identifier": [{"system": "http://x/ids", "value": "1"}, {"system": "http://x/ids", "value": "2"}],
  "active": true,
  "name": [
    {"family": "Smith", "given": ["Ann", null, "Bo"], "_given": [null, {"extension": [{"url": "http://x/q", "valueCode": "CL"}]}, {"id": "g3"}]},
    {"_family": {"extension": [{"url": "http://x/why", "valueCode": "unknown"}]}, "given": ["Ann"]}
  ],
  "telecom": [
    {"system": "phone", "value": "1"},
    {"system": "email", "value": "a@x"},
    {"system": "email", "value": "b@x"}
  ],
  "gender": "female",
  "qualification": [{"code": {"text": "MD"}, "issuer": {"reference": "Organization/o3"}}]
}`

// render writes nodes as Type=JSON, with +JSON for a primitive's companion.
func render(nodes []Node) []string {
	out := []string{}
	for _, n := range nodes {
		s := n.Type + "=" + string(jsontree.Marshal(n.Value))
		if n.Ext != nil {
			s += "+" + string(jsontree.Marshal(n.Ext))
		}
		out = append(out, s)
	}
	return out
}

func mustParse(t testing.TB, s string) *jsontree.Object {
	t.Helper()
	o, err := jsontree.ParseObject([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

type evalTest struct {
	name string
	src  string
	want []string
}

func runEvalTests(t *testing.T, res *jsontree.Object, tests []evalTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile(tt.src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.src, err)
			}
			nodes, err := e.Evaluate(res)
			if err != nil {
				t.Fatalf("Evaluate(%q): %v", tt.src, err)
			}
			if got := render(nodes); !slices.Equal(got, tt.want) {
				t.Errorf("Evaluate(%q) =\n  %s\nwant\n  %s", tt.src, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestNavigation(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"type filter", "Practitioner.gender", []string{`code="female"`}},
		{"type filter base", "Resource.id", []string{`string="p1"`}},
		{"type filter domain base", "DomainResource.text.status", []string{`code="generated"`}},
		{"type filter other type", "Patient.gender", []string{}},
		{"no type filter", "gender", []string{`code="female"`}},
		{"flatten arrays", "Practitioner.identifier.value", []string{`string="1"`, `string="2"`}},
		{"complex", "Practitioner.qualification.code", []string{`CodeableConcept={"text":"MD"}`}},
		{"backbone", "Practitioner.qualification.issuer", []string{`Reference={"reference":"Organization/o3"}`}},
		{"primitive array with companions", "Practitioner.name.given", []string{
			`string="Ann"`,
			`string=null+{"extension":[{"url":"http://x/q","valueCode":"CL"}]}`,
			`string="Bo"+{"id":"g3"}`,
			`string="Ann"`,
		}},
		{"primitive with only extension", "Practitioner.name.family", []string{
			`string="Smith"`,
			`string=null+{"extension":[{"url":"http://x/why","valueCode":"unknown"}]}`,
		}},
		{"primitive id member", "Practitioner.name.given.id", []string{`string="g3"`}},
		{"canonical array", "Resource.meta.profile", []string{`canonical="http://x/p1"`, `canonical="http://x/p2"`}},
		{"boolean", "Practitioner.active", []string{`boolean=true`}},
		{"choice", "Practitioner.extension('http://x/dec').value", []string{`decimal=1.50`}},
		{"choice complex subtype", "Practitioner.extension('http://x/age').value", []string{`Age={"value":42,"unit":"a"}`}},
		{"choice primitive with only extension", "Practitioner.extension('http://x/str').value", []string{
			`string=null+{"extension":[{"url":"http://x/why","valueCode":"masked"}]}`,
		}},
		{"choice by JSON name", "Practitioner.extension.valueDecimal", []string{`decimal=1.50`}},
		{"nested extensions", "Practitioner.extension('http://x/nested').extension('a').value", []string{
			`CodeableConcept={"text":"A"}`, `Reference={"reference":"Location/l2"}`,
		}},
		{"extension on primitive", "Practitioner.name.given.extension('http://x/q').value", []string{`code="CL"`}},
		{"extension url computed", "Practitioner.extension(%resource.extension.url.last()).extension('b').value", []string{`boolean=false`}},
		{"contained resources typed", "Practitioner.contained", []string{
			`Organization={"resourceType":"Organization","id":"o1","name":"Inside"}`,
			`Location={"resourceType":"Location","id":"l1"}`,
		}},
		{"contained member", "Practitioner.contained.name", []string{`string="Inside"`}},
		{"unknown member of known type", "Practitioner.qualification.family", []string{}},
		{"indexer", "Practitioner.telecom[1].value", []string{`string="a@x"`}},
		{"indexer out of range", "Practitioner.telecom[7]", []string{}},
		{"resource", "%resource.id | %context.id | %rootResource.id", []string{`string="p1"`}},
		{"this at root", "$this.gender", []string{`code="female"`}},
	})
}

func TestResolve(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"every kind", "Practitioner.extension('http://x/ref').value.resolve()", []string{
			`Organization={"resourceType":"Organization","id":"o1","name":"Inside"}`,
			`Organization={"reference":"Organization/o2"}`,
			`Location={"reference":"https://h.example/fhir/Location/l9/_history/3"}`,
			`Practitioner=` + string(jsontree.Marshal(res)),
		}},
		{"is", "Practitioner.extension('http://x/ref').value.where(resolve() is Organization).reference", []string{
			`string="#o1"`, `string="Organization/o2"`,
		}},
		{"is base type", "Practitioner.extension('http://x/ref').value.where(resolve() is DomainResource).count()", []string{`System.Integer=4`}},
		{"placeholder has no members", "Practitioner.extension('http://x/ref').value.resolve().reference", []string{}},
		{"contained has members", "Practitioner.extension('http://x/ref').value.resolve().ofType(Organization).name", []string{`string="Inside"`}},
		{"container has members", "Practitioner.extension('http://x/ref').value.where(reference = '#').resolve().gender", []string{`code="female"`}},
		{"ofType on resolved", "Practitioner.extension('http://x/ref').value.resolve().ofType(Location)", []string{
			`Location={"reference":"https://h.example/fhir/Location/l9/_history/3"}`,
		}},
		{"non-reference input", "Practitioner.name.resolve()", []string{}},
	})
}

func TestTypes(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"ofType", "Practitioner.extension.value.ofType(Reference).count()", []string{`System.Integer=7`}},
		{"ofType qualified", "Practitioner.extension.value.ofType(FHIR.decimal)", []string{`decimal=1.50`}},
		{"ofType subtype matches base", "Practitioner.extension.value.ofType(Quantity)", []string{`Age={"value":42,"unit":"a"}`}},
		{"ofType primitive base", "Practitioner.gender.ofType(string)", []string{`code="female"`}},
		{"ofType FHIR is not System", "Practitioner.gender.ofType(System.String)", []string{}},
		{"ofType System", "('a' | 1 | true).ofType(String)", []string{`System.String="a"`}},
		{"is operator", "Practitioner.gender is code", []string{`System.Boolean=true`}},
		{"is inherited", "Practitioner.gender is string", []string{`System.Boolean=true`}},
		{"is resource base", "$this is DomainResource", []string{`System.Boolean=true`}},
		{"is false", "Practitioner.gender is boolean", []string{`System.Boolean=false`}},
		{"is empty", "Practitioner.birthDate is date", []string{}},
		{"is function", "Practitioner.gender.is(code)", []string{`System.Boolean=true`}},
		{"is System literal", "1.5 is Decimal", []string{`System.Boolean=true`}},
		{"as operator", "(Practitioner.extension('http://x/dec').value as decimal)", []string{`decimal=1.50`}},
		{"as mismatch", "(Practitioner.extension('http://x/dec').value as string)", []string{}},
		{"as function", "Practitioner.extension('http://x/age').value.as(Quantity).value", []string{`decimal=42`}},
		{"as binds tighter than union", "Practitioner.gender | Practitioner.active as boolean", []string{`code="female"`, `boolean=true`}},
	})
}

func TestFunctions(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"where", "Practitioner.telecom.where(system = 'email').value", []string{`string="a@x"`, `string="b@x"`}},
		{"where $this", "Practitioner.identifier.value.where($this = '2')", []string{`string="2"`}},
		{"where $index", "Practitioner.identifier.where($index = 1).value", []string{`string="2"`}},
		{"where empty criteria drops", "Practitioner.telecom.where(use = 'work')", []string{}},
		{"where non-boolean single is true", "Practitioner.name.where(family).given.first()", []string{`string="Ann"`}},
		{"select", "Practitioner.name.select(given.first())", []string{`string="Ann"`, `string="Ann"`}},
		{"exists", "Practitioner.telecom.exists()", []string{`System.Boolean=true`}},
		{"exists criteria", "Practitioner.telecom.exists(system = 'fax')", []string{`System.Boolean=false`}},
		{"exists on empty", "Practitioner.photo.exists()", []string{`System.Boolean=false`}},
		{"empty", "Practitioner.photo.empty()", []string{`System.Boolean=true`}},
		{"first", "Practitioner.telecom.value.first()", []string{`string="1"`}},
		{"last", "Practitioner.telecom.value.last()", []string{`string="b@x"`}},
		{"tail", "Practitioner.telecom.value.tail()", []string{`string="a@x"`, `string="b@x"`}},
		{"first of empty", "Practitioner.photo.first()", []string{}},
		{"count", "Practitioner.name.given.count()", []string{`System.Integer=4`}},
		{"not", "Practitioner.active.not()", []string{`System.Boolean=false`}},
		{"not empty", "Practitioner.photo.not()", []string{}},
		{"hasValue", "Practitioner.name.family.first().hasValue() and Practitioner.name.family.last().hasValue().not()", []string{`System.Boolean=true`}},
		{"startsWith", "Practitioner.name.family.first().startsWith('Sm')", []string{`System.Boolean=true`}},
		{"endsWith", "Practitioner.name.family.first().endsWith('Sm')", []string{`System.Boolean=false`}},
		{"contains function", "Practitioner.name.family.first().contains('mit')", []string{`System.Boolean=true`}},
		{"string function on empty", "Practitioner.birthDate.startsWith('1')", []string{}},
		{"function as term", "exists()", []string{`System.Boolean=true`}},
	})
}

func TestOperators(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"union keeps order, drops same node", "Practitioner.gender | Practitioner.active | Practitioner.gender", []string{`code="female"`, `boolean=true`}},
		{"union keeps equal values of different nodes", "Practitioner.name.given", []string{`string="Ann"`, `string=null+{"extension":[{"url":"http://x/q","valueCode":"CL"}]}`, `string="Bo"+{"id":"g3"}`, `string="Ann"`}},
		{"union dedups within the left side", "Practitioner.name.given.first() | Practitioner.name.given.first()", []string{`string="Ann"`}},
		{"union of literals by value", "'a' | 'b' | 'a'", []string{`System.String="a"`, `System.String="b"`}},
		{"equal code and string", "Practitioner.gender = 'female'", []string{`System.Boolean=true`}},
		{"not equal", "Practitioner.gender != 'female'", []string{`System.Boolean=false`}},
		{"equal empty", "Practitioner.birthDate = '2000'", []string{}},
		{"equal collections", "Practitioner.identifier.value = ('1' | '2')", []string{`System.Boolean=true`}},
		{"equal different sizes", "Practitioner.identifier.value = '1'", []string{`System.Boolean=false`}},
		{"equal decimals", "Practitioner.extension('http://x/dec').value = 1.5", []string{`System.Boolean=true`}},
		{"equal integer and decimal", "1 = 1.0", []string{`System.Boolean=true`}},
		{"equal booleans", "Practitioner.active = true", []string{`System.Boolean=true`}},
		{"equal string and number", "'1' = 1", []string{`System.Boolean=false`}},
		{"equal complex", "Practitioner.qualification.code = Practitioner.qualification.code", []string{`System.Boolean=true`}},
		{"and", "true and false", []string{`System.Boolean=false`}},
		{"and unknown", "true and {}", []string{}},
		{"and false unknown", "{} and false", []string{`System.Boolean=false`}},
		{"or", "false or true", []string{`System.Boolean=true`}},
		{"or unknown", "false or {}", []string{}},
		{"or true unknown", "{} or true", []string{`System.Boolean=true`}},
		{"xor", "true xor true", []string{`System.Boolean=false`}},
		{"xor unknown", "true xor {}", []string{}},
		{"implies", "false implies {}", []string{`System.Boolean=true`}},
		{"implies unknown", "{} implies true", []string{`System.Boolean=true`}},
		{"implies unknown right", "true implies {}", []string{}},
		{"precedence", "false and false or true", []string{`System.Boolean=true`}},
		{"in", "'b@x' in Practitioner.telecom.value", []string{`System.Boolean=true`}},
		{"contains operator", "Practitioner.telecom.system contains 'fax'", []string{`System.Boolean=false`}},
		{"in empty", "{} in Practitioner.telecom.value", []string{}},
		{"parentheses", "(Practitioner.name).family.first()", []string{`string="Smith"`}},
	})
}

func TestLiterals(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"string escapes", `'a\'b\u0041\n'`, []string{`System.String="a'bA\n"`}},
		{"integer", "42", []string{`System.Integer=42`}},
		{"negative", "-42", []string{`System.Integer=-42`}},
		{"decimal", "3.140", []string{`System.Decimal=3.140`}},
		{"boolean", "false", []string{`System.Boolean=false`}},
		{"empty", "{}", []string{}},
		{"date", "@2024-01-02", []string{`System.Date="2024-01-02"`}},
		{"datetime", "@2024-01-02T03:04:05.6+01:00", []string{`System.DateTime="2024-01-02T03:04:05.6+01:00"`}},
		{"time", "@T10:30", []string{`System.Time="T10:30"`}},
		{"ucum", "%ucum", []string{`System.String="http://unitsofmeasure.org"`}},
		{"delimited identifier", "Practitioner.`gender`", []string{`code="female"`}},
		{"comments", "Practitioner.gender // trailing\n /* block */", []string{`code="female"`}},
	})
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, src string
		offset    int
		msg       string
	}{
		{"trailing dot", "Practitioner.", 13, "expected a name"},
		{"double dot", "Practitioner..name", 13, "expected a name"},
		{"unclosed paren", "(Practitioner.name", 18, `expected ")"`},
		{"extra paren", "Practitioner.name)", 17, "unexpected"},
		{"unterminated string", "name = 'abc", 7, "unterminated"},
		{"bad escape", `'\q'`, 1, "unknown escape"},
		{"unknown function", "name.foo()", 5, "foo() is not supported"},
		{"too many arguments", "name.first(1)", 5, "takes no arguments"},
		{"too few arguments", "name.where()", 5, "takes 1 argument"},
		{"unknown type", "name.ofType(Foo)", 12, `unknown type "Foo"`},
		{"not a type", "name.ofType('x')", 12, "expected a type name"},
		{"unknown element", "Practitioner.nmae", 13, `no R4 type has an element "nmae"`},
		{"unknown root name", "Practitionr.name", 0, `no R4 type has an element "Practitionr"`},
		{"unsupported function", "1.abs()", 2, "abs() is not supported"},
		{"two arguments", "name.replace('a')", 5, "takes 2 arguments"},
		{"one or two arguments", "name.substring()", 5, "takes 1 or 2 arguments"},
		{"bad regex literal", "name.matches('(?<=a)b')", 13, "bad regular expression"},
		{"bad regex flag", "name.matches('a', 'x')", 13, "bad regular expression: unknown regular expression flag"},
		{"long regex literal", "name.matches('" + strings.Repeat("a", 5000) + "')", 13, "pattern longer than 4096 bytes"},
		{"unsupported argument checked", "memberOf(nmae)", 9, `no R4 type has an element "nmae"`},
		{"vs variable needs a name", "%`vs-`", 0, "unknown environment variable"},
		{"quantity", "4 'mg'", 0, "quantity literals"},
		{"unknown variable", "%foo", 0, "unknown environment variable"},
		{"total", "$total", 0, "$total is not supported"},
		{"reserved word member", "name.div", 5, "expected a name"},
		{"bad date", "@2024-1-2", 0, "malformed date/time"},
		{"bad character", "name # 1", 5, "unexpected character"},
		{"empty", "", 0, "unexpected end of expression"},
		{"too long", strings.Repeat("a|", 6000) + "a", 10000, "longer than 10000 tokens"},
		{"deep nesting", strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200), 100, "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.src)
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Compile(%q) = %v; want an *Error", tt.src, err)
			}
			if fe.Offset != tt.offset || !strings.Contains(fe.Msg, tt.msg) {
				t.Errorf("Compile(%q) = %v; want offset %d and %q", tt.src, err, tt.offset, tt.msg)
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	res := mustParse(t, testPractitioner)
	tests := []struct{ name, src, msg string }{
		{"as of many", "Practitioner.telecom as ContactPoint", "type test of 3 items"},
		{"is of many", "Practitioner.telecom.is(ContactPoint)", "type test of 3 items"},
		{"where of many", "Practitioner.name.where(given)", "expected one boolean, got 3 items"},
		{"not of many", "Practitioner.telecom.not()", "expected one boolean"},
		{"in of many", "Practitioner.telecom.value in 'x'", "membership test of 3 items"},
		{"string function of many", "Practitioner.telecom.value.startsWith('a')", "startsWith() needs one string"},
		{"index not integer", "Practitioner.telecom['a']", "index is not a single integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MustCompile(tt.src).Evaluate(res)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Evaluate(%q) error = %v; want %q", tt.src, err, tt.msg)
			}
		})
	}
	for _, bad := range []string{`{"id": "x"}`, `{"resourceType": "Resource"}`, `{"resourceType": 7}`} {
		if _, err := MustCompile("id").Evaluate(mustParse(t, bad)); err == nil {
			t.Errorf("Evaluate on %s succeeded; want an error for the resource type", bad)
		}
	}
	if _, err := MustCompile("id").Evaluate(nil); err == nil {
		t.Error("Evaluate(nil) succeeded; want an error")
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile(\"(\") did not panic")
		}
	}()
	MustCompile("(")
}

// TestConcurrent evaluates one Expr from many goroutines; run with -race.
func TestConcurrent(t *testing.T) {
	res := mustParse(t, testPractitioner)
	e := MustCompile("Practitioner.name.given | Resource.meta.profile | Practitioner.extension('http://x/ref').value.where(resolve() is Organization)")
	want, err := e.Evaluate(res)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []string)
	for range 8 {
		go func() {
			var got []Node
			for range 200 {
				got, _ = e.Evaluate(res)
			}
			done <- render(got)
		}()
	}
	for range 8 {
		if got := <-done; !slices.Equal(got, render(want)) {
			t.Errorf("concurrent Evaluate = %v; want %v", got, render(want))
		}
	}
}
