"""Poison events end in a dead-letter queue (real RabbitMQ quorum queues, real PostgreSQL).

Each test works in a RabbitMQ vhost of its own, so its queues — and the delivery limit they
were declared with — meet no other test's.
"""

import json
import uuid
from urllib.parse import quote, urlsplit

import pika
import pytest
import requests
from prometheus_client import REGISTRY

from services import cli
from services.common import dead_letters, event_queues
from services.common.consumer import consumes
from services.common.events import new_event
from services.common.outbox import signed_by
from services.common.postgres import DatabaseProvider
from services.reporting.service import ReportingService
from tests.conftest import BASE_CONFIG, RUN_ID
from tests.integration.helpers import running, wait_for
from tools import sandbox

pytestmark = pytest.mark.integration

LIMIT = 3


@pytest.fixture
def vhost_config(service_config):
    """``service_config`` on a vhost made for this test, with a small delivery limit."""
    management = BASE_CONFIG["RABBIT_MANAGEMENT_URL"]
    name = f"{RUN_ID}_dlq_{uuid.uuid4().hex[:6]}"
    amqp_uri = sandbox.create_vhost(BASE_CONFIG["AMQP_URI"], management, name)
    settings = {
        **service_config["BANCHENG"],
        "EVENT_DELIVERY_LIMIT": LIMIT,
        "DEAD_LETTER_WATCH_SECONDS": 0.2,
    }
    yield {**service_config, "AMQP_URI": amqp_uri, "BANCHENG": settings}
    sandbox.delete_vhost(management, name)


def publish(config, source: str, routing_key: str, body, content_type="application/json"):
    """Publish as a service's outbox does (persistent, confirmed, signed), but any body at all."""
    headers = signed_by(config, source, body) if isinstance(body, dict) else {}
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    connection = pika.BlockingConnection(pika.URLParameters(config["AMQP_URI"]))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare(f"{source}.events", "topic", durable=True)
        channel.basic_publish(
            f"{source}.events",
            routing_key,
            raw,
            pika.BasicProperties(content_type=content_type, delivery_mode=2, headers=headers),
        )
    finally:
        connection.close()


def waiting(config, service: str) -> list:
    return dead_letters.list_dead_letters(config["AMQP_URI"], [service])


def handled(db, schema: str, event_id: str) -> bool:
    with db.connection() as conn:
        return bool(
            conn.execute(
                f"SELECT 1 FROM {schema}.handled_events WHERE event_id = %s", (event_id,)
            ).fetchone()
        )


def probes(db, case_no: str) -> int:
    with db.connection() as conn:
        return conn.execute(
            "SELECT count(*) AS n FROM reporting.timeline WHERE case_no = %s AND kind = 'probe'",
            (case_no,),
        ).fetchone()["n"]


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def registration(case_no: str) -> dict:
    return {
        "case_no": case_no,
        "site": "HALL",
        "window": "W01",
        "matter": "M001",
        "department": "SCJ",
        "channel": "window",
        "applicant_kind": "person",
        "id_number_masked": "320102********4031",
        "first_receiver": "S0001",
        "first_asked_by": "S0001",
        "received_at": "2026-12-01T09:00:00+08:00",
        "registered_by": "S0001",
        "repeat_of": None,
        "requires_return_visit": False,
    }


def test_poison_events_land_in_the_dead_letter_queue_without_being_handled(
    vhost_config, db, monkeypatch, capsys
):
    config = vhost_config
    no_case_no = registration("unused")
    del no_case_no["case_no"]
    bad_data = new_event("case_registered", no_case_no, source_service="intake", source_site="HALL")
    good = new_event(
        "case_registered",
        registration(f"XW-DLQ-{uuid.uuid4().hex[:8]}"),
        source_service="intake",
        source_site="HALL",
    )
    invalid_before = metric(
        "bancheng_events_dead_lettered_total",
        service="reporting",
        event_type="case_registered",
        reason="invalid",
    )
    with running(config, ReportingService):
        publish(config, "intake", "case_registered", {"case_no": "not an envelope"})
        publish(config, "intake", "case_registered", bad_data)
        publish(config, "intake", "case_registered", b"{not json", content_type="application/json")
        publish(config, "intake", "case_registered", good)  # the consumer lives on
        wait_for(lambda: handled(db, "reporting", good["id"]))
        letters = wait_for(
            lambda: (found := waiting(config, "reporting")) and len(found) >= 3 and found
        )
        wait_for(
            lambda: metric("bancheng_dead_letter_queue_messages", service="reporting") == 3,
            timeout=5,
        )

    assert len(letters) == 3
    assert not handled(db, "reporting", bad_data["id"])
    assert {letter.reason for letter in letters} == {"rejected"}
    assert {letter.queue for letter in letters} == {
        "evt-intake-case_registered--reporting.on_case_registered.quorum"
    }
    problems = {letter.problem for letter in letters}
    assert problems == {
        "not an event envelope (missing id, type, version, occurred_at, source_service, data)",
        "data.case_no is missing",
        "not decodable as JSON",
    }
    assert bad_data["id"] in {letter.id for letter in letters}
    invalid_after = metric(
        "bancheng_events_dead_lettered_total",
        service="reporting",
        event_type="case_registered",
        reason="invalid",
    )
    assert invalid_after - invalid_before == 3

    # the operator's view: listing leaves them waiting and shows no clear personal data
    monkeypatch.setenv("AMQP_URI", config["AMQP_URI"])
    monkeypatch.setenv("DATABASE_URL", config["DATABASE_URL"])
    assert cli.main(["dead-letters", "list", "--service", "reporting"]) == 0
    listing = capsys.readouterr().out
    assert bad_data["id"] in listing and "data.case_no is missing" in listing
    assert "3 dead letter(s) in reporting" in listing
    assert len(waiting(config, "reporting")) == 3


