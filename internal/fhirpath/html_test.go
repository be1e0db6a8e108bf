package fhirpath

import (
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// TestHTMLChecks: htmlChecks() accepts narrative FHIR allows and refuses
// the rest (txt-1, txt-2).
func TestHTMLChecks(t *testing.T) {
	const ns = `xmlns="http://www.w3.org/1999/xhtml"`
	tests := []struct {
		name, div string
		ok        bool
	}{
		{"plain", `<div ` + ns + `>Dr. Adams</div>`, true},
		{"formatting, table, link, image", `<div ` + ns + `><p><b>A</b> <a href="https://x.example">x</a></p><table><tr><td colspan="2">1</td></tr></table><img src="#a" alt="a"/></div>`, true},
		{"image only", `<div ` + ns + `><img src="#a" alt="a"/></div>`, true},
		{"xml:lang", `<div ` + ns + ` xml:lang="en">A</div>`, true},
		{"no namespace", `<div>A</div>`, false},
		{"not a div", `<p ` + ns + `>A</p>`, false},
		{"script", `<div ` + ns + `><script>x()</script>A</div>`, false},
		{"form", `<div ` + ns + `><form>A</form></div>`, false},
		{"event attribute", `<div ` + ns + `><p onclick="x()">A</p></div>`, false},
		{"javascript link", `<div ` + ns + `><a href="javascript:x()">A</a></div>`, false},
		{"empty", `<div ` + ns + `>  </div>`, false},
		{"malformed", `<div ` + ns + `><p>A</div>`, false},
		{"text after the div", `<div ` + ns + `>A</div>B`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &jsontree.Object{}
			res.Set("resourceType", "Practitioner")
			text := &jsontree.Object{}
			text.Set("status", "generated")
			text.Set("div", tt.div)
			res.Set("text", text)
			ok, err := MustCompile("text.`div`.htmlChecks()").Check(res, nil, Focus{Value: res, Type: "Practitioner"})
			if err != nil || ok != tt.ok {
				t.Errorf("htmlChecks() of %s = %v, %v (%s); want %v", tt.div, ok, err, htmlProblem(tt.div), tt.ok)
			}
		})
	}
}
