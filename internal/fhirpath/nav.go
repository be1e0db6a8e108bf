package fhirpath

import (
	"strings"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// collect appends the values of member m held by obj. A plain element is one
// JSON member (and, for a primitive, its _name companion); a choice element
// is whichever valueX members are present, each typed by its suffix.
func (m *member) collect(obj *jsontree.Object, out []Node) []Node {
	if m.choice {
		return m.collectChoice(obj, out)
	}
	a := m.alts[0]
	v, e := -1, -1
	for i := range obj.Members {
		// Comparing one byte before the whole key saves a memequal call per
		// member of the same length (name/text/meta…). The lengths match
		// first, and a.key and a.ext are never empty, so the index is safe.
		switch k := obj.Members[i].Key; {
		case len(k) == len(a.key) && k[0] == a.key[0] && k == a.key:
			v = i
		case a.prim && len(k) == len(a.ext) && k[1] == a.ext[1] && k == a.ext:
			e = i
		}
	}
	if v < 0 && e < 0 {
		return out
	}
	return a.emit(obj, v, e, out)
}

// hit is one alternative of a choice found in an object.
type hit struct {
	a    *alt
	v, e int
}

// collectChoice finds the valueX members in document order. A valid resource
// has at most one; a hostile one may have many, all reported.
func (m *member) collectChoice(obj *jsontree.Object, out []Node) []Node {
	var buf [2]hit
	hits := buf[:0]
	for i := range obj.Members {
		k := obj.Members[i].Key
		isExt := strings.HasPrefix(k, "_")
		if !strings.HasPrefix(strings.TrimPrefix(k, "_"), m.name) {
			continue
		}
		a := m.byKey[k]
		if a == nil || (isExt && !a.prim) {
			continue
		}
		j := indexHit(hits, a)
		if j < 0 {
			hits = append(hits, hit{a: a, v: -1, e: -1})
			j = len(hits) - 1
		}
		if isExt {
			hits[j].e = i
		} else {
			hits[j].v = i
		}
	}
	for _, h := range hits {
		out = h.a.emit(obj, h.v, h.e, out)
	}
	return out
}

func indexHit(hits []hit, a *alt) int {
	for i := range hits {
		if hits[i].a == a {
			return i
		}
	}
	return -1
}

// emit appends the node(s) of one JSON member (index v) and its companion
// (index e), either of which may be absent (-1). Arrays of primitives pair
// with the companion array by index; an array where one value belongs is
// flattened, as FHIRPath flattens every collection.
func (a *alt) emit(obj *jsontree.Object, v, e int, out []Node) []Node {
	var val, ext any
	pos := v
	if v >= 0 {
		val = obj.Members[v].Value
	}
	if e >= 0 {
		ext = obj.Members[e].Value
		if pos < 0 {
			pos = e
		}
	}
	vs, vArr := val.([]any)
	es, eArr := ext.([]any)
	if !vArr && !eArr {
		return a.node(obj, pos, -1, val, ext, out)
	}
	if !vArr && val != nil || !eArr && ext != nil {
		// One side is an array, the other a single value: malformed, so keep
		// the array side alone rather than guess the pairing.
		if !vArr {
			vs = nil
		}
		if !eArr {
			es = nil
		}
	}
	for i := 0; i < max(len(vs), len(es)); i++ {
		var iv, ie any
		if i < len(vs) {
			iv = vs[i]
		}
		if i < len(es) {
			ie = es[i]
		}
		out = a.node(obj, pos, i, iv, ie, out)
	}
	return out
}

// node appends one value, skipping JSON of the wrong shape for the type (an
// object where a primitive belongs, a nested array) so hostile input yields
// nothing rather than nodes whose Value breaks the documented contract.
func (a *alt) node(obj *jsontree.Object, pos, idx int, v, e any, out []Node) []Node {
	n := Node{Type: a.typ, info: a.info, at: obj, pos: int32(pos), item: int32(idx)}
	if a.prim {
		n.Ext, _ = e.(*jsontree.Object)
		switch v.(type) {
		case string, jsontree.Number, bool:
		case nil:
			if n.Ext == nil {
				return out
			}
		default:
			return out
		}
		n.Value = v
		return append(out, n)
	}
	o, ok := v.(*jsontree.Object)
	if !ok {
		return out
	}
	n.Value = o
	if a.resource {
		rt, ti, ok := resourceInfo(o)
		if !ok {
			return out // a contained "resource" of no known type has no FHIR meaning
		}
		n.Type, n.info = rt, ti
	}
	return append(out, n)
}

// children appends n's child nodes (N1 "Tree navigation"): every member of
// a complex value or resource in document order, and a primitive's id and
// extensions. Members no R4 definition names are skipped.
func children(n *Node, out []Node) []Node {
	if n.info == nil || n.info.opaque {
		return out
	}
	obj := n.members()
	if obj == nil {
		return out
	}
	for i := range obj.Members {
		k := obj.Members[i].Key
		name, v, e := k, i, -1
		if len(k) > 1 && k[0] == '_' {
			name, v, e = k[1:], -1, i
			if memberIndex(obj, name, false) >= 0 {
				continue // emitted with its value
			}
		}
		m := n.info.member(name)
		if m == nil || m.choice {
			continue // a choice is present under its typed JSON names only
		}
		a := m.alts[0]
		if v >= 0 && a.prim {
			e = memberIndex(obj, name, true)
		}
		out = a.emit(obj, v, e, out)
	}
	return out
}

// memberIndex returns the index of member name, or of its _name companion
// when ext, or -1, without building the companion's key.
func memberIndex(obj *jsontree.Object, name string, ext bool) int {
	for i := range obj.Members {
		k := obj.Members[i].Key
		if ext && len(k) == len(name)+1 && k[0] == '_' && k[1:] == name || !ext && k == name {
			return i
		}
	}
	return -1
}

// descendants appends every node below the focus items, level by level as
// FHIRPath.js orders them. JSON is a tree, so this ends, in time linear in
// the size of the resource; the work budget stops an expression that asks
// for it over and over (descendants() inside where() on a hostile resource).
func descendants(c *ctx, in, out []Node, off int) ([]Node, error) {
	cur := c.get()
	for i := range in {
		cur = children(&in[i], cur)
	}
	for len(cur) > 0 {
		if c.work += len(cur); c.work > maxWork {
			c.put(cur)
			return out, errorf(off, "evaluation visits more than %d nodes", maxWork)
		}
		out = append(out, cur...)
		next := c.get()
		for i := range cur {
			next = children(&cur[i], next)
		}
		c.put(cur)
		cur = next
	}
	c.put(cur)
	return out, nil
}
