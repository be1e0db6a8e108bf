package fhirpath

import (
	"hash/maphash"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// vkind is what a node holds as far as comparison and arithmetic care: the
// FHIRPath System type its value converts to (N1 "Models": FHIR's code, uri,
// id… are String; positiveInt and unsignedInt Integer; instant DateTime).
type vkind uint8

const (
	kNone     vkind = iota // no value: a primitive with only its _name companion
	kBool                  // boolean, System.Boolean
	kString                // string and its kin, System.String
	kInteger               // integer, positiveInt, unsignedInt, System.Integer
	kDecimal               // decimal, System.Decimal
	kDate                  // date, System.Date
	kDateTime              // dateTime, instant, System.DateTime
	kTime                  // time, System.Time
	kQuantity              // Quantity and its profiles (Age, Duration…)
	kObject                // any other complex value or resource
)

// primitiveKinds maps the FHIR primitives that are not strings.
var primitiveKinds = map[string]vkind{
	"boolean": kBool, "integer": kInteger, "positiveInt": kInteger, "unsignedInt": kInteger,
	"integer64": kInteger, "decimal": kDecimal, "date": kDate, "dateTime": kDateTime,
	"instant": kDateTime, "time": kTime,
}

// kindOf classifies a node by its value's JSON shape, refined by its type.
// It runs for every item compared, so it avoids map lookups.
func kindOf(n *Node) vkind {
	switch n.Value.(type) {
	case string:
		if n.info != nil {
			if k := n.info.vk; k >= kDate && k <= kTime {
				return k
			}
			return kString
		}
		switch n.Type {
		case "System.Date":
			return kDate
		case "System.DateTime":
			return kDateTime
		case "System.Time":
			return kTime
		}
		return kString
	case jsontree.Number:
		if n.info != nil && n.info.vk == kInteger || n.info == nil && n.Type == "System.Integer" {
			return kInteger
		}
		return kDecimal
	case bool:
		return kBool
	case *jsontree.Object:
		if n.info != nil && n.info.vk == kQuantity {
			return kQuantity
		}
		return kObject
	}
	return kNone
}

func isNumber(k vkind) bool { return k == kInteger || k == kDecimal }

// datesComparable reports whether two kinds compare as dates: Date with
// Date or DateTime (a Date converts to a DateTime, N1 "Conversion"), Time
// with Time.
func datesComparable(a, b vkind) bool {
	return (a == kDate || a == kDateTime) && (b == kDate || b == kDateTime) || a == kTime && b == kTime
}

// parseKind parses a date-like node's text.
func parseKind(s string, k vkind) (dateTime, bool) {
	if k == kTime {
		return parseTime(s)
	}
	return parseDateTime(s)
}

// equalItems is = on two items (N1 "Equality"): known is false when the
// answer is empty, as for dates of different precision that agree as far
// as both go, or quantities in units that would need converting.
func equalItems(a, b *Node) (eq, known bool) {
	ka, kb := kindOf(a), kindOf(b)
	switch {
	case ka == kNone && kb == kNone:
		// Two primitives without values: alike when their extensions are,
		// as FHIRPath.js compares them.
		return a.Ext != nil && b.Ext != nil && jsonEqual(a.Ext, b.Ext, false), true
	case ka == kNone || kb == kNone:
		return false, true
	case ka == kString && kb == kString:
		return a.Value.(string) == b.Value.(string), true
	case ka == kBool && kb == kBool:
		return a.Value.(bool) == b.Value.(bool), true
	case isNumber(ka) && isNumber(kb):
		return decimalEqual(a.Value.(jsontree.Number), b.Value.(jsontree.Number)), true
	case datesComparable(ka, kb):
		as, bs := a.Value.(string), b.Value.(string)
		x, ok1 := parseKind(as, ka)
		y, ok2 := parseKind(bs, kb)
		if !ok1 || !ok2 {
			// Malformed text is a string to FHIRPath.js too.
			return ok1 == ok2 && as == bs, true
		}
		c, known := cmpDateTime(&x, &y)
		return c == 0, known
	case ka == kQuantity && kb == kQuantity:
		return quantityEqual(a.Value.(*jsontree.Object), b.Value.(*jsontree.Object))
	case ka == kObject && kb == kObject:
		if a.isPlaceholder() || b.isPlaceholder() {
			return false, true
		}
		return jsonEqual(a.Value, b.Value, false), true
	}
	return false, true
}

// equivalentItems is ~ on two items (N1 "Equivalence"): strings ignoring
// case and with every white space a space, decimals at the precision of the
// less precise, dates only at the same precision, never empty.
func equivalentItems(a, b *Node) bool {
	ka, kb := kindOf(a), kindOf(b)
	switch {
	case ka == kNone || kb == kNone:
		return ka == kb
	case ka == kString && kb == kString:
		return equivString(a.Value.(string), b.Value.(string))
	case ka == kBool && kb == kBool:
		return a.Value.(bool) == b.Value.(bool)
	case isNumber(ka) && isNumber(kb):
		return decEquivalent(a.Value.(jsontree.Number), b.Value.(jsontree.Number))
	case datesComparable(ka, kb):
		x, ok1 := parseKind(a.Value.(string), ka)
		y, ok2 := parseKind(b.Value.(string), kb)
		if !ok1 || !ok2 {
			return ok1 == ok2 && a.Value.(string) == b.Value.(string)
		}
		c, known := cmpDateTime(&x, &y)
		return known && c == 0
	case ka == kQuantity && kb == kQuantity:
		x, y := a.Value.(*jsontree.Object), b.Value.(*jsontree.Object)
		if kx, ok := unitKey(x); ok {
			if ky, ok := unitKey(y); ok && kx == ky {
				vx, _ := x.Get("value")
				vy, _ := y.Get("value")
				return jsonEqual(vx, vy, true)
			}
		}
		return jsonEqual(x, y, true)
	case (ka == kObject || ka == kQuantity) && (kb == kObject || kb == kQuantity):
		return !a.isPlaceholder() && !b.isPlaceholder() && jsonEqual(a.Value, b.Value, true)
	}
	return false
}

// compareItems orders two items for < <= > >= (N1 "Comparison"). known is
// false when the answer is empty; err when the kinds cannot be compared.
func compareItems(a, b *Node, off int) (c int, known bool, err error) {
	ka, kb := kindOf(a), kindOf(b)
	switch {
	case ka == kNone || kb == kNone:
		return 0, false, nil
	case ka == kString && kb == kString:
		return strings.Compare(a.Value.(string), b.Value.(string)), true, nil
	case isNumber(ka) && isNumber(kb):
		x, ok1 := parseDec(string(a.Value.(jsontree.Number)))
		y, ok2 := parseDec(string(b.Value.(jsontree.Number)))
		if ok1 && ok2 {
			return cmpDec(&x, &y), true, nil
		}
	case datesComparable(ka, kb):
		x, ok1 := parseKind(a.Value.(string), ka)
		y, ok2 := parseKind(b.Value.(string), kb)
		if ok1 && ok2 {
			c, known := cmpDateTime(&x, &y)
			return c, known, nil
		}
	case ka == kQuantity && kb == kQuantity:
		x, y := a.Value.(*jsontree.Object), b.Value.(*jsontree.Object)
		kx, ok1 := unitKey(x)
		ky, ok2 := unitKey(y)
		vx, ok3 := x.Get("value")
		vy, ok4 := y.Get("value")
		nx, ok5 := vx.(jsontree.Number)
		ny, ok6 := vy.(jsontree.Number)
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || kx != ky || hasComparator(x) || hasComparator(y) {
			return 0, false, nil // no unit conversion: unknown
		}
		p, ok1 := parseDec(string(nx))
		q, ok2 := parseDec(string(ny))
		if ok1 && ok2 {
			return cmpDec(&p, &q), true, nil
		}
	}
	return 0, false, errorf(off, "cannot compare %s with %s", a.Type, b.Type)
}

const ucum = "http://unitsofmeasure.org"

// unitKey names a quantity's unit for comparison: system and code, or the
// unit text of a quantity with neither. Quantities compare only in the same
// unit: FHIRPath converts UCUM units, which this package does not.
func unitKey(q *jsontree.Object) (string, bool) {
	sys, _ := q.String("system")
	if code, _ := q.String("code"); code != "" {
		return sys + "|" + code, true
	}
	if unit, _ := q.String("unit"); sys == "" && unit != "" {
		return "|" + unit, true
	}
	return "", false
}

func hasComparator(q *jsontree.Object) bool {
	_, ok := q.Get("comparator")
	return ok
}

// quantityEqual compares two quantities: by value when their units match,
// unknown when both are UCUM in different units (conversion is not done),
// else as JSON, as FHIRPath.js compares quantities outside UCUM.
func quantityEqual(x, y *jsontree.Object) (eq, known bool) {
	kx, ok1 := unitKey(x)
	ky, ok2 := unitKey(y)
	if ok1 && ok2 && !hasComparator(x) && !hasComparator(y) {
		vx, _ := x.Get("value")
		vy, _ := y.Get("value")
		nx, ok3 := vx.(jsontree.Number)
		ny, ok4 := vy.(jsontree.Number)
		if ok3 && ok4 {
			if kx == ky {
				return decimalEqual(nx, ny), true
			}
			if sx, _ := x.String("system"); sx == ucum {
				if sy, _ := y.String("system"); sy == ucum {
					return false, false
				}
			}
		}
	}
	return jsonEqual(x, y, false), true
}

// jsonEqual compares JSON values member by member, ignoring member order;
// numbers by value. equiv compares strings and numbers by equivalence.
func jsonEqual(a, b any, equiv bool) bool {
	switch x := a.(type) {
	case *jsontree.Object:
		y, ok := b.(*jsontree.Object)
		if !ok || len(x.Members) != len(y.Members) {
			return false
		}
		for _, m := range x.Members {
			w, ok := y.Get(m.Key)
			if !ok || !jsonEqual(m.Value, w, equiv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i], equiv) {
				return false
			}
		}
		return true
	case jsontree.Number:
		y, ok := b.(jsontree.Number)
		if equiv {
			return ok && decEquivalent(x, y)
		}
		return ok && decimalEqual(x, y)
	case string:
		y, ok := b.(string)
		if equiv {
			return ok && equivString(x, y)
		}
		return ok && x == y
	}
	return a == b
}

