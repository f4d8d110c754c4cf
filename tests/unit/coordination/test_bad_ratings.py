"""The 差评 loop (services/coordination/bad_ratings.py): its states, who may take which step,
the rectification period from the policy, and the whole loop on an in-memory unit of work —
核实 → 申诉 → 决定 → 整改 → 反馈 → 回访 → 再评价 → 关闭, with every decision checked against the
events' contract as coordination's other use cases are."""

from datetime import datetime, timedelta

import pytest

from services.common.errors import Conflict, Forbidden, InvalidField
from services.common.events import new_event
from services.coordination import bad_ratings, handlers
from services.coordination.bad_ratings import LoopFacts, allowed_steps, refusal, state
from services.coordination.policies import DEFAULT_FILE, parse_policies
from tests.unit.coordination.fakes import FakeCoordinationStore, FixedRules, default_rules
from tests.unit.coordination.test_handlers import (
    BUREAU,
    CASE_NO,
    HALL_STAFF,
    OFFICER,
    WEDNESDAY,
    classify,
    hand_over,
    refused_with,
)
from tests.unit.coordination.test_handlers import uow as uow  # noqa: F401 (the fixture)
from tests.unit.fakes import SHANGHAI, FakeClock

SUPERVISOR = {"id": "S0006", "name": "吴秀英", "role": "supervisor", "site": None}
OTHER_OFFICER = {"id": "S0040", "name": "另一位", "role": "officer", "site": "HALL"}
RATED = "S0001"  # hall.staff: the rating is about them
RATING = {"channel": "rating", "requires_return_visit": True, "rated_staff": RATED}


@pytest.fixture
def clock():
    return FakeClock(WEDNESDAY)


@pytest.fixture
def store():
    return FakeCoordinationStore()


@pytest.fixture
def rules():
    return default_rules()


def facts(**steps) -> LoopFacts:
    base = {
        "case_no": CASE_NO,
        "rating_level": 2,
        "rated_staff": RATED,
        "requires_return_visit": True,
        "return_visit_done": False,
    }
    return LoopFacts(**{**base, **steps})


GENUINE = {"finding": "genuine", "reason": "调阅录像属实", "actor": "S0004"}
APPEAL = {"reason": "当时系统故障", "filed_by": RATED, "filed_at": "2026-09-30T11:00:00+08:00"}
DONE = {"measures": "x", "actor": "S0004"}


# --------------------------------------------------------------------------- states


def test_each_step_moves_the_loop_on():
    assert state(facts()) == "awaiting_verification"
    assert state(facts(verification=GENUINE)) == "rectifying"
    assert state(facts(verification=GENUINE, appeal={**APPEAL, "decision": None})) == "appealed"
    rejected = {**APPEAL, "decision": {"upheld": False, "reason": "r", "actor": "S0006"}}
    assert state(facts(verification=GENUINE, appeal=rejected)) == "rectifying"
    upheld = {**APPEAL, "decision": {"upheld": True, "reason": "r", "actor": "S0006"}}
    assert state(facts(verification=GENUINE, appeal=upheld)) == "not_genuine"
    assert state(facts(verification={**GENUINE, "finding": "malicious"})) == "not_genuine"
    rectified = facts(verification=GENUINE, rectification=DONE)
    assert state(rectified) == "awaiting_answer"
    answered = facts(verification=GENUINE, rectification=DONE, answer={"summary": "s"})
    assert state(answered) == "awaiting_return_visit"
    visited = facts(
        verification=GENUINE, rectification=DONE, answer={"summary": "s"}, return_visit_done=True
    )
    assert state(visited) == "awaiting_re_rating"
    assert state(LoopFacts(**{**visited.__dict__, "re_rating": {"level": 4}})) == "completed"
    # an anonymous rating needs no return visit: the re-rating may follow the answer
    anonymous = facts(
        verification=GENUINE,
        rectification=DONE,
        answer={"summary": "s"},
        requires_return_visit=False,
    )
    assert state(anonymous) == "awaiting_re_rating"


def test_the_steps_each_state_allows():
    assert allowed_steps(facts()) == ["verify"]
    assert allowed_steps(facts(verification=GENUINE)) == ["appeal", "rectify"]
    rejected = {**APPEAL, "decision": {"upheld": False, "reason": "r", "actor": "S0006"}}
    # one appeal only: after its decision the rectification is what is left
    assert allowed_steps(facts(verification=GENUINE, appeal=rejected)) == ["rectify"]
    pending = {**APPEAL, "decision": None}
    assert allowed_steps(facts(verification=GENUINE, appeal=pending)) == ["appeal_decision"]
    not_genuine = facts(verification={**GENUINE, "finding": "mistaken"})
    assert allowed_steps(not_genuine) == ["answer"]
    assert allowed_steps(facts(verification=GENUINE, rectification=DONE)) == ["answer"]
    answered = facts(verification=GENUINE, rectification=DONE, answer={"summary": "s"})
    assert allowed_steps(answered) == []  # the return visit is intake's
    assert allowed_steps(LoopFacts(**{**answered.__dict__, "return_visit_done": True})) == [
        "re_rating"
    ]


