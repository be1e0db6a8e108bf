package restrict

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/fhirpath"
	"github.com/vhdir/vhdir/internal/jsontree"
)

func mustObject(tb testing.TB, s string) *jsontree.Object {
	tb.Helper()
	o, err := jsontree.ParseObject([]byte(s))
	if err != nil {
		tb.Fatalf("ParseObject(%s) = %v", s, err)
	}
	return o
}

// compact rewrites JSON text s the way jsontree.Marshal writes it.
func compact(tb testing.TB, s string) string {
	tb.Helper()
	return string(jsontree.Marshal(mustObject(tb, s)))
}

// ext is a usage-restriction extension array pointing at #id.
func ext(id string) string {
	return `[{"url":"` + ExtensionURL + `","valueReference":{"reference":"#` + id + `"}}]`
}

// consent is a contained Consent. actors are references, or "display:X" for
// an actor with only a display; labels are "code" or "system|code".
func consent(id, status string, actors []string, labels ...string) string {
	var as, ls []string
	for _, a := range actors {
		if d, ok := strings.CutPrefix(a, "display:"); ok {
			as = append(as, `{"reference":{"display":"`+d+`"}}`)
		} else {
			as = append(as, `{"reference":{"reference":"`+a+`"}}`)
		}
	}
	for _, l := range labels {
		if sys, code, ok := strings.Cut(l, "|"); ok {
			ls = append(ls, `{"system":"`+sys+`","code":"`+code+`"}`)
		} else {
			ls = append(ls, `{"code":"`+l+`"}`)
		}
	}
	return fmt.Sprintf(`{"resourceType":"Consent","id":%q,"status":%q,"provision":{"type":"permit","actor":[%s],"securityLabel":[%s]}}`,
		id, status, strings.Join(as, ","), strings.Join(ls, ","))
}

const subsetted = `"meta":{"tag":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED"}]}`

var acme = []string{"Organization/acme"}

