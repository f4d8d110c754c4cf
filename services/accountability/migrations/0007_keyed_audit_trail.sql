-- depends: 0006_separated_duties
-- The audit trail keyed (services/accountability/chain.py): each entry names the key its MAC
-- was made with; entries written before are unkeyed sha256 ('sha256', accepted only as the
-- chain's prefix). Adding a column with a constant default rewrites no row and fires no trigger.

ALTER TABLE accountability.audit_log ADD COLUMN key_id text NOT NULL DEFAULT 'sha256';
ALTER TABLE accountability.audit_log ALTER COLUMN key_id DROP DEFAULT;

-- The role the services are meant to run as: it may read and append to the trail but neither
-- change, delete nor truncate it, and, not owning the table, cannot ALTER it or DISABLE its
-- triggers. The owner (who runs these migrations) is another role. Roles are cluster-wide:
-- every database's migration (the test sessions' too) may find it made already.
DO $$
BEGIN
    CREATE ROLE bancheng_service NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA accountability TO bancheng_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA accountability TO bancheng_service;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA accountability TO bancheng_service;
REVOKE UPDATE, DELETE, TRUNCATE ON accountability.audit_log FROM PUBLIC, bancheng_service;
GRANT SELECT, INSERT ON accountability.audit_log TO bancheng_service;
