"""The deadline clock on real PostgreSQL and RabbitMQ: one breach per deadline, whatever runs."""

import uuid
from datetime import UTC, datetime, timedelta

import eventlet
import pytest
from nameko.testing.services import entrypoint_hook

from services.common.rpc import SignedClusterRpcProxy
from services.coordination.service import SCAN_SECONDS, CoordinationService
from tests.integration.helpers import running, wait_for

pytestmark = pytest.mark.integration

OFFICER = {"id": "S0004", "name": "张建国", "role": "officer", "site": "HALL"}
BUREAU = {"id": "S0005", "name": "周立新", "role": "bureau", "site": None}

YEAR_2027 = """\
year: 2027
source: test fixture, not the real 2027 schedule
holidays:
  - name: 元旦
    from: 2027-01-01
    to: 2027-01-03
workdays: []
"""


def open_case(db, received_at, department="SCJ") -> str:
    """A case as coordination records it from intake's case_registered."""
    case_no = f"XW-T-{uuid.uuid4().hex[:10]}-HALL"
    with db.connection() as conn:
        conn.execute(
            "INSERT INTO coordination.cases (case_no, site_code, window_code, matter_code, "
            "department_code, channel, received_at, first_receiver) "
            "VALUES (%s, 'HALL', 'W01', 'M001', %s, 'window', %s, 'S0001')",
            (case_no, department, received_at),
        )
    return case_no


def breach_events(db, case_nos) -> list[dict]:
    with db.connection() as conn:
        return conn.execute(
            "SELECT payload->'data' AS data FROM coordination.outbox "
            "WHERE event_type = 'deadline_breached' AND payload->'data'->>'case_no' = ANY(%s)",
            (list(case_nos),),
        ).fetchall()


def test_each_past_deadline_breaches_exactly_once_with_two_instances(service_config, db):
    # 40 cases handed over three weeks ago: their 3-working-day replies are long past
    received = datetime.now(UTC) - timedelta(days=21)
    case_nos = [open_case(db, received) for _ in range(40)]
    with running(service_config, CoordinationService, CoordinationService) as containers:
        assert len(containers) == 2
        with SignedClusterRpcProxy(service_config) as rpc:
            for case_no in case_nos:
                rpc.coordination.classify_case(
                    case_no, {"type": "pending", "reason": "职责不清", "complex": False}, OFFICER
                )
            # besides both instances' timers, many scans at once through either instance
            scans = [rpc.coordination.scan_deadlines.call_async() for _ in range(12)]
            for scan in scans:
                scan.result()
            wait_for(lambda: len(breach_events(db, case_nos)) >= len(case_nos), timeout=20)
            eventlet.sleep(SCAN_SECONDS * 2)  # more timer rounds on both instances
            for scan in [rpc.coordination.scan_deadlines.call_async() for _ in range(4)]:
                scan.result()
            deadlines = rpc.coordination.case_deadlines(case_nos[0])
    events = breach_events(db, case_nos)
    ids = [event["data"]["deadline_id"] for event in events]
    assert len(ids) == len(case_nos) == len(set(ids)), "one breach per deadline, no duplicates"
    assert {event["data"]["case_no"] for event in events} == set(case_nos)
    assert all(event["data"]["kind"] == "pending_reply" for event in events)
    assert deadlines[0]["breached"] and deadlines[0]["working_days"] == 3
    with db.connection() as conn:
        published = conn.execute(
            "SELECT count(*) AS n FROM coordination.outbox WHERE event_type = 'deadline_breached' "
            "AND payload->'data'->>'case_no' = ANY(%s) AND published_at IS NOT NULL",
            (case_nos,),
        ).fetchone()["n"]
    assert published == len(case_nos)


def test_a_restart_does_not_breach_again(service_config, db):
    case_no = open_case(db, datetime.now(UTC) - timedelta(days=21))
    with running(service_config, CoordinationService):
        with SignedClusterRpcProxy(service_config) as rpc:
            rpc.coordination.classify_case(
                case_no, {"type": "cannot", "reason": "无政策依据", "complex": False}, OFFICER
            )
            wait_for(lambda: len(breach_events(db, [case_no])) == 1, timeout=10)
    with running(service_config, CoordinationService) as [container]:
        with entrypoint_hook(container, "scan_deadlines") as scan:
            scan()
        eventlet.sleep(SCAN_SECONDS * 1.5)
    assert len(breach_events(db, [case_no])) == 1


def test_the_plan_uses_the_partial_index_for_open_deadlines(db):
    with db.connection() as conn:
        conn.execute("SET enable_seqscan = off")  # a tiny table would otherwise be scanned
        plan = conn.execute(
            "EXPLAIN SELECT id FROM coordination.deadlines WHERE breached_at IS NULL "
            "AND met_at IS NULL AND paused_at IS NULL AND due_at < now() ORDER BY due_at LIMIT 500"
        ).fetchall()
    assert "coordination_deadlines_open_due" in " ".join(row["QUERY PLAN"] for row in plan)


def test_loading_the_next_year_recomputes_provisional_deadlines(service_config, db, tmp_path):
    config = {
        **service_config,
        "BANCHENG": {**service_config["BANCHENG"], "CALENDAR_DIR": str(tmp_path)},
    }
    # handed over Wed 30 Dec 2026: 3 working days reach into 2027, which nobody loaded
    case_no = open_case(db, datetime(2026, 12, 30, 10, tzinfo=UTC))
    # hooks call this very container: the RPC queue may have other coordination instances
    # (the e2e system's) that read the default calendar directory
    with running(config, CoordinationService) as [container]:

        def call(method, *args):
            with entrypoint_hook(container, method) as hook:
                return hook(*args)

        call("classify_case", case_no, {"type": "pending", "reason": "管辖争议"}, OFFICER)
        [before] = call("case_deadlines", case_no)
        assert before["provisional"] and before["unknown_years"] == [2027]
        assert before["due_at"].isoformat().startswith("2027-01-04T18:00")  # weekends only

        (tmp_path / "2027.yaml").write_text(YEAR_2027, encoding="utf-8")
        result = call("reload_calendar")
        assert result["year_files"] == [2027] and result["recomputed"] >= 1
        [after] = call("case_deadlines", case_no)
    assert not after["provisional"] and after["unknown_years"] == []
    assert after["due_at"].isoformat().startswith("2027-01-05T18:00")  # 31 Dec, 4 and 5 Jan
    with db.connection() as conn:
        sets = conn.execute(
            "SELECT payload->'data'->>'provisional' AS provisional FROM coordination.outbox "
            "WHERE event_type = 'deadline_set' AND payload->'data'->>'case_no' = %s "
            "ORDER BY position",
            (case_no,),
        ).fetchall()
    assert [row["provisional"] for row in sets] == ["true", "false"]
