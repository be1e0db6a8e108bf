package fhirpath

import (
	"slices"
	"strings"
	"sync"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// typeInfo is what the evaluator knows about one FHIR type or one inline
// (backbone) element: the names it answers to in type tests and the members
// navigation can reach. Every Node from the resource points at one, so
// navigation never looks a type up by name on the hot path.
type typeInfo struct {
	name   string   // FHIR type code: "HumanName", "BackboneElement", "Practitioner"
	bases  []string // name then its ancestors: Practitioner, DomainResource, Resource
	kind   r4.Kind
	vk     vkind                // what its values are to comparison and arithmetic
	fields map[string]*r4.Field // where members come from; nil for placeholders
	// concrete marks a resource type a resource can have (not Resource or
	// DomainResource).
	concrete bool

	once    sync.Once // members are built on first use: most types are never navigated
	members map[string]*member
	ext     *member // members["extension"], which extension() needs on every node

	// placeholder is the info of a resolve() result of this resource type:
	// same type names, no members, because its Value is the Reference.
	placeholder *typeInfo
	opaque      bool // this is a placeholder
}

// member is one navigable name of a type: a plain element, a choice element
// (all its valueX alternatives) or one alternative named by its JSON name.
// Whether it repeats does not matter: navigation flattens whatever arrays
// the JSON holds.
type member struct {
	name   string
	choice bool
	alts   []*alt
	byKey  map[string]*alt // choice: "valueString" and "_valueString" → alternative
}

// alt is one JSON member a member may be written as.
type alt struct {
	key  string // "valueString"
	ext  string // "_valueString", the primitive's companion
	typ  string // "string"
	prim bool
	// resource marks elements typed Resource (contained, Bundle.entry.resource):
	// the value's own resourceType names its type.
	resource bool
	info     *typeInfo
}

// isA reports whether the type is name or derives from it.
func (t *typeInfo) isA(name string) bool {
	for _, b := range t.bases {
		if b == name {
			return true
		}
	}
	return false
}

// member returns the member called name, or nil.
func (t *typeInfo) member(name string) *member {
	t.once.Do(t.buildMembers)
	return t.members[name]
}

// extensions returns the extension member, or nil.
func (t *typeInfo) extensions() *member {
	t.once.Do(t.buildMembers)
	return t.ext
}

func (t *typeInfo) buildMembers() {
	t.members = map[string]*member{}
	for _, f := range sortedFields(t.fields) {
		e := f.Element
		if t.kind == r4.Primitive && e.Name == "value" {
			continue // a primitive's value is the node itself, not a member
		}
		a := newAlt(f)
		m := t.members[e.Name]
		if m == nil {
			m = &member{name: e.Name, choice: e.Choice}
			t.members[e.Name] = m
		}
		m.alts = append(m.alts, a)
		if e.Choice {
			if m.byKey == nil {
				m.byKey = map[string]*alt{}
			}
			m.byKey[a.key] = a
			m.byKey[a.ext] = a
			// FHIRPath.js and most engines also accept the JSON name
			// (Observation.valueQuantity); it is one alternative of the choice.
			if t.members[a.key] == nil {
				t.members[a.key] = &member{name: a.key, alts: []*alt{a}}
			}
		}
	}
	t.ext = t.members["extension"]
}

func sortedFields(fields map[string]*r4.Field) []*r4.Field {
	out := make([]*r4.Field, 0, len(fields))
	for _, f := range fields {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *r4.Field) int { return strings.Compare(a.JSONName, b.JSONName) })
	return out
}

func newAlt(f *r4.Field) *alt {
	a := &alt{key: f.JSONName, ext: "_" + f.JSONName, typ: f.Type, prim: r4.IsPrimitive(f.Type)}
	switch {
	case f.Element.Backbone():
		a.info = elementInfo(f.Element, f.Type)
	case f.Type == "Resource" || f.Type == "DomainResource":
		a.resource = true
		a.info = lookupInfo(f.Type)
	default:
		a.info = lookupInfo(f.Type)
	}
	return a
}

func newInfo(name string, kind r4.Kind, fields map[string]*r4.Field) *typeInfo {
	t := &typeInfo{name: name, bases: baseChain(name), kind: kind, fields: fields, vk: kObject}
	switch {
	case kind == r4.Primitive:
		t.vk = kString
		if k, ok := primitiveKinds[name]; ok {
			t.vk = k
		}
	case t.isA("Quantity"):
		t.vk = kQuantity
	}
	return t
}

// elementInfos holds the info of each backbone element, so that navigation
// and Check's focus share one per element.
var elementInfos sync.Map // *r4.Element → *typeInfo

