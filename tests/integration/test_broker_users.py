"""One broker user per service (services.common.broker_users), on a real RabbitMQ.

The users of this test have a prefix of their own and live on a private vhost, so the
machine's shared broker and other sessions never see them; they are deleted at the end.
Services named as the real ones run as their own users (nameko's real queue and exchange
names must fit the regexes), and a raw pika client logged in as one service tries to take
another's resources.
"""

import uuid
from urllib.parse import unquote, urlsplit

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker

from services.common import broker_users
from services.common.consumer import consumes
from services.common.rpc import ServiceRpc, SignedClusterRpcProxy, rpc
from tests.conftest import BASE_CONFIG
from tests.integration.helpers import private_vhost, running

pytestmark = pytest.mark.integration

PREFIX = f"bt{uuid.uuid4().hex[:6]}-"
PASSWORDS = {service: f"pw-{service}-{uuid.uuid4().hex[:8]}" for service in broker_users.SERVICES}
HEARD = []


class Intake:
    name = "intake"

    @rpc
    def echo(self, text: str) -> str:
        return text

    @consumes("coordination", "boundary_probe")
    def on_probe(self, event):
        HEARD.append(event["id"])
        return True


class Gateway:
    name = "gateway"
    intake = ServiceRpc("intake")

    @rpc
    def relay(self, text: str) -> str:
        return self.intake.echo(text)


@pytest.fixture(scope="module")
def vhost_config():
    with private_vhost({**BASE_CONFIG, "WEB_SERVER_ADDRESS": "127.0.0.1:0"}, "users") as config:
        vhost = unquote(urlsplit(config["AMQP_URI"]).path.lstrip("/"))
        management = BASE_CONFIG["RABBIT_MANAGEMENT_URL"]
        broker_users.apply(management, vhost, PASSWORDS, prefix=PREFIX)
        try:
            yield config
        finally:
            broker_users.delete_users(management, PREFIX)


def as_service(config: dict, service: str) -> dict:
    uri = broker_users.amqp_uri_for(config["AMQP_URI"], service, PASSWORDS[service], PREFIX)
    return {**config, "AMQP_URI": uri}


def channel_of(config: dict, service: str):
    uri = as_service(config, service)["AMQP_URI"]
    return pika.BlockingConnection(pika.URLParameters(uri))


def test_services_run_and_call_each_other_as_their_own_users(vhost_config):
    with running(as_service(vhost_config, "intake"), Intake):
        with running(as_service(vhost_config, "gateway"), Gateway):
            with SignedClusterRpcProxy(vhost_config, timeout=10) as admin:
                assert admin.gateway.relay("你好") == "你好"


def test_a_service_user_cannot_take_another_services_rpc_queue(vhost_config):
    with running(as_service(vhost_config, "gateway"), Gateway):
        connection = channel_of(vhost_config, "intake")
        try:
            channel = connection.channel()
            with pytest.raises(ChannelClosedByBroker) as refused:
                channel.basic_consume("rpc-gateway", lambda *args: None)
            assert refused.value.reply_code == 403
        finally:
            connection.close()


def test_a_service_user_cannot_publish_as_another_source_nor_read_its_events(vhost_config):
    with running(as_service(vhost_config, "intake"), Intake):  # declares coordination.events
        connection = channel_of(vhost_config, "reporting")
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            with pytest.raises(ChannelClosedByBroker) as refused:
                channel.basic_publish("coordination.events", "boundary_probe", b"{}")
            assert refused.value.reply_code == 403
            # nor read what another service was sent
            channel = connection.channel()
            with pytest.raises(ChannelClosedByBroker) as refused:
                channel.basic_consume(
                    "evt-coordination-boundary_probe--intake.on_probe.quorum", lambda *a: None
                )
            assert refused.value.reply_code == 403
        finally:
            connection.close()


def test_the_shipped_definitions_are_the_rule():
    import json

    from services.common.config import REPO_ROOT

    shipped = json.loads((REPO_ROOT / broker_users.DEFINITIONS_FILE).read_text())
    assert shipped == broker_users.definitions()
    assert "guest" not in {user["name"] for user in shipped["users"]}
