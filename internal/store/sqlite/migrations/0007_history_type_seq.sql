-- A type's current versions newest first: type history, and system history
-- narrowed to the types a caller may see, read one limited scan per type
-- rather than sorting the type or stepping over every other type's rows
-- (AuditEvents above all) on resources_seq.
CREATE INDEX resources_type_seq ON resources (type, seq);
