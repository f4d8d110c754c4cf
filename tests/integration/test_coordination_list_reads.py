"""Coordination's reads for pages on real PostgreSQL and RabbitMQ: many cases' deadlines in one
call, and a case's summary naming the actions it allows now and who may take them."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from nameko.testing.services import entrypoint_hook

from services.common.errors import InvalidField
from services.coordination.service import CoordinationService
from tests.integration.helpers import running

pytestmark = pytest.mark.integration

OFFICER = {"id": "S0004", "name": "张建国", "role": "officer", "site": "HALL"}


def open_case(db) -> str:
    """A case as coordination records it from intake's case_registered."""
    case_no = f"XW-L-{uuid.uuid4().hex[:10]}-HALL"
    with db.connection() as conn:
        conn.execute(
            "INSERT INTO coordination.cases (case_no, site_code, window_code, matter_code, "
            "department_code, channel, received_at, first_receiver) "
            "VALUES (%s, 'HALL', 'W01', 'M001', 'SCJ', 'window', %s, 'S0001')",
            (case_no, datetime.now(UTC) - timedelta(hours=1)),
        )
    return case_no


def test_deadlines_of_many_cases_in_one_call_match_each_cases_own(service_config, db):
    hard, pending, untouched = open_case(db), open_case(db), open_case(db)
    # hooks call this very container: other coordination instances may share the RPC queue
    with running(service_config, CoordinationService) as [container]:
        with entrypoint_hook(container, "classify_case") as classify:
            classify(hard, {"type": "hard", "reason": "非关键材料缺失", "complex": False}, OFFICER)
            classify(pending, {"type": "pending", "reason": "职责不清", "complex": True}, OFFICER)
        with entrypoint_hook(container, "deadlines_of_cases") as deadlines_of_cases:
            found = deadlines_of_cases([hard, pending, untouched, "XW-NOT-THERE"])
            with pytest.raises(InvalidField):
                deadlines_of_cases(["XW-1"] * 201)
        with entrypoint_hook(container, "case_deadlines") as case_deadlines:
            one_by_one = {no: case_deadlines(no) for no in (hard, pending, untouched)}
    assert set(found) == {hard, pending, untouched, "XW-NOT-THERE"}
    assert found[untouched] == [] and found["XW-NOT-THERE"] == []
    assert found[hard] and found[pending]
    for case_no, deadlines in one_by_one.items():
        assert [d["id"] for d in found[case_no]] == [d["id"] for d in deadlines]
        assert all(d["case_no"] == case_no for d in found[case_no])
    assert {d["working_days"] for d in found[pending] if d["stage"] == "reply"} == {5}


def test_the_summary_names_what_the_case_allows_and_who_may_do_it(service_config, db):
    case_no = open_case(db)
    with running(service_config, CoordinationService) as [container]:
        with entrypoint_hook(container, "case_summary") as case_summary:
            registered = case_summary(case_no)
        with entrypoint_hook(container, "classify_case") as classify:
            classified = classify(
                case_no, {"type": "pending", "reason": "职责不清", "complex": False}, OFFICER
            )
        with entrypoint_hook(container, "case_summary") as case_summary:
            pending = case_summary(case_no)
    assert registered["allowed_actions"] == ["classify"]
    assert registered["acting_roles"] == ["officer"]
    # a pending case waits for its joint meeting's minutes: nothing to reply or resolve yet
    assert classified["allowed_actions"] == pending["allowed_actions"] == []
    assert pending["acting_roles"] == ["officer", "bureau"]
