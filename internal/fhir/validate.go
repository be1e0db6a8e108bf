package fhir

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// maxIssues bounds the error issues Validate reports, so that a badly
// broken body does not turn into a megabyte OperationOutcome. One
// information issue follows the last when more were found.
const maxIssues = 100

// Validate checks an already parsed resource object against the R4 JSON
// format (https://hl7.org/fhir/R4/json.html) and the structural invariants of
// Element, DomainResource, Extension and Reference, and returns its issues
// (nil when valid). Each issue names the FHIRPath of the element at fault, such
// as Practitioner.name[0].given[1]. Terminology bindings, profiles and
// resource-specific invariants are not checked.
func Validate(obj *jsontree.Object) []Issue {
	return validate(obj, false)
}

// ValidateShell is Validate for a batch or transaction Bundle about to be
// run: it checks the Bundle's own elements (type, each entry's request,
// fullUrl, …) but not the resources its entries carry, which are checked
// one by one as each entry runs (ValidateEntry), so that a bad resource
// fails its own entry of a batch and no other (FHIR R4 http.html#brules).
// Any other resource is validated whole.
func ValidateShell(obj *jsontree.Object) []Issue {
	return validate(obj, true)
}

func validate(obj *jsontree.Object, shell bool) []Issue {
	shapesOnce.Do(buildShapes)
	v := validators.Get().(*validator)
	defer v.release()
	// A transaction or batch may refer to resources by search
	// (Type?criteria); the server resolves them before storing anything.
	if rt, _ := obj.String("resourceType"); rt == "Bundle" {
		bt, _ := obj.String("type")
		v.conditionalRefs = bt == "transaction" || bt == "batch"
		v.shell = shell
	}
	v.resource(obj, notContained)
	return v.finish()
}

// ValidateEntry checks the resource of entry i of a batch or transaction
// Bundle on its own: the issues Validate would report for it within its
// Bundle, at the same paths (Bundle.entry[i].resource…), with references
// by search (Type?criteria) allowed. resource is the entry's resource
// member as parsed, whatever its JSON kind.
func ValidateEntry(i int, resource any) []Issue {
	shapesOnce.Do(buildShapes)
	v := validators.Get().(*validator)
	defer v.release()
	v.conditionalRefs = true
	v.push("Bundle", "", -1)
	v.push("entry", "", i)
	v.push("resource", "", -1)
	if o, ok := resource.(*jsontree.Object); ok {
		v.resource(o, notContained)
	} else {
		v.report(IssueStructure, "expected an object (Resource), got %s", jsonKind(resource))
	}
	return v.finish()
}

// finish returns the issues found, noting any suppressed past maxIssues.
func (v *validator) finish() []Issue {
	if v.dropped {
		v.issues = append(v.issues, Issue{
			Severity:    SeverityInformation,
			Code:        IssueInformational,
			Diagnostics: fmt.Sprintf("stopped after %d issues; more were suppressed", maxIssues),
		})
	}
	return v.issues
}

// validators recycles the walk's path and scope buffers, so that validating
// a valid resource allocates nothing.
var validators = sync.Pool{New: func() any { return &validator{path: make([]PathStep, 0, 16)} }}

// release returns v to the pool without the issues it handed out or the
// strings of the resource it walked.
func (v *validator) release() {
	v.issues, v.dropped, v.depth, v.conditionalRefs, v.shell = nil, false, 0, false, false
	v.path = v.path[:0]
	for i := range v.scopes {
		sc := &v.scopes[i]
		clear(sc.contained[:cap(sc.contained)])
		clear(sc.refs[:cap(sc.refs)])
		sc.contained, sc.refs = sc.contained[:0], sc.refs[:0]
	}
	validators.Put(v)
}

// notContained is the contained index of a resource that is not contained.
const notContained = -1

type validator struct {
	issues  []Issue
	dropped bool // an issue past maxIssues was found; the walk stops
	path    []PathStep
	// scopes is a stack of resources being walked (a Bundle's entries nest);
	// entries past depth are kept for reuse.
	scopes []scope
	depth  int
	// conditionalRefs allows Type?criteria references (transaction and
	// batch Bundles).
	conditionalRefs bool
	// shell leaves out the resources of the root Bundle's entries
	// (ValidateShell).
	shell bool
}

