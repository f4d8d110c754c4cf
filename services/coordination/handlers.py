"""Coordination's use cases, each in one unit of work (no SQL, no cursor, no nameko).

A use case reads and changes state through ``uow.store``, takes the time from ``uow.now()``,
asks :mod:`~services.coordination.domain` for the rules and records each decision with
``uow.record(events....)``: the event and its timeline entry are committed with the state
change or not at all. ``rules`` gives the working-day calendar (``rules.calendar``) and the
deadline policies (``rules.policies``). A case coordination has not seen yet raises
:class:`~services.coordination.handover.NotHandedOver` (the entrypoint fetches it from intake
and runs the use case again).
"""

import logging

from services.common import paging
from services.common.errors import Forbidden, InvalidField, NotFound
from services.coordination import bad_ratings, domain, events
from services.coordination.handover import NotHandedOver
from services.coordination.metrics import (
    DEADLINE_EVENTS,
    DEADLINE_SCAN_SECONDS,
    PROVISIONAL_COMPUTED,
    PROVISIONAL_DEADLINES,
)

log = logging.getLogger(__name__)

SCAN_BATCH = 500  # deadlines one scan warns or breaches at most; the next scan takes the rest
MAX_LISTED_CASES = paging.MAX_LIMIT  # a list page's cases, for deadlines_of_cases
MAX_CASE_MEETINGS = 200


# --------------------------------------------------------------------------- what intake told


def record_return_visit(uow, event: dict) -> bool:
    """Note intake's ``return_visit_recorded`` once (a case that needs one may close now)."""
    with uow.handling_once(event) as work:
        if work is None:
            return False
        data = event["data"]
        if not work.store.record_return_visit(data["case_no"], data["at"]):
            raise NotHandedOver(data["case_no"])
        work.note(data["case_no"], data.get("actor"), *events.return_visit_note())
        return True


# --------------------------------------------------------------------------- the case's flow


def classify_case(uow, rules, case_no: str, payload: dict, actor: dict) -> dict:
    """Sort a registered case into one of the four types; its deadlines start."""
    if actor.get("role") != "officer":
        raise Forbidden("只有办不成事反映窗口的工作人员可以分类")
    with uow.begin():
        now = uow.now()
        case = _case_for_update(uow, case_no)
        classification = domain.check_classification(payload)
        _transition(uow, case, "classify", actor, classification["reason"], now)
        uow.store.classify(case_no, classification, actor["id"], now)
        case = {**case, **classification}
        uow.record(events.case_classified(case, classification, actor, now))
        _start_deadlines(uow, rules, case, "case_registered", case["received_at"])
        _start_deadlines(uow, rules, case, "case_classified", now)
        return _summary(uow, case_no)


def explain(uow, case_no: str, payload: dict, actor: dict) -> dict:
    """A `cannot` case's legal or policy basis and how to obtain what is missing."""
    with uow.begin():
        now = uow.now()
        case = _case_for_update(uow, case_no, actor)
        domain.check_work(domain.facts_of(case), "explain", "cannot")  # 409 before field errors
        explanation = domain.check_explanation(payload)
        _start_work(uow, case, "explain", "cannot", actor, now)
        stored = {**explanation, "actor": actor["id"], "at": now.isoformat()}
        uow.store.save_explanation(case_no, stored)
        uow.store.add_refusal(case, explanation, actor["id"], now)  # reported upward (否定答复)
        uow.record(events.explanation_given(case, explanation, actor, now))
        return _summary(uow, case_no)


def add_measure(uow, case_no: str, payload: dict, actor: dict) -> dict:
    """A `hard` case's coordination measure; 容缺受理 pauses the deadlines its policy lets."""
    with uow.begin():
        now = uow.now()
        case = _case_for_update(uow, case_no, actor)
        domain.check_work(domain.facts_of(case), "measure", "hard")
        measure = domain.check_measure(payload)
        _start_work(uow, case, "measure", "hard", actor, now)
        row = uow.store.add_measure(case_no, measure, actor["id"])
        uow.record(events.measure_added(case, measure, row["id"], actor, now))
        if measure["measure"] == "deferred_materials":
            reason = events.waiting_for_materials(measure)
            for deadline in uow.store.open_deadlines_for_update(case_no):
                if domain.waits_for_materials(deadline):
                    key = domain.deferred_pause_key(row["id"])
                    _pause(uow, case, deadline, reason, key, actor, now)
        return {"measure_id": row["id"], **_summary(uow, case_no)}


