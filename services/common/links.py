"""A site node's link to the district: two dynamic shovels, and their queues (docs/network.md).

RabbitMQ's shovel plugin moves the events; this module only declares, deletes and reads them.
Both shovels are defined on the *site* node (the site dials out) with ``ack-mode: on-confirm``
— a message leaves its source queue only after the other side confirmed it, so a cut link
loses nothing and a shovel restarted in the middle repeats at most what it had not seen
confirmed (consumers dedupe on the event id):

* ``bancheng-link-<S>-up``: the site's queue ``bancheng.link.to-district`` (bound to the site's
  ``intake.events`` with ``#``) to the district's ``intake.events``;
* ``bancheng-link-<S>-down``: the district's queue ``bancheng.link.<S>.from-district`` (bound to
  the district's ``coordination.events`` with the types the site's intake follows) to the site's
  ``coordination.events``.

Neither rewrites the routing key or adds headers: the event type and the ``bancheng-signature``
header cross unchanged, and the signature covers the body (the envelope), which the shovel
copies byte for byte. Deleting the shovels (:func:`down`) stops the link for real — a deleted
dynamic shovel does not reconnect — while its queues stay and collect what is published
meanwhile; :func:`up` recreates the shovels and the backlog crosses once, in order.

Talks to the site's management HTTP API (``requests``) and declares the queues with pika.
"""

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import pika
import requests

from services.common.config import REPO_ROOT

TO_DISTRICT_QUEUE = "bancheng.link.to-district"
# what the site's intake follows of coordination (services.intake.service)
FOLLOWED_COORDINATION_EVENTS = (
    "case_state_changed",
    "case_classified",
    "deadline_breached",
    "case_replied",
    "case_resolved",
    "practice_promoted",  # intake's copy of the standard practices, shown at registration
)
RECONNECT_DELAY_SECONDS = 5
QUEUE_ARGUMENTS = {"x-queue-type": "quorum"}
HTTP_TIMEOUT_SECONDS = 10
LINKS_DIR_SETTING = "EDGE_LINKS_DIR"


def from_district_queue(site: str) -> str:
    return f"bancheng.link.{site}.from-district"


def shovel_names(site: str) -> tuple[str, str]:
    """(up: site → district, down: district → site)."""
    return f"bancheng-link-{site}-up", f"bancheng-link-{site}-down"


def links_dir() -> Path:
    return Path(os.environ.get(LINKS_DIR_SETTING) or REPO_ROOT / "run" / "sites")


@dataclass(frozen=True)
class SiteLink:
    """What it takes to control one site's link: the site's broker (AMQP and management, on
    which the shovels live) and the district's brokers (every node of its cluster)."""

    site: str
    site_amqp_uri: str
    site_management_url: str  # http://user:password@host:port/
    district_amqp_uris: list[str] = field(default_factory=list)

    def save(self, directory: Path | None = None) -> Path:
        """Write ``<dir>/<site>/link.json`` (what ``cli link`` reads)."""
        path = (directory or links_dir()) / self.site.lower() / "link.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, site: str, directory: Path | None = None) -> "SiteLink":
        path = (directory or links_dir()) / site.lower() / "link.json"
        if not path.exists():
            raise LookupError(
                f"no site node for {site} ({path} does not exist): start it with "
                f"make up EDGE_SITES={site}"
            )
        return cls(**json.loads(path.read_text()))


@dataclass(frozen=True)
class LinkStatus:
    """``up``: both shovels exist and run. ``shovels``: each one's state (``missing`` when it
    is not defined). ``waiting_*``: messages in the link's queues, still to cross (None:
    that broker did not answer)."""

    site: str
    up: bool
    shovels: dict
    waiting_to_district: int | None
    waiting_from_district: int | None


# -- the site's management API ------------------------------------------------------------


def _api(link: SiteLink) -> tuple[str, tuple[str, str]]:
    parts = urlsplit(link.site_management_url.rstrip("/"))
    return f"{parts.scheme}://{parts.hostname}:{parts.port}/api", (
        parts.username or "guest",
        parts.password or "guest",
    )


def _vhost(amqp_uri: str) -> str:
    path = urlsplit(amqp_uri).path
    return "/" if path in ("", "/") else path.lstrip("/")


def shovel_uri(amqp_uri: str) -> str:
    """``amqp_uri`` as the shovel reads it: RabbitMQ takes ``amqp://host/`` for the vhost
    named "" (kombu and pika for ``/``), so the default vhost is written without a path."""
    parts = urlsplit(amqp_uri)
    if parts.path == "/":
        return amqp_uri[: amqp_uri.index(parts.netloc) + len(parts.netloc)]
    return amqp_uri