def test_the_case_closes_only_once_the_loop_is_settled():
    for open_facts in (
        facts(),
        facts(verification=GENUINE),
        facts(verification=GENUINE, appeal={**APPEAL, "decision": None}),
        facts(verification=GENUINE, rectification=DONE),
    ):
        assert bad_ratings.closing_refusal(open_facts)
    # a 差评 not genuine holds nothing open: answering its rater is offered, not required
    assert (
        bad_ratings.closing_refusal(facts(verification={**GENUINE, "finding": "unrelated"})) is None
    )
    answered = facts(verification=GENUINE, rectification=DONE, answer={"summary": "s"})
    # the return visit is gated by the case's own rule (return_visit_required), not the loop's
    assert bad_ratings.closing_refusal(answered) is None


# --------------------------------------------------------------------------- who may act


@pytest.mark.parametrize(
    ("step", "loop", "actor", "allowed"),
    [
        ("verify", facts(), OFFICER, True),
        ("verify", facts(), SUPERVISOR, False),
        ("verify", facts(), HALL_STAFF, False),
        ("verify", facts(rated_staff=OFFICER["id"]), OFFICER, False),  # a rating of oneself
        ("appeal", facts(verification=GENUINE), HALL_STAFF, True),  # the rated staff member
        ("appeal", facts(verification=GENUINE), OFFICER, False),
        ("appeal", facts(verification=GENUINE), SUPERVISOR, False),
        ("appeal_decision", facts(verification=GENUINE, appeal=APPEAL), SUPERVISOR, True),
        ("appeal_decision", facts(verification=GENUINE, appeal=APPEAL), OFFICER, False),
        ("appeal_decision", facts(verification=GENUINE, appeal=APPEAL), BUREAU, False),
        ("appeal_decision", facts(verification=GENUINE, appeal=APPEAL), HALL_STAFF, False),
        # separated duties: not the verifier, not the appellant, not the rated staff member
        (
            "appeal_decision",
            facts(verification={**GENUINE, "actor": "S0006"}, appeal=APPEAL),
            SUPERVISOR,
            False,
        ),
        (
            "appeal_decision",
            facts(verification=GENUINE, appeal={**APPEAL, "filed_by": "S0006"}),
            SUPERVISOR,
            False,
        ),
        (
            "appeal_decision",
            facts(verification=GENUINE, appeal=APPEAL, rated_staff="S0006"),
            SUPERVISOR,
            False,
        ),
        ("rectify", facts(verification=GENUINE), OFFICER, True),
        ("rectify", facts(verification=GENUINE), HALL_STAFF, False),
        ("answer", facts(verification=GENUINE, rectification=DONE), BUREAU, False),
        ("re_rating", facts(), OFFICER, True),
        ("re_rating", facts(), SUPERVISOR, False),
    ],
)
def test_who_may_take_each_step(step, loop, actor, allowed):
    assert (refusal(loop, step, actor) is None) is allowed


# --------------------------------------------------------------------------- payloads


def test_payloads_name_the_field_at_fault():
    refused_with(InvalidField, lambda: bad_ratings.check_verification({"reason": "x"}))
    with pytest.raises(InvalidField) as caught:
        bad_ratings.check_verification({"finding": "nonsense", "reason": "x"})
    assert caught.value.field == "finding" and "恶意差评" in caught.value.message
    with pytest.raises(InvalidField) as caught:
        bad_ratings.check_appeal_decision({"upheld": "yes", "reason": "x"})
    assert caught.value.field == "upheld"
    for level in (0, 6, True, "4", None):
        with pytest.raises(InvalidField) as caught:
            bad_ratings.check_re_rating({"level": level}, 2)
        assert caught.value.field == "level"
    assert bad_ratings.check_re_rating({"level": 4}, 2)["improved"] is True
    assert bad_ratings.check_re_rating({"level": 2}, 2)["improved"] is False
    assert bad_ratings.check_re_rating({"level": 2}, None)["improved"] is None


def test_a_rectification_is_on_time_up_to_the_end_of_its_period():
    due = datetime(2026, 10, 13, 18, 0, tzinfo=SHANGHAI)
    period = {"due_at": due}
    assert bad_ratings.rectification_record("m", period, due)["on_time"] is True
    late = bad_ratings.rectification_record("m", period, due + timedelta(seconds=1))
    assert late["on_time"] is False and late["due_at"] == due.isoformat()
    assert bad_ratings.rectification_record("m", None, due)["on_time"] is None


# --------------------------------------------------------------------------- the policy


