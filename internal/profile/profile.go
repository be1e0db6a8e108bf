// Package profile validates resources against StructureDefinitions: the R4
// base definitions (package r4: invariants, bindings, fixed and pattern
// values), R4's core extensions (package r4: organization-period,
// geolocation, …) and the VhDir implementation guide's profiles and
// extensions (package ig), the last two differential StructureDefinitions
// compiled here; the IG's win where a URL is defined by both. It owns the
// rules beyond JSON structure; package fhir checks the structure first, and
// a resource reaches this package only once that passed.
//
// Compilation happens once per process (New): each differential becomes a
// tree of rules keyed by element name, with its slices, bindings bound to
// value sets expanded from the local CodeSystems (R4's and the IG's), and
// invariants compiled by package fhirpath. Validate walks the resource once,
// carrying at each element the rules of every profile that applies there.
//
// What is not decided locally is said, never guessed: a code of a system with
// no local content is an information issue, and an invariant the FHIRPath
// engine cannot evaluate (htmlChecks, memberOf) is reported as not checked.
package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/vhdir/vhdir/internal/fhirpath"
	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// Validator holds the compiled definitions; it is immutable and safe for
// concurrent use.
type Validator struct {
	defs       map[string]*definition // profiles and extensions by URL
	extensions map[string]*definition // extensions by their url
	defaults   map[string]*definition // the profile a served type is held to
	terms      *terminology

	types map[string]*typePlan // R4, by type name
	elems map[*r4.Element]*baseElement

	// skipped are the R4 core extensions left out because their
	// definitions do not compile here, by URL, with the reason; such an
	// extension is then unknown, as it would be without its definition.
	skipped map[string]string
}

// typePlan is what the walk needs of an R4 type, found with one lookup:
// its members and the invariants of the type and its ancestors.
type typePlan struct {
	fields     map[string]*r4.Field
	invariants []*invariant
}

// baseElement is what R4 itself requires of an element beyond structure.
type baseElement struct {
	binding    *binding
	invariants []*invariant
	fixed      any
	pattern    any
}

// structural lists the R4 invariants that package fhir's structural
// validation enforces on every resource (ele-1, ext-1, dom-2, dom-3, dom-4,
// ref-1): a resource reaching this package satisfies them, so evaluating them
// again would cost time and could not fail.
var structural = map[string]bool{
	"ele-1": true, "ext-1": true, "dom-2": true, "dom-3": true, "dom-4": true, "ref-1": true,
}

var shared = sync.OnceValues(compile)

// New returns the validator of the embedded definitions: R4 and the VhDir
// IG. It is compiled on first use and shared.
func New() (*Validator, error) { return shared() }

func compile() (*Validator, error) {
	v := &Validator{
		defs:       map[string]*definition{},
		extensions: map[string]*definition{},
		defaults:   map[string]*definition{},
		terms:      newTerminology(),
		types:      map[string]*typePlan{},
		elems:      map[*r4.Element]*baseElement{},
	}
	for _, raw := range r4.Terminology() {
		if err := v.terms.add(raw); err != nil {
			return nil, fmt.Errorf("profile: r4: %w", err)
		}
	}
	for _, prefix := range []string{"codesystem-", "valueset-"} {
		for _, f := range ig.Conformance(prefix) {
			if err := v.terms.add(f.Data); err != nil {
				return nil, fmt.Errorf("profile: %s: %w", f.Name, err)
			}
		}
	}
	// R4's core extensions first: the IG's definitions, added after, win
	// on a clash of URLs. One that does not compile is skipped, not fatal.
	for _, raw := range r4.Extensions() {
		def, err := parseDefinition(raw, v.terms)
		if err != nil {
			v.skip(canonicalURL(raw), err)
			continue
		}
		def.core = true
		v.add(def)
	}
	for _, f := range ig.Conformance("structuredefinition-") {
		def, err := parseDefinition(f.Data, v.terms)
		if err != nil {
			return nil, fmt.Errorf("profile: %s: %w", f.Name, err)
		}
		v.add(def)
	}
	if err := v.resolve(); err != nil {
		return nil, err
	}
	if err := v.pickDefaults(); err != nil {
		return nil, err
	}
	v.compileBase()
	return v, nil
}

// add makes def known by its URL and, for an extension, by its url,
// replacing any definition it clashes with.
func (v *Validator) add(def *definition) {
	if old := v.defs[def.URL]; old != nil && old.ExtensionURL != "" && v.extensions[old.ExtensionURL] == old {
		delete(v.extensions, old.ExtensionURL)
	}
	v.defs[def.URL] = def
	if def.ExtensionURL != "" {
		v.extensions[def.ExtensionURL] = def
	}
}