// PathStep is one segment of the FHIRPath of an element.
type PathStep struct {
	Name   string
	Choice string // type of a choice element: value.ofType(date)
	Index  int    // -1 for a single element
}

// scope gathers what the contained-resource invariants need about one
// resource: its contained resources and every local (#) reference in it.
type scope struct {
	contained []containedRes
	refs      []localRef
	current   int // the contained resource being walked, or notContained
}

type containedRes struct {
	id   string
	path string
	// refersToContainer: something in it references the container (#).
	refersToContainer bool
}

type localRef struct {
	id        string
	path      string
	reference bool // a Reference.reference, which ref-1 constrains
}

func (v *validator) report(code, format string, args ...any) {
	if len(v.issues) >= maxIssues {
		v.dropped = true
		return
	}
	v.reportAt(v.pathString(), code, format, args...)
}

func (v *validator) reportAt(path, code, format string, args ...any) {
	if len(v.issues) >= maxIssues {
		v.dropped = true
		return
	}
	v.issues = append(v.issues, Issue{
		Severity:    SeverityError,
		Code:        code,
		Diagnostics: fmt.Sprintf(format, args...),
		Expression:  []string{path},
	})
}

func (v *validator) push(name, choice string, index int) {
	v.path = append(v.path, PathStep{Name: name, Choice: choice, Index: index})
}

func (v *validator) pop() { v.path = v.path[:len(v.path)-1] }

// pathString renders the current path. It is built only for an issue, a
// contained resource or a #id reference, which may need it once the whole
// resource is seen; other valid elements never pay for it.
func (v *validator) pathString() string { return FormatPath(v.path) }

// FormatPath renders a path as FHIRPath: Practitioner.name[0].given[1],
// Observation.value.ofType(integer).
func FormatPath(path []PathStep) string {
	var b strings.Builder
	for i, s := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.Name)
		if s.Choice != "" {
			b.WriteString(".ofType(")
			b.WriteString(s.Choice)
			b.WriteByte(')')
		}
		if s.Index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.Index))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// resource validates a resource: the root, a Bundle entry's or a parameter's
// resource (contained = notContained), or contained[contained].
func (v *validator) resource(o *jsontree.Object, contained int) {
	if contained != notContained {
		v.containedResource(o)
		return
	}
	s := v.resourceShape(o)
	if s == nil {
		return
	}
	if len(v.path) == 0 {
		v.push(s.name, "", -1)
		defer v.pop()
	}
	v.openScope()
	v.object(o, s, nil, false)
	v.closeScope()
}

// containedResource validates a contained resource in the scope of its
// container. It is registered even when its type is wrong, so that a
// reference to it does not raise a second issue.
func (v *validator) containedResource(o *jsontree.Object) {
	// The scope is held by index: resources nested in this one (a contained
	// Bundle's entries) may grow v.scopes and move it.
	d := v.depth - 1
	sc := &v.scopes[d]
	id, _ := o.String("id")
	if !ValidID(id) {
		id = "" // reported below or as the id's value; no dom-3 on top
	}
	sc.contained = append(sc.contained, containedRes{id: id, path: v.pathString()})
	sc.current = len(sc.contained) - 1
	defer func() { v.scopes[d].current = notContained }()
	s := v.resourceShape(o)
	if s == nil {
		return
	}
	if _, ok := o.Get("id"); !ok {
		v.report(IssueRequired, "a contained resource must have an id")
	}
	v.object(o, s, nil, false)
	v.containedRules(o)
}

// resourceShape returns the shape named by o's resourceType, reporting why
// there is none.
func (v *validator) resourceShape(o *jsontree.Object) *shape {
	rt, ok := o.Get("resourceType")
	if root := len(v.path) == 0; root {
		v.push("resourceType", "", -1)
		defer v.pop()
	}
	name, isString := rt.(string)
	switch {
	case !ok:
		v.report(IssueRequired, "missing resourceType")
	case !isString:
		v.report(IssueStructure, "resourceType must be a string")
	case !r4.IsResourceType(name):
		v.report(IssueStructure, "%s is not an R4 resource type", quoteInput(name))
	default:
		return typeShapes[name]
	}
	return nil
}

