package fhirpath

import (
	"fmt"
	"strings"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// Compile parses and compiles an expression. Errors are *Error, naming the
// offset of the offending construct.
func Compile(src string) (*Expr, error) {
	x, err := parse(src)
	if err != nil {
		return nil, err
	}
	ev, _, err := compile(x, nil)
	if err != nil {
		return nil, err
	}
	return &Expr{src: src, root: ev}, nil
}

// MustCompile is Compile for expressions known to be valid; it panics on
// error.
func MustCompile(src string) *Expr {
	e, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return e
}

// compile turns a syntax-tree node evaluated on a focus of static type in
// (nil: unknown or mixed) into an evaluator, and returns its result's static
// type where one type is certain, so following steps resolve their member
// once here instead of per resource.
func compile(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	switch x.kind {
	case aIdent:
		return compileName(x, in, true)
	case aCall:
		return compileCall(x, in)
	case aInvoke:
		return compileInvoke(x, in)
	case aIndex:
		coll, st, err := compile(x.args[0], in)
		if err != nil {
			return nil, nil, err
		}
		idx, _, err := compile(x.args[1], in)
		return &indexEval{coll: coll, idx: idx, off: x.off}, st, err
	case aString:
		return &literalEval{Node{Value: x.name, Type: "System.String"}}, nil, nil
	case aNumber:
		return compileNumber(x), nil, nil
	case aBool:
		return &literalEval{boolNode(x.name == "true")}, nil, nil
	case aDateTime:
		return compileDateTime(x), nil, nil
	case aEmpty:
		return emptyEval{}, nil, nil
	case aEnv:
		return compileEnv(x)
	case aSpecial:
		return compileSpecial(x, in)
	case aBinary:
		return compileBinary(x, in)
	case aUnary:
		return compileUnary(x, in)
	case aTypeOp:
		return compileTypeOp(x, in)
	}
	return nil, nil, errorf(x.off, "operator %q is not supported", x.name)
}

func compileInvoke(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	left, st, err := compile(x.args[0], in)
	if err != nil {
		return nil, nil, err
	}
	var right evaluator
	if r := x.args[1]; r.kind == aIdent {
		right, st, err = compileName(r, st, false)
	} else {
		right, st, err = compileCall(r, st)
	}
	if err != nil {
		return nil, nil, err
	}
	return &chainEval{left: left, right: right}, st, nil
}

// compileName compiles a name. At the start of a path a type name filters
// the focus by type (Practitioner.name, Resource.id: "A FHIRPath may
// optionally start with a full resource name", FHIR R4 fhirpath.html);
// anywhere else a name is a member. Names that are members of no R4 type
// cannot match anything and are reported, which catches typos in
// SearchParameter data.
func compileName(x *ast, in *typeInfo, atRoot bool) (evaluator, *typeInfo, error) {
	if atRoot && isTypeName(x.name) {
		return &typeFilterEval{spec: typeSpec{name: x.name}}, lookupInfo(x.name), nil
	}
	if !isElementName(x.name) {
		return nil, nil, errorf(x.off, "no R4 type has an element %q", x.name)
	}
	s := &stepEval{name: x.name, static: in}
	if in == nil {
		return s, nil, nil
	}
	s.m = in.member(x.name)
	return s, staticOf(s.m), nil
}

// isTypeName reports whether name is an R4 type that can start a path: type
// names are capitalised, element names never are, so `code` stays a member.
func isTypeName(name string) bool {
	return name != "" && name[0] >= 'A' && name[0] <= 'Z' && r4.Lookup(name) != nil
}

// staticOf is the static type of a member's values, when it has only one.
func staticOf(m *member) *typeInfo {
	if m == nil || len(m.alts) != 1 || m.alts[0].resource {
		return nil
	}
	return m.alts[0].info
}

func compileNumber(x *ast) evaluator {
	typ := "System.Integer"
	if strings.Contains(x.name, ".") {
		typ = "System.Decimal"
	}
	return &literalEval{Node{Value: jsontree.Number(x.name), Type: typ}}
}

func compileDateTime(x *ast) evaluator {
	typ := "System.Date"
	switch {
	case strings.HasPrefix(x.name, "T"):
		typ = "System.Time"
	case strings.Contains(x.name, "T"):
		typ = "System.DateTime"
	}
	return &literalEval{Node{Value: x.name, Type: typ}}
}

// envStrings are the constant environment variables FHIR R4 fhirpath.html
// defines ("Variables").
var envStrings = map[string]string{
	"ucum":  "http://unitsofmeasure.org",
	"sct":   "http://snomed.info/sct",
	"loinc": "http://loinc.org",
}

func compileEnv(x *ast) (evaluator, *typeInfo, error) {
	switch x.name {
	case "resource", "context", "rootResource":
		return envEval{x.name}, nil, nil
	}
	// FHIR R4 fhirpath.html "Variables": %`vs-name` and %`ext-name` are the
	// URLs of HL7's value sets and extensions.
	if name, ok := strings.CutPrefix(x.name, "vs-"); ok && name != "" {
		return &literalEval{Node{Value: "http://hl7.org/fhir/ValueSet/" + name, Type: "System.String"}}, nil, nil
	}
	if name, ok := strings.CutPrefix(x.name, "ext-"); ok && name != "" {
		return &literalEval{Node{Value: "http://hl7.org/fhir/StructureDefinition/" + name, Type: "System.String"}}, nil, nil
	}
	if s, ok := envStrings[x.name]; ok {
		return &literalEval{Node{Value: s, Type: "System.String"}}, nil, nil
	}
	return nil, nil, errorf(x.off, "unknown environment variable %%%s", x.name)
}

func compileSpecial(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	switch x.name {
	case "this":
		return thisEval{}, in, nil
	case "index":
		return indexVarEval{}, nil, nil
	}
	return nil, nil, errorf(x.off, "$%s is not supported", x.name)
}

func compileBinary(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	l, ls, err := compile(x.args[0], in)
	if err != nil {
		return nil, nil, err
	}
	r, rs, err := compile(x.args[1], in)
	if err != nil {
		return nil, nil, err
	}
	switch x.name {
	case "|":
		if ls != rs {
			ls = nil
		}
		return &unionEval{l: l, r: r}, ls, nil
	case "=", "!=":
		return &equalEval{l: l, r: r, neg: x.name == "!="}, nil, nil
	case "~", "!~":
		return &equivEval{l: l, r: r, neg: x.name == "!~"}, nil, nil
	case "<", "<=", ">", ">=":
		return &compareEval{op: x.name, l: l, r: r, off: x.off}, nil, nil
	case "+", "-", "*", "/", "div", "mod":
		return &arithEval{op: x.name, l: l, r: r, off: x.off}, nil, nil
	case "&":
		return &concatEval{l: l, r: r, off: x.off}, nil, nil
	case "in":
		return &memberOfEval{item: l, coll: r, off: x.off}, nil, nil
	case "contains":
		return &memberOfEval{item: r, coll: l, off: x.off}, nil, nil
	case "and", "or", "xor", "implies":
		return &logicEval{op: x.name, l: l, r: r, off: x.off}, nil, nil
	}
	return nil, nil, errorf(x.off, "operator %q is not supported", x.name)
}

func compileUnary(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	operand, _, err := compile(x.args[0], in)
	if err != nil {
		return nil, nil, err
	}
	return &unaryEval{neg: x.name == "-", operand: operand, off: x.off}, nil, nil
}

func compileTypeOp(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	operand, _, err := compile(x.args[0], in)
	if err != nil {
		return nil, nil, err
	}
	spec, err := typeArg(x.args[1])
	if err != nil {
		return nil, nil, err
	}
	ev := &typeOpEval{operand: operand, spec: spec, as: x.name == "as", off: x.off}
	if ev.as {
		return ev, specInfo(spec), nil
	}
	return ev, nil, nil
}

// typeArg reads a type specifier: the operand of is/as, or the argument of
// ofType(), as() and is(), which the grammar parses as a path.
func typeArg(x *ast) (typeSpec, error) {
	name, ok := qualifiedName(x)
	if !ok {
		return typeSpec{}, errorf(x.off, "expected a type name")
	}
	spec, ok := resolveTypeSpec(name)
	if !ok {
		return typeSpec{}, errorf(x.off, "unknown type %q", name)
	}
	return spec, nil
}

func qualifiedName(x *ast) (string, bool) {
	switch x.kind {
	case aIdent:
		return x.name, true
	case aInvoke:
		ns, ok := qualifiedName(x.args[0])
		if !ok || x.args[1].kind != aIdent {
			return "", false
		}
		return ns + "." + x.args[1].name, true
	}
	return "", false
}

func specInfo(spec typeSpec) *typeInfo {
	if spec.system != "" {
		return nil
	}
	return lookupInfo(spec.name)
}

// function describes one supported function: its argument count and how to
// build it. in is the static type of the focus.
type function struct {
	min, max int
	build    func(x *ast, in *typeInfo) (evaluator, *typeInfo, error)
}

var functions map[string]function

func init() {
	// Filled here rather than in the declaration because the builders refer
	// back to compile, which refers to functions.
	functions = map[string]function{
		// Existence and filtering (N1 5.1, 5.2)
		"where":      {1, 1, buildWhere},
		"select":     {1, 1, buildSelect},
		"repeat":     {1, 1, buildRepeat},
		"exists":     {0, 1, buildExists},
		"all":        {1, 1, buildAll},
		"empty":      {0, 0, buildCollFunc},
		"allTrue":    {0, 0, buildCollFunc},
		"anyTrue":    {0, 0, buildCollFunc},
		"allFalse":   {0, 0, buildCollFunc},
		"anyFalse":   {0, 0, buildCollFunc},
		"count":      {0, 0, buildCollFunc},
		"distinct":   {0, 0, buildCollFunc},
		"isDistinct": {0, 0, buildCollFunc},
		"subsetOf":   {1, 1, buildSetFunc},
		"supersetOf": {1, 1, buildSetFunc},
		"ofType":     {1, 1, buildOfType},
		// Subsetting (N1 5.3)
		"single":    {0, 0, buildCollFunc},
		"first":     {0, 0, buildCollFunc},
		"last":      {0, 0, buildCollFunc},
		"tail":      {0, 0, buildCollFunc},
		"skip":      {1, 1, buildSkipTake},
		"take":      {1, 1, buildSkipTake},
		"intersect": {1, 1, buildSetFunc},
		"exclude":   {1, 1, buildSetFunc},
		// Combining (N1 5.4)
		"union":   {1, 1, buildSetFunc},
		"combine": {1, 1, buildSetFunc},
		// Conversion (N1 5.5)
		"iif":                {2, 3, buildIif},
		"toBoolean":          {0, 0, buildConvert},
		"convertsToBoolean":  {0, 0, buildConvert},
		"toInteger":          {0, 0, buildConvert},
		"convertsToInteger":  {0, 0, buildConvert},
		"toDecimal":          {0, 0, buildConvert},
		"convertsToDecimal":  {0, 0, buildConvert},
		"toString":           {0, 0, buildConvert},
		"convertsToString":   {0, 0, buildConvert},
		"toDate":             {0, 0, buildConvert},
		"convertsToDate":     {0, 0, buildConvert},
		"toDateTime":         {0, 0, buildConvert},
		"convertsToDateTime": {0, 0, buildConvert},
		"toTime":             {0, 0, buildConvert},
		"convertsToTime":     {0, 0, buildConvert},
		// String manipulation (N1 5.6)
		"indexOf":        {1, 1, buildStringFunc},
		"substring":      {1, 2, buildStringFunc},
		"startsWith":     {1, 1, buildStringFunc},
		"endsWith":       {1, 1, buildStringFunc},
		"contains":       {1, 1, buildStringFunc},
		"upper":          {0, 0, buildStringFunc},
		"lower":          {0, 0, buildStringFunc},
		"replace":        {2, 2, buildStringFunc},
		"matches":        {1, 2, buildRegexFunc},
		"matchesFull":    {1, 2, buildRegexFunc},
		"replaceMatches": {2, 2, buildRegexFunc},
		"length":         {0, 0, buildStringFunc},
		"toChars":        {0, 0, buildStringFunc},
		// Tree navigation (N1 5.8)
		"children":    {0, 0, buildCollFunc},
		"descendants": {0, 0, buildCollFunc},
		// Utility (N1 5.9)
		"trace": {1, 2, buildTrace},
		"now":   {0, 0, buildClock},
		"today": {0, 0, buildClock},
		// Types (N1 6.3)
		"as": {1, 1, buildTypeFunc},
		"is": {1, 1, buildTypeFunc},
		// FHIR R4 fhirpath.html "Additional functions"
		"not":        {0, 0, buildCollFunc},
		"hasValue":   {0, 0, buildCollFunc},
		"getValue":   {0, 0, buildCollFunc},
		"extension":  {1, 1, buildExtension},
		"resolve":    {0, 0, buildResolve},
		"htmlChecks": {0, 0, buildHTMLChecks},
		"memberOf":   {1, 1, buildUnsupported},
		"conformsTo": {1, 1, buildUnsupported},
	}
}

// compileCall compiles a function applied to the focus.
func compileCall(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	f, ok := functions[x.name]
	if !ok {
		return nil, nil, errorf(x.off, "function %s() is not supported", x.name)
	}
	if len(x.args) < f.min || len(x.args) > f.max {
		return nil, nil, errorf(x.off, "%s() takes %s, got %d", x.name, arity(f), len(x.args))
	}
	return f.build(x, in)
}

func arity(f function) string {
	switch {
	case f.max == 0:
		return "no arguments"
	case f.min == f.max && f.min == 1:
		return "1 argument"
	case f.min == f.max:
		return fmt.Sprintf("%d arguments", f.min)
	}
	return fmt.Sprintf("%d or %d arguments", f.min, f.max)
}

// buildWhere compiles the criteria against the focus's static type: $this
// and root names in it refer to each item in turn.
func buildWhere(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	crit, _, err := compile(x.args[0], in)
	if err != nil {
		return nil, nil, err
	}
	return &whereEval{crit: crit, off: x.off}, in, nil
}

func buildSelect(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	proj, st, err := compile(x.args[0], in)
	if err != nil {
		return nil, nil, err
	}
	return &selectEval{proj: proj}, st, nil
}

func buildExists(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	if len(x.args) == 0 {
		return &existsEval{}, nil, nil
	}
	w, _, err := buildWhere(x, in)
	if err != nil {
		return nil, nil, err
	}
	return &existsEval{where: w.(*whereEval)}, nil, nil
}

func buildCollFunc(x *ast, in *typeInfo) (evaluator, *typeInfo, error) {
	var st *typeInfo
	switch x.name {
	case "first", "last", "tail", "single", "distinct":
		st = in
	}
	return &collFunc{name: x.name, off: x.off}, st, nil
}

func buildOfType(x *ast, _ *typeInfo) (evaluator, *typeInfo, error) {
	spec, err := typeArg(x.args[0])
	if err != nil {
		return nil, nil, err
	}
	return &ofTypeEval{spec: spec}, specInfo(spec), nil
}

func buildTypeFunc(x *ast, _ *typeInfo) (evaluator, *typeInfo, error) {
	spec, err := typeArg(x.args[0])
	if err != nil {
		return nil, nil, err
	}
	ev := &typeOpEval{spec: spec, as: x.name == "as", filter: x.name == "as", off: x.off}
	if ev.as {
		return ev, specInfo(spec), nil
	}
	return ev, nil, nil
}

func buildExtension(x *ast, _ *typeInfo) (evaluator, *typeInfo, error) {
	ext := lookupInfo("Extension")
	if a := x.args[0]; a.kind == aString {
		return &extensionEval{lit: a.name, off: x.off}, ext, nil
	}
	url, _, err := compile(x.args[0], nil)
	if err != nil {
		return nil, nil, err
	}
	return &extensionEval{url: url, off: x.off}, ext, nil
}

func buildResolve(*ast, *typeInfo) (evaluator, *typeInfo, error) {
	return resolveEval{}, nil, nil
}
