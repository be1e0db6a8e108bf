package console

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/restrict"
)

// The data pages browse the directory through the FHIR pipeline, as the
// operator: /data lists the served types, /data/{type}?{FHIR search}
// searches one (the page's query string is the search), and
// /data/{type}/{id} shows one resource with its history, Provenance, usage
// restrictions and profile issues.

// dataTypes lists the served types.
func (c *Console) dataTypes(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "data.html", "Data", c.cfg.Types)
}

// serves reports whether typ is a type the directory serves.
func (c *Console) serves(typ string) bool { return slices.Contains(c.cfg.Types, typ) }

// searchField is one input of the search form, named as its parameter.
type searchField struct {
	Name, Type, Value string
}

// resultRow is one resource of a searchset.
type resultRow struct {
	Type, ID, Name string
	LastUpdated    string
	Included       bool   // added by _include or _revinclude, not a match
	Restricted     string // what its usage restrictions in force cover; "" for none
}

// problem is a refusal of the pipeline's, shown on the page: its issues.
type problem struct {
	Status int
	Issues []fhir.Issue
}

// dataSearchData is the search page.
type dataSearchData struct {
	Type string
	// Fields are the type's everyday parameters, More its others, Common
	// those of every resource type, Other what the URL holds that no field
	// shows (modifiers, chains, _sort, _include, repeated parameters): kept
	// so that the form sends the same search again.
	Fields, More, Common, Other []searchField
	// MoreOpen and CommonOpen unfold a group when one of its fields is
	// filled.
	MoreOpen, CommonOpen bool
	Count                string
	Problem              *problem
	Rows                 []resultRow
	Notes                []string // the searchset's OperationOutcome
	Total                *int64
	Next, Previous       string
}

// everyday are the parameters searched most, shown first (in this order)
// where a type has them; its others follow, folded.
var everyday = []string{
	"name", "identifier", "family", "given", "active", "status", "type", "organization", "practitioner", "location",
	"service", "specialty", "partof", "address-city", "address-state", "endpoint",
	"target", "agent", "recorded", "date", "entity", "action", "outcome", "subtype",
}

// formless are the parameters the form does not carry over: _count has
// its own field, _page is a cursor into the search the form replaces.
var formless = map[string]bool{"_count": true, "_page": true}

// dataSearch runs the FHIR search of the page's query on a type.
func (c *Console) dataSearch(w http.ResponseWriter, r *http.Request) {
	typ := r.PathValue("type")
	if !c.serves(typ) {
		c.fail(w, r, notFound("the directory serves no resource type %q", typ))
		return
	}
	raw, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		c.fail(w, r, badRequest("the search in the URL could not be read: %v", err))
		return
	}
	// Empty fields of the form mean "not searched by".
	query := url.Values{}
	for k, vs := range raw {
		for _, v := range vs {
			if strings.TrimSpace(v) != "" {
				query.Add(k, v)
			}
		}
	}
	d := c.searchForm(typ, query)
	status := http.StatusOK
	b, err := c.search(r.Context(), typ, query)
	switch p := refusal(err); {
	case p != nil: // shown with the form, to be corrected
		status, d.Problem = p.Status, p
	case err != nil:
		c.fail(w, r, err)
		return
	default:
		d.Total = b.Total
		d.Next, d.Previous = dataLink(typ, b.link("next")), dataLink(typ, b.link("previous"))
		for _, e := range b.Entry {
			if e.Search != nil && e.Search.Mode == "outcome" {
				d.Notes = append(d.Notes, outcomeNotes(e.Resource)...)
				continue
			}
			d.Rows = append(d.Rows, rowOf(e.Resource, e.Search != nil && e.Search.Mode == "include"))
		}
	}
	c.render(w, r, status, "datasearch.html", typ, d)
}

// searchForm is the form of a type's parameters, filled from query.
func (c *Console) searchForm(typ string, query url.Values) dataSearchData {
	d := dataSearchData{Type: typ, Count: query.Get("_count")}
	shown := map[string]bool{}
	field := func(name, ptype string) searchField {
		shown[name] = true
		return searchField{Name: name, Type: ptype, Value: query.Get(name)}
	}
	reg := c.cfg.Search.Registry()
	for _, code := range everyday {
		if p := reg.Lookup(typ, code); p != nil {
			d.Fields = append(d.Fields, field(p.Code, string(p.Type)))
		}
	}
	d.Common = append(d.Common, field("_id", "token"), field("_lastUpdated", "date"))
	for _, p := range reg.Params(typ) {
		switch {
		case shown[p.Code]:
		case strings.HasPrefix(p.Code, "_"):
			d.Common = append(d.Common, field(p.Code, string(p.Type)))
		default:
			d.More = append(d.More, field(p.Code, string(p.Type)))
		}
	}
	filled := func(fs []searchField) bool {
		return slices.ContainsFunc(fs, func(f searchField) bool { return f.Value != "" })
	}
	d.MoreOpen, d.CommonOpen = filled(d.More), filled(d.Common)
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if formless[k] {
			continue
		}
		vs := query[k]
		if shown[k] {
			vs = vs[1:] // the first is in its field
		}
		for _, v := range vs {
			d.Other = append(d.Other, searchField{Name: k, Value: v})
		}
	}
	return d
}

