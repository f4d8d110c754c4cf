"""Reporting's use cases on an in-memory unit of work: the projection of every event kind it
consumes, once; the monthly summary and the ledger read from what was projected."""

import copy
import itertools
import random
from collections import Counter
from datetime import date

import pytest

from services.common.errors import InvalidField
from services.reporting import domain, handlers
from services.reporting.service import ReportingService
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.reporting.fakes import FakeReportingStore

MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)
_ids = itertools.count(1)


def event(source, event_type, **data):
    return {
        "id": f"e{next(_ids)}",
        "type": event_type,
        "source_service": source,
        "occurred_at": "2026-03-02T09:00:00+08:00",
        "data": data,
    }


def registered(case_no="C1", site="HALL", channel="window", **extra):
    return event("intake", "case_registered", **{
        "case_no": case_no, "site": site, "window": "W01", "matter": "M001", "department": "SCJ",
        "channel": channel, "applicant_kind": "person", "id_number_masked": "3201**********4031",
        "first_receiver": "S0001", "received_at": "2026-03-02T09:00:00+08:00", **extra,
    })  # fmt: skip


def classified(case_no="C1", case_type="refused", reason="窗口拒收", complex_=False):
    return event("coordination", "case_classified", case_no=case_no, type=case_type,
                 complex=complex_, reason=reason, at="2026-03-03T09:00:00+08:00")  # fmt: skip


def deadline(event_type, case_no="C1", **extra):
    return event("coordination", event_type, **{
        "case_no": case_no, "deadline_id": "7", "kind": "reply", "due_at": "2026-03-06T17:30:00+08:00",
        "working_days": 3, "provisional": False, "department": "SPJ", "site": "HALL", **extra,
    })  # fmt: skip


def replied(case_no="C1", on_time=True, days=2):
    return event("coordination", "case_replied", case_no=case_no,
                 replied_at="2026-04-01T10:00:00+08:00", due_at="2026-04-02T17:30:00+08:00",
                 on_time=on_time, working_days_taken=days, summary="已答复")  # fmt: skip


def state_changed(to_state, from_state="classified", case_no="C1", at="2026-03-04T09:00:00+08:00"):
    return event("coordination", "case_state_changed", case_no=case_no, from_state=from_state,
                 to_state=to_state, type="refused", site="HALL", at=at)  # fmt: skip


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeReportingStore())


def project(uow, *events) -> list[bool]:
    return [handlers.project_event(uow, item) for item in events]


def gauge(uow, metric: str, **labels) -> int:
    key = (metric, tuple(sorted(labels.items())))
    return uow.store.gauge_values[key]


def count(uow, dimension: str, key: str = "", month=MARCH, site="HALL") -> int:
    return uow.store.counts[(month, site, dimension, key)]


def case(uow, case_no="C1") -> dict:
    return uow.store.cases[case_no]


# --------------------------------------------------------------------------- each event kind


def test_a_registration_counts_in_its_month_is_open_and_says_so_on_the_timeline(uow):
    assert project(uow, registered()) == [True]
    assert case(uow)["month"] == MARCH and case(uow)["state"] == "registered"
    for dimension, key in (("cases", ""), ("channel", "window"), ("department", "SCJ"),
                           ("matter", "M001"), ("window", "HALL/W01")):  # fmt: skip
        assert count(uow, dimension, key) == 1, dimension
    assert gauge(uow, "bancheng_open_cases", site="HALL", type="unclassified", state="registered") == 1  # fmt: skip
    assert uow.notes == [{"case_no": "C1", "actor": None, "kind": "counted",
                          "text": "已计入月度统计（reporting）"}]  # fmt: skip


def test_only_the_registration_leaves_a_timeline_note(uow):
    project(uow, registered(), classified(), replied())
    assert [note["kind"] for note in uow.notes] == ["counted"]


def test_a_classification_gives_the_case_its_type_and_situation(uow):
    project(uow, registered(), classified(case_type="hard", reason="缺少非关键材料", complex_=True))
    assert case(uow)["type"] == "hard"
    assert count(uow, "type", "hard") == 1
    assert count(uow, "situation", "hard|缺少非关键材料") == 1
    assert count(uow, "headline", "complex") == 1
    assert gauge(uow, "bancheng_open_cases", site="HALL", type="unclassified", state="registered") == 0  # fmt: skip
    assert gauge(uow, "bancheng_open_cases", site="HALL", type="hard", state="registered") == 1


