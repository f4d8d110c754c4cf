"""Coordination's domain: the case state machine, each type's rules and deadline arithmetic (pure).

The service layer reads a case's facts from the store and passes them in as :class:`CaseFacts`;
every rule here raises a domain error (409 for a state that does not allow the action, 422 for
a bad field, 403 for a role that may not act) so it can be unit-tested on plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.common import fields, vocabulary
from services.common.auth import visible_site
from services.common.errors import Conflict, Forbidden, InvalidField, NotFound
from services.common.workdays import WorkingCalendar

TYPES = ("cannot", "hard", "refused", "pending")
MEASURES = ("deferred_materials", "commitment", "video_verification", "data_sharing")
OUTCOMES = ("done", "explained", "not_done")
# the words users read, from the one vocabulary (messages and timeline texts name states and types)
TYPE_LABELS = vocabulary.TYPE_LABELS
STATE_LABELS = vocabulary.STATE_LABELS

# action -> (states it may start from, state it leads to)
TRANSITIONS = {
    "classify": (frozenset({"registered"}), "classified"),
    "start": (frozenset({"classified"}), "in_progress"),
    "reply": (frozenset({"classified", "in_progress"}), "replied"),
    "resolve": (frozenset({"classified", "in_progress", "replied"}), "resolved"),
    "close": (frozenset({"resolved"}), "closed"),
    "archive": (frozenset({"closed"}), "archived"),
    "reopen": (frozenset({"resolved", "closed", "archived"}), "in_progress"),
}
ACTION_LABELS = {
    "classify": "分类",
    "start": "开始办理",
    "reply": "答复申请人",
    "resolve": "办结",
    "close": "关闭",
    "archive": "归档",
    "reopen": "重新打开",
    "send_back": "退回重新说明",
    "explain": "说明政策依据",
    "measure": "采取协调措施",
    "meeting": "召开联席会议",
}
# States in which a type's own work (explanation, measures, meetings) may be recorded.
WORKING_STATES = frozenset({"classified", "in_progress", "replied"})

MAX_TEXT = 2000


@dataclass(frozen=True)
class CaseFacts:
    """What the rules need to know about one case."""

    case_no: str
    state: str
    case_type: str | None = None
    complex: bool = False
    requires_return_visit: bool = False
    return_visit_done: bool = False
    explained: bool = False
    measures: int = 0
    minuted: bool = False


def facts_of(case: Mapping) -> CaseFacts:
    """The facts of a case as the store gives it (``measures``/``minuted`` when it counted them)."""
    return CaseFacts(
        case_no=case["case_no"],
        state=case["state"],
        case_type=case["type"],
        complex=case["complex"],
        requires_return_visit=case["requires_return_visit"],
        return_visit_done=case["return_visit_at"] is not None,
        explained=case["explanation"] is not None,
        measures=case.get("measures", 0),
        minuted=case.get("minuted", False),
    )


# --------------------------------------------------------------------------- state machine


def next_state(case: CaseFacts, action: str) -> str:
    """The state ``action`` leads ``case`` to; Conflict (409) when its state or type forbid it."""
    sources, target = TRANSITIONS[action]
    if case.state not in sources:
        allowed = "、".join(STATE_LABELS[s] for s in sorted(sources, key=list(STATE_LABELS).index))
        raise Conflict(
            f"事项 {case.case_no} 当前状态为“{STATE_LABELS.get(case.state, case.state)}”，"
            f"不能{ACTION_LABELS[action]}（仅限{allowed}状态）",
            code="invalid_transition",
        )
    if action in ("reply", "resolve", "close"):
        _check_type_done(case, action)
    if action == "close" and case.requires_return_visit and not case.return_visit_done:
        raise Conflict(f"事项 {case.case_no} 须先完成回访才能关闭", code="return_visit_required")
    return target


def _check_type_done(case: CaseFacts, action: str) -> None:
    verb = ACTION_LABELS[action]
    if case.case_type == "cannot" and not case.explained and action != "reply":
        raise Conflict(
            f"“不能办”事项须先说明法律或政策依据并作出解释，才能{verb}", code="explanation_required"
        )
    if case.case_type == "hard" and action == "resolve" and case.measures == 0:
        raise Conflict("“不好办”事项须至少采取一项协调措施才能办结", code="measure_required")
    if case.case_type == "pending" and action in ("reply", "resolve") and not case.minuted:
        raise Conflict(
            f"“暂时办不了”事项须先召开联席会议并记录纪要，才能{verb}", code="minutes_required"
        )


def check_work(case: CaseFacts, kind: str, required_type: str) -> str | None:
    """Check that ``kind`` of work (explain/measure/meeting) fits the case.

    Returns the state the case moves to (``in_progress`` on its first piece of work), or None.
    """
    if kind == "explain" and case.explained:
        raise Conflict(
            f"事项 {case.case_no} 已说明依据；区行政审批局退回后才能重新说明",
            code="already_explained",
        )
    if case.case_type != required_type:
        current = TYPE_LABELS.get(case.case_type, "未分类")
        raise Conflict(
            f"只有“{TYPE_LABELS[required_type]}”事项才能{ACTION_LABELS[kind]}，"
            f"事项 {case.case_no} 为“{current}”",
            code="wrong_type",
        )
    if case.state not in WORKING_STATES:
        raise Conflict(
            f"事项 {case.case_no} 当前状态为“{STATE_LABELS.get(case.state, case.state)}”，"
            f"不能{ACTION_LABELS[kind]}",
            code="invalid_transition",
        )
    return "in_progress" if case.state == "classified" else None


def check_response_allowed(case: CaseFacts) -> None:
    """A department's answer to a measure is recorded while the case is worked on (409 after)."""
    if case.state not in WORKING_STATES:
        raise Conflict(
            f"事项 {case.case_no} 当前状态为“{STATE_LABELS[case.state]}”，不能记录部门答复",
            code="invalid_transition",
        )


