"""The event queues and their dead-letter queues: names, arguments, and the migration to them.

Every event handler (:func:`services.common.consumer.consumes`) reads a **quorum** queue of
its own, ``evt-<source>-<type>--<service>.<method>.quorum``, bound to ``<source>.events`` with
the type as routing key. RabbitMQ counts the deliveries of each message there; one returned
more than ``EVENT_DELIVERY_LIMIT`` times (a handler that keeps failing), or rejected by the
consumer (data that cannot be handled), is dead-lettered through the direct exchange
``bancheng.dead-letters`` with the consuming service's name as routing key into that
service's quorum queue ``dlq-<service>``. Dead-lettering is ``at-least-once``: the source
queue keeps a dead letter until the dead-letter queue confirmed it (this needs the
``reject-publish`` overflow; no length limit is set, so publishers are never refused).

Earlier versions read classic queues named as nameko names them (the same without
``.quorum``); RabbitMQ refuses to redeclare a queue with other arguments, so the quorum
queues have new names and :func:`migrate` — run by ``python -m services.cli migrate``
before the services start — moves what waits in a legacy queue into its quorum queue and
deletes it. It also rebuilds a quorum queue whose arguments changed (a new delivery limit).
Neither loses a message: the new queue is bound before the old one is unbound, and a
message leaves the old queue only after the broker confirmed its copy. A message may be
copied twice if a migration is interrupted; consumers dedupe on the event id.

The RPC queues ``rpc-<service>`` are quorum queues too (:data:`RPC_QUEUE_ARGUMENTS`, declared by
:class:`services.common.rpc.QuorumRpcConsumer`), so a request waits on the district cluster's
surviving nodes when one stops; reply queues (``rpc.reply-*``, auto-delete) stay classic.
Unlike event queues they keep nameko's name: a request is transient and expires with its
caller's deadline (quorum queues honour per-message TTL since RabbitMQ 3.10), so there is
nothing worth moving. :func:`migrate_rpc_queues` (also run by ``python -m services.cli
migrate``) deletes a classic ``rpc-*`` queue left by an earlier version — it would make the
quorum redeclare fail with PRECONDITION_FAILED — when no consumer reads it, and declares the
quorum queue in its place. A request still waiting in the classic queue is dropped with it:
its caller gets its 503 at the deadline, as it would have had with no service running.
"""

import importlib
import inspect
from dataclasses import dataclass

import pika
import pika.exceptions

from services.common.config import service_setting

DEAD_LETTER_EXCHANGE = "bancheng.dead-letters"
# nameko's RPC exchange (RPC_EXCHANGE in the config) and its service queues, made quorum
DEFAULT_RPC_EXCHANGE = "nameko-rpc"
RPC_QUEUE_ARGUMENTS = {"x-queue-type": "quorum"}
DEAD_LETTER_QUEUE_ARGUMENTS = {"x-queue-type": "quorum"}
DEFAULT_DELIVERY_LIMIT = 30
QUORUM_SUFFIX = ".quorum"
REBUILD_SUFFIX = ".rebuilding"
# the services whose handlers consume events (the gateway consumes none): name -> class
CONSUMING_SERVICES = {
    "intake": "services.intake.service:IntakeService",
    "coordination": "services.coordination.service:CoordinationService",
    "accountability": "services.accountability.service:AccountabilityService",
    "reporting": "services.reporting.service:ReportingService",
}

# every service with an RPC queue: those four (their ``ping`` and use cases); the gateway
# serves no RPC
RPC_SERVICES = tuple(CONSUMING_SERVICES)


def delivery_limit(config: dict) -> int:
    """How many times a message may be returned before it is dead-lettered.

    A failing handler waits a second before its event is returned, so the default of 30
    rides out a database or broker outage of half a minute without dead-lettering good events.
    """
    return int(service_setting(config, "EVENT_DELIVERY_LIMIT", DEFAULT_DELIVERY_LIMIT))


def rpc_queue(service: str) -> str:
    """nameko's name for the queue of ``service``'s RPC requests."""
    return f"rpc-{service}"


def rpc_exchange(config: dict) -> str:
    return config.get("RPC_EXCHANGE", DEFAULT_RPC_EXCHANGE)


def dead_letter_queue(service: str) -> str:
    """The queue where ``service``'s dead letters wait for an operator."""
    return f"dlq-{service}"