def record_measure_response(
    uow, rules, case_no: str, measure_id: int, payload: dict, actor: dict
) -> dict:
    """A department's answer to a measure; delivered 容缺 material resumes what it paused."""
    with uow.begin():
        now = uow.now()
        case = _case_for_update(uow, case_no, actor)
        measure = uow.store.measure_for_update(int(measure_id))
        if measure is None or measure["case_no"] != case_no:
            raise NotFound(f"事项 {case_no} 没有编号为 {measure_id} 的措施", "measure_id")
        domain.check_response_allowed(domain.facts_of(case))
        response = domain.check_measure_response(payload, measure["departments"])
        uow.store.add_measure_response(measure["id"], response, actor["id"])
        uow.record(events.measure_response_recorded(case, measure["id"], response, actor, now))
        if response["delivered"] and measure["measure"] == "deferred_materials":
            key = domain.deferred_pause_key(measure["id"])
            for deadline in uow.store.open_deadlines_for_update(case_no):
                if deadline["paused_by"] == key:
                    _resume(uow, rules, case, deadline, actor, now)
        return _summary(uow, case_no)


def pause_deadline(uow, case_no: str, deadline_id: int, payload: dict, actor: dict) -> dict:
    """Stop a deadline's clock by hand, with a reason (where its policy allows it)."""
    with uow.begin():
        now = uow.now()
        case = _case_for_update(uow, case_no, actor)
        deadline = _deadline_for_update(uow, case_no, deadline_id)
        reason = domain.text(payload, "reason", "暂停理由")
        domain.check_manual_pause(deadline)
        _pause(uow, case, deadline, reason, "manual", actor, now)
        return _summary(uow, case_no)


def resume_deadline(uow, rules, case_no: str, deadline_id: int, payload: dict, actor: dict) -> dict:
    """Start a paused deadline's clock again: the working days it had left count from now."""
    with uow.begin():
        now = uow.now()
        case = _case_for_update(uow, case_no, actor)
        deadline = _deadline_for_update(uow, case_no, deadline_id)
        domain.check_resumable(deadline)
        _resume(uow, rules, case, deadline, actor, now)
        return _summary(uow, case_no)


def reply(uow, rules, case_no: str, payload: dict, actor: dict) -> dict:
    """The answer to the applicant; records whether it met the reply deadline."""
    with uow.begin():
        now = uow.now()
        case = _case_for_update(uow, case_no, actor)
        summary = domain.text(payload, "summary", "答复内容")
        _transition(uow, case, "reply", actor, summary, now)
        open_replies = uow.store.open_deadlines_for_update(case_no, stage="reply")
        due_at = open_replies[0]["due_at"] if open_replies else None
        record = domain.reply_record(rules.calendar, case["received_at"], now, due_at)
        answer = events.reply(case_no, summary, record, due_at, actor, now)
        uow.store.save_reply(case_no, answer)
        uow.store.meet_deadlines(case_no, now, stage="reply")
        uow.record(events.case_replied(case, answer))
        return _summary(uow, case_no)


def resolve(uow, case_no: str, payload: dict, actor: dict) -> dict:
    """The case's result (archiving follows); every deadline of the case is met."""
    with uow.begin():
        now = uow.now()
        case = _case_for_update(uow, case_no, actor)
        measure_ids = [m["id"] for m in uow.store.measures(case_no)]
        resolution = domain.check_resolution(payload, measure_ids)
        _transition(uow, case, "resolve", actor, resolution["summary"], now)
        stored = {**resolution, "actor": actor["id"], "at": now.isoformat()}
        uow.store.save_resolution(case_no, stored)
        uow.store.meet_deadlines(case_no, now)
        uow.record(events.case_resolved(case, resolution, actor, now))
        return _summary(uow, case_no)


def close(uow, case_no: str, payload: dict | None, actor: dict) -> dict:
    """Close a resolved case (after its return visit, where one is required, and once a bad
    rating's 差评 loop is settled: see bad_ratings)."""
    with uow.begin():
        now = uow.now()
        case = _case_for_update(uow, case_no, actor)
        reason = domain.text(payload or {}, "reason", "理由", required=False)
        domain.next_state(domain.facts_of(case), "close")  # the state's own 409 first
        if case["channel"] == "rating":
            bad_ratings.closing_check(uow, case)
        _transition(uow, case, "close", actor, reason, now)
        return _summary(uow, case_no)


