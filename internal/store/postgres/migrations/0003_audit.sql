-- The audit chain (store.AuditHash, sqlstore/audit.go): one link per
-- AuditEvent, in commit order. The AuditEvent itself is an ordinary row of
-- resources. seq is assigned by the appender under a lock (not a sequence)
-- so that links are gap-free: a gap is a deleted record.
CREATE TABLE audit_chain (
    seq    BIGINT NOT NULL PRIMARY KEY,
    res_id TEXT COLLATE "C" NOT NULL,
    prev   BYTEA  NOT NULL,
    hash   BYTEA  NOT NULL
);