def queue_arguments(service: str, limit: int) -> dict:
    """The arguments of every event queue of ``service`` (see the module docstring)."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": limit,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": service,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


@dataclass(frozen=True)
class EventQueue:
    """The queue one handler method of one service reads."""

    service: str
    method: str
    source: str
    event_type: str

    @property
    def legacy_name(self) -> str:
        """nameko's name for the classic queue earlier versions read."""
        return f"evt-{self.source}-{self.event_type}--{self.service}.{self.method}"

    @property
    def name(self) -> str:
        return self.legacy_name + QUORUM_SUFFIX

    @property
    def exchange(self) -> str:
        return f"{self.source}.events"

    @classmethod
    def from_name(cls, name: str) -> "EventQueue | None":
        """The queue a (quorum or legacy) name stands for; None for any other name."""
        if not name.startswith("evt-") or "--" not in name:
            return None
        route, _, reader = name[len("evt-") :].removesuffix(QUORUM_SUFFIX).partition("--")
        source, _, event_type = route.partition("-")
        service, _, method = reader.partition(".")
        if not all((source, event_type, service, method)):
            return None
        return cls(service, method, source, event_type)


def event_queues(service_class) -> list[EventQueue]:
    """The event queues of a nameko service class, one per ``consumes`` handler."""
    from services.common.consumer import EventConsumer

    return [
        EventQueue(service_class.name, name, entrypoint.source_service, entrypoint.event_type)
        for name, member in inspect.getmembers(service_class)
        for entrypoint in getattr(member, "nameko_entrypoints", ())
        if isinstance(entrypoint, EventConsumer)
    ]


def consuming_services() -> list:
    """The service classes of :data:`CONSUMING_SERVICES`."""
    classes = []
    for path in CONSUMING_SERVICES.values():
        module, name = path.split(":")
        classes.append(getattr(importlib.import_module(module), name))
    return classes


# -- migration (pika) ------------------------------------------------------------------------


