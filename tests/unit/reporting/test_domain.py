"""Reporting's pure rules: the projection of events onto rows, counters, gauges and the summary."""

import itertools
import random
from collections import Counter
from datetime import date

import pytest

from services.common.errors import InvalidField
from services.gateway import exports
from services.reporting import domain


def event(event_type, **data):
    return {"id": f"{event_type}-{data.get('case_no')}", "type": event_type, "data": data}


REGISTERED = event(
    "case_registered",
    case_no="C1",
    site="HALL",
    window="W01",
    matter="M001",
    department="SCJ",
    channel="window",
    applicant_kind="person",
    id_number_masked="3201**********4031",
    first_receiver="S0001",
    received_at="2026-02-28T16:30:00+00:00",  # 00:30 on 1 March in Beijing
)
CLASSIFIED = event(
    "case_classified",
    case_no="C1",
    type="pending",
    complex=False,
    reason="职责不清",
    at="2026-03-02T09:00:00+08:00",
)
DEADLINE = event("deadline_set", case_no="C1", deadline_id="7", kind="reply", due_at="2026-03-05T18:00:00+08:00", working_days=3, provisional=True, department="SPJ", site="HALL")  # fmt: skip
BREACHED = event("deadline_breached", case_no="C1", deadline_id="7", kind="reply", due_at="2026-03-05T18:00:00+08:00", department="SPJ", site="HALL")  # fmt: skip
REPLIED = event("case_replied", case_no="C1", replied_at="2026-04-01T10:00:00+08:00", due_at="2026-03-05T18:00:00+08:00", on_time=False, working_days_taken=4)  # fmt: skip
RESOLVED = event("case_resolved", case_no="C1", outcome="done", summary="", at="2026-04-02T10:00:00+08:00")  # fmt: skip
LIFE = [REGISTERED, CLASSIFIED, DEADLINE, BREACHED, REPLIED, RESOLVED]


def fold(events):
    """The case row and the running counters/gauges, as the projection keeps them."""
    case, counts, gauges = domain.blank_case("C1"), Counter(), Counter()
    for item in events:
        new = domain.apply_to_case(case, item)
        counts.update(domain.difference(domain.case_counters(case), domain.case_counters(new)))
        gauges.update(domain.difference(domain.case_gauges(case), domain.case_gauges(new)))
        case = new
    return case, +counts, +gauges


def test_a_case_counts_in_its_local_month_and_its_reply_in_the_reply_month():
    case, counts, _ = fold(LIFE)
    march, april = date(2026, 3, 1), date(2026, 4, 1)
    assert case["month"] == march
    assert counts[(march, "HALL", "cases", "")] == 1
    assert counts[(march, "HALL", "situation", "pending|职责不清")] == 1
    assert counts[(march, "HALL", "headline", "complex")] == 1  # pending counts as complex
    assert counts[(march, "HALL", "headline", "complex_solved")] == 1
    assert counts[(april, "HALL", "reply", "late")] == 1
    assert counts[(april, "HALL", "reply_days", "4")] == 1


def test_overdue_follows_the_breach_and_ends_with_the_reply():
    _, _, gauges = fold(LIFE[:4])
    where = (("department", "SPJ"), ("kind", "reply"), ("site", "HALL"))
    assert gauges[("bancheng_cases_overdue", where)] == 1
    assert (
        gauges[("bancheng_open_provisional_deadlines", (("kind", "reply"), ("site", "HALL")))] == 1
    )
    assert gauges[("bancheng_open_cases", (("site", "HALL"), ("state", "registered"), ("type", "pending")))] == 1  # fmt: skip
    _, _, after = fold(LIFE)
    assert ("bancheng_cases_overdue", where) not in after
    assert after == {("bancheng_deadline_breaches", (("department", "SPJ"), ("kind", "reply"))): 1}


@pytest.mark.parametrize("seed", range(20))
def test_any_order_of_events_gives_the_same_row_counters_and_gauges(seed):
    shuffled = LIFE[:]
    random.Random(seed).shuffle(shuffled)
    assert fold(shuffled) == fold(LIFE)


def test_a_redelivered_event_changes_nothing():
    for item in LIFE:
        once = fold([*LIFE])
        twice = fold([*LIFE, item])
        assert once == twice, item["type"]


def test_a_finding_gives_the_situation_its_cause():
    refused = event("case_classified", case_no="C1", type="refused", reason="窗口拒收", at="2026-03-02T09:00:00+08:00")  # fmt: skip
    finding = event("finding_recorded", case_no="C1", cause="process", no_fault=False)
    _, counts, _ = fold([REGISTERED, refused, finding])
    assert counts[(date(2026, 3, 1), "HALL", "situation", "refused|流程未优化")] == 1
    no_fault = event("finding_recorded", case_no="C1", cause="process", no_fault=True)
    _, counts, _ = fold([REGISTERED, refused, no_fault])
    assert counts[(date(2026, 3, 1), "HALL", "situation", "refused|窗口拒收")] == 1


