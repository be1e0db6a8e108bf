package bulk

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// Spec is what a job exports, decided at kick-off and stored with the job
// (store.ExportJob.Request), so that whichever node runs it needs nothing
// else.
type Spec struct {
	// Request is the kick-off URL (without a POST body's parameters).
	Request string `json:"request"`
	// Since, when set, keeps resources changed at or after it, and lists
	// the deletions since then.
	Since time.Time  `json:"since,omitzero"`
	Types []TypeSpec `json:"types"`
	// Elements are the _elements entries, each "name" (every type) or
	// "Type.name".
	Elements []string `json:"elements,omitempty"`
	// Notes say what a lenient kick-off left out; they become the job's
	// error file (OperationOutcome lines).
	Notes []string `json:"notes,omitempty"`
	// Viewer is who started the job, as usage restrictions see it: the
	// export holds what it may see (nil: only unrestricted data).
	Viewer *interaction.Viewer `json:"viewer,omitempty"`
}

// TypeSpec is one exported type: its resources must match one of Filters
// (the _typeFilter queries; none: all) and one of Scope (the conditions of
// the caller's query-filtered scopes; none: unconditional).
type TypeSpec struct {
	Type    string   `json:"type"`
	Filters []string `json:"filters,omitempty"`
	// Scoped is set when the caller reads typ only under conditions.
	Scoped bool     `json:"scoped,omitempty"`
	Scope  []string `json:"scope,omitempty"`
}

// Output formats accepted in _outputFormat: the same NDJSON by its names.
var outputFormats = []string{"application/fhir+ndjson", "application/ndjson", "ndjson"}

// kickoffParams are the parameters this server understands.
var kickoffParams = []string{"_outputFormat", "_since", "_type", "_typeFilter", "_elements"}

// maxKickoffBody bounds a POST kick-off's Parameters resource.
const maxKickoffBody = 1 << 20

// maxListed bounds the types, filters and elements one kick-off may list
// (far more than a directory has; it keeps parsing cheap for any input).
const maxListed = 200

// parseKickoff reads a kick-off request into a Spec. typ is the type of a
// type-level kick-off ("" at system level).
func (s *Service) parseKickoff(r *http.Request, typ string, acc *interaction.Access) (*Spec, error) {
	prefer := interaction.ParsePrefer(r.Header.Values("Prefer"))
	if !prefer.Async {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "$export runs asynchronously: send the header Prefer: respond-async")
	}
	if err := checkAccept(r.Header.Get("Accept")); err != nil {
		return nil, err
	}
	params, err := kickoffValues(r)
	if err != nil {
		return nil, err
	}
	spec := &Spec{Request: s.cfg.FHIRBase + strings.TrimPrefix(r.URL.Path, "/fhir")}
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		spec.Request += "?" + r.URL.RawQuery
	}
	lenient := prefer.Lenient()
	for _, k := range slices.Sorted(mapsKeys(params)) {
		if !slices.Contains(kickoffParams, k) {
			if !lenient {
				return nil, badParam("parameter %s is not supported by this server's $export (supported: %s); send Prefer: handling=lenient to have it ignored", k, strings.Join(kickoffParams, ", "))
			}
			spec.Notes = append(spec.Notes, fmt.Sprintf("parameter %s is not supported and was ignored", k))
		}
	}
	for _, f := range params["_outputFormat"] {
		if !slices.Contains(outputFormats, f) {
			return nil, badParam("_outputFormat %s is not supported: use application/fhir+ndjson", quote(f))
		}
	}
	if err := s.parseSince(spec, params["_since"]); err != nil {
		return nil, err
	}
	types, err := s.parseTypes(spec, typ, params["_type"], lenient, acc)
	if err != nil {
		return nil, err
	}
	if !spec.Since.IsZero() {
		for _, t := range spec.Types {
			if t.Scoped {
				spec.Notes = append(spec.Notes, fmt.Sprintf("deletions of %s are not listed: the access token reads %s only under conditions, which a deleted resource cannot be checked against", t.Type, t.Type))
			}
		}
	}
	if err := s.parseTypeFilters(spec, types, params["_typeFilter"], lenient); err != nil {
		return nil, err
	}
	if err := parseElements(spec, params["_elements"]); err != nil {
		return nil, err
	}
	if spec.Viewer, err = acc.Viewer(r.Context()); err != nil {
		return nil, err
	}
	return spec, nil
}

