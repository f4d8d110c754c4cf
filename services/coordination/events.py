"""What coordination announces, as :class:`Decision`s, and what it notes on a case's timeline
(pure: no I/O).

Each function gives one event's payload exactly as ``docs/events.md`` documents it (other
services consume them) with its timeline entry; ``uow.record(...)`` writes both. A timeline
entry that announces no event (a meeting noted on each of its cases, the hand-over, a return
visit, a delivered task) is a :class:`Note` for ``uow.note(case_no, actor, *note)``.
Times in payloads are ISO 8601 strings; ``actor`` is the signed-in user (a dict with ``id``).
"""

from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from services.common.decisions import Decision
from services.common.vocabulary import BAD_RATING_FINDING_LABELS, RATING_LEVEL_LABELS
from services.coordination.domain import STATE_LABELS, TYPE_LABELS


class Note(NamedTuple):
    """A timeline entry without an event: its kind, its text and its data."""

    kind: str
    text: str
    data: dict | None = None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _decided(
    event_type: str,
    data: dict,
    actor: Mapping,
    at: datetime,
    *,
    case: Mapping | None = None,
    timeline: Note | None = None,
) -> Decision:
    """A signed-in user's decision at ``at``: its payload ends with who and when; on ``case``
    (its site and its timeline, where ``timeline`` says what to write)."""
    kind, text, timeline_data = timeline or (None, "", None)
    return Decision(
        event_type,
        {**data, "actor": actor["id"], "at": at.isoformat()},
        site=case["site"] if case else None,
        case_no=case["case_no"] if case else None,
        actor=actor["id"],
        timeline_kind=kind,
        timeline_text=text,
        timeline_data=timeline_data,
    )


def _clocked(event_type: str, data: dict, deadline: Mapping, timeline: Note | None) -> Decision:
    """The deadline clock's decision on ``deadline`` (no one signed in)."""
    kind, text, timeline_data = timeline or (None, "", None)
    return Decision(
        event_type,
        data,
        site=deadline["site"],
        case_no=deadline["case_no"],
        timeline_kind=kind,
        timeline_text=text,
        timeline_data=timeline_data,
    )


# --------------------------------------------------------------------------- the case's flow


def case_state_changed(
    case: Mapping, target: str, actor: Mapping, reason: str | None, at: datetime
) -> Decision:
    """``case`` (as it was before) moves to ``target``."""
    change = {"from_state": case["state"], "to_state": target, "reason": reason}
    text = f"{STATE_LABELS[case['state']]} → {STATE_LABELS[target]}" + (
        f"：{reason}" if reason else ""
    )
    return _decided(
        "case_state_changed",
        {
            "case_no": case["case_no"],
            **change,
            "site": case["site"],
            "department": case["department"],
            "type": case["type"],
        },
        actor,
        at,
        case=case,
        timeline=Note("state_changed", text, change),
    )


def case_classified(case: Mapping, classification: dict, actor: Mapping, at: datetime) -> Decision:
    label = TYPE_LABELS[classification["type"]]
    complex_note = "（特别复杂）" if classification["complex"] else ""
    text = f"分类为“{label}”{complex_note}：{classification['reason']}"
    return _decided(
        "case_classified",
        {
            "case_no": case["case_no"],
            "type": classification["type"],
            "complex": classification["complex"],
            "reason": classification["reason"],
            "site": case["site"],
            "department": case["department"],
            "matter": case["matter"],
            "first_receiver": case["first_receiver"],
        },
        actor,
        at,
        case=case,
        timeline=Note("classified", text, classification),
    )


def explanation_given(case: Mapping, explanation: dict, actor: Mapping, at: datetime) -> Decision:
    """A `cannot` case's legal or policy basis, and how to obtain missing key material."""
    missing = "；".join(
        f"{m['name']}（{m['how_to_obtain']}）" for m in explanation["missing_key_materials"]
    )
    text = f"无法办理。依据：{explanation['legal_basis']}。{explanation['explanation']}" + (
        f" 缺少关键材料：{missing}" if missing else ""
    )
    return _decided(
        "explanation_given",
        {**explanation, "case_no": case["case_no"]},
        actor,
        at,
        case=case,
        timeline=Note("explained", text, explanation),
    )


