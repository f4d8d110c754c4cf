"""An in-memory reporting store: the functions of ``services.reporting.store`` that the handlers
and the projection call, minus the cursor, on plain dicts (for FakeUnitOfWork)."""

import copy
from collections import Counter
from datetime import date, datetime, time, timedelta

from services.reporting import domain, precedents


class FakeReportingStore:
    def __init__(self):
        self.event_log: dict[str, dict] = {}
        self.cases: dict[str, dict] = {}
        self.meetings: dict[str, dict] = {}
        self.counts: Counter = Counter()
        self.gauge_values: Counter = Counter()
        self.timeline: dict[str, list[dict]] = {}
        self.precedents: dict[str, dict] = {}

    # the real store records the id among the handled events and logs the event in one
    # statement: the fake keeps both in its log
    def log_event_once(self, event: dict) -> bool:
        if event["id"] in self.event_log:
            return False
        self.event_log[event["id"]] = copy.deepcopy(event)
        return True

    # the real store inserts a blank row before it locks it: the fake does the same
    def case_for_update(self, case_no: str) -> dict:
        self.cases.setdefault(case_no, domain.blank_case(case_no))
        return copy.deepcopy(self.cases[case_no])

    def cases_and_precedent_for_update(self, case_nos, precedent_case):
        cases = [self.case_for_update(case_no) for case_no in case_nos]
        if precedent_case is None:
            return cases, None
        return cases, self.precedent_for_update(precedent_case)

    def cases_and_precedents_for_update(self, case_nos, precedent_cases):
        cases = [self.case_for_update(case_no) for case_no in case_nos]
        return cases, [self.precedent_for_update(case_no) for case_no in precedent_cases]

    def save_case(self, case: dict) -> None:
        self.cases[case["case_no"]] = copy.deepcopy(case)

    def meeting_for_update(self, meeting_id: str) -> dict:
        self.meetings.setdefault(meeting_id, domain.blank_meeting(meeting_id))
        return copy.deepcopy(self.meetings[meeting_id])

    def save_meeting(self, meeting: dict) -> None:
        self.meetings[meeting["meeting_id"]] = copy.deepcopy(meeting)

    def precedent_for_update(self, case_no: str) -> dict:
        self.precedents.setdefault(case_no, precedents.blank(case_no))
        return copy.deepcopy(self.precedents[case_no])

    def save_precedent(self, precedent: dict, previous: dict) -> None:
        self.precedents[precedent["case_no"]] = copy.deepcopy(precedent)

    def add_counts(self, deltas: dict) -> None:
        self.counts.update(deltas)

    def add_gauges(self, deltas: dict) -> None:
        self.gauge_values.update(deltas)

    def monthly_counts(self, month: date, site: str | None) -> list[dict]:
        return [
            {"site": row_site, "dimension": dimension, "key": key, "value": value}
            for (row_month, row_site, dimension, key), value in self.counts.items()
            if row_month == month and site in (None, row_site) and value
        ]

    def trend_counts(self, first: date, last: date, site: str | None) -> list[dict]:
        summed: dict[tuple, int] = {}
        for (row_month, row_site, dimension, key), value in self.counts.items():
            if first <= row_month <= last and site in (None, row_site):
                if dimension in ("cases", "reply", "rating"):
                    summed[(row_month, dimension, key)] = (
                        summed.get((row_month, dimension, key), 0) + value
                    )
        return [
            {"month": month, "dimension": dimension, "key": key, "value": value}
            for (month, dimension, key), value in summed.items()
        ]

    def gauges(self) -> list[dict]:
        return [
            {"metric": metric, "labels": dict(labels), "value": value}
            for (metric, labels), value in self.gauge_values.items()
        ]

    def case_timeline(self, case_no: str) -> list[dict]:
        return list(self.timeline.get(case_no, []))

    def ledger_batch(self, date_from, date_to, site, after, limit: int) -> list[dict]:
        start = datetime.combine(date_from, time(), domain.LOCAL)
        end = datetime.combine(date_to + timedelta(days=1), time(), domain.LOCAL)
        rows = sorted(
            (
                case
                for case in self.cases.values()
                if case["received_at"] is not None
                and start <= case["received_at"] < end
                and site in (None, case["site"])
            ),
            key=lambda case: (case["received_at"], case["case_no"]),
        )
        if after:
            key = (domain.parse_time(after[0]), after[1])
            rows = [case for case in rows if (case["received_at"], case["case_no"]) > key]
        return [copy.deepcopy(case) for case in rows[:limit]]
