"""Reporting's view of the 差评 loop: the rectification period in the deadline gauges (overdue
until rectified, whatever the case's state), and the monthly 差评整改率, 回访率 and re-ratings
adding up from the cases' rows, in whatever order the events arrive."""

import itertools
import random
from collections import Counter
from datetime import date

from services.gateway import exports
from services.reporting import domain

MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)
KIND = "bad_rating_rectification"


def event(event_type, case_no, **data):
    return {
        "id": f"{event_type}-{case_no}",
        "type": event_type,
        "data": {"case_no": case_no, **data},
    }


def registered(case_no, *, real_name=True, level=2):
    return event(
        "case_registered",
        case_no,
        site="HALL",
        window="W02",
        matter="M001",
        department="SPJ",
        channel="rating",
        applicant_kind="person",
        first_receiver="S0001",
        received_at="2026-03-02T09:00:00+08:00",
        requires_return_visit=real_name,
        rating_level=level,
    )


def step(event_type, case_no, at, **data):
    return event(event_type, case_no, site="HALL", department="SPJ", at=at, **data)


def period(case_no, due_at="2026-03-23T18:00:00+08:00"):
    return event(
        "deadline_set",
        case_no,
        deadline_id=f"d-{case_no}",
        kind=KIND,
        due_at=due_at,
        working_days=15,
        provisional=False,
        department="SPJ",
        site="HALL",
    )


def breached(case_no):
    return event(
        "deadline_breached",
        case_no,
        deadline_id=f"d-{case_no}",
        kind=KIND,
        due_at="2026-03-23T18:00:00+08:00",
        department="SPJ",
        site="HALL",
    )


def verified(case_no, genuine=True, due_at="2026-03-23T18:00:00+08:00"):
    return step(
        "bad_rating_verified",
        case_no,
        "2026-03-02T10:00:00+08:00",
        finding="genuine" if genuine else "malicious",
        genuine=genuine,
        rectification_due_at=due_at if genuine else None,
    )


def rectified(case_no, on_time, at="2026-03-20T10:00:00+08:00"):
    return step(
        "bad_rating_rectified",
        case_no,
        at,
        measures="培训",
        due_at="2026-03-23T18:00:00+08:00",
        on_time=on_time,
    )


def visited(case_no):
    return event("return_visit_recorded", case_no, at="2026-03-25T10:00:00+08:00", satisfied=True)


def re_rated(case_no, level, improved):
    return step(
        "bad_rating_re_rated",
        case_no,
        "2026-04-01T10:00:00+08:00",
        level=level,
        improved=improved,
        text=None,
    )


def fold(case_no, events):
    case, counts, gauges = domain.blank_case(case_no), Counter(), Counter()
    for item in events:
        new = domain.apply_to_case(case, item)
        counts.update(domain.difference(domain.case_counters(case), domain.case_counters(new)))
        gauges.update(domain.difference(domain.case_gauges(case), domain.case_gauges(new)))
        case = new
    return case, +counts, +gauges


OVERDUE = ("bancheng_cases_overdue", (("department", "SPJ"), ("kind", KIND), ("site", "HALL")))


def test_the_rectification_period_is_overdue_until_rectified_even_once_resolved():
    resolved = step("case_resolved", "C1", "2026-03-10T10:00:00+08:00", outcome="done")
    life = [registered("C1"), period("C1"), verified("C1"), resolved, breached("C1")]
    _, _, gauges = fold("C1", life)
    assert gauges[OVERDUE] == 1
    _, _, after = fold(
        "C1", [*life, rectified("C1", on_time=False, at="2026-03-24T10:00:00+08:00")]
    )
    assert OVERDUE not in after
    assert after[("bancheng_deadline_breaches", (("department", "SPJ"), ("kind", KIND)))] == 1


