"""Coordination: classification, each type's flow, deadlines and joint meetings (entrypoints
only: each calls one use case in ``handlers``; the rules are in ``domain``, the SQL in
``store``, what each decision announces in ``events``)."""

import os

from nameko.timer import timer

from services.common.consumer import consumes
from services.common.errors import BanchengError
from services.common.outbox import OutboxRelay
from services.common.rpc import ServiceRpc, rpc
from services.common.unit_of_work import UnitOfWorkProvider
from services.common.web import EntrypointMetrics, Observable
from services.coordination import bad_ratings, handlers, handover, refusal_review, store
from services.coordination.clock import Calendar, DeadlineRules

SCHEMA = store.SCHEMA
# How often the clock looks for warnings and breaches, and for new calendar year files.
SCAN_SECONDS = float(os.environ.get("DEADLINE_SCAN_SECONDS", "2"))
CALENDAR_CHECK_SECONDS = float(os.environ.get("CALENDAR_CHECK_SECONDS", "30"))
# Fetching a hand-over from intake stays well inside the caller's own RPC deadline.
HANDOVER_TIMEOUT_SECONDS = float(os.environ.get("HANDOVER_TIMEOUT_SECONDS", "2"))


def _case_step(use_case, *, rules: bool = False):
    """The RPC ``(case_no, payload, actor)`` taking ``use_case``'s step on a case (with the
    deadline rules where it counts days); a case not handed over yet is fetched from intake
    and the step runs once more."""

    @handover.reads_own_writes
    def step(self, case_no: str, payload: dict, actor: dict) -> dict:
        context = (self.rules,) if rules else ()
        return use_case(self.uow, *context, case_no, payload, actor)

    step.__name__, step.__doc__ = use_case.__name__, use_case.__doc__
    return rpc(expected_exceptions=BanchengError)(step)


def _deadline_step(use_case, *, rules: bool = False):
    """The RPC ``(case_no, deadline_id, payload, actor)`` pausing or resuming a deadline (with
    the deadline rules where it counts days)."""

    @handover.reads_own_writes
    def step(self, case_no: str, deadline_id: int, payload: dict, actor: dict) -> dict:
        context = (self.rules,) if rules else ()
        return use_case(self.uow, *context, case_no, deadline_id, payload, actor)

    step.__name__, step.__doc__ = use_case.__name__, use_case.__doc__
    return rpc(expected_exceptions=BanchengError)(step)


