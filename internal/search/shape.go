package search

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/store"
)

// sort compiles _sort: comma-separated keys, each a parameter of the
// searched type, _id, _lastUpdated or near (distance from the near
// parameter's point), descending with a leading "-".
func (e *Engine) sort(plan *Plan, types []string, v string, params url.Values) error {
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		desc := strings.HasPrefix(name, "-")
		name = strings.TrimPrefix(name, "-")
		key := store.SortKey{Desc: desc}
		switch {
		case name == "_id":
			key.Kind = store.SortID
		case name == "_lastUpdated":
			key.Kind = store.SortLastUpdated
		case len(types) != 1:
			return fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "_sort=%s: a search across types sorts by _id or _lastUpdated only", name)
		default:
			p := e.reg.Lookup(types[0], name)
			if p == nil {
				return fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "_sort=%s: unknown search parameter for %s", name, types[0])
			}
			kind, err := sortKind(p, params)
			if err != nil {
				return err
			}
			key.Param, key.Kind = p.ID, kind
			if kind == store.SortNear {
				point, err := nearTerm(p, splitValues(params.Get(p.Code), true)[0])
				if err != nil {
					return err
				}
				n := point.(store.Near)
				key.Near = &n
			}
		}
		plan.Query.Sort = append(plan.Query.Sort, key)
	}
	return nil
}

func sortKind(p *Param, params url.Values) (store.SortKind, error) {
	switch p.Type {
	case TypeString:
		return store.SortString, nil
	case TypeToken:
		return store.SortToken, nil
	case TypeReference:
		return store.SortRef, nil
	case TypeDate:
		return store.SortDate, nil
	case TypeNumber:
		return store.SortNumber, nil
	case TypeQuantity:
		return store.SortQuantity, nil
	case TypeURI:
		return store.SortURI, nil
	case TypeSpecial:
		if len(splitValues(params.Get(p.Code), true)) != 1 {
			return 0, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "_sort=%s needs exactly one %s value to measure from", p.Code, p.Code)
		}
		return store.SortNear, nil
	}
	return 0, fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "_sort=%s: %s parameters do not sort", p.Code, p.Type)
}

// include compiles _include and _revinclude (with :iterate). Each value is
// Source:param[:Target] or a wildcard: Source:* (every reference parameter
// of Source) or * (of the searched types, or for _revinclude every
// parameter of every type that may refer to them). Targets are the ones
// the SearchParameter declares, narrowed by Target.
func (e *Engine) include(plan *Plan, types []string, key string, values []string) error {
	reverse := strings.HasPrefix(key, "_revinclude")
	iterate := strings.HasSuffix(key, ":iterate") || strings.HasSuffix(key, ":recurse")
	for _, v := range values {
		for _, spec := range strings.Split(v, ",") {
			incs, err := e.includeSpec(types, key, strings.TrimSpace(spec), reverse, iterate)
			if err != nil {
				return err
			}
			plan.Query.Includes = append(plan.Query.Includes, incs...)
		}
	}
	return nil
}

func (e *Engine) includeSpec(types []string, key, spec string, reverse, iterate bool) ([]store.Include, error) {
	bad := func(format string, args ...any) error {
		return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "%s=%s: %s", key, spec, fmt.Sprintf(format, args...))
	}
	parts := strings.Split(spec, ":")
	if spec == "*" {
		return e.wildcard(types, reverse, iterate), nil
	}
	if len(parts) < 2 || len(parts) > 3 {
		return nil, bad("use SourceType:parameter[:TargetType]")
	}
	source, code := parts[0], parts[1]
	if !e.reg.Serves(source) {
		return nil, bad("%s is not a type this server searches", source)
	}
	if !reverse && !iterate && len(types) > 0 && !slices.Contains(types, source) {
		return nil, bad("_include names the searched type (%s), or use _include:iterate", strings.Join(types, ", "))
	}
	var params []*Param
	if code == "*" {
		for _, p := range e.reg.Params(source) {
			if p.Type == TypeReference {
				params = append(params, p)
			}
		}
	} else {
		p := e.reg.Lookup(source, code)
		if p == nil || p.Type != TypeReference {
			return nil, bad("%s has no reference parameter %q", source, code)
		}
		params = []*Param{p}
	}
	var target string
	if len(parts) == 3 {
		target = parts[2]
	}
	var out []store.Include
	for _, p := range params {
		targets := p.Targets
		if target != "" {
			if len(targets) > 0 && !slices.Contains(targets, target) {
				if code == "*" {
					continue
				}
				return nil, bad("%s.%s does not refer to %s", source, p.Code, target)
			}
			targets = []string{target}
		}
		if reverse && !iterate && len(types) > 0 && len(targets) > 0 && !overlaps(targets, types) {
			if code == "*" {
				continue
			}
			return nil, bad("%s.%s does not refer to %s", source, p.Code, strings.Join(types, ", "))
		}
		out = append(out, store.Include{Reverse: reverse, Source: source, Param: p.ID, Targets: targets, Iterate: iterate})
	}
	return out, nil
}

// wildcard expands * for the searched types.
func (e *Engine) wildcard(types []string, reverse, iterate bool) []store.Include {
	var out []store.Include
	if !reverse {
		for _, t := range types {
			for _, p := range e.reg.Params(t) {
				if p.Type == TypeReference {
					out = append(out, store.Include{Source: t, Param: p.ID, Targets: p.Targets, Iterate: iterate})
				}
			}
		}
		return out
	}
	for _, src := range e.reg.Types() {
		for _, p := range e.reg.Params(src) {
			if p.Type == TypeReference && (len(p.Targets) == 0 || overlaps(p.Targets, types)) {
				out = append(out, store.Include{Reverse: true, Source: src, Param: p.ID, Targets: p.Targets, Iterate: iterate})
			}
		}
	}
	return out
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
