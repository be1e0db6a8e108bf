package search

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/store"
)

// Engine compiles searches and extracts index rows with a Registry.
type Engine struct {
	reg  *Registry
	base string // FHIR base URL of this server, e.g. https://dir.example/fhir
}

// NewEngine returns an engine; baseURL is the server's FHIR base, used to
// recognise absolute references to this server.
func NewEngine(reg *Registry, baseURL string) *Engine {
	return &Engine{reg: reg, base: strings.TrimSuffix(baseURL, "/")}
}

// Registry returns the engine's parameters.
func (e *Engine) Registry() *Registry { return e.reg }

// Conditional compiles the criteria of a conditional interaction: search
// parameters only. An empty condition is refused: it would match anything.
func (e *Engine) Conditional(typ string, q url.Values) (*store.Query, error) {
	if len(q) == 0 {
		return nil, badRequest("a conditional interaction needs search criteria")
	}
	where, err := e.Filter(typ, q)
	if err != nil {
		return nil, err
	}
	return &store.Query{Types: []string{typ}, Where: where}, nil
}

// Filter compiles search parameters on typ into one condition: repeated
// parameters AND, comma-separated values OR. Keys are taken in sorted order
// so equal queries compile equally. Its criteria are checked as Compile's
// are.
func (e *Engine) Filter(typ string, q url.Values) (store.Cond, error) {
	if err := checkText(q); err != nil {
		return nil, err
	}
	if err := checkCost(q); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var and []store.Cond
	for _, k := range keys {
		for _, v := range q[k] {
			c, err := e.term(typ, k, v, 0)
			if err != nil {
				return nil, err
			}
			and = append(and, c)
		}
	}
	if len(and) == 0 {
		return store.And{}, nil // no parameter: anything (as before)
	}
	return store.AllOf(and...), nil
}

// FilterLenient is Filter under Prefer: handling=lenient, as a lenient
// search compiles its parameters: a term the engine does not support (an
// unknown parameter, a chain through one) is left out rather than
// refusing the query. It returns the terms kept, which Filter compiles,
// and why each other was left out; a supported term that is invalid (a
// malformed value, a modifier the parameter does not take) still refuses
// the query.
func (e *Engine) FilterLenient(typ string, q url.Values) (kept url.Values, ignored []string, err error) {
	kept = url.Values{}
	for _, k := range sortedKeys(q) {
		for _, v := range q[k] {
			if _, err := e.term(typ, k, v, 0); err != nil {
				if !isNotSupported(err) {
					return nil, nil, err
				}
				ignored = append(ignored, err.Error())
				continue
			}
			kept[k] = append(kept[k], v)
		}
	}
	return kept, ignored, nil
}

// FilterAny compiles alternative queries on typ into one condition that
// any of them satisfies, leaving out the ones that do not compile; nil
// when none does. For conditions checked when they were granted (the
// queries of SMART v2 scopes): one that no longer compiles grants nothing.
func (e *Engine) FilterAny(typ string, alts []url.Values) store.Cond {
	var or []store.Cond
	for _, q := range alts {
		if c, err := e.Filter(typ, q); err == nil {
			or = append(or, c)
		}
	}
	return store.AnyOf(or...)
}

// maxChainDepth bounds chains and nested _has.
const maxChainDepth = 4