def migrate(amqp_uri: str, config: dict, queues: list[EventQueue]) -> list[str]:
    """Declare the dead-letter topology and every queue of ``queues``, moving what waits in
    legacy or outdated queues into them. Idempotent; returns what it did, line by line."""
    limit = delivery_limit(config)
    exchange_auto_delete = bool(config.get("AUTO_DELETE_EVENT_EXCHANGES"))
    report = []
    connection = pika.BlockingConnection(pika_parameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare(DEAD_LETTER_EXCHANGE, "direct", durable=True)
        for service in sorted({queue.service for queue in queues}):
            declare_dead_letter_queue(channel, service)
        for queue in queues:
            # nameko's event exchange, declared as nameko declares it
            channel.exchange_declare(
                queue.exchange, "topic", durable=True, auto_delete=exchange_auto_delete
            )
            arguments = queue_arguments(queue.service, limit)
            if not _declare(connection, queue.name, arguments):
                report += _rebuild(connection, queue, arguments)
            channel.queue_bind(queue.name, queue.exchange, routing_key=queue.event_type)
            for leftover in (queue.legacy_name, queue.name + REBUILD_SUFFIX):
                report += _empty_into(connection, leftover, queue)
        report.append(
            f"queues: {len(queues)} quorum event queues (delivery limit {limit}), "
            f"dead letters in {', '.join(sorted({dead_letter_queue(q.service) for q in queues}))}"
        )
    finally:
        if connection.is_open:
            connection.close()
    return report


def migrate_rpc_queues(amqp_uri: str, config: dict, services=RPC_SERVICES) -> list[str]:
    """Declare each service's RPC queue as a quorum queue, bound as nameko binds it, replacing
    a classic one of an earlier version (see the module docstring). Idempotent; changes nothing
    while a process of the earlier version still reads a classic one (RuntimeError)."""
    report = []
    connection = pika.BlockingConnection(pika_parameters(amqp_uri))
    try:
        classic = {}
        for service in services:
            name = rpc_queue(service)
            if not _declare(connection, name, RPC_QUEUE_ARGUMENTS):
                classic[name] = connection.channel().queue_declare(name, passive=True).method
        busy = {
            name: state.consumer_count for name, state in classic.items() if state.consumer_count
        }
        if busy:
            raise RuntimeError(
                f"classic queue(s) still read by an earlier version: {busy}; "
                "stop the services, then migrate again"
            )
        channel = connection.channel()
        exchange = rpc_exchange(config)
        channel.exchange_declare(exchange, "topic", durable=True)
        for service in services:
            name = rpc_queue(service)
            if name in classic:
                channel.queue_delete(name)
                channel.queue_declare(name, durable=True, arguments=RPC_QUEUE_ARGUMENTS)
                report.append(
                    f"queues: re-created {name} as a quorum queue "
                    f"({classic[name].message_count} expiring requests dropped)"
                )
            channel.queue_bind(name, exchange, routing_key=f"{service}.*")
        report.append(f"queues: {len(services)} quorum RPC queues")
    finally:
        if connection.is_open:
            connection.close()
    return report


def amqp_uris(amqp_uri: str) -> list[str]:
    """The node URIs of an ``AMQP_URI`` (kombu's failover form: several, separated by ``;``)."""
    return [uri.strip() for uri in amqp_uri.split(";") if uri.strip()]


def pika_parameters(amqp_uri: str) -> list:
    """pika's connection parameters for every node of ``amqp_uri``, tried in turn."""
    return [pika.URLParameters(uri) for uri in amqp_uris(amqp_uri)]


def declare_dead_letter_queue(channel, service: str) -> None:
    """Declare ``dlq-<service>`` and bind it to the dead-letter exchange (pika)."""
    channel.queue_declare(
        dead_letter_queue(service), durable=True, arguments=DEAD_LETTER_QUEUE_ARGUMENTS
    )
    channel.queue_bind(dead_letter_queue(service), DEAD_LETTER_EXCHANGE, routing_key=service)


def _declare(connection, name: str, arguments: dict) -> bool:
    """Declare ``name``; False when it exists with other arguments (and is left as it is)."""
    channel = connection.channel()
    try:
        channel.queue_declare(name, durable=True, arguments=arguments)
    except pika.exceptions.ChannelClosedByBroker as error:
        if error.reply_code == 406:  # PRECONDITION_FAILED: inequivalent arguments
            return False
        raise
    channel.close()
    return True


def _exists(connection, name: str) -> bool:
    channel = connection.channel()
    try:
        channel.queue_declare(name, passive=True)
    except pika.exceptions.ChannelClosedByBroker as error:
        if error.reply_code == 404:
            return False
        raise
    channel.close()
    return True


def _rebuild(connection, queue: EventQueue, arguments: dict) -> list[str]:
    """Re-create ``queue`` with ``arguments`` through a holding queue bound meanwhile."""
    holding = queue.name + REBUILD_SUFFIX
    channel = connection.channel()
    channel.confirm_delivery()
    consumers = channel.queue_declare(queue.name, passive=True).method.consumer_count
    if consumers:
        raise RuntimeError(
            f"{queue.name} must be re-created with new arguments but has {consumers} "
            "consumer(s): stop the services, then migrate again"
        )
    channel.queue_declare(holding, durable=True, arguments=arguments)
    channel.queue_bind(holding, queue.exchange, routing_key=queue.event_type)
    channel.queue_unbind(queue.name, queue.exchange, routing_key=queue.event_type)
    moved = _move(channel, queue.name, holding)
    if not _delete_if_idle(channel, queue.name):
        raise RuntimeError(f"{queue.name} is in use again: stop the services, then migrate again")
    channel.queue_declare(queue.name, durable=True, arguments=arguments)
    channel.close()
    # the caller binds the new queue, then empties the holding queue into it
    return [f"queues: re-created {queue.name} with new arguments ({moved} messages kept)"]


def _empty_into(connection, source: str, queue: EventQueue) -> list[str]:
    """Move everything in ``source`` (if it exists) into ``queue`` and delete ``source``."""
    if not _exists(connection, source):
        return []
    channel = connection.channel()
    channel.confirm_delivery()
    channel.queue_unbind(source, queue.exchange, routing_key=queue.event_type)
    moved = _move(channel, source, queue.name)
    deleted = _delete_if_idle(channel, source)
    channel.close()
    if not deleted:
        # still read by a process of an earlier version: it drains it; migrate again later
        return [f"queues: moved {moved} messages from {source}; left it in place (in use)"]
    return [f"queues: moved {moved} messages from {source} into {queue.name}; deleted it"]


def _delete_if_idle(channel, name: str) -> bool:
    """Delete ``name`` unless a consumer reads it or a message waits in it.

    (Quorum queues do not support ``if-unused``/``if-empty`` deletes, so this asks first; the
    queue is unbound by then, so nothing new arrives in between.)
    """
    state = channel.queue_declare(name, passive=True).method
    if state.consumer_count or state.message_count:
        return False
    channel.queue_delete(name)
    return True


def _move(channel, source: str, target: str) -> int:
    """Copy each message of ``source`` into ``target``, acknowledging it after the confirm."""
    moved = 0
    while True:
        method, properties, body = channel.basic_get(source, auto_ack=False)
        if method is None:
            return moved
        properties.delivery_mode = pika.DeliveryMode.Persistent.value
        channel.basic_publish("", target, body, properties, mandatory=True)
        channel.basic_ack(method.delivery_tag)
        moved += 1
