-- Auditors read a client's, an organization's (agent) or a resource's
-- (entity) records newest first: the time after the value, so that such a
-- page is one backward range of its index, however many records the value
-- has.
DROP INDEX audit_chain_client;
DROP INDEX audit_chain_agent;
DROP INDEX audit_chain_entity;
CREATE INDEX audit_chain_client ON audit_chain (client, recorded, seq);
CREATE INDEX audit_chain_agent ON audit_chain (agent, recorded, seq);
CREATE INDEX audit_chain_entity ON audit_chain (entity, recorded, seq);
