package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/store"
)

// clientRow is a registration as the console lists it.
type clientRow struct {
	Reg          *auth.Registration
	Created      time.Time
	Updated      time.Time
	LastActivity time.Time // the newest audit record naming the client; zero for none
}

// clientListData is the clients page: the list and the registration form
// (refilled with what was sent when it was refused).
type clientListData struct {
	Clients []clientRow
	Form    registerForm
	Error   string
}

// registerForm is what the registration form holds.
type registerForm struct {
	Name, Organization, OrganizationName, JWKS, JWKSURI, Scope, Roles, Contacts, ClientID string
	SeesRestricted                                                                        bool
}

func (c *Console) clientList(w http.ResponseWriter, r *http.Request) {
	c.showClients(w, r, http.StatusOK, registerForm{Scope: "system/*.rs"}, "")
}

// showClients renders the list with the registration form.
func (c *Console) showClients(w http.ResponseWriter, r *http.Request, status int, form registerForm, problem string) {
	ctx := r.Context()
	regs, recs, err := c.cfg.Registry.List(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := clientListData{Form: form, Error: problem, Clients: make([]clientRow, len(regs))}
	for i, reg := range regs {
		row := clientRow{Reg: reg, Created: recs[i].Created, Updated: recs[i].Updated}
		if row.LastActivity, err = c.lastActivity(ctx, reg.ClientID); err != nil {
			c.fail(w, r, err)
			return
		}
		d.Clients[i] = row
	}
	c.render(w, r, status, "clients.html", "Clients", d)
}

// clientQuery is the audit search for a client's records.
func clientQuery(id string) url.Values {
	return url.Values{"agent:identifier": {store.AuditClientSystem + "|" + id}}
}

// lastActivity is the time of the newest audit record naming the client.
func (c *Console) lastActivity(ctx context.Context, clientID string) (time.Time, error) {
	q, err := c.cfg.Search.Conditional(store.AuditType, clientQuery(clientID))
	if err != nil {
		return time.Time{}, err
	}
	q.Count, q.Viewer = 1, store.SeeAll
	q.Sort = []store.SortKey{{Kind: store.SortLastUpdated, Desc: true}}
	page, err := c.cfg.Store.Search(ctx, q)
	if err != nil || len(page.Versions) == 0 {
		return time.Time{}, err
	}
	return page.Versions[0].LastUpdated, nil // a record's version is last updated when recorded
}

// clientRegister registers a client from the form, with the CLI's
// validation; a refused form is shown again with the reason.
func (c *Console) clientRegister(w http.ResponseWriter, r *http.Request) {
	if !c.checkForm(w, r) {
		return
	}
	f := registerForm{
		Name: r.PostForm.Get("name"), Organization: strings.TrimSpace(r.PostForm.Get("organization")),
		OrganizationName: r.PostForm.Get("organization_name"), JWKS: strings.TrimSpace(r.PostForm.Get("jwks")),
		JWKSURI: strings.TrimSpace(r.PostForm.Get("jwks_uri")), Scope: r.PostForm.Get("scope"),
		Roles: r.PostForm.Get("roles"), Contacts: r.PostForm.Get("contacts"), ClientID: strings.TrimSpace(r.PostForm.Get("client_id")),
		SeesRestricted: r.PostForm.Get("sees_restricted") == "on",
	}
	reg := auth.Registration{
		ClientID: f.ClientID, Name: f.Name, Organization: f.Organization, OrganizationName: f.OrganizationName,
		JWKSURI: f.JWKSURI, Scope: strings.Join(strings.Fields(f.Scope), " "), Roles: auth.SplitList(f.Roles), Contacts: auth.SplitList(f.Contacts),
		SeesRestricted: f.SeesRestricted,
	}
	if f.JWKS != "" {
		reg.JWKS = json.RawMessage(f.JWKS)
	}
	added, err := c.cfg.Registry.Add(r.Context(), reg)
	if err != nil {
		if errors.Is(err, audit.ErrUnavailable) || errors.Is(err, context.Canceled) {
			c.fail(w, r, err)
			return
		}
		c.showClients(w, r, http.StatusUnprocessableEntity, f, err.Error())
		return
	}
	recordedInItsTransaction(r)
	http.Redirect(w, r, "/clients/"+url.PathEscape(added.ClientID), http.StatusSeeOther)
}

// recordedInItsTransaction tells the request's audit trail that its change
// was recorded with the change (the registry's own record, naming the
// operator and the session): the request needs no record of its own.
func recordedInItsTransaction(r *http.Request) {
	if t := audit.TrailFrom(r.Context()); t != nil {
		t.Recorded(1)
	}
}

// clientDetailData is one client's page.
type clientDetailData struct {
	Reg     *auth.Registration
	Created time.Time
	Updated time.Time
	JWKS    string
	Recent  []auditRow
	More    string // the audit timeline of the client
}

// clientRecent is how many of a client's requests its page lists.
const clientRecent = 25

func (c *Console) clientDetail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("client_id")
	reg, rec, err := c.cfg.Registry.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, notFound("no client %q is registered", id))
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := clientDetailData{Reg: reg, Created: rec.Created, Updated: rec.Updated, More: "/audit?client=" + url.QueryEscape(id)}
	if len(reg.JWKS) > 0 {
		d.JWKS = prettyJSON(reg.JWKS)
	}
	q := clientQuery(id)
	q.Set("_sort", "-date")
	q.Set("_count", itoa(clientRecent))
	b, err := c.search(ctx, store.AuditType, q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if d.Recent, err = auditRows(b); err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "client.html", "Client "+reg.Name, d)
}

func (c *Console) clientDisable(w http.ResponseWriter, r *http.Request) { c.setDisabled(w, r, true) }
func (c *Console) clientEnable(w http.ResponseWriter, r *http.Request)  { c.setDisabled(w, r, false) }

// setDisabled disables or enables a client, recorded with the change.
func (c *Console) setDisabled(w http.ResponseWriter, r *http.Request, disabled bool) {
	if !c.checkForm(w, r) {
		return
	}
	id := r.PathValue("client_id")
	err := c.cfg.Registry.SetDisabled(r.Context(), id, disabled)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, notFound("no client %q is registered", id))
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	recordedInItsTransaction(r)
	http.Redirect(w, r, "/clients/"+url.PathEscape(id), http.StatusSeeOther)
}

// organizationPicker answers the registration form's picker: up to 20
// Organizations whose name starts with ?name=, as JSON.
func (c *Console) organizationPicker(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.URL.Query().Get("name"))
	type option struct {
		Reference string `json:"reference"`
		Name      string `json:"name"`
	}
	out := []option{}
	if name != "" {
		b, err := c.search(r.Context(), "Organization", url.Values{"name": {name}, "_count": {"20"}, "_elements": {"name"}})
		if err != nil {
			c.fail(w, r, err)
			return
		}
		for _, e := range b.Entry {
			var org struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			}
			if json.Unmarshal(e.Resource, &org) == nil && org.ID != "" {
				out = append(out, option{Reference: "Organization/" + org.ID, Name: org.Name})
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
