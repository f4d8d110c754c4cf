"""Each of the four types driven from registration to archive through the HTTP API."""

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
import requests

from tests.e2e.test_walking_skeleton import registration
from tests.system import API, login

pytestmark = pytest.mark.e2e

SH = ZoneInfo("Asia/Shanghai")


def post(path, headers, body=None):
    return requests.post(f"{API}{path}", json=body or {}, headers=headers, timeout=10)


def get(path, headers, **params):
    return requests.get(f"{API}{path}", params=params, headers=headers, timeout=10)


def register(registrar="hall.staff", **overrides) -> str:
    response = post("/cases", login(registrar), registration(**overrides))
    assert response.status_code == 201, response.text
    case_no = response.json()["case_no"]
    officer = login("officer")
    started = time.monotonic()  # coordination learns of the case from intake's event
    while get(f"/cases/{case_no}/coordination", officer).status_code != 200:
        assert time.monotonic() - started < 5, "coordination never opened the case"
        time.sleep(0.05)
    return case_no


def act(path, headers, body=None, status=200) -> dict:
    response = post(path, headers, body)
    assert response.status_code == status, response.text
    return response.json()


def state_changes(case_no) -> list[tuple[str, str]]:
    detail = get(f"/cases/{case_no}", login("officer")).json()
    return [
        (entry["data"]["from_state"], entry["data"]["to_state"])
        for entry in detail["timeline"]
        if entry["service"] == "coordination" and entry["kind"] == "state_changed"
    ]


def wait_until(condition, timeout=10.0):
    started = time.monotonic()
    while not (value := condition()):
        assert time.monotonic() - started < timeout, "condition not met in time"
        time.sleep(0.1)
    return value