def test_an_upheld_appeal_ends_the_period_and_the_rating_is_not_due():
    decided = step("bad_rating_appeal_decided", "C1", "2026-03-05T10:00:00+08:00", upheld=True)
    appealed = step("bad_rating_appealed", "C1", "2026-03-03T10:00:00+08:00", reason="r")
    life = [registered("C1"), period("C1"), verified("C1"), appealed, breached("C1"), decided]
    case, counts, gauges = fold("C1", life)
    assert OVERDUE not in gauges
    assert counts[(MARCH, "HALL", "bad_rating", "not_genuine")] == 1
    assert counts[(MARCH, "HALL", "bad_rating", "appealed")] == 1
    assert counts[(MARCH, "HALL", "bad_rating", "appeal_upheld")] == 1
    assert (MARCH, "HALL", "bad_rating", "due") not in counts


def test_the_period_arriving_before_its_verification_still_counts():
    life = [registered("C1"), period("C1"), breached("C1"), verified("C1")]
    for order in itertools.permutations(life):
        _, counts, gauges = fold("C1", order)
        assert gauges[OVERDUE] == 1, order
        assert counts[(MARCH, "HALL", "bad_rating", "due")] == 1


# Five bad ratings of March: three genuine (two rectified on time, one late), one found
# malicious, one not verified yet; three real-name raters, two of them visited; two
# re-ratings in April, one better than the first rating.
CASES = {
    "C1": [registered("C1"), period("C1"), verified("C1"), rectified("C1", True), visited("C1"),
           re_rated("C1", 4, True)],
    "C2": [registered("C2", level=1), period("C2"), verified("C2"), rectified("C2", True),
           visited("C2"), re_rated("C2", 1, False)],
    "C3": [registered("C3", real_name=False), period("C3"), verified("C3"), breached("C3"),
           rectified("C3", False, at="2026-03-25T10:00:00+08:00")],
    "C4": [registered("C4", real_name=False), verified("C4", genuine=False)],
    "C5": [registered("C5")],
}  # fmt: skip


def monthly_rows(order_seed=None) -> dict:
    counts = Counter()
    for case_no, events in CASES.items():
        events = list(events)
        if order_seed is not None:
            random.Random(order_seed).shuffle(events)
        counts.update(fold(case_no, events)[1])
    by_month = {}
    for (month, site, dimension, key), value in counts.items():
        row = {"site": site, "dimension": dimension, "key": key, "value": value}
        by_month.setdefault(month, []).append(row)
    return by_month


def test_the_months_rates_add_up_from_the_cases():
    rows = monthly_rows()
    march = domain.monthly_summary(MARCH, None, rows[MARCH], [])["bad_ratings"]
    assert (march["genuine"], march["not_genuine"]) == (3, 1)
    assert (march["rectification_due"], march["rectified_on_time"], march["rectified_late"]) == (
        3,
        2,
        1,
    )
    assert march["rectified_on_time"] + march["rectified_late"] == march["rectification_due"]
    assert march["rectification_rate"] == round(2 / 3, 4)
    assert (march["return_visits_required"], march["return_visits_done"]) == (3, 2)
    assert march["return_visit_rate"] == round(2 / 3, 4)
    assert march["re_ratings"] == 0 and march["re_rating_average"] is None

    april = domain.monthly_summary(APRIL, None, rows[APRIL], rows[MARCH])
    figures = april["bad_ratings"]
    assert (figures["re_ratings"], figures["re_rating_average"]) == (2, 2.5)
    assert (figures["re_ratings_improved"], figures["re_rating_improved_share"]) == (1, 0.5)
    assert april["change"]["rectification_rate"]["previous"] == round(2 / 3, 4)

    table = dict(
        (title, rows_)
        for title, _headings, rows_ in exports.summary_tables(
            domain.monthly_summary(MARCH, None, rows[MARCH], [])
        )
    )
    cells = dict(table["差评办理（核实·整改·回访·再评价）"])
    assert cells["差评整改率"] == round(2 / 3, 4) and cells["实名差评应回访（件）"] == 3


def test_the_figures_do_not_depend_on_the_order_of_the_events():
    expected = monthly_rows()
    for seed in range(20):
        shuffled = monthly_rows(seed)
        assert {m: sorted(map(str, r)) for m, r in shuffled.items()} == {
            m: sorted(map(str, r)) for m, r in expected.items()
        }
