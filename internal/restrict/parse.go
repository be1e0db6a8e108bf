package restrict

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// ExtensionURL is the canonical URL of the VhDir usage-restriction extension.
const ExtensionURL = "http://hl7.org/fhir/uv/vhdir/StructureDefinition/usage-restriction"

// Step is one step of a Path: a member of an object or an item of an array.
type Step struct {
	Key   string // the member name, when Index < 0
	Index int    // the array index, or -1 for a member step
}

// Member returns the step to member key.
func Member(key string) Step { return Step{Key: key, Index: -1} }

// Item returns the step to array item i.
func Item(i int) Step { return Step{Index: i} }

// IsItem reports whether s steps into an array.
func (s Step) IsItem() bool { return s.Index >= 0 }

// Path locates a value in a JSON tree from its root: member and item steps.
// An element restricted through a primitive's companion is located at the
// primitive (birthDate, given[1]), never at _birthDate.
type Path []Step

// String writes p the FHIRPath way, without the type: "telecom[1].period".
func (p Path) String() string {
	var b strings.Builder
	for i, s := range p {
		if s.IsItem() {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.Index))
			b.WriteByte(']')
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.Key)
	}
	return b.String()
}

// under reports whether p is at or under q. A companion key (_x) matches its
// element (x), so _given[1].extension lies under given[1].
func (p Path) under(q Path) bool {
	if len(p) < len(q) {
		return false
	}
	for i, s := range q {
		t := p[i]
		if s.IsItem() != t.IsItem() || s.Index != t.Index || elementKey(s.Key) != elementKey(t.Key) {
			return false
		}
	}
	return true
}

// Rule is what one contained Consent says: whether it is in force and whom
// it permits. Restrictions sharing a Consent share its *Rule.
type Rule struct {
	// Consent is the contained Consent's id ("" when the reference names
	// none).
	Consent string
	// Status is Consent.status; only "active" restricts.
	Status string
	// Actors are provision.actor[].reference.reference, as written
	// (Organization/x, CareTeam/y, Practitioner/z).
	Actors []string
	// Unreferenced are the displays of actors that have no reference. They
	// permit nobody; they are kept for messages.
	Unreferenced []string
	// Labels are provision.securityLabel.
	Labels []Label
	// Err says why the restriction cannot be honoured as written. A rule
	// with an error applies whatever its status and permits operators only.
	Err error
}

// Label is one provision.securityLabel coding.
type Label struct {
	System, Code, Display string
}

// Applies reports whether the rule restricts anything: its Consent is
// active, or it is broken and so restricts to operators.
func (r *Rule) Applies() bool { return r.Err != nil || r.Status == "active" }

// Restriction is one usage-restriction extension: the element it flags and
// the rule of its Consent.
type Restriction struct {
	// Path is where the restricted element is; empty for the resource root.
	Path Path
	// Element is Path written the FHIRPath way with the resource type in
	// front: "Location.address", "HealthcareService.telecom[1]", "Location"
	// for the root.
	Element string
	Rule    *Rule
}

// Root reports whether r restricts the whole resource.
func (r Restriction) Root() bool { return len(r.Path) == 0 }

// Restrictions are the usage restrictions found in one resource.
type Restrictions struct {
	// Type is the resource's resourceType ("Resource" when it has none).
	Type string
	// All lists every usage-restriction found, in document order, including
	// those whose Consent is not in force.
	All []Restriction
	// consents locates each Consent a rule came from, so that View can
	// drop the ones left unreferenced.
	consents map[*Rule]consentAt
}

// consentAt is where a contained Consent sits: its resource (the scope whose
// contained list holds it) and its index in that list.
type consentAt struct {
	scope Path
	index int
}

// Applying returns the restrictions in force (Rule.Applies), in document
// order.
func (rs *Restrictions) Applying() []Restriction {
	var out []Restriction
	for _, r := range rs.All {
		if r.Rule.Applies() {
			out = append(out, r)
		}
	}
	return out
}

// None reports whether no restriction is in force: every viewer sees the
// resource as it is.
func (rs *Restrictions) None() bool {
	for _, r := range rs.All {
		if r.Rule.Applies() {
			return false
		}
	}
	return true
}

