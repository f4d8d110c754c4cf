"""Transactional outbox: events are written with the state change, then relayed to RabbitMQ.

A service writes its event rows in the same transaction as its own tables (:func:`add_event`).
The relay publishes unsent rows with publisher confirms and persistent delivery, and marks a
row sent only after the broker confirmed it; a crash in between publishes it again, which
consumers absorb because they record handled event ids. Several instances of a service may
relay from one table: ``FOR UPDATE SKIP LOCKED`` gives each row to one of them at a time.

Every event leaves signed by its source service (:mod:`services.common.signing`): the relay
puts the Ed25519 signature of the envelope's canonical JSON under
``EVENT_SIGNING_KEY_<SERVICE>`` in the ``bancheng-signature`` header, and consumers drop what
does not verify (:mod:`services.common.consumer`).
"""

import json
import logging
import time

import eventlet
from eventlet.event import Event
from nameko.amqp.publish import Publisher
from nameko.constants import PERSISTENT
from nameko.extensions import SharedExtension
from nameko.standalone.events import get_event_exchange
from prometheus_client import Counter, Gauge

from services.common import signing
from services.common.config import service_setting
from services.common.postgres import PostgresPool

log = logging.getLogger(__name__)

BATCH_SIZE = 200
BACKLOG_COUNT_SECONDS = 1.0

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
    cursor.execute(
        f"INSERT INTO {schema}.outbox ({OUTBOX_COLUMNS}) VALUES (%s, %s, %s)", outbox_row(event)
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
        self.publisher = Publisher(
            config["AMQP_URI"],
            use_confirms=True,
            delivery_mode=PERSISTENT,
            serializer="json",
            declare=[self.exchange],
        )

    def start(self):
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._run)

    def stop(self):
        self._running = False
        self.wake()
        self._thread.wait()

    def kill(self):
        self._running = False
        self.wake()

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
                        self.exchange,
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


def publish_pending(
    pool, schema: str, publisher, exchange, service_name: str, signing_key=None
) -> int:
    """Publish one batch of unsent events, each signed with ``signing_key`` (by default the
    service's demo key: tests), marking each sent after its confirm.

    Returns how many rows it published.
    """
    signing_key = signing_key or signing.demo_event_key(service_name)
    with pool.connection() as conn:
        with conn.transaction():
            rows = conn.execute(
                f"SELECT position, event_type, payload FROM {schema}.outbox "
                "WHERE published_at IS NULL ORDER BY position "
                f"LIMIT {BATCH_SIZE} FOR UPDATE SKIP LOCKED"
            ).fetchall()
            for row in rows:
                publisher.publish(
                    row["payload"],
                    exchange=exchange,
                    routing_key=row["event_type"],
                    message_id=row["payload"]["id"],
                    headers=signature_headers(signing_key, row["payload"]),
                )
                OUTBOX_PUBLISHED.labels(service_name, row["event_type"]).inc()
            if rows:
                conn.execute(
                    f"UPDATE {schema}.outbox SET published_at = now() WHERE position = ANY(%s)",
                    ([row["position"] for row in rows],),
                )
    return len(rows)


def outbox_backlog(pool, schema: str) -> int:
    """Events written but not yet confirmed (a partial index keeps this cheap)."""
    with pool.connection() as conn:
        return conn.execute(
            f"SELECT count(*) AS n FROM {schema}.outbox WHERE published_at IS NULL"
        ).fetchone()["n"]
