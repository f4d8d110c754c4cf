"""The 12-month trend of the monthly page: cases, on-time rate and satisfaction per month, read
from the projected counters (on the in-memory unit of work) and computed from plain rows."""

from datetime import date

import pytest

from services.common.errors import InvalidField
from services.reporting import domain, handlers
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.reporting.fakes import FakeReportingStore
from tests.unit.reporting.test_handlers import classified, event, project, registered, replied


def rating(day: str, level: int, n: int, site: str = "HALL") -> dict:
    counts = [{"day": day, "site": site, "window": "W01", "matter": "M001", "staff": "S0001",
               "level": level, "n": n}]  # fmt: skip
    return event("intake", "ratings_received", batch_id=None, n=n, bad=0, counts=counts)


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeReportingStore())


def test_the_trend_is_twelve_months_up_to_the_one_asked_oldest_first(uow):
    project(
        uow,
        registered("C1"),
        registered("C2", site="XJK"),
        classified("C1"),
        replied("C1", on_time=True),  # replied in April
        registered("C3", received_at="2025-05-31T23:30:00+08:00"),  # a year before April's May
        rating("2026-04-03", 5, 3),
        rating("2026-04-03", 2, 1),
    )
    trend = handlers.monthly_trend(uow, "2026-04")
    assert [point["month"] for point in trend] == [
        "2025-05", "2025-06", "2025-07", "2025-08", "2025-09", "2025-10",
        "2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04",
    ]  # fmt: skip
    by_month = {point["month"]: point for point in trend}
    assert by_month["2025-05"]["cases"] == 1 and by_month["2026-03"]["cases"] == 2
    april = by_month["2026-04"]
    assert (april["replies"], april["on_time"], april["on_time_rate"]) == (1, 1, 1.0)
    assert (april["ratings"], april["satisfied"], april["satisfied_share"]) == (4, 3, 0.75)
    quiet = by_month["2025-12"]
    assert (
        quiet["cases"] == 0 and quiet["on_time_rate"] is None and quiet["satisfied_share"] is None
    )
    street = {p["month"]: p for p in handlers.monthly_trend(uow, "2026-04", "XJK")}
    assert street["2026-03"]["cases"] == 1 and street["2026-04"]["ratings"] == 0
    with pytest.raises(InvalidField) as refused:
        handlers.monthly_trend(uow, "2026-4")
    assert refused.value.field == "month"


def test_the_trend_agrees_with_each_months_summary(uow):
    project(uow, registered("C1"), registered("C2"), classified("C1"), replied("C1", on_time=False))
    for point in handlers.monthly_trend(uow, "2026-04")[-2:]:
        summary = handlers.monthly_summary(uow, point["month"])
        assert point["cases"] == summary["totals"]["cases"]
        assert point["replies"] == summary["replies"]["total"]
        assert point["on_time_rate"] == summary["replies"]["on_time_rate"]
        assert point["satisfied_share"] == summary["satisfaction"]["satisfied_share"]


def test_months_before_crosses_years_both_ways():
    assert domain.months_before(date(2026, 1, 1), 1) == date(2025, 12, 1)
    assert domain.months_before(date(2026, 3, 1), 11) == date(2025, 4, 1)
    assert domain.months_before(date(2025, 12, 1), -1) == date(2026, 1, 1)
    assert domain.months_before(date(2026, 3, 1), 0) == date(2026, 3, 1)


def test_rows_of_several_sites_are_summed_and_unknown_dimensions_ignored():
    rows = [
        {"month": date(2026, 1, 1), "dimension": "cases", "key": "", "value": 2},
        {"month": date(2026, 1, 1), "dimension": "cases", "key": "", "value": 3},
        {"month": date(2026, 1, 1), "dimension": "reply", "key": "late", "value": 4},
        {"month": "2026-02-01", "dimension": "rating", "key": "4", "value": 1},
        {"month": date(2026, 2, 1), "dimension": "matter", "key": "M001", "value": 9},
    ]
    january, february = domain.monthly_trend(date(2026, 1, 1), 2, rows)
    assert january["cases"] == 5 and january["on_time_rate"] == 0.0
    assert february["satisfied_share"] == 1.0 and february["cases"] == 0
