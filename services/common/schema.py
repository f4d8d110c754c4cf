"""The tables every service keeps in its own schema: outbox, handled events and timeline.

Each service's first migration calls :func:`infrastructure_steps` so the shapes stay the same
everywhere while each service still owns (and migrates) its own copy.
"""

from yoyo import step


def infrastructure_steps(schema: str) -> list:
    return [
        step(
            f"""
            CREATE TABLE {schema}.outbox (
                position     bigserial PRIMARY KEY,
                event_id     uuid NOT NULL UNIQUE,
                event_type   text NOT NULL,
                payload      jsonb NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT now(),
                published_at timestamptz
            );
            CREATE INDEX outbox_unpublished ON {schema}.outbox (position)
                WHERE published_at IS NULL;
            """,
            f"DROP TABLE {schema}.outbox",
        ),
        step(
            f"""
            CREATE TABLE {schema}.handled_events (
                event_id   uuid PRIMARY KEY,
                event_type text NOT NULL,
                handled_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            f"DROP TABLE {schema}.handled_events",
        ),
        step(
            f"""
            CREATE TABLE {schema}.timeline (
                id       bigserial PRIMARY KEY,
                case_no  text NOT NULL,
                at       timestamptz NOT NULL DEFAULT now(),
                actor    text,
                kind     text NOT NULL,
                text     text NOT NULL,
                data     jsonb NOT NULL DEFAULT '{{}}'::jsonb
            );
            CREATE INDEX timeline_case ON {schema}.timeline (case_no, at);
            """,
            f"DROP TABLE {schema}.timeline",
        ),
    ]


def login_role_steps(schema: str) -> list:
    """The service's own login role (DESIGN §7): ``bancheng_<schema>`` may read, insert, change
    and delete its own schema's rows and use its sequences, and nothing else. It owns no table
    (so it cannot ALTER, DROP or TRUNCATE one), has no right on another service's schema and is
    no superuser; the owner who runs the migrations keeps every other right, and its default
    privileges give the role the tables later migrations add. Roles are cluster-wide: another
    database's migration (a test session's) may have made it already. Its password is set by
    ``python -m services.cli migrate`` (``DB_PASSWORD_<SCHEMA>``)."""
    role = f"bancheng_{schema}"
    return [
        step(
            f"""
            DO $$
            BEGIN
                CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END
            $$;
            GRANT USAGE ON SCHEMA {schema} TO {role};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
            ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}
                GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
            ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}
                GRANT USAGE, SELECT ON SEQUENCES TO {role};
            """
        ),
        # yoyo's own bookkeeping (its tables live in the schema too) is the owner's alone
        step(
            f"""
            DO $$
            DECLARE
                yoyo_table text;
            BEGIN
                FOR yoyo_table IN
                    SELECT tablename FROM pg_tables
                    WHERE schemaname = '{schema}' AND tablename LIKE '%yoyo%'
                LOOP
                    EXECUTE format('REVOKE ALL ON {schema}.%I FROM {role}', yoyo_table);
                END LOOP;
            END
            $$;
            """
        ),
    ]