func mapsKeys(m url.Values) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkAccept accepts the OperationOutcome format Bulk Data requires
// (application/fhir+json); an absent Accept or */* is taken to mean it.
func checkAccept(v string) error {
	if v == "" || acceptsOneOf(v, "application/fhir+json", "application/json") {
		return nil
	}
	return fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "Accept %s: $export answers in application/fhir+json", quote(v))
}

// acceptsOneOf reports whether an Accept header allows one of types (or
// anything: */*, application/*).
func acceptsOneOf(accept string, types ...string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == "*/*" || mt == "application/*" || slices.Contains(types, mt) {
			return true
		}
	}
	return false
}

// kickoffValues collects the parameters of a kick-off: the URL's query,
// and for POST a Parameters resource in the body (an empty body is taken
// as no parameters: some clients send the parameters in the URL).
func kickoffValues(r *http.Request) (url.Values, error) {
	params, err := readKickoffValues(r)
	if err != nil {
		return nil, err
	}
	for k, vs := range params {
		for _, v := range append([]string{k}, vs...) {
			if !utf8.ValidString(v) {
				return nil, badParam("parameter %s is not UTF-8", quote(k))
			}
		}
	}
	return params, nil
}

func readKickoffValues(r *http.Request) (url.Values, error) {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badParam("the query string is malformed: %v", err)
	}
	if r.Method != http.MethodPost {
		return params, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxKickoffBody+1))
	if err != nil {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "reading the request body: %v", err)
	}
	if len(body) > maxKickoffBody {
		return nil, fhir.Errorf(http.StatusRequestEntityTooLarge, fhir.IssueTooLong, "the kick-off body is larger than %d bytes", maxKickoffBody)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return params, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		if mt != "application/fhir+json" && mt != "application/json" {
			return nil, fhir.Errorf(http.StatusUnsupportedMediaType, fhir.IssueNotSupported, "a POST kick-off carries a Parameters resource as application/fhir+json, not %s", quote(ct))
		}
	}
	obj, err := jsontree.ParseObject(body)
	if err != nil {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueStructure, "the body is not JSON: %v", err)
	}
	if rt, _ := obj.String("resourceType"); rt != "Parameters" {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "a POST kick-off carries a Parameters resource, not %s", quote(rt))
	}
	list, _ := obj.Get("parameter")
	items, _ := list.([]any)
	for i, it := range items {
		p, _ := it.(*jsontree.Object)
		name, _ := p.String("name")
		val, ok := parameterValue(p)
		if name == "" || !ok {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "Parameters.parameter[%d] needs a name and a value[x] of a primitive type", i).At(fmt.Sprintf("Parameters.parameter[%d]", i))
		}
		params.Add(name, val)
	}
	return params, nil
}

// parameterValue is a Parameters.parameter's primitive value as text.
func parameterValue(p *jsontree.Object) (string, bool) {
	if p == nil {
		return "", false
	}
	for _, m := range p.Members {
		if !strings.HasPrefix(m.Key, "value") {
			continue
		}
		switch v := m.Value.(type) {
		case string:
			return v, true
		case jsontree.Number:
			return string(v), true
		case bool:
			return fmt.Sprint(v), true
		}
	}
	return "", false
}

// parseSince reads _since: a FHIR instant (a time zone is required).
func (s *Service) parseSince(spec *Spec, values []string) error {
	switch len(values) {
	case 0:
		return nil
	case 1:
	default:
		return badParam("_since is given %d times; give it once", len(values))
	}
	t, err := time.Parse(time.RFC3339Nano, values[0])
	if err != nil {
		return badParam("_since %s is not a FHIR instant such as 2026-01-02T03:04:05.678Z (a time zone is required)", quote(values[0]))
	}
	spec.Since = t.UTC()
	return nil
}

