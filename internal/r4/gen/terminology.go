package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log"
	"path/filepath"
	"slices"
	"strings"
)

// Compact shapes of the terminology resources: only what deciding whether a
// code is in a value set needs.
type valueSet struct {
	ResourceType string   `json:"resourceType"`
	URL          string   `json:"url"`
	Version      string   `json:"version,omitempty"`
	Name         string   `json:"name,omitempty"`
	Compose      *compose `json:"compose,omitempty"`
}

type compose struct {
	Include []include `json:"include,omitempty"`
	Exclude []include `json:"exclude,omitempty"`
}

type include struct {
	System  string `json:"system,omitempty"`
	Version string `json:"version,omitempty"`
	Concept []code `json:"concept,omitempty"`
	Filter  []struct {
		Property string `json:"property"`
		Op       string `json:"op"`
		Value    string `json:"value"`
	} `json:"filter,omitempty"`
	ValueSet []string `json:"valueSet,omitempty"`
}

type code struct {
	Code string `json:"code"`
}

type codeSystem struct {
	ResourceType  string    `json:"resourceType"`
	URL           string    `json:"url"`
	Version       string    `json:"version,omitempty"`
	Name          string    `json:"name,omitempty"`
	Content       string    `json:"content"`
	CaseSensitive *bool     `json:"caseSensitive,omitempty"`
	Concept       []concept `json:"concept,omitempty"`
}

type concept struct {
	Code    string    `json:"code"`
	Concept []concept `json:"concept,omitempty"`
}

// terminology returns, compacted, the ValueSets that required and
// extensible bindings of types and the extra bindings (the R4 core
// extensions') name, the ValueSets those include (transitively), and the
// CodeSystems any of them include that the inputs hold: FHIR's own (valuesets.json), v3's and v2's.
// Preferred and example bindings are never checked against their value set,
// so theirs are left out. Nothing is expanded. ValueSets come first, then
// CodeSystems, each sorted by URL.
func terminology(defs, fhirVersion string, types []outType, extra []binding) ([]json.RawMessage, error) {
	sets := map[string]valueSet{}
	systems := map[string]codeSystem{}
	for _, f := range []string{"valuesets.json", "v3-codesystems.json", "v2-tables.json"} {
		var b bundle
		if err := readJSON(filepath.Join(defs, f), &b); err != nil {
			return nil, err
		}
		for _, e := range b.Entry {
			var head struct {
				ResourceType string `json:"resourceType"`
				URL          string `json:"url"`
				Version      string `json:"version"`
			}
			if err := json.Unmarshal(e.Resource, &head); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			// FHIR's own terminology is versioned with FHIR; Medplum adds
			// R5's (detectedissue-status 5.0.0).
			if isMedplum(head.URL) || strings.HasPrefix(head.URL, "http://hl7.org/fhir/") && head.Version != fhirVersion {
				log.Printf("dropped %s %s|%s: not R4", head.ResourceType, head.URL, head.Version)
				continue
			}
			switch head.ResourceType {
			case "ValueSet":
				var vs valueSet
				if err := json.Unmarshal(e.Resource, &vs); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", f, head.URL, err)
				}
				sets[vs.URL] = vs
			case "CodeSystem":
				var cs codeSystem
				if err := json.Unmarshal(e.Resource, &cs); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", f, head.URL, err)
				}
				systems[cs.URL] = cs
			}
		}
	}

	required := map[string]int{} // value set → required bindings naming it
	var todo []string
	bound := func(b *binding) {
		if b != nil && b.ValueSet != "" && (b.Strength == "required" || b.Strength == "extensible") {
			todo = append(todo, b.ValueSet)
			if b.Strength == "required" {
				required[b.ValueSet]++
			}
		}
	}
	for _, t := range types {
		for _, e := range t.Elements {
			bound(e.Binding)
		}
	}
	for i := range extra {
		bound(&extra[i])
	}
	keptSets := map[string]bool{}
	keptSystems := map[string]bool{}
	absentSystems := map[string]bool{}
	for len(todo) > 0 {
		url := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		vs, ok := sets[url]
		if keptSets[url] || !ok {
			continue
		}
		keptSets[url] = true
		if vs.Compose == nil {
			continue
		}
		for _, inc := range slices.Concat(vs.Compose.Include, vs.Compose.Exclude) {
			for _, ref := range inc.ValueSet {
				ref, _, _ = strings.Cut(ref, "|")
				todo = append(todo, ref)
			}
			if inc.System == "" {
				continue
			}
			if _, ok := systems[inc.System]; ok {
				keptSystems[inc.System] = true
			} else {
				absentSystems[inc.System] = true
			}
		}
	}

	var out []json.RawMessage
	for _, url := range sortedKeys(keptSets) {
		data, err := json.Marshal(sets[url])
		if err != nil {
			return nil, err
		}
		out = append(out, data)
	}
	for _, url := range sortedKeys(keptSystems) {
		data, err := json.Marshal(systems[url])
		if err != nil {
			return nil, err
		}
		out = append(out, data)
	}
	report(required, sets, keptSets, keptSystems, absentSystems)
	return out, nil
}

// report logs what the terminology data leaves undecidable, for the
// regenerating engineer to review.
func report(required map[string]int, sets map[string]valueSet, keptSets, keptSystems, absentSystems map[string]bool) {
	type count struct {
		url string
		n   int
	}
	var absent []count
	total := 0
	for url, n := range required {
		if _, ok := sets[url]; !ok {
			absent = append(absent, count{url, n})
			total += n
		}
	}
	slices.SortFunc(absent, func(a, b count) int { return cmp.Or(b.n-a.n, strings.Compare(a.url, b.url)) })
	log.Printf("terminology: %d value sets, %d code systems; %d required bindings name one of %d value sets that are not in the inputs",
		len(keptSets), len(keptSystems), total, len(absent))
	for _, c := range absent {
		log.Printf("terminology: absent value set %s (%d required bindings)", c.url, c.n)
	}
	log.Printf("terminology: code systems included but not in the inputs: %s", strings.Join(sortedKeys(absentSystems), " "))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
