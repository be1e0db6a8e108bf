package fhir

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// Resource is a parsed, structurally valid FHIR resource.
type Resource struct {
	Type string // resourceType
	ID   string // may be empty (create)
	Obj  *jsontree.Object
}

// ParseResource parses body as JSON and validates it structurally as an R4
// resource (see Validate). Malformed JSON is a 400 naming the line and column;
// a structural problem is a 400 with one issue per problem.
func ParseResource(body []byte) (*Resource, error) {
	return parse(body, jsontree.Limits{}, Validate)
}

// ParseResourceWith is ParseResource within lim: a body holding more JSON
// values than lim allows is a 413, stopped while it is parsed, and wraps
// the *jsontree.LimitError so that the caller can say how to raise the
// limit.
func ParseResourceWith(body []byte, lim jsontree.Limits) (*Resource, error) {
	return parse(body, lim, Validate)
}

// ParseBundle is ParseResource for a batch or transaction Bundle sent to
// be run: the Bundle is validated by ValidateShell, its entries'
// resources are left to ValidateEntry as each entry runs.
func ParseBundle(body []byte) (*Resource, error) {
	return ParseBundleWith(body, jsontree.Limits{})
}

// ParseBundleWith is ParseBundle within lim (see ParseResourceWith).
func ParseBundleWith(body []byte, lim jsontree.Limits) (*Resource, error) {
	return parse(body, lim, ValidateShell)
}

// ParseObject parses body as one JSON object within lim, without
// validating it as a resource: malformed JSON is a 400 naming the line and
// column, too many values a 413 wrapping the *jsontree.LimitError.
func ParseObject(body []byte, lim jsontree.Limits) (*jsontree.Object, error) {
	obj, err := lim.ParseObject(body)
	if err != nil {
		var se *jsontree.SyntaxError
		var le *jsontree.LimitError
		switch {
		case errors.As(err, &se):
			return nil, Errorf(http.StatusBadRequest, IssueStructure, "%s", se.Error())
		case errors.As(err, &le):
			return nil, Errorf(http.StatusRequestEntityTooLarge, IssueTooCostly, "the resource holds %s, the limit it is held to", le.Error()).Wrap(le)
		}
		return nil, Errorf(http.StatusBadRequest, IssueStructure, "invalid JSON").Wrap(err)
	}
	return obj, nil
}

func parse(body []byte, lim jsontree.Limits, validate func(*jsontree.Object) []Issue) (*Resource, error) {
	obj, err := ParseObject(body, lim)
	if err != nil {
		return nil, err
	}
	if issues := validate(obj); issues != nil {
		return nil, &Error{Status: http.StatusBadRequest, Issues: issues}
	}
	typ, _ := obj.String("resourceType")
	id, _ := obj.String("id")
	return &Resource{Type: typ, ID: id, Obj: obj}, nil
}

// ValidID reports whether s is a valid resource id: 1 to 64 of
// [A-Za-z0-9\-\.] (https://hl7.org/fhir/R4/datatypes.html#id).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// A shape is what the validator knows about objects of one type or backbone
// element: its members by JSON name and its required elements. Shapes are
// built once from package r4 so that validating does one map lookup per
// member and allocates nothing on the way.
type shape struct {
	name     string
	kind     shapeKind
	members  map[string]*member
	required []*member // one member per required element, in definition order
	reqMask  uint64
}

type shapeKind uint8

const (
	kindPlain shapeKind = iota
	kindResource
	kindExtension
	kindReference
	kindElement // a primitive's _name object
)

// member is one JSON member name of a shape.
type member struct {
	jsonName string // "valueString"
	name     string // the element's name in paths: "value"
	choice   string // the type in value.ofType(string); "" for non-choice elements
	typ      string
	elem     *r4.Element
	array    bool
	prim     *primitive // primitive members
	child    *shape     // data type and backbone members
	resource bool       // members holding resources (contained, Bundle.entry.resource)
	// contained marks DomainResource.contained.
	contained bool
	targets   []string // allowed Reference targets; empty means any
	bit       uint64   // the element's bit in the shape's reqMask, if required
}

