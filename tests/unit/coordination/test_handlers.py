"""Coordination's use cases on an in-memory unit of work: every flow step of the four types,
the deadline clock, pause and resume, reopen and archive, role refusals and illegal steps.

Every decision a test commits is checked, when the test ends, against the contract other
services consume: its payload is JSON, passes the consumers' schema
(services/common/event_schemas.py) and has every field docs/events.md lists for its type.
"""

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from services.common import event_schemas
from services.common.errors import Conflict, Forbidden, InvalidField, NotFound
from services.common.events import new_event
from services.common.workdays import WorkingCalendar, parse_year_file
from services.coordination import handlers, handover
from services.coordination.handover import NotHandedOver
from tests.unit.coordination.fakes import (
    FakeCoordinationStore,
    FixedRules,
    default_rules,
    registration,
)
from tests.unit.fakes import SHANGHAI, FakeClock, FakeUnitOfWork

DOCS = Path(__file__).resolve().parents[3] / "docs" / "events.md"

OFFICER = {"id": "S0004", "name": "张建国", "role": "officer", "site": "HALL"}
BUREAU = {"id": "S0005", "name": "周立新", "role": "bureau", "site": None}
HALL_STAFF = {"id": "S0001", "name": "王雅婷", "role": "window_staff", "site": "HALL"}

CASE_NO = "XW-20260930-00001-HALL"
# handed over Wed 30 Sep 2026 (DESIGN §5): 1-7 Oct are the National Day holiday
WEDNESDAY = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
EXPLANATION = {
    "legal_basis": "《市场主体登记管理条例》第十六条",
    "explanation": "住所使用证明是关键材料",
    "missing_key_materials": [{"name": "住所使用证明", "how_to_obtain": "向产权人索取"}],
}
DEFERRED = {
    "measure": "deferred_materials",
    "departments": ["SCJ"],
    "details": "容缺受理，先行办理",
    "materials": ["授权委托书"],
    "due": "2026-10-15",
}
VIDEO = {"measure": "video_verification", "departments": ["FCJ"], "details": "视频连线确认房东"}


def documented_fields() -> dict[str, set[str]]:
    """Each coordination event type's fields in docs/events.md, without the optional ones."""
    section = DOCS.read_text(encoding="utf-8").split("## coordination", 1)[1].split("\n## ")[0]
    documented = {}
    for line in section.splitlines():
        row = re.match(r"\| (`[^|]+`) \| (.+) \|$", line)
        if not row:
            continue
        # sublists ([{name, how_to_obtain}]) and remarks ((bool)) are not fields of their own
        described = re.sub(r"\[[^\]]*\]|\([^)]*\)", "", row.group(2))
        names = {name.strip() for name in described.split(",")}
        for event_type in re.findall(r"`(\w+)`", row.group(1)):
            documented[event_type] = {n for n in names if n and not n.endswith("?")}
    documented["deadline_paused"].discard("provisional")  # "provisional (resumed)"
    return documented


DOCUMENTED = documented_fields()


@pytest.fixture
def clock():
    return FakeClock(WEDNESDAY)


@pytest.fixture
def store():
    return FakeCoordinationStore()


@pytest.fixture
def uow(store, clock):
    uow = FakeUnitOfWork(store, clock)
    yield uow
    for decision in uow.committed:  # the contract, for every decision the test committed
        envelope = new_event(
            decision.event_type, decision.data, source_service="coordination", source_site=None
        )
        json.dumps(envelope)  # what the outbox stores
        assert event_schemas.problem(envelope, "coordination", decision.event_type) is None
        assert decision.event_type in DOCUMENTED, f"{decision.event_type} is not documented"
        missing = DOCUMENTED[decision.event_type] - set(decision.data)
        assert not missing, f"{decision.event_type} lacks {sorted(missing)}"


@pytest.fixture
def rules():
    return default_rules()


def hand_over(uow, case_no=CASE_NO, **overrides) -> dict:
    """Intake's case_registered as coordination's consumer receives it."""
    event = new_event(
        "case_registered",
        registration(case_no, **overrides),
        source_service="intake",
        source_site="HALL",
    )
    assert handover.open_case(uow, event)
    return event


def classify(uow, rules, case_type, case_no=CASE_NO, complex_=False) -> dict:
    payload = {"type": case_type, "reason": "分类理由", "complex": complex_}
    return handlers.classify_case(uow, rules, case_no, payload, OFFICER)


