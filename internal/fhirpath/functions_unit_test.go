package fhirpath

import (
	"errors"
	"strings"
	"testing"
)

func TestCollectionFunctions(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"all true", "Practitioner.telecom.all(value.exists())", []string{`System.Boolean=true`}},
		{"all false", "Practitioner.telecom.all(system = 'email')", []string{`System.Boolean=false`}},
		{"all empty criteria is not true", "Practitioner.telecom.all(use = 'work')", []string{`System.Boolean=false`}},
		{"all of empty", "Practitioner.photo.all(false)", []string{`System.Boolean=true`}},
		{"all $index", "Practitioner.identifier.all(value = ($index + 1).toString())", []string{`System.Boolean=true`}},
		{"allTrue", "(true | true).allTrue()", []string{`System.Boolean=true`}},
		{"allTrue empty", "{}.allTrue()", []string{`System.Boolean=true`}},
		{"anyTrue", "Practitioner.telecom.select(system = 'email').anyTrue()", []string{`System.Boolean=true`}},
		{"anyTrue empty", "{}.anyTrue()", []string{`System.Boolean=false`}},
		{"allFalse", "Practitioner.telecom.select(system = 'fax').allFalse()", []string{`System.Boolean=true`}},
		{"anyFalse", "Practitioner.telecom.select(system = 'phone').anyFalse()", []string{`System.Boolean=true`}},
		{"distinct by value", "Practitioner.name.given.distinct().count()", []string{`System.Integer=3`}},
		{"distinct numbers by value", "(1 | 1.0 | 2).distinct().count()", []string{`System.Integer=2`}},
		{"distinct dates of different precision stay", "(@2020 | @2020-01).distinct().count()", []string{`System.Integer=2`}},
		{"distinct complex", "Practitioner.identifier.system.distinct()", []string{`uri="http://x/ids"`}},
		{"isDistinct", "Practitioner.telecom.system.isDistinct()", []string{`System.Boolean=false`}},
		{"isDistinct values", "Practitioner.telecom.value.isDistinct()", []string{`System.Boolean=true`}},
		{"isDistinct concatenations", "Practitioner.telecom.select(system & value).isDistinct()", []string{`System.Boolean=true`}},
		{"isDistinct empty", "{}.isDistinct()", []string{`System.Boolean=true`}},
		{"single", "Practitioner.gender.single()", []string{`code="female"`}},
		{"single empty", "Practitioner.photo.single()", []string{}},
		{"skip", "Practitioner.telecom.value.skip(1)", []string{`string="a@x"`, `string="b@x"`}},
		{"skip negative", "Practitioner.telecom.value.skip(-1).count()", []string{`System.Integer=3`}},
		{"take", "Practitioner.telecom.value.take(1)", []string{`string="1"`}},
		{"take beyond", "Practitioner.telecom.value.take(9).count()", []string{`System.Integer=3`}},
		{"take empty argument", "Practitioner.telecom.take({})", []string{}},
		{"union by value", "(1 | 2).union(2 | 3)", []string{`System.Integer=1`, `System.Integer=2`, `System.Integer=3`}},
		{"union function is by value", "Practitioner.name.given.union(Practitioner.name.given).count()", []string{`System.Integer=3`}},
		{"combine keeps duplicates", "(1 | 2).combine(2 | 3).count()", []string{`System.Integer=4`}},
		{"intersect", "(1 | 2 | 3).intersect(2 | 3 | 4)", []string{`System.Integer=2`, `System.Integer=3`}},
		{"exclude", "Practitioner.telecom.system.exclude('phone')", []string{`code="email"`, `code="email"`}},
		{"subsetOf", "(1 | 2).subsetOf(1 | 2 | 3)", []string{`System.Boolean=true`}},
		{"subsetOf with duplicates", "Practitioner.telecom.system.subsetOf('email' | 'phone')", []string{`System.Boolean=true`}},
		{"subsetOf no", "(1 | 4).subsetOf(1 | 2)", []string{`System.Boolean=false`}},
		{"empty subsetOf", "{}.subsetOf(1)", []string{`System.Boolean=true`}},
		{"supersetOf", "(1 | 2 | 3).supersetOf(3 | 1)", []string{`System.Boolean=true`}},
		{"argument on $this", "Practitioner.telecom.where(system.subsetOf(%resource.telecom.system.first())).value", []string{`string="1"`}},
		{"iif true", "iif(Practitioner.active, 'y', 'n')", []string{`System.String="y"`}},
		{"iif false", "iif(Practitioner.active.not(), 'y', 'n')", []string{`System.String="n"`}},
		{"iif empty criterion", "iif({}, 'y', 'n')", []string{`System.String="n"`}},
		{"iif no otherwise", "iif(false, 'y')", []string{}},
		{"iif lazy", "iif(true, 'y', Practitioner.telecom.single())", []string{`System.String="y"`}},
		{"iif on the focus", "Practitioner.photo.iif(empty(), 'none', 'some')", []string{`System.String="none"`}},
		{"iif focus item", "Practitioner.gender.iif($this = 'female', 'F')", []string{`System.String="F"`}},
		{"trace returns input", "Practitioner.telecom.value.trace('v', length()).count()", []string{`System.Integer=3`}},
		{"repeat", "Practitioner.extension('http://x/nested').repeat(extension).url", []string{`uri="a"`, `uri="a"`, `uri="b"`}},
		{"repeat ends on literals", "repeat('a')", []string{`System.String="a"`}},
	})
}

