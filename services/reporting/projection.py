"""One way from an event to the read models, used alike by the consumers and by the replay.

A batch event (``cases_registered``: the cases one transaction of intake opened) is projected
as its parts, the single events it stands for (:func:`services.reporting.domain.parts`), one
after the other in one transaction: the rows end as the N single events would leave them.

The rows an event touches are locked in a fixed order (cases by number, then their precedents
by number, all in one round trip, then the meeting, then counters and gauges by key), so
concurrent consumers never deadlock; the counters and gauges move by the difference between what
the touched rows contributed before and after the event.
"""

from collections import Counter

from services.reporting import domain, precedents


def project(rows, event: dict) -> None:
    """Apply ``event`` to the read models in ``rows``: reporting's store bound to the caller's
    transaction (a unit of work's ``store``; the replay binds it to its own cursor)."""
    singles = domain.parts(event)
    case_nos = sorted({case_no for single in singles for case_no in domain.case_targets(single)})
    precedent_cases = sorted(
        {case_no for single in singles if (case_no := precedents.target(single)) is not None}
    )
    old_cases, old_precedents = rows.cases_and_precedents_for_update(case_nos, precedent_cases)
    cases = dict(zip(case_nos, old_cases, strict=True))
    precedent_rows = dict(zip(precedent_cases, old_precedents, strict=True))
    counts, gauges, meetings = Counter(), Counter(), []
    for single in singles:
        counts.update(domain.event_counters(single))
        touched = []
        for case_no in domain.case_targets(single):
            cases[case_no] = domain.apply_to_case(cases[case_no], single)
            touched.append(cases[case_no])
        meeting_id = domain.meeting_target(single, touched)
        if meeting_id is not None:  # an event of one meeting: never a batch's part
            old = rows.meeting_for_update(meeting_id)
            meetings.append((old, domain.apply_to_meeting(old, single, touched)))
        precedent_case = precedents.target(single)
        if precedent_case is not None:
            precedent_rows[precedent_case] = precedents.apply(
                precedent_rows[precedent_case], single
            )
    for old, new in zip(old_cases, (cases[case_no] for case_no in case_nos), strict=True):
        if new != old:
            rows.save_case(new)
            counts.update(domain.difference(domain.case_counters(old), domain.case_counters(new)))
            gauges.update(domain.difference(domain.case_gauges(old), domain.case_gauges(new)))
    for old, new in meetings:
        if new != old:
            rows.save_meeting(new)
            gauges.update(domain.difference(domain.meeting_gauges(old), domain.meeting_gauges(new)))
    for old, precedent_case in zip(old_precedents, precedent_cases, strict=True):
        new = precedent_rows[precedent_case]
        if new != old:
            rows.save_precedent(new, old)
    rows.add_counts({key: n for key, n in counts.items() if n})
    rows.add_gauges({key: n for key, n in gauges.items() if n})
