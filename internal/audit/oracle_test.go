package audit

import (
	"encoding/base64"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// The AuditEvent built as a tree, element by element: what appendRecord
// must write byte for byte (TestRecordBytes).

// tree returns e as the AuditEvent id recorded at recorded, encoded from
// its tree.
func (e *Event) tree(src Source, id string, recorded time.Time) []byte {
	ae := e.resource(src, recorded)
	fhir.SetMeta(ae, id, 1, fhir.Truncate(recorded))
	return jsontree.Marshal(ae)
}

// resource builds e as an AuditEvent recorded at t, as a JSON tree in
// R4's element order (built directly: encoding and parsing it again cost
// more than the rest of a record).
func (e *Event) resource(src Source, recorded time.Time) *jsontree.Object {
	ae := obj("resourceType", "AuditEvent")
	if e.Profile != "" {
		ae.Set("meta", obj("profile", []any{balpProfile + e.Profile}))
	}
	if src.TimeSource != "" {
		ae.Set("extension", []any{obj("url", extTimeSource, "valueString", src.TimeSource)})
	}
	// Codings that are searched carry no display: the codes are standard,
	// and a display would add a text index row to every record.
	ae.Set("type", e.Type.code())
	if e.Subtype.Code != "" {
		ae.Set("subtype", []any{e.Subtype.code()})
	}
	if e.Action != "" {
		ae.Set("action", e.Action)
	}
	ae.Set("recorded", recorded.UTC().Format("2006-01-02T15:04:05.000Z"))
	ae.Set("outcome", e.Outcome)
	if e.OutcomeDesc != "" {
		ae.Set("outcomeDesc", text(e.OutcomeDesc))
	}
	ae.Set("agent", e.agents(src))
	ae.Set("source", obj("site", src.Site,
		"observer", obj("identifier", obj("system", "urn:ietf:rfc:3986", "value", src.FHIRBase), "display", "vhdir "+src.Site),
		"type", []any{Coding{sysSourceType, "4", "Application Server"}.full()}))
	if ents := e.entities(); len(ents) > 0 {
		ae.Set("entity", ents)
	}
	return ae
}

// obj builds an object from key, value pairs, leaving out empty strings.
func obj(kv ...any) *jsontree.Object {
	o := &jsontree.Object{Members: make([]jsontree.Member, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		if s, ok := kv[i+1].(string); ok && s == "" {
			continue
		}
		o.Members = append(o.Members, jsontree.Member{Key: kv[i].(string), Value: kv[i+1]})
	}
	return o
}

func (c Coding) full() *jsontree.Object {
	return obj("system", c.System, "code", c.Code, "display", c.Display)
}

// code is the coding without its display.
func (c Coding) code() *jsontree.Object { return obj("system", c.System, "code", c.Code) }

func codeable(c Coding) *jsontree.Object { return obj("coding", []any{c.full()}) }

func identifier(system, value string) *jsontree.Object {
	return obj("system", system, "value", value)
}

func (e *Event) agents(src Source) []any {
	role := e.clientRole
	if role.Code == "" {
		role = roleApp
	}
	client := obj("type", codeable(role))
	switch {
	case e.Client != nil:
		client.Set("who", obj("identifier", identifier(clientIDSystem, text(e.Client.ClientID)), "display", text(e.Client.ClientName)))
	case e.ClaimedClient != "":
		client.Set("who", obj("identifier", identifier(clientIDSystem, text(e.ClaimedClient)), "display", "unverified client id"))
	default:
		client.Set("who", obj("display", "unauthenticated client"))
	}
	client.Set("requestor", true)
	// BALP puts a token identifier in agent.policy, never the token.
	if e.Client != nil && e.Client.TokenID != "" {
		client.Set("policy", []any{"urn:vhdir:access-token:" + e.Client.TokenID})
	}
	if e.Address != "" {
		client.Set("network", obj("address", e.Address, "type", "2"))
	}
	serverRole := e.serverRole
	if serverRole.Code == "" {
		serverRole = roleSrc
	}
	server := obj("type", codeable(serverRole),
		"who", obj("identifier", identifier("urn:ietf:rfc:3986", src.FHIRBase), "display", "vhdir "+src.Site),
		"requestor", false,
		"network", obj("address", src.FHIRBase, "type", "5"))
	agents := []any{client, server}
	if e.Client != nil && e.Client.Organization != "" {
		agents = append(agents, obj("type", codeable(roleOrg),
			"who", obj("reference", e.Client.Organization, "display", text(e.Client.OrganizationName)), "requestor", false))
	}
	return agents
}

func (e *Event) entities() []any {
	var out []any
	if e.RequestID != "" {
		out = append(out, obj("what", obj("identifier", obj("value", e.RequestID)),
			"type", Coding{sysBALPEntity, "XrequestId", ""}.code()))
	}
	for _, en := range e.Entities {
		m := &jsontree.Object{}
		if en.What != "" {
			m.Set("what", obj("reference", en.What))
		}
		m.Set("type", en.Type.code())
		if en.Role.Code != "" {
			m.Set("role", en.Role.code())
		}
		// sev-1: name or query, not both.
		switch {
		case en.Query != nil:
			if en.Description != "" {
				m.Set("description", text(en.Description))
			}
			m.Set("query", base64.StdEncoding.EncodeToString(en.Query))
		case en.Name != "":
			m.Set("name", text(en.Name))
			if en.Description != "" {
				m.Set("description", text(en.Description))
			}
		case en.Description != "":
			m.Set("description", text(en.Description))
		}
		if len(en.Detail) > 0 {
			ds := make([]any, 0, len(en.Detail))
			for _, d := range en.Detail {
				ds = append(ds, obj("type", text(d.Type), "valueString", text(d.Value)))
			}
			m.Set("detail", ds)
		}
		out = append(out, m)
	}
	return out
}
