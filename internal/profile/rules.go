package profile

import (
	"slices"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// checkTypes reports a choice alternative, or a type, that a profile does
// not allow for the element (Extension.value[x] restricted to code).
func (w *walker) checkTypes(rs []*rules, f *r4.Field, choice string) {
	for _, r := range rs {
		if r.Types == nil || slices.Contains(r.Types, f.Type) {
			continue
		}
		w.push(f.Element.Name, choice, -1)
		w.report(r.ID+" type", fhir.SeverityError, fhir.IssueStructure, "%s: type %s is not allowed; allowed: %s (%s)",
			r.ID, f.Type, strings.Join(r.Types, ", "), r.Source.Name)
		w.pop()
	}
}

// values checks one item against fixed and pattern values, the binding and
// reference targets of R4 (be) and of the profiles (rs).
func (w *walker) values(val any, typ string, el *r4.Element, be *baseElement, rs []*rules) {
	if be != nil {
		w.fixed(val, be.fixed, be.pattern, el.Path, "R4")
	}
	bound := false
	for _, r := range rs {
		w.fixed(val, r.Fixed, r.Pattern, r.ID, r.Source.Name)
		if r.Binding != nil && r.Binding.Strength != "example" {
			bound = true
			w.binding(val, typ, r.Binding, r.ID, r.Source.Name)
		}
		if typ == "Reference" && r.Targets != nil {
			w.targets(val, r)
		}
	}
	if !bound && be != nil && be.binding != nil {
		w.binding(val, typ, be.binding, el.Path, "R4")
	}
}

func (w *walker) fixed(val, fixed, pattern any, id, source string) {
	if fixed != nil && !jsontree.Equal(val, fixed) {
		w.report(id+" fixed", fhir.SeverityError, fhir.IssueValue, "%s must be exactly %s (%s)", id, jsontree.Marshal(fixed), source)
	}
	if pattern != nil && !matchesPattern(val, pattern) {
		w.report(id+" pattern", fhir.SeverityError, fhir.IssueValue, "%s must match the pattern %s (%s)", id, jsontree.Marshal(pattern), source)
	}
}

// matchesPattern reports whether val holds everything pattern holds: equal
// primitives, objects with at least the pattern's members, arrays where each
// pattern item matches some item (FHIR R4 ElementDefinition.pattern[x]).
func matchesPattern(val, pattern any) bool {
	switch p := pattern.(type) {
	case *jsontree.Object:
		o, ok := val.(*jsontree.Object)
		if !ok {
			return false
		}
		for _, m := range p.Members {
			got, ok := o.Get(m.Key)
			if !ok || !matchesPattern(got, m.Value) {
				return false
			}
		}
		return true
	case []any:
		arr, ok := val.([]any)
		if !ok {
			return false
		}
		for _, want := range p {
			if !slices.ContainsFunc(arr, func(x any) bool { return matchesPattern(x, want) }) {
				return false
			}
		}
		return true
	}
	return jsontree.Equal(val, pattern)
}

// coded is one code an item carries: a code alone, or a system and code.
type coded struct{ system, code string }

// codes lists the codes of a bound item by its type; ok is false for a type
// bindings do not apply to.
func codes(val any, typ string, buf []coded) ([]coded, bool) {
	switch typ {
	case "code", "string", "uri":
		s, _ := val.(string)
		return append(buf, coded{"", s}), true
	case "Coding", "Quantity":
		o, _ := val.(*jsontree.Object)
		return appendCoding(buf, o), true
	case "CodeableConcept":
		o, _ := val.(*jsontree.Object)
		if o == nil {
			return buf, true
		}
		list, _ := o.Get("coding")
		for _, c := range asArray(list) {
			buf = appendCoding(buf, asObject(c))
		}
		return buf, true
	}
	return buf, false
}

func appendCoding(buf []coded, o *jsontree.Object) []coded {
	if o == nil {
		return buf
	}
	code, ok := o.String("code")
	if !ok {
		return buf
	}
	sys, _ := o.String("system")
	return append(buf, coded{sys, code})
}

// binding judges an item's codes against a value set binding.
func (w *walker) binding(val any, typ string, b *binding, id, source string) {
	var arr [4]coded
	cs, ok := codes(val, typ, arr[:0])
	if !ok {
		return
	}
	if b.Set == nil {
		if b.Strength == "required" {
			w.report(id+" binding", fhir.SeverityInformation, fhir.IssueInformational,
				"%s is bound to value set %s, which is not available locally; its codes were not checked (%s)", id, b.URL, source)
		}
		return
	}
	if len(cs) == 0 {
		if typ != "CodeableConcept" {
			return // a Coding or Quantity without a code has nothing to judge
		}
		switch b.Strength {
		case "required":
			w.report(id+" binding", fhir.SeverityError, codeInvalid, "%s has no code; one from the required value set %s is needed (%s)", id, b.URL, source)
		case "extensible":
			w.report(id+" binding", fhir.SeverityWarning, codeInvalid, "%s has no code; one from the extensible value set %s should be given (%s)", id, b.URL, source)
		}
		return
	}
	verdict := notMember
	for _, c := range cs {
		switch b.Set.contains(c.system, c.code) {
		case member:
			return
		case unknown:
			verdict = unknown
		}
	}
	shown := shownCodes(cs)
	switch {
	case verdict == unknown && b.Strength == "required":
		w.report(id+" binding", fhir.SeverityInformation, fhir.IssueInformational,
			"%s: %s could not be checked against value set %s: %s (%s)", id, shown, b.URL, b.Set.whyOpen, source)
	case verdict == unknown:
	case b.Strength == "required":
		w.report(id+" binding", fhir.SeverityError, codeInvalid, "%s: %s is not in the required value set %s (%s)", id, shown, b.URL, source)
	case b.Strength == "extensible":
		w.report(id+" binding", fhir.SeverityWarning, codeInvalid, "%s: %s is not in the extensible value set %s (%s)", id, shown, b.URL, source)
	case b.Strength == "preferred":
		w.report(id+" binding", fhir.SeverityInformation, codeInvalid, "%s: %s is not in the preferred value set %s (%s)", id, shown, b.URL, source)
	}
}

func shownCodes(cs []coded) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		if c.system == "" {
			parts[i] = quote(c.code)
		} else {
			parts[i] = quote(c.system + "|" + c.code)
		}
	}
	return strings.Join(parts, ", ")
}

