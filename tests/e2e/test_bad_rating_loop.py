"""The 差评 loop through the HTTP contract, on the running system: a real-name bad rating is
verified, appealed by the staff member it is about, the appeal decided by a supervisor, the
rating rectified, its rater answered and visited, the re-rating recorded and the case closed;
each step refused to the wrong role; and the month's 差评整改率, 回访率 and re-ratings in the
monthly summary (JSON, CSV, XLSX and the printable page)."""

import io
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from openpyxl import load_workbook

from tests.e2e.test_walking_skeleton import registration
from tests.system import API, GATEWAY_PORT, login

pytestmark = pytest.mark.e2e

SH = ZoneInfo("Asia/Shanghai")
BASE = f"http://127.0.0.1:{GATEWAY_PORT}"
RATED = "S0001"  # hall.staff: the window staff member the rating is about


def post(path, headers, body=None):
    return requests.post(f"{API}{path}", json=body or {}, headers=headers, timeout=15)


def step(case_no, name, headers, body, status=200) -> dict:
    response = post(f"/cases/{case_no}/bad-rating/{name}", headers, body)
    assert response.status_code == status, response.text
    return response.json()


def refused(case_no, name, headers, body, status, code=None, field=None):
    error = step(case_no, name, headers, body, status)["error"]
    if code:
        assert error["code"] == code, error
    if field:
        assert error["field"] == field, error
    return error


def case(case_no, headers=None) -> dict:
    response = requests.get(
        f"{API}/cases/{case_no}", headers=headers or login("officer"), timeout=15
    )
    assert response.status_code == 200, response.text
    return response.json()


def eventually(fetch, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (value := fetch()):
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.2)
    return value


def bad_rating(level=2, **applicant) -> str:
    body = {
        "channel": "rating",
        "site": "HALL",
        "window": "W02",
        "matter": "M001",
        "staff": RATED,
        "level": level,
        "text": "窗口人员态度生硬",
        "applicant": {"kind": "person", "name": "钱七", "phone": "13700001111", **applicant},
    }
    response = post("/feedback", login("officer"), body)
    assert response.status_code == 201, response.text
    assert response.json()["requires_return_visit"] is True
    return response.json()["case_no"]


def summary(month: str) -> dict:
    response = requests.get(
        f"{API}/reports/monthly",
        params={"month": month, "site": "HALL"},
        headers=login("officer"),
        timeout=15,
    )
    assert response.status_code == 200, response.text
    return response.json()["bad_ratings"]


