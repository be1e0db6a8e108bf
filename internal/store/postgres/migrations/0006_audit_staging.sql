-- An AuditEvent's body is committed with its chain link, and the request
-- it records waits only for that one row; the indexer later stores the
-- AuditEvent as a resource with its index rows and clears the staged
-- body (NULL), so each record is kept once (store.Tx.IndexAudit). Links
-- written before this migration have NULL here and their resources already.
ALTER TABLE audit_chain ADD COLUMN body BYTEA;

-- The chain's last link, read after the chain's advisory lock is taken:
-- one round trip for both (sqlstore.Dialect.AuditHead). Each statement of
-- a VOLATILE function takes a fresh snapshot under READ COMMITTED, so the
-- read sees every link committed while the lock was awaited.
-- (The body is on one line: migrations are split at lines ending in ";".)
CREATE FUNCTION vhdir_audit_head(lock_key BIGINT) RETURNS TABLE (seq BIGINT, hash BYTEA)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN PERFORM pg_advisory_xact_lock(lock_key); RETURN QUERY SELECT c.seq, c.hash FROM audit_chain c ORDER BY c.seq DESC LIMIT 1; END
$$;