// quote shows input in a message, bounded so a huge value does not flood it.
func quote(s string) string {
	const limit = 80
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return "'" + s + "'"
}

// targets checks a Reference against the resource types a profile allows.
func (w *walker) targets(val any, r *rules) {
	o, _ := val.(*jsontree.Object)
	if o == nil {
		return
	}
	s, ok := o.String("reference")
	if !ok {
		return
	}
	ref, err := fhir.ParseReference(s)
	if err != nil {
		return // package fhir reports malformed references
	}
	typ := ref.Type
	if ref.Kind == fhir.RefContained {
		typ = w.containedType(ref.ID)
	}
	if typ == "" || slices.Contains(r.Targets, typ) || slices.Contains(r.Targets, "Resource") {
		return
	}
	w.push("reference", "", -1)
	w.report(r.ID+" target", fhir.SeverityError, fhir.IssueStructure, "%s: a reference to %s is not allowed; allowed: %s (%s)",
		r.ID, typ, strings.Join(r.Targets, ", "), r.Source.Name)
	w.pop()
}

// containedType returns the type of the contained resource with this id.
func (w *walker) containedType(id string) string {
	list, _ := w.root.Get("contained")
	for _, c := range asArray(list) {
		o := asObject(c)
		if o == nil {
			continue
		}
		if cid, _ := o.String("id"); cid == id {
			t, _ := o.String("resourceType")
			return t
		}
	}
	return ""
}

// cardinality checks the counts profiles put on obj's elements and their
// slices.
func (w *walker) cardinality(obj *jsontree.Object, fields map[string]*r4.Field, rs []*rules) {
	for _, r := range rs {
		for _, c := range r.counted {
			parent := r.Children[c.name]
			if c.rules != nil {
				w.count(c.rules, countItems(obj, fields, c.name, nil, nil, nil))
			}
			for _, s := range c.slices {
				w.count(s.Rules, countItems(obj, fields, c.name, w, parent, s))
			}
		}
	}
}

