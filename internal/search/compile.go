package search

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/store"
)

// Page sizes (_count), and the most resources includes add to a page.
const (
	DefaultCount = 50
	MaxCount     = 1000
	MaxIncluded  = 1000
)

// Plan is a compiled search request.
type Plan struct {
	Query *store.Query
	// Applied holds the parameters the search used, for the Bundle's self
	// link; Ignored says what lenient handling dropped and why.
	Applied url.Values
	Ignored []string
}

// Options shape how a search request is compiled.
type Options struct {
	// Lenient ignores unknown parameters instead of refusing the search
	// (Prefer: handling=lenient).
	Lenient bool
}

// Compile compiles a search over types (one for a type search, the _type
// list or all served types for a system search) from its HTTP parameters.
// Names or values that are not UTF-8 without NUL, and criteria past
// MaxParams or MaxValues, are a 400.
func (e *Engine) Compile(types []string, params url.Values, opt Options) (*Plan, error) {
	if err := checkText(params); err != nil {
		return nil, err
	}
	plan := &Plan{Query: &store.Query{Types: types, Count: DefaultCount, MaxIncluded: MaxIncluded}, Applied: url.Values{}}
	filters := url.Values{}
	firstPage := true
	for _, k := range sortedKeys(params) {
		vs := params[k]
		last := vs[len(vs)-1]
		var err error
		switch k {
		case "_count":
			plan.Query.Count, err = parseCount(last)
		case "_total":
			err = plan.total(last)
		case "_page":
			if plan.Query.After, err = DecodeCursor(last); err != nil {
				return nil, err
			}
			firstPage = false
			continue // not part of the self link
		case "_format", "_pretty", "_type", "_elements":
			continue // handled by the caller
		case "_summary":
			if last == "count" {
				plan.Query.Count, plan.Query.Total = 0, store.TotalAccurate
			}
		case "_sort":
			err = e.sort(plan, types, last, params)
		case "_include", "_include:iterate", "_include:recurse", "_revinclude", "_revinclude:iterate", "_revinclude:recurse":
			err = e.include(plan, types, k, vs)
		case "_contained", "_containedType":
			err = fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "search result parameter %s is not supported", k)
		default:
			filters[k] = vs
			continue
		}
		if err != nil {
			if opt.Lenient && isNotSupported(err) {
				plan.Ignored = append(plan.Ignored, err.Error())
				continue
			}
			return nil, err
		}
		plan.Applied[k] = vs
	}
	if plan.Query.Total == store.TotalNone && firstPage && params.Get("_total") == "" && params.Get("_summary") != "count" {
		// Without _total, count on the first page when that is cheap; later
		// pages reuse it. _total=accurate always counts.
		plan.Query.Total = store.TotalIfCheap
	}
	if err := checkCost(filters); err != nil {
		return nil, err
	}
	where, err := e.filter(types, filters, opt, plan)
	if err != nil {
		return nil, err
	}
	plan.Query.Where = where
	return plan, nil
}

func (p *Plan) total(v string) error {
	switch v {
	case "none":
		p.Query.Total = store.TotalNone
	case "accurate", "estimate":
		// An accurate count is cheap enough on indexed queries to serve
		// for estimate too.
		p.Query.Total = store.TotalAccurate
	default:
		return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "_total=%s: use none, estimate or accurate", v)
	}
	return nil
}

// filter compiles the selecting parameters. A system search over several
// types accepts only parameters common to all resources.
func (e *Engine) filter(types []string, filters url.Values, opt Options, plan *Plan) (store.Cond, error) {
	typ := "Resource"
	if len(types) == 1 {
		typ = types[0]
	}
	var and store.And
	for _, k := range sortedKeys(filters) {
		for _, v := range filters[k] {
			var c store.Cond
			var err error
			if typ == "Resource" {
				c, err = e.commonTerm(types, k, v)
			} else {
				c, err = e.term(typ, k, v, 0)
			}
			if err != nil {
				if opt.Lenient && isNotSupported(err) {
					plan.Ignored = append(plan.Ignored, err.Error())
					continue
				}
				return nil, err
			}
			and = append(and, c)
			plan.Applied[k] = append(plan.Applied[k], v)
		}
	}
	switch len(and) {
	case 0:
		return nil, nil
	case 1:
		return and[0], nil
	}
	return and, nil
}

// commonTerm compiles a parameter of a search across types: _id,
// _lastUpdated and the Resource-level parameters. Parameter ids are per
// type, so the condition is the OR of each type's: an index row of one
// type's parameter can only match a resource of that type.
func (e *Engine) commonTerm(types []string, key, value string) (store.Cond, error) {
	code, _, _ := strings.Cut(strings.SplitN(key, ".", 2)[0], ":")
	if code == "_id" || code == "_lastUpdated" {
		return e.term("Resource", key, value, 0)
	}
	if len(types) == 0 {
		types = e.reg.Types()
	}
	var or store.Or
	for _, t := range types {
		p := e.reg.Lookup(t, code)
		if p == nil || !p.common {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported,
				"a search across types supports only parameters common to all resources (_id, _lastUpdated, _tag, _profile, _security, _source), not %q", code)
		}
		c, err := e.term(t, key, value, 0)
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

func isNotSupported(err error) bool {
	var fe *fhir.Error
	return errors.As(err, &fe) && len(fe.Issues) > 0 && fe.Issues[0].Code == fhir.IssueNotSupported
}

func parseCount(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "_count %q is not a non-negative integer", v)
	}
	return min(n, MaxCount), nil
}

func sortedKeys(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// EncodeCursor makes the opaque _page token of a search page: the row id
// and the sort key values of the page's last match, as tagged JSON.
func EncodeCursor(c *store.Cursor) string {
	keys := make([]any, len(c.Keys))
	for i, k := range c.Keys {
		switch x := k.(type) {
		case string:
			keys[i] = map[string]any{"s": x}
		case int64:
			keys[i] = map[string]any{"i": strconv.FormatInt(x, 10)}
		case float64:
			keys[i] = map[string]any{"f": x}
		default:
			keys[i] = nil
		}
	}
	data, _ := json.Marshal(map[string]any{"r": c.RowID, "k": keys})
	return base64.RawURLEncoding.EncodeToString(data)
}

// DecodeCursor reads a _page token.
func DecodeCursor(s string) (*store.Cursor, error) {
	bad := fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "_page %q is not a page token this server issued", s)
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var raw struct {
		R int64                        `json:"r"`
		K []map[string]json.RawMessage `json:"k"`
	}
	if err := json.Unmarshal(data, &raw); err != nil || raw.R <= 0 {
		return nil, bad
	}
	c := &store.Cursor{RowID: raw.R}
	for _, k := range raw.K {
		v, err := cursorKey(k)
		if err != nil {
			return nil, bad
		}
		c.Keys = append(c.Keys, v)
	}
	return c, nil
}

func cursorKey(k map[string]json.RawMessage) (any, error) {
	if k == nil {
		return nil, nil
	}
	if raw, ok := k["s"]; ok {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	if raw, ok := k["i"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return strconv.ParseInt(s, 10, 64)
	}
	if raw, ok := k["f"]; ok {
		var f float64
		err := json.Unmarshal(raw, &f)
		return f, err
	}
	return nil, errors.New("unknown cursor key")
}

// String describes a plan for logs.
func (p *Plan) String() string { return fmt.Sprintf("%v %s", p.Query.Types, p.Applied.Encode()) }
