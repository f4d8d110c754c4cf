"""The event envelope every service publishes and consumes (services/common/events.py)."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.common.events import ENVELOPE_VERSION, REQUIRED_FIELDS, is_envelope, new_event

DATA = {"case_no": "XW-20261129-00042-XJK", "site": "XJK"}


def make(**overrides):
    kwargs = {"source_service": "intake", "source_site": "XJK"}
    kwargs.update(overrides)
    return new_event("case.registered", DATA, **kwargs)


def test_envelope_fields():
    moment = datetime(2026, 11, 29, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    event = make(occurred_at=moment, event_id="evt-1")
    assert event == {
        "id": "evt-1",
        "type": "case.registered",
        "version": ENVELOPE_VERSION,
        "occurred_at": "2026-11-29T09:30:00+08:00",
        "source_service": "intake",
        "source_site": "XJK",
        "data": DATA,
    }


def test_version_defaults_to_the_envelope_version_and_can_be_set():
    assert ENVELOPE_VERSION == 1
    assert make()["version"] == 1
    assert make(version=2)["version"] == 2


def test_id_is_a_uuid_string():
    event_id = make()["id"]
    assert isinstance(event_id, str)
    assert str(uuid.UUID(event_id)) == event_id


def test_ids_are_unique():
    ids = {make()["id"] for _ in range(1000)}
    assert len(ids) == 1000


def test_occurred_at_defaults_to_now_in_utc_with_offset():
    before = datetime.now(UTC)
    occurred_at = datetime.fromisoformat(make()["occurred_at"])
    after = datetime.now(UTC)
    assert occurred_at.utcoffset() == timedelta(0)
    assert before <= occurred_at <= after


def test_source_site_may_be_none():
    event = make(source_site=None)
    assert event["source_site"] is None
    assert is_envelope(event)


def test_source_is_keyword_only():
    with pytest.raises(TypeError):
        new_event("case.registered", DATA, "intake", "XJK")  # type: ignore[misc]


def test_envelope_is_json_serialisable_and_round_trips():
    event = make()
    assert json.loads(json.dumps(event, ensure_ascii=False)) == event


def test_new_event_is_an_envelope():
    assert is_envelope(make())


@pytest.mark.parametrize("missing", REQUIRED_FIELDS)
def test_envelope_missing_a_required_field_is_not_an_envelope(missing):
    event = make()
    del event[missing]
    assert not is_envelope(event)


def test_required_fields_are_the_documented_ones():
    assert set(REQUIRED_FIELDS) == {
        "id",
        "type",
        "version",
        "occurred_at",
        "source_service",
        "data",
    }


def test_source_site_is_not_required():
    event = make()
    del event["source_site"]
    assert is_envelope(event)


@pytest.mark.parametrize(
    "message",
    [None, "case.registered", b"{}", 42, [], ["id", "type"], {}, {"case_no": "XW-1"}],
)
def test_other_messages_are_not_envelopes(message):
    assert not is_envelope(message)


def test_extra_fields_do_not_spoil_an_envelope():
    assert is_envelope({**make(), "trace": "abc"})