func TestParse(t *testing.T) {
	type want struct {
		element string
		applies bool
		broken  bool
	}
	tests := []struct {
		name string
		res  string
		want []want
	}{
		{
			name: "root",
			res:  `{"resourceType":"Organization","id":"o","contained":[` + consent("c", "active", acme) + `],"extension":` + ext("c") + `,"name":"x"}`,
			want: []want{{"Organization", true, false}},
		},
		{
			name: "modifierExtension counts",
			res:  `{"resourceType":"Organization","contained":[` + consent("c", "active", acme) + `],"modifierExtension":` + ext("c") + `}`,
			want: []want{{"Organization", true, false}},
		},
		{
			name: "inactive consent does not apply",
			res:  `{"resourceType":"Organization","contained":[` + consent("c", "inactive", acme) + `],"extension":` + ext("c") + `}`,
			want: []want{{"Organization", false, false}},
		},
		{
			name: "missing contained consent is broken",
			res:  `{"resourceType":"Organization","extension":` + ext("nope") + `}`,
			want: []want{{"Organization", true, true}},
		},
		{
			name: "contained target not a Consent",
			res:  `{"resourceType":"Organization","contained":[{"resourceType":"Location","id":"c"}],"telecom":[{"extension":` + ext("c") + `}]}`,
			want: []want{{"Organization.telecom[0]", true, true}},
		},
		{
			name: "duplicate contained id",
			res:  `{"resourceType":"Organization","contained":[` + consent("c", "active", acme) + `,` + consent("c", "inactive", nil) + `],"extension":` + ext("c") + `}`,
			want: []want{{"Organization", true, true}},
		},
		{
			name: "consent without status",
			res:  `{"resourceType":"Organization","contained":[{"resourceType":"Consent","id":"c"}],"extension":` + ext("c") + `}`,
			want: []want{{"Organization", true, true}},
		},
		{
			name: "deny provision",
			res:  `{"resourceType":"Organization","contained":[{"resourceType":"Consent","id":"c","status":"active","provision":{"type":"deny"}}],"extension":` + ext("c") + `}`,
			want: []want{{"Organization", true, true}},
		},
		{
			name: "reference not local",
			res:  `{"resourceType":"Organization","extension":[{"url":"` + ExtensionURL + `","valueReference":{"reference":"Consent/c"}}]}`,
			want: []want{{"Organization", true, true}},
		},
		{
			name: "nested element",
			res:  `{"resourceType":"Practitioner","contained":[` + consent("c", "active", acme) + `],"identifier":[{"value":"1"},{"value":"2","period":{"extension":` + ext("c") + `,"start":"2020"}}]}`,
			want: []want{{"Practitioner.identifier[1].period", true, false}},
		},
		{
			name: "primitive companion",
			res:  `{"resourceType":"Practitioner","contained":[` + consent("c", "active", acme) + `],"birthDate":"1970","_birthDate":{"extension":` + ext("c") + `}}`,
			want: []want{{"Practitioner.birthDate", true, false}},
		},
		{
			name: "primitive array companion",
			res:  `{"resourceType":"Practitioner","contained":[` + consent("c", "active", acme) + `],"name":[{"given":["a","b"],"_given":[null,{"extension":` + ext("c") + `}]}]}`,
			want: []want{{"Practitioner.name[0].given[1]", true, false}},
		},
		{
			name: "contained resource root",
			res:  `{"resourceType":"Organization","contained":[` + consent("c", "active", acme) + `,{"resourceType":"Location","id":"l","extension":` + ext("c") + `}]}`,
			want: []want{{"Organization.contained[1]", true, false}},
		},
		{
			name: "extensions inside a contained Consent are not restrictions",
			res:  `{"resourceType":"Organization","contained":[{"resourceType":"Consent","id":"c","status":"active","extension":` + ext("c") + `}]}`,
			want: nil,
		},
		{
			name: "bundle entry resource root",
			res:  `{"resourceType":"Bundle","entry":[{"fullUrl":"x","resource":{"resourceType":"Organization","contained":[` + consent("c", "active", acme) + `],"extension":` + ext("c") + `}}]}`,
			want: []want{{"Bundle.entry[0]", true, false}},
		},
		{
			name: "bundle entry resolves against its own contained",
			res:  `{"resourceType":"Bundle","contained":[` + consent("c", "active", acme) + `],"entry":[{"resource":{"resourceType":"Organization","name":"n","_name":{"extension":` + ext("c") + `}}}]}`,
			want: []want{{"Bundle.entry[0].resource.name", true, true}},
		},
		{
			name: "other extensions are ignored",
			res:  `{"resourceType":"Organization","extension":[{"url":"http://example.org/x","valueString":"y"}]}`,
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := Parse(mustObject(t, tt.res))
			var got []want
			for _, r := range rs.All {
				got = append(got, want{r.Element, r.Rule.Applies(), r.Rule.Err != nil})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Parse = %+v; want %+v", got, tt.want)
			}
			if broken := slices.ContainsFunc(tt.want, func(w want) bool { return w.broken }); (rs.Err() != nil) != broken {
				t.Errorf("Err() = %v; want error %v", rs.Err(), broken)
			}
		})
	}
}

func TestParseRule(t *testing.T) {
	res := mustObject(t, `{"resourceType":"Location","contained":[`+
		consent("c", "active", []string{"Organization/a", "CareTeam/b", "display:Blue"}, "counsellor", "http://s|x")+
		`],"address":{"extension":`+ext("c")+`},"telecom":[{"extension":`+ext("c")+`}]}`)
	rs := Parse(res)
	if len(rs.All) != 2 {
		t.Fatalf("Parse found %d restrictions; want 2", len(rs.All))
	}
	if rs.All[0].Rule != rs.All[1].Rule {
		t.Errorf("two restrictions on one Consent have different rules")
	}
	r := rs.All[0].Rule
	if !slices.Equal(r.Actors, []string{"Organization/a", "CareTeam/b"}) || !slices.Equal(r.Unreferenced, []string{"Blue"}) {
		t.Errorf("actors %q, unreferenced %q", r.Actors, r.Unreferenced)
	}
	if want := []Label{{Code: "counsellor"}, {System: "http://s", Code: "x"}}; !slices.Equal(r.Labels, want) {
		t.Errorf("labels %+v; want %+v", r.Labels, want)
	}
}