// containedRules checks dom-4 and dom-5 on a contained resource (dom-2 is
// checked where its contained member is met).
func (v *validator) containedRules(o *jsontree.Object) {
	if meta, ok := o.Object("meta"); ok {
		for _, name := range [...]string{"versionId", "lastUpdated"} {
			if _, has := meta.Get(name); has {
				v.push("meta", "", -1)
				v.push(name, "", -1)
				v.report(IssueInvariant, "dom-4: a contained resource must not have meta.%s", name)
				v.pop()
				v.pop()
			}
		}
	}
	if _, ok := o.Get("text"); ok {
		v.push("text", "", -1)
		v.report(IssueInvariant, "dom-5: a contained resource must not have a narrative")
		v.pop()
	}
}

func (v *validator) openScope() {
	if v.depth == len(v.scopes) {
		v.scopes = append(v.scopes, scope{})
	}
	sc := &v.scopes[v.depth]
	sc.contained, sc.refs, sc.current = sc.contained[:0], sc.refs[:0], notContained
	v.depth++
}

func (v *validator) scope() *scope { return &v.scopes[v.depth-1] }

// closeScope checks what needs the whole resource seen: contained ids are
// unique, each contained resource is referenced (dom-3) and each #id
// reference finds its contained resource (ref-1).
func (v *validator) closeScope() {
	sc := v.scope()
	v.depth--
	if v.dropped || (len(sc.contained) == 0 && len(sc.refs) == 0) {
		return
	}
	ids := newIDSet(len(sc.contained), func(i int) string { return sc.contained[i].id })
	referenced := newIDSet(len(sc.refs), func(i int) string { return sc.refs[i].id })
	for i, c := range sc.contained {
		switch {
		case c.id == "":
			// Missing or invalid, reported when it was walked.
		case ids.index(c.id) != i:
			v.reportAt(c.path+".id", IssueInvariant, "contained resource id %s is not unique", quoteInput(c.id))
		case !c.refersToContainer && referenced.index(c.id) < 0:
			v.reportAt(c.path, IssueInvariant, "dom-3: contained resource %s is not referenced from elsewhere in the resource", quoteInput(c.id))
		}
	}
	for _, r := range sc.refs {
		if r.reference && ids.index(r.id) < 0 {
			v.reportAt(r.path, IssueInvariant, "ref-1: no contained resource has id %s", quoteInput(r.id))
		}
	}
}

// idSet finds the first of n ids by value: a linear search for the few a
// resource usually has, a map for many, so that a body with thousands of
// contained resources costs linear time, not quadratic.
type idSet struct {
	n   int
	at  func(int) string
	big map[string]int
}

const idSetLinear = 16

func newIDSet(n int, at func(int) string) idSet {
	s := idSet{n: n, at: at}
	if n > idSetLinear {
		s.big = make(map[string]int, n)
		for i := n - 1; i >= 0; i-- {
			s.big[at(i)] = i
		}
	}
	return s
}

// index returns the position of the first id equal to id, or -1.
func (s idSet) index(id string) int {
	if s.big != nil {
		if i, ok := s.big[id]; ok {
			return i
		}
		return -1
	}
	for i := range s.n {
		if s.at(i) == id {
			return i
		}
	}
	return -1
}

// noteLocal records a #id found in the current resource; "" is # (the
// container).
func (v *validator) noteLocal(id string, reference bool) {
	sc := v.scope()
	if id == "" {
		if sc.current != notContained {
			sc.contained[sc.current].refersToContainer = true
		}
		return
	}
	path := ""
	if reference {
		path = v.pathString()
	}
	sc.refs = append(sc.refs, localRef{id: id, path: path, reference: reference})
}