// elementInfo returns the info of an inline (backbone) element, whose
// members are its own Fields; name is its type code (BackboneElement,
// Element).
func elementInfo(e *r4.Element, name string) *typeInfo {
	if t, ok := elementInfos.Load(e); ok {
		return t.(*typeInfo)
	}
	t, _ := elementInfos.LoadOrStore(e, newInfo(name, r4.Complex, e.Fields))
	return t.(*typeInfo)
}

// baseChain lists name and its ancestors; the R4 model guarantees the chain
// ends, but the bound keeps a broken model from looping.
func baseChain(name string) []string {
	var out []string
	for t := r4.Lookup(name); t != nil && len(out) < 16; t = r4.Lookup(t.Base) {
		out = append(out, t.Name)
	}
	if len(out) == 0 {
		out = []string{name}
	}
	return out
}

var (
	registryOnce sync.Once
	infos        map[string]*typeInfo // every type reachable from a resource type
	elementNames map[string]bool      // every member name of every type, for Compile's check
)

// lookupInfo returns the info of the named type, or nil when no resource type
// reaches it.
func lookupInfo(name string) *typeInfo {
	registryOnce.Do(buildRegistry)
	return infos[name]
}

// buildRegistry walks the R4 model from every resource type so that the
// registry is read-only afterwards and lookups need no lock.
func buildRegistry() {
	infos = map[string]*typeInfo{}
	elementNames = map[string]bool{}
	seen := map[*r4.Element]bool{}
	var visitType func(name string)
	var visitFields func(fields map[string]*r4.Field)
	visitType = func(name string) {
		t := r4.Lookup(name)
		if t == nil || infos[name] != nil {
			return
		}
		infos[name] = newInfo(name, t.Kind, t.Fields)
		infos[name].concrete = t.Kind == r4.Resource && !t.Abstract
		if t.Kind == r4.Resource {
			infos[name].placeholder = newPlaceholder(infos[name])
		}
		if t.Base != "" {
			visitType(t.Base)
		}
		visitFields(t.Fields)
	}
	visitFields = func(fields map[string]*r4.Field) {
		for _, f := range fields {
			elementNames[f.JSONName] = true
			elementNames[f.Element.Name] = true
			visitType(f.Type)
			if f.Element.Backbone() && !seen[f.Element] {
				seen[f.Element] = true
				visitFields(f.Element.Fields)
			}
		}
	}
	for _, name := range append([]string{"Resource", "DomainResource", "Extension"}, r4.ResourceTypes()...) {
		visitType(name)
	}
}

// newPlaceholder makes the info of a resolve() result: the resource type's
// names for type tests, and no members, spent once so member() never builds.
func newPlaceholder(t *typeInfo) *typeInfo {
	p := &typeInfo{name: t.name, bases: t.bases, kind: t.kind, vk: kObject, opaque: true}
	p.once.Do(func() { p.members = map[string]*member{} })
	return p
}

// isElementName reports whether some R4 type has a member called name.
func isElementName(name string) bool {
	registryOnce.Do(buildRegistry)
	return elementNames[name]
}

// resourceInfo returns the type name and info of a JSON resource, or false
// when its resourceType is not a concrete R4 resource type.
func resourceInfo(o *jsontree.Object) (string, *typeInfo, bool) {
	rt, _ := o.String("resourceType")
	ti := lookupInfo(rt)
	return rt, ti, ti != nil && ti.concrete
}

// systemTypes are the FHIRPath System types a type specifier may name.
var systemTypes = map[string]bool{
	"Boolean": true, "String": true, "Integer": true, "Decimal": true,
	"Date": true, "DateTime": true, "Time": true, "Quantity": true,
}

// typeSpec is a compiled type specifier: FHIR.name (with inheritance) or
// System.name.
type typeSpec struct {
	name   string
	system string // "System.String" when a System type, else ""
}

// match reports whether the node is of the type or derives from it. FHIR
// primitives are not System types: string is FHIR.string, 'a' is System.String.
func (s typeSpec) match(n *Node) bool {
	if s.system != "" {
		return n.Type == s.system
	}
	return n.info != nil && n.info.isA(s.name)
}

// resolveTypeSpec turns a (possibly qualified) type name into a typeSpec.
// Unqualified names are looked up in FHIR first, then System, as FHIRPath
// N1 "Models" says.
func resolveTypeSpec(qualified string) (typeSpec, bool) {
	ns, name, ok := strings.Cut(qualified, ".")
	if !ok {
		name, ns = ns, ""
	}
	switch ns {
	case "FHIR":
		return typeSpec{name: name}, r4.Lookup(name) != nil
	case "System":
		return typeSpec{name: name, system: "System." + name}, systemTypes[name]
	case "":
		if r4.Lookup(name) != nil {
			return typeSpec{name: name}, true
		}
		return typeSpec{name: name, system: "System." + name}, systemTypes[name]
	}
	return typeSpec{}, false
}