def kinds(uow) -> list[str]:
    return [decision.event_type for decision in uow.committed]


def state_changes(uow, case_no=CASE_NO) -> list[tuple[str, str]]:
    return [
        (d.data["from_state"], d.data["to_state"])
        for d in uow.events("case_state_changed")
        if d.data["case_no"] == case_no
    ]


def deadlines(uow, rules, case_no=CASE_NO) -> list[dict]:
    return handlers.case_deadlines(uow, rules, case_no)


def refused_with(error_type, step, code=None):
    with pytest.raises(error_type) as caught:
        step()
    if code is not None:
        assert caught.value.code == code
    return caught.value


# --------------------------------------------------------------------------- cannot


def test_cannot_is_explained_replied_resolved_closed_and_archived(uow, rules, store):
    hand_over(uow)
    summary = classify(uow, rules, "cannot")
    assert summary["state"] == "classified" and summary["type"] == "cannot"
    [reply_deadline] = deadlines(uow, rules)
    # 3 working days from the hand-over: Sat 10 Oct 2026 is a make-up working day
    assert reply_deadline["kind"] == "cannot_reply" and reply_deadline["working_days"] == 3
    assert reply_deadline["due_at"] == datetime(2026, 10, 10, 18, 0, tzinfo=SHANGHAI)
    [classified] = uow.events("case_classified")
    assert classified.data["type"] == "cannot" and classified.data["first_receiver"] == "S0001"
    assert classified.timeline_text == "分类为“不能办”：分类理由"

    summary = handlers.explain(uow, CASE_NO, EXPLANATION, OFFICER)
    assert summary["state"] == "in_progress"
    assert summary["explanation"]["legal_basis"] == EXPLANATION["legal_basis"]
    assert "explain" not in summary["allowed_actions"], "an explanation is given once"
    [explained] = uow.events("explanation_given")
    assert explained.timeline_kind == "explained" and "住所使用证明（向产权人索取）" in (
        explained.timeline_text
    )

    replied = handlers.reply(uow, rules, CASE_NO, {"summary": "已告知依据及补正途径"}, OFFICER)
    assert replied["reply"]["on_time"] is True and replied["reply"]["working_days_taken"] == 0
    assert deadlines(uow, rules)[0]["met_at"] == WEDNESDAY
    handlers.resolve(uow, CASE_NO, {"outcome": "explained", "summary": "已解释"}, OFFICER)
    handlers.close(uow, CASE_NO, {"reason": "申请人已知悉"}, OFFICER)
    assert handlers.archive(uow, CASE_NO, None, OFFICER)["state"] == "archived"

    assert state_changes(uow) == [
        ("registered", "classified"),
        ("classified", "in_progress"),
        ("in_progress", "replied"),
        ("replied", "resolved"),
        ("resolved", "closed"),
        ("closed", "archived"),
    ]
    [refusal] = handlers.refusals(uow, {})
    assert refusal["case_no"] == CASE_NO and refusal["legal_basis"] == EXPLANATION["legal_basis"]
    assert handlers.refusals(uow, {"site": "XJK"}) == []


def test_cannot_needs_its_explanation_before_it_is_resolved(uow, rules, store):
    hand_over(uow)
    classify(uow, rules, "cannot")
    resolve = {"outcome": "explained", "summary": "x"}
    refused_with(
        Conflict,
        lambda: handlers.resolve(uow, CASE_NO, resolve, OFFICER),
        "explanation_required",
    )
    bad = {**EXPLANATION, "missing_key_materials": [{"name": "住所证明"}]}
    error = refused_with(InvalidField, lambda: handlers.explain(uow, CASE_NO, bad, OFFICER))
    assert error.field == "missing_key_materials[0].how_to_obtain"
    assert store.cases[CASE_NO]["explanation"] is None
    assert store.cases[CASE_NO]["state"] == "classified", "nothing of a refused step is kept"


# --------------------------------------------------------------------------- hard


