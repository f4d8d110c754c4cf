"""The unit of work every use case runs in (the service layer's one port to its storage).

A use case (a service's ``handlers.py``) receives a unit of work and never sees SQL, cursors or
nameko. Inside ``with uow.begin():`` it reads and changes state through ``uow.store`` (the
service's ``store`` module bound to the transaction: ``uow.store.case_for_update(case_no)``
calls ``store.case_for_update(cursor, case_no)``), asks ``uow.now()`` for the time, and
records what it decided with ``uow.record(decision)``: the event in the outbox, the entry in
the case's timeline and — where the service keeps one — the audit entry, all committed with
the state change or not at all (``uow.note(...)``: a timeline entry with no event). Unit tests hand handlers ``tests.unit.fakes.FakeUnitOfWork``,
which keeps the same promises in memory.
"""

import functools
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime

from nameko.extensions import DependencyProvider

from services.common import timeline
from services.common.decisions import Decision
from services.common.events import new_event
from services.common.outbox import add_event, add_events
from services.common.postgres import Database, PostgresPool


def utc_now() -> datetime:
    return datetime.now(UTC)


def _event_of(decision: Decision, service: str) -> dict:
    return new_event(
        decision.event_type,
        decision.data,
        source_service=service,
        source_site=decision.site,
        version=decision.version,
    )


def record_decision(cursor, schema: str, service: str, decision: Decision, on_record=None) -> dict:
    """Write ``decision``'s event to ``schema``'s outbox and its timeline entry, in the caller's
    transaction; ``on_record(cursor, decision, event)`` adds what the service keeps besides
    (accountability's audit entry). Returns the event envelope."""
    event = _event_of(decision, service)
    add_event(cursor, schema, event)
    if decision.timeline_kind and decision.case_no:
        timeline.add_entry(
            cursor,
            schema,
            decision.case_no,
            decision.actor,
            decision.timeline_kind,
            decision.timeline_text,
            decision.timeline_data,
        )
    if on_record is not None:
        on_record(cursor, decision, event)
    return event


def record_decisions(
    cursor, schema: str, service: str, decisions: list[Decision], on_record=None
) -> list[dict]:
    """Write many decisions (a batch's) as :func:`record_decision` writes each, with one COPY
    for their events and one for their timeline entries (a single one as record_decision does,
    COPY costing more round trips than an INSERT). Returns the event envelopes."""
    if len(decisions) == 1:
        return [record_decision(cursor, schema, service, decisions[0], on_record)]
    events = [_event_of(decision, service) for decision in decisions]
    add_events(cursor, schema, events)
    timeline.add_entries(
        cursor,
        schema,
        [
            (d.case_no, d.actor, d.timeline_kind, d.timeline_text, d.timeline_data)
            for d in decisions
            if d.timeline_kind and d.case_no
        ],
    )
    if on_record is not None:
        for decision, event in zip(decisions, events, strict=True):
            on_record(cursor, decision, event)
    return events


class BoundStore:
    """A ``store`` module whose functions get the transaction's cursor as first argument."""

    def __init__(self, module, cursor):
        self._module = module
        self._cursor = cursor

    def __getattr__(self, name: str):
        return functools.partial(getattr(self._module, name), self._cursor)


class UnitOfWork:
    """Transactions on a service's database, with ``store``, ``now()`` and ``record()``."""

    def __init__(
        self,
        db,
        *,
        schema: str,
        service: str,
        store_module,
        clock: Callable[[], datetime] = utc_now,
        on_record=None,
    ):
        self._db = db
        self.schema = schema
        self.service = service
        self._store_module = store_module
        self._clock = clock
        self._on_record = on_record
        self._cursor = None
        self.store = None

    def now(self) -> datetime:
        return self._clock()

    def ping(self) -> bool:
        """The database answers (for ``/healthz``)."""
        return self._db.ping()

    @contextmanager
    def begin(self):
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self._db.transaction() as cursor:
            with self._bound(cursor):
                yield self

    @contextmanager
    def handling_once(self, event: dict):
        """A transaction for a consumed event: yields this unit of work, or None when the event
        id was handled before (a redelivery), recorded in the same transaction."""
        with self._db.handling_once(self.schema, event) as cursor:
            if cursor is None:
                yield None
                return
            with self._bound(cursor):
                yield self

    def record(self, decision: Decision) -> dict:
        return record_decision(
            self._cursor, self.schema, self.service, decision, on_record=self._on_record
        )

    def record_all(self, decisions: list[Decision]) -> list[dict]:
        """Many decisions at once (a batch's): what :meth:`record` writes, by COPY."""
        return record_decisions(
            self._cursor, self.schema, self.service, decisions, on_record=self._on_record
        )

    def record_batch(self, batch: Decision, parts: list[Decision]) -> dict:
        """One event, ``batch`` (whose data carries the parts'), for several decisions, each of
        which keeps its own timeline entry: a batch's new cases announced together, so every
        consumer checks one signature and takes one transaction for them."""
        event = self.record(batch)
        timeline.add_entries(
            self._cursor,
            self.schema,
            [
                (d.case_no, d.actor, d.timeline_kind, d.timeline_text, d.timeline_data)
                for d in parts
                if d.timeline_kind and d.case_no
            ],
        )
        return event

    def note(self, case_no: str, actor: str | None, kind: str, text: str, data=None) -> None:
        """A timeline entry that announces nothing (e.g. a consumer's record of what it saw)."""
        timeline.add_entry(self._cursor, self.schema, case_no, actor, kind, text, data)

    @contextmanager
    def _bound(self, cursor):
        outer = (self._cursor, self.store)
        self._cursor, self.store = cursor, BoundStore(self._store_module, cursor)
        try:
            yield
        finally:
            self._cursor, self.store = outer


class UnitOfWorkProvider(DependencyProvider):
    """Injects a :class:`UnitOfWork` per worker, on the process's pool; commits that wrote
    events wake the service's outbox relay."""

    pool = PostgresPool()

    def __init__(self, *, schema: str, store_module, relay=None, on_record=None):
        self.schema = schema
        self.store_module = store_module
        self.relay = relay
        self.on_record = on_record

    def get_dependency(self, worker_ctx):
        wake = self.relay.wake if self.relay is not None else None
        return UnitOfWork(
            Database(self.pool.pool, on_commit_with_events=wake),
            schema=self.schema,
            service=self.container.service_name,
            store_module=self.store_module,
            on_record=self.on_record,
        )
