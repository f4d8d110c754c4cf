"""Accountability's use cases on the in-memory unit of work: every flow step of a `refused` case
(first responsibility, investigation, finding, sanctions and strikes, appeal, confirmation),
every department deduction and its withdrawal, and the audit entry each decision leaves.

The end-to-end versions are tests/integration/test_accountability_events.py and
tests/e2e/test_accountability_flow.py; these run in milliseconds, with no broker or database.
"""

import re
import uuid
from datetime import UTC, datetime

import pytest

from services.accountability import handlers
from services.accountability.domain import Rules
from services.accountability.rules import load_assessment_points, load_sanction_rules
from services.common.config import REPO_ROOT
from services.common.errors import Conflict, Forbidden, InvalidField, NotFound
from services.common.events import new_event
from tests.unit.accountability.fakes import FakeStore, FakeUnitOfWork
from tests.unit.fakes import SHANGHAI, FakeClock

# deploy/config's defaults, in the reference district's time zone
RULES = Rules(load_sanction_rules(), load_assessment_points(), SHANGHAI)
SUPERVISOR = {"id": "S0006", "name": "吴秀英", "role": "supervisor", "site": None}
HR = {"id": "S0039", "name": "马丽君", "role": "hr", "site": None}
SECOND_SUPERVISOR = {"id": "S0060", "name": "督查二", "role": "supervisor", "site": None}
STAFF = {"id": "S0001", "name": "王芳", "role": "window_staff", "site": "HALL"}
COLLEAGUE = {"id": "S0002", "name": "陈志刚", "role": "window_staff", "site": "XJK"}


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore(), FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)))


def event(source: str, event_type: str, **data) -> dict:
    return new_event(event_type, data, source_service=source, source_site="HALL")


def consume(uow, source, event_type, **data) -> dict:
    sent = event(source, event_type, **data)
    assert handlers.consume(uow, RULES, source, sent) is True
    return sent


def refused(uow, case_no: str, staff_id: str = "S0001") -> int:
    """A refused classification reaching accountability; returns the investigation's id."""
    consume(
        uow,
        "coordination",
        "case_classified",
        case_no=case_no,
        type="refused",
        complex=False,
        reason="窗口人员态度生硬，拒不受理",
        actor="S0004",
        actor_role="officer",
        at="2026-03-02T09:30:00+08:00",
        site="HALL",
        department="SCJ",
        matter="M001",
        first_receiver=staff_id,
    )
    [opened] = [d for d in uow.events("investigation_opened") if d.case_no == case_no]
    return opened.data["investigation_id"]


def find(uow, investigation_id: int, cause="attitude", staff_id="S0001", **extra) -> dict:
    payload = {"staff_id": staff_id, "cause": cause, "finding": "经查属实", **extra}
    return handlers.record_finding(uow, RULES, investigation_id, payload, SUPERVISOR)


def audit_of(uow, action: str) -> list[dict]:
    return [entry for entry in uow.store.audit if entry["action"] == action]


