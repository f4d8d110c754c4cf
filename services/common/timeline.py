"""Each service's timeline of a case: what it did, who and when (SQL on ``<schema>.timeline``)."""

from psycopg.types.json import Jsonb

from services.common.postgres import defer, flush_deferred


def add_entry(
    cur, schema: str, case_no: str, actor: str | None, kind: str, text: str, data=None
) -> None:
    # nothing reads it back in the same transaction but entries(), which flushes first
    defer(
        cur,
        f"INSERT INTO {schema}.timeline (case_no, actor, kind, text, data) VALUES (%s, %s, %s, %s, %s)",
        (case_no, actor, kind, text, Jsonb(data or {})),
    )


def add_entries(cur, schema: str, entries) -> None:
    """Many entries (case_no, actor, kind, text, data) in one COPY: a batch's."""
    if not entries:
        return
    with cur.copy(f"COPY {schema}.timeline (case_no, actor, kind, text, data) FROM STDIN") as copy:
        for case_no, actor, kind, text, data in entries:
            copy.write_row((case_no, actor, kind, text, Jsonb(data or {})))


def entries(cur, schema: str, case_no: str) -> list[dict]:
    flush_deferred(cur)
    cur.execute(
        f"SELECT at, actor, kind, text, data FROM {schema}.timeline WHERE case_no = %s ORDER BY at, id",
        (case_no,),
    )
    return [{**row, "service": schema} for row in cur.fetchall()]
