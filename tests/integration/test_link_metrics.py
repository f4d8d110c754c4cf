"""The link metrics on real brokers: a district node and a site node of their own
(tools.private_infra), the link's two on-confirm shovels (services.common.links), the exporter
running as the nameko service it is (services.common.link_metrics), scraped over HTTP.

The link is cut and restored with the real command (``python -m services.common.cli link XJK
down|up``): the exporter says down, counts what waits on each side and how long the oldest
has waited; reading the link takes and reorders nothing — each message crosses once, in order,
when the link returns.
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import pika
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from services.common import links
from services.common.config import REPO_ROOT
from services.common.link_metrics import LinkMetricsService
from tests.conftest import BASE_CONFIG
from tests.integration.helpers import running, wait_for
from tests.integration.test_prometheus_alerts import (  # noqa: F401 - promtool: a fixture
    prometheus_scraping,
    promtool,
)
from tools import edge
from tools.private_infra import RabbitNode, free_port_block

pytestmark = pytest.mark.integration

SITE = "XJK"
SAMPLE_SECONDS = 1.0


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    base = tmp_path_factory.mktemp("link-metrics")
    ports = free_port_block(11)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:4]}"
    district = RabbitNode(
        f"bancheng-lm-district-{tag}@localhost",
        ports[0],
        ports[1],
        (ports[2], ports[3]),
        base / "district",
        cookie_home=base / "home",
    )
    site = RabbitNode(
        f"bancheng-lm-site-{tag}@localhost",
        ports[4],
        ports[5],
        (ports[6], ports[7]),
        base / "site",
        cookie_home=base / "home",
        plugins=edge.SITE_PLUGINS,
        config_lines=(f"management.tcp.port = {ports[8]}", "management.tcp.ip = 127.0.0.1"),
    )
    starting = [threading.Thread(target=node.start) for node in (district, site)]
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    link = links.SiteLink(
        site=SITE,
        site_amqp_uri=site.amqp_uri,
        site_management_url=f"http://guest:guest@127.0.0.1:{ports[8]}/",
        district_amqp_uris=[district.amqp_uri],
    )
    links_dir = base / "sites"
    link.save(links_dir)
    try:
        yield {"link": link, "links_dir": links_dir, "metrics_port": ports[9]}
    finally:
        for node in (site, district):
            node.stop()


def link_command(network, action: str) -> subprocess.CompletedProcess:
    """The real command, as an operator types it."""
    return subprocess.run(
        [sys.executable, "-m", "services.common.cli", "link", SITE, action],
        cwd=REPO_ROOT,
        env={**os.environ, links.LINKS_DIR_SETTING: str(network["links_dir"])},
        capture_output=True,
        text=True,
        timeout=90,
    )


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name: str, direction: str | None = None):
    labels = {"site": SITE, **({"direction": direction} if direction else {})}
    return found.get((f"bancheng_site_link_{name}", tuple(sorted(labels.items()))))


def publish(amqp_uri: str, exchange: str, routing_key: str, bodies: list[dict]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish(
                exchange,
                routing_key,
                json.dumps(body).encode(),
                pika.BasicProperties(delivery_mode=2, content_type="application/json"),
            )
    finally:
        connection.close()


def envelope(n: int, event_type: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source_service": "test",
        "source_site": SITE,
        "data": {"n": n},
    }


def collecting_queue(amqp_uri: str, exchange: str, key: str) -> str:
    """A queue at the far end bound to ``exchange``: what crossed the link."""
    name = f"crossed-{uuid.uuid4().hex[:6]}"
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, "topic", durable=True)
        channel.queue_declare(name, durable=True)
        channel.queue_bind(name, exchange, routing_key=key)
    finally:
        connection.close()
    return name


def drained(amqp_uri: str, queue: str) -> list[int]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        got = []
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return got
            got.append(json.loads(body)["data"]["n"])
    finally:
        connection.close()


def test_the_exporter_reports_a_cut_link_its_backlog_and_oldest_waiting(network, monkeypatch):
    link = network["link"]
    port = network["metrics_port"]
    monkeypatch.setenv(links.LINKS_DIR_SETTING, str(network["links_dir"]))
    monkeypatch.delenv("DISTRICT_AMQP_URI", raising=False)
    monkeypatch.setenv("LINK_SAMPLE_SECONDS", str(SAMPLE_SECONDS))
    config = {
        **BASE_CONFIG,
        "AMQP_URI": link.site_amqp_uri,
        "RABBIT_MANAGEMENT_URL": link.site_management_url,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "BANCHENG": {**BASE_CONFIG["BANCHENG"], "SITE_NODE": SITE},
    }
    assert link_command(network, "up").stdout.strip() == "up"
    crossed_up = collecting_queue(link.district_amqp_uris[0], "intake.events", "#")
    crossed_down = collecting_queue(link.site_amqp_uri, "coordination.events", "#")
    with running(config, LinkMetricsService):
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        found = scrape(port)
        assert value(found, "up") == 1.0
        for direction in ("to_district", "from_district"):
            assert value(found, "shovel_running", direction) == 1.0
            assert value(found, "backlog_messages", direction) == 0.0
            assert value(found, "oldest_waiting_seconds", direction) == 0.0

        # -- cut with the real command ----------------------------------------------------
        result = link_command(network, "down")
        assert result.returncode == 0 and result.stdout.strip() == "down", result.stderr
        found = scrape(port)
        assert value(found, "up") == 0.0
        assert value(found, "shovel_running", "to_district") == 0.0
        assert value(found, "shovel_running", "from_district") == 0.0

        # published meanwhile, on each side: they wait in the link's queues
        published = time.time()
        publish(
            link.site_amqp_uri,
            "intake.events",
            "case_registered",
            [envelope(n, "case_registered") for n in range(5)],
        )
        publish(
            link.district_amqp_uris[0],
            "coordination.events",
            "case_classified",
            [envelope(n, "case_classified") for n in range(3)],
        )
        # not followed by the site's intake: stays at the district, never waits to cross
        publish(
            link.district_amqp_uris[0],
            "coordination.events",
            "meeting_held",
            [envelope(9, "meeting_held")],
        )
        found = scrape(port)
        assert value(found, "backlog_messages", "to_district") == 5.0
        assert value(found, "backlog_messages", "from_district") == 3.0
        time.sleep(3)
        found = scrape(port)
        waited = time.time() - published
        assert value(found, "up") == 0.0
        for direction in ("to_district", "from_district"):
            oldest = value(found, "oldest_waiting_seconds", direction)
            # since the last reading that saw the queue empty: over by one interval at most
            assert waited - 0.5 <= oldest <= waited + SAMPLE_SECONDS + 1.0, (direction, oldest)
        # reading the link takes nothing from it
        assert links.queue_depth(link.site_amqp_uri, links.TO_DISTRICT_QUEUE) == 5

        # -- restored with the real command: everything crosses once, in order ------------
        result = link_command(network, "up")
        assert result.returncode == 0 and result.stdout.strip() == "up", result.stderr

        def link_caught_up():
            found = scrape(port)
            return (
                value(found, "up") == 1.0
                and value(found, "backlog_messages", "to_district") == 0.0
                and value(found, "backlog_messages", "from_district") == 0.0
                and value(found, "oldest_waiting_seconds", "to_district") == 0.0
            )

        wait_for(link_caught_up, 30, 0.5)
        time.sleep(1)
        assert drained(link.district_amqp_uris[0], crossed_up) == [0, 1, 2, 3, 4]
        assert drained(link.site_amqp_uri, crossed_down) == [0, 1, 2]


def site_link_alerts(api: str) -> list[dict]:
    alerts = requests.get(f"{api}/alerts", timeout=5).json()["data"]["alerts"]
    return [
        alert
        for alert in alerts
        if alert["labels"].get("alertname") == "BanchengSiteLinkDown" and alert["state"] == "firing"
    ]


def test_a_real_prometheus_fires_site_link_down_when_the_link_is_cut(
    network,
    monkeypatch,
    tmp_path,
    promtool,  # noqa: F811 - installs prometheus if missing
):
    """deploy/prometheus/alerts.yml (every ``for:`` at 0 s) on a real Prometheus scraping the
    exporter: quiet while the link is up, BanchengSiteLinkDown for XJK once ``link XJK down``
    ran, quiet again after ``link XJK up``."""
    link = network["link"]
    port = network["metrics_port"]
    monkeypatch.setenv(links.LINKS_DIR_SETTING, str(network["links_dir"]))
    monkeypatch.delenv("DISTRICT_AMQP_URI", raising=False)
    monkeypatch.setenv("LINK_SAMPLE_SECONDS", str(SAMPLE_SECONDS))
    config = {
        **BASE_CONFIG,
        "AMQP_URI": link.site_amqp_uri,
        "RABBIT_MANAGEMENT_URL": link.site_management_url,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "BANCHENG": {**BASE_CONFIG["BANCHENG"], "SITE_NODE": SITE},
    }
    assert link_command(network, "up").returncode == 0
    with (
        running(config, LinkMetricsService),
        prometheus_scraping(tmp_path, "bancheng-site-links", port) as api,
    ):
        time.sleep(2.5)  # two evaluations after a scrape
        assert site_link_alerts(api) == []
        assert link_command(network, "down").returncode == 0
        [alert] = wait_for(lambda: site_link_alerts(api), 30, 0.5)
        assert alert["labels"]["site"] == SITE and alert["labels"]["severity"] == "critical"
        assert link_command(network, "up").returncode == 0
        wait_for(lambda: site_link_alerts(api) == [], 30, 0.5)