func TestCollectionFunctionErrors(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runErrorTests(t, res, []errorTest{
		{"single of many", "Practitioner.telecom.single()", "single() of 3 items"},
		{"allTrue of non-boolean", "Practitioner.telecom.allTrue()", "allTrue() of ContactPoint, want booleans"},
		{"skip non-integer", "Practitioner.telecom.skip('1')", "argument is not an integer"},
		{"all of many booleans", "Practitioner.name.all(given)", "expected one boolean"},
		{"iif criterion of many", "iif(Practitioner.telecom.value, 1)", "expected one boolean"},
	})
}

func TestTreeNavigation(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"children of complex", "Practitioner.telecom.first().children()", []string{`code="phone"`, `string="1"`}},
		{"children of primitive", "Practitioner.name.given[2].children()", []string{`string="g3"`}},
		{"children of primitive without value", "Practitioner.name.given[1].children().url", []string{`uri="http://x/q"`}},
		{"children of choice", "Practitioner.extension('http://x/age').children()", []string{`uri="http://x/age"`, `Age={"value":42,"unit":"a"}`}},
		{"children skip resourceType", "Practitioner.contained.first().children()", []string{`string="o1"`, `string="Inside"`}},
		{"children of a value without members", "'a'.children()", []string{}},
		{"descendants", "Practitioner.qualification.descendants()", []string{
			`CodeableConcept={"text":"MD"}`, `Reference={"reference":"Organization/o3"}`, `string="MD"`, `string="Organization/o3"`}},
		{"descendants count", "Practitioner.telecom.descendants().count()", []string{`System.Integer=6`}},
		{"descendants reach contained", "descendants().ofType(Organization).name", []string{`string="Inside"`}},
		{"descendants of a primitive companion", "Practitioner.name.given.descendants().ofType(code)", []string{`code="CL"`}},
	})
}

