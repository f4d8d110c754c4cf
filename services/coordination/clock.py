"""The working-day calendar and the deadline policies as nameko dependencies, and their metrics.

The calendar is the ``chinesecalendar`` package plus the operator's year files in
``BANCHENG.CALENDAR_DIR`` (default ``deploy/calendar``). It is loaded when the service starts,
reloaded by the ``reload_calendar`` RPC, and reloaded by a periodic check whenever a year
file in the directory is added, changed or removed; a bad file is logged and the previous
calendar kept, so a typo never stops the deadline clock.
"""

import logging
from datetime import time
from pathlib import Path

from nameko.extensions import DependencyProvider, SharedExtension
from prometheus_client import Counter, Gauge, Histogram

from services.common.config import REPO_ROOT, service_setting
from services.common.workdays import WorkingCalendar, load_year_files
from services.coordination.policies import load_policies

log = logging.getLogger(__name__)

PROVISIONAL_DEADLINES = Gauge(
    "bancheng_provisional_deadlines",
    "Open deadlines counted on a year nobody loaded (weekends only): load that year's file",
)
PROVISIONAL_COMPUTED = Counter(
    "bancheng_provisional_deadlines_computed_total",
    "Deadlines computed provisionally because a year was not loaded",
    ["year"],
)
DEADLINE_EVENTS = Counter(
    "bancheng_deadline_events_total", "Deadline warnings and breaches raised", ["event", "kind"]
)
DEADLINE_SCAN_SECONDS = Histogram(
    "bancheng_deadline_scan_seconds", "Time of one deadline-clock scan (warnings and breaches)"
)
CALENDAR_YEARS = Gauge(
    "bancheng_calendar_last_known_year", "The last year whose official schedule is loaded"
)


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
    holder = CalendarHolder()

    def get_dependency(self, worker_ctx):
        return self.holder


class PoliciesHolder(SharedExtension):
    def setup(self):
        self.policies = load_policies()


class DeadlinePolicies(DependencyProvider):
    holder = PoliciesHolder()

    def get_dependency(self, worker_ctx):
        return self.holder.policies
