package fhirpath

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a compile or evaluation error with the byte offset in the
// expression of the construct it concerns. Err, when set, is the kind of
// error (ErrUnsupported), for errors.Is.
type Error struct {
	Offset int
	Msg    string
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("fhirpath: %s at offset %d", e.Msg, e.Offset) }

// Unwrap returns the kind of error, or nil.
func (e *Error) Unwrap() error { return e.Err }

// ErrUnsupported marks an evaluation that needs what this package does not
// have: memberOf() (a terminology server) and conformsTo() (profiles). A validator reports
// such an invariant as not checked rather than passed or failed.
var ErrUnsupported = errors.New("not supported by this evaluator")

func errorf(off int, format string, args ...any) *Error {
	return &Error{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

type tokKind uint8

const (
	tEOF      tokKind = iota
	tIdent            // name, or a keyword such as and/is/true
	tQuoted           // `delimited identifier`
	tString           // 'string'
	tNumber           // 12, 1.5
	tDateTime         // @2020-01-01, @2020-01-01T10:00Z, @T10:00
	tEnv              // %resource, %`vs-x`
	tSpecial          // $this, $index, $total
	tPunct            // . , ( ) [ ] { } | = != ~ !~ < <= > >= + - * / &
)

// token is one lexeme; text is decoded for strings and quoted names, and has
// no sigil for %, $ and @ tokens.
type token struct {
	kind tokKind
	off  int
	text string
}

// maxTokens bounds an expression's length. Long paths and unions compile to
// left-deep trees walked recursively; the longest R4 SearchParameter
// expression has about 300 tokens.
const maxTokens = 10000

// lex splits src into tokens per the FHIRPath N1 grammar's lexer rules.
func lex(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		if len(toks) == maxTokens {
			return nil, errorf(i, "expression longer than %d tokens", maxTokens)
		}
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '/' && strings.HasPrefix(src[i:], "//"):
			i = skipLine(src, i)
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, errorf(i, "unterminated comment")
			}
			i += end + 4
		default:
			t, n, err := lexToken(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i += n
		}
	}
	return append(toks, token{kind: tEOF, off: len(src)}), nil
}

func skipLine(src string, i int) int {
	if j := strings.IndexByte(src[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(src)
}

// lexToken reads the token starting at src[i] and returns it with its length.
func lexToken(src string, i int) (token, int, error) {
	c := src[i]
	switch {
	case isIdentStart(c):
		n := identLen(src[i:])
		return token{kind: tIdent, off: i, text: src[i : i+n]}, n, nil
	case c >= '0' && c <= '9':
		n := numberLen(src[i:])
		return token{kind: tNumber, off: i, text: src[i : i+n]}, n, nil
	case c == '\'' || c == '`':
		s, n, err := lexQuoted(src, i)
		kind := tString
		if c == '`' {
			kind = tQuoted
		}
		return token{kind: kind, off: i, text: s}, n, err
	case c == '@':
		n := dateTimeLen(src[i+1:])
		if n == 0 {
			return token{}, 0, errorf(i, "malformed date/time literal")
		}
		return token{kind: tDateTime, off: i, text: src[i+1 : i+1+n]}, n + 1, nil
	case c == '%' || c == '$':
		return lexSigil(src, i)
	}
	for _, p := range []string{"!=", "!~", "<=", ">="} {
		if strings.HasPrefix(src[i:], p) {
			return token{kind: tPunct, off: i, text: p}, 2, nil
		}
	}
	if strings.IndexByte(".,()[]{}|=~<>+-*/&", c) >= 0 {
		return token{kind: tPunct, off: i, text: src[i : i+1]}, 1, nil
	}
	r, _ := utf8.DecodeRuneInString(src[i:])
	return token{}, 0, errorf(i, "unexpected character %q", r)
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func identLen(s string) int {
	n := 1
	for n < len(s) && (isIdentStart(s[n]) || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return n
}

// numberLen reads digits and an optional fraction; "1." leaves the dot for
// an invocation, as in 1.toString().
func numberLen(s string) int {
	n := digits(s)
	if n < len(s) && s[n] == '.' && digits(s[n+1:]) > 0 {
		n += 1 + digits(s[n+1:])
	}
	return n
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// dateTimeLen measures a date/time literal body; the shape is checked by
// the parser. A dot belongs to it only before a digit (fractional
// seconds), so @2020-01-02.toString() is an invocation.
func dateTimeLen(s string) int {
	n := 0
	for n < len(s) && strings.IndexByte("0123456789-:T.+Z", s[n]) >= 0 {
		if s[n] == '.' && (n+1 >= len(s) || s[n+1] < '0' || s[n+1] > '9') {
			break
		}
		n++
	}
	return n
}

func lexSigil(src string, i int) (token, int, error) {
	kind := tEnv
	if src[i] == '$' {
		kind = tSpecial
	}
	rest := src[i+1:]
	switch {
	case rest != "" && isIdentStart(rest[0]):
		n := identLen(rest)
		return token{kind: kind, off: i, text: rest[:n]}, n + 1, nil
	case kind == tEnv && rest != "" && (rest[0] == '`' || rest[0] == '\''):
		s, n, err := lexQuoted(src, i+1)
		return token{kind: kind, off: i, text: s}, n + 1, err
	}
	return token{}, 0, errorf(i, "expected a name after %q", src[i])
}

// lexQuoted decodes a '…' string or `…` identifier starting at src[i], with
// the escapes of FHIRPath N1 "String" literals (\' \" \` \\ \/ \f \n \r \t \uXXXX).
func lexQuoted(src string, i int) (string, int, error) {
	q := src[i]
	var b strings.Builder
	for j := i + 1; j < len(src); j++ {
		switch c := src[j]; c {
		case q:
			return b.String(), j + 1 - i, nil
		case '\\':
			n, err := unescape(&b, src, j)
			if err != nil {
				return "", 0, err
			}
			j += n
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errorf(i, "unterminated %c", q)
}

// unescape writes the escape at src[j] (a backslash) and returns how many
// bytes after the backslash it used.
func unescape(b *strings.Builder, src string, j int) (int, error) {
	if j+1 >= len(src) {
		return 0, errorf(j, "unterminated escape")
	}
	switch c := src[j+1]; c {
	case '\'', '"', '`', '\\', '/':
		b.WriteByte(c)
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'u':
		if j+6 > len(src) {
			return 0, errorf(j, "short \\u escape")
		}
		r, err := strconv.ParseUint(src[j+2:j+6], 16, 32)
		if err != nil {
			return 0, errorf(j, "bad \\u escape")
		}
		b.WriteRune(rune(r))
		return 5, nil
	default:
		return 0, errorf(j, "unknown escape \\%c", c)
	}
	return 1, nil
}
