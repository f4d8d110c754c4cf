"""In-memory stand-ins for the service layer's ports, for fast tests of the handlers.

:class:`FakeUnitOfWork` keeps the promises of :class:`services.common.unit_of_work.UnitOfWork`:
what a block records is committed only when the block ends without an error, and the store's
state is rolled back with it; a consumed event is handled once.
"""

import copy
import uuid
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from services.common.decisions import Decision

SHANGHAI = ZoneInfo("Asia/Shanghai")


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime | None = None):
        self.current = now or datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)

    def __call__(self) -> datetime:
        return self.current


class FakeUnitOfWork:
    def __init__(self, store, clock: FakeClock | None = None):
        self.store = store
        self.clock = clock or FakeClock()
        self.committed: list[Decision] = []
        self.notes: list[dict] = []
        self.handled_event_ids: set[str] = set()
        self._pending: list[Decision] | None = None

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def begin(self):
        if self._pending is not None:  # nested: part of the outer transaction
            yield self
            return
        saved = copy.deepcopy(self.store.__dict__)
        notes_before = len(self.notes)
        self._pending = []
        try:
            yield self
        except BaseException:
            self.store.__dict__ = saved
            del self.notes[notes_before:]
            raise
        else:
            self.committed.extend(self._pending)
        finally:
            self._pending = None

    @contextmanager
    def handling_once(self, event: dict):
        if event["id"] in self.handled_event_ids:
            yield None
            return
        with self.begin():
            self.handled_event_ids.add(event["id"])
            try:
                yield self
            except BaseException:  # rolled back with the handler's writes: handled again later
                self.handled_event_ids.discard(event["id"])
                raise

    def record(self, decision: Decision) -> dict:
        assert self._pending is not None, "a decision is recorded inside a transaction"
        self._pending.append(decision)
        return {"id": str(uuid.uuid4()), "type": decision.event_type, "data": decision.data}

    def record_all(self, decisions: list[Decision]) -> list[dict]:
        return [self.record(decision) for decision in decisions]

    def record_batch(self, batch: Decision, parts: list[Decision]) -> dict:
        event = self.record(batch)
        for part in parts:
            if part.timeline_kind and part.case_no:
                self.note(part.case_no, part.actor, part.timeline_kind, part.timeline_text)
        return event

    def note(self, case_no: str, actor: str | None, kind: str, text: str, data=None) -> None:
        assert self._pending is not None, "a timeline entry is written inside a transaction"
        self.notes.append({"case_no": case_no, "actor": actor, "kind": kind, "text": text})

    def events(self, event_type: str | None = None) -> list[Decision]:
        """The committed decisions, of one type when given."""
        return [d for d in self.committed if event_type in (None, d.event_type)]
