package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/fhirpath"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// definition is one compiled StructureDefinition: a profile on a resource
// type or an extension.
type definition struct {
	URL  string
	Name string // the id, used in messages: "vhdir-practitioner"
	Type string // the constrained type: "Practitioner", "Extension"
	Root *rules
	// ExtensionURL is an extension's own url (its Extension.url fixed value).
	ExtensionURL string
	// core marks one of R4's core extensions (package r4), which is
	// skipped rather than fatal when it does not compile.
	core bool
	// Contexts are where an extension may appear (see contextAllows).
	Contexts []extContext
}

// extContext is one StructureDefinition.context of an extension.
type extContext struct {
	// Type is how Expression reads: "element" (a type name, an element
	// path, or "Element": anywhere), "extension" (the url of an extension
	// it may sit in) or "fhirpath" (an expression selecting where).
	Type       string
	Expression string
}

// rules is what one definition says about one element (or one slice of it):
// each field is set only where the definition constrains it, so rules from a
// profile apply on top of the R4 base, which package fhir and the base plans
// check.
type rules struct {
	ID     string      // element id within its definition: "Practitioner.identifier.extension:status"
	Source *definition // the definition it comes from, named in messages

	Min, Max       int // Max -1 is "*"
	HasMin, HasMax bool

	Types        []string // allowed type codes; nil means unrestricted
	TypeProfiles []string // profiles of an Extension (or other) type, by URL
	// TargetProfiles are the profiles a Reference may point at; Targets the
	// resource types they constrain (nil: unrestricted).
	TargetProfiles []string
	Targets        []string

	Binding    *binding
	Fixed      any // a jsontree value
	Pattern    any
	Invariants []*invariant

	Children map[string]*rules // by element name, choice elements without [x]
	Slicing  *slicing
	Slices   []*slice
	// counted are the children whose count a profile bounds, themselves or
	// by their slices, in definition order (worked out by Validator.resolve).
	counted []counted
	order   []string // Children's names in definition order
}

// counted is a child element whose items are counted: the element and its
// slices, each with min or max.
type counted struct {
	name   string
	rules  *rules // nil when only slices are bounded
	slices []*slice
}

type binding struct {
	Strength string
	URL      string
	Set      *valueSet // nil when the value set is not local
}

type invariant struct {
	Key, Severity, Human, Expression string
	Source                           string // the definition that declares it, for messages
	expr                             *fhirpath.Expr
	// compileErr is why the expression cannot be evaluated here; the
	// invariant is then reported as not checked.
	compileErr error
}

type slicing struct {
	Discriminators []discriminator
	Rules          string // open | closed | openAtEnd
	Ordered        bool
}

type discriminator struct {
	Kind string   // value | pattern | type | exists | profile
	Path []string // dotted path below the item; empty for $this
}

type slice struct {
	Name  string
	Rules *rules
	// want holds, per discriminator, the value or pattern a matching item
	// has at the discriminator's path (value and pattern discriminators).
	want []any
}

// rawSD is the part of a StructureDefinition the compiler reads.
type rawSD struct {
	ResourceType   string `json:"resourceType"`
	ID             string `json:"id"`
	URL            string `json:"url"`
	Name           string `json:"name"`
	Type           string `json:"type"`
	Kind           string `json:"kind"`
	BaseDefinition string `json:"baseDefinition"`
	Derivation     string `json:"derivation"`
	Context        []struct {
		Type       string `json:"type"`
		Expression string `json:"expression"`
	} `json:"context"`
	Differential struct {
		Element []json.RawMessage `json:"element"`
	} `json:"differential"`
}

type rawElement struct {
	ID        string `json:"id"`
	Path      string `json:"path"`
	SliceName string `json:"sliceName"`
	Min       *int   `json:"min"`
	Max       string `json:"max"`
	Type      []struct {
		Code          string   `json:"code"`
		Profile       []string `json:"profile"`
		TargetProfile []string `json:"targetProfile"`
	} `json:"type"`
	Binding *struct {
		Strength string `json:"strength"`
		ValueSet string `json:"valueSet"`
	} `json:"binding"`
	Constraint []struct {
		Key        string `json:"key"`
		Severity   string `json:"severity"`
		Human      string `json:"human"`
		Expression string `json:"expression"`
	} `json:"constraint"`
	Slicing *struct {
		Discriminator []struct {
			Type string `json:"type"`
			Path string `json:"path"`
		} `json:"discriminator"`
		Ordered bool   `json:"ordered"`
		Rules   string `json:"rules"`
	} `json:"slicing"`
}

// parseDefinition compiles a differential StructureDefinition. targetType
// maps a profile URL to the resource type it constrains.
func parseDefinition(data []byte, terms *terminology) (*definition, error) {
	var sd rawSD
	if err := json.Unmarshal(data, &sd); err != nil {
		return nil, err
	}
	if sd.ResourceType != "StructureDefinition" || sd.Derivation != "constraint" {
		return nil, fmt.Errorf("%s: not a constraining StructureDefinition", sd.ID)
	}
	def := &definition{URL: sd.URL, Name: sd.ID, Type: sd.Type}
	for _, c := range sd.Context {
		def.Contexts = append(def.Contexts, extContext{Type: c.Type, Expression: c.Expression})
	}
	def.Root = &rules{ID: sd.Type, Source: def}
	for _, raw := range sd.Differential.Element {
		if err := def.addElement(raw, terms); err != nil {
			return nil, fmt.Errorf("%s: %w", sd.ID, err)
		}
	}
	if u, ok := def.Root.Children["url"]; ok && def.Type == "Extension" {
		def.ExtensionURL, _ = u.Fixed.(string)
	}
	return def, nil
}