func TestPermits(t *testing.T) {
	rule := &Rule{Status: "active",
		Actors: []string{"Organization/parent", "CareTeam/blue", "https://other.example/fhir/Organization/far"},
		Labels: []Label{{Code: "counsellor"}, {System: "http://roles", Code: "nurse"}, {Display: "womens-abuse-councellors"}}}
	teams := func(ref string) []string {
		if ref == "CareTeam/blue" {
			return []string{"Organization/shelter", "Organization/clinic"}
		}
		return nil
	}
	tests := []struct {
		name string
		rule *Rule
		v    Viewer
		want bool
	}{
		{"nobody", rule, Viewer{}, false},
		{"operator", rule, Viewer{Operator: true}, true},
		{"operator, broken rule", &Rule{Err: fmt.Errorf("x")}, Viewer{Operator: true}, true},
		{"actor organization", rule, Viewer{Organization: "Organization/parent"}, true},
		{"actor organization, versioned", &Rule{Actors: []string{"Organization/parent/_history/3"}}, Viewer{Organization: "Organization/parent"}, true},
		{"other organization", rule, Viewer{Organization: "Organization/other"}, false},
		{"sub-organization of actor", rule, Viewer{Organization: "Organization/dept", Ancestors: []string{"Organization/mid", "Organization/parent"}}, true},
		{"parent of actor is not permitted", &Rule{Actors: []string{"Organization/dept"}}, Viewer{Organization: "Organization/parent"}, false},
		{"careteam without resolver", rule, Viewer{Organization: "Organization/shelter"}, false},
		{"careteam member", rule, Viewer{Organization: "Organization/clinic", Membership: teams}, true},
		{"sub-organization of careteam member", rule, Viewer{Organization: "Organization/ward", Ancestors: []string{"Organization/clinic"}, Membership: teams}, true},
		{"careteam non-member", rule, Viewer{Organization: "Organization/other", Membership: teams}, false},
		{"absolute actor not matched by Type/id", rule, Viewer{Organization: "Organization/far"}, false},
		{"security label code", rule, Viewer{Roles: []string{"counsellor"}}, true},
		{"security label system|code", rule, Viewer{Roles: []string{"http://roles|nurse"}}, true},
		{"security label wrong system", rule, Viewer{Roles: []string{"http://other|nurse"}}, false},
		{"security label display only matches nobody", rule, Viewer{Roles: []string{"womens-abuse-councellors"}}, false},
		{"empty role", rule, Viewer{Roles: []string{""}}, false},
		{"actor with display only", &Rule{Status: "active", Unreferenced: []string{"Blue Team"}}, Viewer{Organization: "Organization/blue"}, false},
		{"broken rule", &Rule{Actors: []string{"Organization/parent"}, Err: fmt.Errorf("x")}, Viewer{Organization: "Organization/parent"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rule.Permits(tt.v); got != tt.want {
				t.Errorf("Permits(%+v) = %v; want %v", tt.v, got, tt.want)
			}
		})
	}
}

