"""The site deployment's broker definitions (deploy/site/definitions.py) on real nodes: a site
node loads them at boot (``load_definitions``, as deploy/site/compose.yml's broker does), a
district node imports its part for the site (``rabbitmqctl import_definitions``); the two
shovels run as the link's user, an intake event crosses up and a coordination event down,
and the link metrics read it all as their own (monitoring) user."""

import json
import os
import uuid

import pika
import pytest
import requests

from services.common import link_metrics, links
from tests.integration.helpers import wait_for
from tests.unit.test_deploy_site import PASSWORDS, load_module
from tools import edge
from tools.private_infra import RabbitNode, free_port_block

pytestmark = pytest.mark.integration

SITE = "XJK"
ADMIN_PASSWORD = "site-admin-pw-0123"
LINK_PASSWORD = "link-pw-0123456789"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    base = tmp_path_factory.mktemp("site-definitions")
    ports = free_port_block(10)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:4]}"
    renderer = load_module("definitions")
    district = RabbitNode(
        f"bancheng-sd-district-{tag}@localhost",
        ports[0],
        ports[1],
        (ports[2], ports[3]),
        base / "district",
    )
    district.start()
    district_part = base / "district-part.json"
    district_part.write_text(json.dumps(renderer.district_definitions(SITE, LINK_PASSWORD)))
    district_uri = (
        f"amqp://{renderer.link_user(SITE)}:{LINK_PASSWORD}@127.0.0.1:{district.amqp_port}/bancheng"
    )
    site_file = base / "site.json"
    site_file.write_text(
        json.dumps(renderer.site_definitions(SITE, ADMIN_PASSWORD, PASSWORDS, [district_uri]))
    )
    site = RabbitNode(
        f"bancheng-sd-site-{tag}@localhost",
        ports[4],
        ports[5],
        (ports[6], ports[7]),
        base / "site",
        plugins=edge.SITE_PLUGINS,
        config_lines=(
            f"management.tcp.port = {ports[8]}",
            "management.tcp.ip = 127.0.0.1",
            f"load_definitions = {site_file}",
        ),
    )
    try:
        district.ctl("import_definitions", str(district_part))
        # the test's own hands at the district: guest, to publish coordination's events
        district.ctl("set_permissions", "-p", "bancheng", "guest", ".*", ".*", ".*")
        site.start()
        yield {
            "district": district,
            "site": site,
            "district_uri": district_uri,
            "management": ports[8],
        }
    finally:
        site.stop()
        district.stop()


def connect(port: int, user: str, password: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(
        pika.ConnectionParameters(
            "127.0.0.1", port, "bancheng", pika.PlainCredentials(user, password)
        )
    )


def collecting(connection, exchange: str, key: str) -> str:
    channel = connection.channel()
    name = f"crossed-{uuid.uuid4().hex[:6]}"
    channel.queue_declare(name, durable=True)
    channel.queue_bind(name, exchange, routing_key=key)
    return name


def received(port: int, user: str, password: str, queue: str):
    connection = connect(port, user, password)
    try:
        method, _, body = connection.channel().basic_get(queue, auto_ack=True)
        return json.loads(body) if method else None
    finally:
        connection.close()


def test_the_site_loads_its_link_at_boot_and_both_ways_cross(nodes):
    site, district = nodes["site"], nodes["district"]
    api = f"http://127.0.0.1:{nodes['management']}/api"
    admin = ("bancheng-admin", ADMIN_PASSWORD)

    # nobody logs in as guest at the site; the shovels are there from the start and run
    assert requests.get(f"{api}/overview", auth=("guest", "guest"), timeout=10).status_code == 401

    def shovels():
        listed = requests.get(f"{api}/shovels/bancheng", auth=admin, timeout=10).json()
        return {item["name"]: item.get("state") for item in listed}

    wait_for(lambda: shovels() == dict.fromkeys(links.shovel_names(SITE), "running"), 60, 0.5)

    at_district = pika.BlockingConnection(pika.URLParameters(
        f"amqp://guest:guest@127.0.0.1:{district.amqp_port}/bancheng"
    ))  # fmt: skip
    at_site = connect(site.amqp_port, *admin)
    try:
        up_queue = collecting(at_district, "intake.events", "case_registered")
        down_queue = collecting(at_site, "coordination.events", "case_classified")
        # the site's intake publishes as itself; coordination at the district
        intake = connect(site.amqp_port, "bancheng-intake", PASSWORDS["intake"])
        intake.channel().basic_publish(
            "intake.events", "case_registered", json.dumps({"n": "up"}).encode()
        )
        intake.close()
        at_district.channel().basic_publish(
            "coordination.events", "case_classified", json.dumps({"n": "down"}).encode()
        )
    finally:
        at_district.close()
        at_site.close()
    got_up = wait_for(lambda: received(district.amqp_port, "guest", "guest", up_queue), 30, 0.3)
    got_down = wait_for(lambda: received(site.amqp_port, *admin, down_queue), 30, 0.3)
    assert got_up == {"n": "up"} and got_down == {"n": "down"}

    # the link metrics read the shovels, the site's queue and the district's as their own users
    watched = links.SiteLink(
        site=SITE,
        site_amqp_uri=(
            f"amqp://bancheng-link-metrics:{PASSWORDS['link-metrics']}@127.0.0.1:"
            f"{site.amqp_port}/bancheng"
        ),
        site_management_url=(
            f"http://bancheng-link-metrics:{PASSWORDS['link-metrics']}@127.0.0.1:"
            f"{nodes['management']}/"
        ),
        district_amqp_uris=[nodes["district_uri"]],
    )
    reading = link_metrics.LinkCollector(watched).sample()
    assert reading.up
    assert reading.backlog == {"to_district": 0, "from_district": 0}
    assert reading.oldest == {"to_district": 0.0, "from_district": 0.0}