def check_practice_source(case: Mapping, practice: dict) -> None:
    """A standard practice comes from a resolved case of the same matter."""
    if case["resolution"] is None:
        raise Conflict("只有已办结事项的做法才能推广为常态化做法", code="not_resolved")
    if case["matter"] != practice["matter"]:
        raise InvalidField("常态化做法的事项须与来源事项一致", "matter")


def acting_roles(case: CaseFacts) -> tuple[str, ...]:
    """Who may act on ``case``: officers on every case, the approval bureau on ``pending`` ones."""
    return ("officer", "bureau") if case.case_type == "pending" else ("officer",)


def meeting_site_filter(actor: dict) -> str | None:
    """The site a joint-meeting read is limited to: None for the district-wide roles, else the
    actor's own (an actor bound to no site matches none)."""
    return visible_site(actor, None)


def sees_meeting(actor: dict, case_sites: set[str]) -> bool:
    """Whether ``actor`` may read a meeting about cases of ``case_sites``."""
    site = meeting_site_filter(actor)
    return site is None or site in case_sites


def check_actor(case: CaseFacts, actor: dict) -> None:
    """Forbidden (403) unless ``actor`` has one of the case's :func:`acting_roles`."""
    if actor.get("role") in acting_roles(case):
        return
    raise Forbidden("只有办不成事反映窗口的工作人员（区行政审批局限“暂时办不了”事项）可办理此事项")


# a case with a resolution: resolved, then closed and archived, until it is reopened
RESOLVED_STATES = TRANSITIONS["reopen"][0]


def allowed_actions(case: CaseFacts) -> list[str]:
    """The actions on ``case`` its state and type allow now, in the order a page offers them.

    Asked of the same rules the RPCs apply (:func:`next_state`, :func:`check_work`), so a page
    shows only what the service would accept by state and type; who may act is
    :func:`acting_roles`. An explanation is given once; a measure's department answers once
    there is a measure; a standard practice is promoted from a resolved case.
    """

    def permits(rule, *args) -> bool:
        try:
            rule(case, *args)
        except Conflict:
            return False
        return True

    allowed = {
        "classify": permits(next_state, "classify"),
        "explain": permits(check_work, "explain", "cannot"),
        "measure": permits(check_work, "measure", "hard"),
        "measure_response": case.measures > 0 and case.state in WORKING_STATES,
        "reply": permits(next_state, "reply"),
        "resolve": permits(next_state, "resolve"),
        "close": permits(next_state, "close"),
        "archive": permits(next_state, "archive"),
        "reopen": permits(next_state, "reopen"),
        "promote": case.state in RESOLVED_STATES,
    }
    return [action for action, permitted in allowed.items() if permitted]


