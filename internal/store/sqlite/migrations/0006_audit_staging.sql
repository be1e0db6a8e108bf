-- An AuditEvent's body is committed with its chain link, and the request
-- it records waits only for that one row; the indexer later stores the
-- AuditEvent as a resource with its index rows and clears the staged
-- body (NULL), so each record is kept once (store.Tx.IndexAudit). Links
-- written before this migration have NULL here and their resources already.
ALTER TABLE audit_chain ADD COLUMN body BLOB;
