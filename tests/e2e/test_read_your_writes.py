"""Read your own writes: a case can be worked on as soon as its registration was acknowledged.

Coordination learns of a case from intake's ``case_registered`` event, a moment after the
registration's 201. A step taken in that moment must not answer 404: coordination fetches the
hand-over from intake itself, and the event's later delivery changes nothing.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from tests.e2e.test_walking_skeleton import registration
from tests.system import API, BASE_PORT, login

pytestmark = pytest.mark.e2e

ROUNDS = 30
CLIENTS = 3
COORDINATION_METRICS = f"http://127.0.0.1:{BASE_PORT + 3}/metrics"
DUPLICATES = (
    'bancheng_events_handled_total{event_type="case_registered",outcome="duplicate",'
    'service="coordination"}'
)
FETCHED = "bancheng_coordination_handovers_fetched_total"


def coordination_metric(sample: str) -> float:
    """A sample of coordination's /metrics (0 before it was first counted)."""
    for line in requests.get(COORDINATION_METRICS, timeout=5).text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def register_then_classify(staff: dict, officer: dict) -> tuple[str, int, str]:
    """Register a case and classify it at once; returns (case_no, status, body)."""
    registered = requests.post(f"{API}/cases", json=registration(), headers=staff, timeout=10)
    assert registered.status_code == 201, registered.text
    case_no = registered.json()["case_no"]
    classified = requests.post(
        f"{API}/cases/{case_no}/classify",
        json={"type": "hard", "reason": "缺少非关键材料", "complex": False},
        headers=officer,
        timeout=10,
    )
    return case_no, classified.status_code, classified.text


def coordination_rows(database_url: str, case_nos: list[str]) -> dict[str, dict]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT c.case_no, c.state, c.case_type, "
            "(SELECT count(*) FROM coordination.timeline t WHERE t.case_no = c.case_no "
            " AND t.kind = 'opened') AS opened, "
            "(SELECT count(*) FROM coordination.deadlines d WHERE d.case_no = c.case_no) "
            " AS deadlines "
            "FROM coordination.cases c WHERE c.case_no = ANY(%s)",
            (case_nos,),
        ).fetchall()
    return {
        row[0]: {"state": row[1], "type": row[2], "opened": row[3], "deadlines": row[4]}
        for row in rows
    }


def test_a_case_is_classified_right_after_its_registration(system, database_url):
    staff, officer = login("hall.staff"), login("officer")
    duplicates, fetched = coordination_metric(DUPLICATES), coordination_metric(FETCHED)
    with ThreadPoolExecutor(CLIENTS) as clients:
        results = list(clients.map(lambda _: register_then_classify(staff, officer), range(ROUNDS)))
    failed = [(case_no, status, body) for case_no, status, body in results if status != 200]
    assert not failed, f"{len(failed)} of {ROUNDS} classifications failed: {failed[:3]}"

    case_nos = [case_no for case_no, _, _ in results]
    rows = coordination_rows(database_url, case_nos)
    for case_no in case_nos:
        assert rows[case_no]["state"] == "classified" and rows[case_no]["type"] == "hard"
        assert rows[case_no]["opened"] == 1, f"{case_no} opened {rows[case_no]['opened']} times"
    # each case opened from intake's stored event before its delivery: that delivery came
    # later and was ignored as a duplicate
    opened_early = coordination_metric(FETCHED) - fetched
    started = time.monotonic()
    while coordination_metric(DUPLICATES) - duplicates < opened_early:
        assert time.monotonic() - started < 10, "late deliveries were not all ignored"
        time.sleep(0.1)
    assert coordination_rows(database_url, case_nos) == rows, "late deliveries changed nothing"


def test_a_case_nobody_registered_is_still_not_found(system):
    officer = login("officer")
    response = requests.post(
        f"{API}/cases/XW-20260101-99999-HALL/classify",
        json={"type": "hard", "reason": "x"},
        headers=officer,
        timeout=10,
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["field"] == "case_no"