// object validates the members of an object of shape s. via is the member
// that holds it; inExt tells an extension nested in another from one
// directly under an ordinary element.
func (v *validator) object(o *jsontree.Object, s *shape, via *member, inExt bool) {
	if len(o.Members) == 0 {
		v.report(IssueStructure, "empty object")
		return
	}
	var seen uint64
	for i := range o.Members {
		if v.dropped {
			return
		}
		key := o.Members[i].Key
		if s.kind == kindResource && key == "resourceType" {
			continue
		}
		name, under := key, false
		if len(key) > 1 && key[0] == '_' {
			name, under = key[1:], true
		}
		m := s.members[name]
		if m == nil || (under && m.prim == nil) {
			v.report(IssueStructure, "unknown element %s", quoteInput(key))
			continue
		}
		seen |= m.bit
		if m.elem.Choice && v.choiceClash(o, s, i, m) {
			continue
		}
		v.member(o, i, m, s)
	}
	if missing := s.reqMask &^ seen; missing != 0 {
		v.missing(s, missing)
	}
	if s.kind != kindElement && s.kind != kindResource && len(o.Members) == 1 && o.Members[0].Key == "id" {
		v.report(IssueInvariant, "ele-1: an element must have a value or children other than id")
	}
	switch s.kind {
	case kindExtension:
		v.extension(o, inExt)
	case kindReference:
		v.reference(o, via)
	}
}

// member validates member i of o, which is m of the shape parent.
func (v *validator) member(o *jsontree.Object, i int, m *member, parent *shape) {
	key, val := o.Members[i].Key, o.Members[i].Value
	switch {
	case m.prim != nil && key[0] == '_':
		if _, ok := o.Get(key[1:]); ok {
			return // validated together with its value
		}
		v.primitive(m, nil, false, val, true)
	case m.prim != nil:
		ext, hasExt := underscored(o, key)
		v.primitive(m, val, true, ext, hasExt)
	case m.contained && v.scope().current != notContained:
		v.push(m.name, "", -1)
		v.report(IssueInvariant, "dom-2: a contained resource must not contain resources")
		v.pop()
	case v.shell && m == entryResource && v.depth == 1:
		// The root Bundle's entry resource: ValidateEntry's, when it runs.
	default:
		v.complex(m, val, parent.kind == kindExtension)
	}
}

// underscored returns the value of member "_"+name without building the key.
func underscored(o *jsontree.Object, name string) (any, bool) {
	for i := range o.Members {
		k := o.Members[i].Key
		if len(k) == len(name)+1 && k[0] == '_' && k[1:] == name {
			return o.Members[i].Value, true
		}
	}
	return nil, false
}

// choiceClash reports whether an earlier member of o is another type of m's
// choice element (valueString next to valueCode).
func (v *validator) choiceClash(o *jsontree.Object, s *shape, i int, m *member) bool {
	for j := range i {
		k := strings.TrimPrefix(o.Members[j].Key, "_")
		if k == m.jsonName {
			continue
		}
		if other := s.members[k]; other != nil && other.elem == m.elem {
			v.report(IssueStructure, "%s[x] has more than one value: %s and %s", m.name, quoteInput(k), quoteInput(m.jsonName))
			return true
		}
	}
	return false
}

// missing reports the required elements whose bits are set in mask.
func (v *validator) missing(s *shape, mask uint64) {
	for _, m := range s.required {
		if mask&m.bit == 0 {
			continue
		}
		name := m.name
		if m.elem.Choice {
			name += "[x]"
		}
		v.report(IssueRequired, "missing required element %s", quoteInput(name))
	}
}

// complex validates the value of a member holding objects: a data type, a
// backbone element or a resource.
func (v *validator) complex(m *member, val any, inExt bool) {
	if !m.array {
		v.push(m.name, m.choice, -1)
		if _, isArr := val.([]any); isArr {
			v.report(IssueStructure, "%s is a single element and must not be an array", quoteInput(m.jsonName))
		} else {
			v.item(m, val, notContained, inExt)
		}
		v.pop()
		return
	}
	arr, ok := val.([]any)
	if !ok || len(arr) == 0 {
		v.push(m.name, m.choice, -1)
		v.report(IssueStructure, "%s repeats and must be a non-empty array", quoteInput(m.jsonName))
		v.pop()
		return
	}
	for i, item := range arr {
		if v.dropped {
			return
		}
		v.push(m.name, m.choice, i)
		idx := notContained
		if m.contained {
			idx = i
		}
		v.item(m, item, idx, inExt)
		v.pop()
	}
}

