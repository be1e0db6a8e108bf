package profile

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/fhirpath"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// maxIssues bounds the issues of one resource, as package fhir does.
const maxIssues = 100

// Validate checks a structurally valid resource (fhir.Validate found no
// issue) against R4's invariants and bindings and against its profiles: the
// VhDir profile of its type, every known profile it claims in meta.profile,
// and the profiles named in extra, as if claimed. A claimed profile this validator does not
// know is a warning. It returns the issues found, errors first; nil when
// there are none.
func (v *Validator) Validate(res *jsontree.Object, extra ...string) []fhir.Issue {
	return v.validate(res, false, extra)
}

// ValidateShell is Validate for a Bundle whose entries' resources are
// validated on their own: it checks the Bundle's own elements and
// invariants (bdl-*), and not the resources of its entries.
func (v *Validator) ValidateShell(bundle *jsontree.Object, extra ...string) []fhir.Issue {
	return v.validate(bundle, true, extra)
}

func (v *Validator) validate(res *jsontree.Object, shell bool, extra []string) []fhir.Issue {
	w := walkers.Get().(*walker)
	defer w.release()
	w.v, w.root, w.shell = v, res, shell
	w.resource(res, extra)
	if len(w.issues) == 0 {
		return nil
	}
	out := slices.Clone(w.issues)
	slices.SortStableFunc(out, func(a, b fhir.Issue) int { return severityRank(a.Severity) - severityRank(b.Severity) })
	return out
}

func severityRank(s string) int {
	switch s {
	case fhir.SeverityError:
		return 0
	case fhir.SeverityWarning:
		return 1
	}
	return 2
}

// HasErrors reports whether any issue is an error.
func HasErrors(issues []fhir.Issue) bool {
	for _, is := range issues {
		if is.Severity == fhir.SeverityError || is.Severity == "fatal" {
			return true
		}
	}
	return false
}

// walker is the state of one validation; pooled.
type walker struct {
	v        *Validator
	root     *jsontree.Object // %rootResource
	current  *jsontree.Object // %resource: the resource holding the element
	path     []fhir.PathStep
	issues   []fhir.Issue
	dropped  bool
	reported map[string]bool // invariants reported as not checked, once each
	scratch  [][]*rules
	// resType is the type of the resource being walked and resStart where
	// its elements begin in path: the definition path of an element
	// (Practitioner.communication) is built from them when an extension's
	// context needs it.
	resType  string
	resStart int
	shell    bool // a Bundle without its entries' resources (ValidateShell)
}

var walkers = sync.Pool{New: func() any { return new(walker) }}

func (w *walker) release() {
	w.v, w.root, w.current, w.resType, w.resStart, w.shell = nil, nil, nil, "", 0, false
	w.path = w.path[:0]
	clear(w.issues)
	w.issues = w.issues[:0]
	w.dropped = false
	clear(w.reported)
	walkers.Put(w)
}

func (w *walker) push(name, choice string, index int) {
	w.path = append(w.path, fhir.PathStep{Name: name, Choice: choice, Index: index})
}

func (w *walker) pop() { w.path = w.path[:len(w.path)-1] }

// parentDefPath is the definition path of the element holding the current
// item: Practitioner.communication for an extension of a communication.
func (w *walker) parentDefPath() string {
	var b strings.Builder
	b.WriteString(w.resType)
	for _, s := range w.path[w.resStart : len(w.path)-1] {
		b.WriteByte('.')
		b.WriteString(s.Name)
	}
	return b.String()
}

func (w *walker) pathString() string { return fhir.FormatPath(w.path) }

// report adds an issue at the current path. rule names the rule broken
// (an invariant's key, an element id and the constraint kind) for counting.
func (w *walker) report(rule, severity, code, format string, args ...any) {
	if len(w.issues) >= maxIssues {
		if !w.dropped {
			w.dropped = true
			w.issues = append(w.issues, fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.IssueTooCostly,
				Diagnostics: fmt.Sprintf("more issues were found; only the first %d are reported", maxIssues)})
		}
		return
	}
	w.issues = append(w.issues, fhir.Issue{
		Severity:    severity,
		Code:        code,
		Diagnostics: fmt.Sprintf(format, args...),
		Expression:  []string{w.pathString()},
		Rule:        rule,
	})
}

// resource validates a resource at the current path (the root, or a
// contained resource): R4 and the profiles that apply to it.
func (w *walker) resource(res *jsontree.Object, extra []string) {
	typ, _ := res.String("resourceType")
	if r4.Lookup(typ) == nil {
		return // package fhir reports it
	}
	outer, outerType, outerStart := w.current, w.resType, w.resStart
	w.current, w.resType = res, typ
	// The root names its type; a resource inside another is where it sits
	// (HealthcareService.contained[0]).
	top := len(w.path) == 0
	if top {
		w.push(typ, "", -1)
	}
	w.resStart = len(w.path)
	rs := w.profilesOf(res, typ, extra)
	w.object(res, typ, nil, rs)
	if top {
		w.pop()
	}
	w.current, w.resType, w.resStart = outer, outerType, outerStart
}

