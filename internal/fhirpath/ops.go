package fhirpath

import (
	"strconv"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// unionEval is l | r: both on the same focus, duplicates removed, first
// occurrence kept. Duplicates are the same JSON node (see same), not equal
// values: search indexing wants every element that matched.
type unionEval struct{ l, r evaluator }

func (e *unionEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	start := len(out)
	out, err := e.l.eval(c, in, out)
	if err != nil {
		return out, err
	}
	more, err := e.r.eval(c, in, c.get())
	if err == nil {
		out = appendDistinct(out, start, more)
	}
	c.put(more)
	return out, err
}

// smallDistinct is the size up to which duplicates are found by scanning;
// beyond it a map keeps hostile input from taking quadratic time.
const smallDistinct = 32

// appendDistinct removes duplicates from out[start:], then appends the items
// of more not already there.
func appendDistinct(out []Node, start int, more []Node) []Node {
	if len(out)-start+len(more) > smallDistinct {
		return appendDistinctMap(out, start, more)
	}
	end := len(out)
	w := start
	for i := start; i < end; i++ {
		if !containsSame(out[start:w], &out[i]) {
			out[w] = out[i]
			w++
		}
	}
	clear(out[w:end])
	out = out[:w]
	for i := range more {
		if !containsSame(out[start:], &more[i]) {
			out = append(out, more[i])
		}
	}
	return out
}

func containsSame(coll []Node, n *Node) bool {
	for i := range coll {
		if same(&coll[i], n) {
			return true
		}
	}
	return false
}

// nodeKey is what same compares, as a map key.
type nodeKey struct {
	at        *jsontree.Object
	pos, item int32
	typ       string
	val       any // computed values only; always comparable (see same)
}

func keyOf(n *Node) nodeKey {
	k := nodeKey{at: n.at, pos: n.pos, item: n.item, typ: n.Type}
	if n.at == nil {
		k.val = n.Value
	}
	return k
}

func appendDistinctMap(out []Node, start int, more []Node) []Node {
	seen := make(map[nodeKey]bool, len(out)-start+len(more))
	end := len(out)
	w := start
	for i := start; i < end; i++ {
		if k := keyOf(&out[i]); !seen[k] {
			seen[k] = true
			out[w] = out[i]
			w++
		}
	}
	clear(out[w:end])
	out = out[:w]
	for i := range more {
		if k := keyOf(&more[i]); !seen[k] {
			seen[k] = true
			out = append(out, more[i])
		}
	}
	return out
}

// equalEval is l = r, or l != r when neg (FHIRPath N1 "Equality").
type equalEval struct {
	l, r evaluator
	neg  bool
}

func (e *equalEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	l, err := e.l.eval(c, in, c.get())
	defer c.put(l)
	if err != nil {
		return out, err
	}
	r, err := e.r.eval(c, in, c.get())
	defer c.put(r)
	if err != nil {
		return out, err
	}
	eq, known := equalColl(l, r)
	if !known {
		return out, nil
	}
	return append(out, boolNode(eq != e.neg)), nil
}

// equalColl compares two collections item by item in order; either empty
// makes the result unknown.
func equalColl(l, r []Node) (eq, known bool) {
	if len(l) == 0 || len(r) == 0 {
		return false, false
	}
	if len(l) != len(r) {
		return false, true
	}
	for i := range l {
		if !equalItem(&l[i], &r[i]) {
			return false, true
		}
	}
	return true, true
}

// equalItem compares values regardless of FHIR type, as FHIRPath compares
// a code with a string literal: strings by text, numbers by decimal value,
// booleans, and complex values member by member.
func equalItem(a, b *Node) bool {
	switch av := a.Value.(type) {
	case string:
		bv, ok := b.Value.(string)
		return ok && av == bv
	case bool:
		bv, ok := b.Value.(bool)
		return ok && av == bv
	case jsontree.Number:
		bv, ok := b.Value.(jsontree.Number)
		return ok && decimalEqual(av, bv)
	case *jsontree.Object:
		bv, ok := b.Value.(*jsontree.Object)
		return ok && !a.isPlaceholder() && !b.isPlaceholder() && jsontree.Equal(av, bv)
	}
	return false
}

// decimalEqual compares numbers by value (1.0 = 1, 1e2 = 100), which
// float64 cannot do exactly. It works on the digits rather than big.Rat so
// that a hostile exponent (1e999999999) costs nothing.
func decimalEqual(a, b jsontree.Number) bool {
	if a == b {
		return true
	}
	x, ok1 := normalize(string(a))
	y, ok2 := normalize(string(b))
	return ok1 && ok2 && x == y
}

// decimal is a number as sign, significant digits and the power of ten of
// the last digit; zero is {digits: ""}.
type decimal struct {
	neg    bool
	digits string
	exp    int
}

func normalize(s string) (decimal, bool) {
	var d decimal
	if s != "" && (s[0] == '-' || s[0] == '+') {
		d.neg = s[0] == '-'
		s = s[1:]
	}
	mant, expPart, hasExp := cutAny(s, "eE")
	if hasExp {
		e, err := strconv.Atoi(expPart)
		if err != nil || e > 1e9 || e < -1e9 {
			return d, false
		}
		d.exp = e
	}
	intPart, frac, _ := cutAny(mant, ".")
	if intPart == "" && frac == "" || digits(intPart) != len(intPart) || digits(frac) != len(frac) {
		return d, false
	}
	d.exp -= len(frac)
	all := intPart + frac
	for len(all) > 0 && all[0] == '0' {
		all = all[1:]
	}
	for len(all) > 0 && all[len(all)-1] == '0' {
		all = all[:len(all)-1]
		d.exp++
	}
	d.digits = all
	if all == "" {
		return decimal{}, true // +0 = -0 = 0.00
	}
	return d, true
}

// cutAny splits s at the first byte that is in set.
func cutAny(s, set string) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(set); j++ {
			if s[i] == set[j] {
				return s[:i], s[i+1:], true
			}
		}
	}
	return s, "", false
}

