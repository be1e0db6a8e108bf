package fhirpath

import (
	"errors"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// FuzzCompile checks that Compile never panics, that its errors are *Error
// with an offset inside the source, and that whatever compiles evaluates
// and checks on a rich resource without panicking.
func FuzzCompile(f *testing.F) {
	for _, ce := range corpus(f) {
		f.Add(ce.src)
	}
	for _, inv := range r4Invariants {
		f.Add(inv.src)
	}
	for _, src := range funcCorpus {
		f.Add(src)
	}
	for _, s := range []string{
		"", "(", ")", "'", "`", "@", "%", "$", "a.", "a..b", "1.", "1.a", "-1.count()", "- -1",
		"name.where(", "name[", "{", "{}", "a | | b", "a is", "a as FHIR.", "'\\u12'", "'\\uZZZZ'",
		"/* x", "// x", "@2024-01-01T", "@T", "%`x`", "%'y'", "$this.$this", "a.is(b.c.d)",
		"descendants().descendants().count()", "descendants().where(descendants().exists()).count()",
		"repeat($this)", "repeat(children())", "'aaaa'.matches('(a*)*b')", "'a'.matches('\\')", "'x'.replaceMatches('', '$')",
		"'x'.replaceMatches('(x)', '$<')", "'x'.replaceMatches('(?<n>x)', '$<n>$1$01$&$$$')", "1e5", "1.0e", "@2020-02-30 < @2020",
		"@2020-01-01T24:00:00 = @T25:00", "'9223372036854775808'.toInteger() * 9223372036854775808", "1 / 3 * 3 = 1",
		"(1|2).iif($this, 1)", "iif(1, 2, 3, 4)", "%`vs-`", "-'a'", "- -(1)", "{}.single().single()",
	} {
		f.Add(s)
	}
	res := mustParse(f, testPractitioner)
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Compile(src)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > len(src) {
				t.Fatalf("Compile(%q) error %v is not an *Error within the source", src, err)
			}
			return
		}
		_, _ = e.Evaluate(res)
		_, _ = e.Check(res, nil, Focus{Value: res, Type: "Practitioner"})
	})
}

// FuzzEvaluate evaluates every corpus expression on fuzzed JSON. An object
// without a known resourceType gets one of the vhdir types, chosen by its
// size, so that navigation runs on hostile shapes (arrays where objects
// belong, objects where primitives belong, stray _companions).
func FuzzEvaluate(f *testing.F) {
	var exprs []*Expr
	for _, ce := range corpus(f) {
		exprs = append(exprs, MustCompile(ce.src))
	}
	for _, inv := range r4Invariants {
		exprs = append(exprs, MustCompile(inv.src))
	}
	for _, src := range funcCorpus {
		exprs = append(exprs, MustCompile(src))
	}
	for _, fx := range fixtures(f) {
		f.Add(jsontree.Marshal(fx.res))
	}
	f.Add([]byte(testPractitioner))
	for _, s := range []string{
		`{"resourceType":"Practitioner","name":{"given":"x","_given":[{"id":1}]}}`,
		`{"resourceType":"Practitioner","name":[[{"family":"x"}]],"_gender":[{}],"gender":{}}`,
		`{"resourceType":"Organization","extension":[{"url":"u","valueString":"a","valueCode":"b","_valueString":[]}]}`,
		`{"resourceType":"CareTeam","subject":{"reference":"#"},"contained":[{"resourceType":"CareTeam","subject":{"reference":"#"}}]}`,
		`{"resourceType":"Location","position":[1,2],"contained":{"resourceType":"Patient"}}`,
		`{"resourceType":"Provenance","target":[{"reference":"/_history/"},{"reference":"Patient/"},{"reference":"a/b/c/Patient/1"}],"occurredDateTime":["x","y"]}`,
		`{"telecom":[{"system":"email"}]}`,
	} {
		f.Add([]byte(s))
	}
	types := []string{"Practitioner", "PractitionerRole", "Organization", "Location", "HealthcareService",
		"Endpoint", "InsurancePlan", "CareTeam", "OrganizationAffiliation", "VerificationResult", "AuditEvent", "Provenance"}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := jsontree.ParseObject(data)
		if err != nil {
			return
		}
		if _, _, ok := resourceInfo(res); !ok {
			res.Set("resourceType", types[len(data)%len(types)])
		}
		focus := Focus{Value: res, Type: resourceType(res)}
		for _, e := range exprs {
			_, _ = e.Check(res, nil, focus)
			nodes, err := e.Evaluate(res)
			if err != nil {
				continue
			}
			checkNodes(t, e, nodes)
		}
	})
}

// FuzzRegex checks that any pattern, flags and replacement compile or fail
// without panicking, and match in bounded time (RE2).
func FuzzRegex(f *testing.F) {
	for _, s := range []string{`[A-Z]([A-Za-z0-9_]){0,254}`, `^[a-zA-Z0-9\/\-_\[\]\@]+$`, `\u00e9\s\S[^]`, `(a*)*b`, `\`, `[`, `\u{1F600}`, `\0`} {
		f.Add(s, "im", "$1$&$<x>$$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")
	}
	f.Fuzz(func(t *testing.T, pattern, flags, repl, input string) {
		for _, mode := range []regexMode{reMatches, reMatchesFull, reReplace} {
			re, err := compileRegex(pattern, flags, mode)
			if err != nil {
				continue
			}
			_ = re.MatchString(input)
			_ = re.ReplaceAllString(input, translateReplacement(repl, re))
		}
	})
}

// checkNodes checks the documented shape of result values.
func checkNodes(t *testing.T, e *Expr, nodes []Node) {
	t.Helper()
	for _, n := range nodes {
		switch n.Value.(type) {
		case string, jsontree.Number, bool, *jsontree.Object:
		case nil:
			if n.Ext == nil {
				t.Fatalf("%s: node with neither value nor companion: %+v", e, n)
			}
		default:
			t.Fatalf("%s: node value of type %T", e, n.Value)
		}
		if n.Type == "" {
			t.Fatalf("%s: node without a type", e)
		}
	}
}
