package fhirpath

// equalEval is l = r, or l != r when neg (FHIRPath N1 "Equality").
type equalEval struct {
	l, r evaluator
	neg  bool
}

func (e *equalEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	l, r, err := c.evalBoth(e.l, e.r, in)
	defer c.put(l)
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

// equivEval is l ~ r, or l !~ r when neg (N1 "Equivalence"); never empty.
type equivEval struct {
	l, r evaluator
	neg  bool
}

func (e *equivEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	l, r, err := c.evalBoth(e.l, e.r, in)
	defer c.put(l)
	defer c.put(r)
	if err != nil {
		return out, err
	}
	return append(out, boolNode(equivColl(l, r) != e.neg)), nil
}

// compareEval is < <= > >= (N1 "Comparison"): one item each side, empty when
// either is empty or the values cannot be ordered (dates of different
// precision, quantities in different units), an error when their types
// differ.
type compareEval struct {
	op   string
	l, r evaluator
	off  int
}

func (e *compareEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	l, r, err := c.operands(e.l, e.r, in, e.op, e.off)
	defer c.put(l)
	defer c.put(r)
	if err != nil {
		return out, err
	}
	if len(l) == 0 || len(r) == 0 {
		return out, nil
	}
	cmp, known, err := compareItems(&l[0], &r[0], e.off)
	if err != nil || !known {
		return out, err
	}
	var v bool
	switch e.op {
	case "<":
		v = cmp < 0
	case "<=":
		v = cmp <= 0
	case ">":
		v = cmp > 0
	default:
		v = cmp >= 0
	}
	return append(out, boolNode(v)), nil
}

// evalBoth evaluates both sides of a binary operator on the focus, each into
// a scratch buffer the caller hands back with c.put, even on an error.
func (c *ctx) evalBoth(l, r evaluator, in []Node) (lv, rv []Node, err error) {
	lv, err = l.eval(c, in, c.get())
	rv = c.get()
	if err != nil {
		return lv, rv, err
	}
	rv, err = r.eval(c, in, rv)
	return lv, rv, err
}