// addElement places one differential element in the rules tree. Its id
// names the way: "Extension.extension:history.value[x]:valuePeriod" is the
// value element of slice history of extension; a slice on value[x]
// (valuePeriod) restricts the choice's types and is kept on value itself.
func (d *definition) addElement(raw json.RawMessage, terms *terminology) error {
	var el rawElement
	if err := json.Unmarshal(raw, &el); err != nil {
		return err
	}
	steps := strings.Split(el.ID, ".")
	if len(steps) == 0 || steps[0] != d.Type {
		return fmt.Errorf("element %s is not within %s", el.ID, d.Type)
	}
	r := d.Root
	for _, step := range steps[1:] {
		name, sliceName, _ := strings.Cut(step, ":")
		choice := strings.HasSuffix(name, "[x]")
		name = strings.TrimSuffix(name, "[x]")
		child := r.Children[name]
		if child == nil {
			child = &rules{ID: r.ID + "." + name, Source: d}
			if r.Children == nil {
				r.Children = map[string]*rules{}
			}
			r.Children[name] = child
			r.order = append(r.order, name)
		}
		r = child
		if sliceName != "" && !choice {
			r = r.sliceNamed(sliceName, d)
		}
	}
	return r.apply(&el, raw, terms)
}

func (r *rules) sliceNamed(name string, d *definition) *rules {
	for _, s := range r.Slices {
		if s.Name == name {
			return s.Rules
		}
	}
	s := &slice{Name: name, Rules: &rules{ID: r.ID + ":" + name, Source: d}}
	r.Slices = append(r.Slices, s)
	return s.Rules
}

// apply copies one element's constraints onto r.
func (r *rules) apply(el *rawElement, raw json.RawMessage, terms *terminology) error {
	if el.Min != nil {
		r.Min, r.HasMin = *el.Min, true
	}
	if el.Max != "" {
		m, err := parseMax(el.Max)
		if err != nil {
			return fmt.Errorf("%s: %w", el.ID, err)
		}
		r.Max, r.HasMax = m, true
	}
	if len(el.Type) > 0 {
		r.Types = r.Types[:0]
		for _, t := range el.Type {
			r.Types = append(r.Types, t.Code)
			r.TypeProfiles = append(r.TypeProfiles, t.Profile...)
			r.TargetProfiles = append(r.TargetProfiles, t.TargetProfile...)
		}
	}
	if b := el.Binding; b != nil && b.ValueSet != "" {
		r.Binding = &binding{Strength: b.Strength, URL: stripVersion(b.ValueSet)}
		if b.Strength == "required" || b.Strength == "extensible" || b.Strength == "preferred" {
			r.Binding.Set = terms.valueSet(b.ValueSet)
		}
	}
	for _, c := range el.Constraint {
		if c.Expression == "" {
			continue
		}
		r.Invariants = append(r.Invariants, newInvariant(c.Key, c.Severity, c.Human, c.Expression, r.Source.URL))
	}
	if s := el.Slicing; s != nil {
		sl := &slicing{Rules: s.Rules, Ordered: s.Ordered}
		for _, d := range s.Discriminator {
			sl.Discriminators = append(sl.Discriminators, discriminator{Kind: d.Type, Path: splitPath(d.Path)})
		}
		r.Slicing = sl
	}
	return r.applyFixed(raw)
}

// applyFixed reads fixed[x] and pattern[x], whatever their type.
func (r *rules) applyFixed(raw json.RawMessage) error {
	if !bytes.Contains(raw, []byte(`"fixed`)) && !bytes.Contains(raw, []byte(`"pattern`)) {
		return nil // most elements have neither: spare the parse
	}
	obj, err := jsontree.ParseObject(raw)
	if err != nil {
		return err
	}
	for _, m := range obj.Members {
		switch {
		case strings.HasPrefix(m.Key, "fixed"):
			r.Fixed = m.Value
		case strings.HasPrefix(m.Key, "pattern"):
			r.Pattern = m.Value
		}
	}
	return nil
}

func parseMax(s string) (int, error) {
	if s == "*" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("max %q is not a count or *", s)
	}
	return n, nil
}

func splitPath(p string) []string {
	if p == "" || p == "$this" {
		return nil
	}
	return strings.Split(p, ".")
}

func stripVersion(url string) string {
	u, _, _ := strings.Cut(url, "|")
	return u
}

func newInvariant(key, severity, human, expression, source string) *invariant {
	inv := &invariant{Key: key, Severity: severity, Human: human, Expression: expression, Source: source}
	inv.expr, inv.compileErr = fhirpath.Compile(expression)
	return inv
}