// profilesOf picks the profiles res is held to and reports claimed
// profiles that are unknown or for another type.
func (w *walker) profilesOf(res *jsontree.Object, typ string, extra []string) []*rules {
	var rs []*rules
	add := func(d *definition) {
		if !slices.Contains(rs, d.Root) {
			rs = append(rs, d.Root)
		}
	}
	claimedOwnType := false
	claims := claimedProfiles(res)
	for i, url := range append(claims, extra...) {
		d := w.v.defs[stripVersion(url)]
		switch {
		case d == nil && i < len(claims):
			w.atClaim(i, "meta.profile", fhir.SeverityWarning, fhir.IssueNotSupported, "profile %s is not known to this server; the resource was not checked against it", url)
		case d == nil:
			w.report("profile", fhir.SeverityError, fhir.IssueNotSupported, "profile %s is not known", url)
		case d.Type != typ:
			w.report("profile", fhir.SeverityError, fhir.IssueInvalid, "profile %s is for %s, not %s", url, d.Type, typ)
		default:
			add(d)
			claimedOwnType = true
		}
	}
	// The root resource is held to its type's VhDir profile unless it claims
	// one of the type's (vhdir-network for an Organization); contained
	// resources only to what they claim.
	if d := w.v.defaults[typ]; d != nil && !claimedOwnType && w.current == w.root {
		add(d)
	}
	return rs
}

func (w *walker) atClaim(i int, rule, severity, code, format string, args ...any) {
	w.push("meta", "", -1)
	w.push("profile", "", i)
	w.report(rule, severity, code, format, args...)
	w.pop()
	w.pop()
}