// refusal is err as the page shows it when the pipeline refused what the
// operator asked (a FHIR error below 500); nil for any other error.
func refusal(err error) *problem {
	var fe *fhir.Error
	if err == nil || !errors.As(err, &fe) || fhir.StatusOf(err) >= 500 {
		return nil
	}
	return &problem{Status: fhir.StatusOf(err), Issues: fe.Issues}
}

// dataLink is a Bundle link (next, previous) as a console search URL.
func dataLink(typ, link string) string {
	q := pageQuery(link)
	if q == "" {
		return ""
	}
	return "/data/" + url.PathEscape(typ) + "?" + q
}

// outcomeNotes are the diagnostics of a searchset's OperationOutcome
// (what a lenient search ignored).
func outcomeNotes(raw json.RawMessage) []string {
	var oo struct {
		Issue []struct {
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	if json.Unmarshal(raw, &oo) != nil {
		return nil
	}
	var out []string
	for _, is := range oo.Issue {
		if is.Diagnostics != "" {
			out = append(out, is.Diagnostics)
		}
	}
	return out
}

// rowOf reads a result row from a resource's bytes, best effort: what
// cannot be read is left blank.
func rowOf(raw json.RawMessage, included bool) resultRow {
	var head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Meta         struct {
			LastUpdated string `json:"lastUpdated"`
		} `json:"meta"`
	}
	_ = json.Unmarshal(raw, &head)
	row := resultRow{Type: head.ResourceType, ID: head.ID, LastUpdated: head.Meta.LastUpdated, Included: included, Name: displayName(raw)}
	if obj, err := jsontree.ParseObject(raw); err == nil {
		row.Restricted = restrictedSummary(restrict.Parse(obj))
	}
	return row
}

// restrictedSummary says what a resource's restrictions in force cover:
// "" for none.
func restrictedSummary(rs *restrict.Restrictions) string {
	applying := rs.Applying()
	switch {
	case len(applying) == 0:
		return ""
	case slices.ContainsFunc(applying, restrict.Restriction.Root):
		return "whole resource restricted"
	case len(applying) == 1:
		return "1 element restricted"
	}
	return itoa(len(applying)) + " elements restricted"
}

// displayName is a resource's name as people know it, best effort: name
// as a string (Organization, Location…) or a HumanName (its text, else
// given and family), else title, else for a role the names of whom it
// joins, else what a record is about (Provenance and VerificationResult
// targets, an AuditEvent's subtype or type).
func displayName(raw json.RawMessage) string {
	var r struct {
		Name         json.RawMessage `json:"name"`
		Title        string          `json:"title"`
		Practitioner *reference      `json:"practitioner"`
		Organization *reference      `json:"organization"`
		Target       []reference     `json:"target"`
		Type         json.RawMessage `json:"type"`
		Subtype      []coding        `json:"subtype"`
	}
	if json.Unmarshal(raw, &r) != nil {
		return ""
	}
	if n := nameOf(r.Name); n != "" {
		return n
	}
	if r.Title != "" {
		return r.Title
	}
	var parts []string
	for _, ref := range []*reference{r.Practitioner, r.Organization} {
		if l := ref.label(); l != "" {
			parts = append(parts, l)
		}
	}
	for i := range r.Target {
		if l := r.Target[i].label(); l != "" {
			parts = append(parts, l)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, " · ")
	}
	for _, c := range r.Subtype {
		if l := c.label(); l != "" {
			return l
		}
	}
	var typ coding // AuditEvent.type is a Coding; elsewhere type is a list
	if json.Unmarshal(r.Type, &typ) == nil {
		return typ.label()
	}
	return ""
}

// coding is what the console reads of a Coding.
type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

func (c coding) label() string { return cmp.Or(c.Display, c.Code) }

// reference is what the console reads of a FHIR Reference.
type reference struct {
	Reference  string `json:"reference"`
	Display    string `json:"display"`
	Identifier *struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
}

// label is how a reference is shown: its display, else its reference,
// else its identifier.
func (r *reference) label() string {
	switch {
	case r == nil:
		return ""
	case r.Display != "":
		return r.Display
	case r.Reference != "":
		return r.Reference
	case r.Identifier != nil:
		return r.Identifier.Value
	}
	return ""
}

// humanName is what the console reads of a HumanName.
type humanName struct {
	Text   string   `json:"text"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
	Prefix []string `json:"prefix"`
}

func (h humanName) String() string {
	if h.Text != "" {
		return h.Text
	}
	return strings.TrimSpace(strings.Join(append(append(slices.Clone(h.Prefix), h.Given...), h.Family), " "))
}

// nameOf reads a name member: a string, a HumanName, or a list of either
// (the first that says something).
func nameOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var h humanName
	if json.Unmarshal(raw, &h) == nil {
		return h.String()
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		for _, item := range list {
			if n := nameOf(item); n != "" {
				return n
			}
		}
	}
	return ""
}