class CoordinationService(Observable):
    name = "coordination"

    uow = UnitOfWorkProvider(schema=SCHEMA, store_module=store, relay=OutboxRelay(SCHEMA))
    rules = DeadlineRules()
    calendar = Calendar()  # for the entrypoints that reload it
    entrypoint_metrics = EntrypointMetrics()
    intake = ServiceRpc("intake", timeout=HANDOVER_TIMEOUT_SECONDS)  # see handover.py

    # -- events from intake ---------------------------------------------------------------

    @consumes("intake", "case_registered")
    def on_case_registered(self, event: dict) -> bool:
        return handover.open_case(self.uow, event)

    @consumes("intake", "cases_registered")  # a ratings batch's cases, in one event
    def on_cases_registered(self, event: dict) -> bool:
        return handover.open_case(self.uow, event)

    @consumes("intake", "return_visit_recorded")
    @handover.reads_own_writes  # a return visit recorded right after the registration
    def on_return_visit_recorded(self, event: dict) -> bool:
        return handlers.record_return_visit(self.uow, event)

    # -- the case's flow ------------------------------------------------------------------

    classify_case = _case_step(handlers.classify_case, rules=True)
    explain = _case_step(handlers.explain)
    add_measure = _case_step(handlers.add_measure)
    reply = _case_step(handlers.reply, rules=True)
    resolve = _case_step(handlers.resolve)
    close = _case_step(handlers.close)
    archive = _case_step(handlers.archive)
    reopen = _case_step(handlers.reopen, rules=True)
    review_refusal = _case_step(refusal_review.review, rules=True)
    pause_deadline = _deadline_step(handlers.pause_deadline)
    resume_deadline = _deadline_step(handlers.resume_deadline, rules=True)

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def record_measure_response(self, case_no: str, measure_id, payload: dict, actor: dict):
        return handlers.record_measure_response(
            self.uow, self.rules, case_no, measure_id, payload, actor
        )

    # -- the 差评 loop of a case a bad rating opened (bad_ratings) ----------------------------

    verify_bad_rating = _case_step(bad_ratings.verify, rules=True)
    appeal_bad_rating = _case_step(bad_ratings.appeal, rules=True)
    decide_bad_rating_appeal = _case_step(bad_ratings.decide_appeal, rules=True)
    rectify_bad_rating = _case_step(bad_ratings.rectify, rules=True)
    answer_bad_rating = _case_step(bad_ratings.answer, rules=True)
    re_rate_bad_rating = _case_step(bad_ratings.re_rate, rules=True)

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def bad_rating(self, case_no: str) -> dict | None:
        """The case's 差评 loop (None: no bad rating opened the case)."""
        return bad_ratings.bad_rating(self.uow, self.rules, case_no)

    # -- joint meetings -------------------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def convene_meeting(self, payload: dict, actor: dict) -> dict:
        return handlers.convene_meeting(self.uow, self.rules, payload, actor)

    @rpc(expected_exceptions=BanchengError)
    def record_minutes(self, meeting_id, payload: dict, actor: dict) -> dict:
        return handlers.record_minutes(self.uow, self.rules, meeting_id, payload, actor)

    @rpc(expected_exceptions=BanchengError)
    def deliver_assignment(self, meeting_id, deadline_id, actor: dict) -> dict:
        return handlers.deliver_assignment(self.uow, meeting_id, deadline_id, actor)

    @rpc(expected_exceptions=BanchengError)
    def list_meetings(self, filters: dict, actor: dict) -> list[dict]:
        return handlers.list_meetings(self.uow, filters, actor)

    @rpc(expected_exceptions=BanchengError)
    def get_meeting(self, meeting_id, actor: dict) -> dict:
        return handlers.get_meeting(self.uow, meeting_id, actor)

    # -- reading --------------------------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    def refusals(self, filters: dict) -> list[dict]:
        return handlers.refusals(self.uow, filters)

    @rpc(expected_exceptions=BanchengError)
    def refusal_report(self, month: str, filters: dict) -> dict:
        return refusal_review.report(self.uow, self.rules, month, filters)

    @rpc
    def case_deadlines(self, case_no: str) -> list[dict]:
        return handlers.case_deadlines(self.uow, self.rules, case_no)

    @rpc(expected_exceptions=BanchengError)
    def deadlines_of_cases(self, case_nos: list[str]) -> dict[str, list[dict]]:
        return handlers.deadlines_of_cases(self.uow, self.rules, case_nos)

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def case_summary(self, case_no: str) -> dict:
        return handlers.case_summary(self.uow, case_no)

    @rpc
    def case_timeline(self, case_no: str) -> list[dict]:
        return handlers.case_timeline(self.uow, case_no)

    # -- standard practices ---------------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def promote_practice(self, payload: dict, actor: dict) -> dict:
        return handlers.promote_practice(self.uow, payload, actor)

    @rpc
    def practices_for(self, matter: str) -> list[dict]:
        return handlers.practices_for(self.uow, matter)

    @rpc(expected_exceptions=BanchengError)
    def list_practices(self, filters: dict) -> list[dict]:
        return handlers.list_practices(self.uow, filters)

    # -- the deadline clock and its calendar ----------------------------------------------

    @timer(interval=SCAN_SECONDS)
    def deadline_clock(self) -> None:
        handlers.scan_deadlines(self.uow)

    @rpc
    def scan_deadlines(self) -> dict:
        return handlers.scan_deadlines(self.uow)

    @timer(interval=CALENDAR_CHECK_SECONDS)
    def calendar_check(self) -> None:
        reloaded = self.calendar.reload_if_changed()
        handlers.calendar_checked(self.uow, self.rules, reloaded=reloaded)

    @rpc(expected_exceptions=BanchengError)
    def reload_calendar(self) -> dict:
        """Re-read the calendar year files now and recompute every provisional deadline."""
        years = self.calendar.reload()
        recomputed = handlers.recompute_provisional(self.uow, self.rules)
        return {"year_files": years, "recomputed": recomputed}
