"""Reporting's store on real PostgreSQL, where its statements were merged to save round trips:
an event recorded as handled and logged by one statement, a row made blank and locked by one
(and read by a second when another consumer inserted it meanwhile), counters and gauges moved
by one statement each, sent with the COMMIT."""

import threading
import time
import uuid
from datetime import date

import psycopg
import pytest
from psycopg.rows import dict_row

from services.common.events import new_event
from services.common.postgres import Database
from services.reporting import store

pytestmark = pytest.mark.integration


@pytest.fixture
def remove(db):
    """Rows the test names, deleted after it (a replay test must find only logged events)."""
    names = []
    yield names.append
    with db.connection() as conn:
        for table, column, value in names:
            conn.execute(f"DELETE FROM reporting.{table} WHERE {column} = %s", (value,))


def an_event(case_no: str) -> dict:
    return new_event("probe_seen", {"case_no": case_no}, source_service="probe", source_site=None)


def test_an_event_is_logged_once_and_a_redelivery_is_refused(db, remove):
    event = an_event(f"LOG-{uuid.uuid4().hex[:8]}")
    remove(("event_log", "event_id", event["id"]))
    remove(("handled_events", "event_id", event["id"]))
    database = Database(db)
    with database.transaction() as cur:
        assert store.log_event_once(cur, event) is True
    with database.transaction() as cur:
        assert store.log_event_once(cur, event) is False
    with db.connection() as conn:
        handled = conn.execute(
            "SELECT event_type FROM reporting.handled_events WHERE event_id = %s", (event["id"],)
        ).fetchall()
        logged = conn.execute(
            "SELECT event_type, source_service, payload FROM reporting.event_log "
            "WHERE event_id = %s",
            (event["id"],),
        ).fetchall()
    assert handled == [{"event_type": "probe_seen"}]
    assert len(logged) == 1 and logged[0]["source_service"] == "probe"
    assert logged[0]["payload"]["id"] == event["id"]


def test_an_event_already_in_the_log_is_recorded_as_handled_and_not_applied(db, remove):
    event = an_event(f"LOG-{uuid.uuid4().hex[:8]}")
    remove(("event_log", "event_id", event["id"]))
    remove(("handled_events", "event_id", event["id"]))
    with db.connection() as conn:  # logged, say, before handled events were kept
        conn.execute(
            "INSERT INTO reporting.event_log (event_id, event_type, source_service, occurred_at, "
            "payload) VALUES (%s, %s, %s, %s, '{}')",
            (event["id"], event["type"], event["source_service"], event["occurred_at"]),
        )
    with Database(db).transaction() as cur:
        assert store.log_event_once(cur, event) is False
    with db.connection() as conn:
        assert (
            conn.execute(
                "SELECT count(*) AS n FROM reporting.handled_events WHERE event_id = %s",
                (event["id"],),
            ).fetchone()["n"]
            == 1
        )


def test_a_new_row_is_made_blank_and_an_existing_one_read(db, remove):
    case_no = f"ROW-{uuid.uuid4().hex[:8]}"
    remove(("cases", "case_no", case_no))
    database = Database(db)
    with database.transaction() as cur:
        blank = store.case_for_update(cur, case_no)
        assert blank["case_no"] == case_no and blank["site"] is None
        store.save_case(cur, {**blank, "site": "HALL"})
    with database.transaction() as cur:
        assert store.case_for_update(cur, case_no)["site"] == "HALL"


def test_a_row_another_consumer_inserted_meanwhile_is_read_locked(database_url, remove):
    case_no = f"RACE-{uuid.uuid4().hex[:8]}"
    remove(("cases", "case_no", case_no))
    found = {}
    with (
        psycopg.connect(database_url, row_factory=dict_row) as first,
        psycopg.connect(database_url, row_factory=dict_row) as second,
        psycopg.connect(database_url, row_factory=dict_row, autocommit=True) as watcher,
    ):
        first.execute("INSERT INTO reporting.cases (case_no, site) VALUES (%s, 'HALL')", (case_no,))
        pid = second.info.backend_pid
        reader = threading.Thread(
            target=lambda: found.update(
                rows=store.cases_and_precedent_for_update(second.cursor(), [case_no], case_no)
            )
        )
        reader.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the second waits for the first's insert
            waiting = watcher.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if waiting and waiting["wait_event_type"] == "Lock":
                break
            time.sleep(0.02)
        else:
            pytest.fail("the second consumer never waited for the first")
        first.commit()
        reader.join(10)
        (case,), precedent = found["rows"]
        assert case["case_no"] == case_no and case["site"] == "HALL"
        assert precedent["case_no"] == case_no and precedent["settled"] is False
        second.rollback()