func TestStringFunctions(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"length", "Practitioner.name.family.first().length()", []string{`System.Integer=5`}},
		{"length code points", "'héllo'.length()", []string{`System.Integer=5`}},
		{"substring", "'abcdef'.substring(2)", []string{`System.String="cdef"`}},
		{"substring length", "'abcdef'.substring(2, 3)", []string{`System.String="cde"`}},
		{"substring past end", "'abc'.substring(1, 10)", []string{`System.String="bc"`}},
		{"substring start outside", "'abc'.substring(3)", []string{}},
		{"substring negative", "'abc'.substring(-1)", []string{}},
		{"substring empty length", "'abc'.substring(1, {})", []string{`System.String="bc"`}},
		{"substring code points", "'héllo'.substring(1, 2)", []string{`System.String="él"`}},
		{"substring reference", "'#o1'.substring(1) in Practitioner.contained.id", []string{`System.Boolean=true`}},
		{"indexOf", "'abcabc'.indexOf('ca')", []string{`System.Integer=2`}},
		{"indexOf missing", "'abc'.indexOf('x')", []string{`System.Integer=-1`}},
		{"indexOf empty", "'abc'.indexOf('')", []string{`System.Integer=0`}},
		{"indexOf code points", "'héllo'.indexOf('l')", []string{`System.Integer=2`}},
		{"upper", "'aBc'.upper()", []string{`System.String="ABC"`}},
		{"lower", "'aBc'.lower()", []string{`System.String="abc"`}},
		{"replace", "'a.b.c'.replace('.', '-')", []string{`System.String="a-b-c"`}},
		{"toChars", "'ab'.toChars()", []string{`System.String="a"`, `System.String="b"`}},
		{"primitive without value", "Practitioner.name.family.last().length()", []string{}},
		{"empty argument", "'abc'.contains({})", []string{}},
		{"matches partial", "'abc'.matches('b')", []string{`System.Boolean=true`}},
		{"matches anchored", "'abc'.matches('^b')", []string{`System.Boolean=false`}},
		{"matches flags", "'ABC'.matches('b', 'i')", []string{`System.Boolean=true`}},
		{"matches dot all", "'a\nb'.matches('a.b')", []string{`System.Boolean=true`}},
		{"matches multi-line", "'a\nb'.matches('^b$', 'm')", []string{`System.Boolean=true`}},
		{"matches R4 name pattern", "'Abc_1'.matches('[A-Z]([A-Za-z0-9_]){0,254}')", []string{`System.Boolean=true`}},
		{"matches eld-16", `'a/b-c_[d]@'.matches('^[a-zA-Z0-9\\/\\-_\\[\\]\\@]+$')`, []string{`System.Boolean=true`}},
		{"matches JavaScript \\u", `'é'.matches('\\u00e9')`, []string{`System.Boolean=true`}},
		{"matches JavaScript \\s", "'a\u00a0b'.matches('a\\\\sb')", []string{`System.Boolean=true`}},
		{"matches any character class", `'a\nb'.matches('a[^]b')`, []string{`System.Boolean=true`}},
		{"matches computed pattern", "'abc'.matches('^' + 'a')", []string{`System.Boolean=true`}},
		{"matchesFull", "'abc'.matchesFull('b')", []string{`System.Boolean=false`}},
		{"matchesFull whole", "'abc'.matchesFull('a.c')", []string{`System.Boolean=true`}},
		{"replaceMatches groups", "'abcabc'.replaceMatches('b(c)', '[$1]')", []string{`System.String="a[c]a[c]"`}},
		{"replaceMatches whole match", "'ab'.replaceMatches('(a)', '$1$1$&')", []string{`System.String="aaab"`}},
		{"replaceMatches named", "'abc'.replaceMatches('(?<x>b)', '<$<x>>')", []string{`System.String="a<b>c"`}},
		{"replaceMatches dollar", "'abc'.replaceMatches('b', '$$')", []string{`System.String="a$c"`}},
		{"replaceMatches missing group literal", "'abc'.replaceMatches('b', '$2')", []string{`System.String="a$2c"`}},
		{"replaceMatches empty matches", "'abc'.replaceMatches('x*', '-')", []string{`System.String="-a-b-c-"`}},
	})
}

func TestStringFunctionErrors(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runErrorTests(t, res, []errorTest{
		{"many", "Practitioner.telecom.value.length()", "length() needs one string, got 3 items"},
		{"not a string", "Practitioner.active.upper()", "upper() needs a string, got boolean"},
		{"argument not a string", "'abc'.indexOf(1)", "indexOf() argument is not a string"},
		{"argument not an integer", "'abc'.substring('1')", "substring() argument"},
		{"computed bad pattern", "'abc'.matches('(' + '')", "bad regular expression"},
		{"computed back-reference", "'abc'.matches('(a)\\\\' + '1')", "bad regular expression"},
		{"computed long pattern", "'abc'.matches('a'.replace('a', '" + strings.Repeat("a", 5000) + "'))", "pattern longer than 4096 bytes"},
		{"computed bad flag", "'abc'.matches('a', 'g'.lower())", "unknown regular expression flag"},
	})
}