# --------------------------------------------------------------------------- payloads


def text(payload: dict, name: str, label: str, *, required: bool = True) -> str | None:
    return fields.text_field(payload, name, label, max_length=MAX_TEXT, required=required)


def flag(payload: dict, name: str, label: str) -> bool:
    value = payload.get(name, False)
    if not isinstance(value, bool):
        raise InvalidField(f"{label}应为 true 或 false", name)
    return value


def codes(payload: dict, name: str, label: str) -> list[str]:
    value = payload.get(name)
    if not isinstance(value, list) or not value:
        raise InvalidField(f"{label}应为非空列表", name)
    if not all(isinstance(item, str) and item.strip() for item in value):
        raise InvalidField(f"{label}中每一项都应为非空文本", name)
    return list(dict.fromkeys(item.strip() for item in value))


def moment(value, name: str, label: str) -> datetime:
    """An aware ISO 8601 time; a bare date means the close of that day is left to the caller."""
    if not isinstance(value, str):
        raise InvalidField(f"{label}应为 ISO 8601 时间", name)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidField(f"{label}格式不正确，应为 ISO 8601（含时区）", name) from exc
    if parsed.tzinfo is None:
        raise InvalidField(f"{label}须带时区，例如 2026-12-01T09:30:00+08:00", name)
    return parsed


def day(value, name: str, label: str) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise InvalidField(f"{label}应为日期 YYYY-MM-DD", name)


def check_classification(payload: dict) -> dict:
    case_type = payload.get("type")
    if case_type not in TYPES:
        raise InvalidField("事项类型应为 cannot / hard / refused / pending 之一", "type")
    return {
        "type": case_type,
        "reason": text(payload, "reason", "分类理由"),
        "complex": flag(payload, "complex", "是否特别复杂"),
    }


def check_explanation(payload: dict) -> dict:
    items = payload.get("missing_key_materials", [])
    if not isinstance(items, list):
        raise InvalidField("缺少的关键材料应为列表", "missing_key_materials")
    materials = []
    for index, item in enumerate(items):
        where = f"missing_key_materials[{index}]"
        if not isinstance(item, dict):
            raise InvalidField("每项缺少的关键材料应含 name 和 how_to_obtain", where)
        materials.append(
            {
                "name": _item_text(item, "name", where, "材料名称"),
                "how_to_obtain": _item_text(
                    item, "how_to_obtain", where, "获取途径（到何处、如何取得）"
                ),
            }
        )
    return {
        "legal_basis": text(payload, "legal_basis", "法律或政策依据"),
        "explanation": text(payload, "explanation", "解释说明"),
        "missing_key_materials": materials,
    }


def _item_text(item: dict, key: str, where: str, label: str) -> str:
    """A text field inside a list item, with the error naming the item (``list[i].key``)."""
    try:
        return text(item, key, label)
    except InvalidField as error:
        raise InvalidField(error.message, f"{where}.{key}") from None


def check_measure(payload: dict) -> dict:
    measure = payload.get("measure")
    if measure not in MEASURES:
        raise InvalidField(f"措施应为 {' / '.join(MEASURES)} 之一", "measure")
    result = {
        "measure": measure,
        "departments": codes(payload, "departments", "协调部门"),
        "details": text(payload, "details", "措施内容"),
        "materials": [],
        "due": None,
    }
    if payload.get("due") is not None:
        result["due"] = day(payload["due"], "due", "期限")
    if measure == "deferred_materials":
        # 容缺受理: the missing non-key materials and the date they must be supplied by.
        result["materials"] = codes(payload, "materials", "容缺材料清单")
        if result["due"] is None:
            raise InvalidField("容缺受理须写明补交材料的期限", "due")
    return result