var (
	shapesOnce     sync.Once
	typeShapes     map[string]*shape
	elemShapes     map[*r4.Element]*shape
	primitives     map[string]*primitive
	extensionShape *shape
	elementShape   *shape
	// entryResource is Bundle.entry.resource, which ValidateShell leaves
	// to ValidateEntry.
	entryResource *member
)

// buildShapes builds the shape of every type and backbone element reachable
// from the R4 resource types.
func buildShapes() {
	typeShapes = map[string]*shape{}
	elemShapes = map[*r4.Element]*shape{}
	primitives = map[string]*primitive{}
	for _, name := range r4.ResourceTypes() {
		typeShape(name)
	}
	extensionShape = typeShape("Extension")
	elementShape = typeShape("Element")
	elementShape.kind = kindElement
	entryResource = typeShapes["Bundle"].members["entry"].child.members["resource"]
}

func typeShape(name string) *shape {
	if s, ok := typeShapes[name]; ok {
		return s
	}
	t := r4.Lookup(name)
	s := &shape{name: name}
	typeShapes[name] = s // before filling: types refer to themselves
	switch {
	case t.Kind == r4.Resource:
		s.kind = kindResource
	case name == "Extension":
		s.kind = kindExtension
	case name == "Reference":
		s.kind = kindReference
	}
	fillShape(s, t.Fields)
	if s.kind == kindResource {
		// Resource.id is typed string in the snapshot, but resource ids
		// follow the id type's rule.
		if m := s.members["id"]; m != nil {
			m.prim = primitiveOf("id")
		}
	}
	return s
}

func elemShape(e *r4.Element) *shape {
	if s, ok := elemShapes[e]; ok {
		return s
	}
	s := &shape{name: e.Path}
	elemShapes[e] = s
	fillShape(s, e.Fields)
	return s
}

func fillShape(s *shape, fields map[string]*r4.Field) {
	s.members = make(map[string]*member, len(fields))
	bits := map[*r4.Element]uint64{}
	for _, jn := range slices.Sorted(maps.Keys(fields)) {
		f := fields[jn]
		e := f.Element
		if e.Max == 0 {
			continue // prohibited
		}
		m := &member{jsonName: jn, name: e.Name, typ: f.Type, elem: e, array: e.IsArray()}
		if e.Choice {
			m.choice = f.Type
		}
		t := r4.Lookup(f.Type)
		switch {
		case e.Fields != nil:
			m.child = elemShape(e)
		case t == nil || t.Kind == r4.Primitive:
			m.prim = primitiveOf(f.Type)
		case t.Kind == r4.Resource:
			m.resource = true
			m.contained = s.kind == kindResource && jn == "contained"
		default:
			m.child = typeShape(f.Type)
		}
		for _, tr := range e.Types {
			if tr.Code == f.Type && f.Type == "Reference" {
				m.targets = tr.Targets
			}
		}
		if e.Min > 0 {
			bit, ok := bits[e]
			if !ok && len(bits) < 64 {
				bit = 1 << len(bits)
				bits[e] = bit
				s.required = append(s.required, m)
				s.reqMask |= bit
			}
			m.bit = bit
		}
		s.members[jn] = m
	}
	slices.SortFunc(s.required, func(a, b *member) int { return a.elem.Order() - b.elem.Order() })
}

// primitive is how values of one primitive type are checked.
type primitive struct {
	name string
	json r4.JSONKind
	// check tests the lexical form; nil when the JSON kind is enough.
	check  func(string) bool
	maxLen int  // in characters; 0 for no limit
	local  bool // uri-like: "#id" points at a contained resource (dom-3)
}

