package audit

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vhdir/vhdir/internal/store"
)

// fields returns the values auditors search e by, as store.AuditFieldsOf
// reads them from e.appendRecord(…, src, id, recorded), without writing or
// parsing anything (TestFieldsOfRecord checks that both agree).
func (e *Event) fields(src Source, recorded time.Time) store.AuditFields {
	f := store.AuditFields{
		Recorded: recorded.UTC().Truncate(time.Millisecond),
		Action:   asJSON(e.Action), Outcome: asJSON(e.Outcome),
		Type:      store.AuditCode{System: asJSON(e.Type.System), Code: asJSON(e.Type.Code)},
		Address:   asJSON(e.Address),
		Source:    asJSON(src.FHIRBase),
		RequestID: asJSON(e.RequestID),
	}
	if e.Subtype.Code != "" {
		f.Subtype = store.AuditCode{System: asJSON(e.Subtype.System), Code: asJSON(e.Subtype.Code)}
	}
	if e.Profile != "" {
		f.Profile = asJSON(balpProfile + e.Profile)
	}
	switch {
	case e.Client != nil:
		f.Client = text(e.Client.ClientID)
		if e.Client.TokenID != "" {
			f.Policy = asJSON("urn:vhdir:access-token:" + e.Client.TokenID)
		}
	case e.ClaimedClient != "":
		f.Client = text(e.ClaimedClient)
	}
	if n := e.refCount(); n > 0 {
		f.Refs = make([]store.AuditRef, 0, n)
	}
	if e.Client != nil && e.Client.Organization != "" {
		f.Refs = append(f.Refs, store.ParseAuditRef(asJSON(e.Client.Organization), false))
	}
	for _, en := range e.Entities {
		if en.What != "" {
			f.Refs = append(f.Refs, store.ParseAuditRef(asJSON(en.What), true))
		}
	}
	return f
}

// refCount is how many references fields keeps of e: its client's
// organization and the entities' what.
func (e *Event) refCount() int {
	n := 0
	if e.Client != nil && e.Client.Organization != "" {
		n++
	}
	for _, en := range e.Entities {
		if en.What != "" {
			n++
		}
	}
	return n
}

// asJSON is s as it reads back from the record: jsontree.AppendString
// writes each byte of invalid UTF-8 as U+FFFD.
func asJSON(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
