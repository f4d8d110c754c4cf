"""Intake's reach and bounds (issue 12, item 6): an idempotency key reused at another site,
the feedback channels' replays kept per site, registration at another site, how far back a
form's ``received_at`` may lie, and the case list's ``limit`` under the common paging rule."""

from datetime import timedelta

import pytest

from services.common import paging
from services.common.errors import Conflict, Forbidden, InvalidField
from tests.unit.intake.test_handlers import HALL_STAFF, OFFICER, XJK_STAFF, form, rating

pytest_plugins = ["tests.unit.intake.test_handlers"]  # the ``intake`` fixture

XJK_FORM = {"site": "XJK", "window": "W01", "matter": "M002", "first_receiver": "S0002"}


def received(intake, **back) -> str:
    return (intake.uow.now() - timedelta(**back)).isoformat()


# -- idempotency replays ------------------------------------------------------------------------


def test_a_key_reused_at_another_site_is_a_conflict_not_that_sites_case(intake):
    hall = intake.register(form(), actor=HALL_STAFF, key="shared-key")
    with pytest.raises(Conflict) as error:
        intake.register(form(**XJK_FORM), actor=XJK_STAFF, key="shared-key")
    assert error.value.field == "idempotency_key"
    assert hall["case_no"] not in str(error.value)
    assert list(intake.store.cases) == [hall["case_no"]]  # no second case under the key


def test_a_key_replays_for_whoever_may_see_its_case(intake):
    first = intake.register(form(), actor=HALL_STAFF, key="k-2")
    assert intake.register(form(), actor=HALL_STAFF, key="k-2")["replayed"] is True
    again = intake.register(form(), actor=OFFICER, key="k-2")  # district-wide
    assert again["case_no"] == first["case_no"] and again["replayed"] is True


def test_feedback_answers_are_kept_per_site(intake):
    hall = intake.feedback(rating(), actor=HALL_STAFF, key="fb")
    xjk = intake.feedback(
        rating(site="XJK", window="W01", matter="M002"), actor=XJK_STAFF, key="fb"
    )
    assert xjk["replayed"] is False and xjk["case_no"] != hall["case_no"]
    assert intake.feedback(rating(), actor=HALL_STAFF, key="fb") == {**hall, "replayed": True}


# -- registration at another site ---------------------------------------------------------------


def test_window_staff_register_at_their_own_site_only(intake):
    with pytest.raises(Forbidden) as error:
        intake.register(form(**XJK_FORM), actor=HALL_STAFF)
    assert error.value.field == "site" and intake.store.cases == {}
    assert intake.register(form(**XJK_FORM), actor=OFFICER)["site"] == "XJK"


# -- how far back received_at may lie -----------------------------------------------------------


def test_received_at_within_the_window_is_taken_from_anyone(intake):
    case = intake.register(form(received_at=received(intake, days=2, hours=23)), actor=HALL_STAFF)
    [event] = intake.uow.events("case_registered")
    assert case["case_no"] and event.data["backdate_reason"] is None


def test_received_at_beyond_the_window_is_refused_to_window_staff_even_with_a_reason(intake):
    with pytest.raises(InvalidField) as error:
        intake.register(
            form(received_at=received(intake, days=3, minutes=1), backdate_reason="补录"),
            actor=HALL_STAFF,
        )
    assert error.value.field == "received_at" and "3 天" in str(error.value)
    assert intake.store.cases == {}


def test_an_officer_backdates_only_saying_why_and_the_reason_is_recorded(intake):
    old = received(intake, days=21)
    with pytest.raises(InvalidField) as error:
        intake.register(form(received_at=old), actor=OFFICER)
    assert error.value.field == "backdate_reason"
    with pytest.raises(InvalidField):
        intake.register(form(received_at=old, backdate_reason="   "), actor=OFFICER)
    intake.register(form(received_at=old, backdate_reason="纸质登记簿补录"), actor=OFFICER)
    [event] = intake.uow.events("case_registered")
    assert event.data["backdate_reason"] == "纸质登记簿补录"
    assert event.timeline_text == "事项已登记（intake，补录：纸质登记簿补录）"


def test_the_window_is_the_registrars_setting(intake):
    intake.registrar = type(intake.registrar)(
        **{**intake.registrar.__dict__, "received_at_max_back": timedelta(days=10)}
    )
    intake.register(form(received_at=received(intake, days=9)), actor=HALL_STAFF)
    with pytest.raises(InvalidField):
        intake.register(form(received_at=received(intake, days=11)), actor=HALL_STAFF)


# -- the case list's limit ----------------------------------------------------------------------


def test_the_case_list_limit_is_cut_to_the_common_maximum(intake):
    seen = {}
    intake.store.list_cases = lambda **query: seen.update(query) or []
    from services.intake import handlers

    handlers.list_cases(intake.uow, {"limit": "1000000"}, OFFICER)
    assert seen["limit"] == paging.MAX_LIMIT
    handlers.list_cases(intake.uow, {}, OFFICER)
    assert seen["limit"] == paging.DEFAULT_LIMIT
    with pytest.raises(InvalidField) as error:
        handlers.list_cases(intake.uow, {"limit": "0"}, OFFICER)
    assert error.value.field == "limit"


def test_only_window_staff_and_officers_register_from_the_form(intake):
    for role in ("bureau", "supervisor", "operator", "hr"):
        with pytest.raises(Forbidden):
            intake.register(form(), actor={**OFFICER, "role": role})
    assert intake.store.cases == {}


def test_a_site_bound_role_without_a_site_lists_no_case(intake):
    intake.register(form(), actor=HALL_STAFF)
    from services.intake import handlers

    hr = {"id": "S0039", "name": "马丽君", "role": "hr", "site": None}
    assert handlers.list_cases(intake.uow, {}, hr) == []
    assert len(handlers.list_cases(intake.uow, {}, OFFICER)) == 1
