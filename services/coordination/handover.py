"""The hand-over of a registered case from intake to coordination (转到协调), read-your-writes.

Coordination learns of a case from intake's ``case_registered`` event, a moment after intake
acknowledged the registration. A step taken on the case in that moment (classify it, show its
flow, convene a meeting on it) must not answer "not found": coordination then asks intake for
the event itself — intake keeps every event it wrote in its outbox, under the same id — and
applies it through :func:`open_case`, the consumer's own code, inside the handled-events
dedupe. Whichever comes first — that fetch, the delivery, another instance's fetch — opens the
case; the others find the event id already handled and change nothing. (Two at once: the
second insert of the event id waits on the first one's row, then finds it.)

A use case finds a missing case inside its unit of work and raises :class:`NotHandedOver`; the
:func:`reads_own_writes` decorator catches it after the transaction rolled back, so the RPC
to intake never runs while a database connection is held, fetches the hand-over and runs the
step again. A case intake does not know either stays a 404.
"""

import functools
import logging

from prometheus_client import Counter

from services.common.errors import BanchengError, NotFound
from services.coordination import events

log = logging.getLogger(__name__)

HANDOVERS_FETCHED = Counter(
    "bancheng_coordination_handovers_fetched_total",
    "Cases opened from intake's stored case_registered event because a step came before its "
    "delivery (the delivery that follows is ignored as a duplicate)",
)


class NotHandedOver(Exception):
    """Coordination has no record of ``case_nos`` (yet); ``error`` is what the caller sees
    when intake does not know them either."""

    def __init__(self, *case_nos: str, error: BanchengError | None = None):
        super().__init__(*case_nos)
        self.case_nos = case_nos
        self.error = error or NotFound(
            f"事项 {'、'.join(case_nos)} 不存在或尚未转到协调", "case_no"
        )


def open_case(uow, event: dict) -> bool:
    """Apply intake's ``case_registered`` — or ``cases_registered``, a batch's cases — once,
    in a unit of work; False when its id was already handled.

    The consumers and the fetch all come here: one dedupe, one way of opening a case.
    """
    with uow.handling_once(event) as work:
        if work is None:
            return False
        for registration in registered_cases(event):
            work.store.open_case(registration, events.case_opened_note())
        return True


def registered_cases(event: dict) -> list[dict]:
    """The ``case_registered`` data an intake event carries: its own, or each of a batch's."""
    if event["type"] == "cases_registered":
        return event["data"]["cases"]
    return [event["data"]]


def fetch_handover(uow, intake, case_nos) -> bool:
    """Open the cases of ``case_nos`` from intake's stored events; False when intake knows
    none of them. ``intake`` is a proxy with a deadline (a slow intake is a 503, not a hang)."""
    known = False
    for case_no in case_nos:
        event = intake.registration_event(case_no)
        if event is None:
            continue
        known = True
        if open_case(uow, event):
            HANDOVERS_FETCHED.inc()
            log.info(
                "case %s opened from intake's event %s before its delivery", case_no, event["id"]
            )
    return known


def reads_own_writes(method):
    """Decorate an entrypoint whose use case may raise :class:`NotHandedOver` (the service has
    ``uow`` and ``intake``): the hand-over is fetched from intake and the entrypoint runs once
    more (its first transaction was rolled back, so nothing of it was kept)."""

    @functools.wraps(method)
    def entrypoint(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except NotHandedOver as missing:
            if not fetch_handover(self.uow, self.intake, missing.case_nos):
                raise missing.error from None
        try:
            return method(self, *args, **kwargs)
        except NotHandedOver as missing:  # e.g. intake knew one case of a meeting, not another
            raise missing.error from None

    return entrypoint
