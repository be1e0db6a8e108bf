package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/restrict"
)

// A resource's page (/data/{type}/{id}): its current JSON, its history
// with a diff between versions, its Provenance, its usage restrictions
// and its profile issues.

// historyShown is how many versions a resource page shows, newest first.
const historyShown = 100

// provenanceShown is how many Provenance records a resource page lists.
const provenanceShown = 50

// versionRow is one version in a resource's history.
type versionRow struct {
	VersionID   string
	LastUpdated string
	Method      string // POST, PUT or DELETE: how the version came to be
	Deleted     bool
	// Since is the version Diff compares with: the one before that has a
	// body ("" when none is shown: the first version, or older ones cut).
	Since   string
	Diff    []diffLine
	Changed bool // Diff holds a change
}

// provenanceRow is one Provenance record naming the resource.
type provenanceRow struct {
	ID, Recorded, Activity string
	Agents                 []string
	Targets                []string // its targets that are this resource (versioned)
}

// restrictionRow is one usage-restriction extension of the resource.
type restrictionRow struct {
	Element, Consent, Status string
	InForce                  bool
	Actors, Labels           []string
	Problem                  string
}

// issueRow is one profile issue.
type issueRow struct {
	Severity, Expression, Message string
}

// resourceData is a resource's page.
type resourceData struct {
	Type, ID, Name string
	Deleted        bool
	JSON           string
	Restricted     string // restrictedSummary of the current version

	History        []versionRow
	HistoryTotal   *int64
	HistoryMore    bool // older versions than those shown exist
	HistoryProblem *problem

	Provenance []provenanceRow
	// ProvenanceAll is the console's search of them all, ProvenanceMore
	// set when more exist than are listed.
	ProvenanceAll     string
	ProvenanceMore    bool
	ProvenanceProblem *problem

	Restrictions []restrictionRow
	Security     []string // meta.security labels

	Issues          []issueRow
	ValidationError string // why the resource could not be validated
}

// dataResource shows one resource: its current JSON, its history with a
// diff between versions, its Provenance, restrictions and profile issues.
func (c *Console) dataResource(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	typ, id := r.PathValue("type"), r.PathValue("id")
	if !c.serves(typ) {
		c.fail(w, r, notFound("the directory serves no resource type %q", typ))
		return
	}
	resp, body, err := c.read(ctx, &interaction.Request{Kind: interaction.Read, Type: typ, ID: id})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := resourceData{Type: typ, ID: id, Deleted: resp.Status == http.StatusGone}
	if !d.Deleted {
		d.JSON = prettyJSON(body)
		d.Name = displayName(body)
		c.inspect(&d, body)
	}
	if err := c.history(r, &d); err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.provenance(r, &d); err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "resource.html", typ+"/"+id, d)
}

type bundleLink struct {
	Relation string `json:"relation"`
}

// historyBundle is what the console reads of a history Bundle.
type historyBundle struct {
	Total *int64       `json:"total"`
	Link  []bundleLink `json:"link"`
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
		Request  *struct {
			Method string `json:"method"`
		} `json:"request"`
		Response *struct {
			Etag         string `json:"etag"`
			LastModified string `json:"lastModified"`
		} `json:"response"`
	} `json:"entry"`
}

// history reads the resource's versions, newest first, each compared
// with the one before. A refusal of the pipeline's is shown in its
// section.
func (c *Console) history(r *http.Request, d *resourceData) error {
	_, body, err := c.read(r.Context(), &interaction.Request{Kind: interaction.HistoryInstance, Type: d.Type, ID: d.ID,
		Query: url.Values{"_count": {itoa(historyShown)}}})
	if p := refusal(err); p != nil {
		d.HistoryProblem = p
		return nil
	}
	if err != nil {
		return err
	}
	var b historyBundle
	if err := json.Unmarshal(body, &b); err != nil {
		return err
	}
	d.HistoryTotal = b.Total
	d.HistoryMore = slices.ContainsFunc(b.Link, func(l bundleLink) bool { return l.Relation == "next" })
	pretty := make([]string, len(b.Entry))
	for i, e := range b.Entry {
		v := versionRow{Deleted: len(e.Resource) == 0}
		if e.Request != nil {
			v.Method = e.Request.Method
		}
		if e.Response != nil {
			v.LastUpdated = e.Response.LastModified
			if n, ok := fhir.ParseETag(e.Response.Etag); ok {
				v.VersionID = itoa64(n)
			}
		}
		if !v.Deleted {
			pretty[i] = prettyJSON(e.Resource)
		}
		d.History = append(d.History, v)
	}
	for i := range d.History {
		v := &d.History[i]
		if v.Deleted {
			continue
		}
		for j := i + 1; j < len(d.History); j++ {
			if !d.History[j].Deleted {
				v.Since = d.History[j].VersionID
				v.Diff = lineDiff(pretty[j], pretty[i])
				v.Changed = changed(v.Diff)
				break
			}
		}
	}
	return nil
}