def documented_fields() -> dict[str, tuple[set, set]]:
    """docs/events.md's accountability events: (required, optional) data fields by type."""
    text = (REPO_ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    section = text.split("## accountability", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        names = [n.strip() for n in re.sub(r"\(.*?\)", "", cells[1]).split(",")]
        fields = (
            {n for n in names if n and not n.endswith("?")},
            {n[:-1] for n in names if n.endswith("?")},
        )
        for event_type in re.findall(r"`(\w+)`", cells[0]):
            documented[event_type] = fields
    return documented


# -- first responsibility -----------------------------------------------------------------


def registered(case_no: str, receiver: str = "S0001") -> dict:
    return event(
        "intake",
        "case_registered",
        case_no=case_no,
        site="HALL",
        window="W01",
        matter="M001",
        department="SCJ",
        channel="window",
        first_receiver=receiver,
        first_asked_by=receiver,
        received_at="2026-03-02T09:00:00+08:00",
        registered_by=receiver,
    )


def test_the_first_receiver_is_recorded_once_and_noted_on_the_timeline(uow):
    first, again = registered("XW-1"), registered("XW-1", "S0009")
    assert handlers.consume(uow, RULES, "intake", first) is True
    assert handlers.consume(uow, RULES, "intake", first) is False  # a redelivery
    # the same case announced again under another id does not change its first receiver
    assert handlers.consume(uow, RULES, "intake", again) is True

    assert uow.store.first_responsibility["XW-1"]["first_receiver"] == "S0001"
    noted = uow.store.timeline_of("XW-1")
    assert [(n["actor"], n["kind"]) for n in noted] == [("S0001", "first_receiver")]
    assert "负责到底" in noted[0]["text"]
    assert uow.committed == []  # first responsibility announces no event of its own
    # intake's decision is audited as it arrived, each arrival once
    assert [(e["actor"], e["source_event_id"]) for e in audit_of(uow, "registration")] == [
        ("S0001", first["id"]),
        ("S0009", again["id"]),
    ]


def batch_of(*singles: dict) -> dict:
    """Intake's one event for the cases one transaction opened: each case's data exactly
    the data of its case_registered, the envelope of one of them (null site: several)."""
    sites = {single["source_site"] for single in singles}
    return new_event(
        "cases_registered",
        {"cases": [single["data"] for single in singles]},
        source_service="intake",
        source_site=sites.pop() if len(sites) == 1 else None,
        occurred_at=datetime.fromisoformat(singles[0]["occurred_at"]),
    )


def rated(case_no: str, receiver: str, level: int) -> dict:
    """A case a bad rating opened, as a ratings batch registers it (at the batch's time)."""
    sent = {**registered(case_no, receiver), "occurred_at": "2026-03-02T01:30:00+00:00"}
    sent["data"].update(feedback_id=f"FB-{case_no}", rated_staff=receiver, rating_level=level)
    return sent


def test_a_batch_of_registrations_is_the_same_cases_registered_one_by_one():
    def new_uow():
        return FakeUnitOfWork(FakeStore(), FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)))

    known = registered("XW-B0", "S0009")  # already registered: its first receiver stands
    cases = [rated("XW-B1", "S0001", 1), rated("XW-B2", "S0002", 2), rated("XW-B0", "S0003", 1)]
    one_by_one, batched = new_uow(), new_uow()
    for work in (one_by_one, batched):
        assert handlers.consume(work, RULES, "intake", known) is True
    for single in cases:
        assert handlers.consume(one_by_one, RULES, "intake", single) is True
    batch = batch_of(*cases)
    assert handlers.consume(batched, RULES, "intake", batch) is True
    assert handlers.consume(batched, RULES, "intake", batch) is False  # a redelivery

    singles, batch_store = one_by_one.store, batched.store
    assert batch_store.first_responsibility == singles.first_responsibility
    assert batch_store.first_responsibility["XW-B0"]["first_receiver"] == "S0009"
    assert batch_store.timeline == singles.timeline
    assert [n["actor"] for n in batch_store.timeline_of("XW-B1")] == ["S0001"]
    assert batched.committed == one_by_one.committed == []

    # each case audited in the list's order, as its single event is: same kind, same fields
    # (the event type each single would have had), same time; only the event ids differ
    def without_ids(store):
        return [{k: v for k, v in e.items() if k != "source_event_id"} for e in store.audit]

    assert without_ids(batch_store) == without_ids(singles)
    entries = batch_store.audit[1:]
    assert [(e["action"], e["case_no"], e["actor"]) for e in entries] == [
        ("registration", "XW-B1", "S0001"),
        ("registration", "XW-B2", "S0002"),
        ("registration", "XW-B0", "S0003"),
    ]
    assert all(e["content"]["event_type"] == "case_registered" for e in entries)
    assert entries[0]["content"]["rating_level"] == 1
    # each case's entry records an id of its own, derived from the batch's and the case's
    ids = [e["source_event_id"] for e in entries]
    assert len(set(ids)) == 3 and batch["id"] not in ids
    assert ids == [str(uuid.uuid5(uuid.UUID(batch["id"]), c["data"]["case_no"])) for c in cases]
    # handled once as the batch: no case's derived id counts as handled
    assert batched.handled_event_ids == {known["id"], batch["id"]}


def test_a_case_listed_twice_in_a_batch_is_taken_once(uow):
    batch = batch_of(rated("XW-B5", "S0001", 1), rated("XW-B5", "S0001", 1))
    assert handlers.consume(uow, RULES, "intake", batch) is True
    assert [e["case_no"] for e in audit_of(uow, "registration")] == ["XW-B5"]
    assert len(uow.store.timeline_of("XW-B5")) == 1


