package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"path/filepath"
	"slices"
	"strings"
)

// coreBase is where R4 publishes its own StructureDefinitions.
const coreBase = "http://hl7.org/fhir/StructureDefinition/"

// extSD is the part of an extension StructureDefinition the generator reads.
type extSD struct {
	ResourceType   string `json:"resourceType"`
	ID             string `json:"id"`
	URL            string `json:"url"`
	Name           string `json:"name"`
	Type           string `json:"type"`
	Kind           string `json:"kind"`
	Derivation     string `json:"derivation"`
	BaseDefinition string `json:"baseDefinition"`
	FHIRVersion    string `json:"fhirVersion"`
	Context        []struct {
		Type       string `json:"type"`
		Expression string `json:"expression"`
	} `json:"context"`
	Differential struct {
		Element []json.RawMessage `json:"element"`
	} `json:"differential"`
	Snapshot struct {
		Element []json.RawMessage `json:"element"`
	} `json:"snapshot"`
}

// Compact shapes of an extension definition: what package profile's
// compiler (parseDefinition) reads, nothing else.
type outExtension struct {
	ResourceType   string       `json:"resourceType"`
	ID             string       `json:"id"`
	URL            string       `json:"url"`
	Name           string       `json:"name,omitempty"`
	Type           string       `json:"type"`
	Kind           string       `json:"kind"`
	Derivation     string       `json:"derivation"`
	BaseDefinition string       `json:"baseDefinition,omitempty"`
	Context        []outContext `json:"context,omitempty"`
	Differential   struct {
		Element []json.RawMessage `json:"element"`
	} `json:"differential"`
}

type outContext struct {
	Type       string `json:"type"`
	Expression string `json:"expression"`
}

type extElement struct {
	ID         string          `json:"id"`
	Path       string          `json:"path"`
	SliceName  string          `json:"sliceName,omitempty"`
	Min        *int            `json:"min,omitempty"`
	Max        string          `json:"max,omitempty"`
	Type       []extType       `json:"type,omitempty"`
	Binding    *binding        `json:"binding,omitempty"`
	Constraint []outConstraint `json:"constraint,omitempty"`
	Slicing    *extSlicing     `json:"slicing,omitempty"`
}

type extType struct {
	Code          string   `json:"code"`
	Profile       []string `json:"profile,omitempty"`
	TargetProfile []string `json:"targetProfile,omitempty"`
}

type extSlicing struct {
	Discriminator []struct {
		Type string `json:"type"`
		Path string `json:"path"`
	} `json:"discriminator,omitempty"`
	Ordered bool   `json:"ordered,omitempty"`
	Rules   string `json:"rules,omitempty"`
}

// coreExtensions returns R4's own extension StructureDefinitions
// (extension-definitions.json: url under coreBase, FHIR fhirVersion, type
// Extension, derivation constraint; none of Medplum's), compacted and sorted
// by url, and the bindings their elements declare.
//
// R4 publishes differentials that slice Extension.extension (geolocation's
// latitude and longitude) without repeating the slicing, which the base
// Extension's snapshot declares ("extensions are always sliced by url"):
// such a differential is completed with its snapshot's slicing of the
// sliced element, so that it compiles on its own.
func coreExtensions(defs, fhirVersion string) ([]json.RawMessage, []binding, error) {
	var b bundle
	if err := readJSON(filepath.Join(defs, "extension-definitions.json"), &b); err != nil {
		return nil, nil, err
	}
	var kept []outExtension
	var bindings []binding
	for _, e := range b.Entry {
		var s extSD
		if err := json.Unmarshal(e.Resource, &s); err != nil {
			return nil, nil, fmt.Errorf("extension-definitions.json: %w", err)
		}
		switch {
		case s.ResourceType != "StructureDefinition":
			continue
		case !strings.HasPrefix(s.URL, coreBase) || isMedplum(s.URL) || bytes.Contains(e.Resource, []byte("medplum.com")):
			log.Printf("dropped extension %s: not an R4 core extension", s.URL)
			continue
		case s.FHIRVersion != fhirVersion || s.Type != "Extension" || s.Derivation != "constraint":
			log.Printf("dropped extension %s: FHIR %s, type %s, derivation %s", s.URL, s.FHIRVersion, s.Type, s.Derivation)
			continue
		}
		out, bs, err := compactExtension(s)
		if err != nil {
			return nil, nil, fmt.Errorf("extension %s: %w", s.URL, err)
		}
		kept = append(kept, out)
		bindings = append(bindings, bs...)
	}
	slices.SortFunc(kept, func(a, b outExtension) int { return strings.Compare(a.URL, b.URL) })
	var out []json.RawMessage
	for i, x := range kept {
		if i > 0 && kept[i-1].URL == x.URL {
			return nil, nil, fmt.Errorf("extension %s is defined twice", x.URL)
		}
		data, err := json.Marshal(x)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, data)
	}
	log.Printf("extensions: %d R4 core extensions", len(out))
	return out, bindings, nil
}

