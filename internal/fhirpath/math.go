package fhirpath

import (
	"errors"
	"strconv"

	"github.com/vhdir/vhdir/internal/jsontree"
)

var errNumberRange = errors.New("number out of range")

// operands evaluates both sides of a binary operator that takes one item
// each (N1 "Math", "String concatenation"); the caller puts both buffers.
func (c *ctx) operands(l, r evaluator, in []Node, op string, off int) (a, b []Node, err error) {
	if a, b, err = c.evalBoth(l, r, in); err != nil {
		return a, b, err
	}
	if len(a) > 1 || len(b) > 1 {
		return a, b, errorf(off, "%s of %d and %d items, want one each", op, len(a), len(b))
	}
	return a, b, nil
}

// arithEval is + - * / div mod (N1 "Math"): numbers, and + on strings.
// Integer with Integer stays Integer except for /; Decimal is exact; a
// division by zero is empty.
type arithEval struct {
	op   string
	l, r evaluator
	off  int
}

func (e *arithEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	l, r, err := c.operands(e.l, e.r, in, e.op, e.off)
	defer c.put(l)
	defer c.put(r)
	if err != nil || len(l) == 0 || len(r) == 0 {
		return out, err
	}
	a, b := &l[0], &r[0]
	ka, kb := kindOf(a), kindOf(b)
	switch {
	case ka == kNone || kb == kNone:
		return out, nil
	case e.op == "+" && ka == kString && kb == kString:
		return append(out, Node{Value: a.Value.(string) + b.Value.(string), Type: "System.String"}), nil
	case isNumber(ka) && isNumber(kb):
		x, y := a.Value.(jsontree.Number), b.Value.(jsontree.Number)
		typ := "System.Decimal"
		if ka == kInteger && kb == kInteger && e.op != "/" {
			typ = "System.Integer"
			if v, ok, done := smallIntArith(e.op, x, y); done {
				if !ok {
					return out, nil
				}
				return append(out, Node{Value: intAny(v), Type: typ}), nil
			}
		}
		v, ok, err := arith(e.op, x, y)
		if err != nil {
			return out, errorf(e.off, "%v", err)
		}
		if !ok {
			return out, nil
		}
		return append(out, Node{Value: v, Type: typ}), nil
	}
	return out, errorf(e.off, "cannot apply %s to %s and %s", e.op, a.Type, b.Type)
}

// smallIntArith does integer arithmetic on operands within 32 bits without
// big numbers; done is false when they are larger.
func smallIntArith(op string, x, y jsontree.Number) (v int64, ok, done bool) {
	a, err1 := strconv.ParseInt(string(x), 10, 32)
	b, err2 := strconv.ParseInt(string(y), 10, 32)
	if err1 != nil || err2 != nil {
		return 0, false, false
	}
	var r int64
	switch op {
	case "+":
		r = a + b
	case "-":
		r = a - b
	case "*":
		r = a * b
	case "div", "mod":
		if b == 0 {
			return 0, false, true
		}
		if r = a / b; op == "mod" {
			r = a % b
		}
	}
	return r, true, true
}

// concatEval is & (N1 "String concatenation"): an empty side counts as ”.
type concatEval struct {
	l, r evaluator
	off  int
}

func (e *concatEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	l, r, err := c.operands(e.l, e.r, in, "&", e.off)
	defer c.put(l)
	defer c.put(r)
	if err != nil {
		return out, err
	}
	var s [2]string
	for i, side := range [2][]Node{l, r} {
		if len(side) == 0 || side[0].Value == nil {
			continue
		}
		v, ok := side[0].Value.(string)
		if !ok {
			return out, errorf(e.off, "& of %s, want a string", side[0].Type)
		}
		s[i] = v
	}
	return append(out, Node{Value: s[0] + s[1], Type: "System.String"}), nil
}

// unaryEval is the polarity operator on a number.
type unaryEval struct {
	neg     bool
	operand evaluator
	off     int
}

func (e *unaryEval) eval(c *ctx, in, out []Node) ([]Node, error) {
	tmp, err := e.operand.eval(c, in, c.get())
	defer c.put(tmp)
	switch {
	case err != nil || len(tmp) == 0:
		return out, err
	case len(tmp) > 1:
		return out, errorf(e.off, "polarity of %d items, want one", len(tmp))
	}
	k := kindOf(&tmp[0])
	if !isNumber(k) {
		if k == kNone {
			return out, nil
		}
		return out, errorf(e.off, "polarity of %s, want a number", tmp[0].Type)
	}
	typ := "System.Decimal"
	if k == kInteger {
		typ = "System.Integer"
	}
	v := tmp[0].Value.(jsontree.Number)
	if e.neg {
		v = negate(v)
	}
	return append(out, Node{Value: v, Type: typ}), nil
}
