package search

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"

	"github.com/vhdir/vhdir/internal/fhirpath"
	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/r4"
	"github.com/vhdir/vhdir/internal/store"
)

// ParamType is a SearchParameter.type.
type ParamType string

// Search parameter types (http://hl7.org/fhir/search-param-type).
const (
	TypeString    ParamType = "string"
	TypeToken     ParamType = "token"
	TypeReference ParamType = "reference"
	TypeDate      ParamType = "date"
	TypeNumber    ParamType = "number"
	TypeQuantity  ParamType = "quantity"
	TypeURI       ParamType = "uri"
	TypeSpecial   ParamType = "special"
	TypeComposite ParamType = "composite"
)

// Param is one search parameter as it applies to one resource type.
type Param struct {
	Code        string
	Base        string // the resource type it applies to here
	Type        ParamType
	URL         string // the SearchParameter's canonical URL
	Expression  string
	Targets     []string // reference targets; empty: any type
	Modifiers   []string
	Chains      []string
	Comparators []string
	// ID identifies the parameter's index rows: a hash of Base and Code.
	// Every id belongs to one type, so a row group (a set of ids) only ever
	// holds rows of resources of that type.
	ID int64
	// Source is "vhdir" for the IG's parameters, "core" for R4's.
	Source string
	// common marks parameters defined on Resource or DomainResource, which
	// a search across types accepts.
	common bool

	expr *fhirpath.Expr
}

// Derived index-row ids for modifiers that search something other than
// the parameter's own values.
func (p *Param) textID() int64       { return paramID(p.Base, p.Code+":text") }
func (p *Param) ofTypeID() int64     { return paramID(p.Base, p.Code+":of-type") }
func (p *Param) identifierID() int64 { return paramID(p.Base, p.Code+":identifier") }

// Registry holds the search parameters of every type vhdir serves. It is
// built once from data: the IG's SearchParameter resources (with the
// corrections in corrections.json) and the R4 core ones (package r4).
type Registry struct {
	byType map[string]map[string]*Param
	sorted map[string][]*Param // Params' answer, computed once
	// Skipped lists parameters that are defined but not supported, with why.
	Skipped []string
}

// ServedTypes are the resource types vhdir serves over FHIR.
var ServedTypes = []string{
	"CareTeam", "Endpoint", "HealthcareService", "InsurancePlan", "Location", "Organization",
	"OrganizationAffiliation", "Practitioner", "PractitionerRole", "VerificationResult",
	"AuditEvent", "Provenance",
}

// Parameters handled as columns of the resources table, not extracted.
var columnParams = map[string]bool{"_id": true, "_lastUpdated": true}

// unsupported are defined parameters vhdir does not offer, and why; they
// are left out of the registry and so of the CapabilityStatement.
var unsupported = map[string]string{
	"_text":    "no narrative full-text index",
	"_content": "no full-text index",
	"_query":   "no named queries are defined",
	"contains": "GeoJSON boundary containment is not indexed",
}

// notIndexed are parameters of one type vhdir leaves out, and why.
// AuditEvent parameters are answered from the audit store's columns
// (sqlstore/auditsearch.go), kept for what auditors search by: date,
// agent, entity, type, subtype, action, outcome, source, address, policy
// (the token); each column more is written with every request's record.
var notIndexed = map[string]string{
	"AuditEvent?agent-name":  "audit records name agents by identifier and reference (agent), not by name",
	"AuditEvent?agent-role":  "audit records carry no agent.role",
	"AuditEvent?altid":       "audit records carry no agent.altId",
	"AuditEvent?entity-name": "entities are found by reference or identifier (entity)",
	"AuditEvent?entity-role": "kept off the per-request index: every record has the same few roles",
	"AuditEvent?entity-type": "kept off the per-request index: every record has the same few types",
	"AuditEvent?patient":     "a directory holds no Patient",
	"AuditEvent?site":        "every record of an installation has the same site; source finds the server",
}

//go:embed corrections.json
var correctionsJSON []byte

type correction struct {
	ID    string          `json:"id"`
	Field string          `json:"field"`
	From  json.RawMessage `json:"from"`
	To    json.RawMessage `json:"to"`
	Why   string          `json:"why"`
}

type spJSON struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Code        string   `json:"code"`
	Base        []string `json:"base"`
	Type        string   `json:"type"`
	Expression  string   `json:"expression"`
	Target      []string `json:"target"`
	Modifier    []string `json:"modifier"`
	Chain       []string `json:"chain"`
	Comparator  []string `json:"comparator"`
	Status      string   `json:"status"`
	Description string   `json:"description"`
}

// NewRegistry builds the registry.
func NewRegistry() (*Registry, error) {
	r := &Registry{byType: map[string]map[string]*Param{}}
	for _, t := range ServedTypes {
		r.byType[t] = map[string]*Param{}
	}
	igParams, err := loadIG()
	if err != nil {
		return nil, err
	}
	for _, sp := range igParams {
		if err := r.add(sp, "vhdir"); err != nil {
			return nil, err
		}
	}
	for _, raw := range r4.CoreSearchParameters() {
		var sp spJSON
		if err := json.Unmarshal(raw, &sp); err != nil {
			return nil, fmt.Errorf("core search parameter: %w", err)
		}
		if err := r.add(sp, "core"); err != nil {
			return nil, err
		}
	}
	r.sortParams()
	return r, nil
}

