"""Dead letters: list what waits in a service's dead-letter queue, and re-publish it after a fix.

Each dead letter is described from the message alone (:func:`describe`, pure): the event's
id, type and source, the queue it died in, why (``rejected``: the consumer found it invalid;
``delivery_limit``: its handler failed on every delivery), how many times, and since when.
For a rejected one the consumer's check is run again, so the list says what is wrong with it
(by field name — never a value) or that it would be accepted now.

:func:`republish` sends dead letters back to the queue they died in, through the default
exchange, so only the consumer that failed sees them again. That is safe whatever happened
meanwhile: consumers record handled event ids, so an event applied once is not applied again.
Reading uses ``basic.get`` without acknowledging; what is not re-published is returned to the
dead-letter queue when the channel closes.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import pika
import pika.exceptions

from services.common.event_queues import EventQueue, dead_letter_queue, pika_parameters
from services.common.event_schemas import problem

DEFAULT_LIST_LIMIT = 1000


@dataclass(frozen=True)
class DeadLetter:
    service: str
    id: str
    event_type: str | None
    source: str | None
    queue: str | None
    reason: str
    deaths: int
    first_death_at: datetime | None
    problem: str | None


def describe(service: str, properties, body: bytes) -> DeadLetter:
    """What a message from ``dlq-<service>`` is and why it died (pure)."""
    headers = getattr(properties, "headers", None) or {}
    deaths = [entry for entry in headers.get("x-death") or [] if isinstance(entry, dict)]
    latest = deaths[0] if deaths else {}  # RabbitMQ puts the latest death first
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        event = None
    envelope = event if isinstance(event, dict) else {}
    queue = _text(latest.get("queue"))
    reason = _text(latest.get("reason")) or _text(headers.get("x-first-death-reason")) or "?"
    expected = EventQueue.from_name(queue) if queue else None
    return DeadLetter(
        service=service,
        id=_text(envelope.get("id"))
        or _text(getattr(properties, "message_id", None))
        or _digest(body),
        event_type=_text(envelope.get("type")) or (expected.event_type if expected else None),
        source=_text(envelope.get("source_service")) or (expected.source if expected else None),
        queue=queue,
        reason=reason,
        deaths=sum(entry.get("count") or 1 for entry in deaths) or 1,
        first_death_at=min(
            (entry["time"] for entry in deaths if isinstance(entry.get("time"), datetime)),
            default=None,
        ),
        problem=_problem(reason, event, expected, body),
    )


def _problem(reason, event, expected: EventQueue | None, body: bytes) -> str | None:
    if reason == "delivery_limit":
        return "the handler failed on every delivery (see the service's log)"
    if expected is None:
        return None
    if event is None and body:
        return "not decodable as JSON"
    return problem(event, expected.source, expected.event_type) or "valid now"


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) and value else None


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body or b"").hexdigest()[:16]


def list_dead_letters(
    amqp_uri: str, services: list[str], limit: int = DEFAULT_LIST_LIMIT
) -> list[DeadLetter]:
    """The dead letters waiting for each of ``services`` (at most ``limit`` per service)."""
    letters = []
    connection = pika.BlockingConnection(pika_parameters(amqp_uri))
    try:
        for service in services:
            channel = _dead_letter_channel(connection, service)
            if channel is None:
                continue
            for _, properties, body in _take(channel, service, limit):
                letters.append(describe(service, properties, body))
            channel.close()  # returns every message taken
    finally:
        if connection.is_open:
            connection.close()
    return letters


def republish(
    amqp_uri: str, services: list[str], ids: set[str] | None = None
) -> tuple[list[DeadLetter], list[str]]:
    """Send dead letters back to the queue each died in: those with an id in ``ids``, or all.

    Returns the dead letters re-published and the ids asked for but not re-published (not
    found, or their queue is gone: they stay). Each leaves the dead-letter queue only after
    the broker confirmed its copy.
    """
    sent = []
    connection = pika.BlockingConnection(pika_parameters(amqp_uri))
    try:
        for service in services:
            channel = _dead_letter_channel(connection, service)
            if channel is None:
                continue
            channel.confirm_delivery()
            # only what waits now: an event failing again meanwhile comes back later, not here
            for method, properties, body in _take(channel, service, None):
                letter = describe(service, properties, body)
                if (ids is not None and letter.id not in ids) or letter.queue is None:
                    continue
                # the quorum queue counts deliveries afresh
                (properties.headers or {}).pop("x-delivery-count", None)
                try:
                    channel.basic_publish("", letter.queue, body, properties, mandatory=True)
                except pika.exceptions.UnroutableError:
                    continue  # its queue no longer exists: it stays a dead letter
                channel.basic_ack(method.delivery_tag)
                sent.append(letter)
            channel.close()
    finally:
        if connection.is_open:
            connection.close()
    found = {letter.id for letter in sent}
    return sent, sorted((ids or set()) - found)


def _dead_letter_channel(connection, service: str):
    """A channel on ``dlq-<service>``, or None when that queue was never declared."""
    channel = connection.channel()
    try:
        channel.queue_declare(dead_letter_queue(service), passive=True)
    except pika.exceptions.ChannelClosedByBroker as error:
        if error.reply_code == 404:
            return None
        raise
    return channel


def _take(channel, service: str, limit: int | None):
    """Get (without acknowledging) what waits in ``dlq-<service>`` now, up to ``limit``."""
    waiting = channel.queue_declare(dead_letter_queue(service), passive=True).method.message_count
    for _ in range(waiting if limit is None else min(waiting, limit)):
        method, properties, body = channel.basic_get(dead_letter_queue(service), auto_ack=False)
        if method is None:
            return
        yield method, properties, body
