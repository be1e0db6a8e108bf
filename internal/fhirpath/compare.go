package fhirpath

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

// equivEval is l ~ r, or l !~ r when neg (N1 "Equivalence"); never empty.
type equivEval struct {
	l, r evaluator
	neg  bool
}

func (e *equivEval) eval(c *ctx, in, out []Node) ([]Node, error) {
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
	if len(l) > 1 || len(r) > 1 {
		return out, errorf(e.off, "%s of %d and %d items, want one each", e.op, len(l), len(r))
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
