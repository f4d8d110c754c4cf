"""Transactional outbox: events are written with the state change, then relayed to RabbitMQ.

A service writes its event rows in the same transaction as its own tables (:func:`add_event`).
The relay publishes unsent rows with publisher confirms and persistent delivery, and marks a
row sent only after the broker confirmed it; a crash in between publishes it again, which
consumers absorb because they record handled event ids. Several instances of a service may
relay from one table: ``FOR UPDATE SKIP LOCKED`` gives each row to one of them at a time.

Confirms are batched (:class:`BatchPublisher`): a round publishes all its rows on a channel in
confirm mode, then waits once until the broker has confirmed every one of them (RabbitMQ acks
by delivery tag, often many at once with ``multiple``), instead of a round trip per event.
A nack, a lost connection or confirms that do not all come within ``OUTBOX_CONFIRM_SECONDS``
fail the whole round: its rows stay unsent and go out again in a later round (the consumers
drop the copies that did arrive).

Every event leaves signed by its source service (:mod:`services.common.signing`): the relay
puts the Ed25519 signature of the envelope's canonical JSON under
``EVENT_SIGNING_KEY_<SERVICE>`` in the ``bancheng-signature`` header, and consumers drop what
does not verify (:mod:`services.common.consumer`).
"""

import json
import logging
import time

import eventlet
import kombu
from eventlet.event import Event
from nameko.constants import PERSISTENT
from nameko.extensions import SharedExtension
from nameko.standalone.events import get_event_exchange
from prometheus_client import Counter, Gauge

from services.common import signing
from services.common.config import service_setting
from services.common.postgres import Database, PostgresPool, defer, read_alone

log = logging.getLogger(__name__)

BATCH_SIZE = 200
BACKLOG_COUNT_SECONDS = 1.0
CONFIRM_SECONDS = 10.0

OUTBOX_BACKLOG = Gauge(
    "bancheng_outbox_backlog", "Events written but not yet confirmed by the broker", ["service"]
)
OUTBOX_PUBLISHED = Counter(
    "bancheng_outbox_published_total", "Events confirmed by the broker", ["service", "event_type"]
)
OUTBOX_FAILURES = Counter(
    "bancheng_outbox_publish_failures_total", "Relay rounds that failed to publish", ["service"]
)


OUTBOX_COLUMNS = "event_id, event_type, payload"
SIGNATURE_HEADER = "bancheng-signature"


def signature_headers(private_key, envelope: dict) -> dict:
    """The message headers that sign ``envelope`` with its source service's key."""
    return {SIGNATURE_HEADER: signing.sign_event(private_key, envelope)}


def signed_by(config: dict, source_service: str, envelope: dict) -> dict:
    """:func:`signature_headers` with ``source_service``'s key from ``config`` (tools, tests)."""
    return signature_headers(signing.event_signing_key(config, source_service), envelope)


def outbox_row(event: dict) -> tuple:
    """``event`` as its outbox row, in the order of :data:`OUTBOX_COLUMNS` (INSERT and COPY)."""
    return (event["id"], event["type"], json.dumps(event, ensure_ascii=False))


def add_event(cursor, schema: str, event: dict) -> None:
    """Store ``event`` in ``schema``'s outbox inside the caller's transaction."""
    # read only by the relay, after the commit: sent with the COMMIT
    defer(
        cursor,
        f"INSERT INTO {schema}.outbox ({OUTBOX_COLUMNS}) VALUES (%s, %s, %s)",
        outbox_row(event),
    )
    # The Database wrapper wakes the relay once this transaction commits.
    cursor.wrote_events = True


def add_events(cursor, schema: str, events: list[dict]) -> None:
    """Store many events (a batch's) in one COPY: the rows :func:`add_event` writes."""
    if not events:
        return
    with cursor.copy(f"COPY {schema}.outbox ({OUTBOX_COLUMNS}) FROM STDIN") as copy:
        for event in events:
            copy.write_row(outbox_row(event))
    cursor.wrote_events = True


class ConfirmsMissing(Exception):
    """The broker refused (nacked) a message of the round, or did not confirm all in time."""


class Confirms:
    """Which delivery tags of a confirm-mode channel the broker has not confirmed yet.

    Tags count the channel's publishes from 1; an ack or nack with ``multiple`` covers every
    tag up to its own. A nacked message was not taken: the round fails."""

    def __init__(self):
        self.last_tag = 0  # the tag of the channel's latest publish
        self.confirmed = set()
        self.confirmed_up_to = 0  # every tag <= this one is confirmed
        self.nacked = False

    def published(self) -> int:
        self.last_tag += 1
        return self.last_tag

    def ack(self, tag: int, multiple: bool = False) -> None:
        if multiple:
            self.confirmed_up_to = max(self.confirmed_up_to, tag)
        else:
            self.confirmed.add(tag)
        while self.confirmed_up_to + 1 in self.confirmed:
            self.confirmed_up_to += 1
        self.confirmed = {t for t in self.confirmed if t > self.confirmed_up_to}

    def nack(self, tag: int, multiple: bool = False) -> None:
        self.nacked = True

    def all_confirmed(self) -> bool:
        return self.confirmed_up_to >= self.last_tag


