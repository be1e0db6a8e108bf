package fhirpath

import (
	"strconv"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// unionEval is l | r: both on the same focus, duplicates removed, first
// occurrence kept. Under Evaluate duplicates are the same JSON node (see
// same), not equal values: search indexing wants every element that
// matched. Under Check they are equal values, as N1 "Collections" says.
type unionEval struct{ l, r evaluator }

func (e *unionEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	start := len(out)
	out, err := e.l.eval(c, in, out)
	if err != nil {
		return out, err
	}
	if c.byValue {
		out, err = e.r.eval(c, in, out)
		return distinctValues(out, start), err
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
	return append(out, boolNode(containsValue(coll, &item[0]))), nil
}

// typeOpEval is `x is T` / `x as T`, and the functions is(T) / as(T) when
// operand is nil (then x is the focus). Both need at most one item, as
// FHIRPath N1 "Types" and FHIRPath.js require, except the function as(T),
// which filters a collection like ofType(T): R4's own invariants apply it
// to collections (dom-3: %resource.descendants().as(canonical)), as the
// FHIRPath of R4's time did.
type typeOpEval struct {
	operand evaluator
	spec    typeSpec
	as      bool
	filter  bool // as(T) on a collection keeps the items of type T
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
	case len(coll) > 1 && e.filter:
		for i := range coll {
			if e.spec.match(&coll[i]) {
				out = append(out, coll[i])
			}
		}
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
	return Node{Value: intAny(int64(i)), Type: "System.Integer"}
}

// smallInts holds the integers counts and small sums produce, already
// boxed: putting a computed string in an interface allocates, and a
// passing invariant such as (identifier.count() + name.count()) > 0 should
// not.
var smallInts = func() (a [1280]any) {
	for i := range a {
		a[i] = jsontree.Number(strconv.Itoa(i - 256))
	}
	return a
}()

// intAny is i as a jsontree.Number in an interface.
func intAny(i int64) any {
	if i >= -256 && i < 1024 {
		return smallInts[i+256]
	}
	return jsontree.Number(strconv.FormatInt(i, 10))
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
