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
	focus [1]Node // the initial focus and %context
	// res is %resource and rootRes %rootResource, which "#" resolves to and
	// whose contained resources "#id" finds. Under Evaluate both point at
	// focus[0]; Check holds them in held. Pointers keep the per-evaluation
	// set-up to one copy of a node, which search extraction pays per
	// expression.
	res, rootRes *Node
	held         [2]Node
	this         Node // $this: the item a where/select criteria looks at
	index        int  // $index, -1 outside where/select
	// byValue makes | remove duplicates by value, as the specification
	// says (Check); Evaluate keeps equal values of different nodes, which
	// search indexing wants.
	byValue bool
	work    int // nodes descendants() and repeat() produced, against maxWork
	free    [][]Node
}

// maxWork bounds the nodes one evaluation may generate by tree walks: far
// beyond what any invariant needs on a real resource (a resource of 10 MB
// has about a million nodes), and small enough to stop hostile input fast.
const maxWork = 1 << 24

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

// release clears what the context refers to and pools it.
func (c *ctx) release() {
	if c.res != &c.focus[0] || c.rootRes != &c.focus[0] {
		c.held = [2]Node{}
	}
	c.focus[0], c.this = Node{}, Node{}
	c.res, c.rootRes = nil, nil
	c.byValue, c.work = false, 0
	ctxPool.Put(c)
}

// Evaluate runs the expression with %resource and $this set to resource,
// whose resourceType member names its type.
func (e *Expr) Evaluate(resource *jsontree.Object) ([]Node, error) {
	return e.EvaluateAppend(nil, resource)
}

// EvaluateAppend is Evaluate appending the result to dst, so a caller
// evaluating many expressions can reuse one slice.
func (e *Expr) EvaluateAppend(dst []Node, resource *jsontree.Object) ([]Node, error) {
	n, err := resourceNode(resource)
	if err != nil {
		return dst, err
	}
	c := ctxPool.Get().(*ctx)
	c.focus[0] = n
	c.res, c.rootRes = &c.focus[0], &c.focus[0]
	c.this, c.index = n, -1
	buf, err := e.root.eval(c, c.focus[:], c.get())
	if err == nil {
		dst = append(dst, buf...)
	}
	c.put(buf)
	c.release()
	return dst, err
}

// resourceNode is the node of a resource: typed by its resourceType, which
// must name a concrete R4 resource type.
func resourceNode(o *jsontree.Object) (Node, error) {
	if o == nil {
		return Node{}, fmt.Errorf("fhirpath: no resource")
	}
	rt, ti, ok := resourceInfo(o)
	if !ok {
		return Node{}, fmt.Errorf("fhirpath: resourceType %q is not an R4 resource type", rt)
	}
	return Node{Value: o, Type: rt, info: ti}, nil
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

// envEval is %resource, %rootResource or %context.
type envEval struct{ name string }

func (e envEval) eval(c *ctx, _, out []Node) ([]Node, error) {
	switch e.name {
	case "resource":
		return append(out, *c.res), nil
	case "rootResource":
		return append(out, *c.rootRes), nil
	}
	return append(out, c.focus[0]), nil
}

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