// logicEval is and, or, xor and implies with FHIRPath's three-valued logic
// (N1 "Boolean logic"), where empty is unknown.
type logicEval struct {
	op   string
	l, r evaluator
	off  int
}

func (e *logicEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	lv, lk, err := e.operand(c, e.l, in)
	if err != nil {
		return out, err
	}
	// and/or need not look right when left decides (N1 allows it).
	if lk && (e.op == "and" && !lv || e.op == "or" && lv) {
		return append(out, boolNode(lv)), nil
	}
	rv, rk, err := e.operand(c, e.r, in)
	if err != nil {
		return out, err
	}
	v, known := combine(e.op, lv, lk, rv, rk)
	if !known {
		return out, nil
	}
	return append(out, boolNode(v)), nil
}

func (e *logicEval) operand(c *ctx, ev evaluator, in []Node) (val, known bool, err error) {
	tmp, err := ev.eval(c, in, c.get())
	defer c.put(tmp)
	if err != nil {
		return false, false, err
	}
	return toBool(tmp, e.off)
}

func combine(op string, l, lk, r, rk bool) (val, known bool) {
	switch op {
	case "and":
		if lk && !l || rk && !r {
			return false, true
		}
		return true, lk && rk
	case "or":
		if lk && l || rk && r {
			return true, true
		}
		return false, lk && rk
	case "xor":
		return l != r, lk && rk
	default: // implies
		switch {
		case lk && !l:
			return true, true
		case lk:
			return r, rk
		case rk && r:
			return true, true
		}
		return false, false
	}
}

// memberOfEval is item in coll (or coll contains item when swapped).
type memberOfEval struct {
	item, coll evaluator
	off        int
}

func (e *memberOfEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	item, err := e.item.eval(c, in, c.get())
	defer c.put(item)
	if err != nil || len(item) == 0 {
		return out, err
	}
	if len(item) > 1 {
		return out, errorf(e.off, "membership test of %d items, want one", len(item))
	}
	coll, err := e.coll.eval(c, in, c.get())
	defer c.put(coll)
	if err != nil {
		return out, err
	}
	for i := range coll {
		if equalItem(&item[0], &coll[i]) {
			return append(out, boolNode(true)), nil
		}
	}
	return append(out, boolNode(false)), nil
}

// typeOpEval is `x is T` / `x as T`, and the functions is(T) / as(T) when
// operand is nil (then x is the focus). Both need at most one item, as
// FHIRPath N1 "Types" and FHIRPath.js require.
type typeOpEval struct {
	operand evaluator
	spec    typeSpec
	as      bool
	off     int
}

func (e *typeOpEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	coll := in
	if e.operand != nil {
		tmp, err := e.operand.eval(c, in, c.get())
		defer c.put(tmp)
		if err != nil {
			return out, err
		}
		coll = tmp
	}
	switch {
	case len(coll) == 0:
		return out, nil
	case len(coll) > 1:
		return out, errorf(e.off, "type test of %d items, want one", len(coll))
	case e.as && e.spec.match(&coll[0]):
		return append(out, coll[0]), nil
	case e.as:
		return out, nil
	}
	return append(out, boolNode(e.spec.match(&coll[0]))), nil
}

func intNode(i int) Node {
	return Node{Value: jsontree.Number(strconv.Itoa(i)), Type: "System.Integer"}
}

// intValue returns the single integer in coll.
func intValue(coll []Node) (int, bool) {
	if len(coll) != 1 {
		return 0, false
	}
	n, ok := coll[0].Value.(jsontree.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(string(n))
	return i, err == nil
}
