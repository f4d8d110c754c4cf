"""Joint meetings are read by site (issue 12, item 6): a role bound to a site sees only the
meetings about a case of its site, in the list and one by one (404 otherwise); district-wide
roles see them all."""

import pytest

from services.common.errors import NotFound
from services.coordination import handlers
from tests.unit.coordination.test_handlers import BUREAU, CASE_NO, HALL_STAFF, OFFICER, hand_over

pytest_plugins = ["tests.unit.coordination.test_handlers"]  # clock, store, uow, rules

XJK_CASE = "XW-20260930-00002-XJK"
XJK_STAFF = {"id": "S0002", "name": "陈志刚", "role": "window_staff", "site": "XJK"}
HR = {"id": "S0039", "name": "人事", "role": "hr", "site": "HALL"}


def convene(uow, rules, case_no) -> dict:
    handlers.classify_case(uow, rules, case_no, {"type": "pending", "reason": "职责不清"}, OFFICER)
    body = {
        "case_nos": [case_no],
        "departments": ["FCJ", "SCJ"],
        "scheduled_at": "2026-10-09T09:00:00+08:00",
    }
    return handlers.convene_meeting(uow, rules, body, BUREAU)


@pytest.fixture
def meetings(uow, rules):
    hand_over(uow)
    hand_over(uow, XJK_CASE, site="XJK", window="W01")
    return convene(uow, rules, CASE_NO)["id"], convene(uow, rules, XJK_CASE)["id"]


def listed(uow, actor, **filters) -> list[int]:
    return [m["id"] for m in handlers.list_meetings(uow, filters, actor)]


def test_window_staff_list_only_their_sites_meetings(uow, meetings):
    hall, xjk = meetings
    assert listed(uow, HALL_STAFF) == [hall]
    assert listed(uow, XJK_STAFF) == [xjk]
    assert listed(uow, XJK_STAFF, case_no=CASE_NO) == []  # not even when asked by case
    assert listed(uow, HR) == [hall]
    assert listed(uow, OFFICER) == listed(uow, BUREAU) == [xjk, hall]


def test_another_sites_meeting_is_not_found_for_window_staff(uow, meetings):
    hall, xjk = meetings
    assert handlers.get_meeting(uow, hall, HALL_STAFF)["id"] == hall
    with pytest.raises(NotFound) as error:
        handlers.get_meeting(uow, xjk, HALL_STAFF)
    assert error.value.field == "id"
    assert handlers.get_meeting(uow, xjk, OFFICER)["id"] == xjk


def test_a_role_bound_to_no_site_sees_no_meeting(uow, meetings):
    nowhere = {**HALL_STAFF, "site": None}
    assert listed(uow, nowhere) == []
    with pytest.raises(NotFound):
        handlers.get_meeting(uow, meetings[0], nowhere)