def test_helpers_and_later_actions_count_as_assistance_until_the_case_closes(uow):
    handlers.consume(uow, RULES, "intake", registered("XW-2"))
    consume(uow, "intake", "case_helper_added", case_no="XW-2", staff_id="S0003", actor="S0004")
    consume(
        uow,
        "coordination",
        "measure_added",
        case_no="XW-2",
        measure_id="1",
        measure="video_verification",
        actor="S0001",
        at="2026-03-02T11:00:00+08:00",
    )
    consume(uow, "coordination", "case_state_changed", case_no="XW-2", to_state="in_progress")
    assert uow.store.first_responsibility["XW-2"]["closed_at"] is None
    consume(
        uow,
        "coordination",
        "case_state_changed",
        case_no="XW-2",
        to_state="archived",
        at="2026-03-05T17:00:00+08:00",
    )

    record = handlers.staff_record(uow, RULES, "S0001", STAFF)
    [case] = record["first_received"]
    assert case["assisted_after_handover"] is True
    assert [a["action"] for a in case["assistance"]] == ["measure"]
    assert case["closed_at"] == datetime(2026, 3, 5, 17, 0, tzinfo=SHANGHAI)
    helper = handlers.staff_record(uow, RULES, "S0003", SUPERVISOR)
    assert [h["case_no"] for h in helper["helped"]] == ["XW-2"]


def test_a_resolved_case_ends_the_first_receivers_watch(uow):
    handlers.consume(uow, RULES, "intake", registered("XW-3"))
    consume(uow, "coordination", "case_resolved", case_no="XW-3", actor="S0004")
    assert uow.store.first_responsibility["XW-3"]["closed_at"] is not None
    assert [e["action"] for e in uow.store.audit] == ["registration", "resolution"]


def test_window_staff_read_only_their_own_record(uow):
    with pytest.raises(Forbidden):
        handlers.staff_record(uow, RULES, "S0001", COLLEAGUE)
    for reader in (
        STAFF,
        SUPERVISOR,
        {**COLLEAGUE, "role": "officer"},
        {**STAFF, "role": "bureau"},
    ):
        assert handlers.staff_record(uow, RULES, "S0001", reader)["staff_id"] == "S0001"
    assert handlers.staff_record(uow, RULES, "S0001")["staff_id"] == "S0001"  # a service call


# -- investigations ------------------------------------------------------------------------


def test_a_refused_classification_opens_one_investigation(uow):
    investigation_id = refused(uow, "XW-10")
    again = event("coordination", "case_classified", case_no="XW-10", type="refused", actor="S0004")
    handlers.consume(uow, RULES, "coordination", again)  # classified again: still one
    consume(uow, "coordination", "case_classified", case_no="XW-11", type="hard", actor="S0004")

    [opened] = uow.events("investigation_opened")
    assert opened.data == {
        "investigation_id": investigation_id,
        "case_no": "XW-10",
        "site": "HALL",
        "at": "2026-03-02T09:30:00+08:00",
    }
    assert (opened.site, opened.actor, opened.timeline_kind) == (
        "HALL",
        "S0004",
        "investigation_opened",
    )
    assert opened.timeline_text == f"不给办事项已立案调查（调查 {investigation_id}）"
    [entry] = audit_of(uow, "investigation_opened")
    assert entry["content"] == {
        "investigation_id": investigation_id,
        "reason": "窗口人员态度生硬，拒不受理",
    }
    assert (entry["actor"], entry["role"], entry["subject"]) == (
        "S0004",
        "officer",
        f"investigation:{investigation_id}",
    )
    assert len(audit_of(uow, "classification")) == 3  # every classification is audited
    listed = handlers.investigations(uow, "open")
    assert [i["case_no"] for i in listed["items"]] == ["XW-10"]


# -- findings, sanctions and the strike ladder ---------------------------------------------


def test_attitude_findings_climb_the_ladder_to_a_dismissal_recommendation(uow):
    ids = [refused(uow, f"XW-2{n}") for n in range(3)]
    results = [find(uow, investigation_id) for investigation_id in ids]

    kinds = [
        sorted((s["kind"], s["strike_no"], s["status"]) for s in r["sanctions"]) for r in results
    ]
    assert kinds == [
        [("bonus_withheld", 1, "applied"), ("reminder_talk", 1, "applied")],
        [("bonus_withheld", 2, "applied"), ("reminder_talk", 2, "applied")],
        [("dismissal", 3, "recommended")],
    ]
    assert uow.store.locked_staff == ["S0001"] * 3  # the ladder is counted under the lock
    assert [i["status"] for i in uow.store.investigations_by_id.values()] == ["closed"] * 3

    first = uow.events("finding_recorded")[0]
    assert first.timeline_text == "调查结论：工作态度问题"
    assert first.data["period"] == "2026" and first.data["at"] == "2026-03-02T10:00:00+08:00"
    assert len(uow.events("sanction_applied")) == 5
    record = handlers.staff_record(uow, RULES, "S0001", SUPERVISOR)
    assert [(s["case_no"], s["strike_no"]) for s in record["strikes"]] == [
        ("XW-20", 1),
        ("XW-21", 2),
        ("XW-22", 3),
    ]


