package fhirpath

import "regexp"

// astKind is what a syntax-tree node is.
type astKind uint8

const (
	aIdent    astKind = iota + 1 // name (member, or a type at the root)
	aCall                        // name(args…)
	aInvoke                      // args[0] . args[1] (an aIdent or aCall)
	aIndex                       // args[0] [ args[1] ]
	aString                      // 'text'
	aNumber                      // 12, 1.5
	aBool                        // true, false
	aDateTime                    // @2020-01-01…
	aEmpty                       // {}
	aEnv                         // %name
	aSpecial                     // $this, $index, $total
	aUnary                       // -args[0], +args[0]
	aBinary                      // args[0] op args[1]
	aTypeOp                      // args[0] is/as typ
)

// ast is one node of the syntax tree. off is the byte offset of the token
// that names it, for error messages.
type ast struct {
	kind astKind
	off  int
	name string // identifier, function, operator, literal text, variable, type
	args []*ast
}

// Operator precedences, loosest first (FHIRPath N1 "Operator
// precedence", the order of the grammar's alternatives).
var binaryPrec = map[string]int{
	"implies": 1,
	"or":      2, "xor": 2,
	"and": 3,
	"in":  4, "contains": 4,
	"=": 5, "~": 5, "!=": 5, "!~": 5,
	"<": 6, "<=": 6, ">": 6, ">=": 6,
	"|":  7,
	"is": 8, "as": 8,
	"+": 9, "-": 9, "&": 9,
	"*": 10, "/": 10, "div": 10, "mod": 10,
}

// reserved words cannot name a member without backquotes; the grammar lets
// as, contains, in and is through as identifiers (for .as(T) and the like).
var reserved = map[string]bool{
	"and": true, "or": true, "xor": true, "implies": true, "div": true, "mod": true,
	"true": true, "false": true,
}

// maxDepth bounds nesting so a hostile expression cannot exhaust the stack.
const maxDepth = 100

type parser struct {
	toks  []token
	i     int
	depth int
}

func parse(src string) (*ast, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	x, err := p.expr(1)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, errorf(t.off, "unexpected %s", describe(t))
	}
	return x, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) expect(s string) error {
	if !p.isPunct(s) {
		t := p.peek()
		return errorf(t.off, "expected %q, found %s", s, describe(t))
	}
	p.next()
	return nil
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string literal"
	}
	return "\"" + t.text + "\""
}

// binaryOp returns the operator at the current token, if it is one.
func (p *parser) binaryOp() (string, int) {
	t := p.peek()
	if t.kind != tPunct && t.kind != tIdent {
		return "", 0
	}
	prec, ok := binaryPrec[t.text]
	if !ok {
		return "", 0
	}
	return t.text, prec
}

// expr parses operators binding at least as tightly as minPrec, left to right
// (precedence climbing).
func (p *parser) expr(minPrec int) (*ast, error) {
	if p.depth++; p.depth > maxDepth {
		return nil, errorf(p.peek().off, "expression nested too deeply")
	}
	defer func() { p.depth-- }()
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		op, prec := p.binaryOp()
		if prec == 0 || prec < minPrec {
			return left, nil
		}
		t := p.next()
		if op == "is" || op == "as" {
			typ, err := p.typeSpecifier()
			if err != nil {
				return nil, err
			}
			left = &ast{kind: aTypeOp, off: t.off, name: op, args: []*ast{left, typ}}
			continue
		}
		right, err := p.expr(prec + 1)
		if err != nil {
			return nil, err
		}
		left = &ast{kind: aBinary, off: t.off, name: op, args: []*ast{left, right}}
	}
}

// typeSpecifier parses a qualified identifier (FHIR.Patient, System.String)
// into an aIdent naming the whole of it.
func (p *parser) typeSpecifier() (*ast, error) {
	t := p.next()
	if !isName(t) {
		return nil, errorf(t.off, "expected a type name, found %s", describe(t))
	}
	name := t.text
	for p.isPunct(".") {
		p.next()
		u := p.next()
		if !isName(u) {
			return nil, errorf(u.off, "expected a type name, found %s", describe(u))
		}
		name += "." + u.text
	}
	return &ast{kind: aIdent, off: t.off, name: name}, nil
}

func isName(t token) bool { return t.kind == tQuoted || t.kind == tIdent && !reserved[t.text] }

