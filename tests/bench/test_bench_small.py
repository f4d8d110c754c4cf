"""A small run of every benchmark: a correctness check of the harness, not a measurement.

Each runs as ``make bench`` runs it, in a process of its own: the test process is patched by
eventlet, the benchmarks' client threads must be real ones.
"""

import json
import subprocess
import sys

import pytest

from bench.harness import RESULTS_DIR
from services.common.config import REPO_ROOT

pytestmark = pytest.mark.e2e


def small_run(name: str) -> list[dict]:
    """Run one benchmark at its small size; its own assertions make a failure exit non-zero."""
    finished = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "bench", name, "--small"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return json.loads((RESULTS_DIR / "small.json").read_text())["rows"]


def test_registration_benchmark_counts_every_request_done_by_all_consumers():
    from bench import registration

    rows = small_run("registration")
    throughput = [row for row in rows if row["metric"].endswith("registrations/s")]
    assert len(throughput) == len(registration.SMALL["levels"])
    for row in throughput:
        assert row["notes"]["failures"] == 0 and row["notes"]["baseline_failures"] == 0
        assert row["notes"]["bancheng"]["n"] == row["notes"]["baseline"]["n"] > 0
        assert row["value"] > 0 and row["baseline"] > 0
    memory = {row["metric"] for row in rows if row["benchmark"] == "memory"}
    assert memory >= {"peak RSS gateway", "peak RSS intake-1"}


def test_reporting_benchmark_summary_agrees_with_a_naive_count():
    rows = small_run("reporting_scale")
    summary = next(row for row in rows if row["benchmark"] == "summary")
    # run() asserts the summary's total equals the naive GROUP BY; the month is not empty
    assert summary["notes"]["month_cases"] > 0
    assert [row["benchmark"] for row in rows].count("metrics") == 2


def test_deadline_benchmark_breaches_each_overdue_deadline_once():
    rows = small_run("deadline_scan")  # run() asserts the scan counts
    assert [row["benchmark"] for row in rows] == ["deadlines", "deadlines"]
    assert all(row["value"] > 0 and row["baseline"] > 0 for row in rows)


def test_rating_benchmark_keeps_every_rating_and_opens_cases_for_bad_ones():
    from bench import rating_ingestion

    row, cpu = small_run("rating_ingestion")  # run() asserts all were accepted
    sent = (rating_ingestion.SMALL["batches"] - 1) * rating_ingestion.SMALL["batch_size"]
    assert row["notes"]["ratings"] == sent
    assert 0 < row["notes"]["bad_ratings_opened_cases"] < sent
    # the services' CPU while posting, per 1,000 ratings, from the same run's processes
    assert cpu["metric"].endswith("CPU ms per 1,000 ratings (services)")
    spent = sum(row["notes"]["cpu_seconds_while_posting"].values())
    assert spent > 0 and cpu["value"] == pytest.approx(1000 * 1000 * spent / sent)


def test_precedents_benchmark_finds_the_same_precedents_with_and_without_the_index():
    from bench import precedents

    rows = small_run("precedents")  # run() asserts both found as many, and some
    assert [row["metric"].split(": ")[1] for row in rows] == ["p50 (ms)", "p99 (ms)"]
    notes = rows[0]["notes"]
    assert notes["rows"] == precedents.SMALL["rows"]
    assert notes["queries"] == len(precedents.QUERIES) * precedents.SMALL["rounds"]
    assert all(row["value"] > 0 and row["baseline"] > 0 for row in rows)