def test_hard_measures_pause_and_resume_the_clock_and_the_practice_is_promoted(uow, rules, clock):
    hand_over(uow)
    classify(uow, rules, "hard")
    refused_with(
        Conflict, lambda: handlers.explain(uow, CASE_NO, EXPLANATION, OFFICER), "wrong_type"
    )
    done = {"outcome": "done", "summary": "s"}
    refused_with(
        Conflict, lambda: handlers.resolve(uow, CASE_NO, done, OFFICER), "measure_required"
    )
    [before] = deadlines(uow, rules)
    assert before["kind"] == "hard_resolution" and before["working_days"] == 5

    added = handlers.add_measure(uow, CASE_NO, DEFERRED, OFFICER)
    assert added["state"] == "in_progress"
    [paused] = deadlines(uow, rules)
    assert paused["paused"] and "授权委托书" in paused["pause_reason"]
    [measure_added] = uow.events("measure_added")
    assert measure_added.data["due"] == "2026-10-15"
    assert measure_added.data["materials"] == ["授权委托书"]
    [pause] = uow.events("deadline_paused")
    assert pause.data["reason"] == "等待申请人在 2026-10-15 前补交容缺材料：授权委托书"

    clock.current = datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)  # the material arrives
    response = {"department": "SCJ", "response": "申请人已补交", "delivered": True}
    handlers.record_measure_response(uow, rules, CASE_NO, added["measure_id"], response, OFFICER)
    [resumed] = deadlines(uow, rules)
    assert not resumed["paused"] and resumed["due_at"] > before["due_at"]
    [resume] = uow.events("deadline_resumed")
    assert resume.data["reason"] == pause.data["reason"] and resume.data["provisional"] is False
    assert resume.timeline_text.startswith("期限恢复计时，剩余 5 个工作日")

    video = handlers.add_measure(uow, CASE_NO, VIDEO, OFFICER)
    wrong = {"department": "SCJ", "response": "x", "delivered": True}
    error = refused_with(
        InvalidField,
        lambda: handlers.record_measure_response(
            uow, rules, CASE_NO, video["measure_id"], wrong, OFFICER
        ),
    )
    assert error.field == "department"
    refused_with(
        NotFound,
        lambda: handlers.record_measure_response(uow, rules, CASE_NO, 999, wrong, OFFICER),
    )
    worked = {
        "outcome": "done",
        "summary": "视频确认后办结",
        "worked_measures": [video["measure_id"]],
    }
    resolved = handlers.resolve(uow, CASE_NO, worked, OFFICER)
    assert resolved["resolution"]["worked_measures"] == [video["measure_id"]]
    assert all(d["met_at"] for d in deadlines(uow, rules))
    [case_resolved] = uow.events("case_resolved")
    assert case_resolved.data["type"] == "hard" and case_resolved.data["matter"] == "M001"
    handlers.close(uow, CASE_NO, {}, OFFICER)
    handlers.archive(uow, CASE_NO, {}, OFFICER)

    practice = {
        "case_no": CASE_NO,
        "matter": "M001",
        "windows": ["HALL/W01"],
        "title": "视频连线确认房东",
        "description": "仅有产权证明时，视频确认房东意愿后受理",
    }
    refused_with(Forbidden, lambda: handlers.promote_practice(uow, practice, HALL_STAFF))
    other_matter = {**practice, "matter": "M002"}
    error = refused_with(
        InvalidField, lambda: handlers.promote_practice(uow, other_matter, OFFICER)
    )
    assert error.field == "matter"
    promoted = handlers.promote_practice(uow, practice, OFFICER)
    [event] = uow.events("practice_promoted")
    assert event.data["practice_id"] == promoted["id"] and event.case_no == CASE_NO
    assert [p["id"] for p in handlers.practices_for(uow, "M001")] == [promoted["id"]]
    assert handlers.list_practices(uow, {"window": "XJK/W01"}) == []


def test_a_practice_comes_from_a_resolved_case(uow, rules):
    hand_over(uow)
    classify(uow, rules, "hard")
    practice = {
        "case_no": CASE_NO,
        "matter": "M001",
        "windows": ["W"],
        "title": "t",
        "description": "d",
    }
    refused_with(
        Conflict, lambda: handlers.promote_practice(uow, practice, OFFICER), "not_resolved"
    )
    missing = {**practice, "case_no": "XW-NOBODY"}
    with pytest.raises(NotHandedOver) as caught:
        handlers.promote_practice(uow, missing, OFFICER)
    assert caught.value.error.field == "case_no"