func needsCount(r *rules) bool { return (r.HasMin && r.Min > 0) || (r.HasMax && r.Max >= 0) }

func (w *walker) count(r *rules, n int) {
	switch {
	case r.HasMin && n < r.Min:
		w.report(r.ID+" min", fhir.SeverityError, fhir.IssueRequired, "%s: minimum required = %d, but only found %d (%s)", r.ID, r.Min, n, r.Source.Name)
	case r.HasMax && r.Max >= 0 && n > r.Max:
		w.report(r.ID+" max", fhir.SeverityError, fhir.IssueStructure, "%s: maximum allowed = %d, but found %d (%s)", r.ID, r.Max, n, r.Source.Name)
	}
}

// countItems counts the values of element name in obj; with a slice s (of
// parent), only the items that belong to it.
func countItems(obj *jsontree.Object, fields map[string]*r4.Field, name string, w *walker, parent *rules, s *slice) int {
	n := 0
	for i := range obj.Members {
		key := obj.Members[i].Key
		if key[0] == '_' {
			if _, ok := obj.Get(key[1:]); ok {
				continue
			}
			key = key[1:]
		}
		if !strings.HasPrefix(key, name) {
			continue // not this element, nor one of its choices (value, valueString)
		}
		f := fields[key]
		if f == nil || f.Element.Name != name {
			continue
		}
		val := obj.Members[i].Value
		if s == nil {
			if arr, isArr := val.([]any); isArr {
				n += len(arr)
			} else {
				n++
			}
			continue
		}
		items, isArr := val.([]any)
		if !isArr {
			items = []any{val}
		}
		for _, it := range items {
			if o, ok := it.(*jsontree.Object); ok && w.matches(parent, s, o, f.Type) {
				n++
			}
		}
	}
	return n
}

// sliceRules adds to rs the rules of the slices o belongs to, and reports
// an item no slice of a closed slicing takes.
func (w *walker) sliceRules(rs []*rules, o *jsontree.Object, typ string) []*rules {
	var out []*rules
	for _, r := range rs {
		if r.Slicing == nil {
			continue
		}
		matched := false
		for _, s := range r.Slices {
			if w.matches(r, s, o, typ) {
				if out == nil {
					out = append(w.getScratch(), rs...)
				}
				out = append(out, s.Rules)
				matched = true
			}
		}
		if !matched && r.Slicing.Rules == "closed" {
			w.report(r.ID+" closed", fhir.SeverityError, fhir.IssueStructure, "%s: the item matches no slice, and the slicing is closed (%s)", r.ID, r.Source.Name)
		}
	}
	if out == nil {
		return rs
	}
	return out
}

// matches reports whether item o (of type typ) belongs to slice s of r.
func (w *walker) matches(r *rules, s *slice, o *jsontree.Object, typ string) bool {
	for i, d := range r.Slicing.Discriminators {
		got := navigate(o, d.Path)
		switch d.Kind {
		case "value":
			if got == nil || !jsontree.Equal(got, s.want[i]) {
				return false
			}
		case "pattern":
			if got == nil || !matchesPattern(got, s.want[i]) {
				return false
			}
		case "exists":
			at := childAt(s.Rules, d.Path)
			if at == nil {
				return false
			}
			if (at.HasMin && at.Min > 0) != (got != nil) {
				return false
			}
		case "type":
			if !slices.Contains(s.Rules.Types, typ) {
				return false
			}
		case "profile":
			if !w.conforms(o, typ, s.Rules.TypeProfiles) {
				return false
			}
		}
	}
	return true
}

func childAt(r *rules, path []string) *rules {
	for _, p := range path {
		if r == nil {
			return nil
		}
		r = r.Children[p]
	}
	return r
}

// navigate follows a dotted path of member names, taking the first item of
// any array on the way.
func navigate(v any, path []string) any {
	for _, p := range path {
		o := asObject(v)
		if o == nil {
			return nil
		}
		next, ok := o.Get(p)
		if !ok {
			return nil
		}
		if arr, isArr := next.([]any); isArr {
			if len(arr) == 0 {
				return nil
			}
			next = arr[0]
		}
		v = next
	}
	return v
}

