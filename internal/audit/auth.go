package audit

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/interaction"
)

// callerOfRegistration is the caller a token request proved to be.
func callerOfRegistration(r *auth.Registration) *interaction.Caller {
	return &interaction.Caller{ClientID: r.ClientID, ClientName: r.Name, Organization: r.Organization, OrganizationName: r.OrganizationName}
}

// ForToken is the record of a token request, after IHE IUA ITI-71 (Get
// Access Token): granted or refused, by whom, with what scope. The request
// itself is not recorded: its assertion is a credential.
func ForToken(o auth.TokenOutcome) *Event {
	e := &Event{Type: typeLogin, Subtype: Coding{sysIHEEvent, "ITI-71", "Get Access Token"}, Action: "E",
		Outcome: outcomeOf(o.Status), ClaimedClient: o.ClaimedClient, Address: o.Address,
		clientRole: roleApp, serverRole: roleAuthz}
	if o.Client != nil {
		e.Client = callerOfRegistration(o.Client)
		e.Client.TokenID = o.TokenID
	}
	req := Entity{Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "24", "Query"},
		Query: []byte("POST " + auth.TokenPath + " grant_type=client_credentials"), Description: "token request (client assertion withheld)"}
	e.Entities = []Entity{req}
	if e.Outcome == Success {
		e.Profile = "IHE.IUA.71"
		e.Entities = append(e.Entities, Entity{Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "13", "Security Resource"},
			Name: "access token " + o.TokenID, Detail: []Detail{{"scope", o.Scope}, {"token_type", "bearer"}}})
		return e
	}
	e.OutcomeDesc = o.Error
	if o.Description != "" {
		e.OutcomeDesc += ": " + o.Description
	}
	if o.Reason != "" {
		e.OutcomeDesc += " (" + o.Reason + ")"
	}
	return e
}

// ForRegistration is the record of a change to a client registration
// (action C for add, U otherwise) made by an operator: by, the caller of
// the command.
func ForRegistration(change string, reg *auth.Registration, by *interaction.Caller) *Event {
	action := "U"
	if change == "add" {
		action = "C"
	}
	e := &Event{Type: typeAdmin, Subtype: Coding{sysVhdirEvent, "clients-" + change, "vhdir clients " + change}, Action: action,
		Outcome: Success, Address: by.Address, clientRole: roleApp, serverRole: roleAuthz, Client: by}
	e.Entities = []Entity{{Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "13", "Security Resource"},
		Name: "client " + reg.ClientID, Description: strings.TrimSpace(reg.Name + " for " + reg.Organization),
		Detail: []Detail{{"scope", reg.Scope}, {"disabled", boolText(reg.Disabled)}, {"sees-restricted", boolText(reg.SeesRestricted)}}}}
	if len(reg.Roles) > 0 {
		e.Entities[0].Detail = append(e.Entities[0].Detail, Detail{"roles", strings.Join(reg.Roles, ",")})
	}
	return e
}

// ForLoad is the record of a bulk load by an operator (by: vhdir load,
// serve --seed-examples), or of one batch of it: what was loaded, from
// where, how many versions were written and how many resources failed.
func ForLoad(by *interaction.Caller, source string, written map[string]int, failed int) *Event {
	outcome := Success
	if failed > 0 {
		outcome = MinorFailure
	}
	e := &Event{Type: typeImport, Subtype: Coding{sysVhdirEvent, "load", "vhdir load"}, Action: "C",
		Outcome: outcome, Address: by.Address, clientRole: roleApp, serverRole: roleDest, Client: by}
	if failed > 0 {
		e.OutcomeDesc = fmt.Sprintf("%d resources could not be loaded", failed)
	}
	types := make([]string, 0, len(written))
	for typ := range written {
		types = append(types, typ)
	}
	slices.Sort(types)
	var details []Detail
	total := 0
	for _, typ := range types {
		details = append(details, Detail{typ, strconv.Itoa(written[typ])})
		total += written[typ]
	}
	e.Entities = []Entity{{Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "20", "Job"},
		Name: "load of " + source, Description: fmt.Sprintf("%d versions written", total), Detail: details}}
	return e
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// fallback describes a request that reached no handler that records (a
// request refused for want of a token, an unknown path, introspection).
func fallback(t *Trail, r *http.Request, status int) *Event {
	client := interaction.CallerFrom(r.Context())
	if client == nil {
		client = t.Client()
	}
	e := &Event{Type: typeRest, Action: "E", Outcome: outcomeOf(status), Client: client, clientRole: roleApp, serverRole: roleDest}
	switch {
	case r.URL.Path == auth.IntrospectPath:
		e.Type, e.Subtype = typeLogin, Coding{sysVhdirEvent, "introspect", "token introspection"}
		e.serverRole = roleAuthz
	case strings.HasPrefix(r.URL.Path, "/fhir"):
		e.Subtype = Coding{sysVhdirEvent, "http", "HTTP request"}
	default:
		e.Type, e.Subtype = typeActivity, Coding{sysVhdirEvent, "http", "HTTP request"}
	}
	if e.Outcome != Success {
		e.OutcomeDesc = http.StatusText(status)
		if status == http.StatusUnauthorized {
			e.OutcomeDesc += ": no valid access token"
		}
	}
	e.Entities = []Entity{queryEntity(firstLine(t.Method, t.URI), "")}
	return e
}