def test_an_officer_pauses_and_resumes_a_deadline_by_hand(uow, rules, clock):
    hand_over(uow)
    classify(uow, rules, "hard")
    [deadline] = deadlines(uow, rules)
    assert deadline["pausable"]
    refused_with(
        InvalidField,
        lambda: handlers.pause_deadline(uow, CASE_NO, deadline["id"], {}, OFFICER),
    )
    refused_with(
        Conflict,
        lambda: handlers.resume_deadline(uow, rules, CASE_NO, deadline["id"], {}, OFFICER),
        "invalid_transition",
    )
    reason = {"reason": "等待上级部门批复"}
    handlers.pause_deadline(uow, CASE_NO, deadline["id"], reason, OFFICER)
    refused_with(
        Conflict,
        lambda: handlers.pause_deadline(uow, CASE_NO, deadline["id"], reason, OFFICER),
        "invalid_transition",
    )
    clock.current += timedelta(days=30)
    assert handlers.scan_deadlines(uow) == {"warned": 0, "breached": 0}, "a paused clock waits"

    handlers.resume_deadline(uow, rules, CASE_NO, deadline["id"], {}, OFFICER)
    [resumed] = deadlines(uow, rules)
    assert not resumed["paused"] and resumed["due_at"] > clock.current
    assert kinds(uow)[-2:] == ["deadline_paused", "deadline_resumed"]
    refused_with(
        NotFound,
        lambda: handlers.pause_deadline(uow, CASE_NO, 999, reason, OFFICER),
    )


def test_a_deadline_whose_policy_has_no_pause_cannot_be_paused(uow, rules):
    hand_over(uow)
    classify(uow, rules, "pending")
    [deadline] = deadlines(uow, rules)
    assert not deadline["pausable"]
    refused_with(
        Conflict,
        lambda: handlers.pause_deadline(uow, CASE_NO, deadline["id"], {"reason": "r"}, BUREAU),
        "pause_not_allowed",
    )


# --------------------------------------------------------------------------- refused


def test_refused_is_announced_to_accountability_and_still_gets_a_result(uow, rules):
    hand_over(uow)
    classify(uow, rules, "refused")
    [classified] = uow.events("case_classified")
    assert classified.data["type"] == "refused" and classified.data["site"] == "HALL"
    [deadline] = deadlines(uow, rules)
    assert deadline["kind"] == "refused_resolution"
    handlers.reply(uow, rules, CASE_NO, {"summary": "已当场重新受理并致歉"}, OFFICER)
    [replied] = uow.events("case_replied")
    assert replied.data["on_time"] is None, "refused has no reply deadline"
    handlers.resolve(uow, CASE_NO, {"outcome": "done", "summary": "已办成"}, OFFICER)
    handlers.close(uow, CASE_NO, None, OFFICER)
    handlers.archive(uow, CASE_NO, None, OFFICER)
    assert state_changes(uow)[-1] == ("closed", "archived")
    refused_with(Forbidden, lambda: handlers.reopen(uow, rules, CASE_NO, {"reason": "r"}, BUREAU))


# --------------------------------------------------------------------------- pending


