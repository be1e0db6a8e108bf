package audit

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/rest"
)

// BALP profiles by FHIR interaction, with the AuditEvent.action and the
// roles of the client and server agents (who sends data to whom).
type balp struct {
	profile, action        string
	clientRole, serverRole Coding
}

var (
	balpRead   = balp{"IHE.BasicAudit.Read", "R", roleDest, roleSrc}
	balpQuery  = balp{"IHE.BasicAudit.Query", "E", roleDest, roleSrc}
	balpCreate = balp{"IHE.BasicAudit.Create", "C", roleSrc, roleDest}
	balpUpdate = balp{"IHE.BasicAudit.Update", "U", roleSrc, roleDest}
	balpDelete = balp{"IHE.BasicAudit.Delete", "D", roleApp, roleDest}
	balpExec   = balp{"", "E", roleApp, roleDest}
)

func profileOf(in rest.Interaction) balp {
	switch in {
	case rest.Read, rest.VRead:
		return balpRead
	case rest.HistoryInstance, rest.HistoryType, rest.HistorySystem, rest.SearchType, rest.SearchSystem:
		return balpQuery
	case rest.Create:
		return balpCreate
	case rest.Update:
		return balpUpdate
	case rest.Delete:
		return balpDelete
	}
	return balpExec
}

// ForInteraction is the record of one FHIR interaction that did not write
// (reads, searches, history, capabilities, a batch) or that failed. uri is
// the request as sent for a plain HTTP request ("" for a Bundle entry,
// which is described from its parsed form).
func ForInteraction(req *rest.Request, resp *rest.Response, err error, client *Agent, uri string) *Event {
	p := profileOf(req.Interaction)
	e := &Event{Type: typeRest, Action: p.action, Client: client, clientRole: p.clientRole, serverRole: p.serverRole, Outcome: Success}
	if req.Interaction != 0 { // 0: a Bundle entry refused before it could be read
		e.Subtype = Coding{sysRestful, req.Interaction.String(), ""}
	}
	status := http.StatusOK
	if resp != nil {
		status = resp.Status
	}
	if err != nil {
		status, e.OutcomeDesc = describe(err)
	}
	e.Outcome = outcomeOf(status)
	if e.Outcome == Success {
		e.Profile = p.profile
	} else if e.OutcomeDesc == "" {
		e.OutcomeDesc = http.StatusText(status)
	}
	switch p {
	case balpQuery:
		raw := uri
		if raw == "" {
			raw = entryURI(req)
		}
		e.Entities = append(e.Entities, queryEntity(firstLine(req.Method, raw), ""))
	default:
		if ref := target(req, resp); ref != "" {
			e.Entities = append(e.Entities, dataEntity(ref))
		}
	}
	noteRestriction(e, resp, err)
	if req.Entry >= 0 && len(e.Entities) == 0 {
		e.Entities = append(e.Entities, Entity{Type: Coding{sysEntityType, "2", ""}, Role: Coding{sysObjectRole, "24", ""},
			Name: fmt.Sprintf("Bundle entry %d", req.Entry), Description: strings.TrimSpace(req.Method + " (refused before it was read)")})
	}
	return e
}

// noteRestriction records what usage restrictions did to the response: a
// resource hidden (answered as unknown) or resources served with elements
// removed. The record names them; the client was told neither.
func noteRestriction(e *Event, resp *rest.Response, err error) {
	var d []Detail
	if err != nil && rest.IsHidden(err) {
		d = append(d, Detail{"usage-restriction", "hidden: answered as not found"})
	}
	if resp != nil && len(resp.Restriction.Subsetted) > 0 {
		d = append(d, Detail{"usage-restriction", "subsetted: " + strings.Join(resp.Restriction.Subsetted, " ")})
	}
	if len(d) == 0 {
		return
	}
	if len(e.Entities) == 0 {
		e.Entities = append(e.Entities, Entity{Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "4", "Domain Resource"}, Name: "response"})
	}
	e.Entities[0].Detail = append(e.Entities[0].Detail, d...)
}

// ForChanges are the records of a write that succeeded, one per resource
// written (each entry of a transaction), plus one for the transaction
// itself; they are committed with the write (Log.WriteTx).
func ForChanges(req *rest.Request, changes []*directory.Change, client *Agent) []*Event {
	var out []*Event
	for _, c := range changes {
		if c.Type == "AuditEvent" || c.Type == "Provenance" {
			continue // the records of this write, not a client's data
		}
		var p balp
		var sub string
		switch c.Action {
		case directory.Created:
			p, sub = balpCreate, "create"
		case directory.Matched:
			p, sub = balpCreate, "create" // conditional create found it: nothing written
		case directory.Updated, directory.Unchanged:
			p, sub = balpUpdate, "update"
		case directory.Deleted, directory.Absent:
			p, sub = balpDelete, "delete"
		default:
			continue
		}
		e := &Event{Type: typeRest, Subtype: Coding{sysRestful, sub, ""}, Action: p.action, Outcome: Success,
			Profile: p.profile, Client: client, clientRole: p.clientRole, serverRole: p.serverRole}
		ref := c.Type + "/" + c.ID
		if c.Version != nil {
			ref += "/_history/" + strconv.FormatInt(c.Version.VersionID, 10)
		}
		en := dataEntity(ref)
		en.Description = c.Action.String()
		e.Entities = []Entity{en}
		out = append(out, e)
	}
	if req.Interaction == rest.Transaction {
		out = append(out, &Event{Type: typeRest, Subtype: Coding{sysRestful, "transaction", ""}, Action: "E",
			Outcome: Success, Client: client, clientRole: roleApp, serverRole: roleDest,
			Entities: []Entity{{Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "4", "Domain Resource"},
				Name: "transaction Bundle", Description: fmt.Sprintf("%d entries written", len(out))}}})
	}
	return out
}

// target is the versioned reference a read answered with, or the
// resource the request named.
func target(req *rest.Request, resp *rest.Response) string {
	if resp != nil {
		if v := resp.Version(); v != nil {
			return v.Type + "/" + v.ID + "/_history/" + strconv.FormatInt(v.VersionID, 10)
		}
	}
	if req.Type != "" && req.ID != "" {
		ref := req.Type + "/" + req.ID
		if req.VersionID > 0 {
			ref += "/_history/" + strconv.FormatInt(req.VersionID, 10)
		}
		return ref
	}
	return ""
}

// entryURI describes a Bundle entry's query in URL form.
func entryURI(req *rest.Request) string {
	u := "/fhir"
	if req.Type != "" {
		u += "/" + req.Type
	}
	if req.ID != "" {
		u += "/" + req.ID
	}
	switch req.Interaction {
	case rest.HistoryInstance, rest.HistoryType, rest.HistorySystem:
		u += "/_history"
	}
	if len(req.Query) > 0 {
		u += "?" + req.Query.Encode()
	}
	return u
}

// describe is the status and the client-facing message of an error (what
// the OperationOutcome said; internal errors stay generic).
func describe(err error) (int, string) {
	var fe *fhir.Error
	if errors.As(err, &fe) {
		return fe.Status, fe.Error()
	}
	return http.StatusInternalServerError, "internal error"
}
