"""The service's shape: the entrypoints others call keep their names, the use cases and event
descriptions import no framework, driver or broker, and only common writes outbox rows and
timeline entries."""

import ast
import inspect

import pytest
from nameko.events import EventHandler
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.rpc import Rpc
from nameko.timer import Timer

from services.coordination.service import CoordinationService
from tests.unit.test_architecture import SERVICES

COORDINATION = SERVICES / "coordination"
# called by the gateway, intake and the tests by these names (an RPC's name is its route)
RPCS = {
    "classify_case",
    "explain",
    "add_measure",
    "record_measure_response",
    "pause_deadline",
    "resume_deadline",
    "reply",
    "resolve",
    "close",
    "archive",
    "reopen",
    "convene_meeting",
    "record_minutes",
    "deliver_assignment",
    "list_meetings",
    "get_meeting",
    "refusals",
    "review_refusal",
    "refusal_report",
    "bad_rating",
    "verify_bad_rating",
    "appeal_bad_rating",
    "decide_bad_rating_appeal",
    "rectify_bad_rating",
    "answer_bad_rating",
    "re_rate_bad_rating",
    "case_deadlines",
    "deadlines_of_cases",
    "case_summary",
    "case_timeline",
    "promote_practice",
    "practices_for",
    "list_practices",
    "scan_deadlines",
    "reload_calendar",
    "ping",
}


def entrypoints(kind) -> set:
    return {
        (name, entrypoint)
        for name, method in inspect.getmembers(CoordinationService)
        for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ())
        if isinstance(entrypoint, kind)
    }


def test_the_entrypoints_keep_their_names():
    assert {name for name, _ in entrypoints(Rpc)} == RPCS
    # a consumer's method name is part of its queue's name: renaming one strands its queue
    consumers = {(name, e.source_service, e.event_type) for name, e in entrypoints(EventHandler)}
    assert consumers == {
        ("on_case_registered", "intake", "case_registered"),
        ("on_cases_registered", "intake", "cases_registered"),
        ("on_return_visit_recorded", "intake", "return_visit_recorded"),
    }
    assert {name for name, _ in entrypoints(Timer)} == {"deadline_clock", "calendar_check"}


@pytest.mark.parametrize(
    "name", ["service.py", "handlers.py", "handover.py", "events.py", "bad_ratings.py"]
)
def test_only_common_writes_the_outbox_and_the_timeline(name):
    tree = ast.parse((COORDINATION / name).read_text(encoding="utf-8"))
    imported = {
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert ("services.common", "timeline") not in imported
    assert ("services.common.outbox", "add_event") not in imported
    assert not called & {"add_entry", "add_event", "execute"}, "SQL and records live elsewhere"