def test_a_finding_is_recorded_once_and_a_refused_one_records_nothing(uow):
    investigation_id = refused(uow, "XW-30")
    with pytest.raises(NotFound):
        find(uow, 999)
    with pytest.raises(InvalidField) as bad:
        find(uow, investigation_id, cause="rude")
    assert bad.value.field == "cause"
    with pytest.raises(InvalidField) as missing:
        find(uow, investigation_id, staff_id=None)
    assert missing.value.field == "staff_id"
    assert uow.events("finding_recorded") == []

    find(uow, investigation_id)
    committed = len(uow.committed)
    with pytest.raises(Conflict):
        find(uow, investigation_id)
    assert len(uow.committed) == committed and len(uow.store.findings) == 1


def test_no_fault_closes_without_sanction_and_process_goes_to_the_department(uow):
    clear, process = refused(uow, "XW-40"), refused(uow, "XW-41")
    no_fault = handlers.record_finding(
        uow, RULES, clear, {"finding": "已依法告知，无过错", "no_fault": True}, SUPERVISOR
    )
    assert no_fault["sanctions"] == [] and no_fault["improvement_action"] is None
    assert uow.events("finding_recorded")[0].timeline_text == "调查结论：无过错，不予处理"

    result = find(uow, process, cause="process", finding="需跑两个窗口，流程未整合")
    assert result["sanctions"] == [] and uow.store.sanctions == {}
    assert result["improvement_action"]["department"] == "SCJ"
    [assigned] = uow.events("improvement_action_assigned")
    assert assigned.data["action"] == "流程优化整改：需跑两个窗口，流程未整合"
    assert assigned.site == "HALL" and audit_of(uow, "improvement_action")


def test_unfamiliar_business_loses_award_eligibility_and_bonus_and_means_training(uow):
    result = find(uow, refused(uow, "XW-50"), cause="unfamiliar")
    assert sorted(s["kind"] for s in result["sanctions"]) == [
        "award_ineligible",
        "bonus_withheld",
        "training",
    ]
    assert {s["status"] for s in result["sanctions"]} == {"applied"}


def test_hr_confirms_a_dismissal_recommendation_and_nothing_else(uow):
    results = [find(uow, refused(uow, f"XW-6{n}")) for n in range(3)]
    [dismissal] = results[2]["sanctions"]
    talk = results[0]["sanctions"][0]
    with pytest.raises(NotFound):
        handlers.confirm_sanction(uow, RULES, 999, HR)
    with pytest.raises(Conflict):
        handlers.confirm_sanction(uow, RULES, talk["id"], HR)

    confirmed = handlers.confirm_sanction(uow, RULES, dismissal["id"], HR)
    assert (confirmed["status"], confirmed["confirmed_by"]) == ("confirmed", "S0039")
    [decision] = uow.events("sanction_confirmed")
    assert decision.case_no == "XW-62" and decision.data["kind"] == "dismissal"
    with pytest.raises(Conflict):
        handlers.confirm_sanction(uow, RULES, dismissal["id"], HR)


def test_only_hr_decides_on_a_dismissal_never_the_supervisor_nor_the_findings_author(uow):
    results = [find(uow, refused(uow, f"XW-6{n}")) for n in range(3)]
    [dismissal] = results[2]["sanctions"]
    for who in (SUPERVISOR, SECOND_SUPERVISOR, STAFF):
        with pytest.raises(Forbidden, match="只有人事部门"):
            handlers.confirm_sanction(uow, RULES, dismissal["id"], who)
        with pytest.raises(Forbidden):
            handlers.reject_sanction(uow, RULES, dismissal["id"], {"reason": "x"}, who)
    # an HR account that recorded the finding itself (a role changed later) may not decide
    author_as_hr = {**SUPERVISOR, "role": "hr"}
    with pytest.raises(Forbidden, match="职责分离"):
        handlers.confirm_sanction(uow, RULES, dismissal["id"], author_as_hr)
    # nor may HR decide on its own dismissal
    concerned = {**STAFF, "role": "hr"}
    with pytest.raises(Forbidden, match="本人"):
        handlers.confirm_sanction(uow, RULES, dismissal["id"], concerned)
    assert uow.events("sanction_confirmed") == [] and audit_of(uow, "sanction_confirmed") == []
    assert uow.store.sanctions[dismissal["id"]]["status"] == "recommended"