def test_pending_meeting_minutes_and_a_reply_within_three_working_days(uow, rules, clock):
    hand_over(uow)
    classify(uow, rules, "pending")
    [deadline] = deadlines(uow, rules)
    assert deadline["kind"] == "pending_reply" and deadline["working_days"] == 3
    early = {"summary": "x"}
    refused_with(
        Conflict,
        lambda: handlers.reply(uow, rules, CASE_NO, early, BUREAU),
        "minutes_required",
    )
    body = {
        "case_nos": [CASE_NO],
        "departments": ["FCJ", "SCJ", "CGJ"],
        "scheduled_at": "2026-10-09T09:00:00+08:00",
    }
    refused_with(Forbidden, lambda: handlers.convene_meeting(uow, rules, body, OFFICER))
    meeting = handlers.convene_meeting(uow, rules, body, BUREAU)
    assert meeting["status"] == "convened" and meeting["reply_due_at"] == deadline["due_at"]
    [convened] = uow.events("joint_meeting_convened")
    assert convened.data["reply_due_at"] == deadline["due_at"].isoformat()
    assert [n["kind"] for n in uow.notes if n["case_no"] == CASE_NO][-1] == "meeting_convened"
    assert handlers.case_summary(uow, CASE_NO)["state"] == "in_progress"

    minutes = {
        "attendance": [
            {"department": "FCJ", "present": True, "position": "出具用途说明"},
            {"department": "SCJ", "present": False, "valid_reason": "参加市局专项检查"},
            {"department": "CGJ", "present": False},
        ],
        "decision": "由房产部门出具房屋用途说明",
        "assignments": [{"department": "FCJ", "task": "出具房屋用途说明", "due": "2026-10-09"}],
    }
    refused_with(
        Forbidden, lambda: handlers.record_minutes(uow, rules, meeting["id"], minutes, OFFICER)
    )
    minuted = handlers.record_minutes(uow, rules, meeting["id"], minutes, BUREAU)
    assert minuted["status"] == "minuted"
    [task] = minuted["assignments"]
    assert task["department"] == "FCJ" and task["case_no"] == CASE_NO
    assert task["due_at"] == datetime(2026, 10, 9, 18, 0, tzinfo=SHANGHAI)
    assert [d.data["department"] for d in uow.events("department_absent")] == ["CGJ"]
    refused_with(
        Conflict,
        lambda: handlers.record_minutes(uow, rules, meeting["id"], minutes, BUREAU),
        "already_minuted",
    )

    clock.current = datetime(2026, 10, 9, 11, 0, tzinfo=SHANGHAI)  # 2nd working day after
    answer = handlers.reply(uow, rules, CASE_NO, {"summary": "已明确办理部门"}, BUREAU)
    assert answer["reply"]["on_time"] is True and answer["reply"]["working_days_taken"] == 2
    delivered = handlers.deliver_assignment(uow, meeting["id"], task["id"], BUREAU)
    assert delivered["assignments"][0]["delivered_at"] == clock.current
    refused_with(
        NotFound, lambda: handlers.deliver_assignment(uow, meeting["id"], task["id"], BUREAU)
    )
    handlers.resolve(uow, CASE_NO, {"outcome": "done", "summary": "已办成"}, BUREAU)
    handlers.close(uow, CASE_NO, None, BUREAU)
    handlers.archive(uow, CASE_NO, None, BUREAU)
    [listed] = handlers.list_meetings(uow, {"case_no": CASE_NO, "minuted": "true"}, BUREAU)
    assert listed["id"] == meeting["id"] and listed["assignments"][0]["delivered_at"]
    assert handlers.list_meetings(uow, {"minuted": "false"}, BUREAU) == []
    assert handlers.get_meeting(uow, str(meeting["id"]), BUREAU)["status"] == "minuted"
    refused_with(NotFound, lambda: handlers.get_meeting(uow, "not-a-number", BUREAU))


def test_a_complex_meeting_gives_five_days_and_the_clock_breaches_the_overdue_reply_once(
    uow, rules, clock
):
    # handed over three weeks ago: 3 working days are long past, and 5 too
    hand_over(uow, received_at="2026-09-09T09:00:00+08:00")
    classify(uow, rules, "pending")
    [before] = deadlines(uow, rules)
    body = {
        "case_nos": [CASE_NO],
        "departments": ["FCJ"],
        "scheduled_at": "2026-09-30T14:00:00+08:00",
        "complex": True,
    }
    meeting = handlers.convene_meeting(uow, rules, body, BUREAU)
    [longer] = deadlines(uow, rules)
    assert longer["working_days"] == 5 and longer["due_at"] > before["due_at"]
    assert [d.data["working_days"] for d in uow.events("deadline_set")] == [3, 5]
    assert meeting["reply_due_at"] == longer["due_at"]

    assert handlers.scan_deadlines(uow)["breached"] == 1
    assert handlers.scan_deadlines(uow)["breached"] == 0, "each breach once"
    [breach] = uow.events("deadline_breached")
    assert breach.data["kind"] == "pending_reply" and breach.timeline_kind == "deadline_breached"
    minutes = {"attendance": [{"department": "FCJ", "present": True}], "decision": "明确部门"}
    handlers.record_minutes(uow, rules, meeting["id"], minutes, BUREAU)
    late = handlers.reply(uow, rules, CASE_NO, {"summary": "经研究已明确"}, BUREAU)
    assert late["reply"]["on_time"] is False and late["reply"]["working_days_taken"] > 5


