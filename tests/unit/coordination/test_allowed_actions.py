"""What a case allows now and who may act on it: what the case page offers (pure)."""

import pytest

from services.common.errors import Conflict, Forbidden
from services.coordination import domain
from services.coordination.domain import CaseFacts


def case(state="registered", case_type=None, **facts) -> CaseFacts:
    return CaseFacts(case_no="XW-1", state=state, case_type=case_type, **facts)


@pytest.mark.parametrize(
    ("facts", "allowed"),
    [
        (case("registered"), ["classify"]),
        # 不能办: the explanation first; a reply may come before it, the resolution not
        (case("classified", "cannot"), ["explain", "reply"]),
        (case("in_progress", "cannot", explained=True), ["reply", "resolve"]),
        # 不好办: measures any time it is worked on, departments answer once there is one
        (case("classified", "hard"), ["measure", "reply"]),
        (
            case("in_progress", "hard", measures=2),
            ["measure", "measure_response", "reply", "resolve"],
        ),
        (case("replied", "hard", measures=1), ["measure", "measure_response", "resolve"]),
        # 暂时办不了: nothing is answered before the joint meeting's minutes
        (case("classified", "pending"), []),
        (case("in_progress", "pending", minuted=True), ["reply", "resolve"]),
        (case("replied", "pending", minuted=True), ["resolve"]),
        (case("in_progress", "refused"), ["reply", "resolve"]),
        (case("resolved", "refused"), ["close", "reopen", "promote"]),
        (case("closed", "hard", measures=1), ["archive", "reopen", "promote"]),
        (case("archived", "cannot", explained=True), ["reopen", "promote"]),
    ],
)
def test_the_actions_follow_the_state_and_the_type(facts, allowed):
    assert domain.allowed_actions(facts) == allowed


def test_a_case_owing_a_return_visit_closes_only_after_it():
    owing = case("resolved", "refused", requires_return_visit=True)
    assert "close" not in domain.allowed_actions(owing)
    visited = case("resolved", "refused", requires_return_visit=True, return_visit_done=True)
    assert "close" in domain.allowed_actions(visited)


@pytest.mark.parametrize("state", list(domain.STATE_LABELS))
@pytest.mark.parametrize("case_type", [None, *domain.TYPES])
def test_every_transition_offered_is_one_the_state_machine_takes(state, case_type):
    facts = case(state, case_type, explained=True, measures=1, minuted=True)
    for action in domain.allowed_actions(facts):
        if action in domain.TRANSITIONS:
            domain.next_state(facts, action)  # raises Conflict if the page offered too much
    refused = set(domain.TRANSITIONS) - set(domain.allowed_actions(facts)) - {"start"}
    for action in refused:
        with pytest.raises(Conflict):
            domain.next_state(facts, action)


def test_officers_act_on_every_case_and_the_bureau_on_pending_ones():
    assert domain.acting_roles(case("classified", "hard")) == ("officer",)
    assert domain.acting_roles(case("registered")) == ("officer",)
    assert domain.acting_roles(case("classified", "pending")) == ("officer", "bureau")
    domain.check_actor(case("classified", "pending"), {"role": "bureau"})
    with pytest.raises(Forbidden):
        domain.check_actor(case("classified", "hard"), {"role": "bureau"})
