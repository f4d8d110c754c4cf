"""End to end over HTTP: the feedback channels, the batch route, helpers and return visits,
idempotency under concurrent retries, site scoping, and a scan proving that no clear ID
number reaches the database, the logs or the events."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from stdnum.cn import ric

from tests.e2e.test_bad_rating_loop import eventually
from tests.system import API, GATEWAY_PORT, login

pytestmark = pytest.mark.e2e


def person_id(base17: str) -> str:
    return base17 + ric.calc_check_digit(base17 + "0")


def registration(id_number: str, **overrides) -> dict:
    payload = {
        "site": "HALL",
        "window": "W01",
        "matter": "M001",
        "department": "SCJ",
        "channel": "window",
        "applicant": {"kind": "person", "name": "吴十", "id_number": id_number},
        "description": "营业执照办理未成",
        "first_receiver": "S0001",
    }
    payload.update(overrides)
    return payload


def rating(**overrides) -> dict:
    payload = {"channel": "rating", "site": "HALL", "window": "W02", "matter": "M001", "level": 2}
    payload.update(overrides)
    return payload


def post(path: str, body, headers: dict, **kwargs):
    return requests.post(f"{API}{path}", json=body, headers=headers, timeout=30, **kwargs)


def test_feedback_over_http_opens_cases_and_keeps_the_rest(system):
    staff = login("hall.staff")
    bad = post("/feedback", rating(staff="S0008", text="态度差"), staff)
    assert bad.status_code == 201, bad.text
    assert bad.json()["case_no"].endswith("-HALL") and bad.json()["feedback_id"]
    case = requests.get(f"{API}/cases/{bad.json()['case_no']}", headers=staff, timeout=10).json()
    assert case["first_receiver"] == "S0008" and case["channel"] == "rating"

    good = post("/feedback", rating(level=5), staff)
    assert good.status_code == 201 and good.json()["case_no"] is None

    assert (
        post("/feedback", rating(site="XJK", window="W01", matter="M002"), staff).status_code == 403
    )
    refused = post("/feedback", rating(level=0), staff)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "level"
    not_json = requests.post(f"{API}/feedback", data=b"{", headers=staff, timeout=10)
    assert not_json.status_code == 400
    assert requests.post(f"{API}/feedback", json=rating(), timeout=10).status_code == 401


def test_the_batch_route_with_a_colon_in_its_path(system):
    officer = login("officer")
    rows = [rating(level=5), rating(level=7), rating(level=1), rating(level=3, window="W99")]
    response = post("/feedback/ratings:batch", {"ratings": rows}, officer)
    assert response.status_code == 207, response.text
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [(1, "level"), (3, "window")]
    assert [item["index"] for item in body["cases_opened"]] == [2]

    clean = post("/feedback/ratings:batch", {"ratings": [rating(level=4)]}, officer)
    assert clean.status_code == 200 and clean.json()["rejected"] == []
    # the colon is part of the path: neither a bare "ratings" nor another verb matches
    assert post("/feedback/ratings", {"ratings": [rating()]}, officer).status_code in (404, 405)
    assert post("/feedback/ratings:purge", {"ratings": [rating()]}, officer).status_code in (
        404,
        405,
    )
    # the province feed is for district-wide roles
    assert (
        post("/feedback/ratings:batch", {"ratings": rows}, login("hall.staff")).status_code == 403
    )


def test_a_batchs_cases_reach_every_service_as_single_registrations_do(system):
    """A batch that opens several cases: coordination, accountability and reporting each
    apply every one of them as they apply a single registration — its flow and 差评 loop, one
    timeline entry each, the month's counted cases (the guard for issue 16's next step, one
    event for a batch's cases)."""
    officer = login("officer")
    month = time.strftime("%Y-%m")

    def counted() -> int:
        summary = requests.get(
            f"{API}/reports/monthly", params={"month": month}, headers=officer, timeout=15
        )
        assert summary.status_code == 200, summary.text
        return summary.json()["totals"]["cases"]

    before = counted()
    rows = [rating(level=1, staff="S0008"), rating(level=5), rating(level=2, staff="S0008")]
    response = post("/feedback/ratings:batch", {"ratings": rows}, officer)
    assert response.status_code == 200, response.text
    opened = [item["case_no"] for item in response.json()["cases_opened"]]
    assert len(opened) == 2

    def handled_everywhere(case_no):
        detail = requests.get(f"{API}/cases/{case_no}", headers=officer, timeout=15).json()
        services = {entry["service"] for entry in detail["timeline"]}
        done = {"intake", "coordination", "accountability", "reporting"} <= services
        return detail if done and detail["coordination"] else None

    for case_no in opened:
        detail = eventually(lambda case_no=case_no: handled_everywhere(case_no))
        assert detail["coordination"]["state"] == "registered"
        assert detail["bad_rating"]["state"] == "awaiting_verification"
        kinds = [(entry["service"], entry["kind"]) for entry in detail["timeline"]]
        for service in ("coordination", "accountability", "reporting"):
            assert len([k for k in kinds if k[0] == service]) == 1, kinds
    assert eventually(lambda: counted() == before + 2 or None)


