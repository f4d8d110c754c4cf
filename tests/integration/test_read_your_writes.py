"""Read your own writes between intake and coordination, on real RabbitMQ and PostgreSQL.

A step on a case whose ``case_registered`` event has not reached coordination yet fetches the
event from intake and applies it once; the delivery that follows, a racing delivery or a racing
instance change nothing. The event is held back for real: coordination's consumer is left out
(``restrict_entrypoints``) while the event waits in its queue.

The module runs in a database and a vhost of its own: in the session's, the end-to-end system's
coordination would take the registrations' events at once, and nothing would be held back.
"""

import os
import uuid
from contextlib import ExitStack, contextmanager

import eventlet
import pika
import psycopg
import pytest
import requests
from nameko.containers import ServiceContainer
from nameko.testing.services import restrict_entrypoints
from prometheus_client import REGISTRY

import services.gateway.http  # noqa: F401  (domain errors come back over RPC as themselves)
from services.common.config import REPO_ROOT
from services.common.errors import Conflict, NotFound
from services.common.rpc import SignedClusterRpcProxy
from services.coordination.service import CoordinationService
from services.intake.seed import load_seed
from services.intake.service import IntakeService
from tests.integration.helpers import wait_for
from tests.integration.test_outbox_and_consumers import registration
from tools import sandbox

pytestmark = pytest.mark.integration

OFFICER = {"id": "S0004", "name": "张建国", "role": "officer", "site": "HALL"}
HALL_STAFF = {"id": "S0001", "name": "王雅婷", "role": "window_staff", "site": "HALL"}
BUREAU = {"id": "S0005", "name": "周立新", "role": "bureau", "site": None}
CLASSIFICATION = {"type": "hard", "reason": "缺少非关键材料", "complex": False}
# coordination without its case_registered consumer: the event waits in its queue
WITHOUT_REGISTRATIONS = (
    "classify_case",
    "case_summary",
    "case_timeline",
    "case_deadlines",
    "convene_meeting",
    "practices_for",
    "on_return_visit_recorded",
)
# coordination's queue of intake's case_registered (its name may carry a suffix such as
# the queue type's): found by this prefix in the module's vhost
REGISTRATIONS_QUEUE = "evt-intake-case_registered--coordination.on_case_registered"


@pytest.fixture(scope="module")
def world(service_config):
    """A database and a vhost for this module alone, migrated and seeded."""
    name = f"bancheng_test_ryow_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    management = service_config["RABBIT_MANAGEMENT_URL"]
    url = sandbox.create_database(service_config["DATABASE_URL"], name)
    load_seed(url, REPO_ROOT / "deploy" / "seed" / "xuanwu")
    amqp_uri = sandbox.create_vhost(service_config["AMQP_URI"], management, name)
    settings = {"PRACTICES_TIMEOUT_SECONDS": 0.3, "DB_POOL_MIN": 1, "DB_POOL_MAX": 6}
    config = {
        **service_config,
        "DATABASE_URL": url,
        "AMQP_URI": amqp_uri,
        "BANCHENG": {**service_config["BANCHENG"], **settings},
    }
    try:
        # coordination's event queues exist from here on (durable), consumed or not
        with containers(config, CoordinationService):
            pass
        queues = requests.get(
            f"{management.rstrip('/')}/api/queues/{name}?columns=name", timeout=10
        ).json()
        [queue] = [q["name"] for q in queues if q["name"].startswith(REGISTRATIONS_QUEUE)]
        yield {**config, "REGISTRATIONS_QUEUE": queue}
    finally:
        sandbox.delete_vhost(management, name)
        sandbox.drop_database(url)


@contextmanager
def containers(config, *plans):
    """Run containers of ``plans`` (a service class, or (class, entrypoint names to keep))."""
    with ExitStack() as stack:
        for plan in plans:
            cls, keep = plan if isinstance(plan, tuple) else (plan, None)
            container = ServiceContainer(cls, config)
            if keep:
                restrict_entrypoints(container, *keep)
            container.start()
            stack.callback(container.stop)
        yield


@pytest.fixture(scope="module")
def held_back(world):
    """Intake and a coordination instance without the case_registered consumer, for the
    module (stopping a container takes seconds)."""
    with containers(world, IntakeService, (CoordinationService, WITHOUT_REGISTRATIONS)):
        yield


@pytest.fixture
def rpc(world, held_back):
    with SignedClusterRpcProxy(world, timeout=30) as proxy:
        yield proxy


