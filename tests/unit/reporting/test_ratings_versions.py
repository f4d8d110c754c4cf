"""ratings_received in both versions (issue 16): version 1 counted per day, site, window, matter,
staff and level, version 2 per day, site and level. Reporting reads both, and the same ratings
give the same monthly figures whichever version announced them."""

import itertools
import random
from collections import Counter

from services.common.event_schemas import problem
from services.reporting import handlers
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.reporting.fakes import FakeReportingStore

_ids = itertools.count(1)
SITES, WINDOWS, MATTERS, STAFF = ("HALL", "XJK"), ("W01", "W02"), ("M001", "M002"), ("S1", "S2")
# around a month's end, in Shanghai's days: March's last and April's first
DAYS = ("2026-03-30", "2026-03-31", "2026-04-01")


def ratings(n: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    return [
        (
            rng.choice(DAYS),
            rng.choice(SITES),
            rng.choice(WINDOWS),
            rng.choice(MATTERS),
            rng.choice(STAFF),
            rng.choice((5, 5, 5, 4, 4, 3, 2, 1)),
        )
        for _ in range(n)
    ]


def received(version: int, rows: list[tuple]) -> dict:
    if version == 1:
        keys = Counter(rows)
        counts = [
            {"day": d, "site": s, "window": w, "matter": m, "staff": st, "level": lv, "n": n}
            for (d, s, w, m, st, lv), n in sorted(keys.items())
        ]
    else:
        keys = Counter((d, s, lv) for d, s, _, _, _, lv in rows)
        counts = [
            {"day": d, "site": s, "level": lv, "n": n} for (d, s, lv), n in sorted(keys.items())
        ]
    return {
        "id": f"r{next(_ids)}",
        "type": "ratings_received",
        "version": version,
        "source_service": "intake",
        "source_site": None,
        "occurred_at": "2026-04-01T09:00:00+08:00",
        "data": {"batch_id": f"b{version}", "n": len(rows), "bad": 0, "counts": counts},
    }


def figures(version: int, batches: list[list[tuple]]) -> dict:
    uow = FakeUnitOfWork(FakeReportingStore())
    for rows in batches:
        event = received(version, rows)
        assert problem(event, "intake", "ratings_received") is None
        assert handlers.project_event(uow, event) is True
    return {
        (month, site): handlers.monthly_summary(uow, month, site)
        for month in ("2026-03", "2026-04")
        for site in (None, *SITES)
    }


def test_both_versions_give_the_same_monthly_figures():
    batches = [ratings(500, seed) for seed in range(4)]
    v1, v2 = figures(1, batches), figures(2, batches)
    assert v1 == v2
    march = v2[("2026-03", None)]
    assert march != figures(2, [])[("2026-03", None)]  # the ratings did count


def test_version_2_is_far_smaller_than_version_1():
    rows = ratings(5000, 7)
    assert len(received(2, rows)["data"]["counts"]) <= len(DAYS) * len(SITES) * 5
    # 2 windows × 2 matters × 2 staff here: eight times as many rows in version 1
    assert len(received(1, rows)["data"]["counts"]) == 8 * len(received(2, rows)["data"]["counts"])


def test_a_version_newer_than_2_waits_for_an_upgrade():
    event = {**received(2, ratings(3, 1)), "version": 3}
    assert "newer" in problem(event, "intake", "ratings_received")
