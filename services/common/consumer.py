"""Consuming events: at-least-once delivery made harmless, poison events dead-lettered.

nameko acknowledges an event only after the handler returned, so a handler that commits and
then returns acknowledges after its commit. When the handler fails (the database is down,
say) the event goes back to the queue and is tried again after a pause; when it succeeds
twice (a redelivery) :meth:`Database.handling_once` turns the second time into a no-op.

Two kinds of event would loop forever and end in the service's dead-letter queue instead
(:mod:`services.common.event_queues` has the queues and their arguments):

* a message that cannot be handled at all — not JSON, not an envelope, or data that does not
  validate (:func:`services.common.event_schemas.problem`) — is rejected before any handler
  runs, and RabbitMQ dead-letters it at once;
* an event whose handler keeps failing (a bug) is returned after each failure until its
  quorum queue has delivered it more than ``EVENT_DELIVERY_LIMIT`` times; RabbitMQ then
  dead-letters it.

A third kind is never handled: an event that does not carry a valid signature of its source
service (:mod:`services.common.signing`; reason ``unsigned`` or ``bad_signature``) — a forged
event published by anyone else who can reach the broker. It is dead-lettered like an
invalid one.

All are logged, counted in ``bancheng_events_dead_lettered_total``, and every process
reports its service's dead-letter queue depth (``bancheng_dead_letter_queue_messages``).
"""

import functools
import logging
import time

import eventlet
from kombu import Connection, Exchange, Queue
from nameko.events import EventHandler
from nameko.extensions import SharedExtension
from nameko.messaging import QueueConsumer
from prometheus_client import Counter, Gauge, Histogram

from services.common import event_queues, signing
from services.common.config import service_setting
from services.common.event_schemas import problem
from services.common.outbox import SIGNATURE_HEADER
from services.common.rpc import BROKER_ERRORS
from services.common.secrets import DevelopmentSecretError, demo_mode

log = logging.getLogger(__name__)

RETRY_PAUSE_SECONDS = 1.0
DEAD_LETTER_WATCH_SECONDS = 15.0
DEAD_LETTER_REASONS = ("invalid", "unsigned", "bad_signature", "delivery_limit")

EVENTS_HANDLED = Counter(
    "bancheng_events_handled_total",
    "Events consumed, by outcome (handled, duplicate ignored, failed)",
    ["service", "event_type", "outcome"],
)
EVENT_HANDLER_SECONDS = Histogram(
    "bancheng_event_handler_seconds", "Time spent handling one event", ["service", "event_type"]
)
EVENTS_DEAD_LETTERED = Counter(
    "bancheng_events_dead_lettered_total",
    "Events sent to the dead-letter queue: invalid (rejected unhandled), unsigned or "
    "bad_signature (not signed by their source service) or delivery_limit (the handler "
    "failed on every delivery)",
    ["service", "event_type", "reason"],
)
DEAD_LETTERS_WAITING = Gauge(
    "bancheng_dead_letter_queue_messages",
    "Messages waiting in the service's dead-letter queue (dlq-<service>)",
    ["service"],
)


def consumes(source_service: str, event_type: str):
    """Decorate a service method as a durable, shared, requeue-on-error event handler.

    The method receives the envelope — already validated against its type's data fields —
    and returns True when it applied the event, False when it was a duplicate.
    """

    def decorator(method):
        @functools.wraps(method)
        def handle(self, event):
            service = self.name
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

        return EventConsumer.decorator(source_service, event_type, requeue_on_error=True)(handle)

    return decorator


def consumer_of(source_service: str, event_type: str, apply):
    """A :func:`consumes` handler of ``source_service``'s ``event_type`` that hands the event
    to ``apply(service, event)`` (True: applied, False: a duplicate), for services whose
    consumers all do the same. Put it on the class as ``on_<event_type>``: the attribute's
    name is part of the queue's."""

    def handle(self, event: dict) -> bool:
        return apply(self, event)

    handle.__name__ = handle.__qualname__ = f"on_{event_type}"
    return consumes(source_service, event_type)(handle)


class DeadLetteringQueueConsumer(QueueConsumer):
    """nameko's queue consumer for event handlers (a connection of their own).

    On every (re)connection it declares the service's dead-letter exchange and queue, and it
    rejects a message kombu cannot decode (nameko's own consumer would die of it).
    """

    def get_consumers(self, consumer_cls, channel):
        service = self.container.service_name
        dead_letters = Exchange(event_queues.DEAD_LETTER_EXCHANGE, type="direct", durable=True)
        Queue(
            event_queues.dead_letter_queue(service),
            exchange=dead_letters,
            routing_key=service,
            durable=True,
            queue_arguments=event_queues.DEAD_LETTER_QUEUE_ARGUMENTS,
        )(channel).declare()
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = functools.partial(self._undecodable, provider)
        return consumers

    @staticmethod
    def _undecodable(provider, message, error):
        provider.dead_letter(message, f"not decodable as JSON ({type(error).__name__})")

    def reject_message(self, message):
        """Reject without requeue, so the broker dead-letters it (if the channel is alive)."""
        if message.channel.connection:
            try:
                message.reject(requeue=False)
            except BROKER_ERRORS as error:
                # the broker redelivers it on the next connection, and it is rejected again
                log.warning("could not reject a message (%s)", error)


