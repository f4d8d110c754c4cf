"""End to end: 否定答复 over HTTP — a `cannot` answer explained, sent back by the approval bureau
(the resolved case is taken up again), explained anew and upheld; the review in the case's
timeline and accountability's audit trail; the month's report as JSON, CSV and XLSX adding up
to the same numbers; and its scope by role and site.

The report covers the current month of the shared system, so other tests' answers may be in
it too: the checks name this module's cases and compare totals with the report's own rows.
"""

import csv
import io
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from openpyxl import load_workbook

from tests.e2e.test_scoping import XJK, get, post, register
from tests.system import API, login

pytestmark = pytest.mark.e2e
BASE = API.rsplit("/api/v1", 1)[0]
EXPLANATION = {
    "legal_basis": "《市场主体登记管理条例》第十六条",
    "explanation": "住所使用证明是关键材料，缺少时不能办理",
    "missing_key_materials": [{"name": "住所使用证明", "how_to_obtain": "向产权人索取并加盖公章"}],
}
AGAIN = {**EXPLANATION, "legal_basis": "《市场主体登记管理条例实施细则》第二十条"}
REASON = "依据条款引用有误，请核对后重新说明"


def month_now() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


def explained(user: str, **overrides) -> str:
    """A case of ``user``'s site classified `cannot` and explained by the officer."""
    case_no = register(user, **overrides)
    officer = login("officer")
    classified = post(
        f"/cases/{case_no}/classify", officer, {"type": "cannot", "reason": "缺少关键材料"}
    )
    assert classified.status_code == 200, classified.text
    answered = post(f"/cases/{case_no}/explain", officer, EXPLANATION)
    assert answered.status_code == 200, answered.text
    return case_no


def audited_actions(case_no: str) -> list[str]:
    response = get("/audit", login("supervisor"), case_no=case_no, limit=200)
    assert response.status_code == 200, response.text
    body = response.json()
    return [entry["action"] for entry in body.get("items", body.get("entries", []))]


@pytest.fixture(scope="module")
def reviewed(system):
    """A HALL case explained, replied and resolved, sent back by the bureau, explained again and
    upheld (each answer kept); a XJK case explained and not reviewed yet."""
    officer, bureau = login("officer"), login("bureau")
    case_no = explained("hall.staff")
    assert post(f"/cases/{case_no}/reply", officer, {"summary": "已告知依据"}).status_code == 200
    resolved = post(
        f"/cases/{case_no}/resolve", officer, {"outcome": "explained", "summary": "已解释"}
    )
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    steps = {"case_no": case_no}
    steps["sent_back"] = post(
        f"/refusals/{case_no}/review", bureau, {"result": "sent_back", "reason": REASON}
    )
    steps["reviewed_again"] = post(f"/refusals/{case_no}/review", bureau, {"result": "upheld"})
    steps["resolved_unexplained"] = post(
        f"/cases/{case_no}/resolve", officer, {"outcome": "explained", "summary": "x"}
    )
    steps["explained_again"] = post(f"/cases/{case_no}/explain", officer, AGAIN)
    steps["explained_twice"] = post(f"/cases/{case_no}/explain", officer, AGAIN)
    steps["upheld"] = post(
        f"/refusals/{case_no}/review", bureau, {"result": "upheld", "reason": "依据充分"}
    )
    steps["street"] = explained("xjk.staff", **XJK)
    return steps


def test_sent_back_the_case_is_reopened_for_the_officer_who_explains_again(reviewed):
    case_no = reviewed["case_no"]
    assert reviewed["sent_back"].status_code == 200, reviewed["sent_back"].text
    flow = reviewed["sent_back"].json()
    assert flow["state"] == "in_progress" and flow["explanation"] is None
    assert flow["resolution"] is None and "explain" in flow["allowed_actions"]
    assert flow["review"]["result"] == "sent_back" and flow["review"]["reason"] == REASON

    again = reviewed["reviewed_again"]
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_reviewed"
    closing = reviewed["resolved_unexplained"]
    assert closing.status_code == 409 and closing.json()["error"]["code"] == "explanation_required"
    assert reviewed["explained_again"].status_code == 200, reviewed["explained_again"].text
    twice = reviewed["explained_twice"]
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_explained"
    upheld = reviewed["upheld"]
    assert upheld.status_code == 200, upheld.text
    assert upheld.json()["review"]["result"] == "upheld"
    assert upheld.json()["explanation"]["legal_basis"] == AGAIN["legal_basis"]

    case = get(f"/cases/{case_no}", login("officer")).json()
    texts = [entry.get("text", "") for entry in case["timeline"]]
    assert any("退回重新说明" in text and REASON in text for text in texts), texts
    assert any("维持" in text for text in texts)
    states = [e.get("data") or {} for e in case["timeline"] if e.get("kind") == "state_changed"]
    assert {"from_state": "resolved", "to_state": "in_progress"} in [
        {k: d.get(k) for k in ("from_state", "to_state")} for d in states
    ]

    deadline = time.monotonic() + 15
    while audited_actions(case_no).count("refusal_review") < 2:
        assert time.monotonic() < deadline, audited_actions(case_no)
        time.sleep(0.2)


