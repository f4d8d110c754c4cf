"""Event queue names and arguments, and what a dead letter says (pure parts)."""

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from services.common import event_queues
from services.common.dead_letters import describe
from services.common.event_queues import EventQueue
from services.common.events import new_event

QUEUE = EventQueue("reporting", "on_case_registered", "intake", "case_registered")


def test_names_of_the_quorum_queue_its_legacy_and_its_exchange():
    assert QUEUE.legacy_name == "evt-intake-case_registered--reporting.on_case_registered"
    assert QUEUE.name == QUEUE.legacy_name + ".quorum"
    assert QUEUE.exchange == "intake.events"
    assert event_queues.dead_letter_queue("reporting") == "dlq-reporting"


@pytest.mark.parametrize("name", [QUEUE.name, QUEUE.legacy_name])
def test_a_queue_name_says_which_handler_reads_it(name):
    assert EventQueue.from_name(name) == QUEUE


@pytest.mark.parametrize("name", ["dlq-reporting", "rpc-intake", "evt-intake--x.y", "evt-a-b--c"])
def test_other_names_stand_for_no_event_queue(name):
    assert EventQueue.from_name(name) is None


def test_arguments_make_a_quorum_queue_that_dead_letters_to_its_service():
    assert event_queues.queue_arguments("intake", 30) == {
        "x-queue-type": "quorum",
        "x-delivery-limit": 30,
        "x-dead-letter-exchange": "bancheng.dead-letters",
        "x-dead-letter-routing-key": "intake",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def test_the_delivery_limit_is_configurable_and_rides_out_a_short_outage():
    assert event_queues.delivery_limit({}) == event_queues.DEFAULT_DELIVERY_LIMIT >= 20
    assert event_queues.delivery_limit({"BANCHENG": {"EVENT_DELIVERY_LIMIT": "5"}}) == 5


def test_every_handler_of_every_service_has_its_queue():
    queues = [
        q for cls in event_queues.consuming_services() for q in event_queues.event_queues(cls)
    ]
    by_service = {}
    for queue in queues:
        by_service.setdefault(queue.service, []).append(queue)
    assert set(by_service) == set(event_queues.CONSUMING_SERVICES)
    assert len({q.name for q in queues}) == len(queues)
    assert QUEUE in by_service["reporting"]
    assert all(q.method.startswith("on_") for q in queues)


def dead(queue: str, reason: str, count: int = 1, when=datetime(2026, 12, 1, 9, 0, tzinfo=UTC)):
    return {
        "x-death": [
            {
                "count": count,
                "reason": reason,
                "queue": queue,
                "time": when,
                "exchange": "intake.events",
            }
        ],
        "x-first-death-reason": reason,
        "x-first-death-queue": queue,
    }


def test_a_rejected_event_is_described_with_what_is_wrong():
    event = new_event(
        "case_registered", {"site": "HALL"}, source_service="intake", source_site=None
    )
    body = json.dumps(event).encode()
    letter = describe("reporting", SimpleNamespace(headers=dead(QUEUE.name, "rejected")), body)
    assert (letter.id, letter.event_type, letter.source) == (
        event["id"],
        "case_registered",
        "intake",
    )
    assert (letter.queue, letter.reason, letter.deaths) == (QUEUE.name, "rejected", 1)
    assert letter.first_death_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert letter.problem == "data.case_no is missing"


def test_garbage_is_described_by_its_queue_and_a_digest():
    letter = describe(
        "reporting",
        SimpleNamespace(headers=dead(QUEUE.name, "rejected"), message_id=None),
        b"\xff{",
    )
    assert letter.id.startswith("sha256:")
    assert (letter.event_type, letter.source) == ("case_registered", "intake")
    assert letter.problem == "not decodable as JSON"


def test_a_handler_that_kept_failing_is_named_and_deaths_add_up():
    event = new_event("ping", {}, source_service="probe", source_site=None)
    headers = dead("evt-probe-ping--svc.on_ping.quorum", "delivery_limit", count=2)
    letter = describe("svc", SimpleNamespace(headers=headers), json.dumps(event).encode())
    assert letter.reason == "delivery_limit" and letter.deaths == 2
    assert "failed on every delivery" in letter.problem
