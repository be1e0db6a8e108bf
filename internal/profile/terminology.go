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
	// children holds the hierarchy, for is-a filters.
	children map[string][]string
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
	Filter   []rawFilter `json:"filter"`
	ValueSet []string    `json:"valueSet"`
}

type rawFilter struct {
	Property string `json:"property"`
	Op       string `json:"op"`
	Value    string `json:"value"`
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
		cs := &codeSystem{URL: r.URL, Complete: r.Content == "complete", Codes: map[string]struct{}{}, children: map[string][]string{}}
		flatten(r.Concept, cs)
		t.systems[r.URL] = cs
	case "ValueSet":
		t.sets[r.URL] = &r
	}
	return nil
}

func flatten(concepts []rawConcept, cs *codeSystem) {
	for _, c := range concepts {
		cs.Codes[c.Code] = struct{}{}
		for _, child := range c.Concept {
			cs.children[c.Code] = append(cs.children[c.Code], child.Code)
		}
		flatten(c.Concept, cs)
	}
}

// below returns code and every code under it in the hierarchy.
func (cs *codeSystem) below(code string, into map[string]bool) {
	if into[code] {
		return
	}
	into[code] = true
	for _, c := range cs.children[code] {
		cs.below(c, into)
	}
}

// valueSet returns the expansion of url (a "|version" suffix is ignored),
// or nil when no such value set is local. It fills the cache of expansions,
// so it runs only while the validator is compiled, never concurrently.
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
		codes, ok := t.filtered(inc)
		if !ok {
			vs.markOpen(inc.System, fmt.Sprintf("it selects codes of %s by a filter", inc.System))
			return
		}
		for c := range codes {
			vs.add(inc.System, c)
		}
	case len(inc.Concept) > 0:
		for _, c := range inc.Concept {
			vs.add(inc.System, c.Code)
		}
	default:
		cs := t.systems[inc.System]
		if cs == nil {
			vs.markOpen(inc.System, fmt.Sprintf("code system %s has no local content", inc.System))
			return
		}
		// A fragment's codes are members; the codes it does not list may be.
		for c := range cs.Codes {
			vs.add(inc.System, c)
		}
		if !cs.Complete {
			vs.markOpen(inc.System, fmt.Sprintf("code system %s is only partly known here", inc.System))
		}
	}
}

// filtered expands an include's hierarchy filters (concept is-a,
// descendent-of, is-not-a, on a complete local CodeSystem; several filters
// all apply); ok is false for any other filter.
func (t *terminology) filtered(inc rawInclude) (map[string]bool, bool) {
	cs := t.systems[inc.System]
	if cs == nil || !cs.Complete {
		return nil, false
	}
	var out map[string]bool
	for _, f := range inc.Filter {
		if f.Property != "concept" {
			return nil, false
		}
		if _, known := cs.Codes[f.Value]; !known {
			return nil, false
		}
		under := map[string]bool{}
		cs.below(f.Value, under)
		keep := map[string]bool{}
		for c := range cs.Codes {
			switch f.Op {
			case "is-a":
				if under[c] {
					keep[c] = true
				}
			case "descendent-of":
				if under[c] && c != f.Value {
					keep[c] = true
				}
			case "is-not-a":
				if !under[c] {
					keep[c] = true
				}
			default:
				return nil, false
			}
		}
		if out == nil {
			out = keep
			continue
		}
		for c := range out {
			if !keep[c] {
				delete(out, c)
			}
		}
	}
	return out, true
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
