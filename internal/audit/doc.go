// Package audit owns the audit trail: one FHIR AuditEvent per request,
// shaped after IHE Basic Audit Log Patterns (BALP), written durably before
// the response leaves (fail-closed), chained so that any edit, deletion or
// reordering is detected (store.AuditHash), and verified by Verify.
//
// Records reach the database two ways. Writes record theirs inside the
// write's own transaction (WriteTx), so data and record commit together or
// not at all. Everything else (reads, searches, refusals, token requests)
// is collected on the request's Trail and committed by Middleware through
// Log.Commit, which groups concurrent requests into one transaction (group
// commit) before their responses are released.
package audit