// maxString is the largest string FHIR allows: 1024*1024 characters
// (https://hl7.org/fhir/R4/datatypes.html#string).
const maxString = 1 << 20

func primitiveOf(code string) *primitive {
	if p, ok := primitives[code]; ok {
		return p
	}
	p := &primitive{name: code, json: r4.PrimitiveJSON(code), maxLen: maxString}
	primitives[code] = p
	switch code {
	case "boolean", "decimal":
		// The JSON number grammar jsontree enforces is exactly decimal's
		// regex; booleans have no lexical form beyond the JSON kind.
	case "integer":
		p.check = isInteger
	case "positiveInt":
		p.check = isPositiveInt
	case "unsignedInt":
		p.check = isUnsignedInt
	case "string", "markdown":
		p.check = isString
	case "code":
		p.check = isCode
	case "id":
		p.check = ValidID
	case "uri", "url", "canonical":
		p.check, p.local = isURI, true
	case "date":
		p.check = temporalCheck(tDate)
	case "dateTime":
		p.check = temporalCheck(tDateTime)
	case "instant":
		p.check = temporalCheck(tInstant)
	case "base64Binary":
		p.maxLen = 0 // binary content is bounded by the request size only
		p.check = patternCheck(r4.Lookup(code))
	case "xhtml":
		// Checked by xhtmlProblem.
	default:
		p.check = patternCheck(r4.Lookup(code))
	}
	return p
}

func patternCheck(t *r4.Type) func(string) bool {
	if t == nil || t.Pattern == nil {
		return nil
	}
	return t.Pattern.MatchString
}

// The lexical rules of primitive types that values are checked against on
// every write. The hot ones are written out by hand, each equal to its R4
// regex (the tests hold them to it); the rest use the regex.

// isInteger checks integer: -?(0|[1-9][0-9]*) within 32 bits.
func isInteger(s string) bool {
	return isDigits(strings.TrimPrefix(s, "-")) && fitsInt32(s)
}

// isPositiveInt checks positiveInt: [1-9][0-9]* up to 2^31-1.
func isPositiveInt(s string) bool {
	return isDigits(s) && s != "0" && fitsInt32(s)
}

// isUnsignedInt checks unsignedInt: 0|[1-9][0-9]* up to 2^31-1.
func isUnsignedInt(s string) bool {
	return isDigits(s) && fitsInt32(s)
}

// isDigits reports whether s is 0 or digits without a leading zero.
func isDigits(s string) bool {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func fitsInt32(s string) bool {
	_, err := strconv.ParseInt(s, 10, 32)
	return err == nil
}

// isString checks string and markdown: [ \r\n\t\S]+, which in Go's regexp
// syntax excludes only the form feed.
func isString(s string) bool {
	return s != "" && strings.IndexByte(s, '\f') < 0
}

// isCode checks code: [^\s]+(\s[^\s]+)*, words split by single whitespace.
func isCode(s string) bool {
	if s == "" {
		return false
	}
	prevSpace := true // no leading whitespace
	for i := 0; i < len(s); i++ {
		sp := isRegexpSpace(s[i])
		if sp && prevSpace {
			return false
		}
		prevSpace = sp
	}
	return !prevSpace
}

// isURI checks uri, url and canonical: \S*.
func isURI(s string) bool {
	for i := 0; i < len(s); i++ {
		if isRegexpSpace(s[i]) {
			return false
		}
	}
	return true
}

// isRegexpSpace is Go regexp's \s: [\t\n\f\r ].
func isRegexpSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// The temporal types' forms: a date is YYYY, YYYY-MM or YYYY-MM-DD; a
// dateTime may add a time with a zone to a full date; an instant must.
const (
	tDate = iota
	tDateTime
	tInstant
)

// temporalCheck returns the check of date, dateTime or instant: its regex
// written out, plus that the day exists (the regex allows 2019-02-30).
func temporalCheck(form int) func(string) bool {
	return func(s string) bool { return isTemporal(s, form) }
}

func isTemporal(s string, form int) bool {
	n := len(s)
	switch {
	case n < 4 || !allDigits(s[:4]) || s[:4] == "0000":
		return false
	case n == 4 || n == 7:
		return form != tInstant && (n == 4 || s[4] == '-' && isMonth(s[5:7]))
	case n < 10 || s[4] != '-' || s[7] != '-' || !isMonth(s[5:7]) || !isDay(s[8:10]) || !realDay(s):
		return false
	case n == 10:
		return form != tInstant
	}
	return form != tDate && s[10] == 'T' && isTimeZone(s[11:])
}

// isTimeZone checks hh:mm:ss(.f+)? followed by Z or an offset up to ±14:00.
func isTimeZone(s string) bool {
	if len(s) < 9 || !isClock(s[:8]) {
		return false
	}
	s = s[8:]
	if s[0] == '.' {
		i := 1
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == 1 {
			return false
		}
		s = s[i:]
	}
	if s == "Z" {
		return true
	}
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' || !allDigits(s[1:3]) || !allDigits(s[4:6]) {
		return false
	}
	return s[1:] == "14:00" || (s[1:3] <= "13" && s[4] <= '5')
}

