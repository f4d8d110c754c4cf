"""Chinese working-day arithmetic for case deadlines (DESIGN §5).

Rules:

* Weekends and statutory holidays (放假) are off; make-up working days (调休上班) that fall
  on a weekend are on.
* The day a case is handed over does not count: a deadline of N working days ends at the
  closing time of the N-th working day *after* the start date.
* Dates are taken in the calendar's time zone (Asia/Shanghai): an instant is converted to
  that zone before its date is used, so 23:30 UTC already counts as the next day.

Year data comes from two sources. The ``chinesecalendar`` package knows the years it was
released for; operators load further years (or corrections) as YAML files, which override
the package for their year. For a year that neither knows only weekends are off, and every
deadline that counted a day in such a year is marked ``provisional`` with the years listed,
so callers can flag the case, count a metric and log it instead of silently guessing.

Everything here is pure except :func:`load_year_files`, which reads the operator files.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

__all__ = [
    "Deadline",
    "WorkingCalendar",
    "YearSchedule",
    "load_year_files",
    "parse_year_file",
]

PACKAGE_SOURCE = "chinesecalendar package"

_SATURDAY = 5  # date.weekday(): Monday is 0, Saturday 5, Sunday 6
_YEAR_FILE_RE = re.compile(r"^(\d{4})\.yaml$")
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class YearSchedule:
    """The official schedule of one year: days off and weekend days that are working days.

    ``holidays`` are the statutory days off (weekend days inside a holiday block may be
    listed too, they are off either way). ``workdays`` are the make-up working days and must
    all be Saturdays or Sundays. Construction validates both, so a bad schedule never
    reaches the arithmetic.
    """

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str = ""

    def __post_init__(self) -> None:
        # Accept any iterable for convenience but store frozensets (hashable, immutable).
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        if isinstance(self.year, bool) or not isinstance(self.year, int):
            raise ValueError(f"year must be an integer, got {self.year!r}")
        for kind, days in (("holiday", self.holidays), ("workday", self.workdays)):
            for day in sorted(days):
                if not isinstance(day, date) or isinstance(day, datetime):
                    raise ValueError(f"{kind} {day!r} is not a date")
                if day.year != self.year:
                    raise ValueError(f"{kind} {day.isoformat()} is not in year {self.year}")
        for day in sorted(self.workdays):
            if day.weekday() < _SATURDAY:
                raise ValueError(
                    f"workday {day.isoformat()} is a {day.strftime('%A')}, not a weekend day; "
                    "only weekend make-up working days (调休上班) belong in workdays"
                )
        overlap = sorted(self.holidays & self.workdays)
        if overlap:
            listed = ", ".join(d.isoformat() for d in overlap)
            raise ValueError(f"dates listed both as holiday and as workday: {listed}")


@dataclass(frozen=True)
class Deadline:
    """The end of a period of working days.

    ``due_at`` is aware (in the calendar's zone) and falls at the closing time of the last
    working day. ``provisional`` is True when any day counted lies in a year nobody loaded;
    ``unknown_years`` then lists those years (sorted), otherwise it is empty.
    """

    due_at: datetime
    working_days: int
    provisional: bool
    unknown_years: tuple[int, ...]


# --------------------------------------------------------------------------- package data


def _package_schedules() -> dict[int, YearSchedule]:
    """Turn the chinesecalendar tables into one YearSchedule per year it covers."""
    from chinese_calendar import constants  # local import: only needed when use_package

    holidays: dict[int, set[date]] = {}
    workdays: dict[int, set[date]] = {}
    for day in constants.holidays:
        holidays.setdefault(day.year, set()).add(day)
    for day in constants.workdays:
        workdays.setdefault(day.year, set()).add(day)
    # The package itself supports exactly the years between its first and last holiday.
    first, last = min(holidays), max(holidays)
    return {
        year: YearSchedule(
            year=year,
            holidays=frozenset(holidays.get(year, ())),
            workdays=frozenset(workdays.get(year, ())),
            source=PACKAGE_SOURCE,
        )
        for year in range(first, last + 1)
    }


_PACKAGE_CACHE: dict[int, YearSchedule] | None = None


def _package() -> dict[int, YearSchedule]:
    # Built once per process: the tables are static and every calendar shares them.
    global _PACKAGE_CACHE
    if _PACKAGE_CACHE is None:
        _PACKAGE_CACHE = _package_schedules()
    return _PACKAGE_CACHE


# --------------------------------------------------------------------------- calendar


class WorkingCalendar:
    """Working-day arithmetic over operator year files, the package, and plain weekends.

    ``schedules`` (usually from :func:`load_year_files`) win over the package for their
    year. With ``use_package=False`` only ``schedules`` are known (useful in tests).
    Per-year tables of working days are computed lazily and cached, so repeated calls (a
    deadline scanner) cost a few bisections each.
    """

    def __init__(
        self,
        schedules: Mapping[int, YearSchedule] = (),  # type: ignore[assignment]
        *,
        use_package: bool = True,
        closing_time: time = time(18, 0),
        tz: str = "Asia/Shanghai",
    ) -> None:
        own = dict(schedules)
        for key, schedule in own.items():
            if key != schedule.year:
                raise ValueError(f"schedule for {schedule.year} is filed under key {key}")
        if closing_time.tzinfo is not None:
            raise ValueError("closing_time must be a naive local time; the zone is `tz`")
        self._schedules: dict[int, YearSchedule] = {**(_package() if use_package else {}), **own}
        self.closing_time = closing_time
        self.tz = ZoneInfo(tz)
        # year -> sorted ordinals of that year's working days, and the same as a set.
        self._ordinals: dict[int, list[int]] = {}
        self._sets: dict[int, frozenset[int]] = {}

    # ----------------------------------------------------------------- per-year tables

    def _year_ordinals(self, year: int) -> list[int]:
        table = self._ordinals.get(year)
        if table is None:
            if not 1 <= year <= 9999:
                raise ValueError(f"year {year} is outside the supported date range")
            schedule = self._schedules.get(year)
            off = schedule.holidays if schedule else frozenset()
            on = schedule.workdays if schedule else frozenset()
            table = []
            day = date(year, 1, 1)
            one = timedelta(days=1)
            while day.year == year:
                if day in on or (day.weekday() < _SATURDAY and day not in off):
                    table.append(day.toordinal())
                day += one
            self._ordinals[year] = table
            self._sets[year] = frozenset(table)
        return table

    def _local_date(self, moment: datetime, what: str) -> date:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
        return moment.astimezone(self.tz).date()

    def _count_after(self, start: date, end: date) -> int:
        """Working days d with start < d <= end."""
        if end <= start:
            return 0
        lo, hi = start.toordinal(), end.toordinal()
        total = 0
        for year in range(start.year, end.year + 1):
            table = self._year_ordinals(year)
            total += bisect_right(table, hi) - bisect_right(table, lo)
        return total

    # ----------------------------------------------------------------- public API

    def knows_year(self, year: int) -> bool:
        """True when a year file or the package gives the official schedule of ``year``."""
        return year in self._schedules

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day; for years nobody loaded, Monday to Friday."""
        if isinstance(day, datetime):
            day = day.date()
        self._year_ordinals(day.year)
        return day.toordinal() in self._sets[day.year]

    def add_working_days(self, start: datetime, days: int) -> Deadline:
        """The deadline ``days`` working days after ``start`` (an aware datetime).

        The start date itself (in the calendar's zone) never counts, whatever the time of
        day; the deadline is the closing time of the ``days``-th working day after it.
        Raises ValueError if ``days`` < 1 or ``start`` is naive.
        """
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"days must be a positive integer, got {days!r}")
        first = self._local_date(start, "start")
        year = first.year
        table = self._year_ordinals(year)
        index = bisect_right(table, first.toordinal())
        remaining = days
        # Walk year by year: take what is left of this year's working days, then the next.
        while remaining > len(table) - index:
            remaining -= len(table) - index
            year += 1
            table = self._year_ordinals(year)
            index = 0
        due_day = date.fromordinal(table[index + remaining - 1])
        unknown = self.unknown_years_between(first + timedelta(days=1), due_day)
        return Deadline(
            due_at=datetime.combine(due_day, self.closing_time, tzinfo=self.tz),
            working_days=days,
            provisional=bool(unknown),
            unknown_years=unknown,
        )

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Whole working days after ``start``'s date up to and including ``end``'s date.

        Both are aware datetimes, taken as dates in the calendar's zone; 0 when ``end``'s
        date is not after ``start``'s. Used to report time to reply in working days.
        """
        return self._count_after(self._local_date(start, "start"), self._local_date(end, "end"))

    def working_days_left(self, now: datetime, due_at: datetime) -> int:
        """Working days from ``now``'s date (exclusive) through ``due_at``'s date (inclusive).

        0 when the deadline is today or already past.
        """
        return self._count_after(self._local_date(now, "now"), self._local_date(due_at, "due_at"))

    def unknown_years_between(self, start: date, end: date) -> tuple[int, ...]:
        """Sorted years of the dates in [start, end] (inclusive) that nobody loaded.

        Empty when ``end`` is before ``start``.
        """
        if end < start:
            return ()
        return tuple(y for y in range(start.year, end.year + 1) if not self.knows_year(y))


# --------------------------------------------------------------------------- year files

_TOP_KEYS = {"year", "source", "holidays", "workdays"}
_HOLIDAY_KEYS = {"name", "from", "to", "days"}


def _as_date(value: Any, where: str) -> date:
    """A YAML value as a date: PyYAML gives date for bare dates; strings are accepted too."""
    if isinstance(value, datetime):
        raise ValueError(f"{where}: {value!r} has a time of day; write a plain date YYYY-MM-DD")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE_RE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{where}: {value!r} is not a date in the form YYYY-MM-DD")


def _in_year(day: date, year: int, where: str) -> date:
    if day.year != year:
        raise ValueError(f"{where}: {day.isoformat()} is not in year {year}")
    return day


def _holiday_days(entry: Any, number: int, year: int) -> Iterable[date]:
    where = f"holidays entry {number}"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected a mapping with name and from/to or days")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: missing key 'name' (e.g. 春节)")
    where = f"holidays entry {number} ({name})"
    unknown = sorted(str(k) for k in entry if k not in _HOLIDAY_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    has_range = "from" in entry or "to" in entry
    if has_range and "days" in entry:
        raise ValueError(f"{where}: give either from/to or days, not both")
    if has_range:
        if "from" not in entry or "to" not in entry:
            missing = "from" if "from" not in entry else "to"
            raise ValueError(f"{where}: missing key '{missing}'")
        first = _in_year(_as_date(entry["from"], f"{where} from"), year, f"{where} from")
        last = _in_year(_as_date(entry["to"], f"{where} to"), year, f"{where} to")
        if last < first:
            raise ValueError(
                f"{where}: 'to' {last.isoformat()} is before 'from' {first.isoformat()}"
            )
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if "days" not in entry:
        raise ValueError(f"{where}: missing key 'from'/'to' or 'days'")
    days = entry["days"]
    if not isinstance(days, list) or not days:
        raise ValueError(f"{where}: 'days' must be a non-empty list of dates")
    return [_in_year(_as_date(d, f"{where} days"), year, f"{where} days") for d in days]


def parse_year_file(text: str) -> YearSchedule:
    """Parse one operator year file (YAML, see deploy/calendar/README.md) into a schedule.

    Pure. Raises ValueError naming the problem: YAML syntax, a missing or unknown key, a
    malformed date, a date outside the file's year, a workday that is not a weekend day, or
    a date listed both as holiday and as workday.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ValueError("expected a mapping with keys year, source, holidays, workdays")
    for key in ("year", "holidays", "workdays"):
        if key not in data:
            hint = " (write [] if there are none)" if key == "workdays" else ""
            raise ValueError(f"missing key '{key}'{hint}")
    unknown = sorted(str(k) for k in data if k not in _TOP_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}")

    year = data["year"]
    if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9999:
        raise ValueError(f"'year' must be a four-digit year, got {year!r}")
    source = data.get("source") or ""
    if not isinstance(source, str):
        raise ValueError(f"'source' must be text, got {source!r}")

    entries = data["holidays"]
    if not isinstance(entries, list):
        raise ValueError("'holidays' must be a list of entries (write [] if there are none)")
    holidays: set[date] = set()
    for number, entry in enumerate(entries, start=1):
        holidays.update(_holiday_days(entry, number, year))

    raw_workdays = data["workdays"]
    if not isinstance(raw_workdays, list):
        raise ValueError("'workdays' must be a list of dates (write [] if there are none)")
    workdays = {_in_year(_as_date(d, "workdays"), year, "workdays") for d in raw_workdays}

    # YearSchedule checks the cross-field rules (weekend-only workdays, no overlap).
    return YearSchedule(
        year=year, holidays=frozenset(holidays), workdays=frozenset(workdays), source=source
    )


def load_year_files(directory: Path | str) -> dict[int, YearSchedule]:
    """Read every ``<yyyy>.yaml`` in ``directory`` (other files are ignored).

    The year in the file name must equal the file's ``year:`` key. Raises ValueError naming
    the file on any problem, and FileNotFoundError / NotADirectoryError when the directory
    is missing: a configured but absent calendar is a deployment error, not "no data".
    """
    folder = Path(directory)
    if not folder.exists():
        raise FileNotFoundError(f"calendar directory {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"calendar path {folder} is not a directory")
    schedules: dict[int, YearSchedule] = {}
    for path in sorted(folder.iterdir()):
        match = _YEAR_FILE_RE.match(path.name)
        if not match or not path.is_file():
            continue
        try:
            schedule = parse_year_file(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: {exc}") from exc
        if schedule.year != int(match.group(1)):
            raise ValueError(
                f"{path}: file name says {match.group(1)} but 'year' is {schedule.year}"
            )
        schedules[schedule.year] = schedule
    return schedules
