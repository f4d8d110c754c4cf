"""Reporting at scale: the monthly summary over millions of archived cases, and /metrics.

Cases are generated from a seed, folded into reporting's counters and gauges by reporting's
own pure projection (``case_counters``, ``case_gauges``) and loaded with COPY, as if the
events had been consumed. Then, through the real services:

* the monthly summary over HTTP, beside a naive GROUP BY over the same month's cases;
* the ``/metrics`` scrape with few and with many open cases (no growth is the target).
"""

import random
import time
from collections import Counter
from datetime import datetime, timedelta
from statistics import median

import psycopg
import requests
from psycopg.types.json import Jsonb

from bench.harness import Row, running_system
from services.reporting import store
from services.reporting.domain import (
    CASE_FIELDS,
    LOCAL,
    TREND_MONTHS,
    case_counters,
    case_gauges,
    monthly_trend,
    months_before,
)

SITES = ("HALL", "RS", "GA", "SW", "HY", "XJK", "MYXC", "XWM", "SJC", "HS", "XLW", "XWH")
DEPARTMENTS = ("SPJ", "RSJ", "GAJ", "SWJ", "MZJ", "SCJ", "FCJ", "WJW", "YBJ", "CGJ", "JYJ", "BDC")
TYPES = ("cannot", "hard", "refused", "pending")
CAUSES = ("unfamiliar", "process", "attitude")
FIRST_MONTH = datetime(2024, 1, 1, tzinfo=LOCAL)
SMALL = {"archived": 3_000, "open_sizes": (100, 1_000), "repeats": 3}


def generated_case(rng: random.Random, number: int, months: int, state: str) -> dict:
    """One case with every field the ledger and the summary read, reproducible from ``rng``."""
    month_index = rng.randrange(months)
    received = FIRST_MONTH + timedelta(
        days=month_index * 30 + rng.randrange(28), minutes=rng.randrange(600)
    )
    site = rng.choice(SITES)
    case_type = rng.choice(TYPES)
    replied = state == "archived" or rng.random() < 0.3
    days = rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6))
    department = rng.choice(DEPARTMENTS)
    case = dict.fromkeys(CASE_FIELDS)
    case.update(
        case_no=f"XW-{received:%Y%m%d}-{number:08d}-{site}",
        site=site,
        window_code=f"W0{rng.randrange(1, 4)}",
        matter=f"M{rng.randrange(1, 35):03d}",
        department=department,
        channel=rng.choice(("window", "window", "window", "rating", "hotline", "comment_book")),
        applicant_kind="person",
        id_number_masked="320102********1234",
        first_receiver=f"S{rng.randrange(1, 39):04d}",
        received_at=received,
        month=received.date().replace(day=1),
        state=state,
        state_at=received + timedelta(days=7),
        type=case_type,
        complex=rng.random() < 0.1,
        reason="材料不全" if case_type == "cannot" else "部门职责不清",
        finding_cause=rng.choice(CAUSES) if case_type == "refused" else None,
        classified_at=received + timedelta(hours=1),
        replied_at=received + timedelta(days=days + 1) if replied else None,
        reply_due_at=received + timedelta(days=4),
        reply_on_time=days <= 3 if replied else None,
        working_days_taken=days if replied else None,
        archived_at=received + timedelta(days=10) if state == "archived" else None,
        deadlines={}
        if state == "archived"
        else {
            "1": {
                "kind": "reply",
                "department": department,
                "site": site,
                "due_at": (received + timedelta(days=4)).isoformat(),
                "warned": rng.random() < 0.2,
                "breached": rng.random() < 0.1,
                "provisional": False,
            }
        },
    )
    return case