def shovel_definitions(link: SiteLink) -> dict[str, dict]:
    """The two shovels' definitions (the body of ``PUT /api/parameters/shovel/...``)."""
    up, down = shovel_names(link.site)
    district = [shovel_uri(uri) for uri in link.district_amqp_uris]
    site = shovel_uri(link.site_amqp_uri)
    common = {
        "src-protocol": "amqp091",
        "dest-protocol": "amqp091",
        "ack-mode": "on-confirm",
        "src-delete-after": "never",
        "reconnect-delay": RECONNECT_DELAY_SECONDS,
    }
    return {
        up: {
            **common,
            "src-uri": site,
            "src-queue": TO_DISTRICT_QUEUE,
            "dest-uri": district,
            "dest-exchange": "intake.events",
        },
        down: {
            **common,
            "src-uri": district,
            "src-queue": from_district_queue(link.site),
            "dest-uri": site,
            "dest-exchange": "coordination.events",
        },
    }


def declare_queues(link: SiteLink) -> None:
    """Declare both ends' exchanges and the link's queues (idempotent): each side keeps what is
    published for the other while the link is down."""
    _declare(link.site_amqp_uri, "intake.events", TO_DISTRICT_QUEUE, ["#"])
    # the site's intake binds its own queues to this exchange when it starts
    _declare(link.site_amqp_uri, "coordination.events", None, [])
    for uri in link.district_amqp_uris[:1]:  # a cluster: declared once, on any node
        _declare(
            uri,
            "coordination.events",
            from_district_queue(link.site),
            list(FOLLOWED_COORDINATION_EVENTS),
        )
        _declare(uri, "intake.events", None, [])


def _declare(amqp_uri: str, exchange: str, queue: str | None, keys: list[str]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        # as nameko declares its event exchanges (durable topic)
        channel.exchange_declare(exchange, "topic", durable=True)
        if queue:
            channel.queue_declare(queue, durable=True, arguments=QUEUE_ARGUMENTS)
            for key in keys:
                channel.queue_bind(queue, exchange, routing_key=key)
    finally:
        if connection.is_open:
            connection.close()


def up(link: SiteLink) -> None:
    """Declare the queues, then (re)create both shovels."""
    declare_queues(link)
    api, auth = _api(link)
    vhost = quote(_vhost(link.site_amqp_uri), safe="")
    for name, definition in shovel_definitions(link).items():
        response = requests.put(
            f"{api}/parameters/shovel/{vhost}/{quote(name, safe='')}",
            json={"value": definition},
            auth=auth,
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        response.raise_for_status()


def down(link: SiteLink) -> None:
    """Delete both shovels: they stop at once and do not come back (the queues stay)."""
    api, auth = _api(link)
    vhost = quote(_vhost(link.site_amqp_uri), safe="")
    for name in shovel_names(link.site):
        response = requests.delete(
            f"{api}/parameters/shovel/{vhost}/{quote(name, safe='')}",
            auth=auth,
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        if response.status_code != 404:
            response.raise_for_status()


def shovel_states(link: SiteLink) -> dict[str, str]:
    """Each of the link's shovels: ``running``, ``starting``, ``terminated`` … or ``missing``."""
    api, auth = _api(link)
    vhost = quote(_vhost(link.site_amqp_uri), safe="")
    response = requests.get(f"{api}/shovels/{vhost}", auth=auth, timeout=HTTP_TIMEOUT_SECONDS)
    response.raise_for_status()
    found = {item["name"]: item.get("state", "unknown") for item in response.json()}
    return {name: found.get(name, "missing") for name in shovel_names(link.site)}


def queue_depth(amqp_uri: str, queue: str) -> int | None:
    """Messages ready in ``queue`` (None: the broker or the queue is not there)."""
    try:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    except pika.exceptions.AMQPError:
        return None
    try:
        declared = connection.channel().queue_declare(queue, passive=True)
        return declared.method.message_count
    except pika.exceptions.AMQPError:
        return None
    finally:
        if connection.is_open:
            connection.close()


def status(link: SiteLink) -> LinkStatus:
    states = shovel_states(link)
    district = link.district_amqp_uris[0] if link.district_amqp_uris else None
    return LinkStatus(
        site=link.site,
        up=all(state == "running" for state in states.values()),
        shovels=states,
        waiting_to_district=queue_depth(link.site_amqp_uri, TO_DISTRICT_QUEUE),
        waiting_from_district=(
            queue_depth(district, from_district_queue(link.site)) if district else None
        ),
    )


def wait_running(link: SiteLink, timeout: float = 30.0) -> LinkStatus:
    """Wait until both shovels run; the last status either way."""
    deadline = time.monotonic() + timeout
    while True:
        current = status(link)
        if current.up or time.monotonic() > deadline:
            return current
        time.sleep(0.25)