def local_month(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(SH).strftime("%Y-%m")


def test_a_bad_rating_goes_round_the_loop_to_its_close(system):
    officer, supervisor = login("officer"), login("supervisor")
    rated, colleague = login("hall.staff"), login("xjk.staff")
    this_month = datetime.now(SH).strftime("%Y-%m")
    before = summary(this_month)

    case_no = bad_rating(level=2)
    loop = case(case_no)["bad_rating"]
    assert loop["state"] == "awaiting_verification" and loop["state_label"] == "待核实"
    assert (loop["rating_level"], loop["rated_staff"]) == (2, RATED)
    assert loop["allowed_actions"] == ["verify"] and loop["requires_return_visit"] is True

    # 核实: officers only, never of a rating about oneself; a finding from the list
    refused(case_no, "verify", rated, {"finding": "genuine", "reason": "x"}, 403)
    refused(case_no, "verify", supervisor, {"finding": "genuine", "reason": "x"}, 403)
    refused(case_no, "verify", officer, {"finding": "maybe", "reason": "x"}, 422, field="finding")
    loop = step(case_no, "verify", officer, {"finding": "genuine", "reason": "调阅录像，属实"})
    assert loop["state"] == "rectifying" and loop["genuine"] is True
    period = loop["rectification_deadline"]
    assert period["kind"] == "bad_rating_rectification" and period["working_days"] == 15
    assert period["working_days_left"] == 15 and not period["paused"]
    refused(
        case_no, "verify", officer, {"finding": "genuine", "reason": "x"}, 409, "bad_rating_step"
    )
    listed = case(case_no)["deadlines"]
    assert [d["kind"] for d in listed].count("bad_rating_rectification") == 1

    # 申诉: the rated staff member's own (another site's staff cannot even reach the case)
    refused(case_no, "appeal", colleague, {"reason": "x"}, 403)
    refused(case_no, "appeal", officer, {"reason": "x"}, 403)
    refused(case_no, "appeal", rated, {}, 422, field="reason")
    loop = step(case_no, "appeal", rated, {"reason": "当时系统故障，并非态度问题"})
    assert loop["state"] == "appealed" and loop["rectification_deadline"]["paused"] is True
    refused(case_no, "rectify", officer, {"measures": "x"}, 409, "bad_rating_step")

    # the decision: a supervisor's, never the verifier's or the appellant's
    refused(case_no, "appeal-decision", officer, {"upheld": False, "reason": "x"}, 403)
    refused(case_no, "appeal-decision", rated, {"upheld": False, "reason": "x"}, 403)
    refused(case_no, "appeal-decision", supervisor, {"upheld": "no", "reason": "x"}, 422)
    loop = step(
        case_no, "appeal-decision", supervisor, {"upheld": False, "reason": "系统日志无故障"}
    )
    assert loop["state"] == "rectifying" and loop["rectification_deadline"]["paused"] is False
    assert loop["appeal"]["decision"]["upheld"] is False
    refused(case_no, "appeal", rated, {"reason": "again"}, 409, "bad_rating_step")

    # the case's own flow: resolved, but it cannot close while the 差评 is open
    officer_post = lambda path, body: post(f"/cases/{case_no}/{path}", officer, body)  # noqa: E731
    assert officer_post("classify", {"type": "refused", "reason": "服务态度"}).status_code == 200
    assert officer_post("resolve", {"outcome": "done", "summary": "已办成"}).status_code == 200
    # the return visit first (it may come any time), so the loop is what holds the case
    visit = post(
        f"/cases/{case_no}/return-visit", rated, {"satisfied": True, "notes": "已电话回访"}
    )
    assert visit.status_code == 201, visit.text
    eventually(lambda: case(case_no)["bad_rating"]["return_visit_at"])
    closing = officer_post("close", {})
    assert closing.status_code == 409 and closing.json()["error"]["code"] == "bad_rating_open"
    assert "差评" in closing.json()["error"]["message"]

    # 整改 within the period, 反馈, then 再评价
    refused(case_no, "rectify", rated, {"measures": "x"}, 403)
    refused(case_no, "rectify", officer, {"measures": ""}, 422, field="measures")
    loop = step(case_no, "rectify", officer, {"measures": "约谈当事人并组织业务培训"})
    assert loop["rectification"]["on_time"] is True and loop["state"] == "awaiting_answer"
    assert loop["rectification_deadline"]["met_at"]
    refused(case_no, "re-rating", officer, {"level": 4}, 409, "bad_rating_step")
    loop = step(case_no, "answer", officer, {"summary": "已核实并整改，向您致歉"})
    assert loop["state"] == "awaiting_re_rating" and loop["closable"] is True
    refused(case_no, "re-rating", officer, {"level": 6}, 422, field="level")
    loop = step(case_no, "re-rating", officer, {"level": 4, "text": "态度改进了"})
    assert loop["state"] == "completed" and loop["re_rating"]["improved"] is True

    closed = officer_post("close", {})
    assert closed.status_code == 200 and closed.json()["state"] == "closed", closed.text
    detail = case(case_no, rated)
    assert detail["bad_rating"]["state_label"] == "已完成"
    texts = " ".join(entry["text"] for entry in detail["timeline"])
    for words in (
        "差评核实：差评属实",
        "提出申诉",
        "申诉驳回",
        "差评整改（按期）",
        "已向评价人反馈",
        "再评价：满意",
    ):
        assert words in texts, words

    # the month's figures: the period's month for the rectification, this month for the rest
    due_month = local_month(period["due_at"])

    def moved() -> dict | None:
        now, due = summary(this_month), summary(due_month)
        done = (
            now["re_ratings"] == before["re_ratings"] + 1
            and now["return_visits_done"] >= before["return_visits_done"] + 1
            and due["rectified_on_time"] >= 1
        )
        return (now, due) if done else None

    now, due = eventually(moved)
    assert now["genuine"] == before["genuine"] + 1
    assert now["appealed"] == before["appealed"] + 1
    assert now["return_visits_required"] >= before["return_visits_required"] + 1
    assert now["re_ratings_improved"] == before["re_ratings_improved"] + 1
    assert now["re_rating_average"] is not None
    assert due["rectification_rate"] == round(
        due["rectified_on_time"] / due["rectification_due"], 4
    )
    assert now["return_visit_rate"] == round(
        now["return_visits_done"] / now["return_visits_required"], 4
    )

    headers = login("officer")
    params = {"month": this_month, "site": "HALL"}
    csv_text = requests.get(
        f"{API}/reports/monthly.csv", params=params, headers=headers, timeout=15
    )
    assert csv_text.status_code == 200
    text = csv_text.content.decode("utf-8-sig")
    assert "差评办理（核实·整改·回访·再评价）" in text and "差评整改率" in text and "回访率" in text
    xlsx = requests.get(f"{API}/reports/monthly.xlsx", params=params, headers=headers, timeout=15)
    workbook = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    sheet = next(ws for ws in workbook.worksheets if ws.title.startswith("差评办理"))
    rows = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["再评价（条）"] == now["re_ratings"]
    page = requests.get(f"{BASE}/reports/monthly", params=params, headers=headers, timeout=15)
    assert (
        page.status_code == 200
        and "差评整改率" in page.text
        and 'id="return-visit-rate"' in page.text
    )


def test_a_bad_rating_found_not_genuine_or_upheld_on_appeal_needs_no_rectification(system):
    officer, supervisor, rated = login("officer"), login("supervisor"), login("hall.staff")
    malicious = bad_rating(level=1)
    loop = step(
        malicious, "verify", officer, {"finding": "malicious", "reason": "同一号码批量差评"}
    )
    assert loop["state"] == "not_genuine" and loop["rectification_deadline"] is None
    assert loop["closable"] is True and loop["allowed_actions"] == ["answer"]
    refused(malicious, "appeal", rated, {"reason": "x"}, 409, "bad_rating_step")

    upheld = bad_rating(level=2)
    step(upheld, "verify", officer, {"finding": "genuine", "reason": "初步核实属实"})
    step(upheld, "appeal", rated, {"reason": "排班表显示当时不在岗"})
    loop = step(upheld, "appeal-decision", supervisor, {"upheld": True, "reason": "排班表属实"})
    assert loop["state"] == "not_genuine" and loop["genuine"] is False
    assert loop["rectification_deadline"]["met_at"] and loop["allowed_actions"] == ["answer"]
    refused(upheld, "rectify", officer, {"measures": "x"}, 409, "bad_rating_step")

    # a case a window registered has no loop
    registered = post("/cases", login("hall.staff"), registration())
    assert registered.status_code == 201, registered.text
    window_case = registered.json()["case_no"]
    assert case(window_case)["bad_rating"] is None
    refused(
        window_case,
        "verify",
        officer,
        {"finding": "genuine", "reason": "x"},
        409,
        "not_a_bad_rating",
    )