def test_the_clock_warns_then_breaches_and_reports_an_undelivered_task(uow, rules, clock):
    hand_over(uow)
    classify(uow, rules, "pending")
    meeting = handlers.convene_meeting(
        uow,
        rules,
        {
            "case_nos": [CASE_NO],
            "departments": ["FCJ"],
            "scheduled_at": "2026-09-30T14:00:00+08:00",
        },
        BUREAU,
    )
    minutes = {
        "attendance": [{"department": "FCJ", "present": True}],
        "decision": "分工",
        "assignments": [{"department": "FCJ", "task": "出具说明", "due": "2026-10-09"}],
    }
    handlers.record_minutes(uow, rules, meeting["id"], minutes, BUREAU)
    clock.current = datetime(2026, 10, 9, 8, 0, tzinfo=SHANGHAI)  # the task's last day
    assert handlers.scan_deadlines(uow) == {"warned": 1, "breached": 0}
    [warning] = uow.events("deadline_warning")
    assert warning.data["kind"] == "assignment" and warning.data["meeting_id"] == meeting["id"]

    clock.current = datetime(2026, 10, 12, 9, 0, tzinfo=SHANGHAI)  # both past their day
    assert handlers.scan_deadlines(uow)["breached"] == 2
    [undelivered] = uow.events("assignment_not_delivered")
    assert undelivered.data == {
        "meeting_id": meeting["id"],
        "case_no": CASE_NO,
        "department": "FCJ",
        "task": "出具说明",
        "due": "2026-10-09T18:00:00+08:00",
    }
    assert undelivered.timeline_kind is None, "the breach is on the timeline already"


def test_a_meeting_only_on_pending_cases_it_knows(uow, rules):
    hand_over(uow)
    classify(uow, rules, "hard")
    body = {
        "case_nos": [CASE_NO],
        "departments": ["FCJ"],
        "scheduled_at": "2026-10-09T09:00:00+08:00",
    }
    refused_with(Conflict, lambda: handlers.convene_meeting(uow, rules, body, BUREAU), "wrong_type")
    unknown = {**body, "case_nos": [CASE_NO, "XW-NOBODY"]}
    with pytest.raises(NotHandedOver) as caught:
        handlers.convene_meeting(uow, rules, unknown, BUREAU)
    assert caught.value.case_nos == ("XW-NOBODY",) and caught.value.error.field == "case_nos"
    assert uow.events("joint_meeting_convened") == []


# --------------------------------------------------------------------------- reopen, roles, 409


def test_a_reopened_case_gets_a_fresh_resolution_period(uow, rules, clock):
    hand_over(uow)
    classify(uow, rules, "refused")
    handlers.resolve(uow, CASE_NO, {"outcome": "done", "summary": "已办成"}, OFFICER)
    handlers.close(uow, CASE_NO, None, OFFICER)
    handlers.archive(uow, CASE_NO, None, OFFICER)
    refused_with(InvalidField, lambda: handlers.reopen(uow, rules, CASE_NO, {}, OFFICER))
    clock.current = datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)
    reopened = handlers.reopen(uow, rules, CASE_NO, {"reason": "申请人再次反映"}, OFFICER)
    assert reopened["state"] == "in_progress" and reopened["resolution"] is None
    fresh = [d for d in deadlines(uow, rules) if d["met_at"] is None]
    assert [(d["kind"], d["working_days"]) for d in fresh] == [("refused_resolution", 5)]
    assert state_changes(uow)[-1] == ("archived", "in_progress")
    refused_with(
        Conflict,
        lambda: handlers.reopen(uow, rules, CASE_NO, {"reason": "again"}, OFFICER),
        "invalid_transition",
    )


def test_a_case_needing_a_return_visit_closes_after_it(uow, rules):
    hand_over(uow, requires_return_visit=True)
    classify(uow, rules, "refused")
    handlers.resolve(uow, CASE_NO, {"outcome": "done", "summary": "已办成"}, OFFICER)
    refused_with(
        Conflict, lambda: handlers.close(uow, CASE_NO, None, OFFICER), "return_visit_required"
    )
    visit = new_event(
        "return_visit_recorded",
        {
            "case_no": CASE_NO,
            "actor": "S0001",
            "at": "2026-10-09T10:00:00+08:00",
            "satisfied": True,
        },
        source_service="intake",
        source_site="HALL",
    )
    assert handlers.record_return_visit(uow, visit)
    assert not handlers.record_return_visit(uow, visit), "a redelivery changes nothing"
    assert [n["kind"] for n in uow.notes].count("return_visit") == 1
    assert handlers.close(uow, CASE_NO, None, OFFICER)["state"] == "closed"


