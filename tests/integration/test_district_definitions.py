"""The district's broker definitions (deploy/district/definitions.py) loaded at boot by a real
RabbitMQ node of our own (``load_definitions``, as every node of the district cluster loads
them): the services' users log in with their passwords, nobody as guest, the policy is set."""

import importlib.util
import json

import pika
import pika.exceptions
import pytest

from services.common import broker_users
from tests.unit.test_district_deploy import DISTRICT
from tools.private_infra import RabbitNode, free_port_block

pytestmark = pytest.mark.integration

PASSWORDS = {service: f"district-{service}-pw-0123" for service in broker_users.SERVICES}
ADMIN_PASSWORD = "district-admin-pw-0123"


def renderer():
    spec = importlib.util.spec_from_file_location(
        "district_definitions", DISTRICT / "definitions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    base = tmp_path_factory.mktemp("district-node")
    definitions = base / "definitions.json"
    definitions.write_text(json.dumps(renderer().definitions(ADMIN_PASSWORD, PASSWORDS)))
    ports = free_port_block(6)
    node = RabbitNode(
        f"bancheng-defs-{ports[0]}@localhost",
        amqp_port=ports[0],
        dist_port=ports[1],
        ctl_ports=(ports[2], ports[5]),
        base_dir=base / "node",
        config_lines=(f"load_definitions = {definitions}",),
    )
    node.start()
    try:
        yield node
    finally:
        node.stop()


def connect(node, user: str, password: str):
    return pika.BlockingConnection(
        pika.ConnectionParameters(
            "127.0.0.1",
            node.amqp_port,
            "bancheng",
            pika.PlainCredentials(user, password),
            connection_attempts=1,
        )
    )


def test_each_service_and_the_administrator_log_in_with_their_passwords(node):
    for service, password in PASSWORDS.items():
        connect(node, broker_users.user_name(service), password).close()
    connect(node, "bancheng-admin", ADMIN_PASSWORD).close()
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        connect(node, "bancheng-intake", "a wrong password")
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        connect(node, "guest", "guest")  # no default user is made


def test_the_permissions_and_the_leader_policy_are_loaded(node):
    permissions = node.ctl("list_permissions", "-p", "bancheng", "--formatter", "json")
    loaded = {entry["user"]: entry for entry in json.loads(permissions)}
    for service in broker_users.SERVICES:
        expected = broker_users.permissions(service)
        entry = loaded[broker_users.user_name(service)]
        assert {k: entry[k] for k in expected} == expected
    policies = json.loads(node.ctl("list_policies", "-p", "bancheng", "--formatter", "json"))
    [policy] = policies
    assert policy["name"] == "quorum-leaders-balanced"
    assert json.loads(policy["definition"]) == {"queue-leader-locator": "balanced"}
