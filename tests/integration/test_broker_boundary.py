"""The broker as a trust boundary, attacked with a raw AMQP client (pika) as an intruder would.

A service behind :func:`services.common.rpc.rpc` runs in a vhost of its own; the tests publish
straight to ``nameko-rpc`` with routing key ``boundary_target.<method>`` and read the reply off
their own queue, so nothing of nameko's client side helps them.
"""

import json
import time
import uuid

import pika
import pytest

from services.common import signing
from services.common.consumer import EVENTS_DEAD_LETTERED, consumes
from services.common.dead_letters import list_dead_letters
from services.common.events import new_event
from services.common.outbox import SIGNATURE_HEADER, signed_by
from services.common.rpc import ASSERTION_HEADER, SignedClusterRpcProxy, rpc
from tests.conftest import BASE_CONFIG
from tests.integration.helpers import private_vhost, running, wait_for

pytestmark = pytest.mark.integration

ID_NUMBER = "110101199003074518"
WINDOW = {"id": "S0001", "role": "window", "site": "HALL"}
SUPERVISOR = {"id": "S0009", "role": "supervisor", "site": "HALL"}
APPLIED = []
HEARD = []


class BoundaryTarget:
    name = "boundary_target"

    @rpc
    def confirm(self, item: int, actor: dict) -> dict:
        APPLIED.append((item, actor["id"]))
        return {"item": item, "by": actor["id"]}

    @rpc
    def sites(self) -> list[str]:
        return ["HALL"]

    @rpc
    def register(self, payload: dict, actor: dict) -> dict:
        return {"id_number": payload["id_number"]}


class BoundaryListener:
    """Consumes boundary_source's pings; what it applies is in HEARD."""

    name = "boundary_listener"

    @consumes("boundary_source", "ping")
    def on_ping(self, event):
        HEARD.append(event["id"])
        return True


@pytest.fixture(scope="module")
def config():
    with private_vhost({**BASE_CONFIG, "WEB_SERVER_ADDRESS": "127.0.0.1:0"}, "boundary") as private:
        with running(private, BoundaryTarget, BoundaryListener):
            yield private


@pytest.fixture
def channel(config):
    connection = pika.BlockingConnection(pika.URLParameters(config["AMQP_URI"]))
    yield connection.channel()
    connection.close()


KEY = signing.assertion_key(BASE_CONFIG)


