"""Coordination: classification, each type's flow, deadlines and joint meetings (entrypoints)."""

from nameko.rpc import rpc

from services.common import timeline
from services.common.consumer import consumes
from services.common.outbox import OutboxRelay
from services.common.postgres import DatabaseProvider
from services.common.web import EntrypointMetrics, Observable
from services.coordination import store

SCHEMA = "coordination"


class CoordinationService(Observable):
    name = "coordination"

    db = DatabaseProvider(relay=OutboxRelay(SCHEMA))
    entrypoint_metrics = EntrypointMetrics()

    @consumes("intake", "case_registered")
    def on_case_registered(self, event: dict) -> bool:
        with self.db.handling_once(SCHEMA, event) as cur:
            if cur is None:
                return False
            case_no = event["data"]["case_no"]
            if store.open_case(cur, event["data"]):
                timeline.add_entry(
                    cur, SCHEMA, case_no, None, "opened", "协调记录已建立，待分类（coordination）"
                )
            return True

    @rpc
    def case_timeline(self, case_no: str) -> list[dict]:
        with self.db.transaction() as cur:
            return timeline.entries(cur, SCHEMA, case_no)
