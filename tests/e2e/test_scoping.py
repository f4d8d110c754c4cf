"""End to end: what each role reaches and how far a request may go (issue 12, item 6), on the
running system: joint meetings by site, an Idempotency-Key reused at another site, registering
at another site or back-dated, the lists' limit, the ledger's range and formula cells."""

import csv
import io
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.test_walking_skeleton import registration
from tests.system import API, login

pytestmark = pytest.mark.e2e
SH = ZoneInfo("Asia/Shanghai")
XJK = {"site": "XJK", "window": "W01", "matter": "M002", "first_receiver": "S0002"}


def post(path, headers, body, **extra):
    return requests.post(f"{API}{path}", json=body, headers={**headers, **extra}, timeout=10)


def get(path, headers, **params):
    return requests.get(f"{API}{path}", params=params, headers=headers, timeout=10)


def field_of(response) -> str | None:
    return response.json()["error"].get("field")


def handed_over(case_no: str) -> str:
    """Wait until coordination knows the case (it learns of it from intake's event)."""
    officer, started = login("officer"), time.monotonic()
    while get(f"/cases/{case_no}/coordination", officer).status_code != 200:
        assert time.monotonic() - started < 10, "coordination never opened the case"
        time.sleep(0.05)
    return case_no


def register(user: str, **overrides) -> str:
    response = post("/cases", login(user), registration(**overrides))
    assert response.status_code == 201, response.text
    return handed_over(response.json()["case_no"])


@pytest.fixture(scope="module")
def meetings(system):
    """One joint meeting about a HALL case and one about an XJK case."""
    officer, bureau = login("officer"), login("bureau")
    ids = {}
    for site, user, overrides in (("HALL", "hall.staff", {}), ("XJK", "xjk.staff", XJK)):
        case_no = register(user, **overrides)
        classified = post(
            f"/cases/{case_no}/classify", officer, {"type": "pending", "reason": "职责不清"}
        )
        assert classified.status_code == 200, classified.text
        body = {
            "case_nos": [case_no],
            "departments": ["FCJ", "SCJ"],
            "scheduled_at": datetime.now(SH).replace(microsecond=0).isoformat(),
        }
        convened = post("/joint-meetings", bureau, body)
        assert convened.status_code == 201, convened.text
        ids[site] = convened.json()["id"]
    return ids


def listed_meetings(user: str) -> set[int]:
    response = get("/joint-meetings", login(user), limit="200")
    assert response.status_code == 200, response.text
    return {meeting["id"] for meeting in response.json()["items"]}


def test_window_staff_read_only_their_sites_joint_meetings(meetings):
    hall, xjk = meetings["HALL"], meetings["XJK"]
    assert hall in listed_meetings("hall.staff") and xjk not in listed_meetings("hall.staff")
    assert xjk in listed_meetings("xjk.staff") and hall not in listed_meetings("xjk.staff")
    assert {hall, xjk} <= listed_meetings("officer")
    staff = login("xjk.staff")
    assert get(f"/joint-meetings/{xjk}", staff).status_code == 200
    assert get(f"/joint-meetings/{hall}", staff).status_code == 404
    assert get(f"/joint-meetings/{hall}", login("supervisor")).status_code == 200


