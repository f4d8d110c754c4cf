# ruff: noqa: F811 (the fixtures of test_handlers, imported, are parameters here)
"""否定答复: the bureau's review of every `cannot` answer and the month's report, on the
in-memory unit of work (the decisions are held to the events' contract by the ``uow`` fixture
of test_handlers), and the report's counting rules on plain values."""

from datetime import datetime, timedelta

import pytest

from services.common.errors import Conflict, Forbidden, InvalidField, NotFound
from services.coordination import domain, handlers, refusal_review
from tests.unit.coordination.test_handlers import (  # noqa: F401 (fixtures)
    BUREAU,
    CASE_NO,
    EXPLANATION,
    HALL_STAFF,
    OFFICER,
    classify,
    clock,
    hand_over,
    refused_with,
    rules,
    state_changes,
    store,
    uow,
)
from tests.unit.fakes import SHANGHAI

SENT_BACK = {"result": "sent_back", "reason": "依据条款引用有误，请核对后重新说明"}
SECOND = {**EXPLANATION, "legal_basis": "《市场主体登记管理条例实施细则》第二十条"}


def explained_case(uow, rules, case_no=CASE_NO, **registration) -> None:
    hand_over(uow, case_no, **registration)
    classify(uow, rules, "cannot", case_no)
    handlers.explain(uow, case_no, EXPLANATION, OFFICER)


def test_sent_back_the_archived_case_is_taken_up_again_and_explained_anew(uow, rules, clock):
    explained_case(uow, rules)
    handlers.reply(uow, rules, CASE_NO, {"summary": "已告知依据"}, OFFICER)
    handlers.resolve(uow, CASE_NO, {"outcome": "explained", "summary": "已解释"}, OFFICER)
    handlers.close(uow, CASE_NO, None, OFFICER)
    handlers.archive(uow, CASE_NO, None, OFFICER)
    clock.current += timedelta(days=1)

    summary = refusal_review.review(uow, rules, CASE_NO, SENT_BACK, BUREAU)
    assert summary["state"] == "in_progress" and summary["explanation"] is None
    assert summary["resolution"] is None and "explain" in summary["allowed_actions"]
    assert (
        summary["review"]["result"] == "sent_back" and summary["review"]["reviewed_by"] == "S0005"
    )
    assert state_changes(uow)[-1] == ("archived", "in_progress")
    [reviewed] = uow.events("refusal_reviewed")
    assert reviewed.data["result"] == "sent_back" and reviewed.data["reason"] == SENT_BACK["reason"]
    assert reviewed.actor == "S0005" and reviewed.data["actor_role"] == "bureau"
    assert "退回重新说明" in reviewed.timeline_text
    reopened = [d for d in handlers.case_deadlines(uow, rules, CASE_NO) if d["met_at"] is None]
    assert [d["kind"] for d in reopened] == ["cannot_resolution"], "a fresh period to resolve"
    [listed] = handlers.refusals(uow, {})
    assert listed["review_result"] == "sent_back"

    # the officer must explain again before the case can end; the new answer awaits review
    resolve = {"outcome": "explained", "summary": "x"}
    refused_with(
        Conflict, lambda: handlers.resolve(uow, CASE_NO, resolve, OFFICER), "explanation_required"
    )
    refused_with(Conflict, lambda: refusal_review.review(uow, rules, CASE_NO, SENT_BACK, BUREAU))
    handlers.explain(uow, CASE_NO, SECOND, OFFICER)
    refused_with(
        Conflict,
        lambda: handlers.explain(uow, CASE_NO, SECOND, OFFICER),
        "already_explained",
    )
    upheld = refusal_review.review(uow, rules, CASE_NO, {"result": "upheld"}, BUREAU)
    assert upheld["review"]["result"] == "upheld" and upheld["state"] == "in_progress"
    refused_with(
        Conflict,
        lambda: refusal_review.review(uow, rules, CASE_NO, {"result": "upheld"}, BUREAU),
        "already_reviewed",
    )

    # each answer counts in the month it was given: the first on 30 Sep, the second on 1 Oct
    september = refusal_review.report(uow, rules, "2026-09", {})
    october = refusal_review.report(uow, rules, "2026-10", {})
    assert [(i["legal_basis"], i["review_result"]) for i in september["items"]] == [
        (EXPLANATION["legal_basis"], "sent_back")
    ]
    assert [(i["legal_basis"], i["review_result"]) for i in october["items"]] == [
        (SECOND["legal_basis"], "upheld")
    ]
    assert october["items"][0]["reviewed_by"] == "S0005"
    assert september["totals"] == {"count": 1, "upheld": 0, "sent_back": 1, "unreviewed": 0}


