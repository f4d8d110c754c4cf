"""Precedents' pure rules: the row built from events in any order, redaction, ranking and what a
viewer of one site sees of another site's case."""

import itertools
import random

import pytest

from services.reporting import handlers, precedents
from services.reporting.service import ReportingService
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.reporting.fakes import FakeReportingStore

_ids = itertools.count(1)


def event(source, event_type, **data):
    return {
        "id": f"p{next(_ids)}",
        "type": event_type,
        "source_service": source,
        "occurred_at": "2026-11-02T09:00:00+08:00",
        "data": data,
    }


def lifecycle(case_no="C1", description="房东无法到场办理租赁备案"):
    return [
        event("intake", "case_registered", case_no=case_no, site="HALL", window="W01",
              matter="M005", department="FCJ", channel="window", description=description,
              received_at="2026-11-02T09:00:00+08:00"),
        event("coordination", "case_classified", case_no=case_no, type="hard",
              at="2026-11-02T10:00:00+08:00"),
        event("coordination", "case_resolved", case_no=case_no, type="hard", site="HALL",
              matter="M005", outcome="done", summary="视频确认房东后办理",
              at="2026-11-03T10:00:00+08:00"),
        event("coordination", "case_state_changed", case_no=case_no, from_state="resolved",
              to_state="archived", at="2026-11-03T10:05:00+08:00"),
        event("coordination", "practice_promoted", practice_id=7, case_no=case_no,
              matter="M005", windows=["W01"], title="租赁备案视频确认房东"),
    ]  # fmt: skip


def built(events):
    row = precedents.blank("C1")
    for each in events:
        assert precedents.target(each) == "C1"
        row = precedents.apply(row, each)
    return row


def test_a_resolved_case_becomes_a_precedent_with_how_it_ended_and_its_practice():
    row = built(lifecycle())
    assert row["settled"] is True and row["state"] == "archived"
    assert (row["matter"], row["site"], row["type"]) == ("M005", "HALL", "hard")
    assert (row["outcome"], row["summary"]) == ("done", "视频确认房东后办理")
    assert (row["practice_id"], row["practice"]) == ("7", "租赁备案视频确认房东")
    assert row["search_text"] == "房东无法到场办理租赁备案"


def test_the_row_is_the_same_whatever_order_the_events_came_in():
    events = lifecycle()
    expected = built(events)
    shuffled = random.Random(3)
    for _ in range(20):
        order = events[:]
        shuffled.shuffle(order)
        assert built(order) == expected


def test_an_open_or_reopened_case_is_no_precedent():
    events = lifecycle()
    assert built(events[:2])["settled"] is False
    reopened = event("coordination", "case_state_changed", case_no="C1", from_state="archived",
                     to_state="in_progress", at="2026-11-05T09:00:00+08:00")  # fmt: skip
    assert built([*events, reopened])["settled"] is False
    # an earlier state arriving late does not undo the reopening
    assert built([events[0], reopened, *events[1:]])["settled"] is False


def test_events_without_a_case_or_of_other_kinds_touch_no_precedent():
    assert precedents.target(event("coordination", "practice_promoted", practice_id=1,
                                   case_no=None, title="x")) is None  # fmt: skip
    assert precedents.target(event("coordination", "deadline_set", case_no="C1")) is None
    assert precedents.target(event("intake", "ratings_received", counts=[])) is None


@pytest.mark.parametrize(
    "typed",
    [
        "身份证110105194912310021",
        "旧证号110105491231002",
        "手机13912345678",
        "电话025-84561234",
        "信用代码91320102MA1W9XYZ3K",
    ],
)
def test_id_numbers_credit_codes_and_phones_are_hidden(typed):
    hidden = precedents.redact(f"申请人{typed}，房东不能到场")
    assert precedents.HIDDEN in hidden and not any(ch.isdigit() for ch in hidden)


def test_ordinary_numbers_stay():
    text = "已经跑了3趟，排队2小时，2026年11月办理"
    assert precedents.redact(text) == text


def test_compared_text_is_redacted_collapsed_and_bounded():
    long = "房东 无法\n到场" + "很" * 500
    compared = precedents.search_text(long)
    assert compared.startswith("房东 无法 到场") and len(compared) == precedents.SEARCH_CHARS
    assert precedents.query_text("房") is None and precedents.query_text("  ") is None
    assert precedents.query_text(" 房东 ") == "房东"