func TestConversionFunctions(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"toInteger string", "'-012'.toInteger()", []string{`System.Integer=-12`}},
		{"toInteger plus", "'+5'.toInteger()", []string{`System.Integer=5`}},
		{"toInteger not integer", "'1.5'.toInteger()", []string{}},
		{"toInteger decimal is not converted", "1.0.toInteger()", []string{}},
		{"toInteger boolean", "true.toInteger()", []string{`System.Integer=1`}},
		{"toInteger FHIR integer", "Practitioner.identifier.count().toInteger()", []string{`System.Integer=2`}},
		{"toInteger empty", "{}.toInteger()", []string{}},
		{"toDecimal", "'1.50'.toDecimal()", []string{`System.Decimal=1.50`}},
		{"toDecimal rejects exponent", "'1e5'.toDecimal()", []string{}},
		{"toDecimal integer", "2.toDecimal()", []string{`System.Decimal=2`}},
		{"toDecimal boolean", "false.toDecimal()", []string{`System.Decimal=0.0`}},
		{"toString number keeps digits", "Practitioner.extension('http://x/dec').value.toString()", []string{`System.String="1.50"`}},
		{"toString boolean", "true.toString()", []string{`System.String="true"`}},
		{"toString date", "@2020-01-02.toString()", []string{`System.String="2020-01-02"`}},
		{"toString time", "@T10:00.toString()", []string{`System.String="10:00"`}},
		{"toString quantity", "Practitioner.extension('http://x/age').value.toString()", []string{`System.String="42 'a'"`}},
		{"toString complex", "Practitioner.telecom.first().toString()", []string{}},
		{"toBoolean", "'Yes'.toBoolean()", []string{`System.Boolean=true`}},
		{"toBoolean number", "0.0.toBoolean()", []string{`System.Boolean=false`}},
		{"toBoolean other", "2.toBoolean()", []string{}},
		{"toDate", "'2020-01-02'.toDate()", []string{`System.Date="2020-01-02"`}},
		{"toDate from datetime", "Resource.meta.lastUpdated.toDate()", []string{`System.Date="2024-01-02"`}},
		{"toDate invalid", "'2020-02-30'.toDate()", []string{}},
		{"toDateTime", "'2020-01-02T10:00:00Z'.toDateTime()", []string{`System.DateTime="2020-01-02T10:00:00Z"`}},
		{"toDateTime from date", "@2020-01.toDateTime()", []string{`System.DateTime="2020-01"`}},
		{"toTime", "'10:00:00'.toTime()", []string{`System.Time="10:00:00"`}},
		{"toTime invalid", "'25:00'.toTime()", []string{}},
		{"convertsToInteger", "'12'.convertsToInteger() and 'x'.convertsToInteger().not()", []string{`System.Boolean=true`}},
		{"convertsToDecimal", "'1.5'.convertsToDecimal()", []string{`System.Boolean=true`}},
		{"convertsToString complex", "Practitioner.telecom.first().convertsToString()", []string{`System.Boolean=false`}},
		{"convertsToDate", "'2020-13'.convertsToDate()", []string{`System.Boolean=false`}},
		{"convertsToDateTime", "'2020-01-02T10:00'.convertsToDateTime()", []string{`System.Boolean=true`}},
		{"convertsToTime", "'10:00'.convertsToTime()", []string{`System.Boolean=true`}},
		{"convertsToBoolean", "1.convertsToBoolean()", []string{`System.Boolean=true`}},
		{"convertsTo empty", "{}.convertsToInteger()", []string{}},
		{"getValue", "Practitioner.gender.getValue()", []string{`System.String="female"`}},
		{"getValue without value", "Practitioner.name.family.last().getValue()", []string{}},
		{"today", "today() > @2024-01-01 and today().toString().length() = 10", []string{`System.Boolean=true`}},
		{"now", "now() > @2024-01-01T00:00:00Z", []string{`System.Boolean=true`}},
		{"vs variable", "%`vs-administrative-gender`", []string{`System.String="http://hl7.org/fhir/ValueSet/administrative-gender"`}},
		{"ext variable", "%`ext-data-absent-reason`", []string{`System.String="http://hl7.org/fhir/StructureDefinition/data-absent-reason"`}},
		{"sct", "%sct", []string{`System.String="http://snomed.info/sct"`}},
		{"loinc", "%loinc", []string{`System.String="http://loinc.org"`}},
	})
	runErrorTests(t, res, []errorTest{
		{"conversion of many", "Practitioner.telecom.value.toInteger()", "conversion of 3 items"},
	})
}

func TestUnsupportedFunctions(t *testing.T) {
	res := mustParse(t, testPractitioner)
	for _, src := range []string{"Practitioner.gender.memberOf(%`vs-administrative-gender`)", "conformsTo('http://x/p')"} {
		_, err := MustCompile(src).Evaluate(res)
		var fe *Error
		if !errors.Is(err, ErrUnsupported) || !errors.As(err, &fe) {
			t.Errorf("Evaluate(%q) error = %v; want ErrUnsupported in an *Error", src, err)
		}
	}
	got, err := MustCompile("Practitioner.birthDate.memberOf('http://x/vs').empty()").Evaluate(res)
	if err != nil || len(got) != 1 || got[0].Value != true {
		t.Errorf("memberOf on empty = %v, %v; want empty", render(got), err)
	}
}

// TestAsFunctionFilters: as(T) filters a collection (R4's dom-3 relies on
// it); the as operator keeps N1's one-item rule.
func TestAsFunctionFilters(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"as on a collection", "Practitioner.meta.descendants().as(canonical)", []string{`canonical="http://x/p1"`, `canonical="http://x/p2"`}},
	})
	runErrorTests(t, res, []errorTest{
		{"as operator on a collection", "Practitioner.meta.descendants() as canonical", "type test of 3 items"},
	})
}