def test_an_answer_still_in_progress_stays_there_when_sent_back(uow, rules):
    explained_case(uow, rules)
    before = len(state_changes(uow))
    summary = refusal_review.review(uow, rules, CASE_NO, SENT_BACK, BUREAU)
    assert summary["state"] == "in_progress" and summary["explanation"] is None
    assert len(state_changes(uow)) == before, "no state change where there is none"


def test_only_the_bureau_reviews_with_a_known_result_and_a_reason_to_send_back(uow, rules, store):
    explained_case(uow, rules)
    for actor in (OFFICER, HALL_STAFF):
        refused_with(
            Forbidden, lambda a=actor: refusal_review.review(uow, rules, CASE_NO, SENT_BACK, a)
        )
    error = refused_with(
        InvalidField,
        lambda: refusal_review.review(uow, rules, CASE_NO, {"result": "sent_back"}, BUREAU),
    )
    assert error.field == "reason"
    error = refused_with(
        InvalidField, lambda: refusal_review.review(uow, rules, CASE_NO, {"result": "ok"}, BUREAU)
    )
    assert error.field == "result"
    assert all(row["review_result"] is None for row in store.refusal_rows.values())
    assert uow.events("refusal_reviewed") == []


def test_a_case_without_a_cannot_answer_has_nothing_to_review(uow, rules):
    refused_with(NotFound, lambda: refusal_review.review(uow, rules, "XW-NONE", SENT_BACK, BUREAU))
    hand_over(uow)
    classify(uow, rules, "cannot")
    refused_with(NotFound, lambda: refusal_review.review(uow, rules, CASE_NO, SENT_BACK, BUREAU))


def test_the_report_takes_the_month_in_local_time_and_the_callers_scope(uow, rules, clock):
    explained_case(uow, rules)  # 30 Sep 2026 10:00 in Nanjing
    street = "XW-20260930-00002-XJK"
    clock.current = datetime(2026, 10, 1, 0, 30, tzinfo=SHANGHAI)  # 30 Sep 16:30 UTC
    explained_case(uow, rules, street, site="XJK")
    september = refusal_review.report(uow, rules, "2026-09", {})
    october = refusal_review.report(uow, rules, "2026-10", {})
    assert [i["case_no"] for i in september["items"]] == [CASE_NO]
    assert [i["case_no"] for i in october["items"]] == [street]
    assert refusal_review.report(uow, rules, "2026-10", {"site": "HALL"})["items"] == []
    error = refused_with(InvalidField, lambda: refusal_review.report(uow, rules, "2026-9", {}))
    assert error.field == "month"


def item(department: str, matter: str, result: str | None) -> dict:
    return {"department": department, "matter": matter, "review_result": result}


def test_the_counts_add_up_by_department_and_by_matter():
    items = [
        item("SCJ", "M001", "upheld"),
        item("SCJ", "M002", "sent_back"),
        item("FCJ", "M001", None),
        item("SCJ", "M001", None),
        item("GAJ", "M003", "upheld"),
    ]
    counts = domain.refusal_counts(items)
    assert counts["totals"] == {"count": 5, "upheld": 2, "sent_back": 1, "unreviewed": 2}
    assert counts["by_department"][0] == {
        "department": "SCJ",
        "count": 3,
        "upheld": 1,
        "sent_back": 1,
        "unreviewed": 1,
    }
    assert [row["department"] for row in counts["by_department"]] == ["SCJ", "FCJ", "GAJ"]
    assert [row["matter"] for row in counts["by_matter"]] == ["M001", "M002", "M003"]
    for table in ("by_department", "by_matter"):
        for column in ("count", "upheld", "sent_back", "unreviewed"):
            assert sum(row[column] for row in counts[table]) == counts["totals"][column]
        for row in counts[table]:
            assert row["count"] == row["upheld"] + row["sent_back"] + row["unreviewed"]
    assert domain.refusal_counts([])["totals"]["count"] == 0


@pytest.mark.parametrize("month", ["2026-13", "26-01", "", None, "2026-1x"])
def test_a_month_is_yyyy_mm(month):
    with pytest.raises(InvalidField):
        domain.month_range(month, SHANGHAI)


def test_december_runs_into_the_next_year():
    start, end = domain.month_range("2026-12", SHANGHAI)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-12-01T00:00:00+08:00",
        "2027-01-01T00:00:00+08:00",
    )
