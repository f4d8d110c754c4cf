"""The service's shape: the RPCs and consumers others rely on keep their names; use cases and
event descriptions are free of nameko, psycopg and the broker; the entrypoints stay thin."""

import ast
import inspect

from nameko.events import EventHandler
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.rpc import Rpc

from services.intake.service import IntakeService
from tests.unit.test_architecture import SERVICES

# the gateway's, coordination's (read your own writes) and the health checks' calls
RPCS = {
    "authenticate", "sites", "departments", "matters", "staff", "register_case", "get_case",
    "list_cases", "case_timeline", "registration_event", "add_helper", "record_return_visit",
    "submit_feedback", "submit_ratings_batch", "ping", "session_version", "end_sessions",
    "change_password",
    # Open311 GeoReport v2 (the gateway's /open311/v2)
    "open311_services", "open311_service_definition", "open311_submit", "open311_requests",
    "open311_request",
}  # fmt: skip
CONSUMED = ("case_state_changed", "case_classified", "deadline_breached", "case_replied",
            "case_resolved", "practice_promoted")  # fmt: skip


def entrypoints(kind) -> set:
    return {
        (name, entrypoint)
        for name, method in inspect.getmembers(IntakeService)
        for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ())
        if isinstance(entrypoint, kind)
    }


def test_the_rpcs_keep_their_names():
    assert {name for name, _ in entrypoints(Rpc)} == RPCS


def test_every_consumed_event_has_one_consumer_named_on_its_type():
    consumers = {(name, e.source_service, e.event_type) for name, e in entrypoints(EventHandler)}
    # the method's name is part of its queue's name: renaming one would strand its queue
    assert consumers == {(f"on_{kind}", "coordination", kind) for kind in CONSUMED} | {
        # a site node's cases, copied to the district's intake (docs/network.md)
        ("on_site_case_recorded", "intake", "site_case_recorded")
    }


def test_entrypoints_only_hand_over_to_one_use_case():
    tree = ast.parse((SERVICES / "intake" / "service.py").read_text(encoding="utf-8"))
    [service] = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    for method in service.body:
        if not isinstance(method, ast.FunctionDef) or not method.decorator_list:
            continue
        calls = {
            node.func.attr
            for node in ast.walk(method)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "handlers"
        }
        assert len(calls) == 1, f"{method.name} calls {sorted(calls) or 'no use case'}"
