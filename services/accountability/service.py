"""Accountability: first responsibility, investigations, sanctions, department scores and the
audit trail (entrypoints only; the use cases are in ``handlers``)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from services.accountability import audit, domain, handlers, store
from services.accountability.rules import RulesProvider
from services.common import timeline
from services.common.config import service_setting
from services.common.consumer import consumes
from services.common.errors import BanchengError, Forbidden, InvalidField
from services.common.outbox import OutboxRelay
from services.common.postgres import DatabaseProvider
from services.common.rpc import rpc
from services.common.web import EntrypointMetrics, Observable

SCHEMA = handlers.SCHEMA
READS_ANY_RECORD = frozenset({"supervisor", "officer", "bureau"})


def _consumer(source: str, event_type: str):
    """An idempotent handler of ``source``'s ``event_type`` that hands it to ``handlers``."""

    @consumes(source, event_type)
    def handle(self, event: dict) -> bool:
        with self.db.handling_once(SCHEMA, event) as cur:
            if cur is None:
                return False
            handlers.consume(cur, source, event, self.rules, self._tz)
            return True

    handle.__name__ = f"on_{event_type}"
    return handle


def _page(limit, cursor) -> tuple[int, int | None]:
    try:
        size = max(1, min(int(limit or 50), 500))
        after = int(cursor) if cursor not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise InvalidField("limit 与 cursor 应为整数", "cursor") from exc
    return size, after


class AccountabilityService(Observable):
    name = "accountability"

    db = DatabaseProvider(relay=OutboxRelay(SCHEMA))
    rules = RulesProvider()
    entrypoint_metrics = EntrypointMetrics()

    @property
    def _tz(self):
        return ZoneInfo(service_setting(self.config, "TIMEZONE", "Asia/Shanghai"))

    # -- events ------------------------------------------------------------------------------

    on_case_registered = _consumer("intake", "case_registered")
    on_case_helper_added = _consumer("intake", "case_helper_added")
    on_return_visit_recorded = _consumer("intake", "return_visit_recorded")
    on_case_classified = _consumer("coordination", "case_classified")
    on_case_state_changed = _consumer("coordination", "case_state_changed")
    on_explanation_given = _consumer("coordination", "explanation_given")
    on_measure_added = _consumer("coordination", "measure_added")
    on_measure_response_recorded = _consumer("coordination", "measure_response_recorded")
    on_deadline_paused = _consumer("coordination", "deadline_paused")
    on_deadline_resumed = _consumer("coordination", "deadline_resumed")
    on_deadline_breached = _consumer("coordination", "deadline_breached")
    on_joint_meeting_convened = _consumer("coordination", "joint_meeting_convened")
    on_joint_meeting_minuted = _consumer("coordination", "joint_meeting_minuted")
    on_department_absent = _consumer("coordination", "department_absent")
    on_assignment_not_delivered = _consumer("coordination", "assignment_not_delivered")
    on_case_replied = _consumer("coordination", "case_replied")
    on_case_resolved = _consumer("coordination", "case_resolved")
    on_practice_promoted = _consumer("coordination", "practice_promoted")

    # -- reading -----------------------------------------------------------------------------

    @rpc
    def case_timeline(self, case_no: str) -> list[dict]:
        with self.db.transaction() as cur:
            return timeline.entries(cur, SCHEMA, case_no)

    @rpc(expected_exceptions=BanchengError)
    def staff_record(self, staff_id: str, actor: dict | None = None) -> dict:
        if actor is not None and actor["role"] not in READS_ANY_RECORD and actor["id"] != staff_id:
            raise Forbidden("窗口工作人员只能查看本人的记录")
        with self.db.transaction() as cur:
            return handlers.staff_record(cur, self.rules, staff_id)

    @rpc(expected_exceptions=BanchengError)
    def investigations(self, status=None, limit=None, cursor=None) -> dict:
        if status not in (None, "", "open", "closed"):
            raise InvalidField("status 应为 open 或 closed", "status")
        size, after = _page(limit, cursor)
        with self.db.transaction() as cur:
            items = store.investigations(cur, status or None, size, after)
        return {"items": items, "next_cursor": str(items[-1]["id"]) if len(items) == size else None}

    @rpc(expected_exceptions=BanchengError)
    def department_scores(self, year, departments: list[dict]) -> dict:
        year = handlers.check_year(year)
        with self.db.transaction() as cur:
            deductions = store.deductions(cur, year)
        base = self.rules.points.base_score
        return {
            "year": year,
            "base_score": base,
            "points": dict(self.rules.points.points),
            "items": domain.department_scores(departments, deductions, base),
        }

    @rpc(expected_exceptions=BanchengError)
    def audit_entries(self, case_no=None, limit=None, cursor=None) -> dict:
        size, after = _page(limit, cursor)
        with self.db.transaction() as cur:
            rows = store.audit_entries(cur, case_no or None, size, after)
        return {
            "items": [audit.view(row) for row in rows],
            "next_cursor": str(rows[-1]["seq"]) if len(rows) == size else None,
        }

    # -- decisions ---------------------------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    def record_finding(self, investigation_id: int, payload: dict, actor: dict) -> dict:
        with self.db.transaction() as cur:
            return handlers.record_finding(
                cur, self.rules, int(investigation_id), payload, actor, self._now(), self._tz
            )

    @rpc(expected_exceptions=BanchengError)
    def confirm_sanction(self, sanction_id: int, actor: dict) -> dict:
        with self.db.transaction() as cur:
            return handlers.confirm_sanction(cur, int(sanction_id), actor, self._now())

    @rpc(expected_exceptions=BanchengError)
    def file_appeal(self, finding_id: int, payload: dict, actor: dict) -> dict:
        with self.db.transaction() as cur:
            return handlers.file_appeal(cur, int(finding_id), payload, actor, self._now())

    @rpc(expected_exceptions=BanchengError)
    def decide_appeal(self, appeal_id: int, payload: dict, actor: dict) -> dict:
        with self.db.transaction() as cur:
            return handlers.decide_appeal(
                cur, self.rules, int(appeal_id), payload, actor, self._now()
            )

    @rpc(expected_exceptions=BanchengError)
    def withdraw_deduction(self, deduction_id: int, payload: dict, actor: dict) -> dict:
        with self.db.transaction() as cur:
            return handlers.withdraw_deduction(cur, int(deduction_id), payload, actor, self._now())

    def _now(self) -> datetime:
        return datetime.now(UTC).astimezone(self._tz)
