"""Reporting: read models from everyone's events, the monthly summary, Prometheus (entrypoints)."""

from nameko.rpc import rpc

from services.common import timeline
from services.common.consumer import consumes
from services.common.outbox import OutboxRelay
from services.common.postgres import DatabaseProvider
from services.common.web import EntrypointMetrics, Observable
from services.reporting import store

SCHEMA = "reporting"


class ReportingService(Observable):
    name = "reporting"

    db = DatabaseProvider(relay=OutboxRelay(SCHEMA))
    entrypoint_metrics = EntrypointMetrics()

    @consumes("intake", "case_registered")
    def on_case_registered(self, event: dict) -> bool:
        with self.db.handling_once(SCHEMA, event) as cur:
            if cur is None:
                return False
            if store.count_case(cur, event["data"]):
                timeline.add_entry(
                    cur,
                    SCHEMA,
                    event["data"]["case_no"],
                    None,
                    "counted",
                    "已计入月度统计（reporting）",
                )
            return True

    @rpc
    def case_timeline(self, case_no: str) -> list[dict]:
        with self.db.transaction() as cur:
            return timeline.entries(cur, SCHEMA, case_no)

    @rpc
    def cases_by_site(self, month: str) -> list[dict]:
        with self.db.transaction() as cur:
            return store.cases_by_month_and_site(cur, month)
