package fhirpath

import (
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// convertFunc is toX() and convertsToX() (N1 "Conversion"): one item in,
// the converted value (or whether there is one) out; empty in, empty out;
// more than one item is an error.
type convertFunc struct {
	to     string // Boolean, Integer, Decimal, String, Date, DateTime, Time
	probes bool   // convertsToX
	off    int
}

func buildConvert(x *ast, _ *typeInfo) (evaluator, *typeInfo, error) {
	to, probes := strings.CutPrefix(x.name, "convertsTo")
	if !probes {
		to = strings.TrimPrefix(x.name, "to")
	}
	return &convertFunc{to: to, probes: probes, off: x.off}, nil, nil
}

func (e *convertFunc) eval(_ *ctx, in, out []Node) ([]Node, error) {
	switch {
	case len(in) == 0:
		return out, nil
	case len(in) > 1:
		return out, errorf(e.off, "conversion of %d items, want one", len(in))
	}
	n, ok := convert(&in[0], e.to)
	if e.probes {
		return append(out, boolNode(ok)), nil
	}
	if ok {
		out = append(out, n)
	}
	return out, nil
}

// convert converts one item to a System type per the N1 conversion table.
func convert(n *Node, to string) (Node, bool) {
	k := kindOf(n)
	if k == kNone {
		return Node{}, false
	}
	switch to {
	case "Boolean":
		return toBoolean(n, k)
	case "Integer":
		return toInteger(n, k)
	case "Decimal":
		return toDecimal(n, k)
	case "String":
		return toStringNode(n, k)
	case "Date", "DateTime":
		s, ok := n.Value.(string)
		if !ok || k == kTime {
			return Node{}, false
		}
		d, ok := parseDateTime(s)
		switch {
		case !ok:
			return Node{}, false
		case to == "Date" && d.prec > precDay:
			s, _, _ = strings.Cut(s, "T")
		case to == "Date":
			s = strings.TrimSuffix(s, "T")
		}
		return Node{Value: s, Type: "System." + to}, true
	default: // Time
		s, ok := n.Value.(string)
		if !ok || k != kTime && k != kString {
			return Node{}, false
		}
		if _, ok := parseTime(s); !ok {
			return Node{}, false
		}
		return Node{Value: s, Type: "System.Time"}, true
	}
}

func toBoolean(n *Node, k vkind) (Node, bool) {
	switch k {
	case kBool:
		return boolNode(n.Value.(bool)), true
	case kInteger, kDecimal:
		switch num := n.Value.(jsontree.Number); {
		case decimalEqual(num, "1"):
			return boolNode(true), true
		case decimalEqual(num, "0"):
			return boolNode(false), true
		}
	case kString:
		switch strings.ToLower(n.Value.(string)) {
		case "true", "t", "yes", "y", "1", "1.0":
			return boolNode(true), true
		case "false", "f", "no", "n", "0", "0.0":
			return boolNode(false), true
		}
	}
	return Node{}, false
}

func toInteger(n *Node, k vkind) (Node, bool) {
	switch k {
	case kBool:
		if n.Value.(bool) {
			return intNode(1), true
		}
		return intNode(0), true
	case kInteger:
		return Node{Value: n.Value, Type: "System.Integer"}, true
	case kString:
		s := n.Value.(string)
		body := strings.TrimLeft(s, "+-")
		if len(s)-len(body) > 1 || body == "" || digits(body) != len(body) {
			return Node{}, false
		}
		body = strings.TrimLeft(body, "0")
		if body == "" {
			return intNode(0), true
		}
		if s[0] == '-' {
			body = "-" + body
		}
		return Node{Value: jsontree.Number(body), Type: "System.Integer"}, true
	}
	return Node{}, false
}

func toDecimal(n *Node, k vkind) (Node, bool) {
	switch k {
	case kBool:
		if n.Value.(bool) {
			return Node{Value: jsontree.Number("1.0"), Type: "System.Decimal"}, true
		}
		return Node{Value: jsontree.Number("0.0"), Type: "System.Decimal"}, true
	case kInteger, kDecimal:
		return Node{Value: n.Value, Type: "System.Decimal"}, true
	case kString:
		s := n.Value.(string)
		body := strings.TrimLeft(s, "+-")
		ip, fp, dot := strings.Cut(body, ".")
		if len(s)-len(body) > 1 || ip == "" || digits(ip) != len(ip) || dot && (fp == "" || digits(fp) != len(fp)) {
			return Node{}, false
		}
		return Node{Value: jsontree.Number(strings.TrimPrefix(s, "+")), Type: "System.Decimal"}, true
	}
	return Node{}, false
}

// toStringNode writes a value as N1 "toString" does: numbers as written,
// booleans as true/false, dates and times without the @ and T of a
// literal, a quantity as value 'unit'.
func toStringNode(n *Node, k vkind) (Node, bool) {
	switch k {
	case kBool:
		if n.Value.(bool) {
			return strNode("true"), true
		}
		return strNode("false"), true
	case kInteger, kDecimal:
		return strNode(string(n.Value.(jsontree.Number))), true
	case kTime:
		return strNode(strings.TrimPrefix(n.Value.(string), "T")), true
	case kString, kDate, kDateTime:
		return strNode(n.Value.(string)), true
	case kQuantity:
		q := n.Value.(*jsontree.Object)
		v, _ := q.Get("value")
		num, ok := v.(jsontree.Number)
		if !ok {
			return Node{}, false
		}
		unit, ok := q.String("code")
		if !ok {
			unit, _ = q.String("unit")
		}
		if unit == "" {
			unit = "1"
		}
		return strNode(string(num) + " '" + unit + "'"), true
	}
	return Node{}, false
}

// clockFunc is now() and today() (N1 "Utility"), from the system clock.
type clockFunc struct{ today bool }

func buildClock(x *ast, _ *typeInfo) (evaluator, *typeInfo, error) {
	return clockFunc{today: x.name == "today"}, nil, nil
}

func (e clockFunc) eval(_ *ctx, _, out []Node) ([]Node, error) {
	now := time.Now()
	if e.today {
		return append(out, Node{Value: now.Format("2006-01-02"), Type: "System.Date"}), nil
	}
	return append(out, Node{Value: now.Format("2006-01-02T15:04:05.000Z07:00"), Type: "System.DateTime"}), nil
}

// unsupportedEval is memberOf() and conformsTo(): on an empty
// focus the answer is empty whatever the rules; otherwise evaluation stops
// with ErrUnsupported, so a validator can report the invariant as not
// checked instead of guessing.
type unsupportedEval struct {
	name string
	off  int
}

func buildUnsupported(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	for _, a := range x.args {
		if _, _, err := compile(a, nil); err != nil {
			return nil, nil, err
		}
	}
	return &unsupportedEval{name: x.name, off: x.off}, nil, nil
}

func (e *unsupportedEval) eval(_ *ctx, in, out []Node) ([]Node, error) {
	if len(in) == 0 {
		return out, nil
	}
	return out, &Error{Offset: e.off, Msg: e.name + "() cannot be evaluated", Err: ErrUnsupported}
}