@pytest.mark.parametrize(
    ("step", "actor"),
    [
        ("classify", HALL_STAFF),
        ("classify", BUREAU),
        ("explain", HALL_STAFF),
        ("measure", BUREAU),  # the bureau acts on pending cases only
        ("reply", HALL_STAFF),
        ("resolve", BUREAU),
        ("close", HALL_STAFF),
        ("convene", OFFICER),
        ("promote", HALL_STAFF),
    ],
)
def test_roles_that_may_not_act_are_refused_and_change_nothing(uow, rules, store, step, actor):
    hand_over(uow)
    case_type = {"explain": "cannot", "measure": "hard"}.get(step, "refused")
    if step != "classify":
        classify(uow, rules, case_type)
    before = (list(uow.committed), {k: dict(v) for k, v in store.cases.items()})
    steps = {
        "classify": lambda: classify_as(uow, rules, actor),
        "explain": lambda: handlers.explain(uow, CASE_NO, EXPLANATION, actor),
        "measure": lambda: handlers.add_measure(uow, CASE_NO, VIDEO, actor),
        "reply": lambda: handlers.reply(uow, rules, CASE_NO, {"summary": "s"}, actor),
        "resolve": lambda: handlers.resolve(
            uow, CASE_NO, {"outcome": "done", "summary": "s"}, actor
        ),
        "close": lambda: handlers.close(uow, CASE_NO, None, actor),
        "convene": lambda: handlers.convene_meeting(
            uow, rules, {"case_nos": [CASE_NO], "departments": ["F"], "scheduled_at": "x"}, actor
        ),
        "promote": lambda: handlers.promote_practice(uow, {}, actor),
    }
    refused_with(Forbidden, steps[step])
    assert (uow.committed, store.cases) == before


def classify_as(uow, rules, actor):
    payload = {"type": "hard", "reason": "r"}
    return handlers.classify_case(uow, rules, CASE_NO, payload, actor)


@pytest.mark.parametrize(
    ("steps", "illegal"),
    [
        ([], "close"),  # classified: nothing to close yet
        (["resolve"], "reply"),
        (["resolve", "close", "archive"], "archive"),
        (["resolve", "close", "archive"], "resolve"),
    ],
)
def test_illegal_transitions_are_409_and_change_nothing(uow, rules, store, steps, illegal):
    hand_over(uow)
    classify(uow, rules, "refused")
    do = {
        "reply": lambda: handlers.reply(uow, rules, CASE_NO, {"summary": "s"}, OFFICER),
        "resolve": lambda: handlers.resolve(
            uow, CASE_NO, {"outcome": "done", "summary": "s"}, OFFICER
        ),
        "close": lambda: handlers.close(uow, CASE_NO, None, OFFICER),
        "archive": lambda: handlers.archive(uow, CASE_NO, None, OFFICER),
    }
    for step in steps:
        do[step]()
    state, committed = store.cases[CASE_NO]["state"], len(uow.committed)
    refused_with(Conflict, do[illegal], "invalid_transition")
    assert store.cases[CASE_NO]["state"] == state and len(uow.committed) == committed
    refused_with(Conflict, lambda: classify(uow, rules, "hard"), "invalid_transition")


def test_a_bad_classification_records_nothing(uow, rules, store):
    hand_over(uow)
    error = refused_with(
        InvalidField,
        lambda: handlers.classify_case(uow, rules, CASE_NO, {"type": "lost"}, OFFICER),
    )
    assert error.field == "type"
    assert uow.committed == [] and store.deadline_rows == {}
    assert store.cases[CASE_NO]["state"] == "registered"


# --------------------------------------------------------------------------- read your own writes


def test_the_hand_over_opens_a_case_once(uow, store):
    event = hand_over(uow)
    assert not handover.open_case(uow, event), "the delivery after a fetch is a duplicate"
    again = {**event, "id": "another-event-same-case"}
    assert handover.open_case(uow, again)  # a new event id; the case is not opened twice
    assert [n["kind"] for n in store.timeline[CASE_NO]] == ["opened"]
    summary = handlers.case_summary(uow, CASE_NO)
    assert summary["state"] == "registered" and summary["allowed_actions"] == ["classify"]
    assert summary["acting_roles"] == ["officer"]


def test_a_case_not_handed_over_yet_asks_for_the_hand_over(uow, rules):
    with pytest.raises(NotHandedOver) as caught:
        classify(uow, rules, "hard")
    assert caught.value.case_nos == (CASE_NO,) and caught.value.error.field == "case_no"
    with pytest.raises(NotHandedOver):
        handlers.case_summary(uow, CASE_NO)
    visit = new_event(
        "return_visit_recorded",
        {
            "case_no": CASE_NO,
            "actor": "S0001",
            "at": "2026-10-09T10:00:00+08:00",
            "satisfied": True,
        },
        source_service="intake",
        source_site="HALL",
    )
    with pytest.raises(NotHandedOver):
        handlers.record_return_visit(uow, visit)
    hand_over(uow)
    assert handlers.record_return_visit(uow, visit), "the visit was not taken as handled"


