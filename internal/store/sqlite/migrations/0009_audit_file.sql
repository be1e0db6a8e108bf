-- The audit chain now lives in its own file (sqlite/auditfile.go), where
-- moveAuditToItsFile copied it before this migration: the database keeps
-- only audit_pending, a copy of the records each write chains from its
-- own transaction, for the one moment the database has committed and the
-- audit file not yet (sqlstore/auditfile.go): one row per group of records
-- appended at once, under the id of its last, their ids and bodies packed.
CREATE TABLE audit_pending (
    last_id TEXT NOT NULL PRIMARY KEY,
    items   BLOB NOT NULL
);
DROP TABLE main.audit_ref;
DROP TABLE main.audit_export_marks;
DROP TABLE main.audit_chain;
