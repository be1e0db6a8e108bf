package fhirpath

import (
	"regexp"
	"strconv"
	"strings"
)

// Regular expressions: FHIRPath N1 "matches" asks for PCRE-flavoured
// patterns and FHIRPath.js runs them as JavaScript regular expressions
// with the u and s flags. Go's regexp is RE2, which matches in time linear
// in the input, so a hostile pattern cannot make an evaluation slow;
// translateRegex rewrites the JavaScript spellings RE2 lacks and leaves
// anything RE2 does not have (back-references, look-around) to fail to
// compile, which is a Compile error for a literal pattern and an
// evaluation error otherwise.

// maxPattern bounds a pattern's length; RE2 also bounds repetition counts.
const maxPattern = 4096

// jsSpace is what JavaScript's \s matches beyond ASCII white space.
const jsSpace = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`

// translateRegex turns a JavaScript/PCRE pattern into RE2 syntax: \uXXXX
// and \u{…} become \x{…}, \s and \S take JavaScript's Unicode white space,
// \0 is NUL and [^] (any character) becomes [\s\S]-like (?s:.).
func translateRegex(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			switch e := p[i]; {
			case e == 'u' && i+1 < len(p) && p[i+1] == '{':
				if end := strings.IndexByte(p[i:], '}'); end > 0 {
					b.WriteString(`\x` + p[i+1:i+end+1])
					i += end
					continue
				}
				b.WriteString(`\u`)
			case e == 'u' && i+4 < len(p) && isHex(p[i+1:i+5]):
				b.WriteString(`\x{` + p[i+1:i+5] + `}`)
				i += 4
			case e == 's' && inClass:
				b.WriteString(jsSpace)
			case e == 's':
				b.WriteString("[" + jsSpace + "]")
			case e == 'S' && !inClass:
				b.WriteString("[^" + jsSpace + "]")
			case e == '0' && (i+1 >= len(p) || p[i+1] < '0' || p[i+1] > '9'):
				b.WriteString(`\x00`)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case c == '[' && !inClass && strings.HasPrefix(p[i:], "[^]"):
			b.WriteString(`(?s:.)`)
			i += 2
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// A ] first in a class is a literal in both dialects.
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(s string) bool {
	_, err := strconv.ParseUint(s, 16, 32)
	return err == nil
}

// regexMode is which function a pattern serves.
type regexMode uint8

const (
	reMatches regexMode = iota
	reMatchesFull
	reReplace
)

// compileRegex compiles a FHIRPath pattern with its flags (i, m) for a mode:
// matches finds the pattern anywhere (N1: "partial match", as FHIRPath.js's
// RegExp.test), with . matching new lines; matchesFull must match the
// whole string; replaceMatches runs without s, as FHIRPath.js does.
func compileRegex(pattern, flags string, mode regexMode) (*regexp.Regexp, error) {
	if len(pattern) > maxPattern {
		return nil, errorf(0, "pattern longer than %d bytes", maxPattern)
	}
	var pre strings.Builder
	pre.WriteString("(?")
	if mode != reReplace {
		pre.WriteByte('s')
	}
	for _, f := range flags {
		if f != 'i' && f != 'm' {
			return nil, errorf(0, "unknown regular expression flag %q", f)
		}
		pre.WriteRune(f)
	}
	pre.WriteString(")")
	p := translateRegex(pattern)
	if mode == reMatchesFull {
		p = "^(?:" + p + ")$"
	}
	src := pre.String() + p
	if src[:3] == "(?)" {
		src = src[3:]
	}
	return regexp.Compile(src)
}

// translateReplacement turns a JavaScript replacement ($1, $&, $<name>, $$)
// into Go's Expand syntax, for a regexp with n groups.
func translateReplacement(s string, re *regexp.Regexp) string {
	if !strings.Contains(s, "$") {
		return s
	}
	n := re.NumSubexp()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
			continue
		}
		c := s[i+1]
		switch {
		case c == '$':
			b.WriteString("$$")
			i++
		case c == '&':
			b.WriteString("${0}")
			i++
		case c >= '0' && c <= '9':
			// JavaScript takes two digits when that group exists, else one.
			if i+2 < len(s) && s[i+2] >= '0' && s[i+2] <= '9' {
				if g, _ := strconv.Atoi(s[i+1 : i+3]); g >= 1 && g <= n {
					b.WriteString("${" + s[i+1:i+3] + "}")
					i += 2
					continue
				}
			}
			if g := int(c - '0'); g >= 1 && g <= n {
				b.WriteString("${" + s[i+1:i+2] + "}")
			} else {
				b.WriteString("$$" + s[i+1:i+2])
			}
			i++
		case c == '<':
			if end := strings.IndexByte(s[i:], '>'); end > 0 && re.SubexpIndex(s[i+2:i+end]) >= 0 {
				b.WriteString("${" + s[i+2:i+end] + "}")
				i += end
				continue
			}
			b.WriteString("$$")
		default:
			b.WriteString("$$")
		}
	}
	return b.String()
}

// regexFunc is matches(regex [, flags]), matchesFull(regex [, flags]) and
// replaceMatches(regex, substitution).
type regexFunc struct {
	name        string
	mode        regexMode
	re          *regexp.Regexp // compiled in Compile when the pattern and flags are literals
	pat, flags  evaluator      // else evaluated, then compiled, per call
	subst       evaluator
	off, patOff int
}

func buildRegexFunc(x *ast, _ *typeInfo) (evaluator, *typeInfo, error) {
	e := &regexFunc{name: x.name, off: x.off, patOff: x.args[0].off}
	switch x.name {
	case "matchesFull":
		e.mode = reMatchesFull
	case "replaceMatches":
		e.mode = reReplace
	}
	var err error
	if e.pat, _, err = compile(x.args[0], nil); err != nil {
		return nil, nil, err
	}
	if len(x.args) == 2 {
		ev, _, err := compile(x.args[1], nil)
		if err != nil {
			return nil, nil, err
		}
		if e.mode == reReplace {
			e.subst = ev
		} else {
			e.flags = ev
		}
	}
	flagsLit, flagsOK := "", e.flags == nil
	if !flagsOK && x.args[1].kind == aString {
		flagsLit, flagsOK = x.args[1].name, true
	}
	if x.args[0].kind == aString && flagsOK {
		re, err := compileRegex(x.args[0].name, flagsLit, e.mode)
		if err != nil {
			return nil, nil, errorf(x.args[0].off, "bad regular expression: %s", regexMsg(err))
		}
		e.re = re
	}
	return e, nil, nil
}

func regexMsg(err error) string {
	if fe, ok := err.(*Error); ok {
		return fe.Msg
	}
	return err.Error()
}

func (e *regexFunc) eval(c *ctx, in, out []Node) ([]Node, error) {
	s, ok, err := focusString(in, e.name, e.off)
	if err != nil || !ok {
		return out, err
	}
	re := e.re
	if re == nil {
		pat, ok, err := c.stringArg(e.pat, e.name, e.off)
		if err != nil || !ok {
			return out, err
		}
		flags := "" // empty flags are no flags
		if e.flags != nil {
			if flags, _, err = c.stringArg(e.flags, e.name, e.off); err != nil {
				return out, err
			}
		}
		if re, err = compileRegex(pat, flags, e.mode); err != nil {
			return out, errorf(e.patOff, "bad regular expression: %s", regexMsg(err))
		}
	}
	switch e.mode {
	case reMatches, reMatchesFull:
		return append(out, boolNode(re.MatchString(s))), nil
	}
	sub, ok, err := c.stringArg(e.subst, e.name, e.off)
	if err != nil || !ok {
		return out, err
	}
	return append(out, strNode(re.ReplaceAllString(s, translateReplacement(sub, re)))), nil
}