# --------------------------------------------------------------------------- reads and the calendar


def test_deadlines_of_cases_in_one_call(uow, rules):
    hand_over(uow)
    other = "XW-20260930-00002-HALL"
    hand_over(uow, other)
    classify(uow, rules, "cannot")
    classify(uow, rules, "pending", other, complex_=True)
    found = handlers.deadlines_of_cases(uow, rules, [other, CASE_NO, "XW-NOT-THERE"])
    assert list(found) == [other, CASE_NO, "XW-NOT-THERE"] and found["XW-NOT-THERE"] == []
    assert found[CASE_NO] == deadlines(uow, rules, CASE_NO)
    assert [d["working_days"] for d in found[other]] == [5]
    assert found[CASE_NO][0]["working_days_left"] == 3
    for bad in (["XW-1"] * 201, "XW-1", [1]):
        refused_with(InvalidField, lambda bad=bad: handlers.deadlines_of_cases(uow, rules, bad))


def test_lists_page_by_the_one_paging_rule(uow, store):
    for title in ("一", "二", "三"):
        practice = {"matter": "M001", "windows": ["W01"], "title": title, "description": "d"}
        handlers.promote_practice(uow, practice, OFFICER)
    first = handlers.list_practices(uow, {"limit": "2"})
    assert [p["title"] for p in first] == ["三", "二"]
    rest = handlers.list_practices(uow, {"limit": 2, "cursor": str(first[-1]["id"])})
    assert [p["title"] for p in rest] == ["一"]
    assert len(handlers.list_practices(uow, {"limit": "500"})) == 3  # cut to the maximum
    for bad in ({"limit": "many"}, {"limit": "0"}, {"cursor": "abc"}):
        error = refused_with(InvalidField, lambda bad=bad: handlers.list_practices(uow, bad))
        assert error.field == next(iter(bad))
        refused_with(InvalidField, lambda bad=bad: handlers.list_meetings(uow, bad, BUREAU))


def test_the_summary_offers_what_the_case_allows_to_who_may_act(uow, rules):
    hand_over(uow)
    classify(uow, rules, "pending")
    summary = handlers.case_summary(uow, CASE_NO)
    assert summary["acting_roles"] == ["officer", "bureau"]
    assert "reply" not in summary["allowed_actions"], "a pending case replies after the minutes"
    assert summary["state_label"] == "已分类"


YEAR_2027 = """\
year: 2027
source: test fixture, not the real 2027 schedule
holidays:
  - name: 元旦
    from: 2027-01-01
    to: 2027-01-03
workdays: []
"""


def test_loading_the_next_year_recomputes_provisional_deadlines(uow, clock):
    # handed over Wed 30 Dec 2026: 3 working days reach into 2027, which nobody loaded
    rules = default_rules()
    clock.current = datetime(2026, 12, 30, 10, 0, tzinfo=SHANGHAI)
    hand_over(uow, received_at="2026-12-30T10:00:00+08:00")
    classify(uow, rules, "pending")
    [before] = deadlines(uow, rules)
    assert before["provisional"] and before["unknown_years"] == [2027]
    assert before["due_at"] == datetime(2027, 1, 4, 18, 0, tzinfo=SHANGHAI)  # weekends only
    handlers.calendar_checked(uow, rules, reloaded=False)
    assert handlers.recompute_provisional(uow, rules) == 0, "the same calendar changes nothing"

    loaded = FixedRules(WorkingCalendar({2027: parse_year_file(YEAR_2027)}), rules.policies)
    handlers.calendar_checked(uow, loaded, reloaded=True)
    [after] = deadlines(uow, loaded)
    assert not after["provisional"] and after["unknown_years"] == []
    assert after["due_at"] == datetime(2027, 1, 5, 18, 0, tzinfo=SHANGHAI)  # 31 Dec, 4, 5 Jan
    assert [d.data["provisional"] for d in uow.events("deadline_set")] == [True, False]
    assert "暂定：2027 年节假日安排尚未载入" in uow.events("deadline_set")[0].timeline_text


def test_the_timeline_is_read_from_the_store(uow, store):
    store.timeline[CASE_NO] = [{"kind": "opened", "text": "协调记录已建立"}]
    assert handlers.case_timeline(uow, CASE_NO) == store.timeline[CASE_NO]
