package fhirpath

import (
	"strings"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// whereEval keeps the focus items for which crit is true (N1 "Filtering and
// projection").
type whereEval struct {
	crit evaluator
	off  int
}

func (e *whereEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	this, index := c.this, c.index
	defer func() { c.this, c.index = this, index }()
	tmp := c.get()
	defer func() { c.put(tmp) }()
	for i := range in {
		ok, known, err := c.criterion(e.crit, in, i, e.off, &tmp)
		if err != nil {
			return out, err
		}
		if ok && known {
			out = append(out, in[i])
		}
	}
	return out, nil
}

// criterion evaluates crit on item i of in, which is $this (and i $index)
// meanwhile, as a singleton boolean, in the scratch buffer *tmp. The caller
// restores $this and $index when done with all items.
func (c *ctx) criterion(crit evaluator, in []Node, i, off int, tmp *[]Node) (ok, known bool, err error) {
	c.this, c.index = in[i], i
	if *tmp, err = crit.eval(c, in[i:i+1], (*tmp)[:0]); err != nil {
		return false, false, err
	}
	return toBool(*tmp, off)
}

// selectEval flattens proj over the focus items (N1 "Filtering and projection").
type selectEval struct{ proj evaluator }

func (e *selectEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	this, index := c.this, c.index
	defer func() { c.this, c.index = this, index }()
	for i := range in {
		c.this, c.index = in[i], i
		var err error
		if out, err = e.proj.eval(c, in[i:i+1], out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// existsEval is exists() and exists(criteria) (N1 "Existence").
type existsEval struct{ where *whereEval }

func (e *existsEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	if e.where == nil {
		return append(out, boolNode(len(in) > 0)), nil
	}
	tmp, err := e.where.eval(c, in, c.get())
	n := len(tmp)
	c.put(tmp)
	if err != nil {
		return out, err
	}
	return append(out, boolNode(n > 0)), nil
}

// collFunc is a function of the focus alone: empty(), first(), count()…
type collFunc struct {
	name string
	off  int
}

func (e *collFunc) eval(c *ctx, in, out []Node) ([]Node, error) {
	switch e.name {
	case "empty":
		return append(out, boolNode(len(in) == 0)), nil
	case "count":
		return append(out, intNode(len(in))), nil
	case "first":
		if len(in) > 0 {
			out = append(out, in[0])
		}
	case "last":
		if len(in) > 0 {
			out = append(out, in[len(in)-1])
		}
	case "tail":
		if len(in) > 1 {
			out = append(out, in[1:]...)
		}
	case "single":
		if len(in) > 1 {
			return out, errorf(e.off, "single() of %d items", len(in))
		}
		out = append(out, in...)
	case "not":
		v, known, err := toBool(in, e.off)
		if err != nil || !known {
			return out, err
		}
		out = append(out, boolNode(!v))
	case "hasValue":
		out = append(out, boolNode(len(in) == 1 && hasValue(&in[0])))
	case "getValue":
		if len(in) == 1 && hasValue(&in[0]) {
			out = append(out, systemValue(&in[0]))
		}
	case "distinct":
		start := len(out)
		out = distinctValues(append(out, in...), start)
	case "isDistinct":
		tmp := append(c.get(), in...)
		n := len(distinctValues(tmp, 0))
		c.put(tmp)
		out = append(out, boolNode(n == len(in)))
	case "allTrue", "anyTrue", "allFalse", "anyFalse":
		return boolAggregate(e.name, in, out, e.off)
	case "children":
		for i := range in {
			out = children(&in[i], out)
		}
	case "descendants":
		return descendants(c, in, out, e.off)
	}
	return out, nil
}

// hasValue reports whether n is a FHIR primitive with a value (FHIR R4
// fhirpath.html "hasValue").
func hasValue(n *Node) bool {
	return n.info != nil && n.info.kind == r4.Primitive && n.Value != nil
}

// systemValue is a primitive's value as the System type it converts to.
func systemValue(n *Node) Node {
	typ := "System.String"
	switch kindOf(n) {
	case kBool:
		typ = "System.Boolean"
	case kInteger:
		typ = "System.Integer"
	case kDecimal:
		typ = "System.Decimal"
	case kDate:
		typ = "System.Date"
	case kDateTime:
		typ = "System.DateTime"
	case kTime:
		typ = "System.Time"
	}
	return Node{Value: n.Value, Type: typ}
}

// boolAggregate is allTrue(), anyTrue(), allFalse() and anyFalse() (N1
// "Existence"): every item must be a boolean.
func boolAggregate(name string, in, out []Node, off int) ([]Node, error) {
	want := name == "allTrue" || name == "anyTrue"
	all := name == "allTrue" || name == "allFalse"
	v := all
	for i := range in {
		b, ok := in[i].Value.(bool)
		if !ok {
			return out, errorf(off, "%s() of %s, want booleans", name, in[i].Type)
		}
		if all && b != want {
			v = false
		}
		if !all && b == want {
			v = true
		}
	}
	return append(out, boolNode(v)), nil
}

// ofTypeEval keeps the focus items of a type or its descendants (N1 "Filtering and projection").
type ofTypeEval struct{ spec typeSpec }

func (e *ofTypeEval) eval(_ *ctx, in, out []Node) ([]Node, error) {
	for i := range in {
		if e.spec.match(&in[i]) {
			out = append(out, in[i])
		}
	}
	return out, nil
}

// extensionEval is extension(url) (FHIR R4 fhirpath.html, "Additional
// functions"): the focus items'
// extensions with that url, on elements and on primitives (via _name).
type extensionEval struct {
	url evaluator // nil when the url is the literal lit
	lit string
	off int
}

func (e *extensionEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	url := e.lit
	if e.url != nil {
		n, ok, err := c.evalOne(e.url, e.off)
		if err != nil || !ok {
			return out, err
		}
		if url, ok = n.Value.(string); !ok {
			return out, errorf(e.off, "extension url is not a string")
		}
	}
	for i := range in {
		n := &in[i]
		if n.info == nil {
			continue
		}
		m, obj := n.info.extensions(), n.members()
		if m == nil || obj == nil {
			continue
		}
		start := len(out)
		out = keepURL(m.collect(obj, out), start, url)
	}
	return out, nil
}

// keepURL drops from out[start:] the extensions whose url is not url.
func keepURL(out []Node, start int, url string) []Node {
	w := start
	for i := start; i < len(out); i++ {
		if o, ok := out[i].Value.(*jsontree.Object); ok {
			if u, _ := o.String("url"); u == url {
				out[w] = out[i]
				w++
			}
		}
	}
	clear(out[w:])
	return out[:w]
}

// resolveEval is resolve() without fetching: see the package comment.
type resolveEval struct{}

func (resolveEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	for i := range in {
		n := &in[i]
		o, ok := n.Value.(*jsontree.Object)
		if !ok || n.info == nil || n.info.opaque || !n.info.isA("Reference") {
			continue
		}
		if ref, ok := o.String("reference"); ok {
			out = c.resolve(n, ref, out)
		}
	}
	return out, nil
}

func (c *ctx) resolve(n *Node, ref string, out []Node) []Node {
	if ref == "#" {
		return append(out, *c.rootRes) // "#" is the container itself
	}
	if id, ok := strings.CutPrefix(ref, "#"); ok {
		return c.contained(id, out)
	}
	typ, ok := referenceType(ref)
	if !ok {
		return out
	}
	ti := lookupInfo(typ)
	if ti == nil || ti.placeholder == nil {
		return out
	}
	return append(out, Node{Value: n.Value, Type: typ, info: ti.placeholder, at: n.at, pos: n.pos, item: n.item})
}

// contained finds the contained resource with the id. References inside a
// contained resource point at its siblings, which is why the search starts
// from the top-level resource whatever the reference's depth.
func (c *ctx) contained(id string, out []Node) []Node {
	root, _ := c.rootRes.Value.(*jsontree.Object)
	if root == nil {
		return out
	}
	for p := range root.Members {
		if root.Members[p].Key != "contained" {
			continue
		}
		items, _ := root.Members[p].Value.([]any)
		for i, item := range items {
			o, ok := item.(*jsontree.Object)
			if !ok {
				continue
			}
			if oid, _ := o.String("id"); oid != id {
				continue
			}
			if rt, ti, ok := resourceInfo(o); ok {
				return append(out, Node{Value: o, Type: rt, info: ti, at: root, pos: int32(p), item: int32(i)})
			}
		}
	}
	return out
}

// referenceType returns the target type of a literal reference: Type/id,
// Type/id/_history/v, or an absolute URL ending so (FHIR R4
// references.html, "Literal References").
func referenceType(ref string) (string, bool) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndexByte(ref, '/')
	if slash < 0 || !isID(ref[slash+1:]) {
		return "", false
	}
	head := ref[:slash]
	typ := head[strings.LastIndexByte(head, '/')+1:]
	return typ, r4.IsResourceType(typ)
}

// isID reports whether s matches the FHIR id pattern [A-Za-z0-9\-\.]{1,64}.
func isID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