def test_hr_rejects_a_dismissal_with_a_reason_and_the_strike_stands(uow):
    results = [find(uow, refused(uow, f"XW-6{n}")) for n in range(3)]
    [dismissal] = results[2]["sanctions"]
    with pytest.raises(InvalidField) as missing:
        handlers.reject_sanction(uow, RULES, dismissal["id"], {}, HR)
    assert missing.value.field == "reason"

    rejected = handlers.reject_sanction(
        uow, RULES, dismissal["id"], {"reason": "情节尚不足以辞退，改为调岗"}, HR
    )
    assert (rejected["status"], rejected["rejected_by"]) == ("rejected", "S0039")
    assert rejected["reject_reason"] == "情节尚不足以辞退，改为调岗"
    [decision] = uow.events("sanction_rejected")
    assert decision.case_no == "XW-62" and decision.data["reason"] == "情节尚不足以辞退，改为调岗"
    [entry] = audit_of(uow, "sanction_rejected")
    assert (entry["actor"], entry["role"]) == ("S0039", "hr")
    with pytest.raises(Conflict):
        handlers.confirm_sanction(uow, RULES, dismissal["id"], HR)
    # the third strike still counts: a fourth finding does not bring the dismissal back twice
    record = handlers.staff_record(uow, RULES, "S0001", HR)
    assert [s["strike_no"] for s in record["strikes"]] == [1, 2, 3]


# -- appeals -------------------------------------------------------------------------------


def test_only_the_staff_member_or_a_supervisor_appeals_and_only_once(uow):
    finding = find(uow, refused(uow, "XW-70"))
    no_fault = handlers.record_finding(
        uow, RULES, refused(uow, "XW-71"), {"finding": "无过错", "no_fault": True}, SUPERVISOR
    )
    with pytest.raises(Forbidden):
        handlers.file_appeal(uow, RULES, finding["id"], {"reason": "不服"}, COLLEAGUE)
    with pytest.raises(Conflict):
        handlers.file_appeal(uow, RULES, no_fault["id"], {"reason": "不服"}, SUPERVISOR)
    with pytest.raises(NotFound):
        handlers.file_appeal(uow, RULES, 999, {"reason": "不服"}, STAFF)
    with pytest.raises(InvalidField):
        handlers.file_appeal(uow, RULES, finding["id"], {"reason": ""}, STAFF)

    appeal = handlers.file_appeal(uow, RULES, finding["id"], {"reason": "当日系统故障"}, STAFF)
    assert appeal["status"] == "pending" and appeal["filed_by"] == "S0001"
    [filed] = uow.events("appeal_filed")
    assert (filed.actor, filed.actor_role, filed.case_no) == ("S0001", "window_staff", "XW-70")
    with pytest.raises(Conflict):
        handlers.file_appeal(uow, RULES, finding["id"], {"reason": "再次申诉"}, SUPERVISOR)


def test_an_upheld_appeal_overturns_the_finding_and_recounts_the_ladder(uow):
    first, second, third = (find(uow, refused(uow, f"XW-8{n}")) for n in range(3))
    dismissal_id = third["sanctions"][0]["id"]
    appeal = handlers.file_appeal(uow, RULES, first["id"], {"reason": "系统故障"}, STAFF)
    decided = handlers.decide_appeal(
        uow, RULES, appeal["id"], {"upheld": True, "reason": "经核实属实"}, SUPERVISOR
    )

    assert decided["status"] == "upheld"
    assert uow.store.findings[first["id"]]["status"] == "overturned"
    recount = decided["recount"]
    # the first strike's sanctions go; the 2nd becomes the 1st; the 3rd becomes the 2nd, so its
    # dismissal recommendation is revoked and replaced by a talk and a withheld bonus
    assert {r["id"] for r in recount["revoked"]} >= {dismissal_id}
    assert len(recount["revoked"]) == 3
    assert sorted(r["strike_no"] for r in recount["renumbered"]) == [1, 1]
    assert sorted((a["finding_id"], a["kind"], a["strike_no"]) for a in recount["applied"]) == [
        (third["id"], "bonus_withheld", 2),
        (third["id"], "reminder_talk", 2),
    ]
    live = sorted(
        (s["finding_id"], s["kind"], s["strike_no"])
        for s in uow.store.sanctions.values()
        if s["status"] != "revoked"
    )
    assert live == [
        (second["id"], "bonus_withheld", 1),
        (second["id"], "reminder_talk", 1),
        (third["id"], "bonus_withheld", 2),
        (third["id"], "reminder_talk", 2),
    ]
    revoked = uow.events("sanction_revoked")
    assert {d.data["reason"] for d in revoked} == {"申诉成立：经核实属实"}
    # a renumbering has no event, but it is in the audit trail
    assert len(audit_of(uow, "sanction_renumbered")) == 2
    with pytest.raises(Conflict):
        handlers.decide_appeal(
            uow, RULES, appeal["id"], {"upheld": False, "reason": "x"}, SUPERVISOR
        )


