"""The working-day calendar and the deadline policies as nameko dependencies.

The calendar is the ``chinesecalendar`` package plus the operator's year files in
``BANCHENG.CALENDAR_DIR`` (default ``deploy/calendar``). It is loaded when the service starts,
reloaded by the ``reload_calendar`` RPC, and reloaded by a periodic check whenever a year
file in the directory is added, changed or removed; a bad file is logged and the previous
calendar kept, so a typo never stops the deadline clock. The use cases see both as
:class:`Rules`.
"""

import logging
from datetime import time
from pathlib import Path

from nameko.extensions import DependencyProvider, SharedExtension

from services.common.config import REPO_ROOT, service_setting
from services.common.errors import InvalidField
from services.common.workdays import WorkingCalendar, load_year_files
from services.coordination.metrics import CALENDAR_YEARS, seed_deadline_events
from services.coordination.policies import Policies, load_policies

log = logging.getLogger(__name__)


def _signature(folder: Path) -> tuple:
    """What changes when a year file is added, edited or removed."""
    return tuple(
        sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.glob("*.yaml"))
    )


class CalendarHolder(SharedExtension):
    """One calendar per process, shared by every worker."""

    def setup(self):
        config = self.container.config
        folder = Path(service_setting(config, "CALENDAR_DIR", "deploy/calendar"))
        self.folder = folder if folder.is_absolute() else REPO_ROOT / folder
        closing = service_setting(config, "CLOSING_TIME", "18:00")
        self.closing_time = time.fromisoformat(closing)
        self.tz = service_setting(config, "TIMEZONE", "Asia/Shanghai")
        self.signature = None
        self.calendar = None
        self.load()

    def load(self) -> list[int]:
        """(Re)read the year files; returns the years they give. Raises on a bad file."""
        signature = _signature(self.folder)
        schedules = load_year_files(self.folder)
        self.calendar = WorkingCalendar(schedules, closing_time=self.closing_time, tz=self.tz)
        self.signature = signature
        last = max((y for y in range(2000, 2200) if self.calendar.knows_year(y)), default=0)
        CALENDAR_YEARS.set(last)
        log.info(
            "working-day calendar loaded from %s: year files %s", self.folder, sorted(schedules)
        )
        return sorted(schedules)

    def reload(self) -> list[int]:
        """:meth:`load` for an operator's request: a bad file is a 422 naming it."""
        try:
            return self.load()
        except (ValueError, OSError) as exc:
            raise InvalidField(f"日历文件有误：{exc}", "calendar") from exc

    def reload_if_changed(self) -> bool:
        """Reload when the directory changed; a bad file is logged and the old calendar kept."""
        if _signature(self.folder) == self.signature:
            return False
        try:
            self.load()
        except (ValueError, OSError):
            log.exception(
                "calendar files in %s are invalid; keeping the previous calendar", self.folder
            )
            self.signature = _signature(self.folder)  # do not log the same error every tick
            return False
        return True


class Calendar(DependencyProvider):
    """The process's :class:`CalendarHolder`, for the entrypoints that reload it."""

    holder = CalendarHolder()

    def get_dependency(self, worker_ctx):
        return self.holder


class PoliciesHolder(SharedExtension):
    def setup(self):
        self.policies = load_policies()
        seed_deadline_events(policy.kind for policy in self.policies.all)


class Rules:
    """What deadlines are computed by, as the use cases ask for it (``rules.calendar``,
    ``rules.policies``): the calendar as loaded at the moment it is read, so a use case
    that runs after a reload counts on the new year files."""

    def __init__(self, calendar: CalendarHolder, policies: Policies):
        self._calendar = calendar
        self.policies = policies

    @property
    def calendar(self) -> WorkingCalendar:
        return self._calendar.calendar


class DeadlineRules(DependencyProvider):
    """Injects :class:`Rules` on the process's calendar and policies."""

    calendar = CalendarHolder()
    policies = PoliciesHolder()

    def get_dependency(self, worker_ctx):
        return Rules(self.calendar, self.policies.policies)
