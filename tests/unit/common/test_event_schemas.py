"""Each event type's data fields, checked before a handler runs (services/common/event_schemas.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.config import REPO_ROOT
from services.common.event_schemas import EVENT_DATA, problem
from services.common.events import REQUIRED_FIELDS, new_event

REGISTERED = {
    "case_no": "XW-20261129-00042-XJK",
    "site": "XJK",
    "window": "W01",
    "matter": "M001",
    "department": "SCJ",
    "channel": "window",
    "received_at": "2026-11-29T09:30:00+08:00",
    "first_receiver": "S0001",
}


def registered(**data):
    return new_event(
        "case_registered", {**REGISTERED, **data}, source_service="intake", source_site="XJK"
    )


def batch(*cases):
    return new_event(
        "cases_registered", {"cases": list(cases)}, source_service="intake", source_site=None
    )


def test_a_batch_of_cases_is_checked_case_by_case():
    second = {**REGISTERED, "case_no": "XW-20261129-00043-XJK"}
    assert problem(batch(REGISTERED, second), "intake", "cases_registered") is None
    broken = {key: value for key, value in second.items() if key != "matter"}
    assert problem(batch(REGISTERED, broken), "intake", "cases_registered") == (
        "cases[1].matter is missing"
    )
    late = {**REGISTERED, "received_at": "yesterday"}
    assert problem(batch(late), "intake", "cases_registered") == (
        "cases[0].received_at is not an ISO 8601 time with offset"
    )
    assert problem(batch(), "intake", "cases_registered") == "data.cases is empty"
    nothing = new_event("cases_registered", {}, source_service="intake", source_site=None)
    assert problem(nothing, "intake", "cases_registered") == "data.cases is missing"


def test_a_documented_event_passes():
    assert problem(registered(), "intake", "case_registered") is None


def test_extra_fields_and_a_null_window_pass():
    assert problem(registered(window=None, trace="x"), "intake", "case_registered") is None


@pytest.mark.parametrize("message", [None, "text", 42, [], b"{}", {"case_no": "XW-1"}])
def test_anything_but_an_envelope_is_named_so(message):
    assert problem(message, "intake", "case_registered").startswith("not an event envelope")


@pytest.mark.parametrize("missing", REQUIRED_FIELDS)
def test_an_envelope_field_missing_is_named(missing):
    event = registered()
    del event[missing]
    assert missing in problem(event, "intake", "case_registered")


def test_a_missing_data_field_is_named():
    event = registered()
    del event["data"]["case_no"]
    assert problem(event, "intake", "case_registered") == "data.case_no is missing"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("case_no", "", "data.case_no is not a non-empty text"),
        ("case_no", 42, "data.case_no is not a non-empty text"),
        ("received_at", "yesterday", "data.received_at is not an ISO 8601 time with offset"),
        (
            "received_at",
            "2026-11-29T09:30:00",
            "data.received_at is not an ISO 8601 time with offset",
        ),
        ("window", 7, "data.window is not a non-empty text or null"),
    ],
)
def test_a_data_field_of_the_wrong_kind_is_named_without_its_value(field, value, expected):
    found = problem(registered(**{field: value}), "intake", "case_registered")
    assert found == expected
    assert str(value) not in found or value == ""  # names the field, never echoes the value


def test_an_enumerated_field_and_ids_of_either_kind():
    def classified(**data):
        payload = {"case_no": "XW-1", "type": "hard", **data}
        return new_event(
            "case_classified", payload, source_service="coordination", source_site=None
        )

    assert problem(classified(), "coordination", "case_classified") is None
    assert "one of cannot/hard/refused/pending" in problem(
        classified(type="easy"), "coordination", "case_classified"
    )
    for deadline_id in (17, "D-17"):
        event = new_event(
            "deadline_breached",
            {"case_no": "XW-1", "deadline_id": deadline_id, "kind": "reply"},
            source_service="coordination",
            source_site="HALL",
        )
        assert problem(event, "coordination", "deadline_breached") is None
    event["data"]["deadline_id"] = True  # a boolean is not an id
    assert problem(event, "coordination", "deadline_breached") == (
        "data.deadline_id is not an id (number or text)"
    )


def test_the_type_and_source_must_be_the_handlers():
    assert problem(registered(), "intake", "case_helper_added") == "type is not case_helper_added"
    assert problem(registered(), "coordination", "case_registered") == (
        "source_service is not coordination"
    )


@pytest.mark.parametrize(
    ("version", "ok"), [(1, True), (2, False), (0, False), ("1", False), (True, False)]
)
def test_only_a_known_version_is_handled(version, ok):
    event = {**registered(), "version": version}
    assert (problem(event, "intake", "case_registered") is None) is ok


def test_data_must_be_an_object_and_occurred_at_a_time():
    assert problem({**registered(), "data": []}, "intake", "case_registered") == (
        "data is not a JSON object"
    )
    assert "occurred_at" in problem({**registered(), "occurred_at": 5}, "intake", "case_registered")


def test_a_type_without_an_entry_is_checked_as_an_envelope_only():
    event = new_event("ping", {"anything": 1}, source_service="probe", source_site=None)
    assert problem(event, "probe", "ping") is None


def test_every_entry_is_a_documented_event_type():
    documented = (REPO_ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    for source, event_type in EVENT_DATA:
        assert f"`{event_type}`" in documented, event_type
        for field in EVENT_DATA[(source, event_type)]:
            assert field in documented, (event_type, field)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    data=st.dictionaries(st.sampled_from(sorted(REGISTERED) + ["x"]), json_values, max_size=10),
    envelope=st.dictionaries(st.sampled_from(REQUIRED_FIELDS), json_values, max_size=6),
)
def test_any_json_gets_an_answer_never_an_exception(data, envelope):
    message = {**registered(), **envelope, "data": data}
    answer = problem(message, "intake", "case_registered")
    assert answer is None or isinstance(answer, str)
