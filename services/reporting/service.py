"""Reporting: read models from everyone's events, the monthly summary, Prometheus (entrypoints
only; the use cases are in ``handlers``)."""

from services.common.consumer import consumer_of
from services.common.errors import BanchengError
from services.common.outbox import OutboxRelay
from services.common.rpc import rpc
from services.common.unit_of_work import UnitOfWorkProvider
from services.common.web import EntrypointMetrics, Observable
from services.reporting import handlers, store
from services.reporting.metrics import DeadlineMetrics

SCHEMA = store.SCHEMA


def _projector(source: str, event_type: str):
    """The consumer of ``source``'s ``event_type``: every one projects the same way."""
    return consumer_of(
        source, event_type, lambda service, event: handlers.project_event(service.uow, event)
    )


def _plain(row: dict) -> dict:
    """Times as ISO 8601 strings with their offset (what the gateway writes out)."""
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in row.items()
    }


class ReportingService(Observable):
    name = "reporting"

    uow = UnitOfWorkProvider(schema=SCHEMA, store_module=store, relay=OutboxRelay(SCHEMA))
    entrypoint_metrics = EntrypointMetrics()
    deadline_metrics = DeadlineMetrics()

    # -- events (domain.PROJECTED_EVENTS) ----------------------------------------------------

    on_case_registered = _projector("intake", "case_registered")
    on_cases_registered = _projector("intake", "cases_registered")  # a batch's: domain.parts
    on_ratings_received = _projector("intake", "ratings_received")
    on_suggestion_recorded = _projector("intake", "suggestion_recorded")
    on_return_visit_recorded = _projector("intake", "return_visit_recorded")
    on_case_classified = _projector("coordination", "case_classified")
    on_case_state_changed = _projector("coordination", "case_state_changed")
    on_case_replied = _projector("coordination", "case_replied")
    on_case_resolved = _projector("coordination", "case_resolved")
    on_explanation_given = _projector("coordination", "explanation_given")
    on_deadline_set = _projector("coordination", "deadline_set")
    on_deadline_paused = _projector("coordination", "deadline_paused")
    on_deadline_resumed = _projector("coordination", "deadline_resumed")
    on_deadline_warning = _projector("coordination", "deadline_warning")
    on_deadline_breached = _projector("coordination", "deadline_breached")
    on_joint_meeting_convened = _projector("coordination", "joint_meeting_convened")
    on_joint_meeting_minuted = _projector("coordination", "joint_meeting_minuted")
    on_practice_promoted = _projector("coordination", "practice_promoted")
    on_finding_recorded = _projector("accountability", "finding_recorded")
    # the 差评 loop (domain.BAD_RATING_EVENTS)
    on_bad_rating_verified = _projector("coordination", "bad_rating_verified")
    on_bad_rating_appealed = _projector("coordination", "bad_rating_appealed")
    on_bad_rating_appeal_decided = _projector("coordination", "bad_rating_appeal_decided")
    on_bad_rating_rectified = _projector("coordination", "bad_rating_rectified")
    on_bad_rating_answered = _projector("coordination", "bad_rating_answered")
    on_bad_rating_re_rated = _projector("coordination", "bad_rating_re_rated")

    # -- reading -----------------------------------------------------------------------------

    @rpc
    def case_timeline(self, case_no: str) -> list[dict]:
        return handlers.case_timeline(self.uow, case_no)

    @rpc(expected_exceptions=BanchengError)
    def monthly_summary(self, month: str, site: str | None = None) -> dict:
        return handlers.monthly_summary(self.uow, month, site)

    @rpc
    def similar_cases(
        self,
        text: str | None,
        matter: str | None = None,
        viewer_site: str | None = None,
        exclude: str | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """Precedents like ``text`` (same matter first), as a viewer of ``viewer_site`` (None:
        every site) may see them; ``exclude``: the case being looked at."""
        return handlers.similar_cases(self.uow, text, matter, viewer_site, exclude, limit)

    @rpc(expected_exceptions=BanchengError)
    def monthly_trend(self, month: str, site: str | None = None) -> list[dict]:
        return handlers.monthly_trend(self.uow, month, site)

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
        rows = handlers.ledger_batch(self.uow, date_from, date_to, site, after, limit)
        return [_plain(row) for row in rows]