def load_cases(
    database_url: str, count: int, *, state: str, seed: int, first_number: int, months: int
) -> None:
    """COPY ``count`` generated cases into reporting and add what they contribute to the
    counters and gauges, computed by reporting's own projection."""
    rng = random.Random(seed)
    counters, gauges = Counter(), Counter()
    columns = ", ".join(CASE_FIELDS)
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY reporting.cases ({columns}) FROM STDIN") as copy:
            for number in range(first_number, first_number + count):
                case = generated_case(rng, number, months, state)
                counters.update(case_counters(case))
                gauges.update(case_gauges(case))
                case["deadlines"] = Jsonb(case["deadlines"])
                copy.write_row([case[name] for name in CASE_FIELDS])
        with cur.copy(
            "COPY reporting.monthly_counts_delta (month, site, dimension, key, value) FROM STDIN"
        ) as copy:
            for (month, site, dimension, key), value in counters.items():
                copy.write_row((month, site, dimension, key, value))
        cur.execute(
            "INSERT INTO reporting.monthly_counts SELECT month, site, dimension, key, sum(value) "
            "FROM reporting.monthly_counts_delta GROUP BY 1, 2, 3, 4 "
            "ON CONFLICT (month, site, dimension, key) DO UPDATE "
            "SET value = monthly_counts.value + EXCLUDED.value"
        )
        cur.execute("TRUNCATE reporting.monthly_counts_delta")
        cur.executemany(
            "INSERT INTO reporting.gauges (metric, labels, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (metric, labels) DO UPDATE SET value = gauges.value + EXCLUDED.value",
            [(metric, Jsonb(dict(labels)), value) for (metric, labels), value in gauges.items()],
        )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE reporting.cases")
        conn.execute("VACUUM ANALYZE reporting.monthly_counts")


def naive_month_summary(database_url: str, month) -> tuple[float, int]:
    """The same month's counts straight from the cases (what the counters save us)."""
    with psycopg.connect(database_url) as conn:
        started = time.perf_counter()
        rows = conn.execute(
            "SELECT type, site, channel, department, matter, count(*) FROM reporting.cases "
            "WHERE month = %s GROUP BY GROUPING SETS ((type), (site), (channel), (department), (matter), ())",
            (month,),
        ).fetchall()
        elapsed = time.perf_counter() - started
    total = next(row[5] for row in rows if all(value is None for value in row[:5]))
    return elapsed, total


def timed_trend(database_url: str, month, repeats: int) -> tuple[list[float], list[dict]]:
    """reporting's own 12-month trend statement (store.trend_counts), timed in the database's
    client as the service runs it, and the trend it gives."""
    first = months_before(month, TREND_MONTHS - 1)
    times, rows = [], []
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
        with conn.cursor() as cur:
            for _ in range(repeats):
                started = time.perf_counter()
                rows = store.trend_counts(cur, first, month, None)
                times.append(time.perf_counter() - started)
    return times, monthly_trend(first, TREND_MONTHS, rows)


def naive_trend(database_url: str, month) -> tuple[float, dict]:
    """The same 12 months' case counts straight from the cases."""
    first = months_before(month, TREND_MONTHS - 1)
    with psycopg.connect(database_url) as conn:
        started = time.perf_counter()
        rows = conn.execute(
            "SELECT month, count(*) FROM reporting.cases WHERE month BETWEEN %s AND %s "
            "GROUP BY month",
            (first, month),
        ).fetchall()
        elapsed = time.perf_counter() - started
    return elapsed, {row[0].strftime("%Y-%m"): row[1] for row in rows}


def _timed_gets(session, url: str, repeats: int, **kwargs) -> tuple[list[float], requests.Response]:
    times, response = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        response = session.get(url, timeout=60, **kwargs)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return times, response