def test_the_rectification_period_is_a_policy_of_the_policy_file():
    policy = parse_policies(DEFAULT_FILE.read_text(encoding="utf-8")).rectification()
    assert (policy.working_days, policy.start_event) == (15, "bad_rating_verified")
    assert policy.kind == "bad_rating_rectification" and policy.pause_events == ("appeal",)
    local = parse_policies(
        "policies:\n"
        "  - {type: bad_rating, stage: rectification, working_days: 5,"
        " start_event: case_registered}\n"
    ).rectification()
    assert (local.working_days, local.start_event) == (5, "case_registered")
    assert parse_policies("policies: []\n").rectification() is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{type: bad_rating, stage: reply, working_days: 5, start_event: case_registered}",
            "stage",
        ),
        (
            "{type: hard, stage: rectification, working_days: 5, start_event: case_registered}",
            "stage",
        ),
        (
            "{type: bad_rating, stage: rectification, working_days: 5, start_event: case_classified}",
            "start_event",
        ),
        (
            "{type: bad_rating, stage: rectification, working_days: 5,"
            " start_event: bad_rating_verified, pause_events: [manual]}",
            "pause_events",
        ),
        (
            "{type: [bad_rating, hard], stage: rectification, working_days: 5,"
            " start_event: case_registered}",
            "type",
        ),
    ],
)
def test_a_bad_rectification_policy_is_refused_naming_its_key(entry, message):
    with pytest.raises(ValueError, match=message):
        parse_policies(f"policies:\n  - {entry}\n")


def test_the_rectification_period_is_set_once():
    entry = "{type: bad_rating, stage: rectification, working_days: 5, start_event: %s}"
    text = f"policies:\n  - {entry % 'case_registered'}\n  - {entry % 'bad_rating_verified'}\n"
    with pytest.raises(ValueError, match="set twice"):
        parse_policies(text)


# --------------------------------------------------------------------------- use cases


def test_a_genuine_bad_rating_goes_round_the_whole_loop(uow, rules, store, clock):  # noqa: F811
    hand_over(uow, **RATING, rating_level=2)
    classify(uow, rules, "refused")
    handlers.resolve(uow, CASE_NO, {"outcome": "done", "summary": "已办成"}, OFFICER)
    refused_with(
        Conflict, lambda: handlers.close(uow, CASE_NO, None, OFFICER), "return_visit_required"
    )
    visit = new_event(
        "return_visit_recorded",
        {"case_no": CASE_NO, "actor": RATED, "at": "2026-09-30T10:30:00+08:00", "satisfied": False},
        source_service="intake",
        source_site="HALL",
    )
    handlers.record_return_visit(uow, visit)  # the visit may come early: the loop still holds
    assert "close" not in handlers.case_summary(uow, CASE_NO)["allowed_actions"]
    refused_with(Conflict, lambda: handlers.close(uow, CASE_NO, None, OFFICER), "bad_rating_open")

    refused_with(Forbidden, lambda: bad_ratings.verify(uow, rules, CASE_NO, {}, HALL_STAFF))
    refused_with(InvalidField, lambda: bad_ratings.verify(uow, rules, CASE_NO, {}, OFFICER))
    loop = bad_ratings.verify(
        uow, rules, CASE_NO, {"finding": "genuine", "reason": "调阅录像属实"}, OFFICER
    )
    assert loop["state"] == "rectifying" and loop["genuine"] is True
    period = loop["rectification_deadline"]
    # 15 working days from Wed 30 Sep 2026, the National Day holiday (1–7 Oct) not counted
    expected = rules.calendar.add_working_days(WEDNESDAY, 15).due_at
    assert period["due_at"] == expected and period["working_days"] == 15
    assert period["kind"] == "bad_rating_rectification"
    assert expected.date() > (WEDNESDAY + timedelta(days=21)).date()  # the holiday skipped

    # the resolution did not end the period; the clock warns and breaches it like any other
    assert store.deadline_rows[period["id"]]["met_at"] is None

    refused_with(
        Forbidden, lambda: bad_ratings.appeal(uow, rules, CASE_NO, {"reason": "x"}, OFFICER)
    )
    clock.current = WEDNESDAY + timedelta(hours=2)
    loop = bad_ratings.appeal(uow, rules, CASE_NO, {"reason": "当时系统故障"}, HALL_STAFF)
    assert loop["state"] == "appealed" and loop["rectification_deadline"]["paused"] is True
    refused_with(
        Conflict,
        lambda: bad_ratings.rectify(uow, rules, CASE_NO, {"measures": "m"}, OFFICER),
        "bad_rating_step",
    )
    refused_with(
        Forbidden,
        lambda: bad_ratings.decide_appeal(
            uow, rules, CASE_NO, {"upheld": False, "reason": "r"}, OFFICER
        ),
    )
    clock.current = datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)
    loop = bad_ratings.decide_appeal(
        uow, rules, CASE_NO, {"upheld": False, "reason": "系统日志无故障"}, SUPERVISOR
    )
    assert loop["state"] == "rectifying" and loop["rectification_deadline"]["paused"] is False
    # the working days left at the appeal count again from the decision
    assert loop["rectification_deadline"]["due_at"] > expected
    refused_with(
        Conflict, lambda: bad_ratings.appeal(uow, rules, CASE_NO, {"reason": "again"}, HALL_STAFF)
    )

    loop = bad_ratings.rectify(uow, rules, CASE_NO, {"measures": "约谈并培训"}, OFFICER)
    assert loop["rectification"]["on_time"] is True and loop["state"] == "awaiting_answer"
    assert loop["rectification_deadline"]["met_at"] is not None
    refused_with(Conflict, lambda: handlers.close(uow, CASE_NO, None, OFFICER), "bad_rating_open")
    loop = bad_ratings.answer(uow, rules, CASE_NO, {"summary": "已整改并致歉"}, OFFICER)
    assert loop["state"] == "awaiting_re_rating" and loop["closable"] is True
    assert "close" in handlers.case_summary(uow, CASE_NO)["allowed_actions"]
    loop = bad_ratings.re_rate(uow, rules, CASE_NO, {"level": 4, "text": "满意"}, OFFICER)
    assert loop["state"] == "completed" and loop["re_rating"]["improved"] is True
    assert handlers.close(uow, CASE_NO, None, OFFICER)["state"] == "closed"

    steps = [d.event_type for d in uow.committed if d.event_type.startswith("bad_rating_")]
    assert steps == [
        "bad_rating_verified",
        "bad_rating_appealed",
        "bad_rating_appeal_decided",
        "bad_rating_rectified",
        "bad_rating_answered",
        "bad_rating_re_rated",
    ]
    paused = [d for d in uow.events("deadline_paused") if d.data["deadline_id"] == period["id"]]
    assert len(paused) == 1 and len(uow.events("deadline_resumed")) == 1