// equivString compares strings ignoring case, every white space character
// counting as a space, without allocating.
func equivString(a, b string) bool {
	for a != "" && b != "" {
		r, n := utf8.DecodeRuneInString(a)
		s, m := utf8.DecodeRuneInString(b)
		a, b = a[n:], b[m:]
		if r == s {
			continue
		}
		if unicode.IsSpace(r) && unicode.IsSpace(s) {
			continue
		}
		if unicode.ToUpper(r) != unicode.ToUpper(s) {
			return false
		}
	}
	return a == "" && b == ""
}

// equalColl is = on collections: either empty gives empty; otherwise the
// same length and each item equal in order. A single pair's answer may be
// empty; in longer collections an unknown pair counts as different, as in
// FHIRPath.js.
func equalColl(l, r []Node) (eq, known bool) {
	if len(l) == 0 || len(r) == 0 {
		return false, false
	}
	if len(l) != len(r) {
		return false, true
	}
	if len(l) == 1 {
		return equalItems(&l[0], &r[0])
	}
	for i := range l {
		if eq, known := equalItems(&l[i], &r[i]); !eq || !known {
			return false, true
		}
	}
	return true, true
}

// maxUnordered bounds the collections ~ pairs up in any order (N1: "order
// does not matter"); longer ones, which no invariant compares, are compared
// in order so that hostile input stays linear.
const maxUnordered = 256

