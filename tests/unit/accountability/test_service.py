"""The service's shape: one consumer per consumed event, named as its queue always was; use
cases and event descriptions free of nameko, psycopg and the broker."""

import inspect

from nameko.events import EventHandler
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from services.accountability import events
from services.accountability.service import AccountabilityService


def test_every_consumed_event_has_one_consumer_named_on_its_type():
    consumers = {
        (name, entrypoint.source_service, entrypoint.event_type)
        for name, method in inspect.getmembers(AccountabilityService)
        for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ())
        if isinstance(entrypoint, EventHandler)
    }
    # the method's name is part of its queue's name: renaming one would strand its queue
    assert consumers == {(f"on_{kind}", source, kind) for source, kind in events.CONSUMED}
    assert ("on_case_registered", "intake", "case_registered") in consumers