// term compiles one key=value pair on typ.
func (e *Engine) term(typ, key, value string, depth int) (store.Cond, error) {
	if depth > maxChainDepth {
		return nil, badParam(key, "chains and _has nest at most %d deep", maxChainDepth)
	}
	if strings.HasPrefix(key, "_has:") {
		return e.has(typ, key, value, depth)
	}
	name, rest, chained := strings.Cut(key, ".")
	code, modifier, _ := strings.Cut(name, ":")
	if chained {
		return e.chain(typ, key, code, modifier, rest, value, depth)
	}
	switch code {
	case "_id":
		if modifier != "" {
			return nil, badParam(key, "no modifiers are supported on _id")
		}
		var ids []string
		for _, alt := range splitValues(value, false) {
			ids = append(ids, alt[0])
		}
		if len(ids) == 0 {
			return nil, badParam(key, "empty value")
		}
		return store.IDIs{IDs: ids}, nil
	case "_lastUpdated":
		if modifier != "" {
			return nil, badParam(key, "no modifiers are supported on _lastUpdated")
		}
		return orOf(key, value, false, func(v []string) (store.Cond, error) { return lastUpdated(v[0]) })
	}
	p := e.reg.Lookup(typ, code)
	if p == nil {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "unknown search parameter %q for %s", code, typ)
	}
	if modifier == "missing" {
		return missing(p, key, value)
	}
	switch p.Type {
	case TypeString:
		return e.stringTerm(p, key, modifier, value)
	case TypeToken:
		return e.tokenTerm(p, key, modifier, value)
	case TypeReference:
		return e.refTerm(p, key, modifier, value)
	case TypeDate:
		if modifier != "" {
			return nil, badParam(key, "modifier :%s is not supported on date parameters", modifier)
		}
		return orOf(key, value, false, func(v []string) (store.Cond, error) { return dateTerm(p, v[0]) })
	case TypeNumber, TypeQuantity:
		if modifier != "" {
			return nil, badParam(key, "modifier :%s is not supported on %s parameters", modifier, p.Type)
		}
		return orOf(key, value, p.Type == TypeQuantity, func(v []string) (store.Cond, error) { return numberTerm(p, v) })
	case TypeURI:
		return e.uriTerm(p, key, modifier, value)
	case TypeSpecial:
		if modifier != "" {
			return nil, badParam(key, "modifier :%s is not supported on %s", modifier, code)
		}
		return orOf(key, value, true, func(v []string) (store.Cond, error) { return nearTerm(p, v) })
	}
	return nil, badParam(key, "parameters of type %s are not supported", p.Type)
}

func (e *Engine) stringTerm(p *Param, key, modifier, value string) (store.Cond, error) {
	mode := store.StringPrefix
	switch modifier {
	case "":
	case "exact":
		mode = store.StringExact
	case "contains":
		mode = store.StringContains
	default:
		return nil, badParam(key, "modifier :%s is not supported on string parameters", modifier)
	}
	return orOf(key, value, false, func(parts []string) (store.Cond, error) {
		v := truncate(parts[0], maxIndexedLen)
		if mode == store.StringExact {
			return store.StringMatch{Param: p.ID, Mode: mode, Value: v, Norm: truncate(Normalize(v), maxIndexedLen)}, nil
		}
		return store.StringMatch{Param: p.ID, Mode: mode, Value: truncate(Normalize(v), maxIndexedLen)}, nil
	})
}

func (e *Engine) tokenTerm(p *Param, key, modifier, value string) (store.Cond, error) {
	switch modifier {
	case "", "not":
		c, err := orOf(key, value, true, func(v []string) (store.Cond, error) { return tokenMatch(p.ID, key, v) })
		if err != nil || modifier == "" {
			return c, err
		}
		return store.Not{X: c}, nil
	case "text":
		return orOf(key, value, false, func(v []string) (store.Cond, error) {
			return store.StringMatch{Param: p.textID(), Mode: store.StringPrefix, Value: Normalize(v[0])}, nil
		})
	case "of-type":
		return orOf(key, value, true, func(parts []string) (store.Cond, error) {
			if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
				return nil, badParam(key, ":of-type takes system|code|value, got %q", strings.Join(parts, "|"))
			}
			sys, code := parts[0], parts[1]+"|"+parts[2]
			return store.TokenMatch{Param: p.ofTypeID(), System: &sys, Code: &code}, nil
		})
	default:
		return nil, badParam(key, "modifier :%s is not supported on token parameters", modifier)
	}
}

// tokenMatch builds a match from system|code, |code, system| or code.
func tokenMatch(param int64, key string, parts []string) (store.Cond, error) {
	switch len(parts) {
	case 1:
		if parts[0] == "" {
			return nil, badParam(key, "empty value")
		}
		return store.TokenMatch{Param: param, Code: &parts[0]}, nil
	case 2:
		m := store.TokenMatch{Param: param, System: &parts[0]}
		if parts[1] != "" {
			m.Code = &parts[1]
		} else if parts[0] == "" {
			return nil, badParam(key, "empty value")
		}
		return m, nil
	}
	return nil, badParam(key, "a token is system|code, |code, system| or code; got %q", strings.Join(parts, "|"))
}

