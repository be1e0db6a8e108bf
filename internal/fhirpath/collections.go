package fhirpath

// allEval is all(criteria) (N1 "Existence"): true when criteria is true for
// every item, so true on an empty collection.
type allEval struct {
	crit evaluator
	off  int
}

func buildAll(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	crit, _, err := compile(x.args[0], in)
	if err != nil {
		return nil, nil, err
	}
	return &allEval{crit: crit, off: x.off}, nil, nil
}

func (e *allEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	this, index := c.this, c.index
	defer func() { c.this, c.index = this, index }()
	tmp := c.get()
	defer func() { c.put(tmp) }()
	for i := range in {
		ok, known, err := c.criterion(e.crit, in, i, e.off, &tmp)
		if err != nil {
			return out, err
		}
		if !ok || !known {
			return append(out, boolNode(false)), nil
		}
	}
	return append(out, boolNode(true)), nil
}

// repeatEval is repeat(projection) (N1 "Filtering and projection"): the
// projection applied to the focus, then to what it gave, until nothing new
// comes; "new" is by node identity, which ends on any tree.
type repeatEval struct {
	proj evaluator
	off  int
}

func buildRepeat(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	proj, _, err := compile(x.args[0], nil)
	if err != nil {
		return nil, nil, err
	}
	return &repeatEval{proj: proj, off: x.off}, nil, nil
}

func (e *repeatEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	this, index := c.this, c.index
	defer func() { c.this, c.index = this, index }()
	start := len(out)
	seen := map[nodeKey]bool{}
	cur := append(c.get(), in...)
	defer func() { c.put(cur) }()
	for len(cur) > 0 {
		next := c.get()
		for i := range cur {
			c.this, c.index = cur[i], i
			var err error
			if next, err = e.proj.eval(c, cur[i:i+1], next); err != nil {
				c.put(next)
				return out[:start], err
			}
		}
		if c.work += len(next); c.work > maxWork {
			c.put(next)
			return out[:start], errorf(e.off, "evaluation visits more than %d nodes", maxWork)
		}
		w := 0
		for i := range next {
			if k := keyOf(&next[i]); !seen[k] {
				seen[k] = true
				out = append(out, next[i])
				next[w] = next[i]
				w++
			}
		}
		clear(next[w:])
		c.put(cur)
		cur = next[:w]
	}
	return out, nil
}

// setFunc is a function of the focus and another collection, compared by
// value (N1 "Existence", "Subsetting", "Combining"): subsetOf, supersetOf,
// intersect, exclude, union, combine. The argument is evaluated on $this,
// as FHIRPath.js does.
type setFunc struct {
	name  string
	other evaluator
}

func buildSetFunc(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	other, os, err := compile(x.args[0], nil)
	if err != nil {
		return nil, nil, err
	}
	var st *typeInfo
	if x.name != "subsetOf" && x.name != "supersetOf" && (os == in || x.name == "intersect" || x.name == "exclude") {
		st = in
	}
	return &setFunc{name: x.name, other: other}, st, nil
}

func (e *setFunc) eval(c *ctx, in, out []Node) ([]Node, error) {
	focus := append(c.get(), c.this)
	other, err := e.other.eval(c, focus, c.get())
	c.put(focus)
	defer c.put(other)
	if err != nil {
		return out, err
	}
	switch e.name {
	case "subsetOf":
		return append(out, boolNode(subset(in, other))), nil
	case "supersetOf":
		return append(out, boolNode(subset(other, in))), nil
	case "combine":
		return append(append(out, in...), other...), nil
	case "union":
		start := len(out)
		return distinctValues(append(append(out, in...), other...), start), nil
	}
	set := newValueSet(other)
	if e.name == "intersect" {
		start := len(out)
		for i := range in {
			if set.contains(&in[i]) {
				out = append(out, in[i])
			}
		}
		return distinctValues(out, start), nil
	}
	for i := range in { // exclude keeps duplicates and order
		if !set.contains(&in[i]) {
			out = append(out, in[i])
		}
	}
	return out, nil
}

// subset reports whether every item of a equals some item of b.
func subset(a, b []Node) bool {
	set := newValueSet(b)
	for i := range a {
		if !set.contains(&a[i]) {
			return false
		}
	}
	return true
}

// skipTake is skip(n) and take(n) (N1 "Subsetting").
type skipTake struct {
	take bool
	n    evaluator
	off  int
}

func buildSkipTake(x *ast, _ *typeInfo) (evaluator, *typeInfo, error) {
	n, _, err := compile(x.args[0], nil)
	if err != nil {
		return nil, nil, err
	}
	return &skipTake{take: x.name == "take", n: n, off: x.off}, nil, nil
}

func (e *skipTake) eval(c *ctx, in, out []Node) ([]Node, error) {
	n, ok, err := c.evalOne(e.n, e.off)
	if err != nil || !ok {
		return out, err
	}
	k, ok := intValue([]Node{n})
	if !ok || kindOf(&n) != kInteger {
		return out, errorf(e.off, "argument is not an integer")
	}
	k = max(0, min(k, len(in)))
	if e.take {
		return append(out, in[:k]...), nil
	}
	return append(out, in[k:]...), nil
}

// iifEval is iif(criterion, true-result [, otherwise-result]) (N1
// "Conversion"): the criterion and the chosen branch are evaluated on the
// focus, the other branch not at all.
type iifEval struct {
	crit, then, other evaluator // other is nil when absent
	off               int
}

func buildIif(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	var evs [3]evaluator
	var sts [3]*typeInfo
	for i, a := range x.args {
		ev, st, err := compile(a, in)
		if err != nil {
			return nil, nil, err
		}
		evs[i], sts[i] = ev, st
	}
	var st *typeInfo
	if len(x.args) == 3 && sts[1] == sts[2] {
		st = sts[1]
	}
	return &iifEval{crit: evs[0], then: evs[1], other: evs[2], off: x.off}, st, nil
}

func (e *iifEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	this := c.this
	defer func() { c.this = this }()
	if len(in) == 1 {
		c.this = in[0]
	}
	tmp, err := e.crit.eval(c, in, c.get())
	v, known, berr := toBool(tmp, e.off)
	c.put(tmp)
	switch {
	case err != nil:
		return out, err
	case berr != nil:
		return out, berr
	case v && known:
		return e.then.eval(c, in, out)
	case e.other != nil:
		return e.other.eval(c, in, out)
	}
	return out, nil
}

// traceEval is trace(name [, projection]) (N1 "Utility"): the focus,
// unchanged. Nothing is logged; the projection is compiled, not run.
type traceEval struct{}

func buildTrace(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	if _, _, err := compile(x.args[0], nil); err != nil {
		return nil, nil, err
	}
	if len(x.args) == 2 {
		if _, _, err := compile(x.args[1], in); err != nil {
			return nil, nil, err
		}
	}
	return traceEval{}, in, nil
}

func (traceEval) eval(_ *ctx, in, out []Node) ([]Node, error) { return append(out, in...), nil }