def refusal_reviewed(
    case: Mapping, refusal: Mapping, review: dict, actor: Mapping, at: datetime
) -> Decision:
    """The approval bureau's review of a `cannot` answer (upheld, or sent back with a reason:
    the officer explains again). Audited by accountability like every decision."""
    if review["result"] == "upheld":
        text = "区行政审批局审核“不能办”答复：维持" + (
            f"（{review['reason']}）" if review["reason"] else ""
        )
    else:
        text = f"区行政审批局审核“不能办”答复：退回重新说明。理由：{review['reason']}"
    return _decided(
        "refusal_reviewed",
        {
            "case_no": case["case_no"],
            "refusal_id": refusal["id"],
            "result": review["result"],
            "reason": review["reason"],
            "explained_at": _iso(refusal["explained_at"]),
            "site": case["site"],
            "department": case["department"],
            "matter": case["matter"],
            "actor_role": actor.get("role"),
        },
        actor,
        at,
        case=case,
        timeline=Note(
            "refusal_reviewed",
            text,
            {"refusal_id": refusal["id"], "result": review["result"], "reason": review["reason"]},
        ),
    )


def measure_added(
    case: Mapping, measure: dict, measure_id: int, actor: Mapping, at: datetime
) -> Decision:
    """A `hard` case's coordination measure (``measure`` as domain.check_measure gives it)."""
    due = _iso(measure["due"])
    departments = "、".join(measure["departments"])
    return _decided(
        "measure_added",
        {
            "case_no": case["case_no"],
            "measure_id": measure_id,
            "measure": measure["measure"],
            "departments": measure["departments"],
            "details": measure["details"],
            "materials": measure["materials"],
            "due": due,
        },
        actor,
        at,
        case=case,
        timeline=Note(
            "measure_added",
            f"协调措施 {measure['measure']}（{departments}）：{measure['details']}",
            {**measure, "due": due, "measure_id": measure_id},
        ),
    )


def waiting_for_materials(measure: dict) -> str:
    """Why a 容缺受理 measure pauses the clock: the reason its deadlines carry while paused."""
    return f"等待申请人在 {_iso(measure['due'])} 前补交容缺材料：{'、'.join(measure['materials'])}"


def measure_response_recorded(
    case: Mapping, measure_id: int, response: dict, actor: Mapping, at: datetime
) -> Decision:
    delivered = "已落实" if response["delivered"] else "未落实"
    text = f"{response['department']} 答复（{delivered}）：{response['response']}"
    return _decided(
        "measure_response_recorded",
        {**response, "case_no": case["case_no"], "measure_id": measure_id},
        actor,
        at,
        case=case,
        timeline=Note("measure_response", text, {**response, "measure_id": measure_id}),
    )


def reply(
    case_no: str, summary: str, record: dict, due_at: datetime | None, actor: Mapping, at: datetime
) -> dict:
    """The answer to the applicant as the case keeps it (``record``: domain.reply_record)."""
    return {
        "case_no": case_no,
        "replied_at": at.isoformat(),
        "due_at": _iso(due_at),
        **record,
        "summary": summary,
        "actor": actor["id"],
    }


def case_replied(case: Mapping, reply: dict) -> Decision:
    """The case's :func:`reply`, announced with its site (``replied_at`` says when)."""
    timing = {True: "按期", False: "超期", None: "无期限"}[reply["on_time"]]
    return Decision(
        "case_replied",
        {**reply, "site": case["site"]},
        site=case["site"],
        case_no=case["case_no"],
        actor=reply["actor"],
        timeline_kind="replied",
        timeline_text=f"已答复申请人（{timing}，用时 {reply['working_days_taken']} 个工作日）："
        f"{reply['summary']}",
        timeline_data=reply,
    )


