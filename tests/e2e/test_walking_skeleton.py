"""End to end: the services started as processes the way ``make up`` does, driven over HTTP."""

import time

import psycopg
import pytest
import requests
from stdnum.cn import ric

from tests.system import API, login

pytestmark = pytest.mark.e2e


def valid_id(base17: str = "32010219780512331") -> str:
    return base17 + ric.calc_check_digit(base17 + "0")


def registration(**overrides) -> dict:
    payload = {
        "site": "HALL",
        "window": "W01",
        "matter": "M001",
        "department": "SCJ",
        "channel": "window",
        "applicant": {
            "kind": "person",
            "name": "王五",
            "id_number": valid_id(),
            "phone": "13912345678",
        },
        "description": "住所使用证明不被认可，无法办理企业开办",
        "first_receiver": "S0001",
    }
    payload.update(overrides)
    return payload


def count_cases(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM intake.cases").fetchone()[0]


def test_every_process_answers_health_and_metrics(system):
    for process in system:
        health = requests.get(f"http://127.0.0.1:{process.port}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        metrics = requests.get(f"http://127.0.0.1:{process.port}/metrics", timeout=5)
        assert metrics.status_code == 200 and "bancheng_" in metrics.text


def test_login_and_reference_data(system):
    assert (
        requests.post(
            f"{API}/auth/login", json={"username": "hall.staff", "password": "x"}, timeout=5
        ).status_code
        == 401
    )
    assert requests.get(f"{API}/sites", timeout=5).status_code == 401
    headers = login("hall.staff")
    sites = requests.get(f"{API}/sites", headers=headers, timeout=5).json()["items"]
    assert {site["code"] for site in sites} >= {"HALL", "RS", "GA", "SW", "HY", "XJK", "XWH"}
    hall = next(site for site in sites if site["code"] == "HALL")
    assert any(window["code"] == "ESC" for window in hall["windows"])
    departments = requests.get(f"{API}/departments", headers=headers, timeout=5).json()["items"]
    assert any(d["name"] == "区行政审批局" for d in departments)
    matters = requests.get(f"{API}/matters", headers=headers, timeout=5).json()["items"]
    assert all(m["department"] and m["name"] for m in matters)
    staff = requests.get(f"{API}/staff", params={"site": "XJK"}, headers=headers, timeout=5).json()[
        "items"
    ]
    assert staff and all(member["site"] == "XJK" for member in staff)


def test_a_registered_case_shows_all_three_consumers_in_its_timeline(system):
    headers = login("hall.staff")
    started = time.monotonic()
    response = requests.post(f"{API}/cases", json=registration(), headers=headers, timeout=10)
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["case_no"].endswith("-HALL") and case["status"] == "registered"
    assert "*" in case["id_number_masked"] and valid_id() not in response.text

    while True:
        detail = requests.get(f"{API}/cases/{case['case_no']}", headers=headers, timeout=5).json()
        services = {entry["service"] for entry in detail["timeline"]}
        if services >= {"intake", "coordination", "accountability", "reporting"}:
            break
        assert time.monotonic() - started < 2.0, f"consumers missing after 2 s: {services}"
        time.sleep(0.05)
    assert detail["first_receiver"] == "S0001"
    assert detail["coordination"]["state"] == "registered"
    assert all("+08:00" in entry["at"] for entry in detail["timeline"])


def test_idempotency_key_gives_one_case(system, database_url):
    headers = {**login("hall.staff"), "Idempotency-Key": "e2e-retry-1"}
    first = requests.post(f"{API}/cases", json=registration(), headers=headers, timeout=10)
    before = count_cases(database_url)
    second = requests.post(f"{API}/cases", json=registration(), headers=headers, timeout=10)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["case_no"] == second.json()["case_no"]
    assert count_cases(database_url) == before


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        ({**registration(), "site": None}, 422, "site"),
        ({**registration(), "site": "NOWHERE"}, 422, "site"),
        ({**registration(), "window": "W99"}, 422, "window"),
        ({**registration(), "matter": "M021"}, 422, "matter"),  # not handled at the hall
        ({**registration(), "first_receiver": "S9999"}, 422, "first_receiver"),
        (
            {
                **registration(),
                "applicant": {"kind": "person", "name": "赵六", "id_number": "320102197805123319"},
            },
            422,
            "applicant.id_number",
        ),
        ({**registration(), "description": ""}, 422, "description"),
    ],
)
def test_bad_input_is_refused_with_the_field_named_and_nothing_stored(
    system, database_url, body, status, field
):
    headers = login("hall.staff")
    before = count_cases(database_url)
    if isinstance(body, bytes):
        response = requests.post(f"{API}/cases", data=body, headers=headers, timeout=5)
    else:
        response = requests.post(f"{API}/cases", json=body, headers=headers, timeout=5)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"]
    assert error["field"] == field
    assert count_cases(database_url) == before


def test_body_too_large_is_413(system):
    headers = login("hall.staff")
    response = requests.post(
        f"{API}/cases",
        json={**registration(), "description": "长" * 600_000},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 413


def test_street_staff_see_only_their_site(system):
    hall_case = requests.post(
        f"{API}/cases", json=registration(), headers=login("hall.staff"), timeout=10
    ).json()
    street = login("xjk.staff")
    assert (
        requests.get(f"{API}/cases/{hall_case['case_no']}", headers=street, timeout=5).status_code
        == 403
    )
    assert (
        requests.post(f"{API}/cases", json=registration(), headers=street, timeout=5).status_code
        == 403
    )
    listed = requests.get(f"{API}/cases", headers=street, timeout=5).json()["items"]
    assert all(case["site"] == "XJK" for case in listed)
    officer = login("officer")
    assert (
        requests.get(f"{API}/cases/{hall_case['case_no']}", headers=officer, timeout=5).status_code
        == 200
    )


def test_many_concurrent_registrations_all_succeed_with_distinct_numbers(system):
    """More registrations at once than the intake pools have connections (4 each here):
    a registration must never wait on a second connection of its own pool."""
    from concurrent.futures import ThreadPoolExecutor

    headers = login("hall.staff")

    def register(_):
        return requests.post(f"{API}/cases", json=registration(), headers=headers, timeout=20)

    with ThreadPoolExecutor(max_workers=24) as pool:
        responses = list(pool.map(register, range(24)))
    assert [response.status_code for response in responses] == [201] * 24
    assert len({response.json()["case_no"] for response in responses}) == 24