def test_cannot_needs_its_basis_and_is_reported_upward(system):
    officer = login("officer")
    case_no = register()
    assert post(f"/cases/{case_no}/classify", login("hall.staff"), {}).status_code == 403
    act(f"/cases/{case_no}/classify", officer, {"type": "cannot", "reason": "缺少关键材料"})

    refused = post(f"/cases/{case_no}/resolve", officer, {"outcome": "explained", "summary": "x"})
    assert refused.status_code == 409 and "依据" in refused.json()["error"]["message"]
    early = post(f"/cases/{case_no}/close", officer)
    assert early.status_code == 409 and "已分类" in early.json()["error"]["message"]
    bad = post(
        f"/cases/{case_no}/explain",
        officer,
        {"legal_basis": "b", "explanation": "e", "missing_key_materials": [{"name": "住所证明"}]},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "missing_key_materials[0].how_to_obtain"

    explanation = {
        "legal_basis": "《中华人民共和国市场主体登记管理条例》第十六条",
        "explanation": "住所使用证明是企业开办的关键材料，缺少时无法办理",
        "missing_key_materials": [
            {
                "name": "住所使用证明",
                "how_to_obtain": "向产权人索取，或到区住房保障和房产局窗口开具",
            }
        ],
    }
    assert act(f"/cases/{case_no}/explain", officer, explanation)["state"] == "in_progress"
    act(f"/cases/{case_no}/reply", officer, {"summary": "已告知申请人依据及补正途径"})
    act(f"/cases/{case_no}/resolve", officer, {"outcome": "explained", "summary": "已解释"})
    act(f"/cases/{case_no}/close", officer, {"reason": "申请人已知悉"})
    assert act(f"/cases/{case_no}/archive", officer)["state"] == "archived"
    again = post(f"/cases/{case_no}/archive", officer)
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"

    assert state_changes(case_no) == [
        ("registered", "classified"),
        ("classified", "in_progress"),
        ("in_progress", "replied"),
        ("replied", "resolved"),
        ("resolved", "closed"),
        ("closed", "archived"),
    ]
    refusals = get("/refusals", login("bureau")).json()["items"]
    mine = next(item for item in refusals if item["case_no"] == case_no)
    assert mine["legal_basis"] == explanation["legal_basis"]
    assert mine["missing_key_materials"][0]["how_to_obtain"].startswith("向产权人")
    street = get("/refusals", login("xjk.staff"), site="HALL").json()["items"]
    assert case_no not in [item["case_no"] for item in street]  # window staff: own site only
    assert all(item["site"] == "XJK" for item in street)

    reopened = act(f"/cases/{case_no}/reopen", officer, {"reason": "申请人补齐材料后再次反映"})
    assert reopened["state"] == "in_progress"


def test_hard_measures_pause_the_clock_and_the_practice_is_promoted(system):
    officer = login("officer")
    case_no = register(matter="M001", description="缺少授权委托书，企业开办未能办成")
    act(f"/cases/{case_no}/classify", officer, {"type": "hard", "reason": "仅缺非关键材料"})
    assert post(f"/cases/{case_no}/explain", officer, {}).status_code == 409  # not `cannot`
    unfinished = post(f"/cases/{case_no}/resolve", officer, {"outcome": "done", "summary": "s"})
    assert unfinished.status_code == 409

    deferred = act(
        f"/cases/{case_no}/measures",
        officer,
        {
            "measure": "deferred_materials",
            "departments": ["SCJ"],
            "details": "容缺受理，先行办理",
            "materials": ["指定代表或委托代理人授权委托书"],
            "due": "2026-12-15",
        },
        status=201,
    )
    [deadline] = get(f"/cases/{case_no}", officer).json()["deadlines"]
    assert deadline["kind"] == "hard_resolution" and deadline["paused"]
    assert "授权委托书" in deadline["pause_reason"]
    act(
        f"/cases/{case_no}/measures/{deferred['measure_id']}/responses",
        officer,
        {"department": "SCJ", "response": "申请人已补交授权委托书", "delivered": True},
        status=201,
    )
    [deadline] = get(f"/cases/{case_no}", officer).json()["deadlines"]
    assert not deadline["paused"] and deadline["working_days_left"] >= 1

    video = act(
        f"/cases/{case_no}/measures",
        officer,
        {"measure": "video_verification", "departments": ["FCJ"], "details": "视频连线确认房东"},
        status=201,
    )
    wrong = post(
        f"/cases/{case_no}/measures/{video['measure_id']}/responses",
        officer,
        {"department": "SCJ", "response": "x", "delivered": True},
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "department"
    act(
        f"/cases/{case_no}/measures/{video['measure_id']}/responses",
        officer,
        {"department": "FCJ", "response": "房东视频确认属实", "delivered": True},
        status=201,
    )
    resolved = act(
        f"/cases/{case_no}/resolve",
        officer,
        {
            "outcome": "done",
            "summary": "视频确认房东后办结",
            "worked_measures": [video["measure_id"]],
        },
    )
    assert resolved["resolution"]["worked_measures"] == [video["measure_id"]]
    act(f"/cases/{case_no}/close", officer)
    act(f"/cases/{case_no}/archive", officer)

    practice = {
        "case_no": case_no,
        "matter": "M001",
        "windows": ["HALL/W01"],
        "title": "视频连线确认房东",
        "description": "仅有产权证明时，通过视频连线确认房东意愿后受理",
    }
    assert post("/practices", login("hall.staff"), practice).status_code == 403
    created = act("/practices", officer, practice, status=201)
    listed = get("/practices", login("hall.staff"), matter="M001").json()["items"]
    assert created["id"] in [item["id"] for item in listed]
    assert get("/practices", officer, matter="M999").json()["items"] == []


def test_refused_goes_to_accountability_and_still_gets_a_result(system, database_url):
    officer = login("officer")
    case_no = register(description="窗口人员态度恶劣，拒绝受理")
    act(f"/cases/{case_no}/classify", officer, {"type": "refused", "reason": "工作人员态度问题"})
    with psycopg.connect(database_url) as conn:
        classified = conn.execute(
            "SELECT payload->'data'->>'type' FROM coordination.outbox "
            "WHERE event_type = 'case_classified' AND payload->'data'->>'case_no' = %s",
            (case_no,),
        ).fetchone()
    assert classified == ("refused",)
    act(f"/cases/{case_no}/reply", officer, {"summary": "已当场重新受理并致歉"})
    act(f"/cases/{case_no}/resolve", officer, {"outcome": "done", "summary": "已办成"})
    act(f"/cases/{case_no}/close", officer)
    act(f"/cases/{case_no}/archive", officer)
    assert state_changes(case_no)[-1] == ("closed", "archived")


def test_pending_joint_meeting_reply_deadline_and_absences(system, database_url):
    officer, bureau = login("officer"), login("bureau")
    # handed over three weeks ago and especially complex: its 5-working-day reply is overdue
    received = (datetime.now(SH) - timedelta(days=21)).replace(microsecond=0)
    # beyond RECEIVED_AT_MAX_DAYS_BACK: only an officer registers it, saying why
    case_no = register(
        "officer",
        received_at=received.isoformat(),
        backdate_reason="窗口纸质登记补录",
        description="房屋用途认定职责不清",
    )
    act(
        f"/cases/{case_no}/classify",
        officer,
        {"type": "pending", "reason": "职责不清", "complex": True},
    )
    [deadline] = get(f"/cases/{case_no}", officer).json()["deadlines"]
    assert deadline["kind"] == "pending_reply" and deadline["working_days"] == 5
    # handed over now, not complex: 3 working days, until the meeting finds it complex
    fresh = register(description="历史遗留房屋登记问题")
    act(f"/cases/{fresh}/classify", officer, {"type": "pending", "reason": "历史原因"})
    [fresh_deadline] = get(f"/cases/{fresh}", officer).json()["deadlines"]
    assert fresh_deadline["working_days"] == 3 and fresh_deadline["working_days_left"] >= 1

    meeting_body = {
        "case_nos": [case_no, fresh],
        "departments": ["FCJ", "SCJ", "CGJ"],
        "scheduled_at": datetime.now(SH).replace(microsecond=0).isoformat(),
        "complex": True,
    }
    assert post("/joint-meetings", officer, meeting_body).status_code == 403
    meeting = act("/joint-meetings", bureau, meeting_body, status=201)
    [longer] = get(f"/cases/{fresh}", officer).json()["deadlines"]
    assert longer["working_days"] == 5 and longer["due_at"] > fresh_deadline["due_at"]
    [deadline] = get(f"/cases/{case_no}", officer).json()["deadlines"]
    assert meeting["reply_due_at"] == deadline["due_at"]  # the earlier of the two cases'
    assert datetime.fromisoformat(deadline["due_at"]) > received

    early = post(f"/cases/{case_no}/reply", bureau, {"summary": "x"})
    assert early.status_code == 409 and "联席会议" in early.json()["error"]["message"]
    minutes = {
        "attendance": [
            {"department": "FCJ", "present": True, "position": "由房产部门出具用途说明"},
            {"department": "SCJ", "present": False, "valid_reason": "参加市局专项检查"},
            {"department": "CGJ", "present": False},
        ],
        "decision": "由区住房保障和房产局出具房屋用途说明，市场监管局据此登记",
        "assignments": [
            {
                "department": "FCJ",
                "case_no": case_no,
                "task": "出具房屋用途说明",
                "due": "2026-12-31",
            }
        ],
    }
    minuted = act(f"/joint-meetings/{meeting['id']}/minutes", bureau, minutes)
    assert minuted["status"] == "minuted" and minuted["assignments"][0]["department"] == "FCJ"
    assert post(f"/joint-meetings/{meeting['id']}/minutes", bureau, minutes).status_code == 409
    with psycopg.connect(database_url) as conn:
        absent = conn.execute(
            "SELECT payload->'data'->>'department' FROM coordination.outbox "
            "WHERE event_type = 'department_absent' AND (payload->'data'->>'meeting_id')::int = %s",
            (meeting["id"],),
        ).fetchall()
    assert absent == [("CGJ",)]

    # the clock breaches the overdue reply once
    breached = wait_until(
        lambda: [d for d in get(f"/cases/{case_no}", officer).json()["deadlines"] if d["breached"]]
    )
    assert breached[0]["kind"] == "pending_reply"
    replied = act(f"/cases/{case_no}/reply", bureau, {"summary": "经联席会议研究，已明确办理部门"})
    assert replied["reply"]["on_time"] is False
    assert replied["reply"]["working_days_taken"] > 5
    act(
        f"/joint-meetings/{meeting['id']}/assignments/{minuted['assignments'][0]['id']}/delivered",
        bureau,
    )
    act(f"/cases/{case_no}/resolve", bureau, {"outcome": "done", "summary": "已办成"})
    act(f"/cases/{case_no}/close", bureau)
    act(f"/cases/{case_no}/archive", bureau)
    listed = get("/joint-meetings", login("hall.staff"), case_no=case_no).json()["items"]
    assert [m["id"] for m in listed] == [meeting["id"]]
    assert listed[0]["assignments"][0]["delivered_at"]
    # the bureau may act on pending cases only
    other = register()
    act(f"/cases/{other}/classify", officer, {"type": "refused", "reason": "态度问题"})
    assert post(f"/cases/{other}/reply", bureau, {"summary": "x"}).status_code == 403
