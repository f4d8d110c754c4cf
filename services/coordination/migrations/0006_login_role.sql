-- depends: 0003_flows_and_deadlines
-- The service logs in to PostgreSQL as a role of its own (issue 12): bancheng_coordination may use
-- its own schema's rows (read, insert, change, delete) and sequences, and nothing else: it owns
-- no table (so it cannot ALTER, DROP or TRUNCATE one), has no right on another service's schema
-- and is no superuser. The owner who runs these migrations keeps every other right, and its
-- default privileges give the role the tables later migrations add. Roles are cluster-wide:
-- another database's migration (a test session's) may have made it already. Its password is
-- set by `python -m services.cli migrate` (DB_PASSWORD_COORDINATION).
DO $$
BEGIN
    CREATE ROLE bancheng_coordination LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA coordination TO bancheng_coordination;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA coordination TO bancheng_coordination;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA coordination TO bancheng_coordination;
ALTER DEFAULT PRIVILEGES IN SCHEMA coordination
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO bancheng_coordination;
ALTER DEFAULT PRIVILEGES IN SCHEMA coordination
    GRANT USAGE, SELECT ON SEQUENCES TO bancheng_coordination;
-- yoyo's own bookkeeping (its tables live in the schema too) is the owner's alone
DO $$
DECLARE
    yoyo_table text;
BEGIN
    FOR yoyo_table IN
        SELECT tablename FROM pg_tables WHERE schemaname = 'coordination' AND tablename LIKE '%yoyo%'
    LOOP
        EXECUTE format('REVOKE ALL ON coordination.%I FROM bancheng_coordination', yoyo_table);
    END LOOP;
END
$$;
