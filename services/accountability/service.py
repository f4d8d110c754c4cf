"""Accountability: first responsibility, investigations, sanctions, department scores (entrypoints)."""

from nameko.rpc import rpc

from services.accountability import store
from services.common import timeline
from services.common.consumer import consumes
from services.common.outbox import OutboxRelay
from services.common.postgres import DatabaseProvider
from services.common.web import EntrypointMetrics, Observable

SCHEMA = "accountability"


class AccountabilityService(Observable):
    name = "accountability"

    db = DatabaseProvider(relay=OutboxRelay(SCHEMA))
    entrypoint_metrics = EntrypointMetrics()

    @consumes("intake", "case_registered")
    def on_case_registered(self, event: dict) -> bool:
        with self.db.handling_once(SCHEMA, event) as cur:
            if cur is None:
                return False
            data = event["data"]
            if store.record_first_responsibility(cur, data):
                timeline.add_entry(
                    cur,
                    SCHEMA,
                    data["case_no"],
                    data["first_receiver"],
                    "first_receiver",
                    f"首接负责人 {data['first_receiver']} 已记录，负责到底（accountability）",
                )
            return True

    @rpc
    def case_timeline(self, case_no: str) -> list[dict]:
        with self.db.transaction() as cur:
            return timeline.entries(cur, SCHEMA, case_no)

    @rpc
    def staff_record(self, staff_id: str) -> dict:
        with self.db.transaction() as cur:
            return {"staff_id": staff_id, "first_received": store.first_received_by(cur, staff_id)}
