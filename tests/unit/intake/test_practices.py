"""Intake's copy of coordination's standard practices: kept from practice_promoted events (and
copied once from coordination for those promoted before), shown with each registration."""

import uuid

from services.intake import handlers
from tests.unit.intake.test_handlers import OFFICER, form


def promoted(practice_id: int, matter: str = "M001", **data) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": "practice_promoted",
        "source_service": "coordination",
        "data": {
            "practice_id": practice_id,
            "matter": matter,
            "windows": ["W01"],
            "title": f"做法 {practice_id}",
            "description": "视频连线确认房东身份",
            "case_no": None,
            "actor": "S0004",
            "at": "2026-09-30T10:00:00+08:00",
            **data,
        },
    }


def test_a_registration_shows_its_matters_practices_newest_first(intake):
    for practice_id, matter in ((1, "M001"), (2, "M002"), (3, "M001")):
        assert handlers.record_practice(intake.uow, promoted(practice_id, matter)) is True
    case = intake.register()
    assert [p["id"] for p in case["practices"]] == [3, 1]
    [newest, _] = case["practices"]
    assert newest == {
        "id": 3,
        "matter": "M001",
        "windows": ["W01"],
        "title": "做法 3",
        "description": "视频连线确认房东身份",
        "case_no": None,
        "created_by": "S0004",
        "created_at": "2026-09-30T10:00:00+08:00",
    }


def test_a_replayed_registration_shows_them_too(intake):
    handlers.record_practice(intake.uow, promoted(1))
    intake.register(key="k-1")
    again = handlers.register_case(intake.uow, intake.registrar, form(), OFFICER, "k-1")
    assert again["replayed"] is True and [p["id"] for p in again["practices"]] == [1]


def test_a_matter_without_practices_shows_none(intake):
    assert intake.register()["practices"] == []


def test_a_redelivered_event_changes_nothing(intake):
    event = promoted(1)
    assert handlers.record_practice(intake.uow, event) is True
    assert handlers.record_practice(intake.uow, event) is False
    assert list(intake.store.practices) == [1]


def test_an_event_from_before_the_description_was_sent_is_kept_without_one(intake):
    event = promoted(4)
    del event["data"]["description"]
    handlers.record_practice(intake.uow, event)
    assert intake.store.practices[4]["description"] is None


def coordination_list(practices: list[dict]):
    """coordination.list_practices as intake calls it: newest first, a page after ``cursor``."""
    ordered = sorted(practices, key=lambda p: p["id"], reverse=True)
    calls = []

    def list_page(cursor):
        calls.append(cursor)
        after = [p for p in ordered if cursor is None or p["id"] < cursor]
        return after[: handlers.PRACTICES_PAGE]

    return list_page, calls


def practice(practice_id: int) -> dict:
    return {
        "id": practice_id,
        "matter": "M001",
        "windows": ["W01"],
        "title": f"做法 {practice_id}",
        "description": "…",
        "case_no": None,
        "created_by": "S0004",
        "created_at": "2026-09-01T10:00:00+08:00",
    }


def test_practices_promoted_before_are_copied_once_page_by_page(intake):
    existing = [practice(n) for n in range(1, handlers.PRACTICES_PAGE + 6)]
    list_page, calls = coordination_list(existing)
    handlers.record_practice(intake.uow, promoted(3))  # an event brought one of them already
    assert handlers.sync_practices(intake.uow, list_page) == len(existing) - 1
    assert calls == [None, 6]  # a full page, then the rest after its last id
    assert sorted(intake.store.practices) == [p["id"] for p in existing]
    # done: later ticks only look at the mark
    assert handlers.sync_practices(intake.uow, list_page) is None
    assert len(calls) == 2


def test_a_failed_copy_is_tried_again_in_full(intake):
    def coordination_away(cursor):
        raise ConnectionError("coordination is down")

    try:
        handlers.sync_practices(intake.uow, coordination_away)
    except ConnectionError:
        pass
    assert intake.store.practices_copied is False
    list_page, _ = coordination_list([practice(1)])
    assert handlers.sync_practices(intake.uow, list_page) == 1
