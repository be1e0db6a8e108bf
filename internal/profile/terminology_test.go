package profile

import "testing"

// TestValueSetExpansion: what local content decides and what it leaves
// unknown, for each way a ValueSet composes codes.
func TestValueSetExpansion(t *testing.T) {
	terms := newTerminology()
	for _, r := range []string{
		`{"resourceType":"CodeSystem","url":"http://x/cs","content":"complete","concept":[
			{"code":"animal","concept":[{"code":"dog","concept":[{"code":"puppy"}]},{"code":"cat"}]},
			{"code":"plant"}]}`,
		`{"resourceType":"CodeSystem","url":"http://x/fragment","content":"fragment","concept":[{"code":"a"}]}`,
		`{"resourceType":"ValueSet","url":"http://x/all","compose":{"include":[{"system":"http://x/cs"}],"exclude":[{"system":"http://x/cs","concept":[{"code":"plant"}]}]}}`,
		`{"resourceType":"ValueSet","url":"http://x/listed","compose":{"include":[{"system":"http://x/cs","concept":[{"code":"cat"}]}]}}`,
		`{"resourceType":"ValueSet","url":"http://x/is-a","compose":{"include":[{"system":"http://x/cs","filter":[{"property":"concept","op":"is-a","value":"dog"}]}]}}`,
		`{"resourceType":"ValueSet","url":"http://x/descendent","compose":{"include":[{"system":"http://x/cs","filter":[{"property":"concept","op":"descendent-of","value":"animal"}]}]}}`,
		`{"resourceType":"ValueSet","url":"http://x/not-a","compose":{"include":[{"system":"http://x/cs","filter":[{"property":"concept","op":"is-not-a","value":"animal"}]}]}}`,
		`{"resourceType":"ValueSet","url":"http://x/regex","compose":{"include":[{"system":"http://x/cs","filter":[{"property":"code","op":"regex","value":"p.*"}]}]}}`,
		`{"resourceType":"ValueSet","url":"http://x/external","compose":{"include":[{"system":"http://snomed.info/sct"},{"system":"http://x/cs","concept":[{"code":"cat"}]}]}}`,
		`{"resourceType":"ValueSet","url":"http://x/fragmentary","compose":{"include":[{"system":"http://x/fragment"}]}}`,
		`{"resourceType":"ValueSet","url":"http://x/nested","compose":{"include":[{"valueSet":["http://x/listed"]}]}}`,
	} {
		if err := terms.add([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		vs, system, code string
		want             membership
	}{
		{"http://x/all", "http://x/cs", "puppy", member},
		{"http://x/all", "http://x/cs", "plant", notMember},
		{"http://x/all", "", "cat", member},
		{"http://x/all", "http://other/cs", "cat", notMember},
		{"http://x/listed", "http://x/cs", "cat", member},
		{"http://x/listed", "http://x/cs", "dog", notMember},
		{"http://x/is-a", "http://x/cs", "dog", member},
		{"http://x/is-a", "http://x/cs", "puppy", member},
		{"http://x/is-a", "http://x/cs", "cat", notMember},
		{"http://x/descendent", "http://x/cs", "animal", notMember},
		{"http://x/descendent", "http://x/cs", "puppy", member},
		{"http://x/not-a", "http://x/cs", "plant", member},
		{"http://x/not-a", "http://x/cs", "dog", notMember},
		{"http://x/regex", "http://x/cs", "plant", unknown},
		{"http://x/external", "http://snomed.info/sct", "22298006", unknown},
		{"http://x/external", "http://x/cs", "cat", member},
		{"http://x/external", "http://x/cs", "dog", notMember},
		{"http://x/external", "", "dog", unknown},
		{"http://x/fragmentary", "http://x/fragment", "a", member},
		{"http://x/fragmentary", "http://x/fragment", "b", unknown},
		{"http://x/nested|1.0", "http://x/cs", "cat", member},
	}
	for _, tt := range tests {
		vs := terms.valueSet(tt.vs)
		if vs == nil {
			t.Fatalf("%s: not expanded", tt.vs)
		}
		if got := vs.contains(tt.system, tt.code); got != tt.want {
			t.Errorf("%s contains %s|%s = %v; want %v", tt.vs, tt.system, tt.code, got, tt.want)
		}
	}
	if terms.valueSet("http://x/absent") != nil {
		t.Errorf("an absent value set expanded")
	}
}
