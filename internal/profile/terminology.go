package profile

import (
	"encoding/json"
	"fmt"
	"strings"
)

// codeSystem is the content of a CodeSystem that validation needs: its codes,
// hierarchy flattened.
type codeSystem struct {
	URL      string
	Complete bool // content "complete": every code is listed
	Codes    map[string]struct{}
}

// valueSet is a value set expanded as far as local content allows. Codes of a
// system listed in open cannot be judged here (an external code system such
// as SNOMED CT, a filter, or a CodeSystem that is not embedded).
type valueSet struct {
	URL   string
	Codes map[string]map[string]struct{} // system → codes
	open  map[string]bool                // systems whose membership is unknown locally
	// whyOpen says, for the first unknown part, why it cannot be decided.
	whyOpen string
}

// membership is the verdict on a code against a value set.
type membership uint8

const (
	member    membership = iota + 1 // in the value set
	notMember                       // decided: not in it
	unknown                         // cannot be decided with local content
)

// contains judges (system, code). An empty system (a bare code) matches any
// system of the value set.
func (vs *valueSet) contains(system, code string) membership {
	if system == "" {
		for _, codes := range vs.Codes {
			if _, ok := codes[code]; ok {
				return member
			}
		}
		if len(vs.open) > 0 {
			return unknown
		}
		return notMember
	}
	if _, ok := vs.Codes[system][code]; ok {
		return member
	}
	if vs.open[system] || vs.open[""] {
		return unknown
	}
	return notMember
}

// terminology holds the local CodeSystems and ValueSets (R4's and the IG's)
// and expands value sets on first use.
type terminology struct {
	systems  map[string]*codeSystem
	sets     map[string]*rawValueSet
	expanded map[string]*valueSet
}

type rawConcept struct {
	Code    string       `json:"code"`
	Concept []rawConcept `json:"concept"`
}

type rawResource struct {
	ResourceType string       `json:"resourceType"`
	URL          string       `json:"url"`
	Content      string       `json:"content"`
	Concept      []rawConcept `json:"concept"`
	Compose      *struct {
		Include []rawInclude `json:"include"`
		Exclude []rawInclude `json:"exclude"`
	} `json:"compose"`
}

type rawValueSet = rawResource

type rawInclude struct {
	System  string `json:"system"`
	Concept []struct {
		Code string `json:"code"`
	} `json:"concept"`
	Filter   []json.RawMessage `json:"filter"`
	ValueSet []string          `json:"valueSet"`
}

func newTerminology() *terminology {
	return &terminology{
		systems:  map[string]*codeSystem{},
		sets:     map[string]*rawValueSet{},
		expanded: map[string]*valueSet{},
	}
}

// add loads one CodeSystem or ValueSet resource; other resources are
// ignored. A later definition of the same URL replaces an earlier one, so
// the IG's terminology wins over R4's where both define a URL.
func (t *terminology) add(data []byte) error {
	var r rawResource
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("terminology: %w", err)
	}
	switch r.ResourceType {
	case "CodeSystem":
		cs := &codeSystem{URL: r.URL, Complete: r.Content == "complete", Codes: map[string]struct{}{}}
		flatten(r.Concept, cs.Codes)
		t.systems[r.URL] = cs
	case "ValueSet":
		t.sets[r.URL] = &r
	}
	return nil
}

func flatten(cs []rawConcept, into map[string]struct{}) {
	for _, c := range cs {
		into[c.Code] = struct{}{}
		flatten(c.Concept, into)
	}
}

// valueSet returns the expansion of url (a "|version" suffix is ignored),
// or nil when no such value set is local.
func (t *terminology) valueSet(url string) *valueSet {
	url, _, _ = strings.Cut(url, "|")
	if vs, ok := t.expanded[url]; ok {
		return vs
	}
	raw := t.sets[url]
	if raw == nil {
		t.expanded[url] = nil
		return nil
	}
	vs := &valueSet{URL: url, Codes: map[string]map[string]struct{}{}, open: map[string]bool{}}
	t.expanded[url] = vs // a value set including itself stays finite
	if raw.Compose != nil {
		for _, inc := range raw.Compose.Include {
			t.include(vs, inc)
		}
		for _, exc := range raw.Compose.Exclude {
			t.exclude(vs, exc)
		}
	} else {
		vs.open[""] = true
		vs.whyOpen = "it has no compose"
	}
	return vs
}

func (t *terminology) include(vs *valueSet, inc rawInclude) {
	for _, ref := range inc.ValueSet {
		sub := t.valueSet(ref)
		if sub == nil {
			vs.markOpen("", fmt.Sprintf("it includes value set %s, which is not available locally", ref))
			continue
		}
		for sys, codes := range sub.Codes {
			for c := range codes {
				vs.add(sys, c)
			}
		}
		for sys := range sub.open {
			vs.markOpen(sys, sub.whyOpen)
		}
	}
	if inc.System == "" {
		return
	}
	switch {
	case len(inc.Filter) > 0:
		vs.markOpen(inc.System, fmt.Sprintf("it selects codes of %s by a filter", inc.System))
	case len(inc.Concept) > 0:
		for _, c := range inc.Concept {
			vs.add(inc.System, c.Code)
		}
	default:
		cs := t.systems[inc.System]
		if cs == nil || !cs.Complete {
			vs.markOpen(inc.System, fmt.Sprintf("code system %s has no local content", inc.System))
			return
		}
		for c := range cs.Codes {
			vs.add(inc.System, c)
		}
	}
}

// exclude removes codes listed explicitly; an exclusion by filter or value
// set makes the system's membership unknown.
func (t *terminology) exclude(vs *valueSet, exc rawInclude) {
	if len(exc.Concept) == 0 || len(exc.Filter) > 0 || len(exc.ValueSet) > 0 {
		vs.markOpen(exc.System, fmt.Sprintf("it excludes codes of %s by a rule", exc.System))
		return
	}
	for _, c := range exc.Concept {
		delete(vs.Codes[exc.System], c.Code)
	}
}

func (vs *valueSet) add(system, code string) {
	m := vs.Codes[system]
	if m == nil {
		m = map[string]struct{}{}
		vs.Codes[system] = m
	}
	m[code] = struct{}{}
}

func (vs *valueSet) markOpen(system, why string) {
	vs.open[system] = true
	if vs.whyOpen == "" {
		vs.whyOpen = why
	}
}
