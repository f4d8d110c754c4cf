"""Accountability: first responsibility, investigations, sanctions, department scores and the
audit trail (entrypoints only: decode the arguments, call one use case in ``handlers``)."""

from nameko.timer import timer

from services.accountability import events, handlers
from services.accountability.dependencies import AuditedUnitOfWorkProvider, AuditTrailProvider
from services.accountability.rules import RulesProvider
from services.common.consumer import consumer_of
from services.common.errors import BanchengError
from services.common.outbox import OutboxRelay
from services.common.rpc import rpc
from services.common.web import EntrypointMetrics, Observable

SCHEMA = "accountability"
# how often the audit trail's head is looked at; the policy (AUDIT_CHECKPOINT_ENTRIES /
# _SECONDS) decides whether it is checkpointed
CHECKPOINT_LOOK_SECONDS = 5


def _consumer(source: str, event_type: str):
    """An idempotent handler of ``source``'s ``event_type`` that hands it to ``handlers``."""
    return consumer_of(
        source,
        event_type,
        lambda service, event: handlers.consume(service.uow, service.rules, source, event),
    )


def _consuming(table):
    """Give the service one consumer per (source, event type) of ``table``, named
    ``on_<event type>`` (the name is part of its queue's)."""

    def decorate(cls):
        for source, event_type in table:
            setattr(cls, f"on_{event_type}", _consumer(source, event_type))
        return cls

    return decorate


@_consuming(events.CONSUMED)
class AccountabilityService(Observable):
    name = "accountability"

    # every decision's event, timeline entry and (MAC'd) audit entry in one transaction
    uow = AuditedUnitOfWorkProvider(schema=SCHEMA, relay=OutboxRelay(SCHEMA))
    audit_trail = AuditTrailProvider()
    rules = RulesProvider()
    entrypoint_metrics = EntrypointMetrics()

    # -- reading -----------------------------------------------------------------------------

    @rpc
    def case_timeline(self, case_no: str) -> list[dict]:
        return handlers.case_timeline(self.uow, case_no)

    @rpc(expected_exceptions=BanchengError)
    def staff_record(self, staff_id: str, actor: dict | None = None) -> dict:
        return handlers.staff_record(self.uow, self.rules, staff_id, actor)

    @rpc(expected_exceptions=BanchengError)
    def investigations(self, status=None, limit=None, cursor=None) -> dict:
        return handlers.investigations(self.uow, status, limit, cursor)

    @rpc(expected_exceptions=BanchengError)
    def department_scores(self, year, departments: list[dict]) -> dict:
        return handlers.department_scores(self.uow, self.rules, year, departments)

    @rpc(expected_exceptions=BanchengError)
    def audit_entries(self, case_no=None, limit=None, cursor=None) -> dict:
        return handlers.audit_entries(self.uow, case_no, limit, cursor)

    # -- decisions ---------------------------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    def record_finding(self, investigation_id: int, payload: dict, actor: dict) -> dict:
        return handlers.record_finding(self.uow, self.rules, int(investigation_id), payload, actor)

    @rpc(expected_exceptions=BanchengError)
    def confirm_sanction(self, sanction_id: int, actor: dict) -> dict:
        return handlers.confirm_sanction(self.uow, self.rules, int(sanction_id), actor)

    @rpc(expected_exceptions=BanchengError)
    def reject_sanction(self, sanction_id: int, payload: dict, actor: dict) -> dict:
        return handlers.reject_sanction(self.uow, self.rules, int(sanction_id), payload, actor)

    @rpc(expected_exceptions=BanchengError)
    def file_appeal(self, finding_id: int, payload: dict, actor: dict) -> dict:
        return handlers.file_appeal(self.uow, self.rules, int(finding_id), payload, actor)

    @rpc(expected_exceptions=BanchengError)
    def decide_appeal(self, appeal_id: int, payload: dict, actor: dict) -> dict:
        return handlers.decide_appeal(self.uow, self.rules, int(appeal_id), payload, actor)

    @rpc(expected_exceptions=BanchengError)
    def withdraw_deduction(self, deduction_id: int, payload: dict, actor: dict) -> dict:
        return handlers.withdraw_deduction(self.uow, self.rules, int(deduction_id), payload, actor)

    # -- the audit trail's checkpoints ---------------------------------------------------------

    @timer(interval=CHECKPOINT_LOOK_SECONDS)
    def checkpoint_audit_trail(self) -> None:
        handlers.checkpoint_audit_trail(self.uow, self.audit_trail)