class DeadLetterWatch(SharedExtension):
    """Reports the depth of the service's dead-letter queue as a gauge, every few seconds."""

    def setup(self):
        config = self.container.config
        self.service = self.container.service_name
        self.amqp_uri = config["AMQP_URI"]
        self.interval = float(
            service_setting(config, "DEAD_LETTER_WATCH_SECONDS", DEAD_LETTER_WATCH_SECONDS)
        )
        self._connection = None

    def start(self):
        self._thread = self.container.spawn_managed_thread(self._watch)

    def stop(self):
        if getattr(self, "_thread", None) is not None:
            self._thread.kill()
        self._close()

    def kill(self):
        self.stop()

    def _watch(self):
        queue = event_queues.dead_letter_queue(self.service)
        while True:
            try:
                if self._connection is None:
                    self._connection = Connection(
                        self.amqp_uri, connect_timeout=5, transport_options={"max_retries": 1}
                    )
                declared = self._connection.default_channel.queue_declare(queue, passive=True)
                DEAD_LETTERS_WAITING.labels(self.service).set(declared.message_count)
            except Exception as error:  # the broker is away or the queue not declared yet
                log.debug("dead-letter depth of %s unknown: %s", self.service, error)
                self._close()
            eventlet.sleep(self.interval)

    def _close(self):
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:  # closing a dead connection
                pass
            self._connection = None


class EventConsumer(EventHandler):
    """nameko's event handler on a quorum queue that dead-letters poison events."""

    queue_consumer = DeadLetteringQueueConsumer()
    dead_letter_watch = DeadLetterWatch()

    def setup(self):
        super().setup()
        service = self.container.service_name
        self.delivery_limit = event_queues.delivery_limit(self.container.config)
        queue = event_queues.EventQueue(
            service, self.method_name, self.source_service, self.event_type
        )
        # nameko's classic queue (built by super().setup) is replaced before anything declares
        # it: the queue consumer reads self.queue only when it connects
        self.queue = Queue(
            queue.name,
            exchange=self.queue.exchange,
            routing_key=self.event_type,
            durable=True,
            auto_delete=False,
            exclusive=False,
            queue_arguments=event_queues.queue_arguments(service, self.delivery_limit),
        )
        self.public_keys = signing.event_public_keys(self.container.config)
        if self.source_service not in self.public_keys:
            if not demo_mode(self.container.config):
                # every event would be dead-lettered: refuse to start instead
                raise DevelopmentSecretError(
                    f"EVENT_PUBLIC_KEYS has no key of {self.source_service!r}, whose events "
                    f"{service} consumes: list it as {self.source_service}:<public key>"
                )
            demo_key = signing.demo_event_key(self.source_service)
            self.public_keys[self.source_service] = demo_key.public_key()
        for reason in DEAD_LETTER_REASONS:  # at zero from the start, so increase() sees a change
            EVENTS_DEAD_LETTERED.labels(service, self.event_type, reason)

    def handle_message(self, body, message):
        reason = problem(body, self.source_service, self.event_type)
        if reason is not None:
            self.dead_letter(message, reason)
            return
        signature = (message.headers or {}).get(SIGNATURE_HEADER)
        try:
            signing.verify_event(self.public_keys, self.source_service, body, signature)
        except signing.BadEventSignature as refusal:
            self.dead_letter(message, str(refusal), refusal.reason)
            return
        super().handle_message(body, message)

    def dead_letter(self, message, reason: str, kind: str = "invalid"):
        """Send ``message`` to the dead-letter queue without handling it; ``kind`` is the
        counter's reason (invalid, unsigned, bad_signature)."""
        service = self.container.service_name
        EVENTS_DEAD_LETTERED.labels(service, self.event_type, kind).inc()
        log.error(
            "%s dead-lettered a %s message it cannot handle: %s", service, self.event_type, reason
        )
        self.queue_consumer.reject_message(message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        deliveries = message.headers.get("x-delivery-count") or 0
        if exc_info is not None and deliveries >= self.delivery_limit:
            service = self.container.service_name
            EVENTS_DEAD_LETTERED.labels(service, self.event_type, "delivery_limit").inc()
            log.error(
                "%s failed on a %s event %d times: RabbitMQ dead-letters it to %s",
                service,
                self.event_type,
                deliveries + 1,
                event_queues.dead_letter_queue(service),
            )
        super().handle_message_processed(message, result, exc_info)
