package fhirpath

import (
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
)

func TestComparison(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"integers", "1 < 2", []string{`System.Boolean=true`}},
		{"integer decimal", "2 <= 2.0", []string{`System.Boolean=true`}},
		{"decimals exact", "0.1000000000000000000001 > 0.1", []string{`System.Boolean=true`}},
		{"negative", "-2.5 < -2", []string{`System.Boolean=true`}},
		{"zero signs", "-0.0 >= 0", []string{`System.Boolean=true`}},
		{"hostile exponent", "Practitioner.extension('http://x/dec').value < 2", []string{`System.Boolean=true`}},
		{"strings", "'abc' < 'abd'", []string{`System.Boolean=true`}},
		{"string prefix", "'ab' > 'abc'", []string{`System.Boolean=false`}},
		{"code with string", "Practitioner.gender >= 'female'", []string{`System.Boolean=true`}},
		{"dates", "@2020-01-01 < @2020-01-02", []string{`System.Boolean=true`}},
		{"dates decided before precision runs out", "@2020-02 > @2020-01-31", []string{`System.Boolean=true`}},
		{"dates of different precision empty", "@2020-01 < @2020-01-05", []string{}},
		{"date with datetime", "@2020-01-01 < @2020-01-01T10:00:00Z", []string{}},
		{"timezones normalised", "@2020-01-01T10:00:00+05:00 < @2020-01-01T06:00:00Z", []string{`System.Boolean=true`}},
		{"timezone across midnight", "@2020-01-01T23:30:00-01:00 > @2020-01-02T00:00:00Z", []string{`System.Boolean=true`}},
		{"seconds and milliseconds one precision", "@2020-01-01T10:00:00 <= @2020-01-01T10:00:00.000", []string{`System.Boolean=true`}},
		{"fractions", "@T10:00:00.5 > @T10:00:00.25", []string{`System.Boolean=true`}},
		{"times", "@T10:30 > @T09:59:59", []string{`System.Boolean=true`}},
		{"times of different precision", "@T10:00 < @T10:00:30", []string{}},
		{"instant from resource", "Resource.meta.lastUpdated > @2024-01-02T03:04:04Z", []string{`System.Boolean=true`}},
		{"instant against date", "Resource.meta.lastUpdated > @2024-01-01", []string{`System.Boolean=true`}},
		{"empty left", "{} < 1", []string{}},
		{"empty right", "1 >= {}", []string{}},
		{"primitive without value", "Practitioner.name.family.last() < 'x'", []string{}},
		{"quantity same unit", "Practitioner.extension('http://x/age').value > Practitioner.extension('http://x/age').value", []string{`System.Boolean=false`}},
	})
}

func TestComparisonErrors(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runErrorTests(t, res, []errorTest{
		{"string with number", "'1' < 1", "cannot compare System.String with System.Integer"},
		{"date with string", "@2020 < '2021'", "cannot compare System.Date with System.String"},
		{"booleans", "true < false", "cannot compare"},
		{"date with time", "@2020 < @T10:00", "cannot compare"},
		{"many", "Practitioner.telecom.value < 'x'", "< of 3 and 1 items"},
	})
}

