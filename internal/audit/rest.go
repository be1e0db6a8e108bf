package audit

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
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

func profileOf(in interaction.Kind) balp {
	switch in {
	case interaction.Read, interaction.VRead:
		return balpRead
	case interaction.HistoryInstance, interaction.HistoryType, interaction.HistorySystem, interaction.SearchType, interaction.SearchSystem:
		return balpQuery
	case interaction.Create:
		return balpCreate
	case interaction.Update:
		return balpUpdate
	case interaction.Delete:
		return balpDelete
	}
	return balpExec
}

// ForInteraction is the record of one FHIR interaction that did not write
// (reads, searches, history, capabilities, a batch) or that failed. uri is
// the request as sent for a plain HTTP request ("" for a Bundle entry,
// which is described from its parsed form).
func ForInteraction(req *interaction.Request, resp *interaction.Response, err error, client *interaction.Caller, uri string) *Event {
	p := profileOf(req.Kind)
	e := &Event{Type: typeRest, Action: p.action, Client: client, clientRole: p.clientRole, serverRole: p.serverRole, Outcome: Success}
	if req.Kind != 0 { // 0: a Bundle entry refused before it could be read
		e.Subtype = Coding{sysRestful, req.Kind.String(), ""}
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
			e.Entities = append(e.Entities, targetEntity(ref, req, uri))
		}
	}
	noteRestriction(e, resp, err)
	if req.Entry >= 0 && len(e.Entities) == 0 {
		e.Entities = append(e.Entities, Entity{Type: Coding{sysEntityType, "2", ""}, Role: Coding{sysObjectRole, "24", ""},
			Name: fmt.Sprintf("Bundle entry %d", req.Entry), Description: strings.TrimSpace(req.Method + " (refused before it was read)")})
	}
	return e
}

// targetEntity names the resource a request is about when it is a valid
// reference; a request naming something that cannot be a resource (an
// invalid id, an unknown type) is recorded by its request line instead, so
// that every request leaves its record, whatever it names.
func targetEntity(ref string, req *interaction.Request, uri string) Entity {
	if r, err := fhir.ParseReference(ref); err == nil && r.Kind == fhir.RefRelative {
		return dataEntity(ref)
	}
	if uri == "" {
		uri = entryURI(req)
	}
	return queryEntity(firstLine(req.Method, uri), "the request names no valid resource")
}

// noteRestriction records what usage restrictions did to the response: a
// resource hidden (answered as unknown) or resources served with elements
// removed. The record names them; the client was told neither.
func noteRestriction(e *Event, resp *interaction.Response, err error) {
	var d []Detail
	if err != nil && errors.Is(err, interaction.ErrHidden) {
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
func ForChanges(req *interaction.Request, changes []*directory.Change, client *interaction.Caller) []*Event {
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
		var en Entity
		if c.ID == "" { // a conditional delete that matched nothing
			en = Entity{Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "4", "Domain Resource"}, Name: c.Type}
		} else {
			ref := c.Type + "/" + c.ID
			if c.Version != nil {
				ref += "/_history/" + strconv.FormatInt(c.Version.VersionID, 10)
			}
			en = dataEntity(ref)
		}
		en.Description = c.Action.String()
		e.Entities = []Entity{en}
		out = append(out, e)
	}
	if req.Kind == interaction.Transaction {
		out = append(out, &Event{Type: typeRest, Subtype: Coding{sysRestful, "transaction", ""}, Action: "E",
			Outcome: Success, Client: client, clientRole: roleApp, serverRole: roleDest,
			Entities: []Entity{{Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "4", "Domain Resource"},
				Name: "transaction Bundle", Description: fmt.Sprintf("%d entries written", len(out))}}})
	}
	return out
}

// target is the versioned reference a read answered with, or the
// resource the request named.
func target(req *interaction.Request, resp *interaction.Response) string {
	if resp != nil {
		if v := resp.Version; v != nil {
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
func entryURI(req *interaction.Request) string {
	u := "/fhir"
	if req.Type != "" {
		u += "/" + req.Type
	}
	if req.ID != "" {
		u += "/" + req.ID
	}
	switch req.Kind {
	case interaction.HistoryInstance, interaction.HistoryType, interaction.HistorySystem:
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
