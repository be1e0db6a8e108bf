package fhirpath

import (
	"fmt"
	"sync"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// Expr is a compiled expression; safe for concurrent use.
type Expr struct {
	src  string
	root evaluator
}

// String returns the expression's source.
func (e *Expr) String() string { return e.src }

// evaluator is one compiled construct. eval appends the construct's result
// for the focus collection in to out and must not touch what out already
// holds, so callers can build results in place without copying.
type evaluator interface {
	eval(c *ctx, in, out []Node) ([]Node, error)
}

// ctx is the state of one evaluation. It is pooled with its scratch buffers
// so that steady-state evaluation allocates only the returned slice.
type ctx struct {
	resource *jsontree.Object
	root     [1]Node // %resource, also the initial focus
	this     Node    // $this: the item a where/select criteria looks at
	index    int     // $index, -1 outside where/select
	free     [][]Node
}

var ctxPool = sync.Pool{New: func() any { return new(ctx) }}

// get returns an empty scratch buffer.
func (c *ctx) get() []Node {
	if n := len(c.free); n > 0 {
		b := c.free[n-1]
		c.free = c.free[:n-1]
		return b
	}
	return make([]Node, 0, 8)
}

// put returns a buffer, cleared so the pool does not keep resources alive.
func (c *ctx) put(b []Node) {
	clear(b)
	c.free = append(c.free, b[:0])
}

// Evaluate runs the expression with %resource and $this set to resource,
// whose resourceType member names its type.
func (e *Expr) Evaluate(resource *jsontree.Object) ([]Node, error) {
	return e.EvaluateAppend(nil, resource)
}

// EvaluateAppend is Evaluate appending the result to dst, so a caller
// evaluating many expressions can reuse one slice.
func (e *Expr) EvaluateAppend(dst []Node, resource *jsontree.Object) ([]Node, error) {
	if resource == nil {
		return dst, fmt.Errorf("fhirpath: no resource")
	}
	rt, ti, ok := resourceInfo(resource)
	if !ok {
		return dst, fmt.Errorf("fhirpath: resourceType %q is not an R4 resource type", rt)
	}
	c := ctxPool.Get().(*ctx)
	c.resource = resource
	c.root[0] = Node{Value: resource, Type: rt, info: ti}
	c.this, c.index = c.root[0], -1
	buf, err := e.root.eval(c, c.root[:], c.get())
	if err == nil {
		dst = append(dst, buf...)
	}
	c.put(buf)
	c.resource, c.root[0], c.this = nil, Node{}, Node{}
	ctxPool.Put(c)
	return dst, err
}

// evalOne evaluates an argument against $this and returns its single item,
// or false when it is empty.
func (c *ctx) evalOne(ev evaluator, off int) (Node, bool, error) {
	focus := append(c.get(), c.this)
	defer c.put(focus)
	tmp, err := ev.eval(c, focus, c.get())
	defer c.put(tmp)
	switch {
	case err != nil:
		return Node{}, false, err
	case len(tmp) == 0:
		return Node{}, false, nil
	case len(tmp) > 1:
		return Node{}, false, errorf(off, "argument gave %d items, want one", len(tmp))
	}
	return tmp[0], true, nil
}

// toBool applies FHIRPath singleton evaluation (N1 "Singleton Evaluation of
// Collections") where a boolean is
// expected: empty is unknown, one boolean is itself, one other item is true,
// more is an error.
func toBool(coll []Node, off int) (val, known bool, err error) {
	switch len(coll) {
	case 0:
		return false, false, nil
	case 1:
		if b, ok := coll[0].Value.(bool); ok {
			return b, true, nil
		}
		return true, true, nil
	}
	return false, false, errorf(off, "expected one boolean, got %d items", len(coll))
}

// chainEval is left.right: right runs on left's result.
type chainEval struct{ left, right evaluator }

func (e *chainEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	tmp, err := e.left.eval(c, in, c.get())
	if err == nil {
		out, err = e.right.eval(c, tmp, out)
	}
	c.put(tmp)
	return out, err
}

// stepEval navigates to a member. static is the input type known at compile
// time and m its member, so the usual case skips the per-type lookup.
type stepEval struct {
	name   string
	static *typeInfo
	m      *member
}

func (s *stepEval) eval(_ *ctx, in, out []Node) ([]Node, error) {
	for i := range in {
		n := &in[i]
		if n.info == nil {
			continue // System values have no members
		}
		m := s.m
		if n.info != s.static {
			m = n.info.member(s.name)
		}
		if m == nil {
			continue
		}
		if obj := n.members(); obj != nil {
			out = m.collect(obj, out)
		}
	}
	return out, nil
}

// typeFilterEval is a type name at the start of a path (Practitioner.name,
// Resource.id): it keeps the focus items of that type.
type typeFilterEval struct{ spec typeSpec }

func (e *typeFilterEval) eval(_ *ctx, in, out []Node) ([]Node, error) {
	for i := range in {
		if e.spec.match(&in[i]) {
			out = append(out, in[i])
		}
	}
	return out, nil
}

type literalEval struct{ n Node }

func (e *literalEval) eval(_ *ctx, _, out []Node) ([]Node, error) { return append(out, e.n), nil }

type emptyEval struct{}

func (emptyEval) eval(_ *ctx, _, out []Node) ([]Node, error) { return out, nil }

type thisEval struct{}

func (thisEval) eval(c *ctx, _, out []Node) ([]Node, error) { return append(out, c.this), nil }

type indexVarEval struct{}

func (indexVarEval) eval(c *ctx, _, out []Node) ([]Node, error) {
	if c.index < 0 {
		return out, nil
	}
	return append(out, intNode(c.index)), nil
}

type resourceEval struct{}

func (resourceEval) eval(c *ctx, _, out []Node) ([]Node, error) { return append(out, c.root[0]), nil }

// indexEval is coll[idx].
type indexEval struct {
	coll, idx evaluator
	off       int
}

func (e *indexEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	idx, err := e.idx.eval(c, in, c.get())
	defer c.put(idx)
	if err != nil || len(idx) == 0 {
		return out, err
	}
	i, ok := intValue(idx)
	if !ok {
		return out, errorf(e.off, "index is not a single integer")
	}
	coll, err := e.coll.eval(c, in, c.get())
	if err == nil && i >= 0 && i < len(coll) {
		out = append(out, coll[i])
	}
	c.put(coll)
	return out, err
}