func (e *Engine) refTerm(p *Param, key, modifier, value string) (store.Cond, error) {
	switch {
	case modifier == "identifier":
		return orOf(key, value, true, func(v []string) (store.Cond, error) { return tokenMatch(p.identifierID(), key, v) })
	case modifier == "above" || modifier == "below":
		return orOf(key, value, false, func(v []string) (store.Cond, error) { return e.hierarchy(p, key, modifier == "below", v[0]) })
	case modifier == "" || e.reg.Serves(modifier) || slices.Contains(p.Targets, modifier):
		return orOf(key, value, false, func(v []string) (store.Cond, error) { return e.refMatch(p, key, modifier, v[0]) })
	default:
		return nil, badParam(key, "modifier :%s is not supported on reference parameters", modifier)
	}
}

// hierarchy compiles reference:below / :above: a reference to the resource
// or to its descendants / ancestors along its type's partof parameter.
// Only the parameters whose SearchParameter declares the modifier accept
// it, and only targets that have a hierarchy (Organization, Location).
func (e *Engine) hierarchy(p *Param, key string, below bool, v string) (store.Cond, error) {
	mod := "above"
	if below {
		mod = "below"
	}
	if !slices.Contains(p.Modifiers, mod) {
		return nil, badParam(key, "modifier :%s is not defined for %s", mod, p.Code)
	}
	m, err := e.refMatch(p, key, "", v)
	if err != nil {
		return nil, err
	}
	ref, ok := m.(store.RefMatch)
	if !ok || ref.URL != "" {
		return nil, badParam(key, ":%s takes a local reference (Type/id)", mod)
	}
	if ref.Type == "" {
		if len(p.Targets) != 1 {
			return nil, badParam(key, ":%s needs Type/id here: %s refers to %s", mod, p.Code, strings.Join(p.Targets, ", "))
		}
		ref.Type = p.Targets[0]
	}
	partof := e.reg.Lookup(ref.Type, "partof")
	if partof == nil || partof.Type != TypeReference || !slices.Contains(partof.Targets, ref.Type) {
		return nil, badParam(key, ":%s needs a hierarchy; %s has no partof parameter", mod, ref.Type)
	}
	return store.Hierarchy{Param: p.ID, Type: ref.Type, ID: ref.ID, PartOf: partof.ID, Below: below}, nil
}

func (e *Engine) refMatch(p *Param, key, typeModifier, v string) (store.Cond, error) {
	if v == "" {
		return nil, badParam(key, "empty value")
	}
	m := store.RefMatch{Param: p.ID, Type: typeModifier}
	ref, err := fhir.ParseReference(v)
	switch {
	case err == nil && ref.Kind == fhir.RefRelative:
		m.Type, m.ID = ref.Type, ref.ID
	case err == nil && ref.Kind == fhir.RefAbsolute && ref.Type != "" && strings.TrimSuffix(ref.Base, "/") == e.base:
		m.Type, m.ID = ref.Type, ref.ID
	case err == nil && (ref.Kind == fhir.RefAbsolute || ref.Kind == fhir.RefURN):
		m.URL = v
	case fhir.ValidID(v):
		m.ID = v
	default:
		return nil, badParam(key, "%q is not a reference (Type/id, id or an absolute URL)", v)
	}
	if typeModifier != "" && m.Type != typeModifier {
		return nil, badParam(key, "the value names type %s but the modifier names %s", m.Type, typeModifier)
	}
	if m.Type != "" && len(p.Targets) > 0 && !slices.Contains(p.Targets, m.Type) {
		return nil, badParam(key, "%s does not refer to %s (targets: %s)", p.Code, m.Type, strings.Join(p.Targets, ", "))
	}
	return m, nil
}

func (e *Engine) uriTerm(p *Param, key, modifier, value string) (store.Cond, error) {
	mode := store.URIExact
	switch modifier {
	case "":
	case "below":
		mode = store.URIBelow
	case "above":
		mode = store.URIAbove
	default:
		return nil, badParam(key, "modifier :%s is not supported on uri parameters", modifier)
	}
	return orOf(key, value, false, func(v []string) (store.Cond, error) {
		return store.URIMatch{Param: p.ID, Mode: mode, Value: v[0]}, nil
	})
}