// equivColl is ~ on collections: both empty is true, one empty false.
func equivColl(l, r []Node) bool {
	if len(l) != len(r) {
		return false
	}
	if len(l) > maxUnordered {
		for i := range l {
			if !equivalentItems(&l[i], &r[i]) {
				return false
			}
		}
		return true
	}
	var usedBuf [maxUnordered]bool
	used := usedBuf[:len(r)]
next:
	for i := range l {
		for j := range r {
			if !used[j] && equivalentItems(&l[i], &r[j]) {
				used[j] = true
				continue next
			}
		}
		return false
	}
	return true
}

// containsValue reports whether coll holds an item equal to n.
func containsValue(coll []Node, n *Node) bool {
	for i := range coll {
		if eq, known := equalItems(&coll[i], n); eq && known {
			return true
		}
	}
	return false
}

// valueSet answers "is an item equal to n in coll" for the functions that
// ask it per item (intersect, exclude, subsetOf): by scanning a short
// collection, through hash buckets for a long one, so that hostile input
// is not quadratic.
type valueSet struct {
	coll    []Node
	buckets map[uint64][]int
}

func newValueSet(coll []Node) valueSet {
	vs := valueSet{coll: coll}
	if len(coll) > smallDistinct {
		vs.buckets = make(map[uint64][]int, len(coll))
		for i := range coll {
			if h, ok := valueHash(&coll[i]); ok {
				vs.buckets[h] = append(vs.buckets[h], i)
			}
		}
	}
	return vs
}

