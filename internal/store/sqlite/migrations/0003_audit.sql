-- The audit chain (store.AuditHash, sqlstore/audit.go): one link per
-- AuditEvent, in commit order. The AuditEvent itself is an ordinary row of
-- resources. seq is assigned by the appender under a lock (not a sequence)
-- so that links are gap-free: a gap is a deleted record.
CREATE TABLE audit_chain (
    seq    INTEGER PRIMARY KEY, -- the rowid
    res_id TEXT   NOT NULL,
    prev   BLOB   NOT NULL,
    hash   BLOB   NOT NULL
);