class BatchPublisher:
    """Publishes rounds of events to one exchange on a channel in confirm mode, waiting once
    per round for the broker's confirms (see the module docstring).

    The connection is opened on first use and dropped after any failure (the next round opens
    a new one), so a broker restart costs a failed round, not the relay."""

    def __init__(self, amqp_uri: str, exchange, confirm_seconds: float = CONFIRM_SECONDS):
        self.amqp_uri = amqp_uri
        self.exchange = exchange
        self.confirm_seconds = confirm_seconds
        self._connection = None

    def _open(self):
        connection = kombu.Connection(self.amqp_uri, connect_timeout=5)
        try:
            connection.connect()
            channel = connection.channel()
            self.exchange(channel).declare()
            channel.confirm_select()
            confirms = Confirms()
            channel.events["basic_ack"].add(confirms.ack)
            channel.events["basic_nack"].add(confirms.nack)
        except BaseException:
            connection.release()
            raise
        producer = kombu.Producer(channel, exchange=self.exchange, auto_declare=False)
        self._connection, self._producer, self._confirms = connection, producer, confirms

    def publish_all(self, messages) -> None:
        """Publish ``(body, routing_key, message_id, headers)`` items, persistent, and return
        once the broker confirmed all of them; else raise (nothing of the round counts)."""
        try:
            if self._connection is None:
                self._open()
            confirms = self._confirms
            for body, routing_key, message_id, headers in messages:
                self._producer.publish(
                    body,
                    routing_key=routing_key,
                    serializer="json",
                    delivery_mode=PERSISTENT,
                    message_id=message_id,
                    headers=headers,
                    retry=False,
                )
                confirms.published()
            deadline = time.monotonic() + self.confirm_seconds
            while not confirms.all_confirmed() and not confirms.nacked:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ConfirmsMissing(
                        f"the broker confirmed {confirms.confirmed_up_to} of "
                        f"{confirms.last_tag} messages within {self.confirm_seconds:g} s"
                    )
                try:
                    self._connection.drain_events(timeout=left)
                except TimeoutError:
                    continue
            if confirms.nacked:
                raise ConfirmsMissing("the broker refused (nacked) a message")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.release()
            except Exception:  # closing a dead connection
                pass


class OutboxRelay(SharedExtension):
    """Publishes a service's outbox to its nameko event exchange (``<service>.events``)."""

    pool = PostgresPool()

    def __init__(self, schema: str):
        self.schema = schema
        self._wakeup = Event()
        self._running = False

    @property
    def sharing_key(self):
        return (type(self), self.schema)

    def setup(self):
        config = self.container.config
        self.service_name = self.container.service_name
        self.poll_seconds = float(service_setting(config, "OUTBOX_POLL_SECONDS", 0.5))
        self.exchange = get_event_exchange(self.service_name, config)
        # refused outside demo mode when unset: the service does not start
        self.signing_key = signing.event_signing_key(config, self.service_name)
        self.publisher = BatchPublisher(
            config["AMQP_URI"],
            self.exchange,
            float(service_setting(config, "OUTBOX_CONFIRM_SECONDS", CONFIRM_SECONDS)),
        )

    def start(self):
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._run)

    def stop(self):
        self._running = False
        self.wake()
        self._thread.wait()
        self.publisher.close()

    def kill(self):
        self._running = False
        self.wake()
        self.publisher.close()

    def wake(self):
        """Ask the relay to look at the outbox now (called after a commit that wrote events)."""
        if not self._wakeup.ready():
            self._wakeup.send(True)

    def _run(self):
        failures = 0
        counted_at = 0.0
        while self._running:
            with eventlet.Timeout(self.poll_seconds, False):
                self._wakeup.wait()
            if self._wakeup.ready():
                self._wakeup.reset()
            try:
                # the backlog gauge at most once a second: off the path of every commit, yet
                # fresh under steady load, when a growing backlog matters most
                if time.monotonic() - counted_at >= BACKLOG_COUNT_SECONDS:
                    counted_at = time.monotonic()
                    OUTBOX_BACKLOG.labels(self.service_name).set(
                        outbox_backlog(self.pool.pool, self.schema)
                    )
                while (
                    self._running
                    and publish_pending(
                        self.pool.pool,
                        self.schema,
                        self.publisher,
                        self.service_name,
                        self.signing_key,
                    )
                    == BATCH_SIZE
                ):
                    pass
                failures = 0
            except Exception:
                failures += 1
                OUTBOX_FAILURES.labels(self.service_name).inc()
                log.exception("outbox relay of %s failed; retrying", self.schema)
                eventlet.sleep(min(30.0, 0.5 * 2**failures))


def publish_pending(pool, schema: str, publisher, service_name: str, signing_key=None) -> int:
    """Publish one batch of unsent events through ``publisher`` (a :class:`BatchPublisher`),
    each signed with ``signing_key`` (by default the service's demo key: tests), and mark them
    sent once the broker confirmed them all; when it did not, the rows stay unsent.

    Returns how many rows it published.
    """
    signing_key = signing_key or signing.demo_event_key(service_name)
    # two round trips: the SELECT with its BEGIN, the UPDATE with its COMMIT
    with Database(pool).transaction() as cursor:
        rows = cursor.execute(
            f"SELECT position, event_type, payload FROM {schema}.outbox "
            "WHERE published_at IS NULL ORDER BY position "
            f"LIMIT {BATCH_SIZE} FOR UPDATE SKIP LOCKED"
        ).fetchall()
        if not rows:
            return 0
        publisher.publish_all(
            (
                row["payload"],
                row["event_type"],
                row["payload"]["id"],
                signature_headers(signing_key, row["payload"]),
            )
            for row in rows
        )
        cursor.defer(
            f"UPDATE {schema}.outbox SET published_at = now() WHERE position = ANY(%s)",
            ([row["position"] for row in rows],),
        )
    for row in rows:
        OUTBOX_PUBLISHED.labels(service_name, row["event_type"]).inc()
    return len(rows)


def outbox_backlog(pool, schema: str) -> int:
    """Events written but not yet confirmed (a partial index keeps this cheap)."""
    return read_alone(
        pool, f"SELECT count(*) AS n FROM {schema}.outbox WHERE published_at IS NULL"
    )[0]["n"]
