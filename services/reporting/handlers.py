"""Reporting's use cases, each on a unit of work (no SQL, no nameko): project a consumed event
once, read the monthly summary, a batch of the ledger (台账), reporting's timeline entries and the
precedents like a case being registered."""

from services.common.errors import InvalidField
from services.reporting import domain, precedents
from services.reporting.projection import project

MAX_LEDGER_BATCH = 10000
# the events reporting acknowledges on the case's timeline: kind and text of the entry
TIMELINE_NOTES = {"case_registered": ("counted", "已计入月度统计（reporting）")}


def project_event(uow, event: dict) -> bool:
    """Log ``event`` and apply it to the read models, once: False for a redelivery or an event
    already in the log (the log is what the replay rebuilds from). The event's id is recorded
    among the handled ones and the event logged by one statement (what ``uow.handling_once``
    and a separate insert into the log would do in two). A batch event (``cases_registered``)
    is logged once and applied, notes included, as its parts would be one by one."""
    with uow.begin():
        if not uow.store.log_event_once(event):
            return False
        project(uow.store, event)
        for single in domain.parts(event):  # a batch's cases each get their single note
            if single["type"] in TIMELINE_NOTES:
                kind, text = TIMELINE_NOTES[single["type"]]
                uow.note(single["data"]["case_no"], None, kind, text)
        return True


def monthly_summary(uow, month: str, site: str | None = None) -> dict:
    """The month's summary, read from the monthly counters only (never the cases)."""
    first_day = domain.parse_month(month)
    with uow.begin():
        rows = uow.store.monthly_counts(first_day, site)
        previous = uow.store.monthly_counts(domain.previous_month(first_day), site)
    return domain.monthly_summary(first_day, site, rows, previous)


def monthly_trend(uow, month: str, site: str | None = None) -> list[dict]:
    """Cases, on-time rate and satisfaction of the 12 months up to ``month``, oldest first, in
    one query of the monthly counters."""
    last = domain.parse_month(month)
    first = domain.months_before(last, domain.TREND_MONTHS - 1)
    with uow.begin():
        rows = uow.store.trend_counts(first, last, site)
    return domain.monthly_trend(first, domain.TREND_MONTHS, rows)


def ledger_batch(
    uow, date_from: str, date_to: str, site: str | None, after: list | None, limit
) -> list[dict]:
    """One batch of the ledger: cases received from ``date_from`` to ``date_to`` (local days,
    inclusive) after the key ``after`` = [received_at, case_no], at most ``MAX_LEDGER_BATCH``."""
    start = domain.parse_day(date_from, "from")
    end = domain.parse_day(date_to, "to")
    if end < start:
        raise InvalidField("结束日期早于开始日期", "to")
    limit = max(1, min(int(limit), MAX_LEDGER_BATCH))
    with uow.begin():
        return uow.store.ledger_batch(start, end, site, after, limit)


def case_timeline(uow, case_no: str) -> list[dict]:
    """Reporting's entries on the case's timeline."""
    with uow.begin():
        return uow.store.case_timeline(case_no)


def similar_cases(uow, text, matter=None, viewer_site=None, exclude=None, limit=None) -> list[dict]:
    """The settled cases most like ``text``: of ``matter`` first, then of other matters clearly
    alike; as ``viewer_site`` may see them (:func:`services.reporting.precedents.present`)."""
    compared = precedents.query_text(text)
    if compared is None:
        return []
    limit = precedents.check_limit(limit if limit is not None else precedents.DEFAULT_LIMIT)
    same, others = [], []
    with uow.begin():
        if matter:
            same = _similar(uow, compared, precedents.SAME_MATTER_THRESHOLDS, matter, True,
                            exclude, limit)  # fmt: skip
        if len(same) < limit:
            others = _similar(uow, compared, precedents.OTHER_MATTER_THRESHOLDS, matter or None,
                              False, exclude, limit)  # fmt: skip
    rows = precedents.ranked(same, others, limit)
    return [precedents.present(row, matter or None, viewer_site) for row in rows]


def _similar(uow, text, thresholds, matter, same_matter, exclude, limit) -> list[dict]:
    """Precedents found with each threshold in turn (highest first) until ``limit`` are."""
    found = {}
    for threshold in thresholds:
        for row in uow.store.similar_precedents(
            text, threshold, matter, same_matter, exclude, limit, precedents.SAMPLE
        ):
            found.setdefault(row["case_no"], row)
        if len(found) >= limit:
            break
    return list(found.values())