def archive(uow, case_no: str, payload: dict | None, actor: dict) -> dict:
    return _simple_transition(uow, case_no, payload, actor, "archive")


def reopen(uow, rules, case_no: str, payload: dict, actor: dict) -> dict:
    """Take a resolved, closed or archived case up again: its result is withdrawn and it gets
    a fresh period to be resolved."""
    with uow.begin():
        now = uow.now()
        case = _case_for_update(uow, case_no, actor)
        reason = domain.text(payload, "reason", "重新打开的理由")
        _transition(uow, case, "reopen", actor, reason, now)
        uow.store.save_resolution(case_no, None)
        _start_deadlines(uow, rules, case, "case_reopened", now)
        return _summary(uow, case_no)


# --------------------------------------------------------------------------- joint meetings


def convene_meeting(uow, rules, payload: dict, actor: dict) -> dict:
    """The approval bureau convenes a joint meeting on `pending` cases (一事一议); a complex
    meeting gives its cases the longer reply period."""
    if actor.get("role") != "bureau":
        raise Forbidden("联席会议由区行政审批局召集")
    with uow.begin():
        now = uow.now()
        meeting = domain.check_meeting(payload)
        cases = uow.store.cases_for_update(meeting["case_nos"])
        found = {case["case_no"] for case in cases}
        missing = [no for no in meeting["case_nos"] if no not in found]
        if missing:
            error = InvalidField(f"事项 {'、'.join(missing)} 不存在", "case_nos")
            raise NotHandedOver(*missing, error=error)
        for case in cases:
            domain.check_work(domain.facts_of(case), "meeting", "pending")
        row = uow.store.add_meeting(meeting, actor["id"])
        dues = []
        for case in cases:
            _start_work(uow, case, "meeting", "pending", actor, now)
            if meeting["complex"] and not case["complex"]:
                uow.store.set_complex(case["case_no"])
                _apply_complex(uow, rules, {**case, "complex": True})
            replies = uow.store.open_deadlines_for_update(case["case_no"], stage="reply")
            dues += [deadline["due_at"] for deadline in replies]
            uow.note(
                case["case_no"], actor["id"], *events.meeting_convened_note(row["id"], meeting)
            )
        reply_due_at = min(dues) if dues else None
        uow.store.set_meeting_reply_due(row["id"], reply_due_at)
        uow.record(events.joint_meeting_convened(row["id"], meeting, reply_due_at, actor, now))
        return _meeting_views(uow, [uow.store.meeting(row["id"])])[0]


def record_minutes(uow, rules, meeting_id, payload: dict, actor: dict) -> dict:
    """The meeting's attendance, decision and tasks; a department absent without a valid
    reason is announced (accountability deducts its points), each task gets its deadline."""
    if actor.get("role") != "bureau":
        raise Forbidden("联席会议纪要由区行政审批局记录")
    with uow.begin():
        now = uow.now()
        meeting = _meeting(uow, meeting_id, for_update=True)
        domain.check_not_minuted(meeting)
        minutes = domain.check_minutes(payload, meeting["departments"], meeting["case_nos"])
        uow.store.save_minutes(meeting["id"], minutes, actor["id"], now)
        uow.record(events.joint_meeting_minuted(meeting, minutes, actor, now))
        for department in domain.absent_without_reason(minutes["attendance"]):
            uow.record(events.department_absent(meeting, department, actor, now))
        cases = {c["case_no"]: c for c in uow.store.cases_for_update(meeting["case_nos"])}
        for assignment in minutes["assignments"]:
            case = cases[assignment["case_no"]]
            uow.store.add_deadline(
                domain.assignment_deadline(rules.calendar, case, meeting["id"], assignment, now)
            )
        for case_no in meeting["case_nos"]:
            uow.note(case_no, actor["id"], *events.meeting_minuted_note(meeting, minutes))
        return _meeting_views(uow, [uow.store.meeting(meeting["id"])])[0]


def deliver_assignment(uow, meeting_id, deadline_id, actor: dict) -> dict:
    """A department delivered its task from the meeting."""
    with uow.begin():
        now = uow.now()
        meeting = _meeting(uow, meeting_id)
        done = uow.store.meet_assignment(meeting["id"], int(deadline_id), now)
        if done is None:
            raise NotFound(f"联席会议 {meeting_id} 没有未完成的任务 {deadline_id}", "id")
        uow.note(done["case_no"], actor["id"], *events.assignment_delivered_note(done))
        return _meeting_views(uow, [uow.store.meeting(meeting["id"])])[0]


