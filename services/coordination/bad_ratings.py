"""The 差评 loop: what happens to every bad rating (level 1–2), as the national 好差评 rules run it
(国务院办公厅《关于建立政务服务“好差评”制度提高政务服务水平的意见》: 差评 核实、整改、反馈、回访).

A case a bad rating opened (intake's ``case_registered`` on channel ``rating``) carries a loop:

1. **核实** — an officer records whether the 差评 is genuine (``genuine``) or not (``malicious``
   恶意差评, ``mistaken`` 误评, ``unrelated`` 与政务服务无关), with the reason. A genuine one
   starts its rectification period (整改期限): the ``bad_rating`` policy of
   deploy/config/deadline_policies.yaml (15 working days by default, counted by the working-day
   calendar like every deadline, from the verification or from the rating itself).
2. **申诉** — the staff member the rating is about (the rated staff member; the first receiver
   when the rating named nobody) may appeal a genuine verification once, before the
   rectification; the clock pauses while the appeal waits. A supervisor decides — never the
   appellant, nor the officer who verified, nor the rated staff member (separated duties, as
   for accountability's appeals). Upheld: the 差评 is not genuine after all and its period ends;
   rejected: the clock runs again with the working days it had left.
3. **整改** — the officer records the rectification measures; on time when within the period.
4. **反馈** — the answer to the rater; **回访** — the return visit every real-name bad rating
   needs (intake records it; coordination notes it and will not close the case without it);
   then an optional **再评价**, the rater's new level 1–5.

A case in the loop closes only once its 差评 is settled (:data:`CLOSABLE_STATES`). The rules
(state, who may take which step, payloads, the view) are pure functions of :class:`LoopFacts`;
the use cases below run them on a unit of work, as coordination's ``handlers`` do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common import fields
from services.common.errors import Conflict, Forbidden, InvalidField
from services.common.vocabulary import (
    BAD_RATING_FINDING_LABELS,
    BAD_RATING_STATE_LABELS,
    RATING_LEVEL_LABELS,
)
from services.coordination import domain, events
from services.coordination.handover import NotHandedOver
from services.coordination.metrics import PROVISIONAL_COMPUTED

FINDINGS = tuple(BAD_RATING_FINDING_LABELS)  # genuine, malicious, mistaken, unrelated
STATES = tuple(BAD_RATING_STATE_LABELS)
# the loop's states that still hold the case open (closing waits for them)
OPEN_STATES = frozenset({"awaiting_verification", "appealed", "rectifying", "awaiting_answer"})
CLOSABLE_STATES = frozenset(STATES) - OPEN_STATES
RECTIFICATION_STAGE = "rectification"
APPEAL_PAUSE = "appeal"
MAX_TEXT = 2000

# step -> (the states it may be taken in, the roles that take it; None: the rated staff member)
STEPS = {
    "verify": (frozenset({"awaiting_verification"}), ("officer",)),
    "appeal": (frozenset({"rectifying"}), None),
    "appeal_decision": (frozenset({"appealed"}), ("supervisor",)),
    "rectify": (frozenset({"rectifying"}), ("officer",)),
    "answer": (frozenset({"awaiting_answer", "not_genuine"}), ("officer",)),
    "re_rating": (frozenset({"awaiting_re_rating"}), ("officer",)),
}
STEP_LABELS = {
    "verify": "核实差评",
    "appeal": "对核实结果申诉",
    "appeal_decision": "决定申诉",
    "rectify": "记录整改",
    "answer": "反馈评价人",
    "re_rating": "记录再评价",
}


@dataclass(frozen=True)
class LoopFacts:
    """What the loop's rules need to know about one bad rating's case."""

    case_no: str
    rating_level: int | None
    rated_staff: str | None  # the appellant: who the rating is about
    requires_return_visit: bool
    return_visit_done: bool
    verification: Mapping | None = None
    appeal: Mapping | None = None
    rectification: Mapping | None = None
    answer: Mapping | None = None
    re_rating: Mapping | None = None


def facts_of(case: Mapping, loop: Mapping) -> LoopFacts:
    """The facts of a case (as coordination's store gives it) and its loop row."""
    return LoopFacts(
        case_no=case["case_no"],
        rating_level=loop["rating_level"],
        rated_staff=loop["rated_staff"] or case["first_receiver"],
        requires_return_visit=case["requires_return_visit"],
        return_visit_done=case["return_visit_at"] is not None,
        verification=loop["verification"],
        appeal=loop["appeal"],
        rectification=loop["rectification"],
        answer=loop["answer"],
        re_rating=loop["re_rating"],
    )


def appeal_pending(facts: LoopFacts) -> bool:
    return facts.appeal is not None and facts.appeal.get("decision") is None


def genuine(facts: LoopFacts) -> bool | None:
    """Whether the 差评 counts: verified genuine and no upheld appeal (None: not verified yet)."""
    if facts.verification is None:
        return None
    upheld = bool(facts.appeal and (facts.appeal.get("decision") or {}).get("upheld"))
    return facts.verification["finding"] == "genuine" and not upheld


def state(facts: LoopFacts) -> str:
    """Where the loop stands: each step done moves it on (see the module docstring)."""
    if facts.verification is None:
        return "awaiting_verification"
    if appeal_pending(facts):
        return "appealed"
    if not genuine(facts):
        return "not_genuine"
    if facts.rectification is None:
        return "rectifying"
    if facts.answer is None:
        return "awaiting_answer"
    if facts.requires_return_visit and not facts.return_visit_done:
        return "awaiting_return_visit"
    if facts.re_rating is None:
        return "awaiting_re_rating"
    return "completed"


def allowed_steps(facts: LoopFacts) -> list[str]:
    """The steps the loop's state allows now (by state only; who may take them: :func:`check_actor`).
    An appeal is filed once; the rater is answered once."""
    now = state(facts)
    allowed = []
    for step, (states, _roles) in STEPS.items():
        if now not in states:
            continue
        if step == "appeal" and facts.appeal is not None:
            continue
        if step == "answer" and facts.answer is not None:
            continue
        allowed.append(step)
    return allowed


def check_step(facts: LoopFacts, step: str) -> None:
    """Conflict (409) unless the loop's state allows ``step`` now."""
    if step in allowed_steps(facts):
        return
    now = state(facts)
    reason = "已申诉过" if step == "appeal" and facts.appeal is not None else ""
    reason = reason or ("已反馈过" if step == "answer" and facts.answer is not None else "")
    raise Conflict(
        f"事项 {facts.case_no} 的差评当前为“{BAD_RATING_STATE_LABELS[now]}”"
        f"{'，' + reason if reason else ''}，不能{STEP_LABELS[step]}",
        code="bad_rating_step",
    )


def refusal(facts: LoopFacts, step: str, actor: Mapping) -> str | None:
    """Why ``actor`` may not take ``step`` (None: they may). Separated duties: nobody verifies
    a rating of themselves; an appeal is the rated staff member's own; a supervisor decides it,
    never the appellant, the verifying officer or the staff member it is about."""
    _states, roles = STEPS[step]
    who = actor.get("id")
    if step == "appeal":
        if who != facts.rated_staff:
            return "只有被评价的工作人员本人可以对差评核实结果申诉"
        return None
    if actor.get("role") not in roles:
        return {
            "appeal_decision": "只有督查人员可以决定差评申诉",
        }.get(step, "只有办不成事反映窗口的工作人员可以办理差评")
    if step == "verify" and who == facts.rated_staff:
        return "不能核实对本人的差评（职责分离）"
    if step == "appeal_decision":
        if facts.appeal and who == facts.appeal.get("filed_by"):
            return "提出申诉的人员不能决定该申诉（职责分离）"
        if facts.verification and who == facts.verification.get("actor"):
            return "作出核实结论的人员不能决定对它的申诉（职责分离）"
        if who == facts.rated_staff:
            return "不能决定对本人差评的申诉"
    return None


def check_actor(facts: LoopFacts, step: str, actor: Mapping) -> None:
    reason = refusal(facts, step, actor)
    if reason:
        raise Forbidden(reason)


def closing_refusal(facts: LoopFacts) -> str | None:
    """Why the case may not close yet because of its 差评 (None: the loop allows it)."""
    now = state(facts)
    if now in CLOSABLE_STATES:
        return None
    return f"差评尚未办完（{BAD_RATING_STATE_LABELS[now]}）：须核实，属实的须整改并反馈评价人后才能关闭"


# --------------------------------------------------------------------------- payloads


def _text(payload: dict, name: str, label: str, *, required: bool = True) -> str | None:
    return fields.text_field(payload, name, label, max_length=MAX_TEXT, required=required)


def check_verification(payload: dict) -> dict:
    finding = payload.get("finding")
    if finding not in FINDINGS:
        choices = "、".join(f"{code}（{word}）" for code, word in BAD_RATING_FINDING_LABELS.items())
        raise InvalidField(f"核实结论应为 {choices} 之一", "finding")
    return {"finding": finding, "reason": _text(payload, "reason", "核实情况")}


def check_appeal(payload: dict) -> str:
    return _text(payload, "reason", "申诉理由")


def check_appeal_decision(payload: dict) -> tuple[bool, str]:
    upheld = payload.get("upheld")
    if not isinstance(upheld, bool):
        raise InvalidField("申诉决定应为 true（申诉成立）或 false（驳回）", "upheld")
    return upheld, _text(payload, "reason", "决定理由")


def check_rectification(payload: dict) -> str:
    return _text(payload, "measures", "整改措施")


def check_answer(payload: dict) -> str:
    return _text(payload, "summary", "反馈内容")


def check_re_rating(payload: dict, first_level: int | None) -> dict:
    level = payload.get("level")
    if not isinstance(level, int) or isinstance(level, bool) or level not in RATING_LEVEL_LABELS:
        raise InvalidField(
            "再评价等级应为 1–5 的整数（5 非常满意，4 满意，3 基本满意，2 不满意，1 非常不满意）",
            "level",
        )
    return {
        "level": level,
        "improved": None if first_level is None else level > first_level,
        "text": _text(payload, "text", "再评价内容", required=False),
    }


def rectification_record(measures: str, deadline: Mapping | None, now) -> dict:
    """The rectification as kept: on time when recorded by the period's end (None: no period)."""
    due_at = deadline["due_at"] if deadline else None
    return {
        "measures": measures,
        "due_at": due_at.isoformat() if due_at else None,
        "on_time": None if due_at is None else now <= due_at,
    }


# --------------------------------------------------------------------------- the view


def view(case: Mapping, loop: Mapping, deadline: dict | None) -> dict:
    """The loop as callers read it (``deadline``: its period as ``domain.deadline_view``)."""
    facts = facts_of(case, loop)
    now = state(facts)
    return {
        "case_no": case["case_no"],
        "state": now,
        "state_label": BAD_RATING_STATE_LABELS[now],
        "rating_level": facts.rating_level,
        "rated_staff": facts.rated_staff,
        "genuine": genuine(facts),
        "requires_return_visit": facts.requires_return_visit,
        "return_visit_at": case["return_visit_at"],
        "verification": facts.verification,
        "appeal": facts.appeal,
        "rectification": facts.rectification,
        "answer": facts.answer,
        "re_rating": facts.re_rating,
        "rectification_deadline": deadline,
        "closable": now in CLOSABLE_STATES,
        # what the loop allows now, and who takes each step (None: the rated staff member)
        "allowed_actions": allowed_steps(facts),
        "acting_roles": {
            step: list(roles) if roles else None for step, (_, roles) in STEPS.items()
        },
    }


# --------------------------------------------------------------------------- use cases


def _loop_for_update(uow, case_no: str) -> tuple[dict, dict]:
    """The case and its loop, locked; 409 for a case no bad rating opened."""
    case = uow.store.case_for_update(case_no)
    if case is None:
        raise NotHandedOver(case_no)
    loop = uow.store.bad_rating_for_update(case_no)
    if loop is None:
        raise Conflict(
            f"事项 {case_no} 不是由差评引起的事项，没有差评办理环节", code="not_a_bad_rating"
        )
    return case, loop


def _step(uow, case_no: str, step: str, actor: dict):
    """The case, its loop and their facts, once ``actor`` may take ``step`` now."""
    case, loop = _loop_for_update(uow, case_no)
    facts = facts_of(case, loop)
    check_actor(facts, step, actor)
    check_step(facts, step)
    return case, loop, facts


def _deadline(uow, case_no: str, loop: Mapping) -> dict | None:
    if loop["deadline_id"] is None:
        return None
    return uow.store.deadline_for_update(case_no, loop["deadline_id"])


def _view(uow, rules, case_no: str) -> dict:
    case = uow.store.case(case_no)
    loop = uow.store.bad_rating(case_no)
    deadline = None
    if loop["deadline_id"] is not None:
        rows = [d for d in uow.store.case_deadlines(case_no) if d["id"] == loop["deadline_id"]]
        deadline = domain.deadline_view(rows[0], rules.calendar, uow.now()) if rows else None
    return view(case, loop, deadline)


def bad_rating(uow, rules, case_no: str) -> dict | None:
    """The case's 差评 loop, or None when no bad rating opened the case."""
    with uow.begin():
        if uow.store.case(case_no) is None:
            raise NotHandedOver(case_no)
        if uow.store.bad_rating(case_no) is None:
            return None
        return _view(uow, rules, case_no)


def closing_check(uow, case: Mapping) -> None:
    """Conflict (409) while the case's 差评 is not settled (called by ``handlers.close``)."""
    loop = uow.store.bad_rating(case["case_no"])
    if loop is None:
        return
    reason = closing_refusal(facts_of(case, loop))
    if reason:
        raise Conflict(f"事项 {case['case_no']} 的{reason}", code="bad_rating_open")


def holds_open(uow, case: Mapping) -> bool:
    """Whether the case's 差评 keeps it from closing (for the actions its page offers)."""
    loop = uow.store.bad_rating(case["case_no"])
    return loop is not None and closing_refusal(facts_of(case, loop)) is not None


def verify(uow, rules, case_no: str, payload: dict, actor: dict) -> dict:
    """核实: genuine or not, and why; a genuine 差评's rectification period starts."""
    with uow.begin():
        now = uow.now()
        case, loop, _facts = _step(uow, case_no, "verify", actor)
        verification = check_verification(payload)
        deadline = None
        if verification["finding"] == "genuine":
            deadline = _start_rectification(uow, rules, case, now)
        record = {**verification, "actor": actor["id"], "at": now.isoformat()}
        uow.store.save_bad_rating_step(case_no, "verification", record)
        due_at = deadline["due_at"] if deadline else None
        uow.record(events.bad_rating_verified(case, loop, verification, due_at, actor, now))
        return _view(uow, rules, case_no)


def appeal(uow, rules, case_no: str, payload: dict, actor: dict) -> dict:
    """申诉: the rated staff member contests a genuine verification; the period pauses."""
    with uow.begin():
        now = uow.now()
        case, loop, _facts = _step(uow, case_no, "appeal", actor)
        reason = check_appeal(payload)
        record = {"reason": reason, "filed_by": actor["id"], "filed_at": now.isoformat()}
        uow.store.save_bad_rating_step(case_no, "appeal", {**record, "decision": None})
        uow.record(events.bad_rating_appealed(case, loop, reason, actor, now))
        deadline = _deadline(uow, case_no, loop)
        if deadline and _pausable(deadline):
            pause_reason = f"被评价人申诉，等待督查人员决定：{reason}"
            uow.store.pause_deadline(deadline["id"], now, pause_reason, APPEAL_PAUSE)
            uow.record(events.deadline_paused(case, deadline, pause_reason, actor, now))
        return _view(uow, rules, case_no)


def decide_appeal(uow, rules, case_no: str, payload: dict, actor: dict) -> dict:
    """A supervisor decides the appeal: upheld ends the period (the 差评 does not count),
    rejected lets it run again with the working days it had left."""
    with uow.begin():
        now = uow.now()
        case, loop, _facts = _step(uow, case_no, "appeal_decision", actor)
        upheld, reason = check_appeal_decision(payload)
        decision = {"upheld": upheld, "reason": reason, "actor": actor["id"], "at": now.isoformat()}
        uow.store.save_bad_rating_step(case_no, "appeal", {**loop["appeal"], "decision": decision})
        uow.record(events.bad_rating_appeal_decided(case, loop, upheld, reason, actor, now))
        deadline = _deadline(uow, case_no, loop)
        if deadline and upheld:
            uow.store.meet_deadlines(case_no, now, stage=RECTIFICATION_STAGE)
        elif deadline and deadline["paused_by"] == APPEAL_PAUSE:
            plan = domain.resume_plan(
                rules.calendar,
                deadline["paused_at"],
                now,
                deadline["due_at"],
                deadline["warning_share"],
            )
            resumed = uow.store.replan_deadline(deadline["id"], plan, resume=True)
            uow.record(events.deadline_resumed(case, deadline, resumed, actor, now))
        return _view(uow, rules, case_no)


def rectify(uow, rules, case_no: str, payload: dict, actor: dict) -> dict:
    """整改: the measures taken; the period is met (late when past its end)."""
    with uow.begin():
        now = uow.now()
        case, loop, _facts = _step(uow, case_no, "rectify", actor)
        measures = check_rectification(payload)
        record = rectification_record(measures, _deadline(uow, case_no, loop), now)
        uow.store.meet_deadlines(case_no, now, stage=RECTIFICATION_STAGE)
        stored = {**record, "actor": actor["id"], "at": now.isoformat()}
        uow.store.save_bad_rating_step(case_no, "rectification", stored)
        uow.record(events.bad_rating_rectified(case, loop, record, actor, now))
        return _view(uow, rules, case_no)


def answer(uow, rules, case_no: str, payload: dict, actor: dict) -> dict:
    """反馈: what the rater was told (after the rectification, or of a 差评 not genuine)."""
    with uow.begin():
        now = uow.now()
        case, loop, _facts = _step(uow, case_no, "answer", actor)
        summary = check_answer(payload)
        record = {"summary": summary, "actor": actor["id"], "at": now.isoformat()}
        uow.store.save_bad_rating_step(case_no, "answer", record)
        uow.record(events.bad_rating_answered(case, loop, summary, actor, now))
        return _view(uow, rules, case_no)


def re_rate(uow, rules, case_no: str, payload: dict, actor: dict) -> dict:
    """再评价: the rater's new level after the return visit (optional, once)."""
    with uow.begin():
        now = uow.now()
        case, loop, facts = _step(uow, case_no, "re_rating", actor)
        re_rating = check_re_rating(payload, facts.rating_level)
        record = {**re_rating, "actor": actor["id"], "at": now.isoformat()}
        uow.store.save_bad_rating_step(case_no, "re_rating", record)
        uow.record(events.bad_rating_re_rated(case, loop, re_rating, actor, now))
        return _view(uow, rules, case_no)


def _pausable(deadline: Mapping) -> bool:
    return APPEAL_PAUSE in deadline["pause_events"] and not (
        deadline["paused_at"] or deadline["met_at"] or deadline["breached_at"]
    )


def _start_rectification(uow, rules, case: dict, now) -> dict | None:
    """The rectification period the policy gives a genuine 差评 (None: the district sets none)."""
    policy = rules.policies.rectification()
    if policy is None:
        return None
    start = case["received_at"] if policy.start_event == "case_registered" else now
    plan = domain.plan_deadline(rules.calendar, start, policy.working_days, policy.warning_share)
    deadline = uow.store.add_deadline(
        domain.policy_deadline(case, policy, policy.start_event, plan)
    )
    uow.store.set_bad_rating_deadline(case["case_no"], deadline["id"])
    uow.record(events.deadline_set(deadline))
    for year in deadline["unknown_years"]:
        PROVISIONAL_COMPUTED.labels(str(year)).inc()
    return deadline