// isClock checks hh:mm:ss with a leap second allowed.
func isClock(s string) bool {
	return s[2] == ':' && s[5] == ':' && allDigits(s[0:2]) && allDigits(s[3:5]) && allDigits(s[6:8]) &&
		s[0:2] <= "23" && s[3] <= '5' && s[6:8] <= "60"
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isMonth(s string) bool { return allDigits(s) && s >= "01" && s <= "12" }

func isDay(s string) bool { return allDigits(s) && s >= "01" && s <= "31" }

// realDay reports whether the YYYY-MM-DD that s starts with, if it has a
// day, is a day of the calendar.
func realDay(s string) bool {
	if len(s) < 10 {
		return true
	}
	y, _ := strconv.Atoi(s[0:4])
	m, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:10])
	return d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// activeContent is what a narrative must not hold: it is shown in browsers
// and must not run code (https://hl7.org/fhir/R4/narrative.html#security).
var activeContent = [...]string{"<script", "<iframe", "<object", "<embed", "<form", "javascript:"}

// xhtmlProblem returns why s is not an acceptable Narrative.div, or "".
func xhtmlProblem(s string) string {
	if !strings.HasPrefix(s, "<div") || len(s) < len("<div>") || !strings.HasSuffix(s, "</div>") {
		return "narrative must be a single <div> element"
	}
	if c := s[len("<div")]; c != '>' && c != ' ' && c != '\t' && c != '\n' && c != '\r' {
		return "narrative must be a single <div> element"
	}
	lower := strings.ToLower(s)
	for _, bad := range activeContent {
		if strings.Contains(lower, bad) {
			return fmt.Sprintf("narrative must not hold active content (%s)", bad)
		}
	}
	if hasEventAttr(lower) {
		return "narrative must not hold active content (an on… event attribute)"
	}
	return ""
}

// hasEventAttr reports whether a tag in the lower-cased markup s has an
// attribute named on…, skipping quoted attribute values.
func hasEventAttr(s string) bool {
	inTag := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case !inTag:
			inTag = c == '<'
		case c == '>':
			inTag = false
		case c == '"' || c == '\'':
			quote = c
		case (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '/') && isEventAttr(s[i+1:]):
			return true
		}
	}
	return false
}

// isEventAttr reports whether s starts with on[a-z]+ and optional space
// before '='.
func isEventAttr(s string) bool {
	if !strings.HasPrefix(s, "on") {
		return false
	}
	i := 2
	for i < len(s) && 'a' <= s[i] && s[i] <= 'z' {
		i++
	}
	if i == 2 {
		return false
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i < len(s) && s[i] == '='
}
