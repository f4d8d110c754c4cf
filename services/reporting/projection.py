"""One way from an event to the read models, used alike by the consumers and by the replay.

The rows an event touches are locked in a fixed order (cases by number, then the case's
precedent, both in one round trip, then the meeting, then counters and gauges by key), so
concurrent consumers never deadlock; the counters and gauges move by the difference between what
the touched rows contributed before and after the event.
"""

from collections import Counter

from services.reporting import domain, precedents


def project(rows, event: dict) -> None:
    """Apply ``event`` to the read models in ``rows``: reporting's store bound to the caller's
    transaction (a unit of work's ``store``; the replay binds it to its own cursor)."""
    counts = Counter(domain.event_counters(event))
    gauges = Counter()
    cases = []
    precedent_case = precedents.target(event)
    old_cases, old_precedent = rows.cases_and_precedent_for_update(
        domain.case_targets(event), precedent_case
    )
    for old in old_cases:
        new = domain.apply_to_case(old, event)
        if new != old:
            rows.save_case(new)
            counts.update(domain.difference(domain.case_counters(old), domain.case_counters(new)))
            gauges.update(domain.difference(domain.case_gauges(old), domain.case_gauges(new)))
        cases.append(new)
    meeting_id = domain.meeting_target(event, cases)
    if meeting_id is not None:
        old = rows.meeting_for_update(meeting_id)
        new = domain.apply_to_meeting(old, event, cases)
        if new != old:
            rows.save_meeting(new)
            gauges.update(domain.difference(domain.meeting_gauges(old), domain.meeting_gauges(new)))
    if precedent_case is not None:
        new = precedents.apply(old_precedent, event)
        if new != old_precedent:
            rows.save_precedent(new, old_precedent)
    rows.add_counts({key: n for key, n in counts.items() if n})
    rows.add_gauges({key: n for key, n in gauges.items() if n})