def check_measure_response(payload: dict, departments: list[str]) -> dict:
    department = text(payload, "department", "部门")
    if department not in departments:
        raise InvalidField(f"部门 {department} 不是该措施的协调部门", "department")
    return {
        "department": department,
        "response": text(payload, "response", "部门答复"),
        "delivered": flag(payload, "delivered", "是否已落实"),
    }


def check_meeting(payload: dict) -> dict:
    return {
        "case_nos": codes(payload, "case_nos", "事项编号"),
        "departments": codes(payload, "departments", "参会部门"),
        "scheduled_at": moment(payload.get("scheduled_at"), "scheduled_at", "会议时间"),
        "complex": flag(payload, "complex", "是否特别复杂"),
    }


def check_minutes(payload: dict, departments: list[str], case_nos: list[str]) -> dict:
    attendance = payload.get("attendance")
    if not isinstance(attendance, list) or not attendance:
        raise InvalidField("出席情况应为非空列表", "attendance")
    seen = {}
    for index, entry in enumerate(attendance):
        where = f"attendance[{index}]"
        if not isinstance(entry, dict):
            raise InvalidField("每项出席情况应含 department、present、position", where)
        department = entry.get("department")
        if department not in departments:
            raise InvalidField(f"部门 {department} 未受邀参会", f"{where}.department")
        if department in seen:
            raise InvalidField(f"部门 {department} 重复出现", f"{where}.department")
        present = entry.get("present")
        if not isinstance(present, bool):
            raise InvalidField("present 应为 true 或 false", f"{where}.present")
        seen[department] = {
            "department": department,
            "present": present,
            "valid_reason": None
            if present
            else text(entry, "valid_reason", "缺席理由", required=False),
            "position": text(entry, "position", "部门意见", required=False),
        }
    missing = [d for d in departments if d not in seen]
    if missing:
        raise InvalidField(f"缺少部门 {'、'.join(missing)} 的出席情况", "attendance")
    assignments = []
    raw = payload.get("assignments", [])
    if not isinstance(raw, list):
        raise InvalidField("任务分工应为列表", "assignments")
    for index, item in enumerate(raw):
        where = f"assignments[{index}]"
        if not isinstance(item, dict):
            raise InvalidField("每项任务应含 department、task、due", where)
        if item.get("department") not in departments:
            raise InvalidField(f"部门 {item.get('department')} 未受邀参会", f"{where}.department")
        case_no = item.get("case_no") or (case_nos[0] if len(case_nos) == 1 else None)
        if case_no not in case_nos:
            raise InvalidField("任务须注明所属事项编号（case_no）", f"{where}.case_no")
        assignments.append(
            {
                "department": item["department"],
                "case_no": case_no,
                "task": text(item, "task", "任务内容"),
                "due": day(item.get("due"), f"{where}.due", "任务期限").isoformat(),
            }
        )
    return {
        "attendance": list(seen.values()),
        "decision": text(payload, "decision", "会议决定"),
        "assignments": assignments,
    }


def check_not_minuted(meeting: Mapping) -> None:
    """A meeting's minutes are recorded once (409 the second time)."""
    if meeting["minutes"] is not None:
        raise Conflict(f"联席会议 {meeting['id']} 的纪要已记录", code="already_minuted")


def absent_without_reason(attendance: list[dict]) -> list[str]:
    """Departments that stayed away without a valid reason: reported to accountability."""
    return [a["department"] for a in attendance if not a["present"] and not a["valid_reason"]]


def check_resolution(payload: dict, measure_ids: list[int]) -> dict:
    outcome = payload.get("outcome")
    if outcome not in OUTCOMES:
        raise InvalidField(
            "办理结果应为 done（办成）/ explained（已解释）/ not_done（未办成）", "outcome"
        )
    worked = payload.get("worked_measures", [])
    if not isinstance(worked, list) or any(m not in measure_ids for m in worked):
        raise InvalidField("有效措施应为本事项措施编号的列表", "worked_measures")
    return {
        "outcome": outcome,
        "summary": text(payload, "summary", "办理情况"),
        "worked_measures": worked,
    }


