package audit

import (
	"encoding/base64"
	"time"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// appendRecord appends e as the AuditEvent id recorded at recorded, the
// exact bytes stored, served and chained: R4's element order, meta as
// fhir.SetMeta writes it (versionId 1, lastUpdated to the millisecond),
// members with empty text left out. It writes straight into b (no tree,
// no parse, no second encoding): a record costs a few microseconds on the
// request's own goroutine. Every string a request can put in a record goes
// through text, so any request can be recorded; TestRecordBytes checks the
// output against the AuditEvent built as a tree and validated.
func (e *Event) appendRecord(b []byte, src Source, id string, recorded time.Time) []byte {
	stamp := recorded.UTC().AppendFormat(make([]byte, 0, 24), "2006-01-02T15:04:05.000Z")
	b = append(b, `{"resourceType":"AuditEvent","id":`...)
	b = jsontree.AppendString(b, id)
	b = append(b, `,"meta":{"versionId":"1","lastUpdated":"`...)
	b = append(b, stamp...)
	b = append(b, '"')
	if e.Profile != "" {
		b = append(b, `,"profile":[`...)
		b = jsontree.AppendString(b, balpProfile+e.Profile)
		b = append(b, ']')
	}
	b = append(b, '}')
	if src.TimeSource != "" {
		b = append(b, `,"extension":[{"url":"`+extTimeSource+`","valueString":`...)
		b = jsontree.AppendString(b, src.TimeSource)
		b = append(b, "}]"...)
	}
	// Codings that are searched carry no display: the codes are standard,
	// and a display would only make every record longer.
	b = append(b, `,"type":`...)
	b = e.Type.appendCode(b)
	if e.Subtype.Code != "" {
		b = append(b, `,"subtype":[`...)
		b = e.Subtype.appendCode(b)
		b = append(b, ']')
	}
	b = member(b, ",", "action", e.Action)
	b = append(b, `,"recorded":"`...)
	b = append(b, stamp...)
	b = append(b, '"')
	b = append(b, `,"outcome":`...)
	b = jsontree.AppendString(b, e.Outcome)
	if e.OutcomeDesc != "" {
		b = append(b, `,"outcomeDesc":`...)
		b = jsontree.AppendString(b, text(e.OutcomeDesc))
	}
	b = append(b, `,"agent":[`...)
	b = e.appendAgents(b, src)
	b = append(b, `],"source":{`...)
	sep := ""
	if src.Site != "" {
		b = member(b, "", "site", src.Site)
		sep = ","
	}
	b = append(b, sep+`"observer":{"identifier":{"system":"urn:ietf:rfc:3986"`...)
	b = member(b, ",", "value", src.FHIRBase)
	b = append(b, `},"display":`...)
	b = jsontree.AppendString(b, "vhdir "+src.Site)
	b = append(b, `},"type":[`...)
	b = Coding{sysSourceType, "4", "Application Server"}.appendFull(b)
	b = append(b, "]}"...)
	b = e.appendEntities(b)
	return append(b, '}')
}

// member appends sep"key":"value", or nothing for empty text.
func member(b []byte, sep, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, sep...)
	b = jsontree.AppendString(b, key)
	b = append(b, ':')
	return jsontree.AppendString(b, value)
}

// appendCode appends the coding without its display.
func (c Coding) appendCode(b []byte) []byte {
	b = append(b, '{')
	return append(c.appendMembers(b, false), '}')
}

// appendFull appends the coding with its display.
func (c Coding) appendFull(b []byte) []byte {
	b = append(b, '{')
	return append(c.appendMembers(b, true), '}')
}

func (c Coding) appendMembers(b []byte, display bool) []byte {
	start := len(b)
	for _, kv := range [3][2]string{{"system", c.System}, {"code", c.Code}, {"display", c.Display}} {
		if kv[0] == "display" && !display {
			break
		}
		sep := ","
		if len(b) == start {
			sep = ""
		}
		b = member(b, sep, kv[0], kv[1])
	}
	return b
}

// appendCodeable appends a CodeableConcept of one full coding.
func appendCodeable(b []byte, c Coding) []byte {
	b = append(b, `{"coding":[`...)
	b = c.appendFull(b)
	return append(b, "]}"...)
}

