// Package r4 holds the FHIR R4 (4.0.1) type system as data: every resource
// and data type with its elements, cardinalities, element types, reference
// targets, summary flags and the primitive types' regular expressions; what
// validating against the base definitions needs beyond structure (each
// definition's own invariants, the bindings, fixed and pattern values); the
// R4 ValueSets and CodeSystems that the required and extensible bindings
// need; R4's core extension StructureDefinitions (organization-period,
// geolocation, …) and the resource type each of R4's own profiles
// constrains; and the core SearchParameter resources of the resource types
// vhdir serves.
//
// The data is generated from HL7's official definition bundles by ./gen and
// embedded; nothing here is written by hand. Structural validation (package
// fhir), profile validation (package profile), FHIRPath evaluation and
// search-value extraction walk resources with it.
package r4

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
)

//go:embed model.json
var modelJSON []byte

//go:embed searchparameters.json
var searchParamsJSON []byte

//go:embed terminology.json
var terminologyJSON []byte

//go:embed extensions.json
var extensionsJSON []byte

//go:embed profiles.json
var profilesJSON []byte

// Version is the FHIR version of the embedded definitions.
const Version = "4.0.1"

// Kind is what a type is.
type Kind uint8

// The kinds of type.
const (
	Primitive Kind = iota + 1
	Complex
	Resource
)

// Type is one FHIR type: a primitive, a complex data type or a resource.
type Type struct {
	Name     string
	Kind     Kind
	Abstract bool
	Base     string
	// Pattern is the anchored regular expression of a primitive's lexical
	// form (nil for xhtml, which has none).
	Pattern *regexp.Regexp
	// Fields are the JSON members a value of this type may hold (complex types
	// and resources).
	Fields map[string]*Field
	// Elements in definition order, for writers that want FHIR's canonical
	// member order.
	Elements []*Element
	// Constraints are the invariants on the type's root that this type's
	// definition declares (org-1 on Organization, ele-1 on Element, dom-2…6
	// on DomainResource). Those of its ancestors apply too: follow Base.
	Constraints []Constraint
}

// Element is one element definition: Practitioner.qualification.issuer.
type Element struct {
	Path     string // full path, e.g. "Practitioner.qualification.issuer"
	Name     string // last segment without [x], e.g. "issuer", "value"
	Min      int
	Max      int // -1 for unbounded
	Summary  bool
	Modifier bool
	Choice   bool // a value[x] element
	Types    []TypeRef
	// Fields are the members of an inline (backbone) element; nil when the
	// element's members come from its type.
	Fields map[string]*Field
	// Binding is the element's terminology binding; nil when it has none.
	Binding *Binding
	// Constraints are the invariants this element's definition declares
	// (org-2 on Organization.address, ctm-1 on CareTeam.participant), not
	// those of its type (see Type.Constraints). An element defined by
	// contentReference (Questionnaire.item.item) repeats the referenced
	// element's definition, so it carries that element's invariants first.
	Constraints []Constraint
	// Fixed is the element's fixed[x] value as JSON and FixedType its type
	// code ("code"); nil and "" when it has none. Pattern and PatternType
	// are pattern[x], alike.
	Fixed       json.RawMessage
	FixedType   string
	Pattern     json.RawMessage
	PatternType string
	order       int
}

// Binding ties a coded element to a value set.
type Binding struct {
	Strength string // required | extensible | preferred | example
	ValueSet string // canonical URL without "|version"; "" when the binding names none
}

// Constraint is an invariant: a FHIRPath expression that must hold on each
// value of the element or type that carries it.
type Constraint struct {
	Key        string // "org-1"
	Severity   string // "error" | "warning"
	Human      string
	Expression string // FHIRPath
}

// TypeRef is one allowed type of an element.
type TypeRef struct {
	Code    string   // FHIR type name: "string", "Reference", "HumanName", …
	Targets []string // for Reference/canonical: the allowed target type names (empty: any)
}

// Field is one JSON member name an object may carry: "valueString" is the
// value[x] element with type string.
type Field struct {
	JSONName string
	Element  *Element
	Type     string // the FHIR type code of this member
}

// IsArray reports whether the element repeats (JSON array).
func (e *Element) IsArray() bool { return e.Max != 1 && e.Max != 0 }

// Backbone reports whether the element defines its own members inline.
func (e *Element) Backbone() bool { return e.Fields != nil }

// IsPrimitive reports whether code names a FHIR primitive type.
func IsPrimitive(code string) bool {
	t := Lookup(code)
	return t != nil && t.Kind == Primitive
}

// JSONKind is how a primitive is written in JSON.
type JSONKind uint8

// The JSON representations of primitives.
const (
	JSONString JSONKind = iota + 1
	JSONNumber
	JSONBool
)

