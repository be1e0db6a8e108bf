-- The audit chain now lives in its own file (sqlite/auditfile.go), where
-- moveAuditToItsFile copied it before this migration: the database keeps
-- only audit_pending, a copy of the records each write chains from its
-- own transaction, for the one moment the database has committed and the
-- audit file not yet (sqlstore/auditfile.go).
CREATE TABLE audit_pending (
    res_id TEXT NOT NULL PRIMARY KEY,
    body   BLOB NOT NULL
);
DROP TABLE main.audit_ref;
DROP TABLE main.audit_export_marks;
DROP TABLE main.audit_chain;
