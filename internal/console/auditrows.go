package console

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// auditRow is one record as the console lists it.
type auditRow struct {
	ID       string
	Recorded time.Time
	Action   string
	Outcome  string // the code: 0 success, 4 minor, 8 serious, 12 major failure
	Failed   bool
	Type     string // subtype code, else type code
	Client   string
	// Organization is the Organization among the agents, Entities the
	// entity references (Type/id or URL).
	Organization string
	Entities     []string
	Address      string
	RequestID    string
	// Text is the record's outcomeDesc.
	Text string
}

// auditRows reads the records of a searchset Bundle of AuditEvents.
func auditRows(b *bundle) ([]auditRow, error) {
	rows := make([]auditRow, 0, len(b.Entry))
	for _, e := range b.Entry {
		if e.Search != nil && e.Search.Mode != "" && e.Search.Mode != "match" {
			continue
		}
		row, err := auditRowOf(e.Resource)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// auditRowOf reads one record's row from its bytes.
func auditRowOf(body []byte) (auditRow, error) {
	f, err := store.AuditFieldsOf(body)
	if err != nil {
		return auditRow{}, fmt.Errorf("console: audit record: %w", err)
	}
	var head struct {
		ID          string `json:"id"`
		OutcomeDesc string `json:"outcomeDesc"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return auditRow{}, fmt.Errorf("console: audit record: %w", err)
	}
	row := auditRow{ID: head.ID, Recorded: f.Recorded, Action: f.Action, Outcome: f.Outcome, Failed: f.Outcome != "" && f.Outcome != "0",
		Type: f.Type.Code, Client: f.Client, Address: f.Address, RequestID: f.RequestID, Text: head.OutcomeDesc}
	if f.Subtype.Code != "" {
		row.Type = f.Subtype.Code
	}
	for _, r := range f.Refs {
		switch {
		case !r.Entity && r.Type == "Organization":
			row.Organization = r.Key()
		case r.Entity:
			row.Entities = append(row.Entities, r.Key())
		}
	}
	return row, nil
}
