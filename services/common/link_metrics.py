"""A site node's link to the district on Prometheus (issue 13, item 5; docs/network.md).

A small process on the site node (``nameko run services.common.link_metrics:LinkMetricsService``:
``site-<s>-links`` under the site's supervisor, started by ``tools/edge.py`` with ``/metrics``
on ``8200+10i+2``; ``link-metrics`` in ``deploy/site/compose.yml``). It reads, every
``LINK_SAMPLE_SECONDS`` (5) and at each scrape:

* the link's two shovels from the site's management HTTP API (``GET /api/shovels/<vhost>``);
* the messages ready in the link's queues — ``bancheng.link.to-district`` on the site's broker,
  ``bancheng.link.<S>.from-district`` on the district's (as the down shovel reads it) — by a
  passive ``queue.declare`` (the management API's queue figures lag by its statistics
  interval, 5 s). Ready: not yet handed to a shovel; what a running shovel holds is crossing.

and exports, labelled ``site`` (and ``direction``: ``to_district`` / ``from_district``)::

    bancheng_site_link_up{site}                                1: both shovels run
    bancheng_site_link_shovel_running{site,direction}          1 / 0
    bancheng_site_link_backlog_messages{site,direction}        messages waiting to cross
    bancheng_site_link_oldest_waiting_seconds{site,direction}  how long the oldest has waited

A figure whose broker did not answer is left out (no series, never a made-up 0).

The oldest waiting message's age is the time since a reading last saw that queue with nothing
ready (0 while it is empty). RabbitMQ keeps no ``head_message_timestamp`` for quorum queues
(rabbitmq-server issue 6813), and looking at the head (``basic.get`` and a requeue) would move
that message behind the others — the link must deliver in order — so no message is touched.
While a direction's shovel does not run nobody takes from its queue, so the head arrived after
that reading: the figure is its age, over by less than a sampling interval. While the shovel
runs it takes every ready message at once (its prefetch), so the queue is seen empty again
unless the link cannot keep up — which is what the backlog alert is for.
"""

import logging
import os
import threading
import time
from dataclasses import dataclass

import pika
import requests
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.web.handlers import http
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from werkzeug.wrappers import Response

from services.common import links
from services.common.config import service_setting
from services.common.web import json_response

log = logging.getLogger(__name__)

TO_DISTRICT = "to_district"
FROM_DISTRICT = "from_district"
DIRECTIONS = (TO_DISTRICT, FROM_DISTRICT)
# a scrape must answer well within Prometheus's 10 s timeout, whatever is down
AMQP_TIMEOUT_SECONDS = 3.0
DISTRICT_AMQP_URI = "DISTRICT_AMQP_URI"
SAMPLE_SECONDS_SETTING = "LINK_SAMPLE_SECONDS"
DEFAULT_SAMPLE_SECONDS = 5.0


# -- the oldest waiting message (pure) ------------------------------------------------------


def last_seen_empty(previous: float | None, ready: int | None, now: float) -> float | None:
    """When a reading last saw the queue with nothing ready, after one at ``now`` that saw
    ``ready`` (None: unknown, nothing learnt). A queue not empty at the first reading counts
    from then (its head is at least that old)."""
    if ready is None:
        return previous
    if ready == 0 or previous is None:
        return now
    return previous


def oldest_waiting(empty_at: float | None, ready: int | None, now: float) -> float | None:
    """The oldest waiting message's age at ``now`` (0: none waits; None: unknown)."""
    if ready is None or empty_at is None:
        return None
    return 0.0 if ready == 0 else max(0.0, now - empty_at)


# -- reading the brokers --------------------------------------------------------------------


def ready_messages(amqp_uri: str | None, queue: str) -> int | None:
    """Messages ready in ``queue`` (None: the broker or the queue did not answer)."""
    if not amqp_uri:
        return None
    parameters = pika.URLParameters(amqp_uri)
    parameters.socket_timeout = AMQP_TIMEOUT_SECONDS
    parameters.blocked_connection_timeout = AMQP_TIMEOUT_SECONDS
    parameters.connection_attempts = 1
    try:
        connection = pika.BlockingConnection(parameters)
    except (pika.exceptions.AMQPError, OSError):
        return None
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    except (pika.exceptions.AMQPError, OSError):
        return None
    finally:
        if connection.is_open:
            connection.close()


def shovels_running(link: links.SiteLink) -> dict[str, bool]:
    """Each direction's shovel: running or not (the site's broker not answering: not)."""
    up_name, down_name = links.shovel_names(link.site)
    try:
        states = links.shovel_states(link)
    except (requests.RequestException, ValueError):
        states = {}
    return {
        TO_DISTRICT: states.get(up_name) == "running",
        FROM_DISTRICT: states.get(down_name) == "running",
    }


@dataclass(frozen=True)
class LinkReading:
    site: str
    running: dict[str, bool]
    backlog: dict[str, int | None]
    oldest: dict[str, float | None]

    @property
    def up(self) -> bool:
        return all(self.running.values())


