-- depends: 0007_keyed_audit_trail
-- Tables and sequences later migrations add to the schema are the service role's to use as
-- well (0007 granted those that existed); the audit trail keeps its narrower grant.

ALTER DEFAULT PRIVILEGES IN SCHEMA accountability
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO bancheng_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA accountability
    GRANT USAGE, SELECT ON SEQUENCES TO bancheng_service;