def raw_call(channel, method: str, body: dict, headers: dict | None = None) -> tuple[dict, bytes]:
    """Publish a request as a raw client; the decoded reply and its raw bytes."""
    reply_queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(reply_queue, "nameko-rpc", routing_key=reply_queue)
    correlation_id = str(uuid.uuid4())
    channel.basic_publish(
        "nameko-rpc",
        f"boundary_target.{method}",
        json.dumps(body),
        pika.BasicProperties(
            content_type="application/json",
            reply_to=reply_queue,
            correlation_id=correlation_id,
            headers=headers or {},
        ),
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, properties, raw = channel.basic_get(reply_queue, auto_ack=True)
        if raw is not None and properties.correlation_id == correlation_id:
            return json.loads(raw), raw
        channel.connection.process_data_events(time_limit=0.05)
    raise AssertionError(f"no reply to {method} within 10 s")


def sealed_request(method, args, user, key=KEY, ttl=10.0, now=None):
    sealed = signing.seal(key, {"args": args, "kwargs": {}})
    assertion = signing.sign_assertion(
        key,
        caller="attacker",
        target=f"boundary_target.{method}",
        body_digest=signing.digest(sealed),
        user=user,
        ttl=ttl,
        now=now,
    )
    return {"args": [], "kwargs": {signing.SEALED: sealed}}, {ASSERTION_HEADER: assertion}


def error_of(reply: dict) -> str | None:
    return (reply.get("error") or {}).get("exc_type")


def test_a_request_without_an_assertion_is_refused_and_not_applied(channel):
    APPLIED.clear()
    reply, _ = raw_call(channel, "confirm", {"args": [1, SUPERVISOR], "kwargs": {}})
    assert error_of(reply) == "Unauthorized"
    assert APPLIED == []


def test_an_assertion_signed_with_another_key_is_refused(channel):
    APPLIED.clear()
    body, headers = sealed_request("confirm", [1, SUPERVISOR], SUPERVISOR, key=b"guessed-key" * 3)
    reply, _ = raw_call(channel, "confirm", body, headers)
    assert error_of(reply) == "Unauthorized"
    assert APPLIED == []


def test_a_window_clerks_assertion_cannot_carry_a_forged_supervisor_actor(channel):
    APPLIED.clear()
    # the body's actor is forged, the assertion is the clerk's own
    body, headers = sealed_request("confirm", [1, SUPERVISOR], WINDOW)
    reply, _ = raw_call(channel, "confirm", body, headers)
    assert error_of(reply) == "Forbidden"
    # nor can a captured assertion be put on another body
    _, captured = sealed_request("confirm", [1, WINDOW], WINDOW)
    forged_body, _ = sealed_request("confirm", [1, SUPERVISOR], SUPERVISOR)
    reply, _ = raw_call(channel, "confirm", forged_body, captured)
    assert error_of(reply) == "Unauthorized"
    assert APPLIED == []


def test_a_replayed_expired_assertion_is_refused(channel):
    APPLIED.clear()
    body, headers = sealed_request("confirm", [1, SUPERVISOR], SUPERVISOR, now=time.time() - 60)
    reply, _ = raw_call(channel, "confirm", body, headers)
    assert error_of(reply) == "Unauthorized"
    assert APPLIED == []


def test_the_same_signed_request_published_twice_is_executed_once(channel):
    """A request copied off the wire (body and assertion, both valid and unexpired) and
    published again is refused (403-style, counted): the first one alone ran."""
    from services.common.rpc import RPC_CALLS_REFUSED

    APPLIED.clear()
    refused = RPC_CALLS_REFUSED.labels("boundary_target", "replayed")
    before = refused._value.get()
    body, headers = sealed_request("confirm", [8, SUPERVISOR], SUPERVISOR)
    first, _ = raw_call(channel, "confirm", body, headers)
    again, _ = raw_call(channel, "confirm", body, headers)
    assert first["error"] is None
    assert error_of(again) == "Forbidden"
    assert APPLIED == [(8, "S0009")]
    assert refused._value.get() == before + 1
    # a fresh assertion for the same call is another request, and runs
    body, headers = sealed_request("confirm", [8, SUPERVISOR], SUPERVISOR)
    reply, _ = raw_call(channel, "confirm", body, headers)
    assert reply["error"] is None and APPLIED == [(8, "S0009"), (8, "S0009")]


def test_a_correct_assertion_works_and_the_result_comes_back_sealed(channel):
    APPLIED.clear()
    body, headers = sealed_request("confirm", [7, SUPERVISOR], SUPERVISOR)
    reply, raw = raw_call(channel, "confirm", body, headers)
    assert reply["error"] is None
    assert b"S0009" not in raw
    assert signing.unseal(KEY, reply["result"][signing.SEALED]) == {"item": 7, "by": "S0009"}
    assert APPLIED == [(7, "S0009")]


def test_reference_data_needs_a_service_assertion(channel):
    reply, _ = raw_call(channel, "sites", {"args": [], "kwargs": {}})
    assert error_of(reply) == "Unauthorized"
    body, headers = sealed_request("sites", [], None)
    reply, _ = raw_call(channel, "sites", body, headers)
    assert signing.unseal(KEY, reply["result"][signing.SEALED]) == ["HALL"]


def test_no_clear_id_number_crosses_the_broker(config, channel):
    """What a client bound to nameko-rpc sees of a registration: neither the request nor the
    reply carries the number in clear, while the service and the caller both see it."""
    capture = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(capture, "nameko-rpc", routing_key="boundary_target.register")
    channel.queue_bind(capture, "nameko-rpc", routing_key="#")  # the replies too
    with SignedClusterRpcProxy(config, caller="gateway", timeout=10) as proxy:
        result = proxy.boundary_target.register({"id_number": ID_NUMBER}, WINDOW)
    assert result == {"id_number": ID_NUMBER}
    seen = []
    while True:
        _, properties, raw = channel.basic_get(capture, auto_ack=True)
        if raw is None:
            break
        seen.append(raw + json.dumps(properties.headers or {}).encode())
    assert len(seen) >= 2  # the request and its reply
    assert not [message for message in seen if ID_NUMBER.encode() in message]


def publish_event(channel, event: dict, headers: dict) -> None:
    channel.basic_publish(
        "boundary_source.events",
        "ping",
        json.dumps(event),
        pika.BasicProperties(content_type="application/json", delivery_mode=2, headers=headers),
    )


def dead_lettered(kind: str) -> float:
    return EVENTS_DEAD_LETTERED.labels("boundary_listener", "ping", kind)._value.get()


def ping() -> dict:
    return new_event("ping", {"case_no": "X1"}, source_service="boundary_source", source_site=None)


def test_forged_events_are_dead_lettered_counted_and_never_applied(config, channel):
    HEARD.clear()
    unsigned, forged, genuine = ping(), ping(), ping()
    before = dead_lettered("unsigned"), dead_lettered("bad_signature")
    publish_event(channel, unsigned, {})
    # signed by another service's key: a service cannot speak for another
    publish_event(channel, forged, signed_by(config, "intake", forged))
    publish_event(channel, genuine, signed_by(config, "boundary_source", genuine))
    wait_for(lambda: genuine["id"] in HEARD)
    wait_for(lambda: len(list_dead_letters(config["AMQP_URI"], ["boundary_listener"])) >= 2)
    assert HEARD == [genuine["id"]]
    assert (dead_lettered("unsigned"), dead_lettered("bad_signature")) == (
        before[0] + 1,
        before[1] + 1,
    )
    letters = {letter.id for letter in list_dead_letters(config["AMQP_URI"], ["boundary_listener"])}
    assert {unsigned["id"], forged["id"]} <= letters


def test_a_signed_event_edited_on_the_way_is_dead_lettered(config, channel):
    HEARD.clear()
    event = ping()
    headers = signed_by(config, "boundary_source", event)
    edited = {**event, "data": {"case_no": "X2"}}
    before = dead_lettered("bad_signature")
    publish_event(channel, edited, headers)
    wait_for(lambda: dead_lettered("bad_signature") == before + 1)
    assert HEARD == []
    assert SIGNATURE_HEADER in headers