def test_the_batch_is_handed_on_as_text_with_the_front_doors_refusals_intact(system):
    """The batch's body reaches intake undecoded (issue 16); what the front door refuses in any
    body it still refuses in this one, naming the field, and a broken body is a 400."""
    officer = {**login("officer"), "Content-Type": "application/json"}
    url = f"{API}/feedback/ratings:batch"
    # \uXXXX escapes throughout (ensure_ascii): the same batch as any other
    escaped = json.dumps({"ratings": [rating(level=5, text="很满意"), rating(level=2)]})
    kept = requests.post(url, data=escaped.encode(), headers=officer, timeout=30)
    assert kept.status_code == 200 and kept.json()["accepted"] == 2, kept.text
    assert len(kept.json()["cases_opened"]) == 1

    nul = '{"ratings": [{"channel": "rating", "site": "HALL", "text": "a\\u0000b"}]}'
    refused = requests.post(url, data=nul.encode(), headers=officer, timeout=30)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "ratings[0].text"
    huge = '{"ratings": [{"channel": "rating", "site": "HALL", "level": 1e400}]}'
    refused = requests.post(url, data=huge.encode(), headers=officer, timeout=30)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "ratings[0].level"
    broken = requests.post(url, data=b'{"ratings": [', headers=officer, timeout=30)
    assert broken.status_code == 400
    deep = json.dumps({"ratings": [rating(applicant=json.loads('{"a":' * 17 + "1" + "}" * 17))]})
    too_deep = requests.post(url, data=deep.encode(), headers=officer, timeout=30)
    assert too_deep.status_code == 422, too_deep.text


def test_helpers_and_return_visits_over_http(system):
    staff = login("hall.staff")
    applicant = {"kind": "person", "name": "郑十一", "phone": "13600002222"}
    case_no = post("/feedback", rating(applicant=applicant), staff).json()["case_no"]

    added = post(f"/cases/{case_no}/helpers", {"staff_id": "S0009"}, staff)
    assert added.status_code == 201 and added.json()["first_receiver"] == "S0001"
    assert post(f"/cases/{case_no}/helpers", {"staff_id": "S0009"}, staff).status_code == 200
    assert post(f"/cases/{case_no}/helpers", {"staff_id": "S0001"}, staff).status_code == 409
    missing = post(f"/cases/{case_no}/helpers", {}, staff)
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "staff_id"
    assert (
        post(f"/cases/{case_no}/helpers", {"staff_id": "S0022"}, login("xjk.staff")).status_code
        == 403
    )
    assert post("/cases/XW-NOPE/helpers", {"staff_id": "S0009"}, staff).status_code == 404

    visit = post(f"/cases/{case_no}/return-visit", {"satisfied": False, "notes": "仍不满意"}, staff)
    assert visit.status_code == 201, visit.text
    detail = requests.get(f"{API}/cases/{case_no}", headers=staff, timeout=10).json()
    assert detail["requires_return_visit"] is True
    assert [h["staff_id"] for h in detail["helpers"]] == ["S0009"]
    assert detail["return_visits"][0]["satisfied"] is False
    assert (
        post(f"/cases/{case_no}/return-visit", {"satisfied": True}, login("operator")).status_code
        == 403
    )


def test_concurrent_retries_with_one_idempotency_key_make_one_case(system, database_url):
    headers = {**login("hall.staff"), "Idempotency-Key": f"e2e-concurrent-{uuid.uuid4()}"}
    body = registration(person_id("32010219880808123"))

    def attempt(_):
        return post("/cases", body, headers)

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(attempt, range(10)))
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201], [
        r.text for r in responses
    ]
    case_nos = {r.json()["case_no"] for r in responses}
    assert len(case_nos) == 1
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM intake.cases WHERE idempotency_key = %s",
            (headers["Idempotency-Key"],),
        ).fetchone()[0]
    assert stored == 1


def test_registration_answers_with_practices_and_repeat_links(system):
    staff = login("hall.staff")
    number = person_id("32010219770707123")
    first = post("/cases", registration(number), staff).json()
    second = post("/cases", registration(number), staff)
    assert second.status_code == 201
    body = second.json()
    assert isinstance(body["practices"], list)
    assert body["repeat_visitor"] is True and body["repeat_of"] == [first["case_no"]]
    [link] = body["repeat_visits"]
    assert link["url"] == f"/api/v1/cases/{first['case_no']}"
    earlier = requests.get(
        f"http://127.0.0.1:{GATEWAY_PORT}{link['url']}", headers=staff, timeout=10
    )
    assert earlier.status_code == 200 and earlier.json()["case_no"] == first["case_no"]


