"""One way from an event to the read models, used alike by the consumers and by the replay.

The rows an event touches are locked in a fixed order (cases by number, then the meeting, then
counters and gauges by key), so concurrent consumers never deadlock; the counters and gauges move
by the difference between what the touched rows contributed before and after the event.
"""

from collections import Counter

from services.reporting import domain, store


def project(cur, event: dict) -> None:
    """Apply ``event`` to the read models inside the caller's transaction."""
    counts = Counter(domain.event_counters(event))
    gauges = Counter()
    cases = []
    for case_no in domain.case_targets(event):
        old = store.lock_case(cur, case_no)
        new = domain.apply_to_case(old, event)
        if new != old:
            store.save_case(cur, new)
            counts.update(domain.difference(domain.case_counters(old), domain.case_counters(new)))
            gauges.update(domain.difference(domain.case_gauges(old), domain.case_gauges(new)))
        cases.append(new)
    meeting_id = domain.meeting_target(event, cases)
    if meeting_id is not None:
        old = store.lock_meeting(cur, meeting_id)
        new = domain.apply_to_meeting(old, event, cases)
        if new != old:
            store.save_meeting(cur, new)
            gauges.update(domain.difference(domain.meeting_gauges(old), domain.meeting_gauges(new)))
    store.add_counts(cur, {key: n for key, n in counts.items() if n})
    store.add_gauges(cur, {key: n for key, n in gauges.items() if n})