func TestView(t *testing.T) {
	c := consent("c", "active", acme)
	tests := []struct {
		name    string
		res     string
		v       Viewer
		want    string // "" for invisible, "same" for the input itself
		visible bool
	}{
		{
			name: "root, not permitted",
			res:  `{"resourceType":"Organization","id":"o","contained":[` + c + `],"extension":` + ext("c") + `,"name":"x"}`,
			v:    Viewer{Organization: "Organization/other"},
		},
		{
			name:    "root, permitted",
			res:     `{"resourceType":"Organization","id":"o","contained":[` + c + `],"extension":` + ext("c") + `,"name":"x"}`,
			v:       Viewer{Organization: "Organization/acme"},
			want:    "same",
			visible: true,
		},
		{
			name:    "root inactive",
			res:     `{"resourceType":"Organization","contained":[` + consent("c", "rejected", acme) + `],"extension":` + ext("c") + `}`,
			want:    "same",
			visible: true,
		},
		{
			name: "root, missing consent: operators only",
			res:  `{"resourceType":"Organization","extension":` + ext("gone") + `}`,
			v:    Viewer{Organization: "Organization/acme", Roles: []string{"x"}},
		},
		{
			name:    "root, missing consent, operator",
			res:     `{"resourceType":"Organization","extension":` + ext("gone") + `}`,
			v:       Viewer{Operator: true},
			want:    "same",
			visible: true,
		},
		{
			name:    "element, missing consent",
			res:     `{"resourceType":"Organization","id":"o","name":"n","alias":["a"],"_alias":[{"extension":` + ext("gone") + `}]}`,
			v:       Viewer{Organization: "Organization/acme"},
			want:    `{"resourceType":"Organization","id":"o",` + subsetted + `,"name":"n"}`,
			visible: true,
		},
		{
			name:    "nested element",
			res:     `{"resourceType":"Practitioner","id":"p","contained":[` + c + `],"identifier":[{"value":"1"},{"value":"2","period":{"extension":` + ext("c") + `,"start":"2020"}}]}`,
			want:    `{"resourceType":"Practitioner","id":"p",` + subsetted + `,"identifier":[{"value":"1"},{"value":"2"}]}`,
			visible: true,
		},
		{
			name:    "nested element under a restricted element",
			res:     `{"resourceType":"Practitioner","id":"p","contained":[` + c + `],"identifier":[{"extension":` + ext("c") + `,"value":"2","period":{"extension":` + ext("c") + `,"start":"2020"}}]}`,
			want:    `{"resourceType":"Practitioner","id":"p",` + subsetted + `}`,
			visible: true,
		},
		{
			name:    "primitive with companion",
			res:     `{"resourceType":"Practitioner","id":"p","meta":{"versionId":"3"},"contained":[` + c + `],"birthDate":"1970-01-01","_birthDate":{"extension":` + ext("c") + `},"gender":"other"}`,
			want:    `{"resourceType":"Practitioner","id":"p","meta":{"versionId":"3","tag":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED"}]},"gender":"other"}`,
			visible: true,
		},
		{
			name:    "primitive array item with companion",
			res:     `{"resourceType":"Practitioner","contained":[` + c + `],"name":[{"given":["a","b","c"],"_given":[{"id":"g0"},{"extension":` + ext("c") + `},null]}]}`,
			want:    `{"resourceType":"Practitioner",` + subsetted + `,"name":[{"given":["a","c"],"_given":[{"id":"g0"},null]}]}`,
			visible: true,
		},
		{
			name:    "primitive array, only companion left null",
			res:     `{"resourceType":"Practitioner","contained":[` + c + `],"name":[{"given":["a","b"],"_given":[null,{"extension":` + ext("c") + `}]}]}`,
			want:    `{"resourceType":"Practitioner",` + subsetted + `,"name":[{"given":["a"]}]}`,
			visible: true,
		},
		{
			name:    "two elements share one consent, both hidden",
			res:     `{"resourceType":"Location","id":"l","contained":[` + c + `],"name":"n","telecom":[{"value":"1"},{"extension":` + ext("c") + `,"value":"2"}],"address":{"extension":` + ext("c") + `,"city":"Ann Arbor"}}`,
			want:    `{"resourceType":"Location","id":"l",` + subsetted + `,"name":"n","telecom":[{"value":"1"}]}`,
			visible: true,
		},
		{
			name:    "two elements share one consent, permitted",
			res:     `{"resourceType":"Location","id":"l","contained":[` + c + `],"telecom":[{"extension":` + ext("c") + `,"value":"2"}],"address":{"extension":` + ext("c") + `,"city":"Ann Arbor"}}`,
			v:       Viewer{Organization: "Organization/acme"},
			want:    "same",
			visible: true,
		},
		{
			name: "consent still referenced stays",
			res: `{"resourceType":"Location","contained":[` + c + `,` + consent("d", "active", []string{"Organization/other"}) + `],` +
				`"extension":` + ext("c") + `,"telecom":[{"extension":` + ext("d") + `,"value":"2"},{"extension":` + ext("c") + `,"value":"3"}]}`,
			v:       Viewer{Organization: "Organization/acme"},
			want:    `{"resourceType":"Location",` + subsetted + `,"contained":[` + c + `],"extension":` + ext("c") + `,"telecom":[{"extension":` + ext("c") + `,"value":"3"}]}`,
			visible: true,
		},
		{
			name:    "unreferenced consent not involved is left alone",
			res:     `{"resourceType":"Location","contained":[` + c + `,` + consent("spare", "active", nil) + `],"name":"n","address":{"extension":` + ext("c") + `,"city":"x"}}`,
			want:    `{"resourceType":"Location",` + subsetted + `,"contained":[` + consent("spare", "active", nil) + `],"name":"n"}`,
			visible: true,
		},
		{
			name:    "other references to the consent keep it",
			res:     `{"resourceType":"Location","contained":[` + c + `],"partOf":{"reference":"#c"},"address":{"extension":` + ext("c") + `,"city":"x"}}`,
			want:    `{"resourceType":"Location",` + subsetted + `,"contained":[` + c + `],"partOf":{"reference":"#c"}}`,
			visible: true,
		},
		{
			name:    "inactive element restriction ignored",
			res:     `{"resourceType":"Location","contained":[` + consent("c", "inactive", nil) + `],"address":{"extension":` + ext("c") + `,"city":"x"}}`,
			want:    "same",
			visible: true,
		},
		{
			name:    "two restrictions on one element: both must permit",
			res:     `{"resourceType":"Location","contained":[` + c + `,` + consent("d", "active", nil, "counsellor") + `],"name":"n","address":{"extension":[` + ext("c")[1:len(ext("c"))-1] + `,` + ext("d")[1:len(ext("d"))-1] + `],"city":"x"}}`,
			v:       Viewer{Organization: "Organization/acme"},
			want:    `{"resourceType":"Location",` + subsetted + `,"name":"n"}`, // both Consents left unreferenced
			visible: true,
		},
		{
			name:    "emptied parent goes too",
			res:     `{"resourceType":"Organization","contained":[` + c + `],"name":"n","contact":[{"telecom":[{"extension":` + ext("c") + `,"value":"1"}]},{"name":{"text":"t"}}]}`,
			want:    `{"resourceType":"Organization",` + subsetted + `,"name":"n","contact":[{"name":{"text":"t"}}]}`,
			visible: true,
		},
		{
			name:    "contained resource root",
			res:     `{"resourceType":"Organization","contained":[` + c + `,{"resourceType":"Location","id":"l","extension":` + ext("c") + `}],"name":"n"}`,
			want:    `{"resourceType":"Organization",` + subsetted + `,"name":"n"}`,
			visible: true,
		},
		{
			name: "bundle entry resource root removes the entry",
			res: `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"a","resource":{"resourceType":"Organization","id":"a"}},` +
				`{"fullUrl":"b","resource":{"resourceType":"Organization","id":"b","contained":[` + c + `],"extension":` + ext("c") + `}}]}`,
			want:    `{"resourceType":"Bundle",` + subsetted + `,"type":"collection","entry":[{"fullUrl":"a","resource":{"resourceType":"Organization","id":"a"}}]}`,
			visible: true,
		},
		{
			name:    "bundle entry element marks the entry resource",
			res:     `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Organization","id":"b","contained":[` + c + `],"name":"n","telecom":[{"extension":` + ext("c") + `}]}}]}`,
			want:    `{"resourceType":"Bundle",` + subsetted + `,"entry":[{"resource":{"resourceType":"Organization","id":"b",` + subsetted + `,"name":"n"}}]}`,
			visible: true,
		},
		{
			name:    "security label role",
			res:     `{"resourceType":"Location","contained":[` + consent("c", "active", nil, "counsellor") + `],"address":{"extension":` + ext("c") + `,"city":"x"}}`,
			v:       Viewer{Roles: []string{"counsellor"}},
			want:    "same",
			visible: true,
		},
		{
			name:    "partOf ancestor",
			res:     `{"resourceType":"Location","contained":[` + c + `],"address":{"extension":` + ext("c") + `,"city":"x"}}`,
			v:       Viewer{Organization: "Organization/ward", Ancestors: []string{"Organization/acme"}},
			want:    "same",
			visible: true,
		},
		{
			name: "careteam membership",
			res:  `{"resourceType":"Location","contained":[` + consent("c", "active", []string{"CareTeam/blue"}) + `],"address":{"extension":` + ext("c") + `,"city":"x"}}`,
			v: Viewer{Organization: "Organization/shelter", Membership: func(ref string) []string {
				if ref == "CareTeam/blue" {
					return []string{"Organization/shelter"}
				}
				return nil
			}},
			want:    "same",
			visible: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := mustObject(t, tt.res)
			before := string(jsontree.Marshal(obj))
			out, visible, sub := View(obj, Parse(obj), tt.v)
			if visible != tt.visible {
				t.Fatalf("View visible = %v; want %v", visible, tt.visible)
			}
			switch tt.want {
			case "":
				if out != nil || sub {
					t.Errorf("View = %s, %v; want nil, false", jsontree.Marshal(out), sub)
				}
			case "same":
				if out != obj || sub {
					t.Errorf("View = %s, subsetted %v; want the input itself", jsontree.Marshal(out), sub)
				}
			default:
				if got, want := string(jsontree.Marshal(out)), compact(t, tt.want); got != want || !sub {
					t.Errorf("View =\n%s, %v\nwant\n%s, true", got, sub, want)
				}
				// The result shares nothing with the input.
				if out == obj {
					t.Errorf("View returned its input after removing something")
				}
			}
			if after := string(jsontree.Marshal(obj)); after != before {
				t.Errorf("View modified its input:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

// TestViewSharesNothing checks that marking the result does not reach the
// input: the meta object must have been copied.
func TestViewSharesNothing(t *testing.T) {
	obj := mustObject(t, `{"resourceType":"Location","meta":{"versionId":"1"},"contained":[`+consent("c", "active", nil)+`],"address":{"extension":`+ext("c")+`}}`)
	out, _, _ := View(obj, Parse(obj), Viewer{})
	meta, _ := out.Object("meta")
	meta.Set("versionId", "changed")
	orig, _ := obj.Object("meta")
	if v, _ := orig.String("versionId"); v != "1" {
		t.Errorf("input meta.versionId = %q after changing the result; want 1", v)
	}
	if _, ok := orig.Get("tag"); ok {
		t.Errorf("input meta has a tag")
	}
}

func TestHidden(t *testing.T) {
	obj := mustObject(t, `{"resourceType":"Location","contained":[`+consent("c", "active", acme)+`,`+consent("d", "active", nil, "counsellor")+`],`+
		`"name":"n","alias":["a","b"],"_alias":[null,{"extension":`+ext("d")+`}],`+
		`"telecom":[{"value":"1"},{"extension":`+ext("c")+`,"value":"2","period":{"extension":`+ext("d")+`}}],`+
		`"address":{"extension":`+ext("c")+`,"city":"Ann Arbor","line":["x"]}}`)
	rs := Parse(obj)

	h := rs.Hidden(Viewer{})
	var paths []string
	for _, p := range h.Paths() {
		paths = append(paths, p.String())
	}
	// telecom[1].period is under telecom[1]: only the outer one is listed.
	if want := []string{"address", "alias[1]", "telecom[1]"}; !slices.Equal(paths, want) {
		t.Errorf("Hidden(nobody).Paths() = %q; want %q", paths, want)
	}
	covers := []struct {
		path Path
		want bool
	}{
		{Path{Member("address")}, true},
		{Path{Member("address"), Member("city")}, true},
		{Path{Member("telecom"), Item(1), Member("value")}, true},
		{Path{Member("telecom"), Item(0), Member("value")}, false},
		{Path{Member("telecom")}, false},
		{Path{Member("_alias"), Item(1)}, true},
		{Path{Member("alias"), Item(1)}, true},
		{Path{Member("alias"), Item(0)}, false},
		{Path{Member("name")}, false},
	}
	for _, c := range covers {
		if got := h.Covers(c.path); got != c.want {
			t.Errorf("Covers(%s) = %v; want %v", c.path, got, c.want)
		}
	}

	// The permitted organization still misses what Consent d protects.
	h = rs.Hidden(Viewer{Organization: "Organization/acme"})
	paths = paths[:0]
	for _, p := range h.Paths() {
		paths = append(paths, p.String())
	}
	if want := []string{"alias[1]", "telecom[1].period"}; !slices.Equal(paths, want) {
		t.Errorf("Hidden(acme).Paths() = %q; want %q", paths, want)
	}
	if !rs.Hidden(Viewer{Operator: true}).Empty() {
		t.Errorf("Hidden(operator) is not empty")
	}

	// Nodes marks what FHIRPath hands the indexer.
	set := rs.Hidden(Viewer{}).Nodes(obj)
	nodes := []struct {
		expr   string
		hidden []bool
	}{
		{"Location.address", []bool{true}},
		{"Location.telecom", []bool{false, true}},
		{"Location.telecom.period", []bool{true}},
		{"Location.alias", []bool{false, true}}, // by the companion (Node.Ext)
		{"Location.name", []bool{false}},
	}
	for _, n := range nodes {
		res, err := fhirpath.MustCompile(n.expr).Evaluate(obj)
		if err != nil {
			t.Fatalf("Evaluate(%s) = %v", n.expr, err)
		}
		var got []bool
		for _, r := range res {
			o, _ := r.Value.(*jsontree.Object)
			got = append(got, set.Has(o) || set.Has(r.Ext))
		}
		if !slices.Equal(got, n.hidden) {
			t.Errorf("%s hidden = %v; want %v", n.expr, got, n.hidden)
		}
	}
}

func TestCoversLocation(t *testing.T) {
	obj := mustObject(t, `{"resourceType":"Practitioner","contained":[`+consent("c", "active", nil)+`],`+
		`"qualification":[{"code":{"text":"a"}},{"extension":`+ext("c")+`,"code":{"text":"b"}}],"name":[{"family":"f","_family":{"extension":`+ext("c")+`}}]}`)
	h := Parse(obj).Hidden(Viewer{})
	tests := []struct {
		loc  string
		want bool
	}{
		{"Practitioner.qualification[0]", false},
		{"Practitioner.qualification[1]", true},
		{"Practitioner.qualification[1].code", true},
		{"Practitioner.qualification", true}, // all items, one hidden
		{"Practitioner.qualification.code", true},
		{"Practitioner.name[0].family", true},
		{"Practitioner.name", true},
		{"Practitioner.name[0].given", false},
		{"Practitioner.gender", false},
		{"Practitioner", true},                                    // the whole resource holds hidden parts
		{"Practitioner.qualification.where(code.text='a')", true}, // not understood: fail closed
		{"Organization.name", true},                               // another type: fail closed
		{"Practitioner.qualification[01]", true},                  // malformed: fail closed
	}
	for _, tt := range tests {
		if got := h.CoversLocation(tt.loc); got != tt.want {
			t.Errorf("CoversLocation(%q) = %v; want %v", tt.loc, got, tt.want)
		}
	}
	if Parse(obj).Hidden(Viewer{Operator: true}).CoversLocation("Practitioner.qualification.where(x)") {
		t.Errorf("CoversLocation with nothing hidden = true")
	}
}

func TestTargetOf(t *testing.T) {
	vr := mustObject(t, `{"resourceType":"VerificationResult","target":[{"reference":"Location/l"},{"display":"no reference"},{"reference":"Organization/o"}],"targetLocation":["Location.address",""]}`)
	targets, locs := TargetOf(vr)
	if !slices.Equal(targets, []string{"Location/l", "Organization/o"}) || !slices.Equal(locs, []string{"Location.address"}) {
		t.Errorf("TargetOf = %q, %q", targets, locs)
	}
	if targets, locs := TargetOf(mustObject(t, `{"resourceType":"VerificationResult","target":"x","targetLocation":{}}`)); targets != nil || locs != nil {
		t.Errorf("TargetOf(malformed) = %q, %q; want nil, nil", targets, locs)
	}
}

func BenchmarkViewUnrestricted(b *testing.B) {
	obj := mustObject(b, `{"resourceType":"Location","id":"l","name":"n","telecom":[{"value":"1"},{"value":"2"}],"address":{"city":"x","line":["a"]}}`)
	for b.Loop() {
		rs := Parse(obj)
		if out, _, _ := View(obj, rs, Viewer{}); out != obj {
			b.Fatal("copied")
		}
	}
}

// TestViewEveryElement restricts each element of an IG example in turn
// (complex elements through their extension, primitives through their
// companion) and checks that a viewer not permitted loses exactly that
// element: what remains has nothing left to hide and equals the example
// with the element deleted by hand.
func TestViewEveryElement(t *testing.T) {
	base := example(t, "practitioner-example-washington.json")
	base.Set("contained", []any{mustObject(t, consent("r", "active", acme))})
	var walk func(v any, path Path)
	var cases []Path
	walk = func(v any, path Path) {
		switch x := v.(type) {
		case *jsontree.Object:
			if len(path) > 0 {
				cases = append(cases, path)
			}
			for _, m := range x.Members {
				if len(path) == 0 && (m.Key == "contained" || m.Key == "resourceType") {
					continue
				}
				walk(m.Value, append(path[:len(path):len(path)], Member(m.Key)))
			}
		case []any:
			for i, item := range x {
				walk(item, append(path[:len(path):len(path)], Item(i)))
			}
		default:
			cases = append(cases, path)
		}
	}
	walk(base, nil)
	if len(cases) < 50 {
		t.Fatalf("only %d elements to restrict", len(cases))
	}
	restriction := mustObject(t, `{"url":"`+ExtensionURL+`","valueReference":{"reference":"#r"}}`)
	for _, p := range cases {
		obj := jsontree.Clone(base).(*jsontree.Object)
		want := jsontree.Clone(base).(*jsontree.Object)
		parent, _ := resolve(obj, p[:len(p)-1]).(*jsontree.Object)
		last := p[len(p)-1]
		if o, ok := resolve(obj, p).(*jsontree.Object); ok {
			v, _ := o.Get("extension")
			items, _ := v.([]any)
			o.Set("extension", append(items, restriction))
		} else if parent != nil && !last.IsItem() {
			parent.Set("_"+last.Key, &jsontree.Object{Members: []jsontree.Member{{Key: "extension", Value: []any{restriction}}}})
		} else {
			continue // a primitive array item: covered by TestView
		}
		// The expected result: the element deleted, empties cascading up,
		// the Consent gone, SUBSETTED.
		deletePath(want, p)
		want.Delete("contained")
		fhir.MarkSubsetted(want)

		rs := Parse(obj)
		if len(rs.All) != 1 || !slices.Equal(rs.All[0].Path, p) {
			t.Errorf("%s: Parse found %+v", p, rs.All)
			continue
		}
		out, visible, sub := View(obj, rs, Viewer{})
		if !visible || !sub {
			t.Errorf("%s: View visible, subsetted = %v, %v", p, visible, sub)
			continue
		}
		if got, w := string(jsontree.Marshal(out)), string(jsontree.Marshal(want)); got != w {
			t.Errorf("%s: View =\n%s\nwant\n%s", p, got, w)
		}
		if same, _, _ := View(obj, rs, Viewer{Organization: "Organization/acme"}); same != obj {
			t.Errorf("%s: permitted viewer got a copy", p)
		}
	}
}

// deletePath removes the value at p from v, and any object or array left
// empty on the way up (not the root).
func deletePath(root *jsontree.Object, p Path) {
	for n := len(p); n > 0; n-- {
		parent := resolve(root, p[:n-1])
		s := p[n-1]
		switch x := parent.(type) {
		case *jsontree.Object:
			x.Delete(s.Key)
			x.Delete("_" + s.Key)
			if n == 1 || len(x.Members) > 0 {
				return
			}
		case []any:
			items := append(x[:s.Index:s.Index], x[s.Index+1:]...)
			grand := resolve(root, p[:n-2]).(*jsontree.Object)
			if len(items) > 0 {
				grand.Set(p[n-2].Key, items)
				return
			}
			n-- // the array goes: delete its key next
			grand.Delete(p[n-1].Key)
			if n == 1 || len(grand.Members) > 0 {
				return
			}
		}
	}
}