def test_street_staff_list_only_their_site_whatever_the_filters(system):
    post("/feedback", rating(), login("hall.staff"))
    street = login("xjk.staff")
    for params in ({}, {"overdue": "false"}, {"status": "registered"}):
        response = requests.get(f"{API}/cases", params=params, headers=street, timeout=10)
        assert response.status_code == 200
        assert all(case["site"] == "XJK" for case in response.json()["items"])
    other = requests.get(f"{API}/cases", params={"site": "HALL"}, headers=street, timeout=10)
    assert other.status_code == 403
    wrong = requests.get(f"{API}/cases", params={"overdue": "soon"}, headers=street, timeout=10)
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "overdue"
    hall = requests.get(
        f"{API}/cases", params={"site": "HALL"}, headers=login("officer"), timeout=10
    )
    assert hall.status_code == 200 and hall.json()["items"]


# -- no clear ID number anywhere ---------------------------------------------------------------


def text_columns(conn) -> list[tuple[str, str, str]]:
    """Every text-like or JSON column of every table in the services' schemas."""
    return conn.execute(
        "SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema "
        "AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
        "WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') "
        "AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY')"
    ).fetchall()


def found_in_database(conn, needles: list[str]) -> list[tuple]:
    hits = []
    for schema, table, column in text_columns(conn):
        for needle in needles:
            row = conn.execute(
                f'SELECT 1 FROM "{schema}"."{table}" WHERE "{column}"::text LIKE %s LIMIT 1',
                (f"%{needle}%",),
            ).fetchone()
            if row:
                hits.append((schema, table, column, needle))
    return hits


def service_logs(system, tmp_path_factory) -> list:
    """The processes' logs: ``<run_dir>/<name>.log`` in the system fixture's run directory."""
    names = {process.name for process in system}
    logs = [
        path
        for run_dir in tmp_path_factory.getbasetemp().glob("run*")
        if {p.stem for p in run_dir.glob("*.log")} >= names
        for path in run_dir.glob("*.log")
    ]
    assert {path.stem for path in logs} >= names, "the system's logs were not found"
    return logs


def test_no_clear_id_number_reaches_the_database_logs_or_events(
    system, database_url, tmp_path_factory
):
    staff, officer = login("hall.staff"), login("officer")
    window_number = person_id("32010219810203123")
    rating_number = person_id("32010219820304123")
    batch_number = person_id("32010219830405123")
    # written the way a clerk might type it: spaces and a lower-case x are normalised away
    typed = window_number[:6] + " " + window_number[6:14] + " " + window_number[14:].lower()

    registered = post("/cases", registration(typed), staff)
    assert registered.status_code == 201, registered.text
    rated = post(
        "/feedback",
        rating(applicant={"kind": "person", "name": "冯十二", "id_number": rating_number}),
        staff,
    )
    assert rated.status_code == 201, rated.text
    batch = post(
        "/feedback/ratings:batch",
        {
            "ratings": [
                rating(level=1, applicant={"name": "陈十三", "id_number": batch_number}),
                # an invalid row quoting the number: refused without echoing it back
                rating(level=9, applicant={"name": "陈十三", "id_number": batch_number}),
            ]
        },
        officer,
    )
    assert batch.status_code == 207, batch.text
    wrong_check = "1" if window_number[-1] == "0" else "0"
    invalid = post("/cases", registration(window_number[:-1] + wrong_check), staff)
    assert invalid.status_code == 422

    clear = [window_number, rating_number, batch_number]
    for response in (registered, rated, batch, invalid):
        assert not any(number in response.text for number in clear)
    for case_no in (registered.json()["case_no"], rated.json()["case_no"]):
        detail = requests.get(f"{API}/cases/{case_no}", headers=officer, timeout=10)
        assert detail.json()["id_number_masked"].count("*") == 8
        assert not any(number in detail.text for number in clear)

    # every consumer has had the events, and the relay has published them
    deadline = time.monotonic() + 15
    with psycopg.connect(database_url) as conn:
        while conn.execute(
            "SELECT count(*) FROM intake.outbox WHERE published_at IS NULL"
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "intake's outbox was not relayed"
            time.sleep(0.1)
        time.sleep(1.0)  # consumers write their copies after the relay

        masked = window_number[:6] + "*" * 8 + window_number[-4:]
        # the scan works: it finds the masked form and the name where they are stored
        assert [hit[3] for hit in found_in_database(conn, [masked])] and found_in_database(
            conn, ["冯十二"]
        )
        hits = found_in_database(conn, clear)
        assert hits == [], f"clear ID numbers stored in {hits}"
        outbox_tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox'"
            ).fetchall()
        ]
        assert set(outbox_tables) >= {"intake", "coordination", "accountability", "reporting"}
        for schema in outbox_tables:
            payloads = conn.execute(f"SELECT payload::text FROM {schema}.outbox").fetchall()
            assert not any(number in payload for (payload,) in payloads for number in clear)
        intake_events = conn.execute(
            "SELECT payload::text FROM intake.outbox WHERE payload->'data'->>'case_no' = %s",
            (registered.json()["case_no"],),
        ).fetchall()
        assert intake_events and masked in intake_events[0][0]

    for log in service_logs(system, tmp_path_factory):
        content = log.read_text(encoding="utf-8", errors="replace")
        assert not any(number in content for number in clear), f"clear ID number in {log.name}"
