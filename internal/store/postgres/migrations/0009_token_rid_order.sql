-- A token's rows of one (group, code, system) in rid order: a search that
-- no condition drives reads each range in order and stops after a page
-- (sqlstore/walk.go). The value index held rid as a payload only, in
-- heap order.
CREATE INDEX idx_token_walk ON idx_token (grp, code, system, rid);
DROP INDEX idx_token_code;
ALTER INDEX idx_token_walk RENAME TO idx_token_code;

-- A per-row probe of a resource's tokens (rid = outer row, its code
-- compared) answered from the index alone, as SQLite's primary key
-- answers it: a chain's thousands of candidates probed for a specialty
-- read no table rows.
CREATE INDEX idx_token_probe ON idx_token (rid, grp) INCLUDE (code, system);
DROP INDEX idx_token_rid;
ALTER INDEX idx_token_probe RENAME TO idx_token_rid;