// Err returns the problems of broken restrictions joined, or nil. They are
// enforced anyway (operators only); a write path may refuse them. Each
// problem names the element location and what is wrong, never a value
// of the resource (not even the reference or the contained id), so the
// text may be shown to a client and logged.
func (rs *Restrictions) Err() error {
	var errs []error
	seen := map[*Rule]bool{}
	for _, r := range rs.All {
		if r.Rule.Err != nil && !seen[r.Rule] {
			seen[r.Rule] = true
			errs = append(errs, fmt.Errorf("%s: %w", r.Element, r.Rule.Err))
		}
	}
	return errors.Join(errs...)
}

// Parse finds every usage restriction in resource obj. It cannot fail: an
// extension that cannot be honoured as written becomes a broken rule
// (Rule.Err), which restricts to operators. obj is not modified and not
// retained, except that the returned paths refer into its shape.
func Parse(obj *jsontree.Object) *Restrictions {
	typ, _ := obj.String("resourceType")
	if typ == "" {
		typ = "Resource"
	}
	p := &parser{rs: &Restrictions{Type: typ}}
	p.object(obj, make(Path, 0, 16), newScope(obj, nil))
	return p.rs
}

type parser struct {
	rs    *Restrictions
	rules map[*jsontree.Object]*Rule // by Consent
}

// scope is a resource whose contained list resolves "#id" references.
type scope struct {
	path      Path
	contained []any
}

func newScope(res *jsontree.Object, path Path) *scope {
	v, _ := res.Get("contained")
	c, _ := v.([]any)
	return &scope{path: path, contained: c}
}

// isContained reports whether o is an item of s's contained list.
func (s *scope) isContained(o *jsontree.Object) bool {
	for _, c := range s.contained {
		if c == o {
			return true
		}
	}
	return false
}

// value walks v, found at path. path is a buffer the walk appends to and
// cuts back: anything kept from it is copied.
func (p *parser) value(v any, path Path, sc *scope) {
	switch v := v.(type) {
	case *jsontree.Object:
		p.object(v, path, sc)
	case []any:
		for i, item := range v {
			p.value(item, append(path, Item(i)), sc)
		}
	}
}

func (p *parser) object(o *jsontree.Object, path Path, sc *scope) {
	// One pass for the members looked at (every write parses every
	// resource, so this walk is on the hot path); the first of a repeated
	// key counts, as for Object.Get.
	var (
		rt              any
		hasRT           bool
		extension, modX any
		hasExt, hasModX bool
	)
	for i := range o.Members {
		m := &o.Members[i]
		switch {
		case !hasRT && m.Key == "resourceType":
			rt, hasRT = m.Value, true
		case !hasExt && m.Key == "extension":
			extension, hasExt = m.Value, true
		case !hasModX && m.Key == "modifierExtension":
			modX, hasModX = m.Value, true
		}
	}
	if typ, ok := rt.(string); ok && len(path) > 0 {
		if sc.isContained(o) {
			if typ == "Consent" {
				return // the policy itself, not restrictable
			}
		} else {
			sc = newScope(o, append(Path(nil), path...))
		}
	}
	for _, v := range [...]any{extension, modX} {
		exts, _ := v.([]any)
		for _, e := range exts {
			ext, ok := e.(*jsontree.Object)
			if !ok {
				continue
			}
			if url, _ := ext.String("url"); url != ExtensionURL {
				continue
			}
			at := elementPath(o, path)
			p.rs.All = append(p.rs.All, Restriction{
				Path:    at,
				Element: expression(p.rs.Type, at),
				Rule:    p.rule(ext, sc),
			})
		}
	}
	for _, m := range o.Members {
		p.value(m.Value, append(path, Member(m.Key)), sc)
	}
}

// elementPath returns the location of the element whose extension list is in
// o, found at path: the primitive for a companion, the holding item for a
// nested resource (Bundle.entry[i] for Bundle.entry[i].resource).
func elementPath(o *jsontree.Object, path Path) Path {
	n := len(path)
	out := append(Path(nil), path...)
	switch {
	case n == 0:
	case isCompanion(path[n-1]):
		out[n-1].Key = path[n-1].Key[1:]
	case n >= 2 && path[n-1].IsItem() && isCompanion(path[n-2]):
		out[n-2].Key = path[n-2].Key[1:]
	case n >= 2 && path[n-1] == Member("resource") && path[n-2].IsItem():
		if _, ok := o.String("resourceType"); ok {
			out = out[:n-1]
		}
	}
	return out
}