def check_practice(payload: dict) -> dict:
    return {
        "matter": text(payload, "matter", "事项"),
        "windows": codes(payload, "windows", "适用窗口"),
        "title": text(payload, "title", "做法名称"),
        "description": text(payload, "description", "具体做法"),
        "case_no": text(payload, "case_no", "来源事项", required=False),
    }


# --------------------------------------------------------------------------- deadlines


@dataclass(frozen=True)
class DeadlinePlan:
    """A deadline to store: counted ``days`` working days after ``counting_from``."""

    counting_from: datetime
    days: int
    due_at: datetime
    warn_at: datetime
    provisional: bool
    unknown_years: tuple[int, ...]


def plan_deadline(
    calendar: WorkingCalendar, counting_from: datetime, days: int, warning_share: float | None
) -> DeadlinePlan:
    """Compute a deadline and when to warn about it.

    The warning comes at the start of the last working day (``warning_share`` None), or when
    that share of the period is left.
    """
    deadline = calendar.add_working_days(counting_from, days)
    return DeadlinePlan(
        counting_from=counting_from,
        days=days,
        due_at=deadline.due_at,
        warn_at=warn_at(deadline.due_at, counting_from, warning_share),
        provisional=deadline.provisional,
        unknown_years=deadline.unknown_years,
    )


def warn_at(due_at: datetime, counting_from: datetime, warning_share: float | None) -> datetime:
    if warning_share is None:
        return due_at.replace(hour=0, minute=0, second=0, microsecond=0)
    return due_at - timedelta(seconds=(due_at - counting_from).total_seconds() * warning_share)


def resume_plan(
    calendar: WorkingCalendar,
    paused_at: datetime,
    resumed_at: datetime,
    due_at: datetime,
    warning_share: float | None,
) -> DeadlinePlan:
    """The deadline after a pause: the working days left when it paused count from the resume.

    A clock paused on its last day (or later) gets one working day after the resume.
    """
    left = max(1, calendar.working_days_left(paused_at, due_at))
    return plan_deadline(calendar, resumed_at, left, warning_share)


def reply_record(
    calendar: WorkingCalendar, received_at: datetime, replied_at: datetime, due_at: datetime | None
) -> dict:
    """Whether a reply met its deadline, and how many working days it took after hand-over."""
    return {
        "on_time": None if due_at is None else replied_at <= due_at,
        "working_days_taken": calendar.working_days_between(received_at, replied_at),
    }


def end_of_day(calendar: WorkingCalendar, due: str | date) -> datetime:
    """A task due on a date is due at that day's closing time in the calendar's zone."""
    day_ = date.fromisoformat(due) if isinstance(due, str) else due
    return datetime.combine(day_, calendar.closing_time, tzinfo=calendar.tz)


def policy_deadline(case: Mapping, policy, start_event: str, plan: DeadlinePlan) -> dict:
    """The deadline ``policy`` gives ``case`` when ``start_event`` starts its clock (to store)."""
    return {
        "case_no": case["case_no"],
        "kind": policy.kind,
        "stage": policy.stage,
        "start_event": start_event,
        "working_days": plan.days,
        "counting_from": plan.counting_from,
        "days_to_count": plan.days,
        "due_at": plan.due_at,
        "warn_at": plan.warn_at,
        "warning_share": policy.warning_share,
        "provisional": plan.provisional,
        "unknown_years": list(plan.unknown_years),
        "department": case["department"],
        "site": case["site"],
        "pause_events": list(policy.pause_events),
    }