// conforms reports whether o has no errors against any of the profiles.
func (w *walker) conforms(o *jsontree.Object, typ string, profiles []string) bool {
	for _, url := range profiles {
		d := w.v.defs[stripVersion(url)]
		if d == nil {
			continue
		}
		sub := walkers.Get().(*walker)
		sub.v, sub.root, sub.current, sub.resType, sub.resStart = w.v, w.root, w.current, typ, 1
		sub.push(typ, "", -1)
		sub.object(o, typ, nil, []*rules{d.Root})
		ok := !HasErrors(sub.issues)
		sub.release()
		if ok {
			return true
		}
	}
	return false
}

// extensionRules adds the definition of extension o to its rules: the
// extension its slice is typed with, else the known extension its url names.
// It reports an extension used where its context does not allow it, and
// an extension it does not know.
func (w *walker) extensionRules(o *jsontree.Object, itemRules, sliceless []*rules, parentType string) []*rules {
	var defs []*definition
	for _, r := range itemRules {
		for _, p := range r.TypeProfiles {
			if d := w.v.defs[stripVersion(p)]; d != nil && !slices.Contains(defs, d) {
				defs = append(defs, d)
			}
		}
	}
	// A profile that slices an extension in at an element allows it there,
	// whatever the extension's own contexts say: vhdir-network puts
	// location-reference (context CareTeam) on Organization as its coverage
	// area.
	sliced := len(defs) > 0
	url, _ := o.String("url")
	if len(defs) == 0 {
		if d := w.v.extensions[url]; d != nil {
			defs = append(defs, d)
		}
	}
	if len(defs) == 0 {
		if isAbsolute(url) && len(itemRules) == len(sliceless) && !w.inExtension() {
			w.report("unknown extension", fhir.SeverityInformation, codeExt, "extension %s is not known to this server; its content was not checked", quote(url))
		}
		return itemRules
	}
	out := append(w.getScratch(), itemRules...)
	for _, d := range defs {
		if sliced || contextAllows(d, nil, parentType) {
			out = append(out, d.Root)
			continue
		}
		if defPath := w.parentDefPath(); !contextAllows(d, &defPath, parentType) {
			w.report(d.Name+" context", fhir.SeverityError, codeExt, "extension %s is not allowed on %s; its contexts are %s (%s)",
				d.ExtensionURL, defPath, contextList(d.Contexts), d.Name)
		}
		out = append(out, d.Root)
	}
	return out
}

// inExtension reports whether the current item is nested in an extension:
// a complex extension's parts have relative urls its slices define.
func (w *walker) inExtension() bool {
	for i := 0; i < len(w.path)-1; i++ {
		if w.path[i].Name == "extension" || w.path[i].Name == "modifierExtension" {
			return true
		}
	}
	return false
}

func isAbsolute(u string) bool {
	return strings.Contains(u, "://") || strings.HasPrefix(u, "urn:")
}

// contextAllows reports whether an extension may sit on an element of type
// typ at definition path defPath; a nil defPath judges by type alone, so
// the path is built only when the type does not decide.
//
// An "element" context names a type or an element path ("Element" is
// anywhere). An "extension" context (the extension may sit inside that
// other extension) and a "fhirpath" one (an expression selecting the
// elements) cannot be decided cheaply here, so either one allows the
// extension anywhere: such an extension is checked against its definition
// but never reported as out of context. R4's core extensions and the IG's
// use only "element".
func contextAllows(d *definition, defPath *string, typ string) bool {
	if len(d.Contexts) == 0 {
		return true
	}
	for _, c := range d.Contexts {
		if c.Type != "" && c.Type != "element" {
			return true
		}
		e := c.Expression
		if e == "Element" || isA(typ, e) || defPath != nil && e == *defPath {
			return true
		}
	}
	return false
}

func contextList(cs []extContext) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Expression)
	}
	return b.String()
}

// isA reports whether type typ is name or derives from it.
func isA(typ, name string) bool {
	for t := r4.Lookup(typ); t != nil; t = r4.Lookup(t.Base) {
		if t.Name == name {
			return true
		}
		if t.Base == "" {
			return false
		}
	}
	return false
}