// chain compiles name[:Type].rest=value: resources whose reference name
// points to a resource matching rest=value.
func (e *Engine) chain(typ, key, code, typeModifier, rest, value string, depth int) (store.Cond, error) {
	p := e.reg.Lookup(typ, code)
	if p == nil {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "unknown search parameter %q for %s in chain %q", code, typ, key)
	}
	if p.Type != TypeReference {
		return nil, badParam(key, "%s is a %s parameter; only reference parameters chain", code, p.Type)
	}
	targets := p.Targets
	if typeModifier != "" {
		if !slices.Contains(targets, typeModifier) {
			return nil, badParam(key, "%s does not refer to %s", code, typeModifier)
		}
		targets = []string{typeModifier}
	}
	var or store.Or
	var lastErr error
	for _, t := range targets {
		if !e.reg.Serves(t) {
			continue
		}
		where, err := e.term(t, rest, value, depth+1)
		if err != nil {
			lastErr = err
			continue
		}
		or = append(or, store.Chain{Param: p.ID, Types: []string{t}, Where: where})
	}
	switch len(or) {
	case 0:
		if lastErr != nil {
			return nil, lastErr
		}
		return nil, badParam(key, "no target type of %s supports %q", code, rest)
	case 1:
		return or[0], nil
	}
	return or, nil
}

// has compiles _has:Type:param:rest=value: resources referred to by a
// Type whose reference param points here and which matches rest=value.
func (e *Engine) has(typ, key, value string, depth int) (store.Cond, error) {
	parts := strings.SplitN(key, ":", 4)
	if len(parts) != 4 || parts[1] == "" || parts[2] == "" || parts[3] == "" {
		return nil, badParam(key, "_has takes _has:Type:reference-parameter:search-parameter")
	}
	src, refCode, rest := parts[1], parts[2], parts[3]
	if !e.reg.Serves(src) {
		return nil, badParam(key, "%s is not a type this server searches", src)
	}
	p := e.reg.Lookup(src, refCode)
	if p == nil || p.Type != TypeReference {
		return nil, badParam(key, "%s has no reference parameter %q", src, refCode)
	}
	if len(p.Targets) > 0 && !slices.Contains(p.Targets, typ) {
		return nil, badParam(key, "%s.%s does not refer to %s", src, refCode, typ)
	}
	where, err := e.term(src, rest, value, depth+1)
	if err != nil {
		return nil, err
	}
	return store.Has{Type: src, Param: p.ID, Where: where}, nil
}

func missing(p *Param, key, value string) (store.Cond, error) {
	var m bool
	switch value {
	case "true":
		m = true
	case "false":
	default:
		return nil, badParam(key, ":missing takes true or false, got %q", value)
	}
	table := map[ParamType]store.Table{
		TypeString: store.TableString, TypeToken: store.TableToken, TypeReference: store.TableRef,
		TypeDate: store.TableDate, TypeNumber: store.TableNumber, TypeQuantity: store.TableQuantity,
		TypeURI: store.TableURI, TypeSpecial: store.TableCoord,
	}[p.Type]
	return store.Missing{Param: p.ID, Table: table, Missing: m}, nil
}

var prefixes = map[string]store.Comparator{
	"eq": store.Eq, "ne": store.Ne, "gt": store.Gt, "lt": store.Lt, "ge": store.Ge,
	"le": store.Le, "sa": store.Sa, "eb": store.Eb, "ap": store.Ap,
}

// splitPrefix separates a comparison prefix (eq, ge, …) from a value.
func splitPrefix(v string) (store.Comparator, string) {
	if len(v) > 2 {
		if op, ok := prefixes[v[:2]]; ok {
			return op, v[2:]
		}
	}
	return store.Eq, v
}

func dateTerm(p *Param, v string) (store.Cond, error) {
	op, rest := splitPrefix(v)
	lo, hi, err := DateRange(rest)
	if err != nil {
		return nil, badParam(p.Code, "%q is not a date: use a prefix (eq, ne, gt, lt, ge, le, sa, eb, ap) and YYYY, YYYY-MM, YYYY-MM-DD or a dateTime", v)
	}
	return store.DateMatch{Param: p.ID, Op: op, Lo: lo, Hi: hi}, nil
}

func lastUpdated(v string) (store.Cond, error) {
	op, rest := splitPrefix(v)
	lo, hi, err := DateRange(rest)
	if err != nil {
		return nil, badParam("_lastUpdated", "%q is not a date", v)
	}
	return store.LastUpdated{Op: op, Lo: time.UnixMicro(lo).UTC(), Hi: time.UnixMicro(hi).UTC()}, nil
}