// parseTypes decides the exported types: those asked for (_type, or the
// type of a type-level kick-off), or every type served; each must be
// readable by the caller. Types asked for but not served or not readable
// are refused, or left out (and noted) when the request is lenient; when
// no type was asked for, types the caller cannot read are left out.
func (s *Service) parseTypes(spec *Spec, typ string, values []string, lenient bool, acc *interaction.Access) ([]string, error) {
	var asked []string
	seen := map[string]bool{}
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" && !seen[t] {
				seen[t] = true
				asked = append(asked, t)
			}
		}
	}
	if len(asked) > maxListed {
		return nil, badParam("_type names %d types; at most %d", len(asked), maxListed)
	}
	if typ != "" {
		for _, t := range asked {
			if t != typ {
				return nil, badParam("_type names %s, but this kick-off exports %s only", quote(t), typ)
			}
		}
		asked = []string{typ}
	}
	reg := s.cfg.Search.Registry()
	var types []string
	if len(asked) == 0 {
		for _, t := range reg.Types() {
			if acc.MayRead(t) {
				types = append(types, t)
			}
		}
	}
	for _, t := range asked {
		switch {
		case !reg.Serves(t):
			if !lenient {
				return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "_type: %s is not a resource type this server exports (types: %s)", quote(t), strings.Join(reg.Types(), ", "))
			}
			spec.Notes = append(spec.Notes, fmt.Sprintf("_type: %s is not served here and was left out", t))
		case !acc.MayRead(t):
			if !lenient {
				return nil, fhir.Errorf(http.StatusForbidden, fhir.IssueForbidden, "the access token does not allow reading %s; ask for it in the scope or leave it out of _type", t)
			}
			spec.Notes = append(spec.Notes, fmt.Sprintf("_type: the access token does not allow reading %s; it was left out", t))
		default:
			types = append(types, t)
		}
	}
	if len(types) == 0 {
		return nil, fhir.Errorf(http.StatusForbidden, fhir.IssueForbidden, "the access token allows reading none of the types asked for")
	}
	for _, t := range types {
		conds, scoped := acc.ReadConditions(t)
		spec.Types = append(spec.Types, TypeSpec{Type: t, Scoped: scoped, Scope: encodeQueries(conds)})
	}
	return types, nil
}

// parseTypeFilters reads _typeFilter: search queries "Type?params", OR-ed
// per type. Each must compile (unknown parameters and result parameters
// such as _sort are refused); filters on types not exported are ignored,
// as Bulk Data says. Under lenient handling what a query asks that the
// server does not support is ignored and noted instead (typeFilter): the
// rest of the query still filters, and a query with nothing left filters
// nothing, so that its type is exported unfiltered. The export then holds
// more than asked, never less: the spec's reading of a server that
// ignores _typeFilter, and what the note lets a client filter again.
func (s *Service) parseTypeFilters(spec *Spec, types []string, values []string, lenient bool) error {
	n := 0
	unfiltered := map[int]bool{}
	for _, v := range values {
		for _, f := range splitTypeFilters(v) {
			if n++; n > maxListed {
				return badParam("_typeFilter holds more than %d queries", maxListed)
			}
			typ, q, ignored, err := s.typeFilter(f, lenient)
			if err != nil {
				return err
			}
			i := slices.Index(types, typ)
			if len(ignored) > 0 {
				spec.Notes = append(spec.Notes, ignoredNote(f, typ, q, ignored, i >= 0))
			}
			switch {
			case q == nil || i < 0:
			case len(q) == 0:
				unfiltered[i] = true
			default:
				spec.Types[i].Filters = append(spec.Types[i].Filters, q.Encode())
			}
		}
	}
	for i := range unfiltered {
		spec.Types[i].Filters = nil
	}
	return nil
}

// typeFilter reads one _typeFilter query. Under lenient handling what
// cannot be applied is left out and said in ignored: a query on a type not
// served (q nil), or the terms the search engine does not support (q holds
// the rest, maybe nothing). A malformed query, or a term that is invalid
// rather than unsupported, is refused either way.
func (s *Service) typeFilter(f string, lenient bool) (typ string, q url.Values, ignored []string, err error) {
	typ, query, ok := strings.Cut(f, "?")
	if !ok || typ == "" {
		return "", nil, nil, badParam("_typeFilter %s: write it as Type?search-parameters, e.g. Practitioner?active=true", quote(f))
	}
	q, err = url.ParseQuery(query)
	if err != nil || len(q) == 0 {
		return "", nil, nil, badParam("_typeFilter %s: the query is malformed or empty", quote(f))
	}
	switch {
	case !s.cfg.Search.Registry().Serves(typ) && lenient:
		return typ, nil, []string{quote(typ) + " is not a resource type served here"}, nil
	case !s.cfg.Search.Registry().Serves(typ):
		return "", nil, nil, badParam("_typeFilter %s: %s is not a resource type served here", quote(f), quote(typ))
	case lenient:
		q, ignored, err = s.cfg.Search.FilterLenient(typ, q)
	default:
		_, err = s.cfg.Search.Filter(typ, q)
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("_typeFilter %s: %w", quote(f), err)
	}
	return typ, q, ignored, nil
}