def test_an_upheld_appeal_ends_the_period_and_the_loop(uow, rules, store):  # noqa: F811
    hand_over(uow, **RATING, rating_level=1)
    loop = bad_ratings.verify(uow, rules, CASE_NO, {"finding": "genuine", "reason": "r"}, OFFICER)
    deadline_id = loop["rectification_deadline"]["id"]
    bad_ratings.appeal(uow, rules, CASE_NO, {"reason": "非本人当班"}, HALL_STAFF)
    loop = bad_ratings.decide_appeal(
        uow, rules, CASE_NO, {"upheld": True, "reason": "排班表证明非本人"}, SUPERVISOR
    )
    assert loop["state"] == "not_genuine" and loop["genuine"] is False
    assert store.deadline_rows[deadline_id]["met_at"] is not None
    assert loop["allowed_actions"] == ["answer"] and loop["closable"] is True


def test_a_bad_rating_found_not_genuine_gets_no_period(uow, rules, store):  # noqa: F811
    hand_over(uow, **RATING)
    loop = bad_ratings.verify(
        uow, rules, CASE_NO, {"finding": "malicious", "reason": "同一号码重复差评"}, OFFICER
    )
    assert loop["state"] == "not_genuine" and loop["rectification_deadline"] is None
    assert not store.deadline_rows
    refused_with(
        Conflict,
        lambda: bad_ratings.verify(
            uow, rules, CASE_NO, {"finding": "genuine", "reason": "r"}, OFFICER
        ),
        "bad_rating_step",
    )


def test_a_local_five_day_period_counted_from_the_rating(uow, store, clock):  # noqa: F811
    five = parse_policies(
        "policies:\n  - {type: bad_rating, stage: rectification, working_days: 5,"
        " start_event: case_registered}\n"
    )
    rules = FixedRules(default_rules().calendar, five)
    hand_over(uow, **RATING)  # received Wed 30 Sep 2026 09:00
    clock.current = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)
    loop = bad_ratings.verify(uow, rules, CASE_NO, {"finding": "genuine", "reason": "r"}, OFFICER)
    # 8, 9, 10 (make-up working Saturday), 12, 13 October: the DESIGN §5 calendar
    due = loop["rectification_deadline"]["due_at"]
    assert due == datetime(2026, 10, 13, 18, 0, tzinfo=SHANGHAI)


def test_a_case_no_bad_rating_opened_has_no_loop(uow, rules):  # noqa: F811
    hand_over(uow)
    assert bad_ratings.bad_rating(uow, rules, CASE_NO) is None
    refused_with(
        Conflict,
        lambda: bad_ratings.verify(uow, rules, CASE_NO, {"finding": "genuine"}, OFFICER),
        "not_a_bad_rating",
    )