def test_a_finding_gives_the_situation_the_vocabularys_cause(uow):
    project(uow, registered(), classified())
    assert count(uow, "situation", "refused|窗口拒收") == 1
    finding = event("accountability", "finding_recorded", case_no="C1", investigation_id=1,
                    staff_id="S0002", cause="attitude", no_fault=False, finding="态度生硬")  # fmt: skip
    project(uow, finding)
    assert case(uow)["finding_cause"] == "attitude"
    assert count(uow, "situation", "refused|窗口拒收") == 0
    assert count(uow, "situation", "refused|工作态度问题") == 1


def test_a_state_change_moves_the_open_gauge_and_closing_ends_it(uow):
    project(uow, registered(), classified(), state_changed("in_progress"))
    assert case(uow)["state"] == "in_progress"
    assert gauge(uow, "bancheng_open_cases", site="HALL", type="refused", state="in_progress") == 1
    project(uow, state_changed("closed", "resolved", at="2026-03-05T09:00:00+08:00"))
    assert case(uow)["closed_at"] is not None
    assert not any(
        key[0] == "bancheng_open_cases" and n for key, n in uow.store.gauge_values.items()
    )


def test_an_older_state_change_arriving_late_does_not_undo_a_newer_one(uow):
    newer = state_changed("replied", "in_progress", at="2026-03-06T09:00:00+08:00")
    older = state_changed("in_progress", at="2026-03-04T09:00:00+08:00")
    project(uow, registered(), classified(), newer, older)
    assert case(uow)["state"] == "replied"


def test_a_reply_counts_in_the_month_it_was_given_and_ends_its_deadline(uow):
    project(
        uow, registered(), classified(), deadline("deadline_set"), deadline("deadline_breached")
    )
    where = {"site": "HALL", "department": "SPJ", "kind": "reply"}
    assert gauge(uow, "bancheng_cases_overdue", **where) == 1
    project(uow, replied(on_time=False, days=4))
    assert count(uow, "reply", "late", month=APRIL) == 1
    assert count(uow, "reply_days", "4", month=APRIL) == 1
    assert count(uow, "reply", "late") == 0  # not in the month the case was received
    assert case(uow)["deadlines"]["7"]["closed"] is True
    assert gauge(uow, "bancheng_cases_overdue", **where) == 0
    assert gauge(uow, "bancheng_deadline_breaches", department="SPJ", kind="reply") == 1


def test_a_resolution_closes_the_case_and_solves_a_complex_one(uow):
    project(uow, registered(), classified(case_type="pending", reason="职责不清"))
    resolved = event("coordination", "case_resolved", case_no="C1", outcome="done",
                     summary="", at="2026-03-10T10:00:00+08:00")  # fmt: skip
    project(uow, resolved)
    assert (case(uow)["state"], case(uow)["outcome"]) == ("resolved", "done")
    assert count(uow, "headline", "complex_solved") == 1
    assert not any(
        n for key, n in uow.store.gauge_values.items() if key[0] == "bancheng_open_cases"
    )


def test_an_explanation_is_timed_and_moves_no_counter(uow):
    project(uow, registered(), classified(case_type="cannot", reason="缺少关键材料"))
    counts_before = Counter(uow.store.counts)
    explained = event("coordination", "explanation_given", case_no="C1",
                      at="2026-03-04T11:00:00+08:00", legal_basis="…")  # fmt: skip
    project(uow, explained)
    assert case(uow)["explained_at"] is not None
    assert uow.store.counts == counts_before


def test_deadlines_set_pause_resume_warn_and_breach(uow):
    project(uow, registered(), deadline("deadline_set", provisional=True))
    where = {"site": "HALL", "department": "SPJ", "kind": "reply"}
    assert gauge(uow, "bancheng_open_provisional_deadlines", site="HALL", kind="reply") == 1
    project(uow, deadline("deadline_paused"))
    assert case(uow)["deadlines"]["7"]["paused"] is True
    project(uow, deadline("deadline_resumed"))
    assert case(uow)["deadlines"]["7"]["paused"] is False
    project(uow, deadline("deadline_warning"))
    assert gauge(uow, "bancheng_cases_due_soon", **where) == 1
    project(uow, deadline("deadline_breached"))
    assert gauge(uow, "bancheng_cases_due_soon", **where) == 0
    assert gauge(uow, "bancheng_cases_overdue", **where) == 1


