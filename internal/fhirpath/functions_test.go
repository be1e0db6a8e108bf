package fhirpath

import (
	"encoding/json"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// funcCorpus exercises every operator and function beyond the
// SearchParameter subset, on literals and on the paths every resource has,
// for TestCrossCheckFunctions.
var funcCorpus = []string{
	// comparison
	"1 < 2", "2 <= 2", "3 > 2.5", "2.0 >= 2", "2 < 1.5", "'abc' < 'abd'", "'b' > 'a'", "'a' <= 'a'",
	"@2020-01-01 < @2020-01-02", "@2020-01 < @2020-01-05", "@2020-02 > @2020-01-05", "@2020 >= @2020",
	"@2020-01-01T10:00:00Z < @2020-01-01T06:00:00-05:00", "@2020-01-01T10:00:00+01:00 = @2020-01-01T09:00:00Z",
	"@2020 = @2020-01", "@2020-01 = @2021", "@2020-01-01 = @2020-01-01T10:00:00Z", "@T10:00 < @T10:00:01",
	"@T10:00:00 = @T10:00:00.000", "@T10:30 > @T09:59:59", "{} < 1", "1 < {}", "id.length() > 0",
	"meta.lastUpdated > @2000-01-01T00:00:00Z", "meta.lastUpdated < now()", "today() > @2000-01-01",
	"now() > @2000-01-01T00:00:00Z", "meta.lastUpdated <= meta.lastUpdated", "meta.lastUpdated = meta.lastUpdated",
	"descendants().ofType(Period).all(start.empty() or end.empty() or start <= end)",
	"descendants().ofType(date).all($this > @1900)", "descendants().ofType(dateTime).all($this < @2100-01-01T00:00:00Z)",
	"descendants().ofType(decimal).all($this < 1000000)", "descendants().ofType(positiveInt).all($this >= 1)",
	// arithmetic and concatenation
	"1 + 2", "1 + 2.5", "2.5 - 3", "3 * 4", "1.5 * 2", "7 / 2", "6 / 3", "1 / 4", "7 div 2", "-7 div 2",
	"7 mod 3", "-7 mod 3", "7.5 mod 2", "7 / 0", "7 div 0", "7 mod 0", "-(3)", "-(2.5)", "-id.length()", "+5",
	"1 + {}", "'a' + 'b'", "'a' + {}", "'a' & {}", "{} & 'b'", "'a' & 'b'", "id & '-' & id", "(1 + 2) * 3 = 9",
	"2 + 3 * 4", "10 - 2 - 3", "12 / 4 / 3", "0.1 + 0.2 = 0.3", "1.10 + 2.205", "id.length() * 2 + 1",
	"1 + true",
	// equality, equivalence, membership
	"1 = 1.0", "1 ~ 1.0", "1.5 ~ 1.52", "1.5 ~ 1.6", "'Abc' ~ 'aBC'", "'a b' ~ 'A B'", "'a' !~ 'b'", "{} ~ {}",
	"{} = {}", "1 ~ {}", "{} !~ 1", "@2020 ~ @2020-01", "@2020-01 ~ @2020-01", "(1|2) = (1|2)", "(1|2) = (2|1)",
	"'a' != 'b'", "true = true", "true ~ false", "'x' in ('x' | 'y')", "('a' | 'b') contains 'c'",
	"1 in (1.0 | 2)", "@2020 in (@2020-01 | @2021)", "{} in ('a' | 'b')", "'a' in {}", "id in id",
	"meta.profile contains meta.profile.first()", "text.status ~ 'GENERATED'", "id ~ id.upper()",
	"meta ~ meta", "meta = meta", "text = text",
	// existence, filtering, subsetting, combining
	"(1|2|3).all($this > 0)", "(1|2|3).all($this > 1)", "{}.all(false)", "descendants().all($this.exists())",
	"(true|false).anyTrue()", "(true|false).allTrue()", "(false|false).allFalse()", "{}.allTrue()", "{}.anyTrue()",
	"{}.allFalse()", "{}.anyFalse()", "(true).anyFalse()", "(1|2|2).count()", "(1|2).combine(2|3).count()",
	"(1|2).combine(2|3).distinct()", "(1|2).combine(1).isDistinct()", "(1|2).isDistinct()", "(1|2).union(2|3)",
	"(1|2|3).intersect(2|3|4)", "(1|2|3).exclude(2)", "(1|2).subsetOf(1|2|3)", "(1|2|3).supersetOf(1|2)",
	"(1|4).subsetOf(1|2|3)", "{}.subsetOf(1)", "(1|2|3).skip(1)", "(1|2|3).take(2)", "(1|2|3).take(0)",
	"(1|2|3).skip(5)", "(1).single()", "{}.single()", "(1|2).single()", "identifier.single().system",
	"('a'|'b').combine('a').distinct().count()", "descendants().ofType(code).distinct().count() <= descendants().ofType(code).count()",
	"descendants().ofType(code).isDistinct() or true", "meta.tag.union(meta.security).count()",
	"identifier.value.union(identifier.value).count() = identifier.value.distinct().count()",
	"identifier.exclude(identifier.first()).count()", "identifier.intersect(identifier).count() = identifier.count()",
	"(1.0|1).distinct().count()", "(@2020|@2020-01).distinct().count()", "('a'|'A').distinct().count()",
	// iif, trace
	"iif(true, 'a', 'b')", "iif(false, 'a', 'b')", "iif({}, 'a', 'b')", "iif(false, 'a')", "iif(true, 'a', (1|2).single())",
	"iif(id.exists(), id, 'none')", "iif(contained.exists(), contained.count(), 0)", "id.trace('x')", "id.trace('x', length())",
	"meta.iif(versionId.exists(), versionId, lastUpdated)",
	// tree navigation and types
	"children().count()", "descendants().count()", "descendants().ofType(Reference).count()",
	"descendants().ofType(code).count()", "descendants().ofType(markdown)", "children().ofType(Meta).lastUpdated",
	"descendants().where($this is Coding).code", "descendants().select(id).count()", "contained.children().count()",
	"text.children()", "meta.children()", "identifier.children().count()", "descendants().ofType(Identifier).children().count()",
	"descendants().ofType(Quantity).value", "descendants().where(url.exists()).url.count()", "contained.descendants().count()",
	// strings
	"id.length()", "'abc'.substring(1)", "'abc'.substring(1, 1)", "'abc'.substring(5)", "'abc'.substring(-1)",
	"'abc'.substring(0, 10)", "'abc'.substring(1, {})", "'abc'.indexOf('c')", "'abc'.indexOf('')", "'abc'.indexOf('x')",
	"'aBc'.upper()", "'aBc'.lower()", "'a.b.c'.replace('.', '-')", "'abc'.matches('b')", "'abc'.matches('^b')",
	"'ABC'.matches('b', 'i')", "'a\\nb'.matches('a.b')", "'abc'.matchesFull('b')", "'abc'.matchesFull('a.c')",
	"'abcabc'.replaceMatches('b(c)', '[$1]')", "'abc'.replaceMatches('x*', '-')", "'abc'.replaceMatches('(?<x>b)', '<$<x>>')",
	"'ab'.replaceMatches('(a)', '$1$1$&')", "'a1b22'.replaceMatches('\\\\d+', '#')", "'abc'.toChars()",
	"'abc'.startsWith('')", "{}.length()", "'abc'.contains({})", "id.matches('^[A-Za-z0-9\\\\-\\\\.]{1,64}$')",
	"'2020-01-01'.matches('\\\\d{4}')", "'x y'.matches('x\\\\sy')", "'é'.matches('\\\\u00e9')", "'aXb'.matches('a[^]b')",
	"id.substring(0, 2) + id.substring(2) = id", "text.status.upper().lower() = text.status", "id.indexOf(id) = 0",
	"meta.lastUpdated.toString().length() > 10", "descendants().ofType(canonical).where($this.startsWith('http')).count()",
	"descendants().ofType(markdown).where(length() > 20).count()", "descendants().ofType(code).where(matches('^[a-z]')).count()",
	"'abc'.matches({})", "'abc'.replace('b', {})",
	// conversion
	"'12'.toInteger()", "'-12'.toInteger()", "'+12'.toInteger()", "'1.5'.toInteger()", "true.toInteger()", "'1.50'.toDecimal()",
	"'x'.toDecimal()", "12.toString()", "1.50.toString()", "true.toString()", "@2020-01-02.toString()",
	"@2020-01-02T10:00:00Z.toString()", "'true'.toBoolean()", "'Y'.toBoolean()", "'no'.toBoolean()", "'x'.toBoolean()",
	"1.toBoolean()", "0.0.toBoolean()", "'2020-01-02'.toDate()", "'2020-01-02T10:00:00Z'.toDateTime()", "'10:00:00'.toTime()",
	"'12'.convertsToInteger()", "'x'.convertsToInteger()", "'1.5'.convertsToDecimal()", "'abc'.convertsToString()",
	"'2020-13-01'.convertsToDate()", "'2020-02-30'.convertsToDate()", "1.convertsToBoolean()", "2.convertsToBoolean()",
	"'2020'.toDate() = @2020", "'5'.toInteger() + 1", "{}.toInteger()", "'2020-01-02T10:00'.convertsToDateTime()",
	"meta.versionId.toInteger()", "meta.lastUpdated.toDateTime() = meta.lastUpdated", "id.convertsToInteger()",
	"'1e5'.convertsToDecimal()", "'.5'.convertsToDecimal()",
	// environment
	"%ucum", "%context.id = id", "%resource.id = id",
}

// TestCrossCheckFunctions evaluates funcCorpus on every fixture with this
// package and with FHIRPath.js and requires the same items, as
// TestCrossCheckFHIRPathJS does for the SearchParameter expressions, with
// the same tolerated differences and these:
//   - an expression that is an error in one is an error in the other; the
//     messages are not compared.
//   - toString() of a decimal keeps the text's digits here (1.50);
//     FHIRPath.js reads JSON numbers as JavaScript numbers (1.5).
func TestCrossCheckFunctions(t *testing.T) {
	requireNode(t)
	fx, _ := invariantFixtures(t)
	var job struct {
		Expressions []string `json:"expressions"`
		Resources   []any    `json:"resources"`
		Pairs       [][2]int `json:"pairs"`
	}
	for _, f := range fx {
		job.Resources = append(job.Resources, json.RawMessage(jsontree.Marshal(f.res)))
	}
	compiled := make([]*Expr, len(funcCorpus))
	for i, src := range funcCorpus {
		e, err := Compile(src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", src, err)
		}
		compiled[i] = e
		job.Expressions = append(job.Expressions, src)
		for j := range fx {
			job.Pairs = append(job.Pairs, [2]int{i, j})
		}
	}
	results := runCrossCheck(t, job)
	var st crossStats
	errs := 0
	reported := map[string]bool{} // the first resource that differs, per expression
	for k, p := range job.Pairs {
		src, f := funcCorpus[p[0]], fx[p[1]]
		got, err := compiled[p[0]].Evaluate(f.res)
		if err != nil && results[k].Error != "" {
			errs++
		}
		if msg := st.compare(got, err, results[k], src); msg != "" && !reported[src] {
			reported[src] = true
			t.Errorf("%q on %s: %s", src, f.name, msg)
		}
	}
	t.Logf("compared %d (expression, resource) pairs: %d expressions × %d resources; %d non-empty results, %d items, %d errors in both",
		len(job.Pairs), len(funcCorpus), len(fx), st.nonEmpty, st.items, errs)
	t.Logf("tolerated: %d unions with equal values kept, %d System.String ids/urls, %d whole decimals FHIRPath.js types Integer",
		st.unions, st.systemStrings, st.integralDecimals)
}
