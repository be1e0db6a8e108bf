package console

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vhdir/vhdir/internal/audit"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
)

// auditPageSize is how many records a page of the timeline lists.
const auditPageSize = 50

// auditEventTypes are the codes records carry in AuditEvent.type; every
// other code is a subtype's. The timeline's one type filter takes either,
// and this tells which FHIR parameter searches it.
var auditEventTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range audit.EventTypes() {
		m[c] = true
	}
	return m
}()

// auditFilter is the timeline's query: the filters as the operator gave
// them (normalized) and the FHIR cursor of the page. Its parameter names
// are the console's contract (bookmarked, linked from the clients pages).
type auditFilter struct {
	Client, Organization, Action, Outcome, Type, From, To string
	// Page is the FHIR search's _page cursor, as its next link carries it.
	Page string
}

// query is the filter as the console's own query string parameters.
func (f auditFilter) query() url.Values {
	q := url.Values{}
	for _, kv := range [...][2]string{{"client", f.Client}, {"organization", f.Organization}, {"action", f.Action},
		{"outcome", f.Outcome}, {"type", f.Type}, {"from", f.From}, {"to", f.To}, {"_page", f.Page}} {
		if kv[1] != "" {
			q.Set(kv[0], kv[1])
		}
	}
	return q
}

// auditLink is the timeline's URL for f.
func auditLink(f auditFilter) string {
	if q := f.query(); len(q) > 0 {
		return "/audit?" + q.Encode()
	}
	return "/audit"
}

var (
	auditActions  = []string{"C", "R", "U", "D", "E"}
	auditOutcomes = []string{"0", "4", "8", "12"}
)

// parseAuditFilter reads the timeline's query and translates it into the
// FHIR search of AuditEvent. What cannot be a filter is a 400 naming the
// parameter: left to the FHIR search, an unknown outcome would only match
// nothing, and a bad date would be reported as the FHIR parameter.
func parseAuditFilter(in url.Values) (auditFilter, url.Values, error) {
	get := func(k string) string { return strings.TrimSpace(in.Get(k)) }
	f := auditFilter{Client: get("client"), Organization: get("organization"), From: get("from"), To: get("to"), Page: get("_page")}
	q := url.Values{"_sort": {"-date"}, "_count": {itoa(auditPageSize)}}
	if f.Client != "" {
		q.Set("agent:identifier", store.AuditClientSystem+"|"+auditEscape(f.Client))
	}
	if f.Organization != "" {
		id := strings.TrimPrefix(f.Organization, "Organization/")
		if !fhir.ValidID(id) {
			return f, nil, badRequest("organization %q: give a reference to a directory Organization, such as Organization/123", f.Organization)
		}
		f.Organization = "Organization/" + id
		q.Set("agent", f.Organization)
	}
	var err error
	if f.Action, err = auditCodeList(get("action"), strings.ToUpper, auditActions, "action",
		"C (create), R (read), U (update), D (delete) or E (execute: searches, operations, logins)"); err != nil {
		return f, nil, err
	}
	if f.Action != "" {
		q.Set("action", f.Action)
	}
	if f.Outcome, err = auditCodeList(get("outcome"), nil, auditOutcomes, "outcome",
		"0 (success), 4 (minor failure), 8 (serious failure) or 12 (major failure)"); err != nil {
		return f, nil, err
	}
	if f.Outcome != "" {
		q.Set("outcome", f.Outcome)
	}
	if f.Type, err = auditTypeFilter(get("type"), q); err != nil {
		return f, nil, err
	}
	var dates []string
	for _, d := range []struct{ name, value, prefix string }{{"from", f.From, "ge"}, {"to", f.To, "le"}} {
		if d.value == "" {
			continue
		}
		if _, _, err := search.DateRange(d.value); err != nil {
			return f, nil, badRequest("%s %q: give a date (2026-12-07) or a date-time (2026-12-07T10:00, UTC unless it names its zone)", d.name, d.value)
		}
		dates = append(dates, d.prefix+d.value)
	}
	if len(dates) > 0 {
		q["date"] = dates
	}
	if f.Page != "" {
		q.Set("_page", f.Page)
	}
	return f, q, nil
}

// auditCodeList reads a comma-separated list of codes out of known (after
// norm, when set), normalized; "" for none.
func auditCodeList(s string, norm func(string) string, known []string, name, help string) (string, error) {
	if s == "" {
		return "", nil
	}
	codes := strings.Split(s, ",")
	for i, c := range codes {
		c = strings.TrimSpace(c)
		if norm != nil {
			c = norm(c)
		}
		if !slices.Contains(known, c) {
			return "", badRequest("%s %q: use %s, or several of them comma-separated", name, s, help)
		}
		codes[i] = c
	}
	return strings.Join(codes, ","), nil
}

