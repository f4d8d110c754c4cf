"""Working-day arithmetic (DESIGN §5): package data, operator year files, unknown years."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.workdays import (
    Deadline,
    WorkingCalendar,
    YearSchedule,
    load_year_files,
    parse_year_file,
)

SH = ZoneInfo("Asia/Shanghai")
REPO = Path(__file__).resolve().parents[3]
CAL = WorkingCalendar()  # package data only; 2027+ unknown

# A FICTIONAL 2027 schedule used only as a test fixture (the real one is not published yet):
# New Year off 1-3 Jan (Fri-Sun), Saturday 9 Jan a make-up working day.
FIXTURE_2027 = """\
year: 2027
source: test fixture, not the real 2027 schedule
holidays:
  - name: 元旦
    from: 2027-01-01
    to: 2027-01-03
  - name: 测试假日
    days: ["2027-03-03"]
workdays:
  - 2027-01-09
"""


def sh(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def close(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 18, 0, tzinfo=SH)


def assert_due(deadline: Deadline, expected: datetime) -> None:
    # Exact instant, and expressed in Asia/Shanghai (not merely equal in UTC).
    assert deadline.due_at == expected
    assert deadline.due_at.tzinfo == SH
    assert deadline.due_at.replace(tzinfo=None) == expected.replace(tzinfo=None)


@pytest.fixture
def cal_2027(tmp_path: Path) -> WorkingCalendar:
    (tmp_path / "2027.yaml").write_text(FIXTURE_2027, encoding="utf-8")
    return WorkingCalendar(load_year_files(tmp_path))


# --------------------------------------------------------------------------- package facts


def test_package_2026_spring_festival_is_what_the_tables_assume():
    # The deadline tables below rely on these dates; confirm them with the package itself.
    off = [date(2026, 2, 15) + timedelta(days=i) for i in range(9)]
    assert all(not chinese_calendar.is_workday(d) for d in off)
    assert chinese_calendar.is_workday(date(2026, 2, 14))  # Saturday make-up day
    assert chinese_calendar.is_workday(date(2026, 2, 28))  # Saturday make-up day
    assert chinese_calendar.is_workday(date(2026, 2, 24))
    assert chinese_calendar.is_workday(date(2026, 5, 9))  # May Day make-up Saturday
    assert not chinese_calendar.is_workday(date(2026, 5, 5))
    assert chinese_calendar.is_workday(date(2026, 10, 10))  # National Day make-up Saturday
    assert not chinese_calendar.is_workday(date(2026, 10, 7))


def test_calendar_agrees_with_package_every_day_2004_to_2026():
    day = date(2004, 1, 1)
    while day.year <= 2026:
        assert CAL.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_knows_year():
    assert CAL.knows_year(2004) and CAL.knows_year(2026)
    assert not CAL.knows_year(2003) and not CAL.knows_year(2027)
    assert not WorkingCalendar(use_package=False).knows_year(2026)


def test_is_working_day_unknown_year_is_monday_to_friday():
    assert CAL.is_working_day(date(2027, 1, 1))  # Friday; really 元旦, but nobody loaded 2027
    assert not CAL.is_working_day(date(2027, 1, 2))  # Saturday
    assert CAL.is_working_day(date(2026, 10, 10))  # make-up Saturday
    assert not CAL.is_working_day(date(2026, 10, 1))


# --------------------------------------------------------------------------- deadline tables

# (handed over, working days, due date); handover time 10:00 Shanghai, due at 18:00.
TABLE = [
    # National Day 2026: 1-7 Oct off, Saturday 10 Oct a make-up day (DESIGN §5 example).
    ((2026, 9, 30), 3, (2026, 10, 10)),
    ((2026, 9, 30), 5, (2026, 10, 13)),
    ((2026, 9, 29), 3, (2026, 10, 9)),
    ((2026, 9, 29), 5, (2026, 10, 12)),
    ((2026, 10, 3), 3, (2026, 10, 10)),  # handed over during the holiday
    # Mid-Autumn 2026: 25-27 Sep off, Sunday 20 Sep a make-up day.
    ((2026, 9, 18), 3, (2026, 9, 22)),
    ((2026, 9, 24), 3, (2026, 9, 30)),
    # Spring Festival 2026: 15-23 Feb off, Saturdays 14 and 28 Feb make-up days.
    ((2026, 2, 12), 3, (2026, 2, 24)),
    ((2026, 2, 12), 5, (2026, 2, 26)),
    ((2026, 2, 13), 3, (2026, 2, 25)),
    ((2026, 2, 13), 5, (2026, 2, 27)),
    ((2026, 2, 14), 3, (2026, 2, 26)),  # handed over on the make-up Saturday
    ((2026, 2, 14), 5, (2026, 2, 28)),
    ((2026, 2, 16), 3, (2026, 2, 26)),
    ((2026, 2, 25), 3, (2026, 2, 28)),
    ((2026, 2, 25), 5, (2026, 3, 3)),
    # May Day 2026: 1-5 May off, Saturday 9 May a make-up day.
    ((2026, 4, 29), 3, (2026, 5, 7)),
    ((2026, 4, 29), 5, (2026, 5, 9)),
    ((2026, 4, 30), 3, (2026, 5, 8)),
    ((2026, 4, 30), 5, (2026, 5, 11)),
    # Ordinary weeks, and 15 days for provinces with longer limits.
    ((2026, 3, 9), 3, (2026, 3, 12)),
    ((2026, 3, 9), 5, (2026, 3, 16)),
    ((2026, 3, 13), 1, (2026, 3, 16)),  # Friday -> Monday
    ((2026, 3, 9), 15, (2026, 3, 30)),
]


@pytest.mark.parametrize(("start", "days", "due"), TABLE)
def test_deadline_table(start, days, due):
    deadline = CAL.add_working_days(sh(*start), days)
    assert_due(deadline, close(*due))
    assert deadline.working_days == days
    assert deadline.provisional is False
    assert deadline.unknown_years == ()


@pytest.mark.parametrize("hh_mm", [(0, 0), (9, 0), (17, 59), (18, 30), (23, 59)])
def test_time_of_handover_day_does_not_matter(hh_mm):
    assert_due(CAL.add_working_days(sh(2026, 9, 30, *hh_mm), 3), close(2026, 10, 10))


def test_start_in_utc_late_evening_is_next_day_in_shanghai():
    # 16:30 UTC on 29 Sep is 00:30 on 30 Sep in Shanghai: the handover day is the 30th.
    start = datetime(2026, 9, 29, 16, 30, tzinfo=UTC)
    assert_due(CAL.add_working_days(start, 3), close(2026, 10, 10))
    # One minute before Shanghai midnight it is still the 29th.
    start = datetime(2026, 9, 29, 15, 59, tzinfo=UTC)
    assert_due(CAL.add_working_days(start, 3), close(2026, 10, 9))


def test_custom_closing_time():
    cal = WorkingCalendar(closing_time=time(17, 30))
    assert_due(cal.add_working_days(sh(2026, 9, 30), 3), datetime(2026, 10, 10, 17, 30, tzinfo=SH))


@pytest.mark.parametrize("days", [0, -1, True, 2.0])
def test_add_working_days_rejects_bad_days(days):
    with pytest.raises(ValueError, match="days"):
        CAL.add_working_days(sh(2026, 9, 30), days)


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_working_days(datetime(2026, 9, 30, 10, 0), 3)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.working_days_between(sh(2026, 9, 30), datetime(2026, 10, 10))


def test_closing_time_must_be_naive():
    with pytest.raises(ValueError, match="closing_time"):
        WorkingCalendar(closing_time=time(18, 0, tzinfo=UTC))


def test_schedule_key_must_match_year():
    schedule = YearSchedule(2027, frozenset(), frozenset())
    with pytest.raises(ValueError, match="2027"):
        WorkingCalendar({2028: schedule})


# --------------------------------------------------------------------------- unknown years


def test_into_2027_without_a_file_is_provisional_weekends_only():
    deadline = CAL.add_working_days(sh(2026, 12, 30), 3)
    # 31 Dec (Thu), 1 Jan 2027 (Fri: only weekends are off), then Mon 4 Jan.
    assert_due(deadline, close(2027, 1, 4))
    assert deadline.provisional is True
    assert deadline.unknown_years == (2027,)


def test_provisional_only_when_a_counted_day_is_unknown():
    end_of_year = CAL.add_working_days(sh(2026, 12, 30), 1)
    assert_due(end_of_year, close(2026, 12, 31))
    assert not end_of_year.provisional and end_of_year.unknown_years == ()
    first_unknown = CAL.add_working_days(sh(2026, 12, 31, 23, 0), 1)
    assert_due(first_unknown, close(2027, 1, 1))
    assert first_unknown.unknown_years == (2027,)


def test_unknown_years_listed_sorted_across_several_years():
    deadline = CAL.add_working_days(sh(2026, 12, 30), 300)
    assert deadline.due_at.year == 2028
    assert deadline.unknown_years == (2027, 2028)


def test_unknown_years_between():
    assert CAL.unknown_years_between(date(2026, 1, 1), date(2026, 12, 31)) == ()
    assert CAL.unknown_years_between(date(2026, 6, 1), date(2028, 1, 1)) == (2027, 2028)
    assert CAL.unknown_years_between(date(2003, 12, 31), date(2004, 1, 1)) == (2003,)
    assert CAL.unknown_years_between(date(2027, 5, 1), date(2027, 4, 1)) == ()


def test_into_2027_with_a_year_file(cal_2027):
    assert cal_2027.knows_year(2027)
    # 31 Dec, then 1-3 Jan off per the file, then Mon 4 and Tue 5 Jan.
    deadline = cal_2027.add_working_days(sh(2026, 12, 30), 3)
    assert_due(deadline, close(2027, 1, 5))
    assert deadline.provisional is False and deadline.unknown_years == ()
    assert_due(cal_2027.add_working_days(sh(2026, 12, 30), 5), close(2027, 1, 7))


def test_year_file_make_up_saturday_counts(cal_2027):
    deadline = cal_2027.add_working_days(sh(2027, 1, 7), 2)
    assert_due(deadline, close(2027, 1, 9))  # Fri 8, make-up Sat 9
    assert not deadline.provisional
    # Without the file the Saturday is off and the answer is provisional.
    assert_due(CAL.add_working_days(sh(2027, 1, 7), 2), close(2027, 1, 11))
    assert CAL.add_working_days(sh(2027, 1, 7), 2).provisional


def test_year_file_single_day_holiday_is_skipped(cal_2027):
    assert not cal_2027.is_working_day(date(2027, 3, 3))
    assert_due(cal_2027.add_working_days(sh(2027, 3, 2), 1), close(2027, 3, 4))


def test_year_file_keeps_later_years_provisional(cal_2027):
    assert cal_2027.add_working_days(sh(2026, 12, 30), 300).unknown_years == (2028,)


def test_override_file_wins_over_package(tmp_path):
    # A (hypothetical) corrected 2026: 8 Oct also off, 10 Oct still a make-up day.
    (tmp_path / "2026.yaml").write_text(
        "year: 2026\n"
        "holidays:\n"
        "  - name: 国庆节\n"
        "    from: 2026-10-01\n"
        "    to: 2026-10-08\n"
        "workdays: [2026-10-10]\n",
        encoding="utf-8",
    )
    cal = WorkingCalendar(load_year_files(tmp_path))
    assert not cal.is_working_day(date(2026, 10, 8))
    # 9 Oct (Fri), 10 Oct (make-up Sat), 12 Oct (Mon).
    assert_due(cal.add_working_days(sh(2026, 9, 30), 3), close(2026, 10, 12))
    # The file replaces the whole year: its lack of a Spring Festival is taken literally.
    assert cal.is_working_day(date(2026, 2, 16))
    # The package is untouched for other calendars and other years.
    assert not CAL.is_working_day(date(2026, 2, 16))
    assert not cal.is_working_day(date(2025, 10, 1))


def test_use_package_false_treats_every_year_as_unknown():
    cal = WorkingCalendar(use_package=False)
    deadline = cal.add_working_days(sh(2026, 9, 30), 3)
    assert_due(deadline, close(2026, 10, 5))
    assert deadline.unknown_years == (2026,)


# --------------------------------------------------------------------------- between / left


def test_working_days_between():
    start = sh(2026, 9, 30, 10)
    assert CAL.working_days_between(start, sh(2026, 10, 10, 9)) == 3
    assert CAL.working_days_between(start, sh(2026, 10, 8, 23, 59)) == 1
    assert CAL.working_days_between(start, sh(2026, 10, 7, 12)) == 0  # only holidays
    assert CAL.working_days_between(start, sh(2026, 9, 30, 23)) == 0  # same day
    assert CAL.working_days_between(start, sh(2026, 9, 1)) == 0  # end before start
    assert CAL.working_days_between(sh(2026, 2, 13), sh(2026, 2, 24)) == 2  # 14th, 24th
    # Across a year boundary into an unknown year (weekdays only): 31 Dec, 1 Jan, 4 Jan.
    assert CAL.working_days_between(sh(2026, 12, 30), sh(2027, 1, 4)) == 3


def test_working_days_between_uses_shanghai_dates():
    # 17:00 UTC on 9 Oct is 01:00 on 10 Oct in Shanghai, so the make-up Saturday counts.
    assert CAL.working_days_between(sh(2026, 9, 30), datetime(2026, 10, 9, 17, tzinfo=UTC)) == 3
    assert CAL.working_days_between(sh(2026, 9, 30), datetime(2026, 10, 9, 15, tzinfo=UTC)) == 2


def test_working_days_left():
    due = close(2026, 10, 10)
    assert CAL.working_days_left(sh(2026, 9, 30, 9), due) == 3
    assert CAL.working_days_left(sh(2026, 10, 3), due) == 3  # holidays do not use it up
    assert CAL.working_days_left(sh(2026, 10, 8, 10), due) == 2
    assert CAL.working_days_left(sh(2026, 10, 10, 9), due) == 0  # due today
    assert CAL.working_days_left(sh(2026, 10, 12, 9), due) == 0  # past


def test_between_matches_add_working_days():
    start = sh(2026, 2, 12, 15)
    for days in range(1, 40):
        due = CAL.add_working_days(start, days).due_at
        assert CAL.working_days_between(start, due) == days


# --------------------------------------------------------------------------- year files


def test_parse_year_file():
    schedule = parse_year_file(FIXTURE_2027)
    assert schedule.year == 2027
    assert schedule.source == "test fixture, not the real 2027 schedule"
    assert schedule.holidays == {
        date(2027, 1, 1),
        date(2027, 1, 2),
        date(2027, 1, 3),
        date(2027, 3, 3),
    }
    assert schedule.workdays == {date(2027, 1, 9)}


def test_parse_accepts_quoted_dates_and_empty_lists():
    schedule = parse_year_file(
        'year: 2027\nholidays:\n  - {name: X, from: "2027-01-01", to: "2027-01-02"}\nworkdays: []\n'
    )
    assert schedule.holidays == {date(2027, 1, 1), date(2027, 1, 2)}
    assert schedule.workdays == frozenset()
    assert schedule.source == ""


def test_example_sample_parses_and_matches_the_package():
    text = (REPO / "deploy" / "calendar" / "example-year.yaml.sample").read_text(encoding="utf-8")
    schedule = parse_year_file(text)
    assert schedule.year == 2026
    for day in (date(2026, 1, 1) + timedelta(days=i) for i in range(365)):
        expected = chinese_calendar.is_workday(day)
        is_on = day in schedule.workdays or (day.weekday() < 5 and day not in schedule.holidays)
        assert is_on == expected, day


BAD_FILES = [
    ("year: 2027\nworkdays: []\n", "missing key 'holidays'"),
    ("holidays: []\nworkdays: []\n", "missing key 'year'"),
    ("year: 2027\nholidays: []\n", "missing key 'workdays'"),
    (
        "year: 2027\nholidays:\n  - {from: 2027-01-01, to: 2027-01-02}\nworkdays: []\n",
        "holidays entry 1: missing key 'name'",
    ),
    (
        "year: 2027\nholidays:\n  - {name: 元旦, from: 2027-01-01}\nworkdays: []\n",
        r"holidays entry 1 \(元旦\): missing key 'to'",
    ),
    (
        "year: 2027\nholidays:\n  - {name: 元旦}\nworkdays: []\n",
        r"元旦.*missing key 'from'/'to' or 'days'",
    ),
    (
        "year: 2027\nholidays:\n  - {name: 元旦, from: 2026-12-31, to: 2027-01-02}\nworkdays: []\n",
        r"元旦.*2026-12-31 is not in year 2027",
    ),
    (
        "year: 2027\nholidays:\n  - {name: 清明节, days: [2028-04-05]}\nworkdays: []\n",
        r"清明节.*2028-04-05 is not in year 2027",
    ),
    ("year: 2027\nholidays: []\nworkdays: [2026-12-26]\n", "2026-12-26 is not in year 2027"),
    (
        "year: 2027\nholidays: []\nworkdays: [2027-01-06]\n",
        "workday 2027-01-06 is a Wednesday, not a weekend day",
    ),
    (
        "year: 2027\nholidays:\n  - {name: 元旦, from: 2027-01-01, to: 2027-01-03}\n"
        "workdays: [2027-01-02]\n",
        "both as holiday and as workday: 2027-01-02",
    ),
    (
        "year: 2027\nholidays:\n  - {name: 元旦, from: 2027-01-03, to: 2027-01-01}\nworkdays: []\n",
        "'to' 2027-01-01 is before 'from' 2027-01-03",
    ),
    (
        "year: 2027\nholidays:\n  - {name: 元旦, form: 2027-01-01, to: 2027-01-03}\nworkdays: []\n",
        "unknown key",
    ),
    (
        "year: 2027\nholidays:\n  - {name: 元旦, from: 2027-01-01, to: 2027-01-01, days: [2027-01-01]}\n"
        "workdays: []\n",
        "either from/to or days, not both",
    ),
    ("year: 2027\nholiday: []\nholidays: []\nworkdays: []\n", "unknown key.*holiday"),
    ("year: 2027\nholidays: []\nworkdays: ['2027/01/09']\n", "'2027/01/09' is not a date"),
    ("year: 2027\nholidays: []\nworkdays: [2027-01-09 08:00:00]\n", "has a time of day"),
    ("year: 2027\nholidays: []\nworkdays:\n", "'workdays' must be a list"),
    ("year: '2027'\nholidays: []\nworkdays: []\n", "'year' must be a four-digit year"),
    ("year: 2027\nholidays: [\nworkdays: []\n", "not valid YAML"),
    ("", "expected a mapping"),
    ("- 2027-01-01\n", "expected a mapping"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_parse_errors_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        parse_year_file(text)


def test_year_schedule_validates_directly():
    with pytest.raises(ValueError, match="not a weekend day"):
        YearSchedule(2027, frozenset(), frozenset({date(2027, 1, 4)}))
    with pytest.raises(ValueError, match="not in year 2027"):
        YearSchedule(2027, frozenset({date(2026, 1, 1)}), frozenset())


def test_load_year_files_reads_only_year_files(tmp_path):
    (tmp_path / "2027.yaml").write_text(FIXTURE_2027, encoding="utf-8")
    (tmp_path / "README.md").write_text("# not a year\n", encoding="utf-8")
    (tmp_path / "2028.yaml.sample").write_text("garbage: [", encoding="utf-8")
    (tmp_path / "2028.yml").write_text("garbage: [", encoding="utf-8")
    (tmp_path / "notes.yaml").write_text("garbage: [", encoding="utf-8")
    schedules = load_year_files(str(tmp_path))
    assert list(schedules) == [2027]
    assert schedules[2027] == parse_year_file(FIXTURE_2027)


def test_load_year_files_file_name_must_match_year(tmp_path):
    (tmp_path / "2028.yaml").write_text(FIXTURE_2027, encoding="utf-8")
    with pytest.raises(ValueError, match=r"2028\.yaml: file name says 2028 but 'year' is 2027"):
        load_year_files(tmp_path)


def test_load_year_files_names_the_bad_file(tmp_path):
    (tmp_path / "2027.yaml").write_text("year: 2027\nholidays: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"2027\.yaml: missing key 'workdays'"):
        load_year_files(tmp_path)


def test_load_year_files_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_year_files(tmp_path / "nope")
    assert load_year_files(tmp_path) == {}


# --------------------------------------------------------------------------- properties

ZONES = [
    UTC,
    SH,
    ZoneInfo("America/New_York"),
    timezone(timedelta(hours=14)),
    timezone(timedelta(hours=-12)),
]


@settings(max_examples=300, deadline=None)
@given(
    naive=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 6, 30)),
    zone=st.sampled_from(ZONES),
    days=st.integers(min_value=1, max_value=60),
)
def test_property_due_is_the_nth_working_day(naive, zone, days):
    start = naive.replace(tzinfo=zone)
    deadline = CAL.add_working_days(start, days)
    first = start.astimezone(SH).date()
    due_day = deadline.due_at.date()

    assert deadline.due_at.tzinfo == SH and deadline.due_at.time() == time(18, 0)
    assert CAL.is_working_day(due_day)
    # Exactly `days` working days in (start's date, due date], brute force.
    span = [first + timedelta(days=i) for i in range(1, (due_day - first).days + 1)]
    assert sum(CAL.is_working_day(d) for d in span) == days
    assert CAL.working_days_between(start, deadline.due_at) == days
    # Provisional exactly when a counted day lies in a year the package lacks.
    unknown = tuple(sorted({d.year for d in span if d.year > 2026}))
    assert deadline.unknown_years == unknown
    assert deadline.provisional == bool(unknown)
    # One more working day always ends strictly later.
    assert CAL.add_working_days(start, days + 1).due_at > deadline.due_at