func (v *validator) item(m *member, val any, contained int, inExt bool) {
	o, ok := val.(*jsontree.Object)
	switch {
	case !ok:
		v.report(IssueStructure, "expected an object (%s), got %s", m.typ, jsonKind(val))
	case m.resource:
		v.resource(o, contained)
	default:
		v.object(o, m.child, m, inExt)
	}
}

// primitive validates a primitive member from its value and its _name
// companion (https://hl7.org/fhir/R4/json.html#primitive): either may be
// absent, and in arrays either may hold null where the other has the entry.
func (v *validator) primitive(m *member, val any, hasVal bool, ext any, hasExt bool) {
	if !m.array {
		v.push(m.name, m.choice, -1)
		defer v.pop()
		_, valArr := val.([]any)
		_, extArr := ext.([]any)
		if valArr || extArr {
			v.report(IssueStructure, "%s is a single element and must not be an array", quoteInput(m.jsonName))
			return
		}
		if hasVal {
			v.primValue(m.prim, val)
		}
		if hasExt {
			v.primExtension(ext, hasVal)
		}
		return
	}
	vals, ok1 := primArray(val, hasVal)
	exts, ok2 := primArray(ext, hasExt)
	if !ok1 || !ok2 {
		v.push(m.name, m.choice, -1)
		v.report(IssueStructure, "%s repeats and must be a non-empty array", quoteInput(m.jsonName))
		v.pop()
		return
	}
	paired := true
	if hasVal && hasExt && len(vals) != len(exts) {
		v.push(m.name, m.choice, -1)
		v.report(IssueStructure, "%s and _%s must have the same length", quoteInput(m.jsonName), m.jsonName)
		v.pop()
		paired = false
	}
	for i := range max(len(vals), len(exts)) {
		if v.dropped {
			return
		}
		v.push(m.name, m.choice, i)
		x, e := entryAt(vals, i), entryAt(exts, i)
		if x == nil && e == nil && paired {
			v.report(IssueStructure, "null entry without a value in the other of %s and _%s", quoteInput(m.jsonName), m.jsonName)
		}
		if x != nil {
			v.primValue(m.prim, x)
		}
		if e != nil {
			v.primExtension(e, x != nil)
		}
		v.pop()
	}
}

// primArray returns val as a non-empty array; absent counts as empty but ok.
func primArray(val any, present bool) ([]any, bool) {
	if !present {
		return nil, true
	}
	a, ok := val.([]any)
	return a, ok && len(a) > 0
}

func entryAt(a []any, i int) any {
	if i < len(a) {
		return a[i]
	}
	return nil
}

// primExtension validates a primitive's _name object: only id and
// extension, and (ele-1) an extension when there is no value.
func (v *validator) primExtension(ext any, hasVal bool) {
	o, ok := ext.(*jsontree.Object)
	if !ok {
		v.report(IssueStructure, "expected an object holding id and extension, got %s", jsonKind(ext))
		return
	}
	v.object(o, elementShape, nil, false)
	if _, hasExt := o.Get("extension"); !hasVal && !hasExt && len(o.Members) > 0 {
		v.report(IssueInvariant, "ele-1: an element must have a value or extensions")
	}
}

func (v *validator) primValue(p *primitive, val any) {
	switch x := val.(type) {
	case nil:
		v.report(IssueStructure, "null is only allowed in arrays of primitives, paired with an _ entry")
	case bool:
		if p.json != r4.JSONBool {
			v.wrongKind(p, val)
		}
	case jsontree.Number:
		if p.json != r4.JSONNumber {
			v.wrongKind(p, val)
		} else if p.check != nil && !p.check(string(x)) {
			v.report(IssueValue, "invalid %s %s", p.name, quoteInput(string(x)))
		}
	case string:
		if p.json != r4.JSONString {
			v.wrongKind(p, val)
		} else {
			v.primString(p, x)
		}
	default:
		v.wrongKind(p, val)
	}
}