def assignment_deadline(
    calendar: WorkingCalendar, case: Mapping, meeting_id: int, assignment: dict, now: datetime
) -> dict:
    """A joint meeting's task for a department, due at the close of its day (to store)."""
    due_at = end_of_day(calendar, assignment["due"])
    return {
        "case_no": case["case_no"],
        "kind": "assignment",
        "due_at": due_at,
        "warn_at": warn_at(due_at, now, None),
        "provisional": False,
        "department": assignment["department"],
        "site": case["site"],
        "meeting_id": meeting_id,
        "task": assignment["task"],
    }


def complex_days(deadline: Mapping, policy) -> int | None:
    """The longer period a case found especially complex gets for ``deadline`` from its
    ``policy``; None when nothing changes (no policy, already breached or paused, same days)."""
    if policy is None or deadline["breached_at"] or deadline["paused_at"]:
        return None
    days = policy.days_for(True)
    return None if days == deadline["working_days"] else days


def recomputed_plan(calendar: WorkingCalendar, deadline: Mapping) -> DeadlinePlan | None:
    """A provisional deadline counted again on ``calendar`` (a year file was loaded); None when
    it is paused or comes out the same and still provisional."""
    if deadline["counting_from"] is None or deadline["paused_at"]:
        return None
    plan = plan_deadline(
        calendar, deadline["counting_from"], deadline["days_to_count"], deadline["warning_share"]
    )
    if plan.due_at == deadline["due_at"] and plan.provisional:
        return None
    return plan


# --------------------------------------------------------------------------- pausing the clock

DEFERRED_PREFIX = "measure:"


def deferred_pause_key(measure_id: int) -> str:
    """What paused a deadline that waits for a 容缺受理 measure's material: its delivery
    resumes exactly the deadlines this measure paused."""
    return f"{DEFERRED_PREFIX}{measure_id}"


def waits_for_materials(deadline: Mapping) -> bool:
    """A 容缺受理 measure pauses a running deadline whose policy lets deferred material pause it."""
    return "deferred_materials" in deadline["pause_events"] and not (
        deadline["paused_at"] or deadline["breached_at"]
    )


def check_manual_pause(deadline: Mapping) -> None:
    """An officer pauses by hand only a running deadline whose policy allows it (409 otherwise)."""
    if "manual" not in deadline["pause_events"]:
        raise Conflict("该期限的政策不允许手工暂停计时", code="pause_not_allowed")
    if deadline["paused_at"] or deadline["met_at"] or deadline["breached_at"]:
        raise Conflict("该期限已暂停、已完成或已超期，不能暂停", code="invalid_transition")


def check_resumable(deadline: Mapping) -> None:
    if not deadline["paused_at"]:
        raise Conflict("该期限没有暂停", code="invalid_transition")


def deadline_view(deadline: Mapping, calendar: WorkingCalendar, now: datetime) -> dict:
    """A deadline as callers read it, with the working days left at ``now`` (None once met)."""
    return {
        "id": deadline["id"],
        "case_no": deadline["case_no"],
        "kind": deadline["kind"],
        "stage": deadline["stage"],
        "due_at": deadline["due_at"],
        "working_days": deadline["working_days"],
        "provisional": deadline["provisional"],
        "unknown_years": deadline["unknown_years"],
        "paused": deadline["paused_at"] is not None,
        "pause_reason": deadline["pause_reason"],
        "pausable": "manual" in deadline["pause_events"],
        "warned": deadline["warned_at"] is not None,
        "breached": deadline["breached_at"] is not None,
        "breached_at": deadline["breached_at"],
        "met_at": deadline["met_at"],
        "working_days_left": None
        if deadline["met_at"]
        else calendar.working_days_left(now, deadline["due_at"]),
        "department": deadline["department"],
        "meeting_id": deadline["meeting_id"],
        "task": deadline["task"],
    }


