-- depends: 0004_one_cause_wording
-- The service logs in to PostgreSQL as a role of its own (issue 12): bancheng_reporting may use
-- its own schema's rows (read, insert, change, delete) and sequences, and nothing else: it owns
-- no table (so it cannot ALTER, DROP or TRUNCATE one), has no right on another service's schema
-- and is no superuser. The owner who runs these migrations keeps every other right, and its
-- default privileges give the role the tables later migrations add. Roles are cluster-wide:
-- another database's migration (a test session's) may have made it already. Its password is
-- set by `python -m services.cli migrate` (DB_PASSWORD_REPORTING).
DO $$
BEGIN
    CREATE ROLE bancheng_reporting LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA reporting TO bancheng_reporting;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA reporting TO bancheng_reporting;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA reporting TO bancheng_reporting;
ALTER DEFAULT PRIVILEGES IN SCHEMA reporting
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO bancheng_reporting;
ALTER DEFAULT PRIVILEGES IN SCHEMA reporting
    GRANT USAGE, SELECT ON SEQUENCES TO bancheng_reporting;
-- yoyo's own bookkeeping (its tables live in the schema too) is the owner's alone
DO $$
DECLARE
    yoyo_table text;
BEGIN
    FOR yoyo_table IN
        SELECT tablename FROM pg_tables WHERE schemaname = 'reporting' AND tablename LIKE '%yoyo%'
    LOOP
        EXECUTE format('REVOKE ALL ON reporting.%I FROM bancheng_reporting', yoyo_table);
    END LOOP;
END
$$;