def query(world, sql: str, *params) -> list[tuple]:
    with psycopg.connect(world["DATABASE_URL"]) as conn:
        return conn.execute(sql, params).fetchall()


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def deliveries(outcome: str) -> float:
    return metric(
        "bancheng_events_handled_total",
        service="coordination",
        event_type="case_registered",
        outcome=outcome,
    )


def fetched() -> float:
    return metric("bancheng_coordination_handovers_fetched_total")


@contextmanager
def broker_channel(world):
    connection = pika.BlockingConnection(pika.URLParameters(world["AMQP_URI"]))
    try:
        yield connection.channel()
    finally:
        connection.close()


def waiting_registrations(world) -> int:
    """Messages ready in coordination's case_registered queue (pika, outside nameko)."""
    with broker_channel(world) as channel:
        declared = channel.queue_declare(world["REGISTRATIONS_QUEUE"], passive=True)
        return declared.method.message_count


@pytest.fixture(autouse=True)
def no_registration_waiting(world):
    """Each test starts with no earlier test's event in coordination's queue."""
    with broker_channel(world) as channel:
        channel.queue_purge(world["REGISTRATIONS_QUEUE"])


def registered_and_waiting(world, rpc, payload=None, *, feedback=False) -> tuple[str, str]:
    """Register a case through intake; returns (case_no, event id) once its event was
    published and sits unconsumed in coordination's queue."""
    if feedback:
        case_no = rpc.intake.submit_feedback(payload, HALL_STAFF, None)["case_no"]
    else:
        case_no = rpc.intake.register_case(payload or registration(), OFFICER, None)["case_no"]
    wait_for(
        lambda: query(
            world,
            "SELECT 1 FROM intake.outbox WHERE event_type = 'case_registered' "
            "AND payload->'data'->>'case_no' = %s AND published_at IS NOT NULL",
            case_no,
        )
    )
    [(event_id,)] = query(
        world,
        "SELECT event_id::text FROM intake.outbox WHERE event_type = 'case_registered' "
        "AND payload->'data'->>'case_no' = %s",
        case_no,
    )
    assert not query(world, "SELECT 1 FROM coordination.cases WHERE case_no = %s", case_no)
    return case_no, event_id


def coordination_record(world, case_no: str) -> dict:
    """Everything coordination holds about a case, to compare before and after a delivery."""
    return {
        "case": query(
            world,
            "SELECT state, case_type, received_at FROM coordination.cases WHERE case_no = %s",
            case_no,
        ),
        "timeline": query(
            world,
            "SELECT id, kind, text FROM coordination.timeline WHERE case_no = %s ORDER BY id",
            case_no,
        ),
        "deadlines": query(
            world,
            "SELECT id, kind, due_at, warn_at FROM coordination.deadlines WHERE case_no = %s "
            "ORDER BY id",
            case_no,
        ),
        "events": query(
            world,
            "SELECT event_type FROM coordination.outbox WHERE payload->'data'->>'case_no' = %s "
            "ORDER BY position",
            case_no,
        ),
    }


def test_a_step_before_the_delivery_opens_the_case_and_the_delivery_changes_nothing(world, rpc):
    case_no, event_id = registered_and_waiting(world, rpc)
    assert waiting_registrations(world) == 1
    before = fetched()

    summary = rpc.coordination.classify_case(case_no, CLASSIFICATION, OFFICER)

    assert summary["state"] == "classified" and summary["type"] == "hard"
    assert fetched() == before + 1
    record = coordination_record(world, case_no)
    opened = [kind for _, kind, _ in record["timeline"] if kind == "opened"]
    assert opened == ["opened"]
    assert record["deadlines"], "classification started the case's deadlines"
    assert query(world, "SELECT 1 FROM coordination.handled_events WHERE event_id = %s", event_id)
    duplicates = deliveries("duplicate")
    # now the consumer runs and takes the event that waited in its queue
    with containers(world, CoordinationService):
        wait_for(lambda: deliveries("duplicate") == duplicates + 1)
    assert waiting_registrations(world) == 0
    assert coordination_record(world, case_no) == record, "the delivery changed nothing"
    assert record["events"].count(("case_classified",)) == 1


def test_a_case_nobody_registered_stays_not_found(world, rpc):
    before = fetched()
    with pytest.raises(NotFound) as error:
        rpc.coordination.classify_case("XW-20260101-99999-HALL", CLASSIFICATION, OFFICER)
    assert error.value.field == "case_no" and "XW-20260101-99999-HALL" in error.value.message
    with pytest.raises(NotFound):
        rpc.coordination.case_summary("XW-20260101-99999-HALL")
    assert fetched() == before