func claimedProfiles(res *jsontree.Object) []string {
	meta, ok := res.Object("meta")
	if !ok {
		return nil
	}
	p, _ := meta.Get("profile")
	var out []string
	for _, x := range asArray(p) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// object validates a complex value or resource of type typ, the value of
// element def (nil for a resource or a type's root), under the profile
// rules rs.
func (w *walker) object(obj *jsontree.Object, typ string, def *r4.Element, rs []*rules) {
	if w.dropped {
		return
	}
	tp := w.v.types[typ]
	if tp == nil {
		return // package fhir reports unknown types
	}
	focus := fhirpath.Focus{Value: obj, Type: typ, Element: def}
	for _, inv := range tp.invariants {
		w.check(inv, focus, "")
	}
	for _, r := range rs {
		for _, inv := range r.Invariants {
			w.check(inv, focus, r.Source.Name)
		}
	}
	fields := tp.fields
	if def != nil && def.Fields != nil {
		fields = def.Fields // a backbone element's own members
	}
	for i := 0; i < len(obj.Members); i++ {
		key := obj.Members[i].Key
		name := key
		if key == "resourceType" {
			continue
		}
		if key[0] == '_' {
			if _, ok := obj.Get(key[1:]); ok {
				continue // with its value
			}
			name = key[1:]
		}
		f := fields[name]
		if f == nil {
			continue // package fhir reports unknown members
		}
		w.member(obj, f, typ, rs)
	}
	w.cardinality(obj, fields, rs)
}

// member validates every item of one member of obj.
func (w *walker) member(obj *jsontree.Object, f *r4.Field, parentType string, rs []*rules) {
	el := f.Element
	val, hasVal := obj.Get(f.JSONName)
	ext := companion(obj, f.JSONName)
	childRules := w.childRules(rs, el.Name)
	defer w.putScratch(childRules)
	choice := ""
	if el.Choice {
		choice = f.Type
	}
	w.checkTypes(childRules, f, choice)
	if !el.IsArray() {
		w.push(el.Name, choice, -1)
		w.item(val, hasVal, asObject(ext), f, childRules)
		w.pop()
		return
	}
	vals, exts := asArray(val), asArray(ext)
	n := max(len(vals), len(exts))
	for i := range n {
		var item any
		has := i < len(vals) && vals[i] != nil
		if has {
			item = vals[i]
		}
		var e *jsontree.Object
		if i < len(exts) {
			e = asObject(exts[i])
		}
		w.push(el.Name, choice, i)
		itemRules := childRules
		if o, ok := item.(*jsontree.Object); ok {
			itemRules = w.sliceRules(childRules, o, f.Type)
		}
		if f.Type == "Extension" {
			if o, ok := item.(*jsontree.Object); ok {
				itemRules = w.extensionRules(o, itemRules, childRules, parentType)
			}
		}
		w.item(item, has, e, f, itemRules)
		if !sameSlice(itemRules, childRules) {
			w.putScratch(itemRules) // the item's own, built from childRules
		}
		w.pop()
	}
}

// companion returns member "_"+name of obj without building the key.
func companion(obj *jsontree.Object, name string) any {
	for i := range obj.Members {
		k := obj.Members[i].Key
		if len(k) == len(name)+1 && k[0] == '_' && k[1:] == name {
			return obj.Members[i].Value
		}
	}
	return nil
}

// sameSlice reports whether a is b (or empty): no scratch of its own.
func sameSlice(a, b []*rules) bool {
	return len(a) == 0 || len(b) > 0 && &a[0] == &b[0]
}

func asObject(v any) *jsontree.Object {
	o, _ := v.(*jsontree.Object)
	return o
}

// childRules collects the rules of element name under each of rs.
func (w *walker) childRules(rs []*rules, name string) []*rules {
	var out []*rules
	for _, r := range rs {
		if c := r.Children[name]; c != nil {
			if out == nil {
				out = w.getScratch()
			}
			out = append(out, c)
		}
	}
	return out
}

func (w *walker) getScratch() []*rules {
	if n := len(w.scratch); n > 0 {
		s := w.scratch[n-1]
		w.scratch = w.scratch[:n-1]
		return s
	}
	return make([]*rules, 0, 4)
}

func (w *walker) putScratch(s []*rules) {
	if s == nil {
		return
	}
	clear(s)
	w.scratch = append(w.scratch, s[:0])
}

// item validates one value of element f: its binding, fixed and pattern
// values, reference targets and invariants, then its members.
func (w *walker) item(val any, has bool, ext *jsontree.Object, f *r4.Field, rs []*rules) {
	el := f.Element
	be := w.v.elems[el]
	if has {
		w.values(val, f.Type, el, be, rs)
	}
	focus := fhirpath.Focus{Value: val, Ext: ext, Type: f.Type, Element: el}
	if !has {
		focus.Value = nil
	}
	if be != nil {
		for _, inv := range be.invariants {
			w.check(inv, focus, "")
		}
	}
	if ext != nil {
		w.primitiveExtensions(ext, f.Type)
	}
	o, ok := val.(*jsontree.Object)
	if !ok {
		return
	}
	switch {
	case f.Type == "Resource": // contained, Bundle.entry.resource, Parameters.parameter.resource
		rt, _ := o.String("resourceType")
		w.containedResource(o, rt)
	case el.Backbone():
		w.object(o, f.Type, el, rs)
	default:
		w.object(o, f.Type, nil, rs)
	}
}

// containedResource validates a resource inside another (contained,
// Bundle.entry.resource, Parameters.parameter.resource).
func (w *walker) containedResource(o *jsontree.Object, rt string) {
	if rt == "" {
		return
	}
	outerRoot := w.root
	if w.path[len(w.path)-1].Name != "contained" {
		if w.shell && len(w.path) == 3 { // Bundle.entry[i].resource
			return
		}
		w.root = o // an entry's resource is a root of its own
	}
	w.resource(o, nil)
	w.root = outerRoot
}

// primitiveExtensions walks the extensions of a primitive's _name companion.
func (w *walker) primitiveExtensions(ext *jsontree.Object, typ string) {
	exts, _ := ext.Get("extension")
	fields := r4.FieldsOf(nil, "Element")
	f := fields["extension"]
	if f == nil {
		return
	}
	list := asArray(exts)
	for i, x := range list {
		o, ok := x.(*jsontree.Object)
		if !ok {
			continue
		}
		w.push("extension", "", i)
		rs := w.extensionRules(o, nil, nil, typ)
		w.item(o, true, nil, f, rs)
		w.putScratch(rs)
		w.pop()
	}
}

// check evaluates one invariant at focus.
func (w *walker) check(inv *invariant, focus fhirpath.Focus, profile string) {
	if inv.compileErr != nil {
		w.notChecked(inv, inv.compileErr)
		return
	}
	ok, err := inv.expr.Check(w.current, w.root, focus)
	switch {
	case err != nil:
		w.notChecked(inv, err)
	case !ok:
		sev := fhir.SeverityError
		if inv.Severity == "warning" {
			sev = fhir.SeverityWarning
		}
		w.report(inv.Key, sev, fhir.IssueInvariant, "%s: %s [%s] (%s)", inv.Key, inv.Human, inv.Expression, sourceName(inv.Source, profile))
	}
}

func (w *walker) notChecked(inv *invariant, err error) {
	if w.reported[inv.Key] {
		return
	}
	if w.reported == nil {
		w.reported = map[string]bool{}
	}
	w.reported[inv.Key] = true
	why := "its expression cannot be evaluated here"
	if isUnsupported(err) {
		why = err.Error()
	}
	w.report(inv.Key+" not checked", fhir.SeverityInformation, fhir.IssueInformational, "%s not checked: %s", inv.Key, why)
}

func sourceName(source, profile string) string {
	if profile != "" {
		return profile
	}
	return source
}