// ignoredNote says what of _typeFilter query f lenient handling ignored,
// and why, and what of it still applies (kept: the rest of the query; nil
// when none of it is used).
func ignoredNote(f, typ string, kept url.Values, why []string, exported bool) string {
	applied := "the query is not applied"
	switch {
	case kept == nil || !exported:
	case len(kept) == 0:
		applied = fmt.Sprintf("nothing of the query is left, so %s is exported unfiltered", typ)
	default:
		applied = fmt.Sprintf("the query applied is %s?%s", typ, kept.Encode())
	}
	return fmt.Sprintf("_typeFilter %s: %s: ignored; %s", quote(f), strings.Join(why, "; "), applied)
}

// splitTypeFilters splits a _typeFilter value at the commas that start
// another query (a comma followed by Type?); commas inside a query (OR-ed
// values) stay.
func splitTypeFilters(v string) []string {
	var out []string
	start := 0 // where the current query begins in v
	for i := 0; i < len(v); i++ {
		if v[i] == ',' && startsQuery(v[i+1:]) {
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// startsQuery reports whether p begins with "Type?" (a capitalized
// letters-only type name).
func startsQuery(p string) bool {
	if p == "" || p[0] < 'A' || p[0] > 'Z' {
		return false
	}
	for i := 1; i < len(p) && i <= 64; i++ {
		switch c := p[i]; {
		case c == '?':
			return true
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
		default:
			return false
		}
	}
	return false
}

// parseElements checks _elements: each entry names a top-level element of
// every exported type ("name") or of one ("Type.name").
func parseElements(spec *Spec, values []string) error {
	for _, v := range values {
		for e := range strings.SplitSeq(v, ",") {
			e = strings.TrimSpace(e)
			if len(spec.Elements) >= maxListed {
				return badParam("_elements names more than %d elements", maxListed)
			}
			if typ, name, ok := strings.Cut(e, "."); ok {
				if _, err := fhir.ParseElements(typ, name); err != nil {
					return err
				}
			} else {
				valid := false
				for _, t := range spec.Types {
					if _, err := fhir.ParseElements(t.Type, e); err == nil {
						valid = true
					}
				}
				if !valid {
					return badParam("_elements: %s is not an element of any exported type", quote(e))
				}
			}
			spec.Elements = append(spec.Elements, e)
		}
	}
	return nil
}

// elementsFor returns the _elements names that apply to typ (nil: all
// elements).
func (spec *Spec) elementsFor(typ string) []string {
	if len(spec.Elements) == 0 {
		return nil
	}
	var names []string
	for _, e := range spec.Elements {
		t, name, typed := strings.Cut(e, ".")
		if !typed {
			name = e
		}
		if typed && t != typ {
			continue
		}
		if n, err := fhir.ParseElements(typ, name); err == nil {
			names = append(names, n...)
		}
	}
	if names == nil {
		names = []string{"id"} // only mandatory elements remain
	}
	return names
}

func encodeSpec(spec *Spec) ([]byte, error) { return json.Marshal(spec) }

func decodeSpec(b []byte) (*Spec, error) {
	var spec Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, fmt.Errorf("decode export job: %w", err)
	}
	return &spec, nil
}

func badParam(format string, args ...any) error {
	return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, format, args...)
}

// quote shows client input in a message, bounded and escaped.
func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// encodeQueries writes conditions as query strings (a Spec is stored).
func encodeQueries(qs []url.Values) []string {
	var out []string
	for _, q := range qs {
		out = append(out, q.Encode())
	}
	return out
}