def test_cases_and_a_precedent_are_locked_in_one_round_trip(db, database_url, remove):
    numbers = sorted(f"TWO-{uuid.uuid4().hex[:8]}" for _ in range(2))
    for number in numbers:
        remove(("cases", "case_no", number))
        remove(("precedents", "case_no", number))
    with db.connection() as conn:
        conn.execute(
            "INSERT INTO reporting.cases (case_no, site) VALUES (%s, 'XJK')", (numbers[1],)
        )
    with Database(db).transaction() as cur:
        cur.execute("SELECT 1")  # as a consumer's transaction, which logs its event first
        cases, precedent = store.cases_and_precedent_for_update(cur, numbers, numbers[0])
        assert [case["case_no"] for case in cases] == numbers
        assert [case["site"] for case in cases] == [None, "XJK"]
        assert precedent["case_no"] == numbers[0]
        assert store.cases_and_precedent_for_update(cur, [], None) == ([], None)
    # the replay's plain cursor: the rows exist now, and are read as they are
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        cases, precedent = store.cases_and_precedent_for_update(conn.cursor(), numbers, numbers[1])
        assert [case["site"] for case in cases] == [None, "XJK"]
        assert precedent["case_no"] == numbers[1]
        conn.rollback()


def test_a_batchs_cases_and_their_precedents_are_locked_in_one_round_trip(db, remove):
    numbers = sorted(f"MANY-{uuid.uuid4().hex[:8]}" for _ in range(5))
    for number in numbers:
        remove(("cases", "case_no", number))
        remove(("precedents", "case_no", number))
    with db.connection() as conn:
        conn.execute(
            "INSERT INTO reporting.precedents (case_no, site) VALUES (%s, 'XJK')", (numbers[2],)
        )
    with Database(db).transaction() as cur:
        cur.execute("SELECT 1")  # as a consumer's transaction, which logs its event first
        cases, found = store.cases_and_precedents_for_update(cur, numbers, numbers)
        assert [case["case_no"] for case in cases] == numbers
        assert [row["case_no"] for row in found] == numbers
        assert [row["site"] for row in found] == [None, None, "XJK", None, None]
        assert store.cases_and_precedents_for_update(cur, [], []) == ([], [])


def test_counters_and_gauges_move_by_one_statement_each(db, remove):
    site = f"S{uuid.uuid4().hex[:6]}"
    remove(("monthly_counts", "site", site))
    remove(("gauges", "metric", "probe_gauge"))
    month = date(2035, 7, 1)
    counts = {(month, site, "cases", "total"): 2, (month, site, "channel", "hall"): 1}
    gauges = {("probe_gauge", (("site", site),)): 3, ("probe_gauge", (("site", site + "x"),)): -1}
    database = Database(db)
    for _ in range(2):
        with database.transaction() as cur:
            cur.execute("SELECT 1")  # as a consumer's transaction, which logs its event first
            store.add_counts(cur, counts)
            store.add_gauges(cur, gauges)
    with database.transaction() as cur:
        rows = store.monthly_counts(cur, month, site)
        gauge_rows = [row for row in store.gauges(cur) if row["metric"] == "probe_gauge"]
    assert sorted((row["dimension"], row["key"], row["value"]) for row in rows) == [
        ("cases", "total", 4),
        ("channel", "hall", 2),
    ]
    assert {row["labels"]["site"]: row["value"] for row in gauge_rows} == {site: 6, site + "x": -2}
