"""Coordination's Prometheus metrics: the deadline clock and the calendar it counts on."""

from prometheus_client import Counter, Gauge, Histogram

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
# what the clock raises (handlers.scan_deadlines labels DEADLINE_EVENTS with these)
DEADLINE_EVENT_NAMES = ("warning", "breach")


def seed_deadline_events(kinds) -> None:
    """Give every (event, kind) its series at 0 from the start, so a scrape shows every known
    deadline kind (the policies' and a joint meeting's ``assignment``) before anything is due,
    instead of the series appearing only with its first warning or breach."""
    for kind in sorted({*kinds, "assignment"}):
        for event in DEADLINE_EVENT_NAMES:
            DEADLINE_EVENTS.labels(event, kind)