// appendAgents appends the client, the server and, for a client with an
// organization, the organization it acts for.
func (e *Event) appendAgents(b []byte, src Source) []byte {
	role := e.clientRole
	if role.Code == "" {
		role = roleApp
	}
	b = append(b, `{"type":`...)
	b = appendCodeable(b, role)
	b = append(b, `,"who":{`...)
	switch {
	case e.Client != nil:
		b = appendIdentifier(b, clientIDSystem, text(e.Client.ClientID))
		b = member(b, ",", "display", text(e.Client.ClientName))
	case e.ClaimedClient != "":
		b = appendIdentifier(b, clientIDSystem, text(e.ClaimedClient))
		b = append(b, `,"display":"unverified client id"`...)
	default:
		b = append(b, `"display":"unauthenticated client"`...)
	}
	b = append(b, `},"requestor":true`...)
	// BALP puts a token identifier in agent.policy, never the token.
	if e.Client != nil && e.Client.TokenID != "" {
		b = append(b, `,"policy":[`...)
		b = jsontree.AppendString(b, "urn:vhdir:access-token:"+e.Client.TokenID)
		b = append(b, ']')
	}
	if e.Address != "" {
		b = append(b, `,"network":{`...)
		b = member(b, "", "address", e.Address)
		b = append(b, `,"type":"2"}`...)
	}
	serverRole := e.serverRole
	if serverRole.Code == "" {
		serverRole = roleSrc
	}
	b = append(b, `},{"type":`...)
	b = appendCodeable(b, serverRole)
	b = append(b, `,"who":{`...)
	b = appendIdentifier(b, "urn:ietf:rfc:3986", src.FHIRBase)
	b = append(b, `,"display":`...)
	b = jsontree.AppendString(b, "vhdir "+src.Site)
	b = append(b, `},"requestor":false,"network":{`...)
	if src.FHIRBase != "" {
		b = member(b, "", "address", src.FHIRBase)
		b = append(b, ',')
	}
	b = append(b, `"type":"5"}}`...)
	if e.Client != nil && e.Client.Organization != "" {
		b = append(b, `,{"type":`...)
		b = appendCodeable(b, roleOrg)
		b = append(b, `,"who":{`...)
		b = member(b, "", "reference", e.Client.Organization)
		b = member(b, ",", "display", text(e.Client.OrganizationName))
		b = append(b, `},"requestor":false}`...)
	}
	return b
}

// appendIdentifier appends "identifier":{system, value} (value left out
// when empty).
func appendIdentifier(b []byte, system, value string) []byte {
	b = append(b, `"identifier":{`...)
	b = member(b, "", "system", system)
	b = member(b, ",", "value", value)
	return append(b, '}')
}

// appendEntities appends ,"entity":[…]: the request id, then e's
// entities; nothing when there are none.
func (e *Event) appendEntities(b []byte) []byte {
	if e.RequestID == "" && len(e.Entities) == 0 {
		return b
	}
	b = append(b, `,"entity":[`...)
	sep := ""
	if e.RequestID != "" {
		b = append(b, `{"what":{"identifier":{`...)
		b = member(b, "", "value", e.RequestID)
		b = append(b, `}},"type":`...)
		b = Coding{sysBALPEntity, "XrequestId", ""}.appendCode(b)
		b = append(b, '}')
		sep = ","
	}
	for _, en := range e.Entities {
		b = append(b, sep...)
		sep = ","
		b = en.append(b)
	}
	return append(b, ']')
}

// append appends one entity.
func (en *Entity) append(b []byte) []byte {
	b = append(b, '{')
	if en.What != "" {
		b = append(b, `"what":{`...)
		b = member(b, "", "reference", en.What)
		b = append(b, "},"...)
	}
	b = append(b, `"type":`...)
	b = en.Type.appendCode(b)
	if en.Role.Code != "" {
		b = append(b, `,"role":`...)
		b = en.Role.appendCode(b)
	}
	// sev-1: name or query, not both.
	switch {
	case en.Query != nil:
		b = member(b, ",", "description", text(en.Description))
		b = append(b, `,"query":"`...)
		b = base64.StdEncoding.AppendEncode(b, en.Query)
		b = append(b, '"')
	case en.Name != "":
		b = member(b, ",", "name", text(en.Name))
		b = member(b, ",", "description", text(en.Description))
	default:
		b = member(b, ",", "description", text(en.Description))
	}
	if len(en.Detail) > 0 {
		b = append(b, `,"detail":[`...)
		for i, d := range en.Detail {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = member(b, "", "type", text(d.Type))
			sep := ","
			if text(d.Type) == "" {
				sep = ""
			}
			b = member(b, sep, "valueString", text(d.Value))
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
