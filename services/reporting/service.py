"""Reporting: read models from everyone's events, the monthly summary, Prometheus (entrypoints)."""

from services.common import timeline
from services.common.consumer import consumes
from services.common.errors import BanchengError, InvalidField
from services.common.outbox import OutboxRelay
from services.common.postgres import DatabaseProvider
from services.common.rpc import rpc
from services.common.web import EntrypointMetrics, Observable
from services.reporting import domain, store
from services.reporting.metrics import DeadlineMetrics
from services.reporting.projection import project

SCHEMA = "reporting"
MAX_LEDGER_BATCH = 10000


def _plain(row: dict) -> dict:
    """Times as ISO 8601 strings with their offset (what the gateway writes out)."""
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in row.items()
    }


class ReportingService(Observable):
    name = "reporting"

    db = DatabaseProvider(relay=OutboxRelay(SCHEMA))
    entrypoint_metrics = EntrypointMetrics()
    deadline_metrics = DeadlineMetrics()

    def _project(self, event: dict, note: str | None = None) -> bool:
        """Log and project ``event`` once (a redelivery changes nothing)."""
        with self.db.handling_once(SCHEMA, event) as cur:
            if cur is None or not store.log_event(cur, event):
                return False
            project(cur, event)
            if note:
                timeline.add_entry(cur, SCHEMA, event["data"]["case_no"], None, "counted", note)
            return True

    # -- intake ------------------------------------------------------------------------------

    @consumes("intake", "case_registered")
    def on_case_registered(self, event: dict) -> bool:
        return self._project(event, "已计入月度统计（reporting）")

    @consumes("intake", "ratings_received")
    def on_ratings_received(self, event: dict) -> bool:
        return self._project(event)

    @consumes("intake", "suggestion_recorded")
    def on_suggestion_recorded(self, event: dict) -> bool:
        return self._project(event)

    @consumes("intake", "return_visit_recorded")
    def on_return_visit_recorded(self, event: dict) -> bool:
        return self._project(event)

    # -- coordination ------------------------------------------------------------------------

    @consumes("coordination", "case_classified")
    def on_case_classified(self, event: dict) -> bool:
        return self._project(event)

    @consumes("coordination", "case_state_changed")
    def on_case_state_changed(self, event: dict) -> bool:
        return self._project(event)

    @consumes("coordination", "case_replied")
    def on_case_replied(self, event: dict) -> bool:
        return self._project(event)

    @consumes("coordination", "case_resolved")
    def on_case_resolved(self, event: dict) -> bool:
        return self._project(event)

    @consumes("coordination", "explanation_given")
    def on_explanation_given(self, event: dict) -> bool:
        return self._project(event)

    @consumes("coordination", "deadline_set")
    def on_deadline_set(self, event: dict) -> bool:
        return self._project(event)

    @consumes("coordination", "deadline_paused")
    def on_deadline_paused(self, event: dict) -> bool:
        return self._project(event)

    @consumes("coordination", "deadline_resumed")
    def on_deadline_resumed(self, event: dict) -> bool:
        return self._project(event)

    @consumes("coordination", "deadline_warning")
    def on_deadline_warning(self, event: dict) -> bool:
        return self._project(event)

    @consumes("coordination", "deadline_breached")
    def on_deadline_breached(self, event: dict) -> bool:
        return self._project(event)

    @consumes("coordination", "joint_meeting_convened")
    def on_joint_meeting_convened(self, event: dict) -> bool:
        return self._project(event)

    @consumes("coordination", "joint_meeting_minuted")
    def on_joint_meeting_minuted(self, event: dict) -> bool:
        return self._project(event)

    # -- accountability ----------------------------------------------------------------------

    @consumes("accountability", "finding_recorded")
    def on_finding_recorded(self, event: dict) -> bool:
        return self._project(event)

    # -- reading -----------------------------------------------------------------------------

    @rpc
    def case_timeline(self, case_no: str) -> list[dict]:
        with self.db.transaction() as cur:
            return timeline.entries(cur, SCHEMA, case_no)

    @rpc(expected_exceptions=BanchengError)
    def monthly_summary(self, month: str, site: str | None = None) -> dict:
        """The month's summary, read from the monthly counters only (never the cases)."""
        first_day = domain.parse_month(month)
        with self.db.transaction() as cur:
            rows = store.monthly_counts(cur, first_day, site)
            previous = store.monthly_counts(cur, domain.previous_month(first_day), site)
        return domain.monthly_summary(first_day, site, rows, previous)

    @rpc(expected_exceptions=BanchengError)
    def ledger_batch(
        self,
        date_from: str,
        date_to: str,
        site: str | None = None,
        after: list | None = None,
        limit: int = 2000,
    ) -> list[dict]:
        """One batch of the ledger (台账) after the key ``after`` = [received_at, case_no]."""
        start = domain.parse_day(date_from, "from")
        end = domain.parse_day(date_to, "to")
        if end < start:
            raise InvalidField("结束日期早于开始日期", "to")
        limit = max(1, min(int(limit), MAX_LEDGER_BATCH))
        with self.db.transaction() as cur:
            rows = store.ledger_batch(cur, start, end, site, after, limit)
        return [_plain(row) for row in rows]
