package fhir

import (
	"strconv"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// Repaired is one primitive value that Repair rewrote in the JSON form its
// type requires (https://hl7.org/fhir/R4/json.html#primitive).
type Repaired struct {
	// Expression is the FHIRPath of the element with its indexes, as
	// Validate names elements: Practitioner.identifier[0].value,
	// Observation.value.ofType(integer).
	Expression string
	// From is the value as it was found: a jsontree.Number, a bool or a
	// string.
	From any
	// Type is the element's primitive type, whose JSON form the value has
	// now.
	Type string
}

// String describes the repair: Practitioner.identifier[0].value: number
// 1234567893 → string.
func (r Repaired) String() string {
	return r.Expression + ": " + describeValue(r.From) + " → " + r.Type
}

func describeValue(v any) string {
	switch x := v.(type) {
	case jsontree.Number:
		s := string(x)
		if len(s) > 80 { // numbers are ASCII: any cut is between characters
			s = s[:80] + "…"
		}
		return "number " + s
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case string:
		return "string " + quoteInput(x)
	}
	return jsonKind(v)
}

// Repair rewrites the primitive values of the resource obj whose JSON kind
// is wrong for their R4 type where the value meant is unambiguous, and
// returns what it changed in document order. It is all or nothing: when obj
// would not validate afterwards (a mismatch it does not repair, or any other
// problem), it changes nothing and returns nil, so that the resource is
// refused exactly as it would be without Repair.
//
// The elements' types come from the same shapes Validate walks: choice
// elements are typed by their suffix (valueInteger), a primitive's _name
// extensions and contained and nested resources are walked too. It repairs:
//
//   - a number or boolean where a string, markdown, code, id, uri, url or
//     canonical belongs: the number's exact JSON text (1234567893 becomes
//     "1234567893", 1.50 becomes "1.50"), or "true" or "false", when that
//     is a valid value of the type;
//   - a string where a decimal belongs that matches decimal's regex and is
//     within a double's range: that number, digits kept ("1.50" becomes
//     1.50);
//   - a string where an integer, positiveInt or unsignedInt belongs that is a
//     valid value of the type (no fraction or exponent, 32 bits, positive or
//     not negative): that number;
//   - "true" or "false" where a boolean belongs: the boolean.
//
// Nothing else is unambiguous, so nothing else is repaired: a number for a
// date, dateTime, instant or time (20240101, or an epoch, would be a guess
// at a calendar), for base64Binary (whether the digits are the encoding or
// the text would be a guess), for oid, uuid or xhtml; a number for a
// boolean or the other way round; "1e400", " 1.5", "1.0" for an integer,
// "TRUE"; objects, arrays and nulls in the wrong place; unknown elements.
func Repair(obj *jsontree.Object) []Repaired {
	shapesOnce.Do(buildShapes)
	var r repairer
	r.resource(obj)
	if len(r.repairs) == 0 {
		return nil
	}
	if Validate(obj) != nil {
		r.revert()
		return nil
	}
	return r.repairs
}

// RepairEntries repairs, as Repair does, the resources of a Bundle's
// entries (a batch or transaction about to run), each repair named from its
// entry's resource (Practitioner.identifier[0].value). It returns the
// repairs by entry index (nil when there are none). It is all or nothing
// for each entry, which is validated as the pipeline will validate it
// (ValidateEntry: conditional references allowed): an entry that would not
// validate afterwards is left as it was. The Bundle's own elements are not
// repaired.
func RepairEntries(bundle *jsontree.Object) [][]Repaired {
	shapesOnce.Do(buildShapes)
	raw, _ := bundle.Get("entry")
	entries, _ := raw.([]any)
	out := make([][]Repaired, len(entries))
	found := false
	for i, e := range entries {
		eo, ok := e.(*jsontree.Object)
		if !ok {
			continue
		}
		res, ok := eo.Object("resource")
		if !ok {
			continue
		}
		var r repairer
		r.resource(res)
		if r.repairs == nil {
			continue
		}
		if ValidateEntry(i, res) != nil {
			r.revert()
			continue
		}
		out[i], found = r.repairs, true
	}
	if !found {
		return nil
	}
	return out
}

// repairer walks a resource the way the validator does, rewriting values
// in place and keeping what it needs to undo them.
type repairer struct {
	path    []PathStep
	repairs []Repaired
	undo    []undoStep
}

// slot is where a value sits in the tree: member i of obj, or entry i of
// arr.
type slot struct {
	obj *jsontree.Object
	arr []any
	i   int
}

func (s slot) set(v any) {
	if s.arr != nil {
		s.arr[s.i] = v
	} else {
		s.obj.Members[s.i].Value = v
	}
}

type undoStep struct {
	at  slot
	was any
}

func (r *repairer) revert() {
	for i := len(r.undo) - 1; i >= 0; i-- {
		r.undo[i].at.set(r.undo[i].was)
	}
	r.repairs, r.undo = nil, nil
}

func (r *repairer) push(name, choice string, index int) {
	r.path = append(r.path, PathStep{Name: name, Choice: choice, Index: index})
}

func (r *repairer) pop() { r.path = r.path[:len(r.path)-1] }

// resource walks a resource: the root (its type starts the path), or one
// nested in a contained, Bundle.entry.resource or parameter member.
func (r *repairer) resource(o *jsontree.Object) {
	rt, _ := o.String("resourceType")
	if !r4.IsResourceType(rt) {
		return // Validate reports it
	}
	if len(r.path) == 0 {
		r.push(rt, "", -1)
		defer r.pop()
	}
	r.object(o, typeShapes[rt])
}

// object walks the members of an object of shape s. Members Validate would
// refuse for their name are left to it.
func (r *repairer) object(o *jsontree.Object, s *shape) {
	for i := range o.Members {
		key := o.Members[i].Key
		if s.kind == kindResource && key == "resourceType" {
			continue
		}
		name, under := key, false
		if len(key) > 1 && key[0] == '_' {
			name, under = key[1:], true
		}
		if m := s.members[name]; m != nil && (!under || m.prim != nil) {
			r.member(o, i, m, under)
		}
	}
}

// member walks member i of o: m's value, or its _name companion (under).
// A single value where the element repeats, or an array where it does not,
// is left to Validate.
func (r *repairer) member(o *jsontree.Object, i int, m *member, under bool) {
	val := o.Members[i].Value
	arr, isArr := val.([]any)
	if isArr != m.array {
		return
	}
	if !m.array {
		r.push(m.name, m.choice, -1)
		r.value(m, under, val, slot{obj: o, i: i})
		r.pop()
		return
	}
	for j, v := range arr {
		r.push(m.name, m.choice, j)
		r.value(m, under, v, slot{arr: arr, i: j})
		r.pop()
	}
}

// value walks one value of m found at at.
func (r *repairer) value(m *member, under bool, v any, at slot) {
	o, isObj := v.(*jsontree.Object)
	switch {
	case under:
		if isObj {
			r.object(o, elementShape) // a primitive's id and extensions
		}
	case m.prim != nil:
		if nv, ok := repairPrimitive(m.prim, v); ok {
			r.repairs = append(r.repairs, Repaired{Expression: FormatPath(r.path), From: v, Type: m.prim.name})
			r.undo = append(r.undo, undoStep{at: at, was: v})
			at.set(nv)
		}
	case !isObj:
	case m.resource:
		r.resource(o)
	default:
		r.object(o, m.child)
	}
}

// repairPrimitive returns the value v stands for in the JSON form of p, when
// it is unambiguous (see Repair).
func repairPrimitive(p *primitive, v any) (any, bool) {
	switch x := v.(type) {
	case jsontree.Number:
		return repairString(p, string(x))
	case bool:
		return repairString(p, strconv.FormatBool(x))
	case string:
		switch p.name {
		case "boolean":
			return x == "true", x == "true" || x == "false"
		case "decimal":
			return jsontree.Number(x), isDecimal(x)
		case "integer", "positiveInt", "unsignedInt":
			return jsontree.Number(x), p.check(x)
		}
	}
	return nil, false
}

// repairString returns s for a string-typed p that takes a number's or a
// boolean's text unambiguously, when s is valid for it.
func repairString(p *primitive, s string) (any, bool) {
	switch p.name {
	case "string", "markdown", "code", "id", "uri", "url", "canonical":
		return s, p.check == nil || p.check(s)
	}
	return nil, false
}

// isDecimal reports whether s is a decimal by its regex
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?) that a double can hold:
// 1e400 is lexically a decimal, but not a value a reader would get back.
func isDecimal(s string) bool {
	if !r4.Lookup("decimal").Pattern.MatchString(s) {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}