def row(case_no, similarity, matter="M005", site="HALL"):
    return {"case_no": case_no, "similarity": similarity, "matter": matter, "site": site,
            "type": "hard", "outcome": "done", "summary": "办结", "practice": None,
            "description": "房东无法到场"}  # fmt: skip


def test_same_matter_first_then_others_each_by_similarity_without_repeats():
    same = [row("B", 0.3), row("A", 0.9), row("C", 0.3)]
    others = [row("D", 1.0, matter="M001"), row("A", 0.9)]
    assert [r["case_no"] for r in precedents.ranked(same, others, 10)] == ["A", "B", "C", "D"]
    assert [r["case_no"] for r in precedents.ranked(same, others, 2)] == ["A", "B"]


def test_a_district_role_sees_every_field_window_staff_another_sites_knowledge_only():
    other_site = row("XW-2", 0.456789, site="XJK")
    full = precedents.present(other_site, "M005", None)
    assert (full["case_no"], full["site"], full["similarity"]) == ("XW-2", "XJK", 0.457)
    assert full["type_name"] == "不好办" and full["outcome_name"] == "办成"
    assert full["same_matter"] is True
    hidden = precedents.present(other_site, "M005", "HALL")
    assert hidden["case_no"] is None and hidden["site"] is None
    assert {k: v for k, v in hidden.items() if k not in ("case_no", "site")} == {
        k: v for k, v in full.items() if k not in ("case_no", "site")
    }
    own = precedents.present(row("XW-1", 0.5), "M001", "HALL")
    assert own["case_no"] == "XW-1" and own["same_matter"] is False


def test_the_limit_is_bounded():
    assert precedents.check_limit(None) == precedents.DEFAULT_LIMIT
    assert precedents.check_limit("x") == precedents.DEFAULT_LIMIT
    assert precedents.check_limit(0) == 1 and precedents.check_limit(999) == precedents.MAX_LIMIT


class SearchingStore(FakeReportingStore):
    """Answers the query with given rows per (threshold, same_matter), recording each call."""

    def __init__(self, answers):
        super().__init__()
        self.answers, self.asked = answers, []

    def similar_precedents(self, text, threshold, matter, same_matter, exclude, limit, sample):
        assert sample == precedents.SAMPLE
        self.asked.append((threshold, same_matter))
        return self.answers.get((threshold, same_matter), [])[:limit]


def test_thresholds_step_down_until_enough_are_found_keeping_what_each_step_found():
    first, second = precedents.SAME_MATTER_THRESHOLDS[:2]
    store = SearchingStore({(first, True): [row("A", 0.9)], (second, True): [row("B", 0.7)]})
    found = handlers.similar_cases(FakeUnitOfWork(store), "房东无法到场", "M005", limit=2)
    assert [item["case_no"] for item in found] == ["A", "B"]
    assert store.asked == [(first, True), (second, True)]  # enough at the second: no others


def test_equal_word_similarity_goes_to_the_closer_whole_text():
    precise, long = row("Z", 1.0), row("A", 1.0)
    precise["whole"], long["whole"] = 0.8, 0.1
    ranked = precedents.ranked([long, precise], [], 5)
    assert [r["case_no"] for r in ranked] == ["Z", "A"]


def test_other_matters_fill_up_and_a_short_text_asks_nothing():
    lowest = precedents.OTHER_MATTER_THRESHOLDS[-1]
    store = SearchingStore({(lowest, False): [row("D", 0.5, "M001")]})
    found = handlers.similar_cases(FakeUnitOfWork(store), "房东无法到场", "M005", limit=3)
    assert [item["case_no"] for item in found] == ["D"] and found[0]["same_matter"] is False
    assert store.asked == [(t, True) for t in precedents.SAME_MATTER_THRESHOLDS] + [
        (t, False) for t in precedents.OTHER_MATTER_THRESHOLDS
    ]
    quiet = SearchingStore({})
    assert handlers.similar_cases(FakeUnitOfWork(quiet), "房", "M005") == []
    assert quiet.asked == []


def test_the_service_consumes_the_practice_promoted_event():
    consumed = {
        (entrypoint.source_service, entrypoint.event_type)
        for member in vars(ReportingService).values()
        for entrypoint in getattr(member, "nameko_entrypoints", ())
        if hasattr(entrypoint, "event_type")
    }
    assert ("coordination", "practice_promoted") in consumed