def test_an_appeal_is_decided_by_a_supervisor_who_neither_filed_it_nor_is_its_subject(uow):
    finding = find(uow, refused(uow, "XW-95"))
    # a supervisor files on the staff member's behalf; they cannot then decide it themselves
    appeal = handlers.file_appeal(uow, RULES, finding["id"], {"reason": "代为申诉"}, SUPERVISOR)
    decision = {"upheld": True, "reason": "经核实属实"}
    with pytest.raises(Forbidden, match="职责分离"):
        handlers.decide_appeal(uow, RULES, appeal["id"], decision, SUPERVISOR)
    for who in (STAFF, HR):
        with pytest.raises(Forbidden, match="只有督查人员"):
            handlers.decide_appeal(uow, RULES, appeal["id"], decision, who)
    with pytest.raises(Forbidden, match="本人"):
        handlers.decide_appeal(uow, RULES, appeal["id"], decision, {**STAFF, "role": "supervisor"})
    assert uow.events("appeal_decided") == []
    decided = handlers.decide_appeal(uow, RULES, appeal["id"], decision, SECOND_SUPERVISOR)
    assert (decided["status"], decided["decided_by"]) == ("upheld", "S0060")


def test_findings_and_withdrawals_are_for_supervisors_only(uow):
    investigation_id = refused(uow, "XW-96")
    payload = {"staff_id": "S0001", "cause": "attitude", "finding": "经查属实"}
    for who in (STAFF, HR, {**SUPERVISOR, "role": "officer"}):
        with pytest.raises(Forbidden):
            handlers.record_finding(uow, RULES, investigation_id, payload, who)
        with pytest.raises(Forbidden):
            handlers.withdraw_deduction(uow, RULES, 1, {"reason": "x"}, who)
    assert uow.events("finding_recorded") == []


def test_a_rejected_appeal_changes_no_sanction(uow):
    finding = find(uow, refused(uow, "XW-90"))
    before = {k: dict(v) for k, v in uow.store.sanctions.items()}
    appeal = handlers.file_appeal(uow, RULES, finding["id"], {"reason": "不服"}, STAFF)
    with pytest.raises(InvalidField) as bad:
        handlers.decide_appeal(
            uow, RULES, appeal["id"], {"upheld": "yes", "reason": "x"}, SUPERVISOR
        )
    assert bad.value.field == "upheld"
    decided = handlers.decide_appeal(
        uow, RULES, appeal["id"], {"upheld": False, "reason": "监控显示属实"}, SUPERVISOR
    )
    assert decided["status"] == "rejected" and decided["recount"] is None
    assert uow.store.sanctions == before
    assert uow.events("appeal_decided")[0].data["upheld"] is False
    with pytest.raises(NotFound):
        handlers.decide_appeal(uow, RULES, 999, {"upheld": False, "reason": "x"}, SUPERVISOR)


# -- department deductions -----------------------------------------------------------------


def minutes(meeting: str) -> dict:
    return {
        "meeting_id": meeting,
        "case_nos": ["XW-100"],
        "attendance": [
            {"department": "GTJ", "present": False, "valid_reason": None},
            {"department": "ZJJ", "present": False, "valid_reason": "防汛值班"},
            {"department": "SCJ", "present": True, "valid_reason": None},
        ],
        "decision": "由市场监管局牵头办理",
        "actor": "S0005",
        "at": "2026-03-10T10:00:00+08:00",
    }