func (p *parser) unary() (*ast, error) {
	if p.isPunct("-") || p.isPunct("+") {
		t := p.next()
		if p.depth++; p.depth > maxDepth {
			return nil, errorf(t.off, "expression nested too deeply")
		}
		defer func() { p.depth-- }()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if x.kind == aNumber && x.name[0] != '-' {
			if t.text == "-" {
				x.name = "-" + x.name // fold the sign into the literal
			}
			x.off = t.off
			return x, nil
		}
		return &ast{kind: aUnary, off: t.off, name: t.text, args: []*ast{x}}, nil
	}
	x, err := p.term()
	if err != nil {
		return nil, err
	}
	return p.postfix(x)
}

// postfix parses the invocations and indexers following a term.
func (p *parser) postfix(x *ast) (*ast, error) {
	for {
		switch {
		case p.isPunct("."):
			dot := p.next()
			t := p.next()
			if !isName(t) {
				return nil, errorf(t.off, "expected a name after \".\", found %s", describe(t))
			}
			inv, err := p.invocation(t)
			if err != nil {
				return nil, err
			}
			x = &ast{kind: aInvoke, off: dot.off, args: []*ast{x, inv}}
		case p.isPunct("["):
			b := p.next()
			idx, err := p.expr(1)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			x = &ast{kind: aIndex, off: b.off, args: []*ast{x, idx}}
		default:
			return x, nil
		}
	}
}

// invocation parses what follows a name: a call's arguments, or nothing.
func (p *parser) invocation(name token) (*ast, error) {
	if !p.isPunct("(") {
		return &ast{kind: aIdent, off: name.off, name: name.text}, nil
	}
	p.next()
	call := &ast{kind: aCall, off: name.off, name: name.text}
	if p.isPunct(")") {
		p.next()
		return call, nil
	}
	for {
		arg, err := p.expr(1)
		if err != nil {
			return nil, err
		}
		call.args = append(call.args, arg)
		if p.isPunct(")") {
			p.next()
			return call, nil
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
	}
}

var dateTimeRE = regexp.MustCompile(`^(?:\d{4}(?:-\d{2}(?:-\d{2})?)?(T(?:\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?(?:Z|[+-]\d{2}:\d{2})?)?|T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)$`)

func (p *parser) term() (*ast, error) {
	t := p.next()
	switch t.kind {
	case tIdent, tQuoted:
		if t.kind == tIdent && (t.text == "true" || t.text == "false") {
			return &ast{kind: aBool, off: t.off, name: t.text}, nil
		}
		if !isName(t) {
			return nil, errorf(t.off, "unexpected %s", describe(t))
		}
		return p.invocation(t)
	case tString:
		return &ast{kind: aString, off: t.off, name: t.text}, nil
	case tNumber:
		if p.peek().kind == tString || p.peek().kind == tIdent && calendarUnits[p.peek().text] {
			return nil, errorf(t.off, "quantity literals are not supported")
		}
		return &ast{kind: aNumber, off: t.off, name: t.text}, nil
	case tDateTime:
		if !dateTimeRE.MatchString(t.text) {
			return nil, errorf(t.off, "malformed date/time literal @%s", t.text)
		}
		return &ast{kind: aDateTime, off: t.off, name: t.text}, nil
	case tEnv:
		return &ast{kind: aEnv, off: t.off, name: t.text}, nil
	case tSpecial:
		return &ast{kind: aSpecial, off: t.off, name: t.text}, nil
	case tPunct:
		return p.punctTerm(t)
	}
	return nil, errorf(t.off, "unexpected %s", describe(t))
}

// calendarUnits may follow a number to form a quantity (4 days).
var calendarUnits = map[string]bool{
	"year": true, "month": true, "week": true, "day": true, "hour": true, "minute": true,
	"second": true, "millisecond": true, "years": true, "months": true, "weeks": true,
	"days": true, "hours": true, "minutes": true, "seconds": true, "milliseconds": true,
}

func (p *parser) punctTerm(t token) (*ast, error) {
	switch t.text {
	case "(":
		x, err := p.expr(1)
		if err != nil {
			return nil, err
		}
		return x, p.expect(")")
	case "{":
		return &ast{kind: aEmpty, off: t.off}, p.expect("}")
	}
	return nil, errorf(t.off, "unexpected %s", describe(t))
}