def case_resolved(case: Mapping, resolution: dict, actor: Mapping, at: datetime) -> Decision:
    text = f"办结（{resolution['outcome']}）：{resolution['summary']}"
    return _decided(
        "case_resolved",
        {
            **resolution,
            "case_no": case["case_no"],
            "type": case["type"],
            "site": case["site"],
            "department": case["department"],
            "matter": case["matter"],
        },
        actor,
        at,
        case=case,
        timeline=Note("resolved", text, resolution),
    )


def practice_promoted(practice: Mapping, actor: Mapping, at: datetime) -> Decision:
    """A standard practice; noted on its source case's timeline when it has one."""
    source = {"case_no": practice["case_no"], "site": None}  # the practice is the district's
    return _decided(
        "practice_promoted",
        {
            "practice_id": practice["id"],
            "matter": practice["matter"],
            "windows": practice["windows"],
            "title": practice["title"],
            # intake keeps a copy of each practice for its registrations (no RPC per case)
            "description": practice["description"],
            "case_no": practice["case_no"],
        },
        actor,
        at,
        case=source,
        timeline=Note(
            "practice_promoted",
            f"做法推广为常态化手段：{practice['title']}",
            {"practice_id": practice["id"]},
        ),
    )


# --------------------------------------------------------------------------- deadlines


def deadline_set(deadline: Mapping) -> Decision:
    """A deadline set or recomputed (the clock writes it: no actor)."""
    note = ""
    if deadline["provisional"]:
        years = "、".join(str(y) for y in deadline["unknown_years"])
        note = f"（暂定：{years} 年节假日安排尚未载入，仅按周末计算）"
    text = (
        f"期限 {deadline['kind']}：{deadline['working_days']} 个工作日，"
        f"{deadline['due_at'].isoformat()} 前{note}"
    )
    return _clocked(
        "deadline_set",
        {
            "case_no": deadline["case_no"],
            "deadline_id": deadline["id"],
            "kind": deadline["kind"],
            "due_at": deadline["due_at"].isoformat(),
            "working_days": deadline["working_days"],
            "provisional": deadline["provisional"],
            "unknown_years": deadline["unknown_years"],
            "department": deadline["department"],
            "site": deadline["site"],
        },
        deadline,
        Note(
            "deadline_set",
            text,
            {"deadline_id": deadline["id"], "provisional": deadline["provisional"]},
        ),
    )


def deadline_paused(
    case: Mapping, deadline: Mapping, reason: str, actor: Mapping, at: datetime
) -> Decision:
    return _decided(
        "deadline_paused",
        {
            "case_no": case["case_no"],
            "deadline_id": deadline["id"],
            "reason": reason,
            "due_at": deadline["due_at"].isoformat(),
        },
        actor,
        at,
        case=case,
        timeline=Note(
            "deadline_paused", f"期限暂停计时：{reason}", {"deadline_id": deadline["id"]}
        ),
    )


def deadline_resumed(
    case: Mapping, paused: Mapping, resumed: Mapping, actor: Mapping, at: datetime
) -> Decision:
    """``paused`` is the deadline as it was, ``resumed`` as it counts again."""
    text = (
        f"期限恢复计时，剩余 {resumed['days_to_count']} 个工作日，"
        f"{resumed['due_at'].isoformat()} 前"
    )
    return _decided(
        "deadline_resumed",
        {
            "case_no": case["case_no"],
            "deadline_id": resumed["id"],
            "reason": paused["pause_reason"],
            "due_at": resumed["due_at"].isoformat(),
            "provisional": resumed["provisional"],
        },
        actor,
        at,
        case=case,
        timeline=Note("deadline_resumed", text, {"deadline_id": resumed["id"]}),
    )