def test_a_key_reused_at_another_site_is_409_not_that_sites_case(system):
    key = f"scoping-{uuid.uuid4()}"
    first = post("/cases", login("hall.staff"), registration(), **{"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    again = post("/cases", login("xjk.staff"), registration(**XJK), **{"Idempotency-Key": key})
    assert again.status_code == 409, again.text
    assert first.json()["case_no"] not in again.text
    replay = post("/cases", login("hall.staff"), registration(), **{"Idempotency-Key": key})
    assert replay.status_code == 200 and replay.json()["case_no"] == first.json()["case_no"]


def test_window_staff_register_only_at_their_own_site(system):
    response = post("/cases", login("hall.staff"), registration(**XJK))
    assert response.status_code == 403 and field_of(response) == "site"


def test_received_at_beyond_three_days_needs_an_officers_reason(system):
    back = (datetime.now(SH) - timedelta(days=5)).replace(microsecond=0).isoformat()
    staff = post("/cases", login("hall.staff"), registration(received_at=back))
    assert staff.status_code == 422 and field_of(staff) == "received_at"
    officer = login("officer")
    unexplained = post("/cases", officer, registration(received_at=back))
    assert unexplained.status_code == 422 and field_of(unexplained) == "backdate_reason"
    explained = post(
        "/cases", officer, registration(received_at=back, backdate_reason="纸质登记簿补录")
    )
    assert explained.status_code == 201, explained.text
    recent = (datetime.now(SH) - timedelta(days=2)).replace(microsecond=0).isoformat()
    assert post("/cases", login("hall.staff"), registration(received_at=recent)).status_code == 201


def test_a_list_limit_is_capped_not_unbounded(system):
    officer = login("officer")
    for path in ("/cases", "/joint-meetings", "/refusals", "/practices"):
        huge = get(path, officer, limit="1000000")
        assert huge.status_code == 200, (path, huge.text)
        assert len(huge.json()["items"]) <= 200
        zero = get(path, officer, limit="0")
        assert zero.status_code == 422 and field_of(zero) == "limit", path


def test_the_ledger_range_is_at_most_a_year(system):
    officer = login("officer")
    for export in ("ledger.csv", "ledger.xlsx"):
        wide = get(f"/reports/{export}", officer, **{"from": "2000-01-01", "to": "2099-12-31"})
        assert wide.status_code == 422 and field_of(wide) == "to", wide.text
    year = get("/reports/ledger.csv", officer, **{"from": "2026-01-01", "to": "2026-12-31"})
    assert year.status_code == 200


def test_free_text_in_the_ledger_is_never_a_formula(system):
    officer = login("officer")
    case_no = register("hall.staff")
    formula = '=HYPERLINK("http://evil.example/","点此")'
    classified = post(f"/cases/{case_no}/classify", officer, {"type": "hard", "reason": formula})
    assert classified.status_code == 200, classified.text
    today = datetime.now(SH).date().isoformat()
    started = time.monotonic()
    while True:  # reporting projects the case from the events
        ledger = get("/reports/ledger.csv", officer, **{"from": today, "to": today})
        assert ledger.status_code == 200, ledger.text
        rows = [row for row in csv.reader(io.StringIO(ledger.text)) if row[0] == case_no]
        if rows and "'" + formula in rows[0]:
            break
        assert time.monotonic() - started < 15, f"the ledger never showed {case_no}: {rows}"
        time.sleep(0.2)
    assert formula not in rows[0]  # never as a bare cell


def test_a_role_bound_to_no_site_reads_no_sites_refusals(system):
    officer = login("officer")
    case_no = register("hall.staff")
    for path, body in (
        ("classify", {"type": "cannot", "reason": "缺少关键材料"}),
        (
            "explain",
            {
                "legal_basis": "《市场主体登记管理条例》第十六条",
                "explanation": "住所使用证明是关键材料",
                "missing_key_materials": [
                    {"name": "住所使用证明", "how_to_obtain": "向产权人索取"}
                ],
            },
        ),
    ):
        answer = post(f"/cases/{case_no}/{path}", officer, body)
        assert answer.status_code == 200, answer.text

    def refused(user: str) -> list[str]:
        response = get("/refusals", login(user), limit="200")
        assert response.status_code == 200, response.text
        return [item["case_no"] for item in response.json()["items"]]

    assert case_no in refused("officer") and case_no in refused("hall.staff")
    assert refused("hr") == [] and case_no not in refused("xjk.staff")
    page = requests.get(
        API.removesuffix("/api/v1") + "/refusals",
        cookies={"bancheng_token": login("hr")["Authorization"].split()[1]},
        timeout=10,
    )
    assert page.status_code == 200 and case_no not in page.text
    reports = get("/reports/monthly", login("hr"), month=datetime.now(SH).strftime("%Y-%m"))
    assert reports.status_code == 403