// PrimitiveJSON returns how the primitive type code is written in JSON.
func PrimitiveJSON(code string) JSONKind {
	switch code {
	case "boolean":
		return JSONBool
	case "integer", "positiveInt", "unsignedInt", "decimal", "integer64":
		return JSONNumber
	default:
		return JSONString
	}
}

// Lookup returns the named type, or nil.
func Lookup(name string) *Type {
	load()
	return types[name]
}

// IsResourceType reports whether name is a concrete R4 resource type.
func IsResourceType(name string) bool {
	t := Lookup(name)
	return t != nil && t.Kind == Resource && !t.Abstract
}

// ResourceTypes returns every concrete resource type name, sorted.
func ResourceTypes() []string {
	load()
	return resourceNames
}

// TypeNames returns the name of every type (primitives, data types, abstract
// and concrete resources), sorted. The slice is shared: do not modify it.
func TypeNames() []string {
	load()
	return typeNames
}

// FieldsOf returns the members allowed in a JSON object that is a value of
// element e typed as code: inline members for backbone elements, else the
// members of the type.
func FieldsOf(e *Element, code string) map[string]*Field {
	if e != nil && e.Fields != nil {
		return e.Fields
	}
	if t := Lookup(code); t != nil {
		return t.Fields
	}
	return nil
}

// CoreSearchParameters returns the JSON of the R4 core SearchParameter
// resources whose base includes a type vhdir serves (or Resource).
func CoreSearchParameters() []json.RawMessage {
	load()
	return coreSearchParams
}

// Terminology returns the JSON of the R4 ValueSet and CodeSystem resources
// that the required and extensible bindings name, the ValueSets those
// include, and the CodeSystems any of them include that R4 defines (FHIR's,
// v3's and v2's; not external ones such as LOINC, UCUM or BCP-47). They are
// compacted to what deciding membership needs: a ValueSet keeps url,
// version, name and compose (systems, listed codes, filters, included value
// sets), a CodeSystem keeps url, version, name, content, caseSensitive and
// its codes with their hierarchy. Nothing is expanded. The slice is shared:
// do not modify it.
func Terminology() []json.RawMessage {
	return terminology()
}

var terminology = sync.OnceValue(func() []json.RawMessage {
	var out []json.RawMessage
	if err := json.Unmarshal(terminologyJSON, &out); err != nil {
		panic(fmt.Sprintf("r4: embedded terminology is broken: %v", err))
	}
	return out
})

// Extensions returns the JSON of R4's core extension StructureDefinitions
// (url under http://hl7.org/fhir/StructureDefinition/, type Extension,
// derivation constraint), sorted by url and compacted to what compiling a
// differential needs: resourceType, id, url, name, type, kind, derivation,
// baseDefinition, context, and per differential element its id, path,
// sliceName, min, max, types (with profiles and target profiles), binding,
// constraints, slicing, fixed[x] and pattern[x]. Where a differential slices
// an element without declaring the slicing (Extension.extension, which the
// base Extension slices by url), the snapshot's slicing is added to it. The
// slice is shared: do not modify it.
func Extensions() []json.RawMessage {
	return extensions()
}

var extensions = sync.OnceValue(func() []json.RawMessage {
	var out []json.RawMessage
	if err := json.Unmarshal(extensionsJSON, &out); err != nil {
		panic(fmt.Sprintf("r4: embedded extensions are broken: %v", err))
	}
	return out
})

// ProfileType returns the resource type that one of R4's own profiles
// (vitalsigns, bodyheight, shareablevalueset, …; not the base definitions
// of the types themselves) constrains, by canonical URL without version.
func ProfileType(url string) (string, bool) {
	t, ok := profiles()[url]
	return t, ok
}

var profiles = sync.OnceValue(func() map[string]string {
	var out map[string]string
	if err := json.Unmarshal(profilesJSON, &out); err != nil {
		panic(fmt.Sprintf("r4: embedded profiles are broken: %v", err))
	}
	return out
})

var (
	loadOnce         sync.Once
	types            map[string]*Type
	typeNames        []string
	resourceNames    []string
	coreSearchParams []json.RawMessage
)

type rawModel struct {
	FHIRVersion string `json:"fhirVersion"`
	Types       []struct {
		Name        string          `json:"name"`
		Kind        string          `json:"kind"`
		Abstract    bool            `json:"abstract"`
		Base        string          `json:"base"`
		Regex       string          `json:"regex"`
		Constraints []rawConstraint `json:"constraints"`
		Elements    []struct {
			Path        string          `json:"path"`
			Min         int             `json:"min"`
			Max         string          `json:"max"`
			Summary     bool            `json:"summary"`
			Modifier    bool            `json:"modifier"`
			ContentRef  string          `json:"contentRef"`
			Types       []TypeRef       `json:"types"`
			Binding     *rawBinding     `json:"binding"`
			Constraints []rawConstraint `json:"constraints"`
			FixedType   string          `json:"fixedType"`
			Fixed       json.RawMessage `json:"fixed"`
			PatternType string          `json:"patternType"`
			Pattern     json.RawMessage `json:"pattern"`
		} `json:"elements"`
	} `json:"types"`
}