def test_a_joint_meeting_awaits_its_reply_until_every_case_is_answered(uow):
    project(uow, registered("C1"), registered("C2"))
    convened = event("coordination", "joint_meeting_convened", meeting_id=3, case_nos=["C2", "C1"],
                     departments=["SCJ"], scheduled_at="2026-03-05T14:00:00+08:00", complex=False,
                     reply_due_at="2026-03-10T17:30:00+08:00", at="2026-03-04T10:00:00+08:00")  # fmt: skip
    project(uow, convened)
    assert uow.store.meetings["3"]["case_nos"] == ["C1", "C2"]
    assert case(uow, "C2")["meeting_id"] == "3"
    assert gauge(uow, "bancheng_joint_meetings_awaiting_reply") == 1
    minuted = event("coordination", "joint_meeting_minuted", meeting_id=3, case_nos=["C1", "C2"],
                    at="2026-03-05T16:00:00+08:00")  # fmt: skip
    project(uow, minuted, deadline("deadline_breached", case_no="C1", meeting_id=3))
    assert uow.store.meetings["3"]["minuted_at"] is not None
    assert gauge(uow, "bancheng_joint_meetings_reply_overdue") == 1
    project(uow, replied("C1"), replied("C2"))
    assert uow.store.meetings["3"]["replied_case_nos"] == ["C1", "C2"]
    assert gauge(uow, "bancheng_joint_meetings_awaiting_reply") == 0
    assert gauge(uow, "bancheng_joint_meetings_reply_overdue") == 0


def test_a_return_visit_counts_as_satisfied_or_not(uow):
    visit = event("intake", "return_visit_recorded", case_no="C1", satisfied=False,
                  actor="S0001", at="2026-03-13T10:00:00+08:00", notes="")  # fmt: skip
    project(uow, registered(), visit)
    assert count(uow, "return_visit", "unsatisfied") == 1


def test_ratings_and_suggestions_count_with_no_case_row(uow):
    ratings = event("intake", "ratings_received", batch_id="b1", counts=[
        {"day": "2026-03-31", "site": "HALL", "level": 5, "n": 7},
        {"day": "2026-04-01", "site": "XJK", "level": 1, "n": 2},
    ])  # fmt: skip
    suggestion = event("intake", "suggestion_recorded", channel="comment_book", site="XJK",
                       at="2026-03-20T10:00:00+08:00", text="建议增加自助机")  # fmt: skip
    assert project(uow, ratings, suggestion) == [True, True]
    assert count(uow, "rating", "5") == 7
    assert count(uow, "rating", "1", month=APRIL, site="XJK") == 2
    assert count(uow, "suggestion", "comment_book", site="XJK") == 1
    assert uow.store.cases == {} and uow.notes == []
    assert len(uow.store.event_log) == 2


def test_the_service_consumes_exactly_the_projected_events():
    consumed = {
        (entrypoint.source_service, entrypoint.event_type)
        for member in vars(ReportingService).values()
        for entrypoint in getattr(member, "nameko_entrypoints", ())
        if hasattr(entrypoint, "event_type")
    }
    assert consumed == set(domain.PROJECTED_EVENTS)


# --------------------------------------------------------------------------- once, any order


def test_a_redelivery_changes_nothing(uow):
    first = registered()
    assert project(uow, first, classified()) == [True, True]
    before = (Counter(uow.store.counts), dict(uow.store.cases), list(uow.notes))
    assert project(uow, first) == [False]
    assert (uow.store.counts, uow.store.cases, uow.notes) == before


def test_an_event_already_in_the_log_is_not_projected_again(uow):
    # e.g. logged by a replay: the handled-events record is not the only guard
    first = registered()
    uow.store.event_log[first["id"]] = first
    assert project(uow, first) == [False]
    assert uow.store.cases == {} and uow.store.counts == Counter()