// isCompanion reports whether s is the member holding a primitive's id and
// extensions (_birthDate). _resourceType is never taken for one: removing a
// resource's type would leave no resource.
func isCompanion(s Step) bool {
	return !s.IsItem() && len(s.Key) > 1 && s.Key[0] == '_' && s.Key != "_resourceType"
}

// elementKey returns the element a member key belongs to: birthDate for
// both birthDate and _birthDate.
func elementKey(k string) string {
	if isCompanion(Member(k)) {
		return k[1:]
	}
	return k
}

func expression(typ string, p Path) string {
	if len(p) == 0 {
		return typ
	}
	if p[0].IsItem() {
		return typ + p.String()
	}
	return typ + "." + p.String()
}

// rule resolves extension ext to the rule of its contained Consent in sc.
func (p *parser) rule(ext *jsontree.Object, sc *scope) *Rule {
	ref, _ := ext.Object("valueReference")
	if ref == nil {
		return &Rule{Err: errors.New("usage-restriction has no valueReference")}
	}
	s, _ := ref.String("reference")
	id, ok := strings.CutPrefix(s, "#")
	if !ok || id == "" {
		return &Rule{Err: errors.New("usage-restriction reference is not #id of a contained Consent")}
	}
	var consent *jsontree.Object
	index := -1
	for i, c := range sc.contained {
		o, ok := c.(*jsontree.Object)
		if !ok {
			continue
		}
		if cid, _ := o.String("id"); cid != id {
			continue
		}
		if consent != nil {
			return &Rule{Consent: id, Err: errors.New("usage-restriction reference names more than one contained resource")}
		}
		consent, index = o, i
	}
	if consent == nil {
		return &Rule{Consent: id, Err: errors.New("usage-restriction reference names no contained resource")}
	}
	if rt, _ := consent.String("resourceType"); rt != "Consent" {
		return &Rule{Consent: id, Err: errors.New("usage-restriction reference names a contained resource that is not a Consent")}
	}
	if r := p.rules[consent]; r != nil {
		return r
	}
	r := consentRule(id, consent)
	if p.rules == nil {
		p.rules = map[*jsontree.Object]*Rule{}
	}
	p.rules[consent] = r
	if p.rs.consents == nil {
		p.rs.consents = map[*Rule]consentAt{}
	}
	p.rs.consents[r] = consentAt{scope: sc.path, index: index}
	return r
}

// consentRule reads the parts of Consent c (contained id id) that decide who
// is permitted.
func consentRule(id string, c *jsontree.Object) *Rule {
	r := &Rule{Consent: id}
	r.Status, _ = c.String("status")
	if r.Status == "" {
		r.Err = errors.New("the Consent of the usage-restriction has no status")
	}
	prov, _ := c.Object("provision")
	if prov == nil {
		return r // no actors: operators only
	}
	if t, ok := prov.Get("type"); ok && t != "permit" {
		r.Err = errors.New("the Consent of the usage-restriction has a provision.type other than permit")
	}
	for _, a := range objects(prov, "actor") {
		ref, _ := a.Object("reference")
		if ref == nil {
			r.Unreferenced = append(r.Unreferenced, "")
			continue
		}
		if s, _ := ref.String("reference"); s != "" {
			r.Actors = append(r.Actors, s)
			continue
		}
		d, _ := ref.String("display")
		r.Unreferenced = append(r.Unreferenced, d)
	}
	for _, l := range objects(prov, "securityLabel") {
		var lb Label
		lb.System, _ = l.String("system")
		lb.Code, _ = l.String("code")
		lb.Display, _ = l.String("display")
		r.Labels = append(r.Labels, lb)
	}
	return r
}

// objects returns the object items of array member key of o.
func objects(o *jsontree.Object, key string) []*jsontree.Object {
	v, _ := o.Get(key)
	items, _ := v.([]any)
	var out []*jsontree.Object
	for _, item := range items {
		if x, ok := item.(*jsontree.Object); ok {
			out = append(out, x)
		}
	}
	return out
}