def add_delta_table(database_url: str) -> None:
    """A scratch table that load_cases sums its counters through."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE UNLOGGED TABLE reporting.monthly_counts_delta "
            "(month date, site text, dimension text, key text, value bigint)"
        )


def run(
    archived: int = 10_000_000,
    open_sizes=(1_000, 1_000_000),
    months: int = 24,
    repeats: int = 20,
    seed: int = 20261129,
    base_port: int | None = None,
) -> list[Row]:
    rows: list[Row] = []
    with running_system("reporting", prepare=add_delta_table, base_port=base_port) as system:
        session = requests.Session()
        metrics_url = f"http://127.0.0.1:{system.port('reporting')}/metrics"

        # the scrape with few, then with many open cases
        loaded, scrape = 0, {}
        for size in open_sizes:
            load_cases(
                system.database_url,
                size - loaded,
                state="in_progress",
                seed=seed + size,
                first_number=loaded,
                months=months,
            )
            loaded = size
            times, response = _timed_gets(session, metrics_url, repeats)
            assert "bancheng_open_cases" in response.text
            scrape[size] = median(times)
        small, large = open_sizes[0], open_sizes[-1]
        rows.append(
            Row(
                "metrics",
                f"/metrics scrape, {small:,} open (ms)",
                scrape[small] * 1000,
                "ms",
                target="≤ 50 ms",
                met=scrape[small] <= 0.05,
            )
        )
        rows.append(
            Row(
                "metrics",
                f"/metrics scrape, {large:,} open (ms)",
                scrape[large] * 1000,
                "ms",
                baseline=scrape[small] * 1000,
                baseline_name=f"scrape at {small:,}",
                target="≤ 50 ms, no growth",
                met=scrape[large] <= 0.05,
            )
        )

        # the monthly summary over the archive
        t0 = time.perf_counter()
        load_cases(
            system.database_url,
            archived,
            state="archived",
            seed=seed,
            first_number=10**7 * 9,
            months=months,
        )
        load_seconds = time.perf_counter() - t0
        month = (FIRST_MONTH + timedelta(days=30 * (months // 2))).date().replace(day=1)
        times, response = _timed_gets(
            session,
            f"{system.api}/reports/monthly",
            repeats,
            params={"month": f"{month:%Y-%m}"},
            headers={"Authorization": f"Bearer {system.login('officer')}"},
        )
        naive_seconds, naive_total = naive_month_summary(system.database_url, month)
        summary = response.json()
        assert summary["totals"]["cases"] == naive_total, (summary["totals"], naive_total)
        rows.append(
            Row(
                "summary",
                f"monthly summary, {archived:,} archived (ms)",
                median(times) * 1000,
                "ms",
                baseline=naive_seconds * 1000,
                baseline_name="naive GROUP BY of the month",
                target="≤ 250 ms",
                met=median(times) <= 0.25,
                notes={
                    "month_cases": naive_total,
                    "max_ms": max(times) * 1000,
                    "generate_and_copy_seconds": load_seconds,
                },
            )
        )

        # the monthly page's 12-month trend: one statement on the counters, not 12 summaries
        trend_times, trend = timed_trend(system.database_url, month, repeats)
        naive_trend_seconds, naive_counts = naive_trend(system.database_url, month)
        assert {p["month"]: p["cases"] for p in trend if p["cases"]} == naive_counts, (
            trend,
            naive_counts,
        )
        rows.append(
            Row(
                "summary",
                f"12-month trend query, {archived:,} archived (ms)",
                median(trend_times) * 1000,
                "ms",
                baseline=naive_trend_seconds * 1000,
                baseline_name="naive GROUP BY of 12 months' cases",
                target="≤ 250 ms",
                met=median(trend_times) <= 0.25,
                notes={"months": len(trend), "max_ms": max(trend_times) * 1000},
            )
        )
        page_times, page = _timed_gets(
            session,
            system.api.rsplit("/api/v1", 1)[0] + "/reports/monthly",
            repeats,
            params={"month": f"{month:%Y-%m}"},
            headers={"Authorization": f"Bearer {system.login('officer')}"},
        )
        assert page.text.count('<rect class="bar"') == TREND_MONTHS
        rows.append(
            Row(
                "summary",
                f"monthly page with the trend chart, {archived:,} archived (ms)",
                median(page_times) * 1000,
                "ms",
                baseline=median(times) * 1000,
                baseline_name="the summary as JSON",
                target="≤ 250 ms",
                met=median(page_times) <= 0.25,
                notes={"max_ms": max(page_times) * 1000},
            )
        )
    return rows
