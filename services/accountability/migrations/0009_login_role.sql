-- depends: 0008_service_role_default_privileges
-- Accountability logs in to PostgreSQL as a role of its own (issue 12): bancheng_accountability
-- is a member of bancheng_service (migration 0007) and has its rights alone: its own schema's
-- rows, but on the audit trail only SELECT and INSERT; it owns no table, so it cannot ALTER,
-- DISABLE TRIGGER, TRUNCATE or DROP the trail, has no right on another service's schema and is
-- no superuser. The owner who runs these migrations keeps every other right. Roles are
-- cluster-wide: another database's migration may have made it already. Its password is set by
-- `python -m services.cli migrate` (DB_PASSWORD_ACCOUNTABILITY).
DO $$
BEGIN
    CREATE ROLE bancheng_accountability LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

DO $$
BEGIN
    IF NOT pg_has_role('bancheng_accountability', 'bancheng_service', 'MEMBER') THEN
        GRANT bancheng_service TO bancheng_accountability;
    END IF;
EXCEPTION WHEN unique_violation THEN
    NULL;  -- granted meanwhile by another database's migration
END
$$;

-- yoyo's own bookkeeping (0007 granted every table of the schema) is the owner's alone
DO $$
DECLARE
    yoyo_table text;
BEGIN
    FOR yoyo_table IN
        SELECT tablename FROM pg_tables
        WHERE schemaname = 'accountability' AND tablename LIKE '%yoyo%'
    LOOP
        EXECUTE format('REVOKE ALL ON accountability.%I FROM bancheng_service', yoyo_table);
    END LOOP;
END
$$;
