package fhirpath

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// htmlChecks() is FHIR R4's check of narrative XHTML (fhirpath.html,
// "htmlChecks"; the rules are narrative.html#xhtml, invariants txt-1 and
// txt-2): a single div in the XHTML namespace, only the basic formatting
// elements and attributes of HTML 4.0 (chapters 7–11, 15), links and images,
// and some non-whitespace content. It is true when every item of its focus
// passes.
type htmlChecksEval struct{}

func buildHTMLChecks(*ast, *typeInfo) (evaluator, *typeInfo, error) {
	return htmlChecksEval{}, nil, nil
}

func (htmlChecksEval) eval(_ *ctx, in, out []Node) ([]Node, error) {
	if len(in) == 0 {
		return out, nil
	}
	for _, n := range in {
		s, ok := n.Value.(string)
		if !ok || htmlProblem(s) != "" {
			return append(out, boolNode(false)), nil
		}
	}
	return append(out, boolNode(true)), nil
}

const xhtmlNS = "http://www.w3.org/1999/xhtml"

// htmlElements and htmlAttributes are what FHIR narrative may use: the
// HTML 4.0 elements of chapters 7–11 and 15 (not section 9.4, ins/del),
// a and img (HL7's validator keeps the same lists).
var htmlElements = setOf("p", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6", "a", "span", "b", "em", "i",
	"strong", "small", "big", "tt", "dfn", "q", "var", "abbr", "acronym", "cite", "blockquote", "hr",
	"address", "bdo", "kbd", "sub", "sup", "ul", "ol", "li", "dl", "dt", "dd", "pre", "table", "caption",
	"colgroup", "col", "thead", "tr", "tfoot", "tbody", "th", "td", "code", "samp", "img", "map", "area")

var htmlAttributes = setOf("title", "style", "class", "id", "lang", "dir", "accesskey", "tabindex",
	"span", "width", "align", "valign", "char", "charoff", "abbr", "axis", "headers", "scope", "rowspan",
	"colspan", "src", "alt", "height", "href", "name", "rel", "rev", "hreflang", "charset", "type",
	"border", "cellpadding", "cellspacing", "frame", "rules", "summary", "bgcolor", "nowrap", "start",
	"value", "compact", "coords", "shape", "datetime", "cite", "usemap", "nohref", "longdesc")

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// htmlProblem returns why s is not acceptable narrative, or "".
func htmlProblem(s string) string {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	depth, text := 0, false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "not well-formed XHTML: " + err.Error()
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && (t.Name.Local != "div" || t.Name.Space != xhtmlNS) {
				return "the narrative must be one div in the XHTML namespace"
			}
			if t.Name.Space != xhtmlNS || !htmlElements[t.Name.Local] {
				return "element " + t.Name.Local + " is not allowed in narrative"
			}
			if p := attrProblem(t.Attr); p != "" {
				return p
			}
			if t.Name.Local == "img" {
				text = true // an image is content
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && strings.TrimSpace(string(t)) != "" {
				return "text outside the div"
			}
			if strings.TrimSpace(string(t)) != "" {
				text = true
			}
		case xml.ProcInst, xml.Directive:
			return "processing instructions and directives are not allowed in narrative"
		}
	}
	if !text {
		return "the narrative has no content"
	}
	return ""
}

func attrProblem(attrs []xml.Attr) string {
	for _, a := range attrs {
		switch {
		case a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns":
		case a.Name.Space == "http://www.w3.org/XML/1998/namespace" && a.Name.Local == "lang":
		case a.Name.Space == "" && htmlAttributes[a.Name.Local]:
			if (a.Name.Local == "href" || a.Name.Local == "src") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Value)), "javascript:") {
				return "attribute " + a.Name.Local + " must not run script"
			}
		default:
			return "attribute " + a.Name.Local + " is not allowed in narrative"
		}
	}
	return ""
}