func (vs *valueSet) contains(n *Node) bool {
	if vs.buckets == nil {
		return containsValue(vs.coll, n)
	}
	h, ok := valueHash(n)
	if !ok {
		return false
	}
	for _, i := range vs.buckets[h] {
		if eq, known := equalItems(&vs.coll[i], n); eq && known {
			return true
		}
	}
	return false
}

// distinctValues removes from out[start:] the items equal to an earlier
// one, keeping the first, in place. Long collections are bucketed by a hash
// consistent with equalItems so hostile input is not quadratic.
func distinctValues(out []Node, start int) []Node {
	coll := out[start:]
	w := 0
	if len(coll) <= smallDistinct {
		for i := range coll {
			if !containsValue(coll[:w], &coll[i]) {
				coll[w] = coll[i]
				w++
			}
		}
	} else {
		buckets := make(map[uint64][]int, len(coll))
		for i := range coll {
			h, ok := valueHash(&coll[i])
			dup := false
			if ok {
				for _, j := range buckets[h] {
					if eq, known := equalItems(&coll[j], &coll[i]); eq && known {
						dup = true
						break
					}
				}
			}
			if !dup {
				coll[w] = coll[i]
				if ok {
					buckets[h] = append(buckets[h], w)
				}
				w++
			}
		}
	}
	clear(coll[w:])
	return out[:start+w]
}

var hashSeed = maphash.MakeSeed()

func mix(h, v uint64) uint64 {
	h ^= v + 0x9e3779b97f4a7c15 + h<<6 + h>>2
	return h
}

// valueHash hashes what equalItems compares; false for items equal to
// nothing.
func valueHash(n *Node) (uint64, bool) {
	k := kindOf(n)
	switch k {
	case kNone:
		if n.Ext == nil {
			return 0, false
		}
		return mix(10, jsonHash(n.Ext)), true
	case kString:
		return mix(1, maphash.String(hashSeed, n.Value.(string))), true
	case kBool:
		if n.Value.(bool) {
			return 2, true
		}
		return 3, true
	case kInteger, kDecimal:
		return numberHash(n.Value.(jsontree.Number)), true
	case kDate, kDateTime, kTime:
		s := n.Value.(string)
		d, ok := parseKind(s, k)
		if !ok {
			return mix(1, maphash.String(hashSeed, s)), true
		}
		h := mix(4, uint64(d.prec))
		if d.isTime {
			h = mix(h, 1)
		}
		c := d.utc()
		for i := 0; i <= d.prec; i++ {
			h = mix(h, uint64(c[i]))
		}
		return h, true
	case kQuantity:
		q := n.Value.(*jsontree.Object)
		if key, ok := unitKey(q); ok && !hasComparator(q) {
			if v, _ := q.Get("value"); v != nil {
				if num, ok := v.(jsontree.Number); ok {
					return mix(maphash.String(hashSeed, key), numberHash(num)), true
				}
			}
		}
	}
	if n.isPlaceholder() {
		return 0, false
	}
	return jsonHash(n.Value), true
}

// numberHash hashes a number's value: sign, magnitude and significant digits.
func numberHash(num jsontree.Number) uint64 {
	d, ok := parseDec(string(num))
	if !ok {
		return maphash.String(hashSeed, string(num))
	}
	if d.isZero() {
		return 5
	}
	h := mix(6, uint64(d.msd()))
	if d.neg {
		h = mix(h, 1)
	}
	low := d.lsd()
	if d.fp == "" {
		low = d.exp + len(d.ip) - len(strings.TrimRight(d.ip, "0"))
	}
	for p := d.msd(); p >= low; p-- {
		h = mix(h, uint64(d.digitAt(p)))
	}
	return h
}

// jsonHash hashes JSON consistently with jsonEqual (not equivalence):
// members are summed so their order does not matter.
func jsonHash(v any) uint64 {
	switch x := v.(type) {
	case *jsontree.Object:
		var sum uint64
		for _, m := range x.Members {
			sum += mix(maphash.String(hashSeed, m.Key), jsonHash(m.Value))
		}
		return mix(7, sum)
	case []any:
		h := uint64(8)
		for _, e := range x {
			h = mix(h, jsonHash(e))
		}
		return h
	case jsontree.Number:
		return numberHash(x)
	case string:
		return mix(1, maphash.String(hashSeed, x))
	case bool:
		if x {
			return 2
		}
		return 3
	}
	return 9
}
