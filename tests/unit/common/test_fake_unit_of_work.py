"""The fake unit of work keeps the real one's promises, or handler tests would prove nothing."""

import pytest

from services.common.decisions import Decision
from tests.unit.fakes import FakeUnitOfWork


class Store:
    def __init__(self):
        self.cases = {}


def test_what_a_failed_block_recorded_or_changed_is_rolled_back():
    uow = FakeUnitOfWork(Store())
    with pytest.raises(RuntimeError):
        with uow.begin():
            uow.store.cases["XW-1"] = {"state": "classified"}
            uow.record(Decision("case_classified", {"case_no": "XW-1"}))
            raise RuntimeError("the database refused")
    assert uow.store.cases == {} and uow.committed == []


def test_a_consumed_event_is_handled_once():
    uow = FakeUnitOfWork(Store())
    event = {"id": "e-1", "type": "case_registered", "data": {}}
    for _ in range(2):
        with uow.handling_once(event) as work:
            if work is not None:
                work.record(Decision("case_opened", {}))
    assert [d.event_type for d in uow.committed] == ["case_opened"]


def test_a_consumed_event_whose_handler_failed_is_handled_on_redelivery():
    uow = FakeUnitOfWork(Store())
    event = {"id": "e-2", "type": "case_registered", "data": {}}
    with pytest.raises(RuntimeError):
        with uow.handling_once(event) as work:
            raise RuntimeError("the database refused")
    with uow.handling_once(event) as work:
        assert work is not None


def test_many_decisions_commit_with_the_block_or_not_at_all():
    uow = FakeUnitOfWork(Store())
    with pytest.raises(RuntimeError):
        with uow.begin():
            uow.record_all([Decision("case_registered", {"case_no": "XW-1"})])
            raise RuntimeError("the database refused")
    with uow.begin():
        uow.record_all([Decision("case_registered", {"case_no": f"XW-{n}"}) for n in (2, 3)])
    assert [d.data["case_no"] for d in uow.events("case_registered")] == ["XW-2", "XW-3"]