def meeting_view(meeting: Mapping, deadlines_by_case: Mapping[str, list[Mapping]]) -> dict:
    """A joint meeting as callers read it: its status and its tasks, case by case in the
    meeting's order (``deadlines_by_case`` holds its cases' deadlines; its own are picked out)."""
    view = dict(meeting)
    view["status"] = "minuted" if meeting["minutes"] else "convened"
    view["assignments"] = [
        {
            "id": d["id"],
            "case_no": d["case_no"],
            "department": d["department"],
            "task": d["task"],
            "due_at": d["due_at"],
            "delivered_at": d["met_at"],
            "breached": d["breached_at"] is not None,
        }
        for case_no in meeting["case_nos"]
        for d in deadlines_by_case.get(case_no, [])
        if d["meeting_id"] == meeting["id"]
    ]
    return view


# --------------------------------------------------------------------------- 否定答复 (refusals)
# Every `cannot` answer is reported upward: the approval bureau reviews each one, and a month of
# them is counted by department and by matter.

REVIEW_RESULTS = ("upheld", "sent_back")
REVIEW_LABELS = vocabulary.REVIEW_RESULT_LABELS
MAX_REPORT_REFUSALS = 10000  # one month's answers in one report (a district gives far fewer)


def check_refusal_review(payload: dict) -> dict:
    """The bureau's review: ``upheld``, or ``sent_back`` with the reason the officer reads."""
    result = payload.get("result")
    if result not in REVIEW_RESULTS:
        raise InvalidField("审核结果应为 upheld（维持）或 sent_back（退回）", "result")
    reason = text(payload, "reason", "退回理由", required=result == "sent_back")
    return {"result": result, "reason": reason}


def check_reviewable(case_no: str, refusal: Mapping | None) -> None:
    """Only a case's latest `cannot` answer is reviewed, once (404 without one, 409 after)."""
    if refusal is None:
        raise NotFound(f"事项 {case_no} 没有“不能办”答复", "case_no")
    if refusal["review_result"] is not None:
        result = REVIEW_LABELS[refusal["review_result"]]
        raise Conflict(
            f"事项 {case_no} 的“不能办”答复已审核（{result}），待重新说明后才能再审",
            code="already_reviewed",
        )


# the states a case whose answer the bureau sends back is taken up again from (not an action
# on the case page: the review is the bureau's, on the refusals page)
SENT_BACK_FROM = frozenset({"replied", "resolved", "closed", "archived"})


def sent_back_state(case: CaseFacts) -> str | None:
    """Where a case goes when its answer is sent back: a replied, resolved, closed or archived
    case is taken up again (``in_progress``); one still in progress stays there (None). Either
    way its explanation is withdrawn, so the officer must explain again."""
    if case.state == "in_progress":
        return None
    if case.state not in SENT_BACK_FROM:
        raise Conflict(
            f"事项 {case.case_no} 当前状态为“{STATE_LABELS.get(case.state, case.state)}”，"
            f"不能{ACTION_LABELS['send_back']}",
            code="invalid_transition",
        )
    return "in_progress"


def month_range(month, tz) -> tuple[datetime, datetime]:
    """``YYYY-MM`` as the first moment of that month and of the next, in ``tz``."""
    try:
        if not isinstance(month, str) or len(month) != 7:
            raise ValueError(month)
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise InvalidField("月份格式应为 YYYY-MM，例如 2026-03", "month") from None
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (
        datetime.combine(first, datetime.min.time(), tzinfo=tz),
        datetime.combine(following, datetime.min.time(), tzinfo=tz),
    )


def _tally(items: list[Mapping]) -> dict:
    counts = {"count": len(items), "upheld": 0, "sent_back": 0, "unreviewed": 0}
    for item in items:
        counts[item["review_result"] or "unreviewed"] += 1
    return counts


def refusal_counts(items: list[Mapping]) -> dict:
    """A month's answers counted in total, by department and by matter (most first): each
    count split into upheld, sent back and not yet reviewed, so every table adds up."""

    def grouped(key: str) -> list[dict]:
        groups: dict[str, list[Mapping]] = {}
        for item in items:
            groups.setdefault(item[key], []).append(item)
        rows = [{key: code, **_tally(members)} for code, members in groups.items()]
        return sorted(rows, key=lambda row: (-row["count"], row[key]))

    return {
        "totals": _tally(items),
        "by_department": grouped("department"),
        "by_matter": grouped("matter"),
    }
