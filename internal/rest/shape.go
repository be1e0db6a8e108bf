package rest

import (
	"net/url"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// shaping is what _summary and _elements ask of a resource representation.
type shaping struct {
	summary  fhir.SummaryMode
	elements []string // nil: all
	typ      string   // the type elements were checked against ("" for several)
}

// parseShaping reads _summary and _elements for resources of typ (""
// when a search spans types: element names are then checked per entry).
func parseShaping(q url.Values, typ string) (shaping, error) {
	var sh shaping
	if v := q.Get("_summary"); v != "" {
		m, err := fhir.ParseSummary(v)
		if err != nil {
			return sh, err
		}
		sh.summary = m
	}
	if v := q.Get("_elements"); v != "" {
		sh.typ = typ
		if typ == "" {
			for _, name := range strings.Split(v, ",") {
				if name = strings.TrimSpace(name); name != "" {
					sh.elements = append(sh.elements, name)
				}
			}
			return sh, nil
		}
		els, err := fhir.ParseElements(typ, v)
		if err != nil {
			return sh, err
		}
		sh.elements = els
	}
	return sh, nil
}

func (sh shaping) none() bool {
	return sh.elements == nil && (sh.summary == fhir.SummaryFalse || sh.summary == fhir.SummaryCount)
}

// apply returns the stored body as is, or reduced and tagged SUBSETTED.
func (sh shaping) apply(body []byte, typ string) (any, error) {
	if sh.none() {
		return jsontree.Raw(body), nil
	}
	obj, err := jsontree.ParseObject(body)
	if err != nil {
		return nil, err
	}
	out, cut := obj, false
	if sh.summary != fhir.SummaryFalse && sh.summary != fhir.SummaryCount {
		out, cut = fhir.Summarize(out, sh.summary)
	}
	if sh.elements != nil {
		names := sh.elements
		if sh.typ == "" {
			names = validFor(typ, names)
		}
		var cutE bool
		out, cutE = fhir.Elements(out, names)
		cut = cut || cutE
	}
	if !cut {
		return jsontree.Raw(body), nil
	}
	if out == obj {
		out = jsontree.Clone(obj).(*jsontree.Object)
	}
	fhir.MarkSubsetted(out)
	return out, nil
}

// validFor keeps the element names that exist on typ (a search across
// types checks _elements per entry).
func validFor(typ string, names []string) []string {
	var out []string
	for _, n := range names {
		if _, err := fhir.ParseElements(typ, n); err == nil {
			out = append(out, n)
		}
	}
	return out
}