class LinkCollector:
    """A prometheus_client collector of one site's link: :meth:`sample` reads the brokers
    (every few seconds and at each scrape), :meth:`collect` exports the last reading."""

    def __init__(self, link: links.SiteLink, clock=time.time):
        self.link = link
        self.clock = clock
        self._empty_at: dict[str, float | None] = dict.fromkeys(DIRECTIONS)
        self._last: tuple[dict, dict] | None = None
        self._lock = threading.Lock()

    def queues(self) -> dict[str, tuple[str | None, str]]:
        district = self.link.district_amqp_uris[0] if self.link.district_amqp_uris else None
        return {
            TO_DISTRICT: (self.link.site_amqp_uri, links.TO_DISTRICT_QUEUE),
            FROM_DISTRICT: (district, links.from_district_queue(self.link.site)),
        }

    def sample(self) -> LinkReading:
        running = shovels_running(self.link)
        backlog = {d: ready_messages(*where) for d, where in self.queues().items()}
        with self._lock:
            now = self.clock()
            for direction in DIRECTIONS:
                self._empty_at[direction] = last_seen_empty(
                    self._empty_at[direction], backlog[direction], now
                )
            self._last = (running, backlog)
            return self._reading(now)

    def _reading(self, now: float) -> LinkReading:
        running, backlog = self._last
        oldest = {d: oldest_waiting(self._empty_at[d], backlog[d], now) for d in DIRECTIONS}
        return LinkReading(self.link.site, running, backlog, oldest)

    def read(self) -> LinkReading:
        return self.sample()

    def collect(self):
        reading = self.read()
        site = reading.site
        up = GaugeMetricFamily(
            "bancheng_site_link_up",
            "1 when both shovels of the site's link to the district run",
            labels=["site"],
        )
        up.add_metric([site], 1.0 if reading.up else 0.0)
        shovel = GaugeMetricFamily(
            "bancheng_site_link_shovel_running",
            "1 when the link's shovel of that direction runs",
            labels=["site", "direction"],
        )
        backlog = GaugeMetricFamily(
            "bancheng_site_link_backlog_messages",
            "Messages waiting in the link's queue to cross (ready), by direction",
            labels=["site", "direction"],
        )
        oldest = GaugeMetricFamily(
            "bancheng_site_link_oldest_waiting_seconds",
            "Seconds since the link's queue was last seen empty (0: none waits): while its "
            "shovel is stopped, the oldest waiting message's age",
            labels=["site", "direction"],
        )
        for direction in DIRECTIONS:
            shovel.add_metric([site, direction], 1.0 if reading.running[direction] else 0.0)
            if reading.backlog[direction] is not None:
                backlog.add_metric([site, direction], float(reading.backlog[direction]))
            if reading.oldest[direction] is not None:
                oldest.add_metric([site, direction], round(reading.oldest[direction], 3))
        return [up, shovel, backlog, oldest]


# -- the process ----------------------------------------------------------------------------


def site_link_from(config: dict, environ=os.environ) -> links.SiteLink:
    """The link this process watches: the site is ``SITE_NODE``; with ``DISTRICT_AMQP_URI``
    (the district's nodes, ``;``) from the config's ``AMQP_URI`` and ``RABBIT_MANAGEMENT_URL``
    (the site's broker: the deployment), else from ``run/sites/<s>/link.json`` (local runs,
    written by tools/edge.py)."""
    site = (service_setting(config, "SITE_NODE") or "").strip().upper()
    if not site:
        raise RuntimeError("the link metrics run on a site node: SITE_NODE is not set")
    district = environ.get(DISTRICT_AMQP_URI, "")
    if not district:
        return links.SiteLink.load(site)
    return links.SiteLink(
        site=site,
        site_amqp_uri=config["AMQP_URI"].split(";")[0],
        site_management_url=config["RABBIT_MANAGEMENT_URL"],
        district_amqp_uris=[uri for uri in district.split(";") if uri],
    )


class LinkRegistry(DependencyProvider):
    """A registry of its own holding the link's collector (built once, at start), and the
    thread sampling the link between scrapes."""

    def setup(self):
        self.link = site_link_from(self.container.config)
        self.collector = LinkCollector(self.link)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self.interval = float(os.environ.get(SAMPLE_SECONDS_SETTING) or DEFAULT_SAMPLE_SECONDS)
        self._stopping = False

    def start(self):
        self.container.spawn_managed_thread(self._sample_forever)

    def stop(self):
        self._stopping = True

    def _sample_forever(self):
        while not self._stopping:
            try:
                self.collector.sample()
            except Exception:  # noqa: BLE001 - the next reading tries again
                log.exception("reading the link of %s failed", self.link.site)
            time.sleep(self.interval)

    def get_dependency(self, worker_ctx):
        return self


class LinkMetricsService:
    name = "link_metrics"
    config = Config()
    watched = LinkRegistry()

    @http("GET", "/healthz")
    def healthz(self, request):
        # the exporter answers; whether the link is up is what its metrics say
        return json_response({"service": self.name, "site": self.watched.link.site, "status": "ok"})

    @http("GET", "/metrics")
    def metrics(self, request):
        return Response(generate_latest(self.watched.registry), mimetype=CONTENT_TYPE_LATEST)