type rawBinding struct {
	Strength string `json:"strength"`
	ValueSet string `json:"valueSet"`
}

type rawConstraint struct {
	Key        string `json:"key"`
	Severity   string `json:"severity"`
	Human      string `json:"human"`
	Expression string `json:"expression"`
}

func constraints(raw []rawConstraint) []Constraint {
	var out []Constraint
	for _, c := range raw {
		out = append(out, Constraint(c))
	}
	return out
}

func load() {
	loadOnce.Do(func() {
		if err := build(); err != nil {
			panic(fmt.Sprintf("r4: embedded definitions are broken: %v", err))
		}
	})
}

func build() error {
	var m rawModel
	if err := json.Unmarshal(modelJSON, &m); err != nil {
		return err
	}
	if m.FHIRVersion != Version {
		return fmt.Errorf("definitions are FHIR %s, want %s", m.FHIRVersion, Version)
	}
	types = make(map[string]*Type, len(m.Types))
	for _, rt := range m.Types {
		t := &Type{Name: rt.Name, Abstract: rt.Abstract, Base: rt.Base, Constraints: constraints(rt.Constraints)}
		switch rt.Kind {
		case "primitive-type":
			t.Kind = Primitive
		case "complex-type":
			t.Kind = Complex
		case "resource":
			t.Kind = Resource
		default:
			return fmt.Errorf("type %s: unknown kind %q", rt.Name, rt.Kind)
		}
		if rt.Regex != "" {
			re, err := regexp.Compile(`^(?:` + rt.Regex + `)$`)
			if err != nil {
				return fmt.Errorf("type %s: regex: %w", rt.Name, err)
			}
			t.Pattern = re
		}
		byPath := map[string]*Element{}
		contentRefs := map[*Element]string{}
		for i, re := range rt.Elements {
			e := &Element{
				Path: rt.Name + "." + re.Path, Min: re.Min, Summary: re.Summary, Modifier: re.Modifier, Types: re.Types,
				Constraints: constraints(re.Constraints),
				Fixed:       re.Fixed, FixedType: re.FixedType, Pattern: re.Pattern, PatternType: re.PatternType,
				order: i,
			}
			if re.Binding != nil {
				e.Binding = &Binding{Strength: re.Binding.Strength, ValueSet: re.Binding.ValueSet}
			}
			name := re.Path[strings.LastIndex(re.Path, ".")+1:]
			if strings.HasSuffix(name, "[x]") {
				e.Choice = true
				name = strings.TrimSuffix(name, "[x]")
			}
			e.Name = name
			switch re.Max {
			case "*":
				e.Max = -1
			default:
				if _, err := fmt.Sscanf(re.Max, "%d", &e.Max); err != nil {
					return fmt.Errorf("%s: max %q", e.Path, re.Max)
				}
			}
			byPath[re.Path] = e
			if re.ContentRef != "" {
				contentRefs[e] = re.ContentRef
			}
			parent := re.Path[:max(strings.LastIndex(re.Path, "."), 0)]
			var fields *map[string]*Field
			if parent == "" {
				fields = &t.Fields
			} else {
				p, ok := byPath[parent]
				if !ok {
					return fmt.Errorf("%s: parent %s not defined before it", e.Path, parent)
				}
				fields = &p.Fields
			}
			if *fields == nil {
				*fields = map[string]*Field{}
			}
			addFields(*fields, e)
			t.Elements = append(t.Elements, e)
		}
		for e, ref := range contentRefs {
			target, ok := byPath[ref]
			if !ok {
				return fmt.Errorf("%s: contentReference %s not found", e.Path, ref)
			}
			e.Fields = target.Fields
			e.Types = target.Types
			e.Constraints = slices.Concat(target.Constraints, e.Constraints)
		}
		types[t.Name] = t
	}
	for name, t := range types {
		typeNames = append(typeNames, name)
		if t.Kind == Resource && !t.Abstract {
			resourceNames = append(resourceNames, name)
		}
	}
	slices.Sort(typeNames)
	slices.Sort(resourceNames)
	if err := json.Unmarshal(searchParamsJSON, &coreSearchParams); err != nil {
		return fmt.Errorf("searchparameters.json: %w", err)
	}
	return nil
}

func addFields(fields map[string]*Field, e *Element) {
	if !e.Choice {
		code := ""
		if len(e.Types) > 0 {
			code = e.Types[0].Code
		}
		fields[e.Name] = &Field{JSONName: e.Name, Element: e, Type: code}
		return
	}
	for _, tr := range e.Types {
		jn := e.Name + upperFirst(tr.Code)
		fields[jn] = &Field{JSONName: jn, Element: e, Type: tr.Code}
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// Order returns the element's position in its type's definition, for writing
// members in canonical order.
func (e *Element) Order() int { return e.order }