func (v *validator) wrongKind(p *primitive, val any) {
	want := "a string"
	switch p.json {
	case r4.JSONBool:
		want = "a boolean"
	case r4.JSONNumber:
		want = "a number"
	}
	v.report(IssueValue, "expected %s (%s), got %s", p.name, want, jsonKind(val))
}

func (v *validator) primString(p *primitive, s string) {
	switch {
	case s == "":
		v.report(IssueValue, "empty %s: primitive values must not be empty strings", p.name)
	case strings.IndexByte(s, 0) >= 0:
		// Allowed by the regexes, but no database stores it in text.
		v.report(IssueValue, "%s holds a NUL character (U+0000), which no value may", p.name)
	case p.maxLen > 0 && len(s) > p.maxLen && utf8.RuneCountInString(s) > p.maxLen:
		v.report(IssueValue, "%s is longer than %d characters", p.name, p.maxLen)
	case p.name == "xhtml":
		if msg := xhtmlProblem(s); msg != "" {
			v.report(IssueValue, "%s", msg)
		}
	case p.check != nil && !p.check(s):
		v.report(IssueValue, "invalid %s %s", p.name, quoteInput(s))
	case p.local && s[0] == '#':
		v.noteLocal(s[1:], false)
	}
}

// extension checks Extension's rules: an extension directly on an element
// is identified by an absolute URL, a nested one may use a simple name, and
// ext-1: it holds either a value or nested extensions.
func (v *validator) extension(o *jsontree.Object, inExt bool) {
	if url, ok := o.String("url"); ok && url != "" && !inExt {
		if n := schemeLen(url); n == 0 || n == len(url) {
			v.push("url", "", -1)
			v.report(IssueValue, "extension url %s must be an absolute URL", quoteInput(url))
			v.pop()
		}
	}
	hasValue, hasExt := false, false
	for i := range o.Members {
		k := strings.TrimPrefix(o.Members[i].Key, "_")
		if k == "extension" {
			hasExt = true
		} else if m := extensionShape.members[k]; m != nil && m.elem.Choice {
			hasValue = true
		}
	}
	switch {
	case hasValue && hasExt:
		v.report(IssueInvariant, "ext-1: an extension must have either nested extensions or a value[x], not both")
	case !hasValue && !hasExt:
		v.report(IssueInvariant, "ext-1: an extension must have either nested extensions or a value[x]")
	}
}

// reference checks Reference.reference: its syntax, ref-1's local target
// (at the end of the resource) and the element's allowed target types.
func (v *validator) reference(o *jsontree.Object, via *member) {
	s, ok := o.String("reference")
	if !ok || s == "" {
		return // a wrong kind or empty string was reported already
	}
	v.push("reference", "", -1)
	defer v.pop()
	ref, err := ParseReference(s)
	switch {
	case err != nil && v.conditionalRefs && isConditionalReference(s):
	case err != nil:
		v.report(IssueValue, "malformed reference: %v", err)
	case ref.Kind == RefContained:
		v.noteLocal(ref.ID, true)
	case ref.Type != "" && via != nil && !allowsTarget(via.targets, ref.Type):
		v.report(IssueValue, "a reference to %s is not allowed here; allowed: %s", ref.Type, strings.Join(via.targets, ", "))
	}
}

// isConditionalReference reports whether s is Type?criteria with a
// concrete resource type and a non-empty, well-formed query
// (https://hl7.org/fhir/R4/http.html#trules).
func isConditionalReference(s string) bool {
	typ, query, ok := strings.Cut(s, "?")
	if !ok || query == "" || !r4.IsResourceType(typ) {
		return false
	}
	q, err := url.ParseQuery(query)
	return err == nil && len(q) > 0
}

// allowsTarget reports whether a Reference with these targets may point at
// type typ; no targets, or Resource, means any.
func allowsTarget(targets []string, typ string) bool {
	return len(targets) == 0 || slices.Contains(targets, "Resource") || slices.Contains(targets, typ)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case jsontree.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case *jsontree.Object:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