def life(case_no: str) -> list[dict]:
    return [
        registered(case_no),
        classified(case_no),
        deadline("deadline_set", case_no),
        deadline("deadline_warning", case_no),
        state_changed("in_progress", case_no=case_no),
        event(
            "accountability",
            "finding_recorded",
            case_no=case_no,
            cause="process",
            no_fault=False,
            finding="流程繁琐",
        ),  # fmt: skip
        replied(case_no),
        event(
            "coordination",
            "case_resolved",
            case_no=case_no,
            outcome="done",
            summary="",
            at="2026-04-02T10:00:00+08:00",
        ),  # fmt: skip
    ]


def read_models(uow) -> tuple:
    return (
        uow.store.cases,
        uow.store.meetings,
        +uow.store.counts,
        +uow.store.gauge_values,
    )


@pytest.mark.parametrize("seed", range(10))
def test_any_order_of_delivery_gives_the_same_read_models(seed):
    events = life("C1") + life("C2")
    in_order = FakeUnitOfWork(FakeReportingStore())
    project(in_order, *events)
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    other = FakeUnitOfWork(FakeReportingStore())
    project(other, *shuffled)
    assert read_models(other) == read_models(in_order)


def test_the_counters_are_the_sum_of_what_the_rows_contribute(uow):
    # what the replay relies on: the read models are a function of the rows
    project(uow, *life("C1"), *life("C2"), registered("C3", site="XJK"))
    expected, gauges = Counter(), Counter()
    for row in uow.store.cases.values():
        expected.update(domain.case_counters(row))
        gauges.update(domain.case_gauges(row))
    assert +uow.store.counts == +expected
    assert +uow.store.gauge_values == +gauges


# --------------------------------------------------------------------------- a batch's cases


def batch_of(*singles) -> dict:
    """The ``cases_registered`` intake publishes instead of ``singles`` (one transaction's)."""
    return event("intake", "cases_registered", cases=[single["data"] for single in singles])


def a_ratings_batch() -> list[dict]:
    """The case_registered events of a batch's bad ratings: two sites, a real-name one that
    requires a return visit, descriptions for the precedents, numbers out of order."""
    return [
        registered("R3", channel="rating", rating_level=1, requires_return_visit=True,
                   description="窗口人员态度生硬", feedback_id="F3", rated_staff="S0002"),
        registered("R1", channel="rating", rating_level=2, description="等候时间过长"),
        registered("R2", site="XJK", channel="rating", rating_level=1,
                   received_at="2026-04-01T08:00:00+08:00", description="材料被退回两次"),
    ]  # fmt: skip


def everything(uow) -> tuple:
    return (*read_models(uow), uow.store.precedents, uow.notes)


def test_a_batch_of_cases_gives_what_its_cases_one_by_one_give():
    # a case seen before its registration (events come in any order) and one registered
    # before, on both sides
    before = [classified("R2", case_type="cannot"), *life("C1")]
    singles = a_ratings_batch()
    one_by_one = FakeUnitOfWork(FakeReportingStore())
    project(one_by_one, *before, *singles)
    batched = FakeUnitOfWork(FakeReportingStore())
    assert project(batched, *before, batch_of(*singles)) == [True] * (len(before) + 1)
    assert everything(batched) == everything(one_by_one)
    assert [note["case_no"] for note in batched.notes[-3:]] == ["R3", "R1", "R2"]
    assert count(batched, "cases", site="XJK", month=APRIL) == 1
    assert count(batched, "bad_rating", "visit_required") == 1
    assert batched.store.precedents["R1"]["description"] == "等候时间过长"
    # the batch is logged once (the replay expands it again)
    assert len(batched.store.event_log) == len(one_by_one.store.event_log) - len(singles) + 1


def test_a_batch_repeating_a_known_case_gives_what_the_repeated_event_gives():
    # (not what intake publishes, but a batch's part is projected as its own event would be)
    singles = a_ratings_batch()
    earlier = {**singles[0], "id": f"e{next(_ids)}"}
    again = {**singles[1], "id": f"e{next(_ids)}"}
    one_by_one = FakeUnitOfWork(FakeReportingStore())
    batched = FakeUnitOfWork(FakeReportingStore())
    project(one_by_one, earlier, *singles, again)
    project(batched, earlier, batch_of(*singles, again))
    assert len([note for note in batched.notes if note["case_no"] == "R1"]) == 2
    assert everything(batched) == everything(one_by_one)