FAILING = {"deliveries": 0, "failures_left": 0}


class AlwaysFailing:
    """A handler with a bug: it fails on every delivery."""

    name = "dlq_always_failing"

    @consumes("dlq_probe", "ping")
    def on_ping(self, event):
        FAILING["deliveries"] += 1
        raise RuntimeError("a bug")


def test_a_handler_failing_every_time_sends_its_event_there_after_the_limit(vhost_config):
    config = vhost_config
    FAILING["deliveries"] = 0
    event = new_event("ping", {"n": 1}, source_service="dlq_probe", source_site=None)
    with running(config, AlwaysFailing):
        publish(config, "dlq_probe", "ping", event)
        letters = wait_for(lambda: waiting(config, AlwaysFailing.name), timeout=LIMIT * 2 + 10)
        deliveries = FAILING["deliveries"]
    assert deliveries == LIMIT + 1, "the first delivery and LIMIT redeliveries"
    [letter] = letters
    assert (letter.id, letter.reason, letter.event_type) == (event["id"], "delivery_limit", "ping")
    assert (
        metric(
            "bancheng_events_dead_lettered_total",
            service=AlwaysFailing.name,
            event_type="ping",
            reason="delivery_limit",
        )
        == 1
    )


class SometimesFailing:
    """Fails while ``FAILING['failures_left']`` lasts (the database is briefly down), then
    applies the event once."""

    name = "dlq_sometimes_failing"
    db = DatabaseProvider()

    @consumes("dlq_probe", "pong")
    def on_pong(self, event):
        FAILING["deliveries"] += 1
        if FAILING["failures_left"]:
            FAILING["failures_left"] -= 1
            raise RuntimeError("database unavailable")
        with self.db.handling_once("reporting", event) as cur:
            if cur is None:
                return False
            cur.execute(
                "INSERT INTO reporting.timeline (case_no, kind, text) VALUES (%s, 'probe', 'ok')",
                (event["data"]["case_no"],),
            )
            return True


def test_a_handler_failing_a_few_times_applies_the_event_once_and_nothing_is_dead_lettered(
    vhost_config, db
):
    config = vhost_config
    FAILING.update(deliveries=0, failures_left=LIMIT - 1)
    case_no = f"PROBE-{uuid.uuid4().hex[:8]}"
    event = new_event("pong", {"case_no": case_no}, source_service="dlq_probe", source_site=None)
    with running(config, SometimesFailing):
        publish(config, "dlq_probe", "pong", event)
        wait_for(lambda: probes(db, case_no) == 1, timeout=LIMIT * 2 + 10)
    assert FAILING["deliveries"] == LIMIT
    assert probes(db, case_no) == 1
    assert waiting(config, SometimesFailing.name) == []


