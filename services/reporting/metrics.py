"""The deadline picture on reporting's ``/metrics``: a prometheus_client collector over the
small ``reporting.gauges`` table, so a scrape costs the same at 100 or 1,000,000 open cases.

Every known label set is exported, at 0 when no row counts it: the sites and departments of the
district's reference data (``REFERENCE_DATA``, the seed directory intake is loaded from), the
deadline kinds of the policies (``DEADLINE_POLICIES``, the file coordination counts by) and the
case types and open states. So a site with nothing due shows ``0``, not no series, and an alert
or a dashboard per site or kind sees it (a series that vanishes reads as "no data").
"""

import logging
import os
from pathlib import Path

import yaml
from nameko.extensions import DependencyProvider
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily

from services.common.config import REPO_ROOT, service_setting
from services.common.postgres import PostgresPool
from services.reporting import domain, store

log = logging.getLogger(__name__)

DEFAULT_REFERENCE_DATA = REPO_ROOT / "deploy" / "seed" / "xuanwu"
DEFAULT_POLICIES = REPO_ROOT / "deploy" / "config" / "deadline_policies.yaml"
# the states of an open case (bancheng_open_cases counts no resolved, closed or archived one)
OPEN_STATES = ("registered", "classified", "in_progress", "replied")


def known_labels(sites, departments, kinds) -> dict[str, tuple[str, ...]]:
    """The values the labels of ``domain.METRICS`` take, as far as the district's reference data
    and the deadline policies know them (a joint meeting's task is kind ``assignment``)."""
    return {
        "site": tuple(sorted(set(sites))),
        "department": tuple(sorted(set(departments))),
        "kind": tuple(sorted({*kinds, "assignment"})),
    }


def _type_states() -> list[tuple[str, str]]:
    """The (type, state) pairs an open case can be in: unclassified while registered, a type
    from its classification on."""
    return [("unclassified", "registered")] + [
        (case_type, state) for case_type in domain.TYPES for state in OPEN_STATES[1:]
    ]


def zero_series(known: dict[str, tuple[str, ...]]) -> list[tuple[str, tuple[str, ...]]]:
    """The series exported at 0 unless a gauge row counts them: every site's open cases by type
    and state; every (site, kind) of the deadlines due soon and overdue (department ``""``: the
    site's and kind's zero, whatever the department, so the series count stays small and the
    scrape fast); breaches by (department, kind); provisional deadlines by (site, kind); the
    joint meetings' two. Nothing known, no zero series."""
    sites, kinds = known.get("site", ()), known.get("kind", ())
    departments = known.get("department", ())
    series = [
        ("bancheng_open_cases", (site, case_type, state))
        for site in sites
        for case_type, state in _type_states()
    ]
    for metric in ("bancheng_cases_due_soon", "bancheng_cases_overdue"):
        series += [(metric, (site, "", kind)) for site in sites for kind in kinds]
    series += [("bancheng_deadline_breaches", (d, kind)) for d in departments for kind in kinds]
    series += [("bancheng_open_provisional_deadlines", (s, kind)) for s in sites for kind in kinds]
    if known:
        series += [
            ("bancheng_joint_meetings_awaiting_reply", ()),
            ("bancheng_joint_meetings_reply_overdue", ()),
        ]
    return series


def families(rows: list[dict], zeros: list[tuple[str, tuple[str, ...]]] = ()) -> list:
    """Metric families of every metric in ``domain.METRICS``, filled from the gauge rows, with
    every series of ``zeros`` that no row counts at 0."""
    built, values = {}, {}
    for name, (kind, help_text, label_names) in domain.METRICS.items():
        family_class = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
        built[name] = family_class(name, help_text, labels=list(label_names))
    for key in zeros:
        values[key] = 0
    for row in rows:
        if row["metric"] not in built:
            continue
        names = domain.METRICS[row["metric"]][2]
        key = (row["metric"], tuple(str(row["labels"].get(name, "")) for name in names))
        values[key] = values.get(key, 0) + row["value"]
    for (name, labels), value in sorted(values.items()):
        built[name].add_metric(list(labels), value)
    return list(built.values())


def _codes(path: Path) -> list[str]:
    return [str(item["code"]) for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []]


def _policy_kinds(path: Path) -> list[str]:
    """``<type>_<stage>`` of every policy in coordination's policy file (a type may be a list)."""
    kinds = []
    for policy in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("policies") or []:
        types = policy["type"] if isinstance(policy["type"], list) else [policy["type"]]
        kinds += [f"{case_type}_{policy['stage']}" for case_type in types]
    return kinds


def load_known_labels(config: dict) -> dict[str, tuple[str, ...]]:
    """:func:`known_labels` from the reference data and the policies; nothing known (no zero
    series, logged) when a file is missing or unreadable: the counted series still show."""
    folder = Path(service_setting(config, "REFERENCE_DATA", "") or DEFAULT_REFERENCE_DATA)
    policies = Path(os.environ.get("DEADLINE_POLICIES") or DEFAULT_POLICIES)
    try:
        return known_labels(
            _codes(folder / "sites.yaml"),
            _codes(folder / "departments.yaml"),
            _policy_kinds(policies),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        log.warning("no zero series on /metrics: reference data or policies unreadable: %s", exc)
        return {}


class DeadlineCollector:
    """Registered once per process; reads through the pool of the running reporting container."""

    def __init__(self):
        self.pool = None
        self.zeros: list[tuple[str, tuple[str, ...]]] = []

    def describe(self):
        return families([])

    def collect(self):
        if self.pool is None:
            return []
        try:
            with self.pool.connection() as conn:
                with conn.cursor() as cur:
                    rows = store.gauges(cur)
        except Exception:  # a scrape must still show the process's other metrics
            log.exception("could not read reporting.gauges")
            return []
        return families(rows, self.zeros)


COLLECTOR = DeadlineCollector()
REGISTRY.register(COLLECTOR)


class DeadlineMetrics(DependencyProvider):
    """Points the process's collector at this container's database pool while it runs."""

    pool = PostgresPool()

    def start(self):
        COLLECTOR.zeros = zero_series(load_known_labels(self.container.config))
        COLLECTOR.pool = self.pool.pool

    def stop(self):
        if COLLECTOR.pool is self.pool.pool:
            COLLECTOR.pool = None

    kill = stop
