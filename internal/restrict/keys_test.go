package restrict

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
)

func TestKeys(t *testing.T) {
	tests := []struct {
		name string
		rule *Rule
		want []string
	}{
		{"empty", &Rule{Status: "active"}, nil},
		{"broken", &Rule{Actors: []string{"Organization/a"}, Labels: []Label{{Code: "c"}}, Err: errors.New("x")}, nil},
		{
			name: "actors canonical, sorted, deduplicated",
			rule: &Rule{Actors: []string{"Organization/b/_history/2", "Organization/a", "Organization/b", "CareTeam/t", "https://x.example/fhir/Organization/far", "#c"}},
			want: []string{"#c", "CareTeam/t", "Organization/a", "Organization/b", "https://x.example/fhir/Organization/far"},
		},
		{
			name: "labels",
			rule: &Rule{Labels: []Label{{Code: "counsellor"}, {System: "http://roles", Code: "nurse"}, {Display: "display only"}, {System: "http://roles"}}},
			want: []string{"label:counsellor", "label:http://roles|nurse", "label:nurse"},
		},
		{"actor looking like a label is no key", &Rule{Actors: []string{"label:x"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rule.Keys(); !slices.Equal(got, tt.want) {
				t.Errorf("Keys() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestViewerKeys(t *testing.T) {
	tests := []struct {
		name  string
		v     Viewer
		teams []string
		want  []string
	}{
		{"zero", Viewer{}, nil, nil},
		{
			name:  "organization, ancestors, teams, roles",
			v:     Viewer{Organization: "Organization/dept", Ancestors: []string{"Organization/top/_history/1", "Organization/mid"}, Roles: []string{"http://roles|nurse", "counsellor"}},
			teams: []string{"CareTeam/blue", "CareTeam/blue"},
			want:  []string{"CareTeam/blue", "Organization/dept", "Organization/mid", "Organization/top", "label:counsellor", "label:http://roles|nurse"},
		},
		{"no organization: roles only", Viewer{Ancestors: []string{"Organization/top"}, Roles: []string{"r"}}, []string{"CareTeam/blue"}, []string{"label:r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ViewerKeys(tt.v, tt.teams); !slices.Equal(got, tt.want) {
				t.Errorf("ViewerKeys(%+v, %q) = %q; want %q", tt.v, tt.teams, got, tt.want)
			}
		})
	}
}

// keysPermit is the store's decision: the viewer's keys meet the rule's.
func keysPermit(viewer, rule []string) bool {
	for _, k := range viewer {
		if _, found := slices.BinarySearch(rule, k); found {
			return true
		}
	}
	return false
}

// withTeams returns v with a Membership consistent with teams, written
// independently of WithTeams: each team, as written or canonical, has v's
// organization as a member, nothing else has members.
func withTeams(v Viewer, teams []string) Viewer {
	v.Membership = func(ref string) []string {
		if slices.Contains(teams, ref) || slices.Contains(teams, canonical(ref)) {
			return []string{v.Organization}
		}
		return nil
	}
	return v
}

// TestKeysAgreeWithPermits checks that deciding by permit keys (the store)
// and by Rule.Permits give the same answer, for hand-picked cases and for
// random rules and viewers drawn from one vocabulary.
func TestKeysAgreeWithPermits(t *testing.T) {
	check := func(t *testing.T, r *Rule, v Viewer, teams []string) {
		t.Helper()
		want := r.Permits(withTeams(v, teams))
		if got := keysPermit(ViewerKeys(v, teams), r.Keys()); got != want {
			t.Errorf("rule %+v, viewer %+v, teams %q: keys permit %v; Permits %v (keys %q, viewer keys %q)",
				r, v, teams, got, want, r.Keys(), ViewerKeys(v, teams))
		}
		if got := r.Permits(v.WithTeams(teams)); got != want {
			t.Errorf("rule %+v, viewer %+v, teams %q: Permits(WithTeams) = %v; want %v", r, v, teams, got, want)
		}
	}
	tests := []struct {
		name  string
		rule  *Rule
		v     Viewer
		teams []string
	}{
		{"organization", &Rule{Actors: []string{"Organization/a"}}, Viewer{Organization: "Organization/a"}, nil},
		{"versioned actor", &Rule{Actors: []string{"Organization/a/_history/4"}}, Viewer{Organization: "Organization/a"}, nil},
		{"versioned organization", &Rule{Actors: []string{"Organization/a"}}, Viewer{Organization: "Organization/a/_history/1"}, nil},
		{"ancestor", &Rule{Actors: []string{"Organization/top"}}, Viewer{Organization: "Organization/a", Ancestors: []string{"Organization/top"}}, nil},
		{"parent not permitted by child's rule", &Rule{Actors: []string{"Organization/a"}}, Viewer{Organization: "Organization/top"}, nil},
		{"team", &Rule{Actors: []string{"CareTeam/t"}}, Viewer{Organization: "Organization/a"}, []string{"CareTeam/t"}},
		{"versioned team actor", &Rule{Actors: []string{"CareTeam/t/_history/2"}}, Viewer{Organization: "Organization/a"}, []string{"CareTeam/t"}},
		{"team, no organization", &Rule{Actors: []string{"CareTeam/t"}}, Viewer{}, []string{"CareTeam/t"}},
		{"absolute actor", &Rule{Actors: []string{"https://x.example/Organization/a"}}, Viewer{Organization: "Organization/a"}, nil},
		{"label code", &Rule{Labels: []Label{{System: "s", Code: "c"}}}, Viewer{Roles: []string{"c"}}, nil},
		{"label system|code", &Rule{Labels: []Label{{System: "s", Code: "c"}}}, Viewer{Roles: []string{"s|c"}}, nil},
		{"label without system, role with", &Rule{Labels: []Label{{Code: "c"}}}, Viewer{Roles: []string{"s|c"}}, nil},
		{"label code holding a bar", &Rule{Labels: []Label{{Code: "s|c"}}}, Viewer{Roles: []string{"s|c"}}, nil},
		{"display-only label", &Rule{Labels: []Label{{Display: "d"}}}, Viewer{Roles: []string{"d", ""}}, nil},
		{"actor written as a label", &Rule{Actors: []string{"label:c"}}, Viewer{Organization: "label:c", Roles: []string{"c"}}, nil},
		{"broken", &Rule{Actors: []string{"Organization/a"}, Err: errors.New("x")}, Viewer{Organization: "Organization/a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, tt.rule, tt.v, tt.teams) })
	}

	t.Run("random", func(t *testing.T) {
		orgs := []string{"Organization/a", "Organization/b", "Organization/c", "Organization/a/_history/2", "https://x.example/fhir/Organization/a", ""}
		actors := append(slices.Clone(orgs), "CareTeam/t", "CareTeam/u", "CareTeam/t/_history/1", "Practitioner/p", "#c", "label:s|c")
		systems := []string{"", "s", "http://roles"}
		codes := []string{"", "c", "d", "s|c"}
		rng := rand.New(rand.NewPCG(7, 11))
		pick := func(from []string, max int) []string {
			var out []string
			for range rng.IntN(max + 1) {
				out = append(out, from[rng.IntN(len(from))])
			}
			return out
		}
		const n = 20000
		permitted := 0
		for range n {
			r := &Rule{Status: "active", Actors: slices.DeleteFunc(pick(actors, 3), func(s string) bool { return s == "" })}
			for range rng.IntN(3) {
				r.Labels = append(r.Labels, Label{System: systems[rng.IntN(len(systems))], Code: codes[rng.IntN(len(codes))]})
			}
			if rng.IntN(10) == 0 {
				r.Err = errors.New("broken")
			}
			v := Viewer{Organization: orgs[rng.IntN(len(orgs))], Ancestors: pick(orgs, 2)}
			for _, role := range pick(codes, 2) {
				if sys := systems[rng.IntN(len(systems))]; sys != "" {
					role = sys + "|" + role
				}
				v.Roles = append(v.Roles, role)
			}
			teams := pick([]string{"CareTeam/t", "CareTeam/u"}, 2)
			check(t, r, v, teams)
			if t.Failed() {
				return
			}
			if r.Permits(withTeams(v, teams)) {
				permitted++
			}
		}
		// Both answers must be common, or the comparison proves little.
		if permitted < n/10 || permitted > n*9/10 {
			t.Errorf("%d of %d random cases permitted; want between 10%% and 90%%", permitted, n)
		}
	})
}

// TestKeysExamples: the IG's restricted examples name their actor by
// display only and their label by display only, so their rules have no
// keys and only operators pass them.
func TestKeysExamples(t *testing.T) {
	for _, file := range []string{"location-womens-shelter.json", "healthcareservice-womens-shelter.json", "womens-shelter.json"} {
		rs := Parse(example(t, file))
		if len(rs.Applying()) == 0 {
			t.Fatalf("%s: no restriction in force", file)
		}
		for _, r := range rs.Applying() {
			if k := r.Rule.Keys(); k != nil {
				t.Errorf("%s %s: Keys() = %q; want none", file, r.Element, k)
			}
		}
	}
}

// TestViewByAgreesWithView checks that View is ViewBy with Rule.Permits, on
// the shelter examples and a resource with broken and nested rules.
func TestViewByAgreesWithView(t *testing.T) {
	objs := []*jsontree.Object{
		example(t, "location-womens-shelter.json"),
		example(t, "womens-shelter.json"),
		mustObject(t, `{"resourceType":"Location","contained":[`+consent("a", "active", acme)+`,`+consent("b", "active", nil, "r")+`],`+
			`"address":{"extension":`+ext("a")+`,"city":"x","_city":{"extension":`+ext("b")+`}},"telecom":[{"value":"1","extension":`+ext("gone")+`}],"name":"n"}`),
		mustObject(t, `{"resourceType":"Location","contained":[`+consent("a", "active", acme)+`],"extension":`+ext("a")+`,"name":"n"}`),
	}
	viewers := []Viewer{{}, {Organization: "Organization/acme"}, {Roles: []string{"r"}}, {Organization: "Organization/acme", Roles: []string{"r"}}, {Operator: true}}
	for i, obj := range objs {
		rs := Parse(obj)
		for _, v := range viewers {
			want, wantVisible, wantSub := View(obj, rs, v)
			got, visible, sub := ViewBy(obj, rs, func(r *Rule) bool { return r.Permits(v) })
			if visible != wantVisible || sub != wantSub || (got == nil) != (want == nil) {
				t.Fatalf("object %d, viewer %+v: ViewBy = %v, %v, %v; View = %v, %v, %v", i, v, visible, sub, got != nil, wantVisible, wantSub, want != nil)
			}
			if got != nil && string(jsontree.Marshal(got)) != string(jsontree.Marshal(want)) {
				t.Errorf("object %d, viewer %+v: ViewBy = %s; View = %s", i, v, jsontree.Marshal(got), jsontree.Marshal(want))
			}
		}
	}
}

func TestCovering(t *testing.T) {
	obj := mustObject(t, `{"resourceType":"Location","contained":[`+
		consent("root", "active", acme)+`,`+consent("addr", "active", acme)+`,`+consent("city", "active", nil, "r")+`,`+
		consent("tel", "active", nil)+`,`+consent("off", "inactive", nil)+`],`+
		`"extension":`+ext("root")+`,`+
		`"address":{"extension":`+ext("addr")+`,"city":"x","_city":{"extension":`+ext("city")+`}},`+
		`"telecom":[{"value":"1"},{"value":"2","extension":`+ext("tel")+`},{"value":"3","extension":`+ext("broken")+`}],`+
		`"name":"n","_name":{"extension":`+ext("off")+`}}`)
	rs := Parse(obj)
	consents := func(rules []*Rule) string {
		var out []string
		for _, r := range rules {
			c := r.Consent
			if r.Err != nil {
				c = "!" + c
			}
			out = append(out, c)
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		loc  string
		want string
	}{
		{"Location.name", ""}, // its Consent is not in force
		{"Location.address", "addr,city"},
		{"Location.address.city", "addr,city"},
		{"Location.address.line", "addr"},
		{"Location.telecom[0]", ""},
		{"Location.telecom[1]", "tel"},
		{"Location.telecom[2].value", "!broken"},
		{"Location.telecom", "tel,!broken"},
		{"Location", "addr,city,tel,!broken"},
		{"Location.position", ""},
		{"Location.address.where(city='x')", "addr,city,tel,!broken"}, // not understood: fail closed
		{"Organization.name", "addr,city,tel,!broken"},                // another type: fail closed
	}
	for _, tt := range tests {
		if got := consents(rs.Covering(tt.loc)); got != tt.want {
			t.Errorf("Covering(%q) = %s; want %s", tt.loc, got, tt.want)
		}
	}
}