def test_each_kind_of_deduction_is_recorded_once_per_fact(uow):
    consume(uow, "coordination", "joint_meeting_minuted", **minutes("M-1"))
    # coordination announces the same absence itself: one fact, deducted once
    consume(
        uow,
        "coordination",
        "department_absent",
        meeting_id="M-1",
        case_nos=["XW-100"],
        department="GTJ",
        actor="S0005",
        at="2026-03-10T10:00:00+08:00",
    )
    not_delivered = consume(
        uow,
        "coordination",
        "assignment_not_delivered",
        meeting_id="M-1",
        case_no="XW-100",
        department="SCJ",
        task="出具住所核查意见",
        due="2026-03-13T17:30:00+08:00",
    )
    breach = {
        "case_no": "XW-100",
        "deadline_id": "D-1",
        "kind": "joint_meeting_reply",
        "due_at": "2026-03-13T17:30:00+08:00",
        "department": "SCJ",
    }
    consume(uow, "coordination", "deadline_breached", **breach)
    consume(uow, "coordination", "deadline_breached", **breach)  # re-announced after a restart
    consume(uow, "coordination", "deadline_breached", **{**breach, "department": None})

    recorded = {d.data["reason_code"]: d for d in uow.events("deduction_recorded")}
    assert sorted(
        (d.data["department"], code, d.data["points"]) for code, d in recorded.items()
    ) == [
        ("GTJ", "department_absent", 2.0),
        ("SCJ", "assignment_not_delivered", 2.0),
        ("SCJ", "deadline_breached", 1.0),
    ]
    assert recorded["assignment_not_delivered"].data["reason"].endswith("：出具住所核查意见")
    assert recorded["deadline_breached"].data["reason"] == "超出办理时限（joint_meeting_reply）"
    assert recorded["department_absent"].data["actor"] == "S0005"
    # each deduction is audited with the event that caused it
    entries = {e["content"]["reason_code"]: e for e in audit_of(uow, "deduction")}
    assert entries["assignment_not_delivered"]["content"]["source_event_id"] == not_delivered["id"]
    assert entries["department_absent"]["content"]["source_event_type"] == "joint_meeting_minuted"
    assert [e["actor"] for e in audit_of(uow, "minutes")] == ["S0005"]


def test_a_withdrawn_deduction_no_longer_counts_against_the_department(uow):
    consume(uow, "coordination", "joint_meeting_minuted", **minutes("M-2"))
    departments = [{"code": "GTJ", "name": "规划资源分局"}, {"code": "SCJ", "name": "市场监管局"}]
    before = handlers.department_scores(uow, RULES, "2026", departments)
    gtj = next(d for d in before["items"] if d["department"] == "GTJ")
    assert (gtj["score"], gtj["deducted"]) == (98.0, 2.0)
    deduction_id = gtj["deductions"][0]["id"]

    with pytest.raises(InvalidField):
        handlers.withdraw_deduction(uow, RULES, deduction_id, {}, SUPERVISOR)
    with pytest.raises(NotFound):
        handlers.withdraw_deduction(uow, RULES, 999, {"reason": "x"}, SUPERVISOR)
    row = handlers.withdraw_deduction(
        uow, RULES, deduction_id, {"reason": "会议通知未送达"}, SUPERVISOR
    )
    assert (row["status"], row["withdrawal_reason"]) == ("withdrawn", "会议通知未送达")
    with pytest.raises(Conflict):
        handlers.withdraw_deduction(uow, RULES, deduction_id, {"reason": "再次"}, SUPERVISOR)

    after = handlers.department_scores(uow, RULES, 2026, departments)
    assert next(d for d in after["items"] if d["department"] == "GTJ")["score"] == 100.0
    [withdrawn] = uow.events("deduction_withdrawn")
    assert withdrawn.data["reason"] == "会议通知未送达"
    [entry] = audit_of(uow, "deduction_withdrawal")
    assert (entry["actor"], entry["role"], entry["subject"]) == (
        "S0006",
        "supervisor",
        f"deduction:{deduction_id}",
    )
    for year in ("x", 1999, None):
        with pytest.raises(InvalidField):
            handlers.department_scores(uow, RULES, year, departments)


# -- the audit trail and what every event carries ------------------------------------------


def test_every_decision_is_audited_with_who_when_and_its_event(uow):
    finding = find(uow, refused(uow, "XW-110"))
    appeal = handlers.file_appeal(uow, RULES, finding["id"], {"reason": "不服"}, STAFF)
    handlers.decide_appeal(
        uow, RULES, appeal["id"], {"upheld": False, "reason": "属实"}, SUPERVISOR
    )

    decided = uow.committed
    audited = [e for e in uow.store.audit if e["action"] != "classification"]
    assert len(audited) == len(decided)  # one entry per decision, in the same order
    for decision, entry in zip(decided, audited, strict=True):
        assert entry["action"] == decision.audit_action
        assert (entry["actor"], entry["role"]) == (decision.actor, decision.actor_role)
        assert entry["subject"] == decision.audit_subject and entry["case_no"] == "XW-110"
        assert entry["source_event_id"]  # the event announcing it
    assert [e["action"] for e in audited] == [
        "investigation_opened",
        "finding",
        "sanction",
        "sanction",
        "appeal",
        "appeal_decision",
    ]
    page = handlers.audit_entries(uow, "XW-110", 4)
    assert [e["action"] for e in page["items"]][:2] == ["classification", "investigation_opened"]
    rest = handlers.audit_entries(uow, "XW-110", 4, page["next_cursor"])
    assert [e["action"] for e in rest["items"]] == ["sanction", "appeal", "appeal_decision"]
    assert rest["next_cursor"] is None
    assert rest["items"][0]["content"]["kind"] in ("reminder_talk", "bonus_withheld")