func compactExtension(s extSD) (outExtension, []binding, error) {
	out := outExtension{
		ResourceType: s.ResourceType, ID: s.ID, URL: s.URL, Name: s.Name, Type: s.Type, Kind: s.Kind,
		Derivation: s.Derivation, BaseDefinition: s.BaseDefinition,
	}
	for _, c := range s.Context {
		out.Context = append(out.Context, outContext(c))
	}
	slicings := map[string]*extSlicing{} // the snapshot's, by element id
	snapPaths := map[string]string{}
	for _, raw := range s.Snapshot.Element {
		var el struct {
			ID      string      `json:"id"`
			Path    string      `json:"path"`
			Slicing *extSlicing `json:"slicing"`
		}
		if err := json.Unmarshal(raw, &el); err != nil {
			return out, nil, err
		}
		slicings[el.ID], snapPaths[el.ID] = el.Slicing, el.Path
	}
	var els []extElement
	var extras [][]byte // fixed[x] and pattern[x] members, per element
	var bindings []binding
	for _, raw := range s.Differential.Element {
		var el extElement
		if err := json.Unmarshal(raw, &el); err != nil {
			return out, nil, err
		}
		if el.Binding != nil && el.Binding.ValueSet == "" {
			el.Binding = nil // nothing to check against
		}
		if el.Binding != nil {
			el.Binding.ValueSet, _, _ = strings.Cut(el.Binding.ValueSet, "|")
			bindings = append(bindings, *el.Binding)
		}
		x, err := fixedMembers(raw)
		if err != nil {
			return out, nil, err
		}
		if el.SliceName != "" {
			holder := el.ID[:strings.LastIndex(el.ID, ":")]
			if !strings.HasSuffix(holder, "[x]") {
				i := slices.IndexFunc(els, func(e extElement) bool { return e.ID == holder })
				switch {
				case i >= 0 && els[i].Slicing == nil:
					els[i].Slicing = slicings[holder]
				case i < 0:
					if slicings[holder] == nil {
						return out, nil, fmt.Errorf("slice %s: no slicing for %s in the snapshot", el.ID, holder)
					}
					els = append(els, extElement{ID: holder, Path: snapPaths[holder], Slicing: slicings[holder]})
					extras = append(extras, nil)
				}
			}
		}
		els = append(els, el)
		extras = append(extras, x)
	}
	for i, el := range els {
		data, err := json.Marshal(el)
		if err != nil {
			return out, nil, err
		}
		if len(extras[i]) > 0 {
			data = append(append(data[:len(data)-1], ','), extras[i]...)
			data = append(data, '}')
		}
		out.Differential.Element = append(out.Differential.Element, data)
	}
	return out, bindings, nil
}

// fixedMembers returns an element's fixed[x] and pattern[x] members as
// JSON object members ("fixedUri":"…"), in their own order.
func fixedMembers(raw json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	var out []byte
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(key, "fixed") && !strings.HasPrefix(key, "pattern") {
			continue
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, v); err != nil {
			return nil, err
		}
		k, _ := json.Marshal(key)
		if out != nil {
			out = append(out, ',')
		}
		out = append(append(append(out, k...), ':'), compact.Bytes()...)
	}
	return out, nil
}

// profileTypes maps each of R4's own profiles on a resource type
// (profiles-resources.json and profiles-others.json: vitalsigns, bodyheight,
// …) to the resource type it constrains, for target profiles that name one.
func profileTypes(defs, fhirVersion string, types []outType) (map[string]string, error) {
	resources := map[string]bool{}
	for _, t := range types {
		if t.Kind == "resource" && !t.Abstract {
			resources[t.Name] = true
		}
	}
	out := map[string]string{}
	for _, f := range []string{"profiles-resources.json", "profiles-others.json"} {
		var b bundle
		if err := readJSON(filepath.Join(defs, f), &b); err != nil {
			return nil, err
		}
		for _, e := range b.Entry {
			var head struct {
				ResourceType string `json:"resourceType"`
			}
			if err := json.Unmarshal(e.Resource, &head); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if head.ResourceType != "StructureDefinition" {
				continue // OperationDefinition's type is a boolean
			}
			var s struct {
				URL         string `json:"url"`
				Type        string `json:"type"`
				Kind        string `json:"kind"`
				Derivation  string `json:"derivation"`
				FHIRVersion string `json:"fhirVersion"`
			}
			if err := json.Unmarshal(e.Resource, &s); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if s.Kind != "resource" || s.Derivation != "constraint" {
				continue
			}
			if !strings.HasPrefix(s.URL, coreBase) || isMedplum(s.URL) || s.FHIRVersion != fhirVersion || !resources[s.Type] {
				log.Printf("dropped profile %s (%s, FHIR %s): not an R4 profile of an R4 resource", s.URL, s.Type, s.FHIRVersion)
				continue
			}
			out[s.URL] = s.Type
		}
	}
	log.Printf("profiles: %d R4 profiles on resource types", len(out))
	return out, nil
}
