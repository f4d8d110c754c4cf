"""Deadlines from the policies on the Chinese calendar: holidays, year boundary, 3/5, pauses."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.common.workdays import WorkingCalendar, load_year_files
from services.coordination import domain
from services.coordination.policies import DEFAULT_FILE, load_policies, parse_policies

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()  # the package: up to 2026
POLICIES = load_policies(DEFAULT_FILE)
PENDING = POLICIES.find("pending", "reply", "case_registered")

# A FICTIONAL 2027 schedule (the real one is not published yet): 1-3 Jan off, Sat 9 Jan on.
YEAR_2027 = """\
year: 2027
source: test fixture, not the real 2027 schedule
holidays:
  - name: 元旦
    from: 2027-01-01
    to: 2027-01-03
workdays: [2027-01-09]
"""


def sh(y, m, d, hh=10):
    return datetime(y, m, d, hh, 0, tzinfo=SH)


def closing(y, m, d):
    return datetime(y, m, d, 18, 0, tzinfo=SH)


def pending_reply(calendar, handed_over, complex_case=False):
    days = PENDING.days_for(complex_case)
    return domain.plan_deadline(calendar, handed_over, days, PENDING.warning_share)


@pytest.mark.parametrize(
    ("handed_over", "complex_case", "due"),
    [
        # DESIGN §5: Wed 30 Sep 2026; 1-7 Oct National Day; Sat 10 Oct a make-up day.
        ((2026, 9, 30), False, (2026, 10, 10)),
        ((2026, 9, 30), True, (2026, 10, 13)),
        # Spring Festival 2026: 15-23 Feb off, Sat 14 and Sat 28 Feb make-up days.
        ((2026, 2, 13), False, (2026, 2, 25)),
        ((2026, 2, 13), True, (2026, 2, 27)),
        ((2026, 2, 25), True, (2026, 3, 3)),
        # May Day 2026: 1-5 May off, Sat 9 May a make-up day.
        ((2026, 4, 29), False, (2026, 5, 7)),
        ((2026, 4, 29), True, (2026, 5, 9)),
        ((2026, 4, 30), True, (2026, 5, 11)),
        # an ordinary week
        ((2026, 11, 23), False, (2026, 11, 26)),
        ((2026, 11, 23), True, (2026, 11, 30)),
    ],
)
def test_pending_reply_is_3_working_days_or_5_when_complex(handed_over, complex_case, due):
    plan = pending_reply(CAL, sh(*handed_over), complex_case)
    assert plan.due_at == closing(*due)
    assert plan.days == (5 if complex_case else 3)
    assert not plan.provisional


def test_into_2027_without_a_year_file_is_provisional(tmp_path):
    plan = pending_reply(CAL, sh(2026, 12, 30))
    # 31 Dec, then Fri 1 Jan counted as a working day (nobody loaded 2027), Mon 4 Jan
    assert plan.due_at == closing(2027, 1, 4)
    assert plan.provisional and plan.unknown_years == (2027,)


def test_into_2027_with_the_operator_year_file(tmp_path):
    (tmp_path / "2027.yaml").write_text(YEAR_2027, encoding="utf-8")
    calendar = WorkingCalendar(load_year_files(tmp_path))
    plan = pending_reply(calendar, sh(2026, 12, 30))
    assert plan.due_at == closing(2027, 1, 5)  # 31 Dec, 4 Jan, 5 Jan
    assert not plan.provisional
    complex_plan = pending_reply(calendar, sh(2026, 12, 30), complex_case=True)
    assert complex_plan.due_at == closing(2027, 1, 7)
    # the make-up Saturday counts
    assert pending_reply(calendar, sh(2027, 1, 7)).due_at == closing(2027, 1, 11)


def test_a_deadline_inside_2026_is_not_provisional_even_late_in_the_year():
    assert not pending_reply(CAL, sh(2026, 12, 25)).provisional  # due Wed 30 Dec


def test_warning_comes_on_the_last_working_day_by_default():
    plan = pending_reply(CAL, sh(2026, 9, 30))
    assert plan.warn_at == datetime(2026, 10, 10, 0, 0, tzinfo=SH)
    # with a share, when that share of the period is left: half of Mon 18:00 .. Thu 18:00
    shared = domain.plan_deadline(CAL, sh(2026, 3, 9, 18), 3, 0.5)
    assert shared.due_at == closing(2026, 3, 12)
    assert shared.warn_at == datetime(2026, 3, 11, 6, 0, tzinfo=SH)


def test_a_pause_gives_back_the_working_days_left_from_the_resume():
    # hard: 5 working days from Mon 9 Mar -> Mon 16 Mar; paused Wed 11 Mar (3 days left:
    # 12, 13, 16), resumed Tue 17 Mar -> 18, 19, 20 Mar.
    hard = POLICIES.find("hard", "resolution", "case_classified")
    start = domain.plan_deadline(CAL, sh(2026, 3, 9), hard.working_days, None)
    assert start.due_at == closing(2026, 3, 16)
    resumed = domain.resume_plan(CAL, sh(2026, 3, 11), sh(2026, 3, 17), start.due_at, None)
    assert resumed.days == 3
    assert resumed.due_at == closing(2026, 3, 20)


def test_a_pause_across_national_day():
    # paused Mon 28 Sep with its last 2 days left (29, 30 Sep); resumed Fri 9 Oct: 10, 12 Oct
    resumed = domain.resume_plan(CAL, sh(2026, 9, 28), sh(2026, 10, 9), closing(2026, 9, 30), None)
    assert resumed.due_at == closing(2026, 10, 12)


def test_a_clock_paused_on_its_last_day_gets_one_day_after_resuming():
    resumed = domain.resume_plan(CAL, sh(2026, 3, 12), sh(2026, 3, 20), closing(2026, 3, 12), None)
    assert resumed.days == 1 and resumed.due_at == closing(2026, 3, 23)


def test_reply_record():
    due = closing(2026, 10, 10)
    on_time = domain.reply_record(CAL, sh(2026, 9, 30), sh(2026, 10, 9, 17), due)
    assert on_time == {"on_time": True, "working_days_taken": 2}
    late = domain.reply_record(CAL, sh(2026, 9, 30), sh(2026, 10, 12, 9), due)
    assert late == {"on_time": False, "working_days_taken": 4}


def test_another_district_can_use_15_working_days():
    policies = parse_policies(
        "policies:\n"
        "  - {type: pending, stage: reply, working_days: 15, start_event: case_registered}\n"
    )
    policy = policies.find("pending", "reply", "case_registered")
    assert policy.days_for(True) == 15
    assert domain.plan_deadline(CAL, sh(2026, 3, 9), 15, None).due_at == closing(2026, 3, 30)


def test_the_shipped_policy_file_is_valid():
    assert PENDING.working_days == 3 and PENDING.complex_working_days == 5
    assert PENDING.pause_events == ()
    assert (
        "deferred_materials" in POLICIES.find("hard", "resolution", "case_classified").pause_events
    )
    assert Path(DEFAULT_FILE).name == "deadline_policies.yaml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("policies: {}", "list"),
        (
            "policies:\n  - {type: odd, stage: reply, working_days: 3, start_event: case_registered}",
            "type",
        ),
        (
            "policies:\n  - {type: hard, stage: later, working_days: 3, start_event: case_registered}",
            "stage",
        ),
        (
            "policies:\n  - {type: hard, stage: reply, working_days: 0, start_event: case_registered}",
            "working_days",
        ),
        (
            "policies:\n  - {type: hard, stage: reply, working_days: 3, start_event: lunch}",
            "start_event",
        ),
        (
            "policies:\n  - {type: hard, stage: reply, working_days: 3, start_event: case_registered, pause_events: [nap]}",
            "pause_events",
        ),
        (
            "policies:\n  - {type: hard, stage: reply, working_days: 3, start_event: case_registered, days: 2}",
            "unknown",
        ),
        ("policies:\n  - {type: hard, stage: reply, start_event: case_registered}", "working_days"),
    ],
)
def test_bad_policy_files_are_refused_with_the_entry_named(text, message):
    with pytest.raises(ValueError, match=message):
        parse_policies(text)
