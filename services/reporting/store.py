"""Reporting's SQL: the event log, the read models, the counters and the gauges.

Every function takes the transaction's cursor first (handlers reach them bound to it through
their unit of work), except :func:`logged_events`, which opens a server-side cursor on the
replay's connection; ``<thing>_for_update`` reads a row locked for the rest of the transaction.
"""

import json

import psycopg
from psycopg.types.json import Jsonb

from services.common import timeline
from services.common.postgres import defer
from services.reporting import precedents
from services.reporting.domain import CASE_FIELDS, MEETING_FIELDS
from services.reporting.precedents import PRECEDENT_FIELDS

SCHEMA = "reporting"

READ_MODELS = (
    "cases",
    "joint_meetings",
    "monthly_counts",
    "gauges",
    "precedents",
    "precedent_texts",
)
# how each read model is ordered when rows are compared (replay against live)
READ_MODEL_KEYS = {
    "cases": "case_no",
    "precedents": "case_no",
    "precedent_texts": "matter, case_no",
    "joint_meetings": "meeting_id",
    "monthly_counts": "month, site, dimension, key",
    "gauges": "metric, labels",
}
# counters and gauges at zero say nothing: they are left out of comparisons
NONZERO = {"monthly_counts": "value <> 0", "gauges": "value <> 0"}


def log_event_once(cur, event: dict) -> bool:
    """Record ``event`` as handled and append it to the log, in one statement (the
    transaction's first: it travels with the BEGIN); False for a redelivery (its id is among
    the handled events) or an event whose id is already in the log."""
    cur.execute(
        "WITH handled AS ("
        "INSERT INTO reporting.handled_events (event_id, event_type) "
        "VALUES (%(id)s::uuid, %(type)s::text) ON CONFLICT (event_id) DO NOTHING "
        "RETURNING event_id, event_type), "
        "logged AS ("
        "INSERT INTO reporting.event_log (event_id, event_type, source_service, occurred_at, payload) "
        "SELECT event_id, event_type, %(source)s::text, %(at)s::timestamptz, %(payload)s::jsonb "
        "FROM handled ON CONFLICT (event_id) DO NOTHING RETURNING event_id) "
        "SELECT count(*) AS logged FROM logged",
        {
            "id": event["id"],
            "type": event["type"],
            "source": event["source_service"],
            "at": event["occurred_at"],
            "payload": Jsonb(event),
        },
    )
    return cur.fetchone()["logged"] == 1


# --------------------------------------------------------------------------- rows


# the read models with one row per thing: table -> (key column, columns)
ROWS = {
    "cases": ("case_no", CASE_FIELDS),
    "joint_meetings": ("meeting_id", MEETING_FIELDS),
    "precedents": ("case_no", PRECEDENT_FIELDS),
}


def _lock_statement(table: str) -> str:
    """The statement that makes a row blank if it is new (so two consumers serialise on it)
    and locks it: it returns the inserted blank row or else the existing one, locked. When
    another transaction inserted the row while this statement waited for it, the row is not in
    the statement's snapshot and none is returned: :func:`_relock` then reads it."""
    key_column, columns = ROWS[table]
    listed = ", ".join(columns)
    return (
        f"WITH inserted AS (INSERT INTO reporting.{table} ({key_column}) VALUES (%(key)s::text) "
        f"ON CONFLICT ({key_column}) DO NOTHING RETURNING {listed}), "
        f"existing AS (SELECT {listed} FROM reporting.{table} "
        f"WHERE {key_column} = %(key)s::text FOR UPDATE) "
        "SELECT * FROM inserted UNION ALL SELECT * FROM existing"
    )


def _relock(cur, table: str, key) -> dict:
    """The row another transaction inserted while :func:`_lock_statement` waited, locked."""
    key_column, columns = ROWS[table]
    cur.execute(
        f"SELECT {', '.join(columns)} FROM reporting.{table} WHERE {key_column} = %s FOR UPDATE",
        (key,),
    )
    return cur.fetchone()


def _row_for_update(cur, table: str, key) -> dict:
    """A row made blank if it is new, then locked (:func:`_lock_statement`)."""
    cur.execute(_lock_statement(table), {"key": key})
    row = cur.fetchone()
    return row if row is not None else _relock(cur, table, key)


