"""A consumed event's transaction in psycopg's pipeline mode (issue 16): BEGIN travels with the
dedupe, the handler's writes with the COMMIT, and it keeps every promise of the plain one."""

import uuid

import psycopg
import pytest

from services.common import timeline
from services.common.postgres import Database

pytestmark = pytest.mark.integration


def an_event() -> dict:
    return {"id": str(uuid.uuid4()), "type": "pipeline_probe"}


def handled(db, event: dict) -> bool:
    with db.connection() as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM coordination.handled_events WHERE event_id = %s", (event["id"],)
            ).fetchone()
        )


def notes(db, case_no: str) -> list[str]:
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT text FROM coordination.timeline WHERE case_no = %s ORDER BY id", (case_no,)
        ).fetchall()
    return [row["text"] for row in rows]


def test_an_event_is_handled_once_with_its_writes_and_its_copied_rows(db):
    database, event, case_no = Database(db), an_event(), f"PIPE-{uuid.uuid4().hex[:8]}"
    with database.handling_once("coordination", event) as cursor:
        assert cursor is not None
        timeline.add_entry(cursor, "coordination", case_no, None, "probe", "one")
        # a COPY of rows in a pipeline is an INSERT of them (COPY cannot run in one)
        timeline.add_entries(
            cursor,
            "coordination",
            [(case_no, None, "probe", "two", None), (case_no, None, "probe", "three", {"n": 3})],
        )
        cursor.execute(
            "SELECT count(*) AS n FROM coordination.timeline WHERE case_no = %s", (case_no,)
        )
        assert cursor.fetchone()["n"] == 3  # a read sees the queued writes before it
    assert handled(db, event) and notes(db, case_no) == ["one", "two", "three"]

    with database.handling_once("coordination", event) as cursor:
        assert cursor is None  # the redelivery
    assert notes(db, case_no) == ["one", "two", "three"]


def test_rowcount_is_the_statements_own_in_a_pipeline(db):
    database, case_no = Database(db), f"PIPE-{uuid.uuid4().hex[:8]}"
    with database.handling_once("coordination", an_event()) as cursor:
        timeline.add_entry(cursor, "coordination", case_no, None, "probe", "x")
        cursor.execute(
            "UPDATE coordination.timeline SET text = 'y' WHERE case_no = %s AND text = 'x'",
            (case_no,),
        )
        assert cursor.rowcount == 1
        cursor.execute(
            "UPDATE coordination.timeline SET text = 'z' WHERE case_no = %s AND text = 'x'",
            (case_no,),
        )
        assert cursor.rowcount == 0
    assert notes(db, case_no) == ["y"]


def test_a_failing_statement_rolls_back_the_event_and_its_writes(db):
    """A statement's error shows when the pipeline next waits (at the latest the commit): the
    whole transaction is rolled back, the event id with it, so the redelivery handles it."""
    database, event, case_no = Database(db), an_event(), f"PIPE-{uuid.uuid4().hex[:8]}"
    with pytest.raises(psycopg.errors.UndefinedTable):
        with database.handling_once("coordination", event) as cursor:
            timeline.add_entry(cursor, "coordination", case_no, None, "probe", "lost")
            cursor.execute("INSERT INTO coordination.no_such_table VALUES (1)")
    assert not handled(db, event) and notes(db, case_no) == []

    with database.handling_once("coordination", event) as cursor:
        assert cursor is not None
        timeline.add_entry(cursor, "coordination", case_no, None, "probe", "kept")
    assert handled(db, event) and notes(db, case_no) == ["kept"]