def _clock_alarm(event_type: str, deadline: Mapping, text: str) -> Decision:
    """A warning or a breach the clock raised on ``deadline``."""
    return _clocked(
        event_type,
        {
            "case_no": deadline["case_no"],
            "deadline_id": deadline["id"],
            "kind": deadline["kind"],
            "due_at": deadline["due_at"].isoformat(),
            "department": deadline["department"],
            "site": deadline["site"],
            "meeting_id": deadline["meeting_id"],
        },
        deadline,
        Note(event_type, text, {"deadline_id": deadline["id"], "kind": deadline["kind"]}),
    )


def deadline_warning(deadline: Mapping) -> Decision:
    return _clock_alarm(
        "deadline_warning", deadline, f"期限即将届满（{deadline['due_at'].isoformat()}）"
    )


def deadline_breached(deadline: Mapping) -> Decision:
    return _clock_alarm(
        "deadline_breached", deadline, f"期限已超过（{deadline['due_at'].isoformat()}）"
    )


def assignment_not_delivered(deadline: Mapping) -> Decision:
    """A joint meeting's task past its day (accountability deducts the department's points);
    its breach is on the timeline already."""
    return _clocked(
        "assignment_not_delivered",
        {
            "meeting_id": deadline["meeting_id"],
            "case_no": deadline["case_no"],
            "department": deadline["department"],
            "task": deadline["task"],
            "due": deadline["due_at"].isoformat(),
        },
        deadline,
        None,
    )


# --------------------------------------------------------------------------- joint meetings
# A meeting's events name all its cases and write no timeline entry: each case gets a Note.


def joint_meeting_convened(
    meeting_id: int, meeting: dict, reply_due_at: datetime | None, actor: Mapping, at: datetime
) -> Decision:
    return _decided(
        "joint_meeting_convened",
        {
            "meeting_id": meeting_id,
            "case_nos": meeting["case_nos"],
            "departments": meeting["departments"],
            "scheduled_at": meeting["scheduled_at"].isoformat(),
            "complex": meeting["complex"],
            "reply_due_at": _iso(reply_due_at),
        },
        actor,
        at,
    )


def meeting_convened_note(meeting_id: int, meeting: dict) -> Note:
    return Note(
        "meeting_convened",
        f"区行政审批局召集联席会议（{'、'.join(meeting['departments'])}），"
        f"时间 {meeting['scheduled_at'].isoformat()}",
        {"meeting_id": meeting_id},
    )


def joint_meeting_minuted(
    meeting: Mapping, minutes: dict, actor: Mapping, at: datetime
) -> Decision:
    return _decided(
        "joint_meeting_minuted",
        {"meeting_id": meeting["id"], "case_nos": meeting["case_nos"], **minutes},
        actor,
        at,
    )


def meeting_minuted_note(meeting: Mapping, minutes: dict) -> Note:
    return Note(
        "meeting_minuted",
        f"联席会议纪要：{minutes['decision']}",
        {"meeting_id": meeting["id"], **minutes},
    )


def department_absent(meeting: Mapping, department: str, actor: Mapping, at: datetime) -> Decision:
    """A department that stayed away without a valid reason (accountability deducts points)."""
    return _decided(
        "department_absent",
        {"meeting_id": meeting["id"], "case_nos": meeting["case_nos"], "department": department},
        actor,
        at,
    )


def assignment_delivered_note(deadline: Mapping) -> Note:
    return Note(
        "assignment_delivered", f"{deadline['department']} 已完成会议分工：{deadline['task']}"
    )


# --------------------------------------------------------------------------- what intake told


def case_opened_note() -> Note:
    """Coordination's record of a case handed over by intake (``case_registered``)."""
    return Note("opened", "协调记录已建立，待分类（coordination）")


def return_visit_note() -> Note:
    return Note("return_visit", "已回访，可关闭")


# --------------------------------------------------------------------------- the 差评 loop
# Each step of a bad rating's loop (services/coordination/bad_ratings.py) is announced with the
# case's site and the rating's facts reporting counts; accountability audits them.