def _rows_for_update(cur, wanted: list[tuple[str, str]]) -> list[dict]:
    """The rows ``wanted`` [(table, key)], each as :func:`_row_for_update` takes it and in that
    order (the lock order), in one round trip: the statements bound here and sent as one text
    (the simple protocol runs them one after the other)."""
    if len(wanted) == 1:
        return [_row_for_update(cur, *wanted[0])]
    binder = psycopg.ClientCursor(cur.connection)
    cur.execute(
        "; ".join(binder.mogrify(_lock_statement(table), {"key": key}) for table, key in wanted),
        prepare=False,
    )
    rows = [cur.fetchone()]
    while cur.nextset():  # one result per statement, in order
        rows.append(cur.fetchone())
    return [
        row if row is not None else _relock(cur, table, key)
        for row, (table, key) in zip(rows, wanted, strict=True)
    ]


def _save_row(cur, table: str, row: dict) -> None:
    """Write the row locked by :func:`_row_for_update`: with the COMMIT (nothing in the
    transaction reads it again)."""
    key_column, columns = ROWS[table]
    assignments = ", ".join(f"{name} = %({name})s" for name in columns if name != key_column)
    defer(
        cur,
        f"UPDATE reporting.{table} SET {assignments} WHERE {key_column} = %({key_column})s",
        row,
    )


def case_for_update(cur, case_no: str) -> dict:
    """The case row, locked for this transaction (an empty row when it is new)."""
    return _row_for_update(cur, "cases", case_no)


def save_case(cur, case: dict) -> None:
    """Write every field of a case row taken with :func:`case_for_update`."""
    loop = case["bad_rating"]
    _save_row(
        cur,
        "cases",
        {
            **case,
            "deadlines": Jsonb(case["deadlines"]),
            "bad_rating": Jsonb(loop) if loop else None,
        },
    )


def cases_and_precedent_for_update(
    cur, case_nos: list[str], precedent_case: str | None
) -> tuple[list[dict], dict | None]:
    """The case rows (in the order given: by number) and the case's precedent row (None when
    ``precedent_case`` is), each as :func:`case_for_update` and :func:`precedent_for_update`
    take it, locked in that order, in one round trip."""
    wanted = [precedent_case] if precedent_case is not None else []
    cases, found = cases_and_precedents_for_update(cur, case_nos, wanted)
    return cases, (found[0] if found else None)


def cases_and_precedents_for_update(
    cur, case_nos: list[str], precedent_cases: list[str]
) -> tuple[list[dict], list[dict]]:
    """The case rows, then the precedent rows of ``precedent_cases`` (each list in the order
    given: by number), as :func:`case_for_update` and :func:`precedent_for_update` take them,
    locked in that order, in one round trip (a batch's hundreds of cases too)."""
    wanted = [("cases", case_no) for case_no in case_nos]
    wanted += [("precedents", case_no) for case_no in precedent_cases]
    rows = _rows_for_update(cur, wanted) if wanted else []
    return rows[: len(case_nos)], rows[len(case_nos) :]


def meeting_for_update(cur, meeting_id: str) -> dict:
    """The joint meeting's row, locked for this transaction (an empty row when it is new)."""
    return _row_for_update(cur, "joint_meetings", meeting_id)


def save_meeting(cur, meeting: dict) -> None:
    """Write every field of a meeting row taken with :func:`meeting_for_update`."""
    _save_row(cur, "joint_meetings", meeting)


def precedent_for_update(cur, case_no: str) -> dict:
    """The case's precedent row, locked for this transaction (an empty row when it is new)."""
    return _row_for_update(cur, "precedents", case_no)


def save_precedent(cur, precedent: dict, previous: dict) -> None:
    """Write every field of a precedent row taken with :func:`precedent_for_update` (as it was:
    ``previous``), and keep its compared text among the settled ones' exactly while it is one."""
    _save_row(cur, "precedents", precedent)
    if precedents.compared(previous):
        defer(
            cur,
            "DELETE FROM reporting.precedent_texts WHERE matter = %s AND case_no = %s",
            (previous["matter"], previous["case_no"]),
        )
    if precedents.compared(precedent):
        defer(
            cur,
            "INSERT INTO reporting.precedent_texts (matter, case_no, search_text) "
            "VALUES (%(matter)s, %(case_no)s, %(search_text)s)",
            precedent,
        )


def add_counts(cur, deltas: dict) -> None:
    """Move monthly counters by ``deltas`` {(month, site, dimension, key): n}, in key order, in
    one statement sent with the COMMIT."""
    rows = sorted(deltas.items(), key=lambda item: item[0])
    if rows:
        defer(
            cur,
            "INSERT INTO reporting.monthly_counts (month, site, dimension, key, value) "
            "SELECT * FROM unnest(%s::date[], %s::text[], %s::text[], %s::text[], %s::bigint[]) "
            "ON CONFLICT (month, site, dimension, key) "
            "DO UPDATE SET value = monthly_counts.value + EXCLUDED.value",
            [list(column) for column in zip(*((*key, value) for key, value in rows), strict=True)],
        )


