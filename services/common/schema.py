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
