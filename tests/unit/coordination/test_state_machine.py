"""The case state machine and each type's rules (pure)."""

import pytest

from services.common.errors import Conflict, Forbidden, InvalidField
from services.coordination import domain
from services.coordination.domain import CaseFacts

OFFICER = {"id": "S0004", "role": "officer"}
BUREAU = {"id": "S0005", "role": "bureau"}


def case(state="registered", case_type=None, **facts) -> CaseFacts:
    return CaseFacts(case_no="XW-1", state=state, case_type=case_type, **facts)


VALID = [
    ("registered", None, "classify", "classified"),
    ("classified", "hard", "start", "in_progress"),
    ("classified", "refused", "reply", "replied"),
    ("in_progress", "refused", "reply", "replied"),
    ("replied", "refused", "resolve", "resolved"),
    ("in_progress", "refused", "resolve", "resolved"),
    ("resolved", "refused", "close", "closed"),
    ("closed", "refused", "archive", "archived"),
    ("resolved", "refused", "reopen", "in_progress"),
    ("closed", "refused", "reopen", "in_progress"),
    ("archived", "refused", "reopen", "in_progress"),
]


@pytest.mark.parametrize(("state", "case_type", "action", "target"), VALID)
def test_valid_transitions(state, case_type, action, target):
    assert domain.next_state(case(state, case_type), action) == target


INVALID = [
    ("registered", None, "reply"),
    ("registered", None, "resolve"),
    ("registered", None, "close"),
    ("registered", None, "archive"),
    ("registered", None, "reopen"),
    ("classified", "hard", "classify"),
    ("classified", "refused", "close"),
    ("in_progress", "refused", "archive"),
    ("replied", "refused", "reply"),
    ("resolved", "refused", "resolve"),
    ("closed", "refused", "resolve"),
    ("archived", "refused", "close"),
    ("archived", "refused", "archive"),
    ("in_progress", "refused", "reopen"),
]


@pytest.mark.parametrize(("state", "case_type", "action"), INVALID)
def test_invalid_transitions_are_409_with_a_chinese_message(state, case_type, action):
    with pytest.raises(Conflict) as caught:
        domain.next_state(case(state, case_type), action)
    assert caught.value.status == 409
    assert domain.STATE_LABELS[state] in caught.value.message
    assert domain.ACTION_LABELS[action] in caught.value.message


def test_cannot_needs_the_legal_basis_before_resolving_or_closing():
    with pytest.raises(Conflict, match="法律或政策依据"):
        domain.next_state(case("in_progress", "cannot"), "resolve")
    with pytest.raises(Conflict, match="法律或政策依据"):
        domain.next_state(case("resolved", "cannot"), "close")
    assert domain.next_state(case("in_progress", "cannot", explained=True), "resolve") == "resolved"


def test_hard_needs_a_measure_and_pending_needs_minutes():
    with pytest.raises(Conflict, match="协调措施"):
        domain.next_state(case("in_progress", "hard"), "resolve")
    assert domain.next_state(case("in_progress", "hard", measures=1), "resolve") == "resolved"
    for action in ("reply", "resolve"):
        with pytest.raises(Conflict, match="联席会议"):
            domain.next_state(case("in_progress", "pending"), action)
    assert domain.next_state(case("in_progress", "pending", minuted=True), "reply") == "replied"


def test_return_visit_where_required_before_closing():
    required = case("resolved", "refused", requires_return_visit=True)
    with pytest.raises(Conflict, match="回访"):
        domain.next_state(required, "close")
    done = case("resolved", "refused", requires_return_visit=True, return_visit_done=True)
    assert domain.next_state(done, "close") == "closed"


def test_work_fits_the_type_and_moves_a_classified_case_in_progress():
    assert domain.check_work(case("classified", "hard"), "measure", "hard") == "in_progress"
    assert domain.check_work(case("in_progress", "hard"), "measure", "hard") is None
    with pytest.raises(Conflict, match="不好办"):
        domain.check_work(case("classified", "cannot"), "measure", "hard")
    with pytest.raises(Conflict, match="已关闭"):
        domain.check_work(case("closed", "cannot"), "explain", "cannot")


def test_bureau_acts_only_on_pending_cases():
    domain.check_actor(case("classified", "hard"), OFFICER)
    domain.check_actor(case("classified", "pending"), BUREAU)
    with pytest.raises(Forbidden):
        domain.check_actor(case("classified", "hard"), BUREAU)
    with pytest.raises(Forbidden):
        domain.check_actor(case("classified", "pending"), {"id": "S0001", "role": "window_staff"})


def test_classification_fields():
    assert domain.check_classification(
        {"type": "pending", "reason": "职责不清", "complex": True}
    ) == {
        "type": "pending",
        "reason": "职责不清",
        "complex": True,
    }
    for payload, field in (
        ({"type": "maybe", "reason": "x"}, "type"),
        ({"type": "hard"}, "reason"),
        ({"type": "hard", "reason": "x", "complex": "yes"}, "complex"),
    ):
        with pytest.raises(InvalidField) as caught:
            domain.check_classification(payload)
        assert caught.value.field == field


def test_explanation_names_the_missing_item_field():
    with pytest.raises(InvalidField) as caught:
        domain.check_explanation(
            {
                "legal_basis": "《公司登记管理条例》",
                "explanation": "缺少住所证明",
                "missing_key_materials": [{"name": "住所使用证明"}],
            }
        )
    assert caught.value.field == "missing_key_materials[0].how_to_obtain"


def test_deferred_materials_need_the_list_and_the_date():
    base = {"measure": "deferred_materials", "departments": ["SCJ"], "details": "容缺受理"}
    with pytest.raises(InvalidField) as caught:
        domain.check_measure(base)
    assert caught.value.field == "materials"
    with pytest.raises(InvalidField) as caught:
        domain.check_measure({**base, "materials": ["授权委托书"]})
    assert caught.value.field == "due"
    measure = domain.check_measure({**base, "materials": ["授权委托书"], "due": "2026-12-10"})
    assert measure["due"].isoformat() == "2026-12-10"


def test_minutes_report_departments_absent_without_a_valid_reason():
    minutes = domain.check_minutes(
        {
            "attendance": [
                {"department": "FCJ", "present": True, "position": "同意牵头"},
                {"department": "SCJ", "present": False, "valid_reason": "参加市局会议"},
                {"department": "CGJ", "present": False},
            ],
            "decision": "由 FCJ 牵头办理",
            "assignments": [{"department": "FCJ", "task": "出具证明", "due": "2026-12-04"}],
        },
        ["FCJ", "SCJ", "CGJ"],
        ["XW-1"],
    )
    assert domain.absent_without_reason(minutes["attendance"]) == ["CGJ"]
    assert minutes["assignments"][0]["case_no"] == "XW-1"
    with pytest.raises(InvalidField, match="SCJ"):
        domain.check_minutes(
            {"attendance": [{"department": "FCJ", "present": True}], "decision": "d"},
            ["FCJ", "SCJ"],
            ["XW-1"],
        )