def add_gauges(cur, deltas: dict) -> None:
    """Move gauges by ``deltas`` {(metric, labels): n}, in key order (no deadlocks), in one
    statement sent with the COMMIT."""
    rows = sorted(deltas.items(), key=lambda item: item[0])
    if rows:
        defer(
            cur,
            "INSERT INTO reporting.gauges (metric, labels, value) "
            "SELECT metric, labels::jsonb, value "
            "FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS d (metric, labels, value) "
            "ON CONFLICT (metric, labels) DO UPDATE SET value = gauges.value + EXCLUDED.value",
            [
                [metric for (metric, _), _ in rows],
                [json.dumps(dict(labels)) for (_, labels), _ in rows],
                [value for _, value in rows],
            ],
        )


# --------------------------------------------------------------------------- reading


def monthly_counts(cur, month, site: str | None) -> list[dict]:
    """A month's counter rows (of one site, or of all): a few thousand at most."""
    cur.execute(
        "SELECT site, dimension, key, value FROM reporting.monthly_counts "
        "WHERE month = %(month)s AND (%(site)s::text IS NULL OR site = %(site)s) AND value <> 0",
        {"month": month, "site": site},
    )
    return cur.fetchall()


# the counters the 12-month trend reads: cases received, replies (on time / late), ratings
TREND_DIMENSIONS = ["cases", "reply", "rating"]


def trend_counts(cur, first_month, last_month, site: str | None) -> list[dict]:
    """The trend's counters of every month from ``first_month`` to ``last_month``, summed over
    sites (or of one), in one statement: one range of the counters' primary key, a few hundred
    rows out whatever the number of cases."""
    cur.execute(
        "SELECT month, dimension, key, sum(value)::bigint AS value FROM reporting.monthly_counts "
        "WHERE month >= %(first)s AND month <= %(last)s AND dimension = ANY(%(dimensions)s) "
        "AND (%(site)s::text IS NULL OR site = %(site)s) GROUP BY month, dimension, key",
        {"first": first_month, "last": last_month, "dimensions": TREND_DIMENSIONS, "site": site},
    )
    return cur.fetchall()


def gauges(cur) -> list[dict]:
    """Every gauge row (a few hundred: no case number is a label)."""
    cur.execute("SELECT metric, labels, value FROM reporting.gauges")
    return cur.fetchall()


def case_timeline(cur, case_no: str) -> list[dict]:
    """What reporting wrote on the case's timeline."""
    return timeline.entries(cur, SCHEMA, case_no)


PRECEDENT_COLUMNS = ", ".join(
    f"p.{name}"
    for name in ("case_no", "site", "matter", "description", "type", "outcome", "summary")
    + ("practice", "resolved_at")
)


def similar_precedents(
    cur,
    text: str,
    threshold: float,
    matter: str | None,
    same_matter: bool,
    exclude,
    limit: int,
    sample: int,
) -> list[dict]:
    """Settled precedents whose compared text holds a stretch like ``text``
    (``word_similarity`` ≥ ``threshold``): of ``matter`` when ``same_matter`` (one partition),
    else of any other matter (any at all when ``matter`` is None); ``exclude``: a case left out.

    The GIN index ``precedent_texts_similar`` finds the candidates; the first ``sample`` that
    reach the threshold are ranked (word similarity, then the whole texts' similarity, then
    number) and the best ``limit`` returned, so a phrase thousands of cases share costs
    ``sample`` comparisons (the caller steps the threshold down from high)."""
    # One matter: planned for its own partition each time (a millisecond). Every other matter:
    # planning the 32 partitions' index scans costs more than running them, so that statement is
    # prepared on the connection and its generic plan (the same index scans) kept.
    cur.execute(
        "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true), "
        "set_config('plan_cache_mode', %s, true)",
        (str(threshold), "force_custom_plan" if same_matter else "force_generic_plan"),
    )
    if same_matter:
        where = "matter = %(matter)s"
    else:
        where = "(%(matter)s::text IS NULL OR matter <> %(matter)s)"
    cur.execute(
        f"SELECT {PRECEDENT_COLUMNS}, found.score AS similarity, "
        "similarity(%(text)s, found.search_text) AS whole FROM ("
        "SELECT case_no, search_text, word_similarity(%(text)s, search_text) AS score "
        f"FROM reporting.precedent_texts WHERE {where} "
        "AND %(text)s <%% search_text AND case_no <> %(exclude)s LIMIT %(sample)s) found "
        "JOIN reporting.precedents p ON p.case_no = found.case_no "
        "ORDER BY found.score DESC, whole DESC, p.case_no LIMIT %(limit)s",
        {
            "text": text,
            "matter": matter,
            "exclude": exclude or "",
            "limit": limit,
            "sample": sample,
        },
        prepare=not same_matter,
    )
    return cur.fetchall()