def list_meetings(uow, filters: dict, actor: dict) -> list[dict]:
    """Joint meetings, newest first; ``case_no`` and ``minuted`` filter them. Window staff
    (and every role bound to a site) see only the meetings about a case of their site."""
    minuted = filters.get("minuted")
    with uow.begin():
        rows = uow.store.meetings(
            case_no=filters.get("case_no"),
            minuted=None if minuted is None else str(minuted).lower() in ("1", "true", "yes"),
            site=domain.meeting_site_filter(actor),
            **_page(filters),
        )
        return _meeting_views(uow, rows)


def get_meeting(uow, meeting_id, actor: dict) -> dict:
    """One joint meeting; 404 to a site-bound role when none of its cases is of their site
    (as if it did not exist: meeting ids are sequential)."""
    with uow.begin():
        meeting = _meeting(uow, meeting_id)
        if domain.meeting_site_filter(actor) is not None:
            sites = uow.store.sites_of_cases(list(meeting["case_nos"]))
            if not domain.sees_meeting(actor, sites):
                raise NotFound(f"联席会议 {meeting_id} 不存在", "id")
        return _meeting_views(uow, [meeting])[0]


# --------------------------------------------------------------------------- standard practices


def promote_practice(uow, payload: dict, actor: dict) -> dict:
    """A way of solving found in coordination becomes a standard practice at some windows."""
    if actor.get("role") not in ("officer", "bureau"):
        raise Forbidden("只有办不成事反映窗口或区行政审批局可以推广常态化做法")
    with uow.begin():
        now = uow.now()
        practice = domain.check_practice(payload)
        if practice["case_no"]:
            case = uow.store.case_for_update(practice["case_no"])
            if case is None:
                error = InvalidField(f"事项 {practice['case_no']} 不存在", "case_no")
                raise NotHandedOver(practice["case_no"], error=error)
            domain.check_practice_source(case, practice)
        row = uow.store.add_practice(practice, actor["id"])
        uow.record(events.practice_promoted(row, actor, now))
        return row


def practices_for(uow, matter: str) -> list[dict]:
    """A matter's standard practices (intake shows them when a case of it is registered)."""
    with uow.begin():
        return uow.store.practices(matter=matter, limit=paging.MAX_LIMIT)


def list_practices(uow, filters: dict) -> list[dict]:
    with uow.begin():
        return uow.store.practices(
            matter=filters.get("matter"), window=filters.get("window"), **_page(filters)
        )


# --------------------------------------------------------------------------- reading


def case_summary(uow, case_no: str) -> dict:
    """Coordination's view of a case: state, type, explanation, measures, reply, result, and
    what it allows now and who may do it."""
    with uow.begin():
        return _summary(uow, case_no)


def case_deadlines(uow, rules, case_no: str) -> list[dict]:
    with uow.begin():
        rows = uow.store.case_deadlines(case_no)
    now = uow.now()
    return [domain.deadline_view(row, rules.calendar, now) for row in rows]


def deadlines_of_cases(uow, rules, case_nos: list[str]) -> dict[str, list[dict]]:
    """Each listed case's deadlines, in one call for a list page (at most 200 cases)."""
    if not isinstance(case_nos, list) or len(case_nos) > MAX_LISTED_CASES:
        raise InvalidField("case_nos 应为至多 200 个事项编号的列表", "case_nos")
    if not all(isinstance(case_no, str) for case_no in case_nos):
        raise InvalidField("case_nos 中每一项都应为事项编号", "case_nos")
    with uow.begin():
        rows = uow.store.deadlines_of_cases(case_nos)
    now = uow.now()
    found = {case_no: [] for case_no in case_nos}
    for row in rows:
        found[row["case_no"]].append(domain.deadline_view(row, rules.calendar, now))
    return found


def case_timeline(uow, case_no: str) -> list[dict]:
    """Coordination's entries on the case's timeline."""
    with uow.begin():
        return uow.store.case_timeline(case_no)


def refusals(uow, filters: dict) -> list[dict]:
    """Each case's latest `cannot` answer with its basis and the bureau's review, by case
    number, newest first (reported upward; the monthly report is ``refusal_review.report``)."""
    with uow.begin():
        page = _page(filters, by_case_no=True)
        return uow.store.refusals(
            site=filters.get("site"), department=filters.get("department"), **page
        )


