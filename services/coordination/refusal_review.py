"""否定答复: every `cannot` answer reported upward, reviewed by the approval bureau and counted
in a monthly report (use cases on a unit of work, like ``handlers``: no SQL, no nameko).

Each explanation of a `cannot` case is kept as it was given (``handlers.explain`` adds it). The
bureau reviews a case's latest answer once: ``upheld``, or ``sent_back`` with a reason, which
withdraws the explanation and takes the case up again for the officer — a replied, resolved,
closed or archived case moves back to ``in_progress`` (as a reopening does) with the
policies' fresh period for a reopened case, its result withdrawn — so the officer must explain
again, which adds the next answer to review. The review is a decision like any other: its
event (``refusal_reviewed``) and timeline entry are committed with it, and accountability keeps
it in the audit trail. Only the approval bureau reviews; this module checks the role itself.
"""

from services.common.errors import Forbidden, InvalidField, NotFound
from services.coordination import domain, events, handlers


def review(uow, rules, case_no: str, payload: dict, actor: dict) -> dict:
    """The bureau's review of the case's latest `cannot` answer; returns the case's summary."""
    if actor.get("role") != "bureau":
        raise Forbidden("“不能办”答复由区行政审批局审核")
    checked = domain.check_refusal_review(payload)
    with uow.begin():
        now = uow.now()
        case = uow.store.case_for_update(case_no)
        if case is None:
            raise NotFound(f"事项 {case_no} 没有“不能办”答复", "case_no")
        refusal = uow.store.latest_refusal_for_update(case_no)
        domain.check_reviewable(case_no, refusal)
        target = domain.sent_back_state(domain.facts_of(case)) if _sent_back(checked) else None
        uow.store.save_refusal_review(refusal["id"], checked, actor["id"], now)
        uow.record(events.refusal_reviewed(case, refusal, checked, actor, now))
        if _sent_back(checked):
            uow.store.save_explanation(case_no, None)
            if target is not None:
                reason = f"{domain.ACTION_LABELS['send_back']}：{checked['reason']}"
                handlers._set_state(uow, case, target, actor, reason, now)
                uow.store.save_resolution(case_no, None)
                handlers._start_deadlines(uow, rules, case, "case_reopened", now)
        return {
            "review": _reviewed(refusal, checked, actor, now),
            **handlers._summary(uow, case_no),
        }


def report(uow, rules, month: str, filters: dict) -> dict:
    """Every `cannot` answer given in ``month`` (local time), with its basis, missing key
    materials and review, counted in total, by department and by matter; months are the
    calendar's zone's (the hall's). ``filters``: ``site`` (the caller's scope), ``department``."""
    start, end = domain.month_range(month, rules.calendar.tz)
    with uow.begin():
        items = uow.store.refusals_given(
            start,
            end,
            site=filters.get("site"),
            department=filters.get("department"),
            limit=domain.MAX_REPORT_REFUSALS + 1,
        )
    if len(items) > domain.MAX_REPORT_REFUSALS:
        raise InvalidField(
            f"本月“不能办”答复超过 {domain.MAX_REPORT_REFUSALS} 件，请按场所或部门分别查看",
            "month",
        )
    return {
        "month": month,
        "site": filters.get("site"),
        "department": filters.get("department"),
        "items": items,
        **domain.refusal_counts(items),
    }


def _sent_back(review: dict) -> bool:
    return review["result"] == "sent_back"


def _reviewed(refusal: dict, review: dict, actor: dict, at) -> dict:
    return {
        "refusal_id": refusal["id"],
        "result": review["result"],
        "result_label": domain.REVIEW_LABELS[review["result"]],
        "reason": review["reason"],
        "reviewed_by": actor["id"],
        "reviewed_at": at.isoformat(),
    }