def test_republish_after_a_fix_brings_a_dead_letter_back_and_it_is_applied_once(vhost_config, db):
    config = vhost_config
    FAILING.update(deliveries=0, failures_left=10_000)  # broken until "fixed"
    case_no = f"PROBE-{uuid.uuid4().hex[:8]}"
    event = new_event("pong", {"case_no": case_no}, source_service="dlq_probe", source_site=None)
    with running(config, SometimesFailing):
        publish(config, "dlq_probe", "pong", event)
        wait_for(lambda: waiting(config, SometimesFailing.name), timeout=LIMIT * 2 + 10)
        assert probes(db, case_no) == 0

        FAILING["failures_left"] = 0  # the fix is deployed
        sent, missing = dead_letters.republish(
            config["AMQP_URI"], [SometimesFailing.name], {event["id"]}
        )
        assert [letter.id for letter in sent] == [event["id"]] and missing == []
        wait_for(lambda: probes(db, case_no) == 1)

        # re-published twice (an operator's retry): consumers dedupe on the event id
        publish(config, "dlq_probe", "pong", event)
        wait_for(lambda: FAILING["deliveries"] >= LIMIT + 3)
    assert probes(db, case_no) == 1
    assert waiting(config, SometimesFailing.name) == []
    again, missing = dead_letters.republish(
        config["AMQP_URI"], [SometimesFailing.name], {event["id"]}
    )
    assert again == [] and missing == [event["id"]]


def test_migration_moves_what_waits_in_a_legacy_classic_queue_and_keeps_it_when_the_limit_changes(
    vhost_config, db
):
    config = vhost_config
    queues = event_queues.event_queues(ReportingService)
    [queue] = [q for q in queues if q.event_type == "case_registered"]
    waiting_event = new_event(
        "case_registered",
        registration(f"XW-MIG-{uuid.uuid4().hex[:8]}"),
        source_service="intake",
        source_site="HALL",
    )
    # what an earlier version left: nameko's classic queue, bound, with an event waiting
    connection = pika.BlockingConnection(pika.URLParameters(config["AMQP_URI"]))
    channel = connection.channel()
    channel.exchange_declare(queue.exchange, "topic", durable=True)
    channel.queue_declare(queue.legacy_name, durable=True)
    channel.queue_bind(queue.legacy_name, queue.exchange, routing_key=queue.event_type)
    connection.close()
    publish(config, "intake", "case_registered", waiting_event)

    report = event_queues.migrate(config["AMQP_URI"], config, queues)
    assert (
        f"queues: moved 1 messages from {queue.legacy_name} into {queue.name}; deleted it" in report
    )
    assert event_queues.migrate(config["AMQP_URI"], config, queues)[-1].startswith(
        f"queues: {len(queues)} quorum event queues (delivery limit {LIMIT})"
    ), "a second run has nothing to move"

    # a new delivery limit: the queue is re-created and what waits in it is kept
    later_event = new_event(
        "case_registered",
        registration(f"XW-MIG-{uuid.uuid4().hex[:8]}"),
        source_service="intake",
        source_site="HALL",
    )
    publish(config, "intake", "case_registered", later_event)
    raised = {**config, "BANCHENG": {**config["BANCHENG"], "EVENT_DELIVERY_LIMIT": LIMIT + 2}}
    report = event_queues.migrate(config["AMQP_URI"], raised, queues)
    assert f"queues: re-created {queue.name} with new arguments (2 messages kept)" in report

    connection = pika.BlockingConnection(pika.URLParameters(config["AMQP_URI"]))
    channel = connection.channel()
    for gone in (queue.legacy_name, queue.name + event_queues.REBUILD_SUFFIX):
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            channel.queue_declare(gone, passive=True)
        channel = connection.channel()
    connection.close()

    with running(raised, ReportingService):
        wait_for(lambda: handled(db, "reporting", waiting_event["id"]))
        wait_for(lambda: handled(db, "reporting", later_event["id"]))


def close_connections(config) -> int:
    """Close every client connection of the test's vhost, as a lost link would."""
    parts = urlsplit(BASE_CONFIG["RABBIT_MANAGEMENT_URL"])
    api = f"{parts.scheme}://{parts.hostname}:{parts.port}/api"
    auth = (parts.username or "guest", parts.password or "guest")
    vhost = quote(urlsplit(config["AMQP_URI"]).path.lstrip("/"), safe="")
    connections = requests.get(f"{api}/vhosts/{vhost}/connections", auth=auth, timeout=5).json()
    for connection in connections:
        name = quote(connection["name"], safe="")
        requests.delete(f"{api}/connections/{name}", auth=auth, timeout=5)
    return len(connections)


def test_the_event_consumer_reconnects_after_losing_its_connection_and_still_dead_letters(
    vhost_config, db
):
    config = vhost_config
    good = new_event(
        "case_registered",
        registration(f"XW-DLQ-{uuid.uuid4().hex[:8]}"),
        source_service="intake",
        source_site="HALL",
    )
    with running(config, ReportingService):
        wait_for(lambda: close_connections(config) > 0)
        publish(config, "intake", "case_registered", {"not": "an envelope"})
        publish(config, "intake", "case_registered", good)
        wait_for(lambda: handled(db, "reporting", good["id"]), timeout=20)
        wait_for(lambda: len(waiting(config, "reporting")) == 1, timeout=20)
