"""The real unit of work on PostgreSQL: a state change, its event and its timeline entry are
committed together or not at all, and a consumed event is handled once."""

import uuid

import pytest

from services.common.decisions import Decision
from services.common.events import new_event
from services.common.postgres import Database
from services.common.unit_of_work import UnitOfWork

pytestmark = pytest.mark.integration


# A service schema the running test system does not consume from; its relay may publish the
# probe events below to an exchange nobody reads. Case numbers are the test's own.
SCHEMA = "reporting"


@pytest.fixture
def case_table(db):
    name = f"public.uow_cases_{uuid.uuid4().hex[:8]}"
    with db.connection() as conn:
        conn.execute(f"CREATE TABLE {name} (case_no text PRIMARY KEY, state text)")
    yield name
    with db.connection() as conn:
        conn.execute(f"DROP TABLE {name}")


class CaseStore:
    """A store module's shape: functions taking the cursor first."""

    table = ""

    @staticmethod
    def set_state(cur, case_no, state):
        cur.execute(
            f"INSERT INTO {CaseStore.table} VALUES (%s, %s) "
            "ON CONFLICT (case_no) DO UPDATE SET state = EXCLUDED.state",
            (case_no, state),
        )


def counts(db, case_table, case_no):
    with db.connection() as conn:
        return tuple(
            conn.execute(sql, (case_no,)).fetchone()["n"]
            for sql in (
                f"SELECT count(*) AS n FROM {case_table} WHERE case_no = %s",
                f"SELECT count(*) AS n FROM {SCHEMA}.outbox WHERE payload->'data'->>'case_no' = %s",
                f"SELECT count(*) AS n FROM {SCHEMA}.timeline WHERE case_no = %s",
            )
        )


def unit_of_work(db, case_table):
    CaseStore.table = case_table
    return UnitOfWork(Database(db), schema=SCHEMA, service="test", store_module=CaseStore)


def classified(case_no):
    return Decision(
        "uow_probe",
        {"case_no": case_no, "type": "hard"},
        site="HALL",
        case_no=case_no,
        actor="S0004",
        timeline_kind="classified",
        timeline_text="分类为不好办",
    )


def test_state_event_and_timeline_commit_together_or_not_at_all(db, case_table):
    uow = unit_of_work(db, case_table)
    case_no = f"XW-UOW-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError):
        with uow.begin():
            uow.store.set_state(case_no, "classified")
            uow.record(classified(case_no))
            raise RuntimeError("a later step failed")
    assert counts(db, case_table, case_no) == (0, 0, 0)

    with uow.begin():
        uow.store.set_state(case_no, "classified")
        event = uow.record(classified(case_no))
    assert counts(db, case_table, case_no) == (1, 1, 1)
    assert event["type"] == "uow_probe" and event["source_service"] == "test"


def test_a_consumed_event_is_handled_once(db, case_table):
    uow = unit_of_work(db, case_table)
    case_no = f"XW-UOW-{uuid.uuid4().hex[:8]}"
    event = new_event("uow_probe", {"case_no": case_no}, source_service="test", source_site="HALL")
    applied = 0
    for _ in range(3):
        with uow.handling_once(event) as work:
            if work is not None:
                work.store.set_state(case_no, "registered")
                applied += 1
    assert applied == 1 and counts(db, case_table, case_no)[0] == 1


def test_the_store_is_bound_only_inside_a_transaction(db, case_table):
    uow = unit_of_work(db, case_table)
    assert uow.store is None
    with uow.begin():
        assert uow.store is not None
    assert uow.store is None


def test_many_decisions_are_written_as_one_would_be(db, case_table):
    uow = unit_of_work(db, case_table)
    case_nos = [f"XW-UOW-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    with pytest.raises(RuntimeError):
        with uow.begin():
            uow.record_all([classified(case_no) for case_no in case_nos])
            raise RuntimeError("a later step failed")
    assert [counts(db, case_table, no)[1:] for no in case_nos] == [(0, 0)] * 3

    with uow.begin():
        written = uow.record_all([classified(case_no) for case_no in case_nos])
        [single] = uow.record_all([classified(f"{case_nos[0]}-1")])
    assert [counts(db, case_table, no)[1:] for no in case_nos] == [(1, 1)] * 3
    assert counts(db, case_table, f"{case_nos[0]}-1")[1:] == (1, 1)
    with db.connection() as conn:
        stored = conn.execute(
            f"SELECT payload FROM {SCHEMA}.outbox WHERE event_id = %s", (written[1]["id"],)
        ).fetchone()["payload"]
        entry = conn.execute(
            f"SELECT actor, kind, text, data FROM {SCHEMA}.timeline WHERE case_no = %s",
            (case_nos[1],),
        ).fetchone()
    assert stored == written[1] and stored["data"] == {"case_no": case_nos[1], "type": "hard"}
    assert entry == {"actor": "S0004", "kind": "classified", "text": "分类为不好办", "data": {}}
    assert single["source_service"] == "test"