def test_the_case_flow_is_shown_before_the_delivery(world, rpc):
    case_no, _ = registered_and_waiting(world, rpc)
    summary = rpc.coordination.case_summary(case_no)
    assert summary["state"] == "registered" and summary["type"] is None
    [(kind,)] = query(world, "SELECT kind FROM coordination.timeline WHERE case_no = %s", case_no)
    assert kind == "opened"


def test_a_meeting_on_a_case_not_delivered_yet_names_its_real_state(world, rpc):
    case_no, _ = registered_and_waiting(world, rpc)
    meeting = {
        "case_nos": [case_no],
        "departments": ["SCJ"],
        "scheduled_at": "2031-03-03T09:00:00+08:00",
    }
    # not "does not exist": the case exists and is simply not classified `pending` yet
    with pytest.raises(Conflict):
        rpc.coordination.convene_meeting(meeting, BUREAU)
    assert query(world, "SELECT 1 FROM coordination.cases WHERE case_no = %s", case_no)


def test_a_return_visit_delivered_before_the_registration_is_kept(world, rpc):
    applicant = {"kind": "person", "name": "钱七", "phone": "13700001111"}
    rating = {
        "channel": "rating",
        "site": "HALL",
        "window": "W02",
        "matter": "M001",
        "level": 1,
        "text": "窗口人员态度冷淡",
        "applicant": applicant,
    }
    case_no, _ = registered_and_waiting(world, rpc, rating, feedback=True)
    rpc.intake.record_return_visit(case_no, {"satisfied": True, "notes": "已回访"}, HALL_STAFF)

    def visit_recorded():
        return query(
            world,
            "SELECT requires_return_visit FROM coordination.cases "
            "WHERE case_no = %s AND return_visit_at IS NOT NULL",
            case_no,
        )

    assert wait_for(visit_recorded) == [(True,)]
    kinds = query(
        world, "SELECT kind FROM coordination.timeline WHERE case_no = %s ORDER BY id", case_no
    )
    assert kinds == [("opened",), ("return_visit",)]
    duplicates = deliveries("duplicate")
    with containers(world, CoordinationService):  # the registration's delivery: no-op
        wait_for(lambda: deliveries("duplicate") == duplicates + 1)
    assert visit_recorded() == [(True,)]


def blocked_registration_inserts(world) -> int:
    [(n,)] = query(
        world,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE '%%INSERT INTO coordination.handled_events%%'",
    )
    return n


def test_racing_fetches_and_the_delivery_apply_the_registration_once(world, rpc):
    """Three classifications (on two instances) and the consumer reach the handled-events
    insert together; the registration is applied once and the case classified once."""
    racers = 3
    case_no, event_id = registered_and_waiting(world, rpc)
    handled, duplicates, before = deliveries("handled"), deliveries("duplicate"), fetched()
    with ExitStack() as stack:
        # hold every handled-events insert at the door, then let them all in at once
        gate = stack.enter_context(psycopg.connect(world["DATABASE_URL"]))
        gate.execute("LOCK TABLE coordination.handled_events IN EXCLUSIVE MODE")
        stack.enter_context(containers(world, CoordinationService))  # the consumer
        stack.callback(gate.rollback)  # on any failure the gate opens before stop waits
        calls = [
            rpc.coordination.classify_case.call_async(case_no, CLASSIFICATION, OFFICER)
            for _ in range(racers)
        ]
        wait_for(lambda: blocked_registration_inserts(world) == racers + 1, timeout=15)
        gate.commit()
        outcomes = []
        for call in calls:
            try:
                outcomes.append(call.result()["state"])
            except Conflict as error:
                outcomes.append(type(error).__name__)
        wait_for(
            lambda: deliveries("handled") + deliveries("duplicate") == handled + duplicates + 1
        )
        eventlet.sleep(0.2)  # room for a wrong second application to show

    assert sorted(outcomes) == ["Conflict"] * (racers - 1) + ["classified"]
    applied = (deliveries("handled") - handled) + (fetched() - before)
    assert applied == 1, "the registration was applied exactly once"
    record = coordination_record(world, case_no)
    assert [kind for _, kind, _ in record["timeline"]].count("opened") == 1
    assert record["events"].count(("case_classified",)) == 1
    assert query(
        world, "SELECT count(*) FROM coordination.handled_events WHERE event_id = %s", event_id
    ) == [(1,)]