func TestEqualityFHIRPath(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"dates same precision", "@2020-01-01 = @2020-01-01", []string{`System.Boolean=true`}},
		{"dates different precision", "@2020 = @2020-01", []string{}},
		{"dates differ before precision runs out", "@2020-01 = @2021", []string{`System.Boolean=false`}},
		{"datetimes in different zones", "@2020-01-01T10:00:00+01:00 = @2020-01-01T09:00:00Z", []string{`System.Boolean=true`}},
		{"not equal unknown", "@2020 != @2020-01", []string{}},
		{"date is not a string", "@2020 = '2020'", []string{`System.Boolean=false`}},
		{"instant against literal", "Resource.meta.lastUpdated = @2024-01-02T03:04:05Z", []string{`System.Boolean=true`}},
		{"decimal exact", "0.1 + 0.2 = 0.3", []string{`System.Boolean=true`}},
		{"collections in order", "(1 | 2) = (2 | 1)", []string{`System.Boolean=false`}},
		{"unknown pair in a collection is unequal", "(@2020 | 1) = (@2020-01 | 1)", []string{`System.Boolean=false`}},
		{"quantities same unit", "Practitioner.extension('http://x/age').value = Practitioner.extension('http://x/age').value", []string{`System.Boolean=true`}},
		{"placeholder never equal", "Practitioner.extension('http://x/ref').value[1].resolve() = Practitioner.extension('http://x/ref').value[1].resolve()", []string{`System.Boolean=false`}},
	})
}

func TestEquivalence(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"case", "'Abc' ~ 'aBC'", []string{`System.Boolean=true`}},
		{"white space", "'a\tb' ~ 'A B'", []string{`System.Boolean=true`}},
		{"different", "'a' ~ 'b'", []string{`System.Boolean=false`}},
		{"not", "'a' !~ 'b'", []string{`System.Boolean=true`}},
		{"decimals at the less precise", "1.5 ~ 1.52", []string{`System.Boolean=true`}},
		{"decimals differing", "1.5 ~ 1.6", []string{`System.Boolean=false`}},
		{"integer and decimal", "1 ~ 1.4", []string{`System.Boolean=true`}},
		{"empty both", "{} ~ {}", []string{`System.Boolean=true`}},
		{"empty one", "1 ~ {}", []string{`System.Boolean=false`}},
		{"dates of different precision", "@2020 ~ @2020-01", []string{`System.Boolean=false`}},
		{"dates same", "@2020-01 ~ @2020-01", []string{`System.Boolean=true`}},
		{"order does not matter", "('a' | 'b') ~ ('B' | 'A')", []string{`System.Boolean=true`}},
		{"complex", "Practitioner.qualification.code ~ Practitioner.qualification.code", []string{`System.Boolean=true`}},
		{"booleans", "true ~ false", []string{`System.Boolean=false`}},
	})
}

func TestMath(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"add integers", "1 + 2", []string{`System.Integer=3`}},
		{"add decimal", "1 + 2.50", []string{`System.Decimal=3.50`}},
		{"subtract", "2.5 - 3", []string{`System.Decimal=-0.5`}},
		{"multiply", "1.5 * 1.5", []string{`System.Decimal=2.25`}},
		{"multiply integers", "3 * -4", []string{`System.Integer=-12`}},
		{"divide", "7 / 2", []string{`System.Decimal=3.5`}},
		{"divide exact integer", "6 / 3", []string{`System.Decimal=2`}},
		{"divide repeating", "1 / 3", []string{`System.Decimal=0.3333333333333333333333333333`}},
		{"divide rounding", "2 / 3", []string{`System.Decimal=0.6666666666666666666666666667`}},
		{"divide by zero", "1 / 0", []string{}},
		{"div", "7 div 2", []string{`System.Integer=3`}},
		{"div truncates toward zero", "-7 div 2", []string{`System.Integer=-3`}},
		{"div decimals", "7.5 div 2", []string{`System.Decimal=3`}},
		{"div by zero", "7 div 0", []string{}},
		{"mod", "7 mod 3", []string{`System.Integer=1`}},
		{"mod sign of dividend", "-7 mod 3", []string{`System.Integer=-1`}},
		{"mod decimals", "7.5 mod 2", []string{`System.Decimal=1.5`}},
		{"mod by zero", "7 mod 0", []string{}},
		{"big integers exact", "9223372036854775807 + 1", []string{`System.Integer=9223372036854775808`}},
		{"precedence", "2 + 3 * 4", []string{`System.Integer=14`}},
		{"left associative", "10 - 2 - 3", []string{`System.Integer=5`}},
		{"from the resource", "Practitioner.extension('http://x/dec').value * 2", []string{`System.Decimal=3.00`}},
		{"count arithmetic", "Practitioner.identifier.count() + Practitioner.name.count()", []string{`System.Integer=4`}},
		{"empty operand", "1 + {}", []string{}},
		{"string concatenation with +", "'a' + 'b'", []string{`System.String="ab"`}},
		{"string + empty", "'a' + {}", []string{}},
		{"ampersand", "'a' & 'b'", []string{`System.String="ab"`}},
		{"ampersand empty is empty string", "{} & 'b' & {}", []string{`System.String="b"`}},
		{"ampersand codes", "Practitioner.gender & '/' & Practitioner.id", []string{`System.String="female/p1"`}},
		{"negate", "-(3)", []string{`System.Integer=-3`}},
		{"negate negative", "-(-2.5)", []string{`System.Decimal=2.5`}},
		{"negate path", "-Practitioner.identifier.count()", []string{`System.Integer=-2`}},
		{"plus", "+(2)", []string{`System.Integer=2`}},
		{"negate empty", "-Practitioner.birthDate.count().where(false)", []string{}},
	})
}

