package fhirpath

import (
	"strings"
	"unicode/utf8"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// stringFunc is a function of one string (N1 "String Manipulation"):
// indexOf, substring, startsWith, endsWith, contains, upper, lower, replace,
// length and toChars. An empty focus, a primitive without a value or an
// empty argument gives empty; more than one item, or an item or argument
// that is not a string, is an error. Indices and lengths count Unicode code
// points.
type stringFunc struct {
	name string
	args []evaluator
	off  int
}

func buildStringFunc(x *ast, _ *typeInfo) (evaluator, *typeInfo, error) {
	e := &stringFunc{name: x.name, off: x.off}
	for _, a := range x.args {
		ev, _, err := compile(a, nil)
		if err != nil {
			return nil, nil, err
		}
		e.args = append(e.args, ev)
	}
	return e, nil, nil
}

func strNode(s string) Node { return Node{Value: s, Type: "System.String"} }

// focusString returns the focus's single string; ok is false when there is
// none.
func focusString(in []Node, name string, off int) (string, bool, error) {
	switch {
	case len(in) == 0:
		return "", false, nil
	case len(in) > 1:
		return "", false, errorf(off, "%s() needs one string, got %d items", name, len(in))
	case in[0].Value == nil:
		return "", false, nil
	}
	s, ok := in[0].Value.(string)
	if !ok {
		return "", false, errorf(off, "%s() needs a string, got %s", name, in[0].Type)
	}
	return s, true, nil
}

// stringArg evaluates a string argument on $this; ok is false when it is
// empty.
func (c *ctx) stringArg(ev evaluator, name string, off int) (string, bool, error) {
	n, ok, err := c.evalOne(ev, off)
	if err != nil || !ok || n.Value == nil {
		return "", false, err
	}
	s, ok := n.Value.(string)
	if !ok {
		return "", false, errorf(off, "%s() argument is not a string", name)
	}
	return s, true, nil
}

// intArg evaluates an integer argument on $this; ok is false when it is
// empty.
func (c *ctx) intArg(ev evaluator, name string, off int) (int, bool, error) {
	n, ok, err := c.evalOne(ev, off)
	if err != nil || !ok || n.Value == nil {
		return 0, false, err
	}
	num, isNum := n.Value.(jsontree.Number)
	i, isInt := intValue([]Node{n})
	if !isNum || !isInt || kindOf(&n) != kInteger {
		return 0, false, errorf(off, "%s() argument %s is not an integer", name, num)
	}
	return i, true, nil
}

func (e *stringFunc) eval(c *ctx, in, out []Node) ([]Node, error) {
	s, ok, err := focusString(in, e.name, e.off)
	if err != nil || !ok {
		return out, err
	}
	switch e.name {
	case "upper":
		return append(out, strNode(strings.ToUpper(s))), nil
	case "lower":
		return append(out, strNode(strings.ToLower(s))), nil
	case "length":
		return append(out, intNode(utf8.RuneCountInString(s))), nil
	case "toChars":
		for _, r := range s {
			out = append(out, strNode(string(r)))
		}
		return out, nil
	case "substring":
		return e.substring(c, s, out)
	}
	arg, ok, err := c.stringArg(e.args[0], e.name, e.off)
	if err != nil || !ok {
		return out, err
	}
	switch e.name {
	case "startsWith":
		return append(out, boolNode(strings.HasPrefix(s, arg))), nil
	case "endsWith":
		return append(out, boolNode(strings.HasSuffix(s, arg))), nil
	case "contains":
		return append(out, boolNode(strings.Contains(s, arg))), nil
	case "indexOf":
		i := strings.Index(s, arg)
		if i > 0 {
			i = utf8.RuneCountInString(s[:i])
		}
		return append(out, intNode(i)), nil
	}
	// replace(pattern, substitution): every occurrence, literally.
	sub, ok, err := c.stringArg(e.args[1], e.name, e.off)
	if err != nil || !ok {
		return out, err
	}
	return append(out, strNode(strings.ReplaceAll(s, arg, sub))), nil
}

// substring is substring(start [, length]): empty when start is outside
// the string, the rest of the string without a length.
func (e *stringFunc) substring(c *ctx, s string, out []Node) ([]Node, error) {
	start, ok, err := c.intArg(e.args[0], e.name, e.off)
	if err != nil || !ok {
		return out, err
	}
	n := utf8.RuneCountInString(s)
	if start < 0 || start >= n {
		return out, nil
	}
	length := n - start
	if len(e.args) == 2 {
		l, ok, err := c.intArg(e.args[1], e.name, e.off)
		if err != nil {
			return out, err
		}
		if ok {
			length = max(0, min(l, n-start))
		}
	}
	b := runeOffset(s, start)
	return append(out, strNode(s[b:b+runeOffset(s[b:], length)])), nil
}

// runeOffset is the byte offset of the n-th code point of s.
func runeOffset(s string, n int) int {
	off := 0
	for ; n > 0 && off < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[off:])
		off += size
	}
	return off
}
