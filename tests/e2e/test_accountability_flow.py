"""End to end over HTTP: a refused case is investigated, found, sanctioned, appealed, audited;
only supervisors record findings, only HR confirms or rejects a dismissal, nobody decides their
own appeal, and records are not open to every colleague."""

import time

import pytest
import requests
from stdnum.cn import ric

from services.gateway.http import TOKEN_COOKIE
from tests.system import API, login

pytestmark = pytest.mark.e2e


def registration() -> dict:
    base = "32010219900101123"
    return {
        "site": "HALL",
        "window": "W01",
        "matter": "M001",
        "department": "SCJ",
        "channel": "window",
        "applicant": {
            "kind": "person",
            "name": "赵六",
            "id_number": base + ric.calc_check_digit(base + "0"),
            "phone": "13912345679",
        },
        "description": "窗口人员态度生硬，拒绝受理企业开办",
        "first_receiver": "S0001",
    }


def eventually(fetch, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if value:
            return value
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.2)


def test_a_refused_case_flows_to_a_finding_with_role_checks_all_the_way(system):
    staff, officer, supervisor = login("hall.staff"), login("officer"), login("supervisor")
    colleague = login("xjk.staff")
    case = requests.post(f"{API}/cases", json=registration(), headers=staff, timeout=10)
    assert case.status_code == 201, case.text
    case_no = case.json()["case_no"]
    # the case must reach coordination before it can be classified
    classified = eventually(
        lambda: (
            (
                r := requests.post(
                    f"{API}/cases/{case_no}/classify",
                    json={
                        "type": "refused",
                        "reason": "窗口人员态度生硬，拒不受理",
                        "complex": False,
                    },
                    headers=officer,
                    timeout=10,
                )
            ).status_code
            == 200
            and r
        )
    )
    assert classified.status_code == 200

    assert requests.get(f"{API}/investigations", headers=officer, timeout=10).status_code == 403
    investigation = eventually(
        lambda: next(
            (
                item
                for item in requests.get(
                    f"{API}/investigations",
                    params={"status": "open"},
                    headers=supervisor,
                    timeout=10,
                ).json()["items"]
                if item["case_no"] == case_no
            ),
            None,
        )
    )
    finding = {
        "staff_id": "S0001",
        "cause": "attitude",
        "finding": "当事人反映窗口人员态度生硬，经查属实",
    }
    url = f"{API}/investigations/{investigation['id']}/finding"
    for who in (staff, officer, login("bureau")):
        refused = requests.post(url, json=finding, headers=who, timeout=10)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "forbidden"
    unknown = requests.post(
        url, json={**finding, "staff_id": "S9999"}, headers=supervisor, timeout=10
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "staff_id"

    # the session's other tests may have found against S0001 already: the ladder counts on
    earlier = requests.get(f"{API}/staff/S0001/record", headers=supervisor, timeout=10).json()
    earlier_strikes = len(earlier["strikes"])
    recorded = requests.post(url, json=finding, headers=supervisor, timeout=10)
    assert recorded.status_code == 201, recorded.text
    body = recorded.json()
    expected = ["bonus_withheld", "reminder_talk"] if earlier_strikes < 2 else ["dismissal"]
    assert sorted(s["kind"] for s in body["sanctions"]) == expected
    again = requests.post(url, json=finding, headers=supervisor, timeout=10)
    assert again.status_code == 409

    # the staff member sees their own record; a colleague at another site does not
    record = requests.get(f"{API}/staff/S0001/record", headers=staff, timeout=10)
    assert record.status_code == 200
    record = record.json()
    assert case_no in {c["case_no"] for c in record["first_received"]}
    strikes = [s["case_no"] for s in record["strikes"]]
    assert case_no in strikes and len(strikes) == earlier_strikes + 1
    assert (
        requests.get(f"{API}/staff/S0001/record", headers=colleague, timeout=10).status_code == 403
    )

    appeal_url = f"{API}/findings/{body['id']}/appeal"
    assert (
        requests.post(
            appeal_url, json={"reason": "不服"}, headers=colleague, timeout=10
        ).status_code
        == 403
    )
    appeal = requests.post(appeal_url, json={"reason": "当日系统故障"}, headers=staff, timeout=10)
    assert appeal.status_code == 201, appeal.text
    decision_url = f"{API}/appeals/{appeal.json()['id']}/decision"
    decision = {"upheld": False, "reason": "监控显示态度问题属实"}
    assert requests.post(decision_url, json=decision, headers=staff, timeout=10).status_code == 403
    assert (
        requests.post(decision_url, json=decision, headers=supervisor, timeout=10).status_code
        == 200
    )

    # the audit trail holds the classification, the finding, the sanctions and the appeal
    assert (
        requests.get(
            f"{API}/audit", params={"case_no": case_no}, headers=staff, timeout=10
        ).status_code
        == 403
    )
    trail = eventually(
        lambda: (
            (
                entries := requests.get(
                    f"{API}/audit", params={"case_no": case_no}, headers=supervisor, timeout=10
                ).json()["items"]
            )
            and "classification" in {e["action"] for e in entries}
            and entries
        )
    )
    actions = [entry["action"] for entry in trail]
    assert {"registration", "classification", "investigation_opened", "finding", "sanction",
            "appeal", "appeal_decision"} <= set(actions)  # fmt: skip
    finding_entry = next(entry for entry in trail if entry["action"] == "finding")
    assert (finding_entry["actor"], finding_entry["role"]) == ("S0006", "supervisor")


def cookie(headers: dict) -> dict:
    """The pages' session cookie carrying the token of ``headers``."""
    return {TOKEN_COOKIE: headers["Authorization"].removeprefix("Bearer ")}


def investigated(staff: dict, officer: dict, supervisor: dict, first_receiver: str) -> int:
    """A refused case first received by ``first_receiver``: its open investigation's id."""
    case = requests.post(
        f"{API}/cases",
        json={**registration(), "first_receiver": first_receiver},
        headers=staff,
        timeout=10,
    )
    assert case.status_code == 201, case.text
    case_no = case.json()["case_no"]
    classify = {"type": "refused", "reason": "窗口人员态度生硬", "complex": False}
    eventually(
        lambda: (
            requests.post(
                f"{API}/cases/{case_no}/classify", json=classify, headers=officer, timeout=10
            ).status_code
            == 200
        )
    )
    return eventually(
        lambda: next(
            (
                item["id"]
                for item in requests.get(
                    f"{API}/investigations",
                    params={"status": "open"},
                    headers=supervisor,
                    timeout=10,
                ).json()["items"]
                if item["case_no"] == case_no
            ),
            None,
        )
    )


def test_hr_not_the_supervisor_decides_a_dismissal_and_nobody_decides_their_own_appeal(system):
    staff, officer, supervisor, hr = (
        login(name) for name in ("hall.staff", "officer", "supervisor", "hr")
    )
    finding = {"staff_id": "S0009", "cause": "attitude", "finding": "态度生硬，经查属实"}
    results = []
    for _ in range(3):  # S0009 has no other finding in the session: the third is the dismissal
        url = f"{API}/investigations/{investigated(staff, officer, supervisor, 'S0009')}/finding"
        recorded = requests.post(url, json=finding, headers=supervisor, timeout=10)
        assert recorded.status_code == 201, recorded.text
        results.append(recorded.json())
    [dismissal] = results[2]["sanctions"]
    assert (dismissal["kind"], dismissal["status"]) == ("dismissal", "recommended")

    # the /appeals page offers the dismissal's forms to HR only
    page = API.removesuffix("/api/v1") + "/appeals"
    forms = f'action="/sanctions/{dismissal["id"]}/reject"'
    hr_page = requests.get(page, cookies=cookie(hr), timeout=30)
    assert hr_page.status_code == 200 and forms in hr_page.text
    supervisor_page = requests.get(page, cookies=cookie(supervisor), timeout=30)
    assert supervisor_page.status_code == 200 and forms not in supervisor_page.text
    assert "等待人事部门确认" in supervisor_page.text

    confirm = f"{API}/sanctions/{dismissal['id']}/confirm"
    for who in (supervisor, officer, staff):
        refused = requests.post(confirm, headers=who, timeout=10)
        assert refused.status_code == 403, refused.text
    rejected = requests.post(
        f"{API}/sanctions/{dismissal['id']}/reject",
        json={"reason": "情节尚不足以辞退，改为调岗培训"},
        headers=hr,
        timeout=10,
    )
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["rejected_by"]) == ("rejected", "S0039")
    assert requests.post(confirm, headers=hr, timeout=10).status_code == 409

    # the supervisor files an appeal on the staff member's behalf: they may not decide it
    appeal = requests.post(
        f"{API}/findings/{results[0]['id']}/appeal",
        json={"reason": "代为申诉：当日系统故障"},
        headers=supervisor,
        timeout=10,
    )
    assert appeal.status_code == 201, appeal.text
    decided = requests.post(
        f"{API}/appeals/{appeal.json()['id']}/decision",
        json={"upheld": True, "reason": "自己决定"},
        headers=supervisor,
        timeout=10,
    )
    assert decided.status_code == 403, decided.text
    assert "职责分离" in decided.json()["error"]["message"]

    trail = requests.get(
        f"{API}/audit", params={"case_no": results[2]["case_no"]}, headers=supervisor, timeout=10
    ).json()["items"]
    [entry] = [e for e in trail if e["action"] == "sanction_rejected"]
    assert (entry["actor"], entry["role"], entry["key_id"]) == ("S0039", "hr", "k1")


def test_department_scores_need_a_year_and_the_right_role(system):
    year = time.localtime().tm_year
    supervisor = login("supervisor")
    assert (
        requests.get(
            f"{API}/departments/scores",
            params={"year": year},
            headers=login("hall.staff"),
            timeout=10,
        ).status_code
        == 403
    )
    missing = requests.get(f"{API}/departments/scores", headers=supervisor, timeout=10)
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "year"
    scores = requests.get(
        f"{API}/departments/scores", params={"year": year}, headers=supervisor, timeout=10
    )
    assert scores.status_code == 200
    items = scores.json()["items"]
    assert any(item["name"] == "区行政审批局" for item in items)
    assert all(item["score"] == 100 - item["deducted"] for item in items)
    withdraw = requests.post(
        f"{API}/deductions/999999/withdraw", json={"reason": "x"}, headers=supervisor, timeout=10
    )
    assert withdraw.status_code == 404
