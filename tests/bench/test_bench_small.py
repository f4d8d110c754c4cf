"""A small run of every benchmark: a correctness check of the harness, not a measurement."""

import pytest

from bench import registration, reporting_scale

pytestmark = pytest.mark.e2e


def test_registration_benchmark_counts_every_request_done_by_all_consumers():
    rows = registration.run(**registration.SMALL)
    throughput = [row for row in rows if row.metric.endswith("registrations/s")]
    assert len(throughput) == len(registration.SMALL["levels"])
    for row in throughput:
        assert row.notes["failures"] == 0 and row.notes["baseline_failures"] == 0
        assert row.notes["bancheng"]["n"] == row.notes["baseline"]["n"] > 0
        assert row.value > 0 and row.baseline > 0
    assert {row.metric for row in rows if row.benchmark == "memory"} >= {
        "peak RSS gateway",
        "peak RSS intake-1",
    }


def test_reporting_benchmark_summary_agrees_with_a_naive_count():
    rows = reporting_scale.run(**reporting_scale.SMALL)
    summary = next(row for row in rows if row.benchmark == "summary")
    # run() asserts the summary's total equals the naive GROUP BY; the month is not empty
    assert summary.notes["month_cases"] > 0
    assert [row.benchmark for row in rows].count("metrics") == 2


def test_deadline_benchmark_breaches_each_overdue_deadline_once():
    from bench import deadline_scan

    rows = deadline_scan.run(**deadline_scan.SMALL)  # run() asserts the scan counts
    assert [row.benchmark for row in rows] == ["deadlines", "deadlines"]
    assert all(row.value > 0 and row.baseline > 0 for row in rows)


def test_rating_benchmark_keeps_every_rating_and_opens_cases_for_bad_ones():
    from bench import rating_ingestion

    (row,) = rating_ingestion.run(**rating_ingestion.SMALL)  # run() asserts all were accepted
    sent = (rating_ingestion.SMALL["batches"] - 1) * rating_ingestion.SMALL["batch_size"]
    assert row.notes["ratings"] == sent
    assert 0 < row.notes["bad_ratings_opened_cases"] < sent