// auditTypeFilter reads the type filter (codes, comma-separated) into q: as
// the FHIR type parameter when the codes are event types, as subtype
// otherwise. FHIR cannot OR two parameters, so a list mixing both kinds
// is refused.
func auditTypeFilter(s string, q url.Values) (string, error) {
	if s == "" {
		return "", nil
	}
	var types, subtypes, all []string
	for c := range strings.SplitSeq(s, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			return "", badRequest("type %q: an empty code", s)
		}
		all = append(all, c)
		if auditEventTypes[c] {
			types = append(types, auditEscape(c))
		} else {
			subtypes = append(subtypes, auditEscape(c))
		}
	}
	switch {
	case len(types) > 0 && len(subtypes) > 0:
		return "", badRequest("type %q mixes event types (such as rest) with subtypes (such as read): filter by one kind at a time", s)
	case len(types) > 0:
		q.Set("type", strings.Join(types, ","))
	default:
		q.Set("subtype", strings.Join(subtypes, ","))
	}
	return strings.Join(all, ","), nil
}

// auditEscape escapes what a FHIR search value gives meaning to
// (, | $ \), so that a client id or code is matched as it is.
func auditEscape(s string) string {
	if !strings.ContainsAny(s, `,|$\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`,|$\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// auditOption is one choice of a select.
type auditOption struct {
	Value, Label string
	Selected     bool
}

// auditOptions are the choices with the current value selected; a value none
// of them is (a list from a link: outcome=4,8) is added, so that the form
// shows the filter in force.
func auditOptions(current string, choices ...[2]string) []auditOption {
	out := make([]auditOption, 0, len(choices)+1)
	found := false
	for _, c := range choices {
		sel := c[0] == current
		found = found || sel
		out = append(out, auditOption{Value: c[0], Label: c[1], Selected: sel})
	}
	if !found {
		out = append(out, auditOption{Value: current, Label: current, Selected: true})
	}
	return out
}

// auditTimelineData is the timeline page.
type auditTimelineData struct {
	Filter   auditFilter
	Actions  []auditOption
	Outcomes []auditOption
	Rows     []auditRow
	Total    *int64 // the number of matches, when the search counted them
	Next     string // the next page's URL, "" on the last page
	First    string // the first page's URL, "" on the first page
}

// auditTimeline lists the audit records newest first, filtered and paged,
// through the FHIR pipeline: the operator's search is itself recorded.
func (c *Console) auditTimeline(w http.ResponseWriter, r *http.Request) {
	f, q, err := parseAuditFilter(r.URL.Query())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	b, err := c.search(r.Context(), store.AuditType, q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := auditTimelineData{Filter: f, Total: b.Total,
		Actions: auditOptions(f.Action, [2]string{"", "any"}, [2]string{"C", "C create"}, [2]string{"R", "R read"},
			[2]string{"U", "U update"}, [2]string{"D", "D delete"}, [2]string{"E", "E execute"}),
		Outcomes: auditOptions(f.Outcome, [2]string{"", "any"}, [2]string{"0", "0 success"}, [2]string{"4", "4 minor failure"},
			[2]string{"8", "8 serious failure"}, [2]string{"12", "12 major failure"}, [2]string{"4,8,12", "any failure"}),
	}
	if d.Rows, err = auditRows(b); err != nil {
		c.fail(w, r, err)
		return
	}
	// The next page keeps the console's filters and takes the FHIR
	// search's cursor from its next link.
	if next, err := url.ParseQuery(pageQuery(b.link("next"))); err == nil && next.Get("_page") != "" {
		nf := f
		nf.Page = next.Get("_page")
		d.Next = auditLink(nf)
	}
	if f.Page != "" {
		ff := f
		ff.Page = ""
		d.First = auditLink(ff)
	}
	c.render(w, r, http.StatusOK, "audit.html", "Audit", d)
}

// auditRecordData is one record's page.
type auditRecordData struct {
	Row             auditRow
	Type, Subtype   auditCoding
	OutcomeDesc     string
	Client          string // the client's agent display
	ClientLink      string // its page, when the client is registered
	ClientTimeline  string
	OrganizationURL string // its data page
	OrgTimeline     string
	Entities        []auditEntity
	JSON            string
}

// auditCoding is a Coding of the record, with the timeline filtered by it.
type auditCoding struct {
	System, Code, Timeline string
}

// auditEntity is an entity of the record as its page shows it.
type auditEntity struct {
	Reference   string
	Link        string // the console page of a local reference
	Identifier  string
	Kind        string // what the entity is to the record: its role, or its type
	Name        string
	Description string
	Query       string // decoded
	Details     []string
}

// auditRecordJSON is the part of a record the page reads beyond auditRow.
type auditRecordJSON struct {
	Type        auditCodingJSON   `json:"type"`
	Subtype     []auditCodingJSON `json:"subtype"`
	OutcomeDesc string            `json:"outcomeDesc"`
	Agent       []struct {
		Who struct {
			Identifier struct {
				System string `json:"system"`
			} `json:"identifier"`
			Display string `json:"display"`
		} `json:"who"`
		Requestor bool `json:"requestor"`
	} `json:"agent"`
	Entity []struct {
		What struct {
			Reference  string `json:"reference"`
			Identifier struct {
				Value string `json:"value"`
			} `json:"identifier"`
		} `json:"what"`
		Type        auditCodingJSON `json:"type"`
		Role        auditCodingJSON `json:"role"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Query       string          `json:"query"`
		Detail      []struct {
			Type        string `json:"type"`
			ValueString string `json:"valueString"`
		} `json:"detail"`
	} `json:"entity"`
}

type auditCodingJSON struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

// auditRecord shows one record: its main fields and the AuditEvent as
// served, read through the FHIR pipeline (the read is recorded).
func (c *Console) auditRecord(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	_, body, err := c.read(ctx, &interaction.Request{Kind: interaction.Read, Type: store.AuditType, ID: id})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	row, err := auditRowOf(body)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var rec auditRecordJSON
	if err := json.Unmarshal(body, &rec); err != nil {
		c.fail(w, r, fmt.Errorf("console: audit record %s: %w", id, err))
		return
	}
	d := auditRecordData{Row: row, OutcomeDesc: rec.OutcomeDesc, JSON: prettyJSON(body),
		Type: auditCoding{System: rec.Type.System, Code: rec.Type.Code, Timeline: auditLink(auditFilter{Type: rec.Type.Code})}}
	if len(rec.Subtype) > 0 {
		st := rec.Subtype[0]
		d.Subtype = auditCoding{System: st.System, Code: st.Code, Timeline: auditLink(auditFilter{Type: st.Code})}
	}
	for _, a := range rec.Agent {
		if a.Requestor && a.Who.Identifier.System == store.AuditClientSystem {
			d.Client = a.Who.Display
		}
	}
	if row.Client != "" {
		d.ClientTimeline = auditLink(auditFilter{Client: row.Client})
		switch _, _, err := c.cfg.Registry.Get(ctx, row.Client); {
		case err == nil:
			d.ClientLink = "/clients/" + url.PathEscape(row.Client)
		case !errors.Is(err, store.ErrNotFound):
			c.fail(w, r, err)
			return
		}
	}
	if row.Organization != "" {
		d.OrganizationURL = auditRefLink(row.Organization)
		d.OrgTimeline = auditLink(auditFilter{Organization: row.Organization})
	}
	for _, e := range rec.Entity {
		en := auditEntity{Reference: e.What.Reference, Identifier: e.What.Identifier.Value, Name: e.Name, Description: e.Description,
			Kind: auditEntityKind(e.Type.Code, e.Role.Code)}
		if en.Reference != "" {
			en.Link = auditRefLink(en.Reference)
		}
		if e.Query != "" {
			if q, err := base64.StdEncoding.DecodeString(e.Query); err == nil {
				en.Query = string(q)
			} else {
				en.Query = e.Query
			}
		}
		for _, dt := range e.Detail {
			en.Details = append(en.Details, dt.Type+": "+dt.ValueString)
		}
		d.Entities = append(d.Entities, en)
	}
	c.render(w, r, http.StatusOK, "auditrecord.html", "Audit record "+row.ID, d)
}

// auditEntityRoles name the object roles records give entities
// (http://terminology.hl7.org/CodeSystem/object-role).
var auditEntityRoles = map[string]string{"3": "report", "4": "resource", "13": "security resource", "20": "job", "24": "query"}

// auditEntityKind says what an entity is: its role's name, the request id,
// or its codes.
func auditEntityKind(typ, role string) string {
	switch {
	case auditEntityRoles[role] != "":
		return auditEntityRoles[role]
	case typ == "XrequestId":
		return "request id"
	case role != "":
		return "type " + typ + ", role " + role
	}
	return "type " + typ
}

// auditRefLink is the console page of a reference a record holds: a
// record's own page for an AuditEvent, the data page of any other local
// resource (any version: its current one), none for a URL.
func auditRefLink(ref string) string {
	r := store.ParseAuditRef(ref, true)
	switch {
	case r.URL != "":
		return ""
	case r.Type == store.AuditType:
		return "/audit/" + url.PathEscape(r.ID)
	}
	return "/data/" + url.PathEscape(r.Type) + "/" + url.PathEscape(r.ID)
}
