"""Events that cannot be lost: outbox, relay with confirms, idempotent consumers."""

import json
import uuid

import pytest
from kombu.exceptions import OperationalError
from nameko.amqp.publish import Publisher
from nameko.constants import PERSISTENT
from nameko.standalone.events import get_event_exchange

from services.accountability.service import AccountabilityService
from services.common.consumer import consumes
from services.common.events import new_event
from services.common.outbox import BatchPublisher, ConfirmsMissing, publish_pending, signed_by
from services.common.postgres import DatabaseProvider
from services.common.rpc import SignedClusterRpcProxy
from services.coordination.service import CoordinationService
from services.intake.service import IntakeService
from services.reporting.service import ReportingService
from tests.integration.helpers import running, wait_for

pytestmark = pytest.mark.integration

CONSUMER_SCHEMAS = ("coordination", "accountability", "reporting")
OFFICER = {"id": "S0004", "name": "officer", "role": "officer", "site": "HALL"}


def registration(**overrides):
    from stdnum.cn import ric

    base = "32010219851120403"
    payload = {
        "site": "HALL",
        "window": "W01",
        "matter": "M001",
        "department": "SCJ",
        "channel": "window",
        "applicant": {
            "kind": "person",
            "name": "李四",
            "id_number": base + ric.calc_check_digit(base + "0"),
            "phone": "13812345678",
        },
        "description": "企业开办时住所证明不被认可",
        "first_receiver": "S0001",
    }
    payload.update(overrides)
    return payload


def timeline_count(db, schema, case_no):
    with db.connection() as conn:
        return conn.execute(
            f"SELECT count(*) AS n FROM {schema}.timeline WHERE case_no = %s", (case_no,)
        ).fetchone()["n"]


def test_registration_reaches_every_consumer_once_even_when_redelivered(service_config, db):
    services = (IntakeService, CoordinationService, AccountabilityService, ReportingService)
    with running(service_config, *services):
        with SignedClusterRpcProxy(service_config) as rpc:
            case = rpc.intake.register_case(registration(), OFFICER, None)
        case_no = case["case_no"]
        for schema in CONSUMER_SCHEMAS:
            wait_for(lambda schema=schema: timeline_count(db, schema, case_no) == 1)

        with db.connection() as conn:
            row = conn.execute(
                "SELECT payload, published_at FROM intake.outbox WHERE payload->'data'->>'case_no' = %s",
                (case_no,),
            ).fetchone()
        assert row["published_at"] is not None, "marked sent only after the broker confirmed"
        event = row["payload"]
        assert {"id", "type", "version", "occurred_at", "source_site", "data"} <= set(event)
        assert "id_number" not in json.dumps(event["data"]).replace("id_number_masked", "")

        # the broker redelivers the same event three more times: nothing changes
        exchange = get_event_exchange("intake", service_config)
        publisher = Publisher(
            service_config["AMQP_URI"], declare=[exchange], delivery_mode=PERSISTENT
        )
        for _ in range(3):
            publisher.publish(
                event,
                exchange=exchange,
                routing_key="case_registered",
                headers=signed_by(service_config, "intake", event),
            )
        with db.connection() as conn:
            wait_for(
                lambda: all(
                    conn.execute(
                        f"SELECT 1 FROM {schema}.handled_events WHERE event_id = %s", (event["id"],)
                    ).fetchone()
                    for schema in CONSUMER_SCHEMAS
                )
            )
        import time

        time.sleep(0.5)  # give any (wrong) duplicate handling the chance to show
        for schema in CONSUMER_SCHEMAS:
            assert timeline_count(db, schema, case_no) == 1, schema


def _probe_in_outbox(db) -> dict:
    event = new_event("probe", {"n": 1}, source_service="intake", source_site="HALL")
    with db.connection() as conn:
        conn.execute(
            "INSERT INTO intake.outbox (event_id, event_type, payload) VALUES (%s, %s, %s)",
            (event["id"], event["type"], json.dumps(event)),
        )
    return event


def _published_at(db, event: dict):
    with db.connection() as conn:
        return conn.execute(
            "SELECT published_at FROM intake.outbox WHERE event_id = %s", (event["id"],)
        ).fetchone()["published_at"]


def test_relay_keeps_an_event_until_the_broker_confirms_it(service_config, db):
    event = _probe_in_outbox(db)
    exchange = get_event_exchange("intake", service_config)
    unreachable = BatchPublisher("amqp://guest:guest@127.0.0.1:1/", exchange)
    with pytest.raises((OperationalError, OSError)):  # refused: kombu's or the socket's
        publish_pending(db, "intake", unreachable, "intake")
    assert _published_at(db, event) is None, "a failed publish must leave the event to retry"

    working = BatchPublisher(service_config["AMQP_URI"], exchange)
    try:
        assert publish_pending(db, "intake", working, "intake") >= 1
    finally:
        working.close()
    assert _published_at(db, event) is not None


def test_a_round_whose_confirms_do_not_come_in_time_is_published_again(service_config, db):
    """Confirms are awaited once per round: when they do not all come (here: no time at all
    to wait for them), nothing of the round is marked sent, and the next round sends it."""
    event = _probe_in_outbox(db)
    exchange = get_event_exchange("intake", service_config)
    impatient = BatchPublisher(service_config["AMQP_URI"], exchange, confirm_seconds=0)
    with pytest.raises(ConfirmsMissing):
        publish_pending(db, "intake", impatient, "intake")
    assert _published_at(db, event) is None
    assert impatient._connection is None  # dropped: the next round starts on a fresh channel

    patient = BatchPublisher(service_config["AMQP_URI"], exchange)
    try:
        assert publish_pending(db, "intake", patient, "intake") >= 1
    finally:
        patient.close()
    assert _published_at(db, event) is not None


FAILURES = {"left": 1, "deliveries": 0}


class FlakyConsumer:
    """Fails on its first delivery, as when the database is briefly down."""

    name = "flaky"
    db = DatabaseProvider()

    @consumes("flaky_source", "ping")
    def on_ping(self, event):
        FAILURES["deliveries"] += 1
        if FAILURES["left"]:
            FAILURES["left"] -= 1
            raise RuntimeError("database unavailable")
        with self.db.handling_once("reporting", event) as cur:
            if cur is None:
                return False
            cur.execute(
                "INSERT INTO reporting.timeline (case_no, kind, text) VALUES (%s, 'probe', 'ok')",
                (event["data"]["case_no"],),
            )
            return True


def test_a_failed_handler_leaves_the_event_queued_and_it_is_applied_once(service_config, db):
    case_no = f"PROBE-{uuid.uuid4().hex[:8]}"
    event = new_event("ping", {"case_no": case_no}, source_service="flaky_source", source_site=None)
    exchange = get_event_exchange("flaky_source", service_config)
    publisher = Publisher(service_config["AMQP_URI"], declare=[exchange], delivery_mode=PERSISTENT)
    signed = signed_by(service_config, "flaky_source", event)
    with running(service_config, FlakyConsumer):
        publisher.publish(event, exchange=exchange, routing_key="ping", headers=signed)
        wait_for(lambda: timeline_count(db, "reporting", case_no) == 1)
        publisher.publish(
            event, exchange=exchange, routing_key="ping", headers=signed
        )  # a late redelivery
        wait_for(lambda: FAILURES["deliveries"] >= 3)
    assert FAILURES["deliveries"] == 3  # failed, retried and applied, ignored
    assert timeline_count(db, "reporting", case_no) == 1