func loadIG() ([]spJSON, error) {
	var fixes []correction
	if err := json.Unmarshal(correctionsJSON, &fixes); err != nil {
		return nil, fmt.Errorf("corrections.json: %w", err)
	}
	byID := map[string]*spJSON{}
	var out []spJSON
	for _, f := range ig.Conformance("searchparameter-") {
		var sp spJSON
		if err := json.Unmarshal(f.Data, &sp); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		out = append(out, sp)
	}
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	for _, fx := range fixes {
		sp, ok := byID[fx.ID]
		if !ok {
			return nil, fmt.Errorf("corrections.json: no SearchParameter %q", fx.ID)
		}
		if err := fx.apply(sp); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// apply checks the IG still says what the correction expects, then
// replaces it: a changed IG must be looked at, not silently overridden.
func (fx correction) apply(sp *spJSON) error {
	var field any
	switch fx.Field {
	case "expression":
		field = &sp.Expression
	case "modifier":
		field = &sp.Modifier
	default:
		return fmt.Errorf("corrections.json: %s: cannot correct field %q", fx.ID, fx.Field)
	}
	cur := reflect.ValueOf(field).Elem()
	from := reflect.New(cur.Type())
	if err := json.Unmarshal(fx.From, from.Interface()); err != nil {
		return fmt.Errorf("corrections.json: %s: from: %w", fx.ID, err)
	}
	if !reflect.DeepEqual(normalizeEmpty(cur.Interface()), normalizeEmpty(from.Elem().Interface())) {
		return fmt.Errorf("corrections.json: %s.%s is no longer %s in the IG; review the correction", fx.ID, fx.Field, fx.From)
	}
	to := reflect.New(cur.Type())
	if err := json.Unmarshal(fx.To, to.Interface()); err != nil {
		return fmt.Errorf("corrections.json: %s: to: %w", fx.ID, err)
	}
	cur.Set(to.Elem())
	return nil
}

func normalizeEmpty(v any) any {
	if s, ok := v.([]string); ok && len(s) == 0 {
		return []string(nil)
	}
	return v
}

// add registers sp for each served base type it names, unless that type
// already has the code (the IG's parameters come first and win).
func (r *Registry) add(sp spJSON, source string) error {
	if columnParams[sp.Code] {
		return nil
	}
	for _, base := range sp.Base {
		types := []string{base}
		common := base == "Resource" || base == "DomainResource"
		if common {
			types = ServedTypes
		}
		for _, t := range types {
			m, ok := r.byType[t]
			if !ok || m[sp.Code] != nil {
				continue
			}
			if why, ok := notIndexed[t+"?"+sp.Code]; ok {
				r.Skipped = append(r.Skipped, fmt.Sprintf("%s?%s (%s): %s", t, sp.Code, sp.URL, why))
				continue
			}
			if why, ok := unsupported[sp.Code]; ok {
				r.Skipped = append(r.Skipped, fmt.Sprintf("%s?%s (%s): %s", t, sp.Code, sp.URL, why))
				continue
			}
			if sp.Type == string(TypeSpecial) && sp.Code != "near" || sp.Type == string(TypeComposite) {
				r.Skipped = append(r.Skipped, fmt.Sprintf("%s?%s (%s): %s parameters are not supported", t, sp.Code, sp.URL, sp.Type))
				continue
			}
			expr, err := fhirpath.Compile(sp.Expression)
			if err != nil {
				return fmt.Errorf("search parameter %s: expression %q: %w", sp.URL, sp.Expression, err)
			}
			targets := sp.Target
			if slices.Contains(targets, "Resource") {
				targets = nil // any type
			}
			m[sp.Code] = &Param{
				Code: sp.Code, Base: t, Type: ParamType(sp.Type), URL: sp.URL, Expression: sp.Expression,
				Targets: targets, Modifiers: sp.Modifier, Chains: sp.Chain, Comparators: sp.Comparator,
				ID: paramID(t, sp.Code), Source: source, common: common, expr: expr,
			}
		}
	}
	return nil
}

// Lookup returns the parameter code of type typ, or nil.
func (r *Registry) Lookup(typ, code string) *Param { return r.byType[typ][code] }

// Params returns the parameters of typ sorted by code. The slice is
// shared: callers must not modify it.
func (r *Registry) Params(typ string) []*Param { return r.sorted[typ] }

func (r *Registry) sortParams() {
	r.sorted = make(map[string][]*Param, len(r.byType))
	for typ, m := range r.byType {
		out := make([]*Param, 0, len(m))
		for _, p := range m {
			out = append(out, p)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
		r.sorted[typ] = out
	}
}

// Serves reports whether typ is a type the registry has parameters for.
func (r *Registry) Serves(typ string) bool {
	_, ok := r.byType[typ]
	return ok
}

// Types returns the served types, sorted.
func (r *Registry) Types() []string {
	out := slices.Clone(ServedTypes)
	slices.Sort(out)
	return out
}

// paramID is the store's id of a parameter (store.ParamID).
func paramID(typ, code string) int64 { return store.ParamID(typ, code) }