def test_a_joint_meeting_awaits_its_reply_whatever_came_first():
    convened = event("joint_meeting_convened", meeting_id=3, case_nos=["C1", "C2"], at="2026-03-03T10:00:00+08:00")  # fmt: skip
    breach = {"type": "deadline_breached", "data": {"case_no": "C1", "meeting_id": 3}}
    meeting = domain.blank_meeting("3")
    c1 = {**domain.blank_case("C1"), "replied_at": "2026-03-03T11:00:00+08:00"}
    meeting = domain.apply_to_meeting(meeting, convened, [c1, domain.blank_case("C2")])
    assert meeting["replied_case_nos"] == ["C1"]
    assert domain.meeting_gauges(meeting) == {("bancheng_joint_meetings_awaiting_reply", ()): 1}
    meeting = domain.apply_to_meeting(meeting, breach, [])
    assert domain.meeting_gauges(meeting)[("bancheng_joint_meetings_reply_overdue", ())] == 1
    reply = event("case_replied", case_no="C2", replied_at="2026-03-04T10:00:00+08:00")
    meeting = domain.apply_to_meeting(meeting, reply, [])
    assert domain.meeting_gauges(meeting) == {}


def test_ratings_count_by_the_month_of_their_day():
    ratings = event("ratings_received", counts=[
        {"day": "2026-03-31", "site": "HALL", "level": 5, "n": 7},
        {"day": "2026-04-01", "site": "HALL", "level": 1, "n": 2},
    ])  # fmt: skip
    assert domain.event_counters(ratings) == {
        (date(2026, 3, 1), "HALL", "rating", "5"): 7,
        (date(2026, 4, 1), "HALL", "rating", "1"): 2,
    }


@pytest.mark.parametrize(
    ("histogram", "median", "p90"),
    [
        ({}, None, None),
        ({4: 1}, 4, 4),
        ({1: 2, 2: 1, 3: 1, 5: 1}, 2, 5),  # 1 1 2 3 5
        ({1: 5, 2: 5}, 1, 2),  # the 5th and the 9th of ten
        ({0: 9, 10: 1}, 0, 0),
        ({0: 8, 10: 2}, 0, 10),
    ],
)
def test_percentiles_are_nearest_rank_from_the_histogram(histogram, median, p90):
    assert domain.percentile(histogram, 0.5) == median
    assert domain.percentile(histogram, 0.9) == p90


def test_percentile_equals_sorting_every_value():
    rng = random.Random(1)
    for _ in range(50):
        values = [rng.randint(0, 12) for _ in range(rng.randint(1, 40))]
        histogram = Counter(values)
        ordered = sorted(values)
        for share in (0.5, 0.9):
            rank = -(-int(share * 10) * len(values) // 10)
            assert domain.percentile(histogram, share) == ordered[rank - 1]


def test_months_are_checked():
    assert domain.parse_month("2026-01") == date(2026, 1, 1)
    assert domain.previous_month(date(2026, 1, 1)) == date(2025, 12, 1)
    for bad in (None, "", "2026-1", "2026-13", "202601", "2026-01-01"):
        with pytest.raises(InvalidField) as error:
            domain.parse_month(bad)
        assert error.value.field == "month"


def test_the_summary_of_an_empty_month_has_every_figure():
    summary = domain.monthly_summary(date(2026, 3, 1), None, [], [])
    assert summary["totals"]["cases"] == 0
    assert summary["replies"]["on_time_rate"] is None
    assert [level["level"] for level in summary["satisfaction"]["levels"]] == [5, 4, 3, 2, 1]
    assert summary["change"]["cases"] == {"current": 0, "previous": 0, "delta": 0}
    titles = [title for title, _headings, _rows in exports.summary_tables(summary)]
    assert titles[0] == "总体情况" and len(titles) == 11
    assert "差评办理（核实·整改·回访·再评价）" in titles
    assert summary["bad_ratings"]["rectification_rate"] is None
    assert summary["bad_ratings"]["return_visit_rate"] is None


def test_ledger_cells_mask_and_describe_deadlines():
    case, _, _ = fold(LIFE)
    row = {
        key: (value.isoformat() if hasattr(value, "isoformat") else value)
        for key, value in case.items()
    }
    cells = dict(
        zip((name for name, _ in exports.LEDGER_COLUMNS), exports.ledger_cells(row), strict=True)
    )
    assert cells["id_number_masked"] == "3201**********4031"
    assert cells["type"] == "暂时办不了" and cells["reply_on_time"] == "否"
    assert cells["deadlines"] == "reply 2026-03-05T18:00:00+08:00（临时、已超期、已结束）"
    assert list(itertools.islice(exports.ledger_csv([]), 1))[0].startswith(
        "\ufeff事项编号".encode()
    )
