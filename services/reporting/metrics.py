"""The deadline picture on reporting's ``/metrics``: a prometheus_client collector over the
small ``reporting.gauges`` table, so a scrape costs the same at 100 or 1,000,000 open cases."""

import logging

from nameko.extensions import DependencyProvider
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily

from services.common.postgres import PostgresPool
from services.reporting import domain, store

log = logging.getLogger(__name__)


def families(rows: list[dict]) -> list:
    """Metric families of every metric in ``domain.METRICS``, filled from the gauge rows."""
    built = {}
    for name, (kind, help_text, label_names) in domain.METRICS.items():
        family_class = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
        built[name] = family_class(name, help_text, labels=list(label_names))
    for row in sorted(rows, key=lambda row: (row["metric"], sorted(row["labels"].items()))):
        family = built.get(row["metric"])
        if family is None:
            continue
        names = domain.METRICS[row["metric"]][2]
        family.add_metric([row["labels"].get(name, "") for name in names], row["value"])
    return list(built.values())


class DeadlineCollector:
    """Registered once per process; reads through the pool of the running reporting container."""

    def __init__(self):
        self.pool = None

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
        return families(rows)


COLLECTOR = DeadlineCollector()
REGISTRY.register(COLLECTOR)


class DeadlineMetrics(DependencyProvider):
    """Points the process's collector at this container's database pool while it runs."""

    pool = PostgresPool()

    def start(self):
        COLLECTOR.pool = self.pool.pool

    def stop(self):
        if COLLECTOR.pool is self.pool.pool:
            COLLECTOR.pool = None

    kill = stop