func numberTerm(p *Param, parts []string) (store.Cond, error) {
	op, num := splitPrefix(parts[0])
	m := store.NumberMatch{Param: p.ID, Op: op, Quantity: p.Type == TypeQuantity}
	switch len(parts) {
	case 1:
	case 3:
		if parts[1] != "" {
			m.System = &parts[1]
		}
		if parts[2] != "" {
			m.Code = &parts[2]
		}
	default:
		return nil, badParam(p.Code, "a quantity is [prefix]number[|system|code]; got %q", strings.Join(parts, "|"))
	}
	val, lo, hi, err := NumberRange(num)
	if err != nil {
		return nil, badParam(p.Code, "%q is not a number", parts[0])
	}
	m.Value, m.Lo, m.Hi = val, lo, hi
	return m, nil
}

// defaultNearKm is the radius of a near search that gives none.
const defaultNearKm = 50

// nearTerm parses latitude|longitude|distance|unit.
func nearTerm(p *Param, parts []string) (store.Cond, error) {
	v := strings.Join(parts, "|")
	if len(parts) < 2 || len(parts) > 4 {
		return nil, badParam(p.Code, "near takes latitude|longitude[|distance[|unit]], got %q", v)
	}
	lat, err1 := strconv.ParseFloat(parts[0], 64)
	lon, err2 := strconv.ParseFloat(parts[1], 64)
	if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return nil, badParam(p.Code, "near needs a latitude in [-90, 90] and a longitude in [-180, 180], got %q", v)
	}
	km := float64(defaultNearKm)
	if len(parts) >= 3 && parts[2] != "" {
		d, err := strconv.ParseFloat(parts[2], 64)
		if err != nil || d < 0 {
			return nil, badParam(p.Code, "near distance %q is not a non-negative number", parts[2])
		}
		unit := "km"
		if len(parts) == 4 && parts[3] != "" {
			unit = parts[3]
		}
		factor, ok := distanceUnits[unit]
		if !ok {
			return nil, badParam(p.Code, "near distance unit %q is not one of km, m, mi ([mi_i])", unit)
		}
		km = d * factor
	}
	return store.Near{Param: p.ID, Lat: lat, Lon: lon, RadiusKm: km}, nil
}

// distanceUnits are UCUM length units (and their plain spellings) in km.
var distanceUnits = map[string]float64{
	"km": 1, "[km]": 1, "m": 0.001, "mi": 1.609344, "[mi_i]": 1.609344, "[mi_us]": 1.609347,
}

// orOf compiles a comma-separated list of values into an Or. With pipes,
// each value is further split at unescaped '|' (tokens, quantities, near).
func orOf(key, value string, pipes bool, one func(parts []string) (store.Cond, error)) (store.Cond, error) {
	alts := splitValues(value, pipes)
	if len(alts) == 0 {
		return nil, badParam(key, "empty value")
	}
	var or store.Or
	for _, parts := range alts {
		c, err := one(parts)
		if err != nil {
			return nil, err
		}
		or = append(or, c)
	}
	if len(or) == 1 {
		return or[0], nil
	}
	return or, nil
}

// splitValues splits v into alternatives at unescaped commas and, with
// pipes, each alternative into parts at unescaped '|', in one pass so that
// \, \, \| and \$ each mean their literal character
// (https://hl7.org/fhir/R4/search.html#escaping). Empty alternatives are
// dropped.
func splitValues(v string, pipes bool) [][]string {
	var out [][]string
	var parts []string
	var cur strings.Builder
	flush := func() {
		parts = append(parts, cur.String())
		cur.Reset()
		if len(parts) > 1 || parts[0] != "" {
			out = append(out, parts)
		}
		parts = nil
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v) && strings.IndexByte(`,|$\`, v[i+1]) >= 0:
			cur.WriteByte(v[i+1])
			i++
		case c == ',':
			flush()
		case c == '|' && pipes:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

func badParam(key, format string, args ...any) *fhir.Error {
	return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "search parameter %s: %s", key, fmt.Sprintf(format, args...))
}

func badRequest(format string, args ...any) *fhir.Error {
	return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, format, args...)
}
