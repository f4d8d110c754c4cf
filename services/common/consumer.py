"""Consuming events: at-least-once delivery made harmless.

nameko acknowledges an event only after the handler returned, so a handler that commits and
then returns acknowledges after its commit. When the handler fails (the database is down,
say) the event goes back to the queue and is tried again after a pause; when it succeeds
twice (a redelivery) :meth:`Database.handling_once` turns the second time into a no-op.
"""

import functools
import logging
import time

import eventlet
from nameko.events import event_handler
from prometheus_client import Counter, Histogram

from services.common.events import is_envelope

log = logging.getLogger(__name__)

RETRY_PAUSE_SECONDS = 1.0

EVENTS_HANDLED = Counter(
    "bancheng_events_handled_total",
    "Events consumed, by outcome (handled, duplicate ignored, malformed dropped, failed)",
    ["service", "event_type", "outcome"],
)
EVENT_HANDLER_SECONDS = Histogram(
    "bancheng_event_handler_seconds", "Time spent handling one event", ["service", "event_type"]
)


def consumes(source_service: str, event_type: str):
    """Decorate a service method as a durable, shared, requeue-on-error event handler.

    The method receives the envelope and returns True when it applied the event, False when
    it was a duplicate. Malformed messages are logged and dropped instead of looping forever.
    """

    def decorator(method):
        @functools.wraps(method)
        def handle(self, event):
            service = self.name
            if not is_envelope(event):
                log.error("%s dropped a malformed %s message: %r", service, event_type, event)
                EVENTS_HANDLED.labels(service, event_type, "malformed").inc()
                return None
            started = time.perf_counter()
            try:
                applied = method(self, event)
            except Exception:
                EVENTS_HANDLED.labels(service, event_type, "failed").inc()
                log.exception("%s failed on event %s; it will be redelivered", service, event["id"])
                # a pause keeps a persistent failure from spinning the queue hot
                eventlet.sleep(RETRY_PAUSE_SECONDS)
                raise
            EVENT_HANDLER_SECONDS.labels(service, event_type).observe(time.perf_counter() - started)
            EVENTS_HANDLED.labels(service, event_type, "handled" if applied else "duplicate").inc()
            return applied

        return event_handler(source_service, event_type, requeue_on_error=True)(handle)

    return decorator
