"""RPC queues are quorum queues on real RabbitMQ: their type as the management API reports it,
calls through them, requests expiring in them, and the migration away from classic ones."""

import json
from urllib.parse import quote, urlsplit

import eventlet
import pika
import pytest
import requests
from kombu.exceptions import OperationalError
from nameko import rpc as nameko_rpc

from services.common import event_queues
from services.common.errors import ServiceUnavailable
from services.common.rpc import ServiceRpc, SignedClusterRpcProxy, rpc
from tests.conftest import BASE_CONFIG
from tests.integration.helpers import private_vhost, running

pytestmark = pytest.mark.integration

EXECUTED = []
DEADLINE = 0.5


class QuorumTarget:
    name = "quorum_target"

    @rpc
    def record(self, token):
        EXECUTED.append(token)
        return token


class QuorumCaller:
    name = "quorum_caller"
    target = ServiceRpc("quorum_target", timeout=DEADLINE)

    @rpc
    def call(self, token):
        return self.target.record(token)


@pytest.fixture
def config():
    with private_vhost({**BASE_CONFIG, "WEB_SERVER_ADDRESS": "127.0.0.1:0"}, "qrpc") as private:
        yield private


def queues(config) -> dict[str, dict]:
    """Every queue of the config's vhost, by name, as the management API describes it."""
    parts = urlsplit(BASE_CONFIG["RABBIT_MANAGEMENT_URL"])
    api = f"{parts.scheme}://{parts.hostname}:{parts.port}/api"
    auth = (parts.username or "guest", parts.password or "guest")
    vhost = quote(urlsplit(config["AMQP_URI"]).path.lstrip("/"), safe="")
    found = requests.get(f"{api}/queues/{vhost}", auth=auth, timeout=10).json()
    return {queue["name"]: queue for queue in found}


def test_the_rpc_queue_is_a_durable_quorum_queue_and_reply_queues_stay_classic(config):
    with running(config, QuorumTarget):
        with SignedClusterRpcProxy(config, timeout=10) as proxy:
            assert proxy.quorum_target.record("hello") == "hello"
            described = queues(config)
    queue = described["rpc-quorum_target"]
    assert queue["type"] == "quorum" and queue["durable"] is True
    assert queue["arguments"].get("x-queue-type") == "quorum"
    replies = [q for name, q in described.items() if name.startswith("rpc.reply-")]
    assert replies, "the proxy's reply queue was there while it ran"
    assert all(q["type"] == "classic" for q in replies), replies


def test_a_request_expires_in_the_quorum_queue_and_is_never_executed(config):
    EXECUTED.clear()
    with running(config, QuorumTarget):
        pass  # the quorum queue stays, with no consumer
    assert queues(config)["rpc-quorum_target"]["type"] == "quorum"
    with running(config, QuorumCaller):
        with pytest.raises(ServiceUnavailable):
            with SignedClusterRpcProxy(config, timeout=10) as proxy:
                proxy.quorum_caller.call("given up")
        eventlet.sleep(DEADLINE * 2)  # the request (expiration = deadline) expires in the queue
    # the broker dropped it: a message with an expiration is gone, one without stays
    connection = pika.BlockingConnection(pika.URLParameters(config["AMQP_URI"]))
    channel = connection.channel()
    assert channel.queue_declare("rpc-quorum_target", passive=True).method.message_count == 0
    channel.basic_publish("", "rpc-quorum_target", b"{}", pika.BasicProperties(expiration="200"))
    eventlet.sleep(0.6)
    assert channel.queue_declare("rpc-quorum_target", passive=True).method.message_count == 0
    connection.close()
    with running(config, QuorumTarget, QuorumCaller):
        with SignedClusterRpcProxy(config, timeout=10) as proxy:
            assert proxy.quorum_caller.call("answered") == "answered"
    assert EXECUTED == ["answered"]


def test_migration_replaces_an_idle_classic_rpc_queue_and_refuses_a_busy_one(config):
    services = ("old_style", "still_running")
    connection = pika.BlockingConnection(pika.URLParameters(config["AMQP_URI"]))
    channel = connection.channel()
    for service in services:
        # what an earlier version left: nameko's classic queue, one request waiting in it
        channel.queue_declare(f"rpc-{service}", durable=True)
        channel.basic_publish("", f"rpc-{service}", b"{}", pika.BasicProperties(delivery_mode=1))
    reader = connection.channel()
    reader.basic_consume("rpc-still_running", lambda *args: None)

    with pytest.raises(RuntimeError, match="still read by an earlier version.*rpc-still_running"):
        event_queues.migrate_rpc_queues(config["AMQP_URI"], config, services)
    assert {queues(config)[f"rpc-{s}"]["type"] for s in services} == {"classic"}, "unchanged"
    reader.close()
    connection.process_data_events(0.2)
    report = event_queues.migrate_rpc_queues(config["AMQP_URI"], config, services)
    assert report == [
        f"queues: re-created rpc-{service} as a quorum queue (1 expiring requests dropped)"
        for service in services
    ] + ["queues: 2 quorum RPC queues"]
    assert event_queues.migrate_rpc_queues(config["AMQP_URI"], config, services) == [
        "queues: 2 quorum RPC queues"
    ], "a second run has nothing to replace"
    connection.close()
    assert {queues(config)[f"rpc-{s}"]["type"] for s in services} == {"quorum"}


def test_a_refused_request_whose_reply_is_lost_neither_kills_the_service_nor_stays(
    config, monkeypatch
):
    """What a node stopping under load did: a request redelivered from the quorum queue is
    refused (a replayed assertion) before any worker runs, and its reply is refused by the
    broker (the caller's reply queue was on the stopped node). nameko calls the consumer's
    handle_result directly there: the service must survive it and acknowledge the request."""
    send = nameko_rpc.Responder.send_response
    failed = []

    def send_or_fail(responder, result, exc_info):
        if not failed:
            failed.append(True)
            raise OperationalError("MessageNacked")
        return send(responder, result, exc_info)

    monkeypatch.setattr(nameko_rpc.Responder, "send_response", send_or_fail)
    EXECUTED.clear()
    with running(config, QuorumTarget) as [container]:
        connection = pika.BlockingConnection(pika.URLParameters(config["AMQP_URI"]))
        channel = connection.channel()
        # no seal, no assertion: refused before a worker runs, and its reply fails
        channel.basic_publish(
            "nameko-rpc",
            "quorum_target.record",
            json.dumps({"args": ["forged"], "kwargs": {}}).encode(),
            pika.BasicProperties(
                content_type="application/json", reply_to="nobody", correlation_id="c1"
            ),
        )
        eventlet.sleep(1.0)
        assert failed, "the refusal's reply was attempted"
        assert not container._died.ready(), "the service is still running"
        with SignedClusterRpcProxy(config, timeout=10) as proxy:
            assert proxy.quorum_target.record("after") == "after"
        connection.close()
        state = queues(config)["rpc-quorum_target"]
        assert state.get("messages_unacknowledged", 0) == 0 and state.get("messages", 0) == 0
    assert EXECUTED == ["after"]