def _loop_step(event_type: str, case: Mapping, loop: Mapping, data: dict, actor, at, text: str):
    return _decided(
        event_type,
        {
            "case_no": case["case_no"],
            "site": case["site"],
            "department": case["department"],
            "rated_staff": loop["rated_staff"],
            "rating_level": loop["rating_level"],
            **data,
            "actor_role": actor.get("role"),  # the audit trail keeps who decided in which role
        },
        actor,
        at,
        case=case,
        timeline=Note(event_type, text, data),
    )


def bad_rating_verified(
    case: Mapping, loop: Mapping, verification: dict, due_at, actor: Mapping, at: datetime
) -> Decision:
    """核实: the bad rating is genuine (its rectification period starts) or not, and why."""
    finding = verification["finding"]
    label = BAD_RATING_FINDING_LABELS[finding]
    text = f"差评核实：{label}。{verification['reason']}" + (
        f"（整改期限 {due_at.isoformat()}）" if due_at else ""
    )
    return _loop_step(
        "bad_rating_verified",
        case,
        loop,
        {
            "finding": finding,
            "genuine": finding == "genuine",
            "reason": verification["reason"],
            "rectification_due_at": _iso(due_at),
        },
        actor,
        at,
        text,
    )


def bad_rating_appealed(
    case: Mapping, loop: Mapping, reason: str, actor: Mapping, at: datetime
) -> Decision:
    """申诉: the rated staff member contests the verification (a supervisor decides)."""
    return _loop_step(
        "bad_rating_appealed",
        case,
        loop,
        {"reason": reason},
        actor,
        at,
        f"被评价人对核实结果提出申诉：{reason}",
    )


def bad_rating_appeal_decided(
    case: Mapping, loop: Mapping, upheld: bool, reason: str, actor: Mapping, at: datetime
) -> Decision:
    """A supervisor's decision: upheld (the 差评 is not counted, no rectification) or rejected."""
    outcome = "申诉成立，差评不予认定" if upheld else "申诉驳回，继续整改"
    return _loop_step(
        "bad_rating_appeal_decided",
        case,
        loop,
        {"upheld": upheld, "reason": reason},
        actor,
        at,
        f"差评申诉决定：{outcome}。{reason}",
    )


def bad_rating_rectified(
    case: Mapping, loop: Mapping, rectification: dict, actor: Mapping, at: datetime
) -> Decision:
    """整改: the measures taken, and whether they came within the rectification period."""
    timing = {True: "按期", False: "超期", None: "无期限"}[rectification["on_time"]]
    return _loop_step(
        "bad_rating_rectified",
        case,
        loop,
        {
            "measures": rectification["measures"],
            "due_at": rectification["due_at"],
            "on_time": rectification["on_time"],
        },
        actor,
        at,
        f"差评整改（{timing}）：{rectification['measures']}",
    )


def bad_rating_answered(
    case: Mapping, loop: Mapping, summary: str, actor: Mapping, at: datetime
) -> Decision:
    """反馈: what the rater was told."""
    return _loop_step(
        "bad_rating_answered",
        case,
        loop,
        {"summary": summary},
        actor,
        at,
        f"已向评价人反馈：{summary}",
    )


def bad_rating_re_rated(
    case: Mapping, loop: Mapping, re_rating: dict, actor: Mapping, at: datetime
) -> Decision:
    """再评价: the rater's new level (1–5) after the loop; ``improved`` against the first."""
    level = re_rating["level"]
    return _loop_step(
        "bad_rating_re_rated",
        case,
        loop,
        {"level": level, "improved": re_rating["improved"], "text": re_rating["text"]},
        actor,
        at,
        f"评价人再评价：{RATING_LEVEL_LABELS[level]}（{level}级）"
        + (f"：{re_rating['text']}" if re_rating["text"] else ""),
    )