def test_a_redelivered_batch_changes_nothing(uow):
    batch = batch_of(*a_ratings_batch())
    assert project(uow, batch) == [True]
    before = copy.deepcopy(everything(uow))
    assert project(uow, batch) == [False]
    assert everything(uow) == before


def test_a_batch_locks_its_cases_then_their_precedents_by_number_in_one_call(uow):
    calls = []
    store = uow.store
    locked = store.cases_and_precedents_for_update

    def spy(case_nos, precedent_cases):
        calls.append((list(case_nos), list(precedent_cases)))
        return locked(case_nos, precedent_cases)

    store.cases_and_precedents_for_update = spy
    project(uow, batch_of(*a_ratings_batch()))
    assert calls == [(["R1", "R2", "R3"], ["R1", "R2", "R3"])]


def test_an_empty_batch_changes_nothing_but_the_log(uow):
    assert project(uow, event("intake", "cases_registered", cases=[])) == [True]
    assert everything(uow) == everything(FakeUnitOfWork(FakeReportingStore()))
    assert len(uow.store.event_log) == 1


# --------------------------------------------------------------------------- reading


def test_the_monthly_summary_reads_the_projected_counters(uow):
    project(uow, *life("C1"), registered("C2", channel="hotline"), registered("C3", site="XJK"))
    summary = handlers.monthly_summary(uow, "2026-03")
    assert summary["totals"]["cases"] == 3
    assert summary["totals"]["by_site"] == {"HALL": 2, "XJK": 1}
    assert summary["totals"]["by_channel"] == {"hotline": 1, "window": 2}
    assert summary["top_situations"] == [
        {"type": "refused", "type_name": "不给办", "cause": "流程未优化", "count": 1, "share": 1.0}
    ]
    assert summary["replies"]["total"] == 0  # C1 was answered in April
    april = handlers.monthly_summary(uow, "2026-04")
    assert april["replies"]["total"] == 1 and april["change"]["replies"]["previous"] == 0
    assert handlers.monthly_summary(uow, "2026-03", "XJK")["totals"]["cases"] == 1


def test_a_bad_month_names_the_field(uow):
    with pytest.raises(InvalidField) as error:
        handlers.monthly_summary(uow, "2026-13")
    assert error.value.field == "month"


def test_the_ledger_pages_through_the_period_by_its_key(uow):
    for n in range(5):
        project(uow, registered(f"C{n}", received_at=f"2026-03-0{n + 1}T09:00:00+08:00"))
    project(uow, registered("LATE", received_at="2026-03-31T23:59:00+08:00"))
    pages, after = [], None
    while batch := handlers.ledger_batch(uow, "2026-03-02", "2026-03-31", None, after, 2):
        pages.append([row["case_no"] for row in batch])
        after = [batch[-1]["received_at"].isoformat(), batch[-1]["case_no"]]
    assert pages == [["C1", "C2"], ["C3", "C4"], ["LATE"]]
    assert len(handlers.ledger_batch(uow, "2026-03-01", "2026-03-31", None, None, 0)) == 1


@pytest.mark.parametrize(
    ("date_from", "date_to", "field"),
    [
        ("2026-03-32", "2026-03-31", "from"),
        ("2026-03-01", "", "to"),
        ("2026-03-05", "2026-03-04", "to"),
    ],
)
def test_a_bad_ledger_period_names_the_field(uow, date_from, date_to, field):
    with pytest.raises(InvalidField) as error:
        handlers.ledger_batch(uow, date_from, date_to, None, None, 10)
    assert error.value.field == field


def test_no_ledger_batch_is_larger_than_the_limit(uow, monkeypatch):
    asked = []
    monkeypatch.setattr(uow.store, "ledger_batch", lambda *args: asked.append(args[-1]) or [])
    handlers.ledger_batch(uow, "2026-03-01", "2026-03-31", None, None, 10**9)
    assert asked == [handlers.MAX_LEDGER_BATCH]