# --------------------------------------------------------------------------- the deadline clock


def scan_deadlines(uow) -> dict:
    """Raise due warnings and breaches; each one once, however many instances scan."""
    with DEADLINE_SCAN_SECONDS.time(), uow.begin():
        now = uow.now()
        warned = uow.store.warn_due(now, SCAN_BATCH)
        for deadline in warned:
            uow.record(events.deadline_warning(deadline))
            DEADLINE_EVENTS.labels("warning", deadline["kind"]).inc()
        breached = uow.store.breach_due(now, SCAN_BATCH)
        for deadline in breached:
            uow.record(events.deadline_breached(deadline))
            if deadline["kind"] == "assignment":
                uow.record(events.assignment_not_delivered(deadline))
            DEADLINE_EVENTS.labels("breach", deadline["kind"]).inc()
    return {"warned": len(warned), "breached": len(breached)}


def calendar_checked(uow, rules, *, reloaded: bool) -> None:
    """After the periodic look at the year files: recount what was provisional when they
    changed, else refresh the gauge of provisional deadlines."""
    if reloaded:
        recompute_provisional(uow, rules)
        return
    with uow.begin():
        PROVISIONAL_DEADLINES.set(uow.store.count_provisional())


def recompute_provisional(uow, rules) -> int:
    """Recompute open provisional deadlines on the current calendar; returns how many."""
    changed = 0
    with uow.begin():
        for deadline in uow.store.provisional_deadlines_for_update():
            plan = domain.recomputed_plan(rules.calendar, deadline)
            if plan is None:
                continue
            _deadline_set(uow, uow.store.replan_deadline(deadline["id"], plan))
            changed += 1
        PROVISIONAL_DEADLINES.set(uow.store.count_provisional())
    log.info("recomputed %d provisional deadline(s) on the reloaded calendar", changed)
    return changed


# --------------------------------------------------------------------------- steps of the above


def _page(filters: dict, *, by_case_no: bool = False) -> dict:
    """The page a list request asks for, by the one paging rule: its size, and the key it
    starts after (an id; a case number for lists keyed by case)."""
    cursor = filters.get("cursor")
    return {
        "limit": paging.limit_from(filters.get("limit")),
        "cursor": (cursor or None) if by_case_no else paging.keyset_after(cursor),
    }


def _case_for_update(uow, case_no: str, actor: dict | None = None) -> dict:
    """The case, locked; with ``actor``, one who may act on it (403 otherwise)."""
    case = uow.store.case_for_update(case_no)
    if case is None:
        raise NotHandedOver(case_no)
    if actor is not None:
        domain.check_actor(domain.facts_of(case), actor)
    return case


def _deadline_for_update(uow, case_no: str, deadline_id) -> dict:
    deadline = uow.store.deadline_for_update(case_no, int(deadline_id))
    if deadline is None:
        raise NotFound(f"事项 {case_no} 没有编号为 {deadline_id} 的期限", "deadline_id")
    return deadline


def _meeting(uow, meeting_id, *, for_update: bool = False) -> dict:
    try:
        number = int(meeting_id)
    except (TypeError, ValueError):
        raise NotFound(f"联席会议 {meeting_id} 不存在", "id") from None
    meeting = uow.store.meeting_for_update(number) if for_update else uow.store.meeting(number)
    if meeting is None:
        raise NotFound(f"联席会议 {meeting_id} 不存在", "id")
    return meeting


def _transition(uow, case: dict, action: str, actor: dict, reason, now) -> None:
    _set_state(uow, case, domain.next_state(domain.facts_of(case), action), actor, reason, now)


def _set_state(uow, case: dict, target: str, actor: dict, reason, now) -> None:
    uow.store.set_state(case["case_no"], target, now)
    uow.record(events.case_state_changed(case, target, actor, reason, now))
    case["state"] = target  # the rest of the use case sees the case as it is now


def _start_work(uow, case: dict, kind: str, required_type: str, actor: dict, now) -> None:
    """A type's work on a case: its first piece moves the case to ``in_progress``."""
    target = domain.check_work(domain.facts_of(case), kind, required_type)
    if target:
        _set_state(uow, case, target, actor, domain.ACTION_LABELS[kind], now)