LEDGER_COLUMNS = [name for name in CASE_FIELDS if name not in ("month", "state_at")]


def ledger_batch(cur, date_from, date_to, site, after, limit: int) -> list[dict]:
    """Cases received from ``date_from`` to ``date_to`` (local days, inclusive), in
    (received_at, case_no) order after the key ``after``: one index range per batch."""
    after_at, after_no = after or (None, None)
    cur.execute(
        f"SELECT {', '.join(LEDGER_COLUMNS)} FROM reporting.cases "
        "WHERE received_at >= %(start)s::date::timestamp AT TIME ZONE 'Asia/Shanghai' "
        "AND received_at < (%(end)s::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai' "
        "AND (%(site)s::text IS NULL OR site = %(site)s) "
        "AND (%(after_at)s::timestamptz IS NULL OR (received_at, case_no) > (%(after_at)s, %(after_no)s)) "
        "ORDER BY received_at, case_no LIMIT %(limit)s",
        {
            "start": date_from,
            "end": date_to,
            "site": site,
            "after_at": after_at,
            "after_no": after_no,
            "limit": limit,
        },
    )
    return cur.fetchall()


# --------------------------------------------------------------------------- replay


def lock_for_replay(cur) -> None:
    """Hold consumers off while the read models are rebuilt (the log first: see projection)."""
    cur.execute(
        "LOCK TABLE reporting.event_log, "
        + ", ".join(f"reporting.{table}" for table in READ_MODELS)
        + " IN EXCLUSIVE MODE"
    )


def keep_live_copies(cur) -> None:
    """Copy each read model aside (``live_<table>``, dropped at commit) for the comparison."""
    for table in READ_MODELS:
        cur.execute(
            f"CREATE TEMP TABLE live_{table} ON COMMIT DROP AS "
            f"SELECT * FROM reporting.{table} WHERE {NONZERO.get(table, 'true')}"
        )


def truncate_read_models(cur) -> None:
    """Empty the read models (the event log stays: they are rebuilt from it)."""
    cur.execute("TRUNCATE " + ", ".join(f"reporting.{table}" for table in READ_MODELS))


def logged_events(conn, batch_size: int = 5000):
    """Every logged envelope in log order, through a server-side cursor (constant memory)."""
    with conn.cursor(name="replay_log") as log_cursor:
        log_cursor.itersize = batch_size
        log_cursor.execute("SELECT payload FROM reporting.event_log ORDER BY position")
        for row in log_cursor:
            payload = row["payload"]
            yield json.loads(payload) if isinstance(payload, str) else payload


def checksum(cur, table: str, source: str | None = None) -> dict:
    """Row count and an order-independent hash of a read model's rows (or of a copy of it)."""
    relation = source or f"reporting.{table}"
    cur.execute(
        f"SELECT count(*) AS rows, coalesce(sum(hashtextextended(t::text, 0)::numeric), 0) AS hash "
        f"FROM {relation} t WHERE {NONZERO.get(table, 'true')}"
    )
    row = cur.fetchone()
    return {"rows": int(row["rows"]), "hash": str(row["hash"])}


def differences(cur, table: str, limit: int = 5) -> dict:
    """Keys of rows only in the live copy and only in the rebuilt table (a few of each)."""
    key = READ_MODEL_KEYS[table]
    where = NONZERO.get(table, "true")
    found = {}
    for name, left, right in (
        ("only_live", f"live_{table}", f"reporting.{table}"),
        ("only_rebuilt", f"reporting.{table}", f"live_{table}"),
    ):
        cur.execute(
            f"SELECT {key} FROM (SELECT * FROM {left} WHERE {where} "
            f"EXCEPT SELECT * FROM {right} WHERE {where}) d ORDER BY {key} LIMIT {limit}"
        )
        found[name] = [" ".join(str(value) for value in row.values()) for row in cur.fetchall()]
    return found