def test_only_the_bureau_reviews_and_a_send_back_needs_its_reason(reviewed):
    street = reviewed["street"]
    for user in ("officer", "xjk.staff", "supervisor"):
        refused = post(f"/refusals/{street}/review", login(user), {"result": "upheld"})
        assert refused.status_code == 403, (user, refused.text)
    bureau = login("bureau")
    no_reason = post(f"/refusals/{street}/review", bureau, {"result": "sent_back"})
    assert no_reason.status_code == 422 and no_reason.json()["error"]["field"] == "reason"
    unknown = post(f"/refusals/{street}/review", bureau, {"result": "maybe"})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "result"
    missing = post("/refusals/XW-20000101-99999-HALL/review", bureau, {"result": "upheld"})
    assert missing.status_code == 404


def report(user: str, **params) -> requests.Response:
    return get("/refusals/report", login(user), **{"month": month_now(), **params})


def adds_up(body: dict) -> None:
    totals = body["totals"]
    assert totals["count"] == len(body["items"])
    assert totals["count"] == totals["upheld"] + totals["sent_back"] + totals["unreviewed"]
    for table, key in (("by_department", "department"), ("by_matter", "matter")):
        for column in ("count", "upheld", "sent_back", "unreviewed"):
            assert sum(row[column] for row in body[table]) == totals[column], (table, column)
        for code in {item[key] for item in body["items"]}:
            counted = next(row["count"] for row in body[table] if row[key] == code)
            assert counted == sum(1 for item in body["items"] if item[key] == code)


def test_the_month_report_lists_every_answer_with_its_review_and_adds_up(reviewed):
    case_no = reviewed["case_no"]
    body = report("bureau").json()
    adds_up(body)
    mine = [item for item in body["items"] if item["case_no"] == case_no]
    assert [(i["legal_basis"], i["review_result"]) for i in mine] == [
        (EXPLANATION["legal_basis"], "sent_back"),
        (AGAIN["legal_basis"], "upheld"),
    ]
    first = mine[0]
    assert first["review_result"] == "sent_back" and first["review_reason"] == REASON
    assert first["reviewed_by"] == "S0005" and first["reviewed_at"]
    assert first["missing_key_materials"] == EXPLANATION["missing_key_materials"]
    assert first["explained_by"] == "S0004"
    street = [item for item in body["items"] if item["case_no"] == reviewed["street"]]
    assert [item["review_result"] for item in street] == [None]

    bureau = login("bureau")
    month = {"month": month_now()}
    text = requests.get(f"{API}/refusals/report.csv", params=month, headers=bureau, timeout=10)
    assert text.status_code == 200 and text.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(text.content.decode("utf-8").lstrip("\ufeff"))))
    assert ["“不能办”答复（件）", str(body["totals"]["count"])] in rows
    totals = [str(body["totals"][c]) for c in ("count", "upheld", "sent_back", "unreviewed")]
    assert rows.count(["合计", *totals]) == 2, "by department and by matter, equal to the totals"
    detail = [row for row in rows if row and row[0] == case_no]
    assert detail and detail[0][4] == EXPLANATION["legal_basis"]
    assert (
        detail[0][6] == "住所使用证明（向产权人索取并加盖公章）" and detail[0][9] == "退回重新说明"
    )
    assert detail[0][10] == REASON

    book = requests.get(f"{API}/refusals/report.xlsx", params=month, headers=bureau, timeout=10)
    assert book.status_code == 200
    workbook = load_workbook(io.BytesIO(book.content), read_only=True)
    by_department = [list(r) for r in workbook["按部门"].iter_rows(values_only=True)]
    assert by_department[-1] == [
        "合计",
        *(body["totals"][c] for c in ("count", "upheld", "sent_back", "unreviewed")),
    ]
    assert sum(row[1] for row in by_department[1:-1]) == body["totals"]["count"]
    listed = [r[0] for r in workbook["逐件明细"].iter_rows(values_only=True)][1:]
    assert sorted(listed) == sorted(item["case_no"] for item in body["items"])


def test_the_report_is_scoped_like_every_report(reviewed):
    street = report("xjk.staff").json()
    assert street["site"] == "XJK" and street["items"]
    assert {item["site"] for item in street["items"]} == {"XJK"}
    adds_up(street)
    assert report("xjk.staff", site="HALL").status_code == 403
    assert report("hr").status_code == 403
    hall = report("hall.staff").json()
    assert reviewed["case_no"] in {item["case_no"] for item in hall["items"]}
    assert reviewed["street"] not in {item["case_no"] for item in hall["items"]}
    district = report("supervisor", site="XJK").json()
    assert {item["case_no"] for item in district["items"]} == {
        i["case_no"] for i in street["items"]
    }
    bad = report("bureau", month="2026-13")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "month"
    assert get("/refusals/report", login("bureau")).status_code == 422  # no month
    assert requests.get(f"{API}/refusals/report", params={"month": month_now()}).status_code == 401


def test_the_refusals_page_and_the_printable_report(reviewed):
    cookie = {"bancheng_token": login("bureau")["Authorization"].split()[1]}
    listing = requests.get(f"{BASE}/refusals", cookies=cookie, timeout=10)
    assert listing.status_code == 200
    assert f'action="/refusals/{reviewed["street"]}/review"' in listing.text  # awaiting review
    printable = requests.get(
        f"{BASE}/refusals/report", params={"month": month_now()}, cookies=cookie, timeout=10
    )
    assert printable.status_code == 200 and "否定答复" in printable.text
    assert reviewed["case_no"] in printable.text and REASON in printable.text
    staff = {"bancheng_token": login("xjk.staff")["Authorization"].split()[1]}
    own = requests.get(f"{BASE}/refusals/report", cookies=staff, timeout=10)
    assert own.status_code == 200 and reviewed["case_no"] not in own.text
    assert "review-form" not in requests.get(f"{BASE}/refusals", cookies=staff, timeout=10).text