def _simple_transition(uow, case_no: str, payload, actor: dict, action: str) -> dict:
    with uow.begin():
        now = uow.now()
        case = _case_for_update(uow, case_no, actor)
        reason = domain.text(payload or {}, "reason", "理由", required=False)
        _transition(uow, case, action, actor, reason, now)
        return _summary(uow, case_no)


def _start_deadlines(uow, rules, case: dict, start_event: str, started_at) -> None:
    """The deadlines the policies of the case's type start on ``start_event``."""
    for policy in rules.policies.started_by(case["type"], start_event):
        days = policy.days_for(case["complex"])
        plan = domain.plan_deadline(rules.calendar, started_at, days, policy.warning_share)
        row = uow.store.add_deadline(domain.policy_deadline(case, policy, start_event, plan))
        _deadline_set(uow, row)


def _deadline_set(uow, deadline: dict) -> None:
    uow.record(events.deadline_set(deadline))
    if deadline["provisional"]:
        for year in deadline["unknown_years"]:
            PROVISIONAL_COMPUTED.labels(str(year)).inc()
        log.warning(
            "deadline %s of %s is provisional: year(s) %s not loaded in the calendar",
            deadline["id"],
            deadline["case_no"],
            "、".join(str(y) for y in deadline["unknown_years"]),
        )


def _apply_complex(uow, rules, case: dict) -> None:
    """A case found especially complex gets its policies' longer periods."""
    for deadline in uow.store.open_deadlines_for_update(case["case_no"]):
        policy = rules.policies.find(case["type"], deadline["stage"], deadline["start_event"])
        days = domain.complex_days(deadline, policy)
        if days is None:
            continue
        plan = domain.plan_deadline(
            rules.calendar, deadline["counting_from"], days, deadline["warning_share"]
        )
        uow.store.set_working_days(deadline["id"], days)
        _deadline_set(uow, uow.store.replan_deadline(deadline["id"], plan))


def _pause(uow, case: dict, deadline: dict, reason: str, paused_by: str, actor: dict, now):
    uow.store.pause_deadline(deadline["id"], now, reason, paused_by)
    uow.record(events.deadline_paused(case, deadline, reason, actor, now))


def _resume(uow, rules, case: dict, deadline: dict, actor: dict, now) -> None:
    plan = domain.resume_plan(
        rules.calendar, deadline["paused_at"], now, deadline["due_at"], deadline["warning_share"]
    )
    resumed = uow.store.replan_deadline(deadline["id"], plan, resume=True)
    uow.record(events.deadline_resumed(case, deadline, resumed, actor, now))


def _summary(uow, case_no: str) -> dict:
    case = uow.store.case(case_no)
    if case is None:
        raise NotHandedOver(case_no)
    measures = uow.store.measures(case_no)
    meetings = uow.store.meetings(case_no=case_no, limit=MAX_CASE_MEETINGS)
    minuted = any(meeting["minutes"] for meeting in meetings)
    facts = domain.facts_of({**case, "measures": len(measures), "minuted": minuted})
    return {
        "case_no": case_no,
        "state": case["state"],
        "state_label": domain.STATE_LABELS[case["state"]],
        "type": case["type"],
        "complex": case["complex"],
        "classification_reason": case["classification_reason"],
        "explanation": case["explanation"],
        "measures": measures,
        "reply": case["reply"],
        "resolution": case["resolution"],
        "requires_return_visit": case["requires_return_visit"],
        "return_visit_at": case["return_visit_at"],
        "meetings": [m["id"] for m in meetings],
        # what the case allows now and who may do it: the case page offers exactly these
        "allowed_actions": _allowed_actions(uow, case, facts),
        "acting_roles": list(domain.acting_roles(facts)),
    }


def _allowed_actions(uow, case: dict, facts) -> list[str]:
    """The domain's allowed actions, less closing while a bad rating's loop holds it open."""
    allowed = domain.allowed_actions(facts)
    if "close" in allowed and case["channel"] == "rating" and bad_ratings.holds_open(uow, case):
        allowed.remove("close")
    return allowed


def _meeting_views(uow, meetings: list[dict]) -> list[dict]:
    """Meetings with their tasks: the deadlines of all their cases read in one query."""
    case_nos = sorted({case_no for meeting in meetings for case_no in meeting["case_nos"]})
    by_case: dict[str, list[dict]] = {}
    for deadline in uow.store.deadlines_of_cases(case_nos) if case_nos else []:
        by_case.setdefault(deadline["case_no"], []).append(deadline)
    return [domain.meeting_view(meeting, by_case) for meeting in meetings]
