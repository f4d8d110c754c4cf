"""The findings' checks and department deductions (pure); the audit chain is test_audit_chain."""

from zoneinfo import ZoneInfo

import pytest

from services.accountability import domain
from services.accountability.rules import load_assessment_points
from services.common.errors import InvalidField

SHANGHAI = ZoneInfo("Asia/Shanghai")
POINTS = load_assessment_points()


def test_a_finding_needs_staff_and_cause_unless_no_fault():
    with pytest.raises(InvalidField) as missing:
        domain.check_finding({"cause": "attitude", "finding": "态度生硬"})
    assert missing.value.field == "staff_id"
    with pytest.raises(InvalidField) as cause:
        domain.check_finding({"staff_id": "S0001", "cause": "lazy", "finding": "x"})
    assert cause.value.field == "cause"
    with pytest.raises(InvalidField) as facts:
        domain.check_finding({"staff_id": "S0001", "cause": "attitude", "finding": "  "})
    assert facts.value.field == "finding"
    no_fault = domain.check_finding({"finding": "窗口依法告知，无过错", "no_fault": True})
    assert no_fault.no_fault and no_fault.staff_id is None and no_fault.cause is None


def test_deductions_are_keyed_by_the_fact_and_dated_in_local_time():
    breach = domain.deduction_for(
        "deadline_breached",
        {
            "case_no": "XW-1",
            "deadline_id": 7,
            "kind": "joint_meeting_reply",
            "due_at": "2026-12-31T17:30:00+08:00",
            "department": "SCJ",
        },
        POINTS,
        SHANGHAI,
    )
    assert (breach.natural_key, breach.points, breach.year) == ("deadline_breached:7", 1, 2026)
    late_utc = domain.deduction_for(
        "department_absent",
        {
            "meeting_id": 3,
            "case_nos": ["XW-2"],
            "department": "GTJ",
            "at": "2026-12-31T16:30:00+00:00",
        },  # already 2027 in Shanghai
        POINTS,
        SHANGHAI,
    )
    assert (late_utc.natural_key, late_utc.year, late_utc.points) == ("absent:3:GTJ", 2027, 2)
    assert late_utc.case_no == "XW-2"
    assert domain.deduction_for("deadline_breached", {"deadline_id": 8}, POINTS, SHANGHAI) is None
    undated = domain.deduction_for(
        "assignment_not_delivered",
        {"meeting_id": 3, "case_no": "XW-2", "department": "SCJ", "task": "核查"},
        POINTS,
        SHANGHAI,
        occurred_at="2025-06-01T08:00:00+00:00",
    )
    assert (undated.year, undated.reason) == (2025, "联席会议交办事项未按期落实：核查")


def test_scores_subtract_only_standing_deductions():
    items = domain.department_scores(
        [{"code": "SCJ", "name": "市场监管局"}, {"code": "GTJ", "name": "规划资源分局"}],
        [
            {"department": "SCJ", "points": 2.0, "status": "recorded"},
            {"department": "SCJ", "points": 1.0, "status": "withdrawn"},
            {"department": "SCJ", "points": 1.0, "status": "recorded"},
        ],
        100,
    )
    scores = {item["department"]: (item["score"], len(item["deductions"])) for item in items}
    assert scores == {"GTJ": (100, 0), "SCJ": (97, 3)}
