"""A batch of registrations (intake's ``cases_registered``) on real PostgreSQL: one transaction,
the chain's tail locked and read once, the same rows, notes and audit entries as the same cases
registered one by one; the chain verifies after it; a redelivered batch changes nothing.

The batch is handed to the use case through the service's own unit of work (the service role,
the MAC'd store, the on_record hook), as its consumer does after the broker and the signature
check; tests/integration/test_accountability_events.py has the broker's side of consuming.
"""

import functools
import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest

from services.accountability import audit, handlers
from services.accountability.checkpoints import CheckpointJournal
from services.accountability.dependencies import (
    DEFAULT_SERVICE_ROLE,
    AuditedStore,
    ServiceRoleDatabase,
)
from services.accountability.domain import Rules
from services.accountability.rules import load_assessment_points, load_sanction_rules
from services.common.events import new_event
from services.common.unit_of_work import UnitOfWork
from tests.conftest import BASE_CONFIG

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = Rules(load_sanction_rules(), load_assessment_points(), SHANGHAI)
OCCURRED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=SHANGHAI)


@pytest.fixture
def keys():
    return audit.keys_from(BASE_CONFIG)


@pytest.fixture
def uow(db, keys):
    """The unit of work AuditedUnitOfWorkProvider gives the service's workers."""
    return UnitOfWork(
        ServiceRoleDatabase(db, DEFAULT_SERVICE_ROLE),
        schema="accountability",
        service="accountability",
        store_module=AuditedStore(keys),
        on_record=functools.partial(audit.record_decision_entry, keys=keys),
    )


def case_data(case_no: str, receiver: str, level: int) -> dict:
    """A case a bad rating opened: the data of its case_registered."""
    return {
        "case_no": case_no,
        "site": "HALL",
        "window": "W01",
        "matter": "M001",
        "department": "SCJ",
        "channel": "rating",
        "applicant_kind": "person",
        "id_number_masked": None,
        "first_receiver": receiver,
        "first_asked_by": receiver,
        "description": "差评：办事等待时间过长",
        "received_at": "2026-03-02T09:00:00+08:00",
        "backdate_reason": None,
        "registered_by": receiver,
        "repeat_of": None,
        "requires_return_visit": True,
        "feedback_id": f"FB-{case_no}",
        "rated_staff": receiver,
        "rating_level": level,
    }


def intake_event(event_type: str, data: dict, site="HALL") -> dict:
    return new_event(
        event_type, data, source_service="intake", source_site=site, occurred_at=OCCURRED_AT
    )


def rows(db, sql: str, *params) -> list[dict]:
    with db.connection() as conn:
        return conn.execute(sql, params).fetchall()


def state_of(db, case_nos: list[str]) -> dict:
    """What accountability holds of the cases: first responsibility, notes, audit entries."""
    return {
        "first": rows(
            db,
            "SELECT case_no, site_code, first_receiver, first_asked_by, received_at, closed_at "
            "FROM accountability.first_responsibility WHERE case_no = ANY(%s) ORDER BY case_no",
            case_nos,
        ),
        "notes": rows(
            db,
            "SELECT case_no, actor, kind, text, data FROM accountability.timeline "
            "WHERE case_no = ANY(%s) ORDER BY id",
            case_nos,
        ),
        "audit": [
            {**row, "content": json.loads(row["content"])}  # the canonical JSON that is MAC'd
            for row in rows(
                db,
                "SELECT seq, at, actor, role, action, case_no, subject, content, source_event_id "
                "FROM accountability.audit_log WHERE case_no = ANY(%s) ORDER BY seq",
                case_nos,
            )
        ],
    }