def test_a_failed_decision_leaves_no_event_no_audit_entry_and_no_change(uow):
    finding = find(uow, refused(uow, "XW-120"))
    appeal = handlers.file_appeal(uow, RULES, finding["id"], {"reason": "不服"}, STAFF)
    trail, committed = len(uow.store.audit), len(uow.committed)

    def database_gone(*args):
        raise RuntimeError("the database went away")

    uow.store.revoke_sanction = database_gone  # the recount fails half-way through
    with pytest.raises(RuntimeError):
        handlers.decide_appeal(
            uow, RULES, appeal["id"], {"upheld": True, "reason": "属实"}, SUPERVISOR
        )
    assert len(uow.store.audit) == trail and len(uow.committed) == committed
    assert uow.store.appeals[appeal["id"]]["status"] == "pending"
    assert uow.store.findings[finding["id"]]["status"] == "confirmed"


def test_every_event_carries_exactly_the_documented_fields(uow):
    documented = documented_fields()
    findings = [find(uow, refused(uow, f"XW-13{n}")) for n in range(3)]
    handlers.confirm_sanction(uow, RULES, findings[2]["sanctions"][0]["id"], HR)
    fourth = find(uow, refused(uow, "XW-138"))
    handlers.reject_sanction(uow, RULES, fourth["sanctions"][0]["id"], {"reason": "调岗"}, HR)
    find(uow, refused(uow, "XW-139"), cause="process")
    appeal = handlers.file_appeal(uow, RULES, findings[0]["id"], {"reason": "不服"}, STAFF)
    handlers.decide_appeal(uow, RULES, appeal["id"], {"upheld": True, "reason": "属实"}, SUPERVISOR)
    consume(uow, "coordination", "joint_meeting_minuted", **minutes("M-3"))
    deduction = uow.events("deduction_recorded")[0].data["deduction_id"]
    handlers.withdraw_deduction(uow, RULES, deduction, {"reason": "有正当理由"}, SUPERVISOR)

    assert {d.event_type for d in uow.committed} == set(documented)
    for decision in uow.committed:
        required, optional = documented[decision.event_type]
        assert required <= set(decision.data) <= required | optional, decision.event_type
        assert decision.data["at"].endswith("+08:00"), decision.event_type


def test_times_are_local_whatever_the_clock_says(uow):
    uow.clock.current = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)  # 00:30 the next day in Nanjing
    finding = find(uow, refused(uow, "XW-140"))
    assert str(finding["found_on"]) == "2026-03-03"
    assert uow.events("finding_recorded")[0].data["at"] == "2026-03-03T00:30:00+08:00"


# -- lists ---------------------------------------------------------------------------------


def test_investigations_are_paged_newest_first_by_one_rule(uow):
    ids = [refused(uow, f"XW-15{n}") for n in range(5)]
    first = handlers.investigations(uow, None, "2")
    assert [i["id"] for i in first["items"]] == ids[:-3:-1]
    second = handlers.investigations(uow, None, 2, first["next_cursor"])
    third = handlers.investigations(uow, None, 2, second["next_cursor"])
    assert [i["id"] for i in second["items"] + third["items"]] == ids[2::-1]
    assert third["next_cursor"] is None
    assert len(handlers.investigations(uow, None, 500)["items"]) == 5  # cut to 200, not refused
    find(uow, ids[0])
    assert [i["id"] for i in handlers.investigations(uow, "closed")["items"]] == [ids[0]]
    assert handlers.investigations(uow, "closed")["items"][0]["finding"]["cause"] == "attitude"
    for bad, field in (
        ({"status": "done"}, "status"),
        ({"limit": "x"}, "limit"),
        ({"cursor": "-1"}, "cursor"),
    ):
        with pytest.raises(InvalidField) as error:
            handlers.investigations(uow, **bad)
        assert error.value.field == field