func TestMathErrors(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runErrorTests(t, res, []errorTest{
		{"string plus number", "'1' + 1", "cannot apply + to System.String and System.Integer"},
		{"boolean", "true + 1", "cannot apply +"},
		{"subtract strings", "'a' - 'b'", "cannot apply -"},
		{"many", "Practitioner.identifier.value + 'x'", "+ of 2 and 1 items"},
		{"ampersand number", "1 & 'a'", "& of System.Integer, want a string"},
		{"negate string", "-('a')", "polarity of System.String"},
		{"negate many", "-(1 | 2)", "polarity of 2 items"},
	})
	hostile := mustParse(t, `{"resourceType": "Practitioner", "extension": [{"url": "u", "valueDecimal": 1e999999}]}`)
	runErrorTests(t, hostile, []errorTest{
		{"out of range", "extension.value + 1", "number out of range"},
	})
	runEvalTests(t, hostile, []evalTest{
		{"compared without expanding", "extension.value > 1", []string{`System.Boolean=true`}},
		{"equal without expanding", "extension.value = 1", []string{`System.Boolean=false`}},
	})
}

func TestMembershipByValue(t *testing.T) {
	res := mustParse(t, testPractitioner)
	runEvalTests(t, res, []evalTest{
		{"decimal in integers", "1.0 in (1 | 2)", []string{`System.Boolean=true`}},
		{"date of other precision", "@2020 in (@2020-01 | @2021)", []string{`System.Boolean=false`}},
		{"empty collection", "'a' in {}", []string{`System.Boolean=false`}},
		{"contains empty", "('a' | 'b') contains {}", []string{}},
	})
}

// TestUnionUnderCheck: | removes equal values under Check, the same node
// only under Evaluate.
func TestUnionUnderCheck(t *testing.T) {
	res := mustParse(t, testPractitioner)
	e := MustCompile("(Practitioner.name.given | Practitioner.name.given).count() = 3")
	ok, err := e.Check(res, nil, Focus{Value: res, Type: "Practitioner"})
	if err != nil || !ok {
		t.Errorf("Check(%s) = %v, %v; want true (the two \"Ann\" are one value)", e, ok, err)
	}
	got, err := e.Evaluate(res)
	if err != nil || len(got) != 1 || got[0].Value != false {
		t.Errorf("Evaluate(%s) = %v, %v; want false (four nodes)", e, render(got), err)
	}
}

type errorTest struct{ name, src, msg string }

func runErrorTests(t *testing.T, res *jsontree.Object, tests []errorTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile(tt.src)
			if err == nil {
				_, err = e.Evaluate(res)
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Evaluate(%q) error = %v; want %q", tt.src, err, tt.msg)
			}
		})
	}
}