def test_a_batch_is_the_same_cases_registered_one_by_one_and_the_chain_verifies(
    db, uow, keys, database_url, tmp_path
):
    run = uuid.uuid4().hex[:6]
    single_nos = [f"XW-S{run}-{i}" for i in range(4)]
    batch_nos = [f"XW-B{run}-{i}" for i in range(4)]
    receivers, levels = ["S0001", "S0002", "S0003", "S0001"], [1, 2, 1, 2]
    # the last case of each set is known already, under another first receiver
    for case_no in (single_nos[-1], batch_nos[-1]):
        known = intake_event("case_registered", case_data(case_no, "S0009", 1))
        assert handlers.consume(uow, RULES, "intake", known) is True

    for case_no, receiver, level in zip(single_nos, receivers, levels, strict=True):
        single = intake_event("case_registered", case_data(case_no, receiver, level))
        assert handlers.consume(uow, RULES, "intake", single) is True
    batch = intake_event(
        "cases_registered",
        {
            "cases": [
                case_data(case_no, receiver, level)
                for case_no, receiver, level in zip(batch_nos, receivers, levels, strict=True)
            ]
        },
    )
    assert handlers.consume(uow, RULES, "intake", batch) is True

    one_by_one, batched = state_of(db, single_nos), state_of(db, batch_nos)
    assert len(batched["first"]) == 4 and len(batched["notes"]) == 4
    assert batched["first"][-1]["first_receiver"] == "S0009"  # a known case is skipped
    assert len(batched["audit"]) == 5  # the known case's registration, then the batch's four
    # the batch's entries: consecutive (one transaction), in the list's order, each recording
    # an id derived from the batch's id and its case number
    entries = batched["audit"][1:]
    assert [e["seq"] for e in entries] == list(range(entries[0]["seq"], entries[0]["seq"] + 4))
    assert [e["case_no"] for e in entries] == batch_nos
    namespace = uuid.UUID(batch["id"])
    assert [str(e["source_event_id"]) for e in entries] == [
        str(uuid.uuid5(namespace, case_no)) for case_no in batch_nos
    ]
    assert {e["content"]["event_type"] for e in entries} == {"case_registered"}
    # the same rows, notes and entries as the singles (case numbers aside)
    for part in ("first", "notes", "audit"):
        assert len(batched[part]) == len(one_by_one[part])
        for got, expected in zip(batched[part], one_by_one[part], strict=True):
            assert same_but_case_no(got, expected), (part, got, expected)

    # a redelivered batch changes nothing
    assert handlers.consume(uow, RULES, "intake", batch) is False
    assert state_of(db, batch_nos) == batched

    trail = audit.AuditTrail(keys, CheckpointJournal(tmp_path / "checkpoints.log", keys), None)
    result = audit.verify(database_url, trail)
    assert result.ok, audit.describe(result)


def same_but_case_no(got: dict, expected: dict) -> bool:
    """Two rows of two sets of cases are the same but for their case numbers (and the
    feedback ids made of them), the chain's sequence number and the source event's id."""

    def plain(row):
        row = {k: v for k, v in row.items() if k not in ("seq", "source_event_id", "case_no")}
        if "content" in row:
            row["content"] = {
                k: v for k, v in row["content"].items() if k not in ("case_no", "feedback_id")
            }
        return row

    return plain(got) == plain(expected)


def test_a_batch_takes_the_chain_lock_once_with_the_statement_that_records_it(db, uow, monkeypatch):
    """The batch's transaction reads the chain's tail once (handle_event_once, its first
    statement, sent with the BEGIN); every other write goes with the COMMIT: two round trips
    for the whole batch."""
    run = uuid.uuid4().hex[:6]
    batch = intake_event(
        "cases_registered",
        {"cases": [case_data(f"XW-L{run}-{i}", "S0001", 1) for i in range(5)]},
        site=None,
    )
    sent = []
    real = psycopg.Cursor.execute

    def counting(self, query, *args, **kwargs):
        sent.append(str(query))
        return real(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    assert handlers.consume(uow, RULES, "intake", batch) is True
    monkeypatch.undo()
    assert len(sent) == 2, sent
    assert sent[0].startswith("BEGIN; ") and "handle_event_once" in sent[0]
    assert sent[1].rstrip().endswith("COMMIT")
    assert sent[1].count("INSERT INTO accountability.audit_log") == 5
    assert sent[1].count("INSERT INTO accountability.first_responsibility") == 5
    assert "locked_audit_tail" not in sent[1]