// provenance lists the Provenance records whose target is the resource,
// newest first.
func (c *Console) provenance(r *http.Request, d *resourceData) error {
	target := d.Type + "/" + d.ID
	d.ProvenanceAll = "/data/Provenance?" + url.Values{"target": {target}}.Encode()
	b, err := c.search(r.Context(), "Provenance", url.Values{"target": {target}, "_sort": {"-recorded"}, "_count": {itoa(provenanceShown)}})
	if p := refusal(err); p != nil {
		d.ProvenanceProblem = p
		return nil
	}
	if err != nil {
		return err
	}
	d.ProvenanceMore = b.link("next") != ""
	for _, e := range b.Entry {
		if e.Search != nil && e.Search.Mode != "" && e.Search.Mode != "match" {
			continue
		}
		var p struct {
			ID       string      `json:"id"`
			Recorded string      `json:"recorded"`
			Target   []reference `json:"target"`
			Activity *struct {
				Text   string   `json:"text"`
				Coding []coding `json:"coding"`
			} `json:"activity"`
			Agent []struct {
				Who *reference `json:"who"`
			} `json:"agent"`
		}
		if err := json.Unmarshal(e.Resource, &p); err != nil {
			return err
		}
		row := provenanceRow{ID: p.ID, Recorded: p.Recorded}
		if a := p.Activity; a != nil {
			row.Activity = a.Text
			if row.Activity == "" && len(a.Coding) > 0 {
				row.Activity = a.Coding[0].label()
			}
		}
		for _, a := range p.Agent {
			if l := a.Who.label(); l != "" {
				row.Agents = append(row.Agents, l)
			}
		}
		for _, t := range p.Target {
			if t.Reference == target || strings.HasPrefix(t.Reference, target+"/_history/") {
				row.Targets = append(row.Targets, t.Reference)
			}
		}
		d.Provenance = append(d.Provenance, row)
	}
	return nil
}

// inspect finds the current version's usage restrictions and security
// labels and validates it against R4 and its profiles.
func (c *Console) inspect(d *resourceData, body []byte) {
	if obj, err := jsontree.ParseObject(body); err == nil {
		rs := restrict.Parse(obj)
		d.Restricted = restrictedSummary(rs)
		for _, x := range rs.All {
			row := restrictionRow{Element: x.Element, Consent: x.Rule.Consent, Status: x.Rule.Status, InForce: x.Rule.Applies(),
				Actors: append(slices.Clone(x.Rule.Actors), x.Rule.Unreferenced...)}
			for _, l := range x.Rule.Labels {
				row.Labels = append(row.Labels, labelText(l.System, l.Code, l.Display))
			}
			if x.Rule.Err != nil {
				row.Problem = x.Rule.Err.Error()
			}
			d.Restrictions = append(d.Restrictions, row)
		}
	}
	var meta struct {
		Meta struct {
			Security []coding `json:"security"`
		} `json:"meta"`
	}
	if json.Unmarshal(body, &meta) == nil {
		for _, s := range meta.Meta.Security {
			d.Security = append(d.Security, labelText(s.System, s.Code, s.Display))
		}
	}

	res, err := fhir.ParseResource(body)
	var fe *fhir.Error
	switch {
	case errors.As(err, &fe):
		d.Issues = issueRows(fe.Issues) // structural issues: the profiles need a structurally valid resource
	case err != nil:
		d.ValidationError = err.Error()
	default:
		d.Issues = issueRows(c.cfg.Validator.Validate(res.Obj))
	}
}

// labelText is a coding as "system|code (display)", or its display
// alone when it has no code.
func labelText(system, code, display string) string {
	if code == "" {
		return display
	}
	s := code
	if system != "" {
		s = system + "|" + code
	}
	if display != "" {
		s += " (" + display + ")"
	}
	return s
}

func issueRows(issues []fhir.Issue) []issueRow {
	out := make([]issueRow, len(issues))
	for i, is := range issues {
		out[i] = issueRow{Severity: is.Severity, Expression: strings.Join(is.Expression, ", "), Message: is.Diagnostics}
	}
	return out
}
