package audit

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/vhdir/vhdir/internal/bulk"
	"github.com/vhdir/vhdir/internal/interaction"
)

// typeExport is DICOM's "Export": data leaving the system in bulk.
var typeExport = Coding{sysDCM, "110106", "Export"}

var exportDisplays = map[bulk.Kind]string{
	bulk.KickOff:  "$export kick-off",
	bulk.Status:   "$export status",
	bulk.Cancel:   "$export cancellation",
	bulk.Download: "$export file download",
}

// ForExport is the record of one bulk export request: the kick-off (with
// its query and the types exported), a status poll, a cancellation, or a
// file download (the file, its type and its line count).
func ForExport(rec bulk.Record, client *interaction.Caller) *Event {
	e := &Event{Type: typeExport, Subtype: Coding{sysVhdirEvent, string(rec.Kind), exportDisplays[rec.Kind]}, Action: "R",
		Outcome: outcomeOf(rec.Status), Client: client, clientRole: roleDest, serverRole: roleSrc}
	if rec.Kind == bulk.KickOff {
		e.Action = "E"
	}
	if rec.Kind == bulk.Cancel {
		e.Action, e.clientRole, e.serverRole = "D", roleApp, roleDest
	}
	if rec.Err != nil {
		_, e.OutcomeDesc = describe(rec.Err)
	} else if e.Outcome != Success {
		e.OutcomeDesc = http.StatusText(rec.Status)
	}
	if rec.Kind == bulk.KickOff {
		q := firstLine(rec.Method, rec.URI)
		if len(rec.Body) > 0 {
			q += "\n\n" + string(rec.Body)
		}
		e.Entities = append(e.Entities, queryEntity(q, ""))
	}
	if rec.Job != "" {
		job := Entity{Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "20", "Job"}, Name: "export job " + rec.Job}
		if len(rec.Types) > 0 {
			job.Description = "types: " + strings.Join(rec.Types, ", ")
		}
		e.Entities = append(e.Entities, job)
	}
	if rec.Kind == bulk.Download && rec.File != "" {
		f := Entity{Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "3", "Report"}, Name: rec.File}
		if rec.FileType != "" {
			f.Description = fmt.Sprintf("%d %s lines", rec.Count, rec.FileType)
		}
		if rec.Subsetted > 0 {
			f.Detail = append(f.Detail, Detail{"usage-restriction", fmt.Sprintf("subsetted: %d of the lines", rec.Subsetted)})
		}
		e.Entities = append(e.Entities, f)
	}
	return e
}
