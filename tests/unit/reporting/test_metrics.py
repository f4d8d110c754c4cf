"""Reporting's /metrics: every known site and kind is exported at 0 when nothing is due, from
the district's reference data and the deadline policies (a scrape of the collector's families,
as prometheus_client writes it)."""

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from services.reporting import metrics

KNOWN = metrics.known_labels(["HALL", "XJK"], ["SCJ", "FCJ"], ["cannot_reply", "hard_resolution"])


def scrape(rows, zeros) -> str:
    class Collector:
        def collect(self):
            return metrics.families(rows, zeros)

    registry = CollectorRegistry()
    registry.register(Collector())
    return generate_latest(registry).decode()


def samples(text: str, metric: str) -> dict[str, float]:
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith(metric + "{") or line.startswith(metric + " ")
    }


def test_a_scrape_with_nothing_due_shows_every_known_site_and_kind_at_zero():
    text = scrape([], metrics.zero_series(KNOWN))
    overdue = samples(text, "bancheng_cases_overdue")
    assert set(overdue) == {
        f'bancheng_cases_overdue{{department="",kind="{kind}",site="{site}"}}'
        for site in ("HALL", "XJK")
        for kind in ("assignment", "cannot_reply", "hard_resolution")
    }
    assert set(overdue.values()) == {0.0}
    assert len(samples(text, "bancheng_cases_due_soon")) == 6
    open_cases = samples(text, "bancheng_open_cases")
    assert 'bancheng_open_cases{site="XJK",state="registered",type="unclassified"}' in open_cases
    assert 'bancheng_open_cases{site="HALL",state="replied",type="pending"}' in open_cases
    assert len(open_cases) == 2 * 13 and set(open_cases.values()) == {0.0}
    assert (
        samples(text, "bancheng_deadline_breaches_total")[
            'bancheng_deadline_breaches_total{department="FCJ",kind="cannot_reply"}'
        ]
        == 0.0
    )
    assert samples(text, "bancheng_joint_meetings_awaiting_reply") == {
        "bancheng_joint_meetings_awaiting_reply": 0.0
    }


def test_a_counted_series_shows_its_value_once_beside_the_zeros():
    rows = [
        {"metric": "bancheng_open_cases",
         "labels": {"site": "HALL", "type": "cannot", "state": "in_progress"}, "value": 3},
        {"metric": "bancheng_cases_overdue",
         "labels": {"site": "XJK", "department": "SCJ", "kind": "cannot_reply"}, "value": 2},
    ]  # fmt: skip
    text = scrape(rows, metrics.zero_series(KNOWN))
    open_cases = samples(text, "bancheng_open_cases")
    assert open_cases['bancheng_open_cases{site="HALL",state="in_progress",type="cannot"}'] == 3
    assert text.count('bancheng_open_cases{site="HALL",state="in_progress",type="cannot"}') == 1
    overdue = samples(text, "bancheng_cases_overdue")
    assert overdue['bancheng_cases_overdue{department="SCJ",kind="cannot_reply",site="XJK"}'] == 2
    assert overdue['bancheng_cases_overdue{department="",kind="cannot_reply",site="XJK"}'] == 0


def test_the_district_files_give_every_site_department_and_policy_kind():
    known = metrics.load_known_labels({})
    assert {"HALL", "XJK", "RS"} <= set(known["site"]) and len(known["site"]) == 12
    assert "SPJ" in known["department"]
    assert {"cannot_reply", "pending_reply", "hard_resolution", "assignment"} <= set(known["kind"])
    nothing = metrics.load_known_labels({"BANCHENG": {"REFERENCE_DATA": "/nonexistent"}})
    assert nothing == {} and metrics.zero_series(nothing) == []
