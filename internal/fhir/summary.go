package fhir

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// SummaryMode is a _summary value (https://hl7.org/fhir/R4/search.html#summary).
// The zero value is SummaryFalse: a resource is returned whole unless the
// client asks otherwise.
type SummaryMode uint8

// The _summary values.
const (
	SummaryFalse SummaryMode = iota // the whole resource
	SummaryTrue                     // the elements marked isSummary
	SummaryText                     // text, id, meta and top-level mandatory elements
	SummaryData                     // everything but text
	// SummaryCount asks for the match count only. Search acts on it; to
	// Summarize it is the same as SummaryFalse.
	SummaryCount
)

var summaryNames = [...]string{
	SummaryFalse: "false",
	SummaryTrue:  "true",
	SummaryText:  "text",
	SummaryData:  "data",
	SummaryCount: "count",
}

// String returns the mode as written in a _summary parameter.
func (m SummaryMode) String() string {
	if int(m) < len(summaryNames) {
		return summaryNames[m]
	}
	return "SummaryMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseSummary reads a _summary value. The codes are case-sensitive, as all
// FHIR codes are; anything else is a 400.
func ParseSummary(v string) (SummaryMode, error) {
	if i := slices.Index(summaryNames[:], v); i >= 0 {
		return SummaryMode(i), nil
	}
	return 0, Errorf(http.StatusBadRequest, IssueInvalid, "_summary=%s: use true, text, data, count or false", quoteInput(v))
}

// SubsettedSystem and SubsettedCode form the meta.tag that marks a resource
// as incomplete, so that no client writes it back over the whole one
// (https://hl7.org/fhir/R4/search.html#summary).
const (
	SubsettedSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
	SubsettedCode   = "SUBSETTED"
)

// Summarize returns resource obj reduced as mode asks, and whether anything
// was removed. resourceType, id and meta are always kept whole, and so are
// the _name companions (id and extensions of a primitive) of every kept
// primitive.
//
//   - SummaryTrue keeps the elements whose definition is isSummary, at every
//     level: a kept complex value keeps only its own summary members, a
//     backbone element its summary inline members. Elements with a minimum
//     cardinality of 1 are kept too (Provenance.agent is mandatory but not
//     summary), so the result stays structurally valid. Extension values are
//     kept whole: a modifierExtension is summary in backbone elements, and an
//     extension's url means nothing without its value.
//   - SummaryText keeps text and the top-level mandatory elements.
//   - SummaryData drops text.
//   - SummaryFalse and SummaryCount change nothing.
//
// contained is not summary and is dropped, except the contained resources a
// kept Reference points to (#id), which stay (reduced the same way under
// SummaryTrue), so that no kept reference dangles.
//
// obj is never modified. When nothing is removed the result is obj itself;
// otherwise it is a new tree sharing nothing with obj, which the caller owns
// and may mark with MarkSubsetted.
func Summarize(obj *jsontree.Object, mode SummaryMode) (*jsontree.Object, bool) {
	var out *jsontree.Object
	var removed bool
	switch mode {
	case SummaryTrue:
		out, removed = summaryResource(obj)
	case SummaryText:
		out, removed = pick(obj, func(name string, f *r4.Field) bool {
			return name == "text" || mandatory(f)
		})
	case SummaryData:
		out, removed = pick(obj, func(name string, _ *r4.Field) bool { return name != "text" })
	default:
		return obj, false
	}
	if !removed {
		return obj, false
	}
	return out, true
}

// Elements returns resource obj with only the top-level elements named in
// names (https://hl7.org/fhir/R4/search.html#elements), and whether anything
// was removed. A name matches a member by its JSON name (valueString) or by
// its element name (value, for any value[x] member); the _name companion of a
// kept primitive is kept with it. resourceType, id and meta are always kept,
// and so are the top-level mandatory elements, which the specification says
// servers SHOULD return whether asked for or not. contained resources that
// kept references point to stay, as in Summarize.
//
// obj is never modified; the result is obj itself when nothing is removed,
// else a new tree sharing nothing with obj.
func Elements(obj *jsontree.Object, names []string) (*jsontree.Object, bool) {
	out, removed := pick(obj, func(name string, f *r4.Field) bool {
		if slices.Contains(names, name) {
			return true
		}
		return f != nil && (slices.Contains(names, f.Element.Name) || mandatory(f))
	})
	if !removed {
		return obj, false
	}
	return out, true
}

// ParseElements validates an _elements value for resource type typ and
// returns its names, without repeats. Each comma-separated name is a
// top-level element of typ: its element name (name, deceased), a choice
// element written with [x] (deceased[x], read as deceased), or one typed
// JSON name of a choice (deceasedBoolean), which keeps that type only.
// resourceType is accepted, though it is always kept. Surrounding spaces are
// ignored. Anything else (an unknown or nested name, an empty entry or a
// _name companion) is a 400 naming the entry.
func ParseElements(typ, v string) ([]string, error) {
	t := r4.Lookup(typ)
	if t == nil || t.Kind != r4.Resource || t.Abstract {
		return nil, Errorf(http.StatusBadRequest, IssueNotSupported, "_elements: %s is not a resource type", quoteInput(typ))
	}
	var names []string
	for raw := range strings.SplitSeq(v, ",") {
		s := strings.TrimSpace(raw)
		name, ok := elementName(t, s)
		if !ok {
			return nil, Errorf(http.StatusBadRequest, IssueInvalid, "_elements: %s is not an element of %s", quoteInput(s), typ)
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names, nil
}

// elementName returns the name by which Elements matches s, a name given in
// _elements for a resource of type t.
func elementName(t *r4.Type, s string) (string, bool) {
	if s == "resourceType" {
		return s, true
	}
	base, bracketed := strings.CutSuffix(s, "[x]")
	if f := t.Fields[base]; f != nil && !bracketed {
		return base, true
	}
	// A choice element has no member of its own name: look for one of its
	// typed members.
	for _, f := range t.Fields {
		if f.Element.Choice && f.Element.Name == base {
			return base, true
		}
	}
	return "", false
}

// MarkSubsetted tags obj as SUBSETTED in meta.tag unless it already is,
// keeping the other tags and meta members. A new meta goes after id, where
// FHIR writes it. obj is modified: pass the result of Summarize or Elements,
// never a shared resource.
func MarkSubsetted(obj *jsontree.Object) {
	meta, ok := obj.Object("meta")
	if !ok {
		obj.Delete("meta") // not an object: nothing worth keeping
		meta = &jsontree.Object{}
		obj.Insert(metaPosition(obj), "meta", meta)
	}
	v, _ := meta.Get("tag")
	tags, _ := v.([]any)
	if slices.ContainsFunc(tags, isSubsetted) {
		return
	}
	tag := &jsontree.Object{}
	tag.Set("system", SubsettedSystem)
	tag.Set("code", SubsettedCode)
	meta.Set("tag", append(tags, tag))
}

// metaPosition returns where meta goes: after id, or after resourceType when
// there is no id.
func metaPosition(obj *jsontree.Object) int {
	pos := 0
	for i, m := range obj.Members {
		switch m.Key {
		case "id":
			return i + 1
		case "resourceType":
			pos = i + 1
		}
	}
	return pos
}

func isSubsetted(v any) bool {
	c, ok := v.(*jsontree.Object)
	if !ok {
		return false
	}
	system, _ := c.String("system")
	code, _ := c.String("code")
	return system == SubsettedSystem && code == SubsettedCode
}

// mandatory reports whether f's element has a minimum cardinality of 1 or
// more.
func mandatory(f *r4.Field) bool { return f != nil && f.Element.Min > 0 }

// alwaysKept reports whether a resource's member key survives every mode:
// without resourceType the result is not a resource, without id a client
// cannot fetch the rest, and meta carries the version and the SUBSETTED tag.
func alwaysKept(key string) bool { return key == "resourceType" || key == "id" || key == "meta" }

// memberName returns the element member a JSON key belongs to: birthDate for
// both birthDate and its companion _birthDate.
func memberName(key string) string {
	if len(key) > 1 && key[0] == '_' {
		return key[1:]
	}
	return key
}

// resourceOf returns the definition of the resource obj, or nil when its
// resourceType names none.
func resourceOf(obj *jsontree.Object) *r4.Type {
	rt, _ := obj.String("resourceType")
	if t := r4.Lookup(rt); t != nil && t.Kind == r4.Resource {
		return t
	}
	return nil
}

// pick copies the top-level members of resource obj that keep accepts (name
// is the member's element JSON name, without a companion's underscore; f is
// nil for a member the type does not define), plus those always kept, and
// reports whether any other member was left out.
func pick(obj *jsontree.Object, keep func(name string, f *r4.Field) bool) (*jsontree.Object, bool) {
	t := resourceOf(obj)
	out := &jsontree.Object{Members: make([]jsontree.Member, 0, len(obj.Members))}
	removed, dropContained := false, false
	for _, m := range obj.Members {
		name := memberName(m.Key)
		var f *r4.Field
		if t != nil {
			f = t.Fields[name]
		}
		switch {
		case alwaysKept(m.Key) || keep(name, f):
			out.Members = append(out.Members, jsontree.Member{Key: m.Key, Value: jsontree.Clone(m.Value)})
		case m.Key == "contained":
			dropContained = true
		default:
			removed = true
		}
	}
	if dropContained {
		removed = restoreContained(obj, out, cloneResource) || removed
	}
	return out, removed
}

func cloneResource(o *jsontree.Object) (*jsontree.Object, bool) {
	return jsontree.Clone(o).(*jsontree.Object), false
}

// summaryResource returns the summary of resource o (SummaryTrue). A
// resource of unknown type keeps only what is always kept: nothing else is
// known to be summary.
func summaryResource(o *jsontree.Object) (*jsontree.Object, bool) {
	var fields map[string]*r4.Field
	if t := resourceOf(o); t != nil {
		fields = t.Fields
	}
	out, removed := summaryMembers(o, fields, true)
	if _, ok := o.Get("contained"); ok {
		removed = restoreContained(o, out, summaryResource) || removed
	}
	return out, removed
}

// summaryMembers copies the summary and mandatory members of o, whose
// allowed members are fields, and reports whether any other was left out.
// In a resource (root) the always-kept members are copied whole, and
// contained is left to restoreContained.
func summaryMembers(o *jsontree.Object, fields map[string]*r4.Field, root bool) (*jsontree.Object, bool) {
	out := &jsontree.Object{Members: make([]jsontree.Member, 0, len(o.Members))}
	removed := false
	for _, m := range o.Members {
		name := memberName(m.Key)
		f := fields[name]
		switch {
		case root && m.Key == "contained":
			continue
		case root && alwaysKept(m.Key):
			// Copied whole below.
		case f == nil || !(f.Element.Summary || mandatory(f)):
			removed = true
			continue
		case name == m.Key && f.Type != "Extension":
			v, cut := summaryValue(m.Value, f)
			removed = removed || cut
			if v != nil {
				out.Members = append(out.Members, jsontree.Member{Key: m.Key, Value: v})
			}
			continue
		}
		// A companion goes with its primitive; an extension is kept whole.
		out.Members = append(out.Members, jsontree.Member{Key: m.Key, Value: jsontree.Clone(m.Value)})
	}
	return out, removed
}

// summaryValue returns the summary of v, the value of a member defined by f:
// objects reduced to their summary members, arrays item by item, primitives
// as they are. It returns nil when nothing of v is left, so that no empty
// object or array is written.
func summaryValue(v any, f *r4.Field) (any, bool) {
	switch v := v.(type) {
	case *jsontree.Object:
		return summaryObject(v, f)
	case []any:
		out := make([]any, 0, len(v))
		removed := false
		for _, item := range v {
			s, cut := summaryValue(item, f)
			removed = removed || cut
			if s != nil || item == nil {
				out = append(out, s)
			}
		}
		if len(out) == 0 {
			return nil, true
		}
		return out, removed
	default:
		return v, false
	}
}

// summaryObject returns the summary of o, a value of the member f: a
// resource (Bundle.entry.resource) by its own type, anything else by the
// members its type or backbone element allows.
func summaryObject(o *jsontree.Object, f *r4.Field) (any, bool) {
	var out *jsontree.Object
	var removed bool
	if t := r4.Lookup(f.Type); t != nil && t.Kind == r4.Resource {
		out, removed = summaryResource(o)
	} else {
		out, removed = summaryMembers(o, r4.FieldsOf(f.Element, f.Type), false)
	}
	if len(out.Members) == 0 {
		return nil, true
	}
	return out, removed
}

// restoreContained puts back into out, the reduced copy of resource src, the
// contained resources of src that out refers to by #id, directly or through
// another restored one, each reduced by trim. contained goes where it stood
// in src. It reports whether any contained resource, or any part of one, was
// left out.
func restoreContained(src, out *jsontree.Object, trim func(*jsontree.Object) (*jsontree.Object, bool)) bool {
	v, has := src.Get("contained")
	all, _ := v.([]any)
	refs := map[string]bool{}
	localRefs(out, refs)
	kept := make([]any, len(all))
	removed := false
	for found := len(refs) > 0; found; {
		found = false
		for i, item := range all {
			c, ok := item.(*jsontree.Object)
			if !ok || kept[i] != nil {
				continue
			}
			if id, _ := c.String("id"); !refs[id] {
				continue
			}
			r, cut := trim(c)
			kept[i], removed, found = r, removed || cut, true
			localRefs(r, refs)
		}
	}
	kept = slices.DeleteFunc(kept, func(c any) bool { return c == nil })
	if len(kept) > 0 {
		out.Insert(containedPosition(src, out), "contained", kept)
	}
	// A contained that is not a non-empty array was dropped whole.
	return removed || len(kept) < len(all) || (has && len(all) == 0)
}

// containedPosition returns the index in out, whose keys are a subsequence of
// src's, at which contained keeps its place in src.
func containedPosition(src, out *jsontree.Object) int {
	j := 0
	for _, m := range src.Members {
		if m.Key == "contained" {
			break
		}
		if j < len(out.Members) && out.Members[j].Key == m.Key {
			j++
		}
	}
	return j
}

// localRefs adds to refs the id of every local reference (Reference.reference
// "#id") in v. Contained resources are only ever referenced this way from
// their container (ref-1); a "#" alone names the container itself.
func localRefs(v any, refs map[string]bool) {
	switch v := v.(type) {
	case *jsontree.Object:
		for _, m := range v.Members {
			if s, ok := m.Value.(string); ok && m.Key == "reference" && len(s) > 1 && s[0] == '#' {
				refs[s[1:]] = true
				continue
			}
			localRefs(m.Value, refs)
		}
	case []any:
		for _, item := range v {
			localRefs(item, refs)
		}
	}
}