// skip records an R4 core extension left out, and forgets it if it was
// added.
func (v *Validator) skip(url string, why error) {
	if v.skipped == nil {
		v.skipped = map[string]string{}
	}
	v.skipped[url] = why.Error()
	if d := v.defs[url]; d != nil && d.core {
		delete(v.defs, url)
		if v.extensions[d.ExtensionURL] == d {
			delete(v.extensions, d.ExtensionURL)
		}
	}
}

// canonicalURL reads a StructureDefinition's url, for naming one that does
// not compile.
func canonicalURL(raw []byte) string {
	var sd struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(raw, &sd)
	return sd.URL
}

// resolve turns target profiles into resource types and works out what each
// slice's items look like, now that every definition is known. An R4 core
// extension it cannot resolve is skipped; an IG definition fails the whole.
func (v *Validator) resolve() error {
	urls := make([]string, 0, len(v.defs))
	for u := range v.defs {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	for _, u := range urls {
		def := v.defs[u]
		err := v.resolveDefinition(def)
		switch {
		case err == nil:
		case def.core:
			v.skip(u, err)
		default:
			return err
		}
	}
	return nil
}

func (v *Validator) resolveDefinition(def *definition) error {
	var err error
	walkRules(def.Root, func(r *rules) {
		for _, tp := range r.TargetProfiles {
			t, ok := v.typeOfProfile(tp)
			if !ok && err == nil {
				err = fmt.Errorf("profile: %s: target profile %s is unknown", r.ID, tp)
			}
			if !slices.Contains(r.Targets, t) {
				r.Targets = append(r.Targets, t)
			}
		}
		for _, s := range r.Slices {
			if e := v.sliceWants(r, s); e != nil && err == nil {
				err = e
			}
		}
		r.counted = countedChildren(r)
	})
	return err
}

// countedChildren lists the children of r whose items must be counted.
func countedChildren(r *rules) []counted {
	var out []counted
	for _, name := range r.order {
		c := r.Children[name]
		cc := counted{name: name}
		if needsCount(c) {
			cc.rules = c
		}
		for _, s := range c.Slices {
			if needsCount(s.Rules) {
				cc.slices = append(cc.slices, s)
			}
		}
		if cc.rules != nil || cc.slices != nil {
			out = append(out, cc)
		}
	}
	return out
}

func walkRules(r *rules, f func(*rules)) {
	f(r)
	for _, c := range r.Children {
		walkRules(c, f)
	}
	for _, s := range r.Slices {
		walkRules(s.Rules, f)
	}
}

// typeOfProfile returns the resource type a profile URL constrains: an IG
// profile's type, the type of an R4 base definition, or the type one of
// R4's own profiles (vitalsigns, bodyheight, …) constrains.
func (v *Validator) typeOfProfile(url string) (string, bool) {
	url = stripVersion(url)
	if d := v.defs[url]; d != nil {
		return d.Type, true
	}
	const base = "http://hl7.org/fhir/StructureDefinition/"
	if t, ok := strings.CutPrefix(url, base); ok && (r4.IsResourceType(t) || t == "Resource") {
		return t, true
	}
	return r4.ProfileType(url)
}

// sliceWants fills s.want: for each value or pattern discriminator, the
// value a matching item holds at its path, from the slice's fixed or
// pattern values or, for an extension's url, from the extension it is typed
// with.
func (v *Validator) sliceWants(r *rules, s *slice) error {
	if r.Slicing == nil {
		return fmt.Errorf("profile: %s: slice %s without slicing", r.ID, s.Name)
	}
	s.want = make([]any, len(r.Slicing.Discriminators))
	for i, d := range r.Slicing.Discriminators {
		switch d.Kind {
		case "value", "pattern":
		case "exists":
			continue
		case "type", "profile":
			// Judged on the item itself (its type, its conformance); a path
			// below it would need a resolve() this compiler does not do.
			if len(d.Path) > 0 {
				return fmt.Errorf("profile: %s: %s discriminator on a path (%s) is not supported", r.ID, d.Kind, strings.Join(d.Path, "."))
			}
			continue
		default:
			return fmt.Errorf("profile: %s: discriminator type %q is not supported", r.ID, d.Kind)
		}
		at := s.Rules
		for _, step := range d.Path {
			if at != nil {
				at = at.Children[step]
			}
		}
		switch {
		case at != nil && at.Fixed != nil:
			s.want[i] = at.Fixed
		case at != nil && at.Pattern != nil:
			s.want[i] = at.Pattern
		case len(d.Path) == 1 && d.Path[0] == "url" && len(s.Rules.TypeProfiles) == 1:
			// An extension's url is its definition's canonical URL, so a
			// slice typed with an extension this server does not embed (an
			// R4 core extension) still matches by it.
			url := stripVersion(s.Rules.TypeProfiles[0])
			if ext := v.defs[url]; ext != nil && ext.ExtensionURL != "" {
				url = ext.ExtensionURL
			}
			s.want[i] = url
		default:
			return fmt.Errorf("profile: %s: no value for discriminator %s", s.Rules.ID, strings.Join(d.Path, "."))
		}
	}
	return nil
}

// pickDefaults reads which profile each served type is held to from the
// IG's CapabilityStatement: a resource's profile, else its first supported
// profile (Organization: vhdir-organization; vhdir-network applies to an
// Organization that claims it).
func (v *Validator) pickDefaults() error {
	cs, err := ig.CapabilityStatement()
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	rest, _ := cs.Get("rest")
	for _, r := range asArray(rest) {
		ro, _ := r.(*jsontree.Object)
		res, _ := ro.Get("resource")
		for _, x := range asArray(res) {
			xo, _ := x.(*jsontree.Object)
			typ, _ := xo.String("type")
			url, ok := xo.String("profile")
			if !ok {
				sp, _ := xo.Get("supportedProfile")
				if list := asArray(sp); len(list) > 0 {
					url, _ = list[0].(string)
				}
			}
			if url == "" {
				continue
			}
			def := v.defs[url]
			if def == nil {
				return fmt.Errorf("profile: the CapabilityStatement names %s for %s, which is not embedded", url, typ)
			}
			v.defaults[typ] = def
		}
	}
	return nil
}

func asArray(v any) []any {
	a, _ := v.([]any)
	return a
}

// compileBase gathers R4's invariants, bindings and fixed values per type
// and element.
func (v *Validator) compileBase() {
	// Each type's own invariants are compiled once; a type's plan lists its
	// own and its ancestors' (DomainResource's dom-6 in every resource's).
	own := map[string][]*invariant{}
	for _, name := range r4.TypeNames() {
		t := r4.Lookup(name)
		for _, c := range t.Constraints {
			if !structural[c.Key] {
				own[name] = append(own[name], newInvariant(c.Key, c.Severity, c.Human, c.Expression, name))
			}
		}
	}
	for _, name := range r4.TypeNames() {
		t := r4.Lookup(name)
		var invs []*invariant
		for at := t; at != nil; at = r4.Lookup(at.Base) {
			invs = append(invs, own[at.Name]...)
			if at.Base == "" {
				break
			}
		}
		v.types[name] = &typePlan{invariants: invs, fields: t.Fields}
		for _, el := range t.Elements {
			v.compileElement(el)
		}
	}
}

func (v *Validator) compileElement(el *r4.Element) {
	be := &baseElement{}
	if b := el.Binding; b != nil && b.ValueSet != "" && b.Strength != "example" {
		be.binding = &binding{Strength: b.Strength, URL: b.ValueSet}
		if b.Strength != "preferred" {
			be.binding.Set = v.terms.valueSet(b.ValueSet)
		}
	}
	for _, c := range el.Constraints {
		if !structural[c.Key] {
			be.invariants = append(be.invariants, newInvariant(c.Key, c.Severity, c.Human, c.Expression, el.Path))
		}
	}
	if el.Fixed != nil {
		be.fixed, _ = jsontree.Parse(el.Fixed)
	}
	if el.Pattern != nil {
		be.pattern, _ = jsontree.Parse(el.Pattern)
	}
	if be.binding != nil || be.invariants != nil || be.fixed != nil || be.pattern != nil {
		v.elems[el] = be
	}
}

// Known reports whether url names a profile or extension this validator has.
func (v *Validator) Known(url string) bool { return v.defs[stripVersion(url)] != nil }

// ProfileType returns the resource type a known profile constrains; false
// for an unknown URL or an extension.
func (v *Validator) ProfileType(url string) (string, bool) {
	d := v.defs[stripVersion(url)]
	if d == nil || d.Type == "Extension" {
		return "", false
	}
	return d.Type, true
}

// Profiles returns the URLs of the known profiles (not extensions), sorted.
func (v *Validator) Profiles() []string {
	var out []string
	for u, d := range v.defs {
		if d.Type != "Extension" {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}

// Unchecked lists the invariants that cannot be evaluated here, each with
// the reason, for documentation and tests.
func (v *Validator) Unchecked() map[string]string {
	out := map[string]string{}
	add := func(invs []*invariant) {
		for _, inv := range invs {
			if inv.compileErr != nil {
				out[inv.Key] = inv.compileErr.Error()
			}
		}
	}
	for _, tp := range v.types {
		add(tp.invariants)
	}
	for _, be := range v.elems {
		add(be.invariants)
	}
	for _, d := range v.defs {
		walkRules(d.Root, func(r *rules) { add(r.Invariants) })
	}
	return out
}

// isUnsupported reports whether the engine declined an evaluation
// (memberOf, conformsTo).
func isUnsupported(err error) bool { return errors.Is(err, fhirpath.ErrUnsupported) }

// Issue codes beyond package fhir's common ones.
const (
	codeInvalid = "code-invalid"
	codeExt     = "extension"
)
