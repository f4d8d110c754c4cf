"""What accountability announces and audits, as :class:`Decision`s (pure: no I/O).

Each function gives one event's payload exactly as ``docs/events.md`` documents it, with its
timeline text and its audit entry: ``audit_action``/``audit_subject``/``actor_role`` and, in
``extra``, the entry's time (``audit_at``) and, where it differs from the payload, its content
(``audit_content``). :func:`audit_entry` turns that into the audit entry the unit of work
writes beside the event. Other services' decisions are audited as their events tell them
(:func:`consumed_entry`); renumbering a sanction is audited without an event of its own.
"""

import uuid
from collections.abc import Mapping
from datetime import date, datetime

from services.accountability import domain
from services.common.decisions import Decision
from services.common.vocabulary import CAUSE_LABELS

# The events accountability consumes, with the audit action of those that are another
# service's decisions (None: acted on, not audited). The service has one consumer for each.
CONSUMED = {
    ("intake", "case_registered"): "registration",
    ("intake", "cases_registered"): "registration",  # each case as its case_registered
    ("intake", "case_helper_added"): "helper_added",
    ("intake", "return_visit_recorded"): "return_visit",
    ("coordination", "case_classified"): "classification",
    ("coordination", "case_state_changed"): "state_change",
    ("coordination", "explanation_given"): "explanation",
    ("coordination", "refusal_reviewed"): "refusal_review",
    ("coordination", "measure_added"): "measure",
    ("coordination", "measure_response_recorded"): "measure_response",
    ("coordination", "deadline_paused"): "deadline_paused",
    ("coordination", "deadline_resumed"): "deadline_resumed",
    ("coordination", "deadline_breached"): None,
    ("coordination", "joint_meeting_convened"): "joint_meeting",
    ("coordination", "joint_meeting_minuted"): "minutes",
    ("coordination", "department_absent"): None,
    ("coordination", "assignment_not_delivered"): None,
    ("coordination", "case_replied"): "reply",
    ("coordination", "case_resolved"): "resolution",
    ("coordination", "practice_promoted"): "practice",
    ("coordination", "bad_rating_verified"): "bad_rating_verification",
    ("coordination", "bad_rating_appealed"): "bad_rating_appeal",
    ("coordination", "bad_rating_appeal_decided"): "bad_rating_appeal_decision",
    ("coordination", "bad_rating_rectified"): "bad_rating_rectification",
    ("coordination", "bad_rating_answered"): "bad_rating_answer",
    ("coordination", "bad_rating_re_rated"): "bad_rating_re_rating",
}

# the event types whose arrival is audited (a type comes from one source only)
_AUDITED_TYPES = frozenset(kind for (_, kind), action in CONSUMED.items() if action)


def audited_on_arrival(event_type: str) -> bool:
    """Whether a consumed event of ``event_type`` enters the audit trail as it arrives."""
    return event_type in _AUDITED_TYPES


# events that stand for several single events: (source, type) -> (the single events' type,
# the data field listing their data).
# ``cases_registered``: the cases one transaction of intake opened (a ratings batch), each
# ``data["cases"][i]`` exactly the data of that case's ``case_registered``.
BATCHES = {("intake", "cases_registered"): ("case_registered", "cases")}


def singles(source: str, event: Mapping) -> list[dict]:
    """The single events ``event`` stands for, in its order (``[event]`` itself when it is not
    a batch), each handled exactly as that event would be.

    A batch's single has the batch's envelope (source, time) with the single type and one
    case's data. Its ``id`` (the ``source_event_id`` of its audit entry, unique in the trail) is
    derived from the batch's id and the case number (``uuid5(batch id, case_no)``): the same
    for every delivery of the batch, distinct per case, and recomputable by an auditor who
    holds the batch. A case listed twice in one batch is taken once (its first listing)."""
    batch = BATCHES.get((source, event["type"]))
    if batch is None:
        return [event]
    single_type, field = batch
    namespace = uuid.UUID(str(event["id"]))
    seen, found = set(), []
    for data in event["data"][field]:
        if data["case_no"] in seen:
            continue
        seen.add(data["case_no"])
        found.append(
            {
                **event,
                "id": str(uuid.uuid5(namespace, data["case_no"])),
                "type": single_type,
                "source_site": data.get("site", event.get("source_site")),
                "data": data,
            }
        )
    return found


def _iso(moment) -> str | None:
    return moment.isoformat() if isinstance(moment, (datetime, date)) else moment


def _decision(event_type: str, data: dict, actor: Mapping, at: datetime, **fields) -> Decision:
    """A decision taken by a signed-in user (``actor``) at ``at``; its payload ends with who
    and when, and its audit entry is dated ``at``."""
    return Decision(
        event_type,
        {**data, "actor": actor["id"], "at": at.isoformat()},
        actor=actor["id"],
        actor_role=actor.get("role"),
        extra={"audit_at": at},
        **fields,
    )


# -- first responsibility and investigations -------------------------------------------------


def first_receiver_text(first_receiver: str) -> str:
    """The timeline's note that the first receiver stays responsible (no event of its own)."""
    return f"首接负责人 {first_receiver} 已记录，负责到底（accountability）"


def investigation_opened(opened: Mapping, classification: Mapping, at: datetime) -> Decision:
    """A refused case's investigation, opened by coordination's classification."""
    return Decision(
        "investigation_opened",
        {
            "investigation_id": opened["id"],
            "case_no": opened["case_no"],
            "site": opened["site"],
            "at": _iso(at),
        },
        site=opened["site"],
        case_no=opened["case_no"],
        actor=classification.get("actor"),
        timeline_kind="investigation_opened",
        timeline_text=f"不给办事项已立案调查（调查 {opened['id']}）",
        timeline_data={"investigation_id": opened["id"]},
        audit_action="investigation_opened",
        audit_subject=f"investigation:{opened['id']}",
        actor_role=classification.get("actor_role"),
        extra={
            "audit_at": at,
            "audit_content": {
                "investigation_id": opened["id"],
                "reason": classification.get("reason"),
            },
        },
    )


# what a finding_recorded event tells of its finding, besides the finding's id
FINDING_FIELDS = (
    "investigation_id",
    "case_no",
    "staff_id",
    "cause",
    "no_fault",
    "finding",
    "period",
)


def finding_recorded(finding: Mapping, site: str | None, actor: Mapping, at: datetime) -> Decision:
    """The supervisor's finding on an investigation (no fault, or a cause and who)."""
    verdict = "无过错，不予处理" if finding["no_fault"] else CAUSE_LABELS[finding["cause"]]
    return _decision(
        "finding_recorded",
        {"finding_id": finding["id"], **{name: finding[name] for name in FINDING_FIELDS}},
        actor,
        at,
        site=site,
        case_no=finding["case_no"],
        timeline_kind="finding_recorded",
        timeline_text=f"调查结论：{verdict}",
        timeline_data={"finding_id": finding["id"]},
        audit_action="finding",
        audit_subject=f"finding:{finding['id']}",
    )


def improvement_action_assigned(
    action: Mapping, finding: Mapping, site: str | None, actor: Mapping, at: datetime
) -> Decision:
    """A ``process`` finding's improvement action, given to the department."""
    return _decision(
        "improvement_action_assigned",
        {
            "action_id": action["id"],
            "finding_id": finding["id"],
            "case_no": finding["case_no"],
            "department": action["department"],
            "action": action["action"],
        },
        actor,
        at,
        site=site,
        case_no=finding["case_no"],
        audit_action="improvement_action",
        audit_subject=f"improvement_action:{action['id']}",
    )


def improvement_action_text(finding: Mapping) -> str:
    return f"流程优化整改：{finding['finding']}"


# -- sanctions -------------------------------------------------------------------------------


def _sanction(event_type: str, action: str, row: Mapping, case_no, actor, at, why: str) -> Decision:
    return _decision(
        event_type,
        {
            "sanction_id": row["id"],
            "staff_id": row["staff_id"],
            "kind": row["kind"],
            "status": row["status"],
            "finding_id": row["finding_id"],
            "strike_no": row["strike_no"],
            "period": row["period"],
            "reason": why,
        },
        actor,
        at,
        case_no=case_no,
        audit_action=action,
        audit_subject=f"sanction:{row['id']}",
    )


def sanction_applied(row: Mapping, case_no, actor: Mapping, at: datetime, why: str) -> Decision:
    return _sanction("sanction_applied", "sanction", row, case_no, actor, at, why)


def sanction_revoked(row: Mapping, case_no, actor: Mapping, at: datetime, why: str) -> Decision:
    return _sanction("sanction_revoked", "sanction_revoked", row, case_no, actor, at, why)


def sanction_renumbered(sanction_id: int, strike_no: int, why: str, actor, at) -> dict:
    """The audit entry of a sanction whose strike number moved (a recount; no event)."""
    return {
        "action": "sanction_renumbered",
        "actor": actor["id"],
        "role": actor.get("role"),
        "at": at,
        "content": {"sanction_id": sanction_id, "strike_no": strike_no, "why": why},
        "subject": f"sanction:{sanction_id}",
    }


def sanction_confirmed(sanction: Mapping, case_no, actor: Mapping, at: datetime) -> Decision:
    """HR's confirmation of a recommended sanction (a dismissal)."""
    return _decision(
        "sanction_confirmed",
        {
            "sanction_id": sanction["id"],
            "staff_id": sanction["staff_id"],
            "kind": sanction["kind"],
            "finding_id": sanction["finding_id"],
            "strike_no": sanction["strike_no"],
        },
        actor,
        at,
        case_no=case_no,
        audit_action="sanction_confirmed",
        audit_subject=f"sanction:{sanction['id']}",
    )


def sanction_rejected(
    sanction: Mapping, case_no, reason: str, actor: Mapping, at: datetime
) -> Decision:
    """HR's rejection of a recommended sanction (a dismissal), with the reason."""
    return _decision(
        "sanction_rejected",
        {
            "sanction_id": sanction["id"],
            "staff_id": sanction["staff_id"],
            "kind": sanction["kind"],
            "finding_id": sanction["finding_id"],
            "strike_no": sanction["strike_no"],
            "reason": reason,
        },
        actor,
        at,
        case_no=case_no,
        audit_action="sanction_rejected",
        audit_subject=f"sanction:{sanction['id']}",
    )


# -- appeals ---------------------------------------------------------------------------------


def appeal_filed(appeal: Mapping, finding: Mapping, actor: Mapping, at: datetime) -> Decision:
    return _decision(
        "appeal_filed",
        {
            "appeal_id": appeal["id"],
            "finding_id": finding["id"],
            "staff_id": finding["staff_id"],
            "reason": appeal["reason"],
        },
        actor,
        at,
        case_no=finding["case_no"],
        audit_action="appeal",
        audit_subject=f"appeal:{appeal['id']}",
    )


def appeal_decided(
    appeal: Mapping, finding: Mapping, upheld: bool, reason: str, actor: Mapping, at: datetime
) -> Decision:
    return _decision(
        "appeal_decided",
        {
            "appeal_id": appeal["id"],
            "finding_id": finding["id"],
            "staff_id": appeal["staff_id"],
            "upheld": upheld,
            "reason": reason,
        },
        actor,
        at,
        case_no=finding["case_no"],
        audit_action="appeal_decision",
        audit_subject=f"appeal:{appeal['id']}",
    )


# -- department deductions -------------------------------------------------------------------


def _deduction_data(row: Mapping) -> dict:
    return {
        "deduction_id": row["id"],
        "department": row["department"],
        "year": row["year"],
        "points": row["points"],
        "reason_code": row["reason_code"],
    }


def deduction_recorded(row: Mapping, cause: Mapping, fact: Mapping) -> Decision:
    """A deduction for ``fact`` (the data of the coordination event ``cause``, or one absence
    in its minutes); audited with the event that caused it."""
    data = {
        **_deduction_data(row),
        "reason": row["reason"],
        "case_no": row["case_no"],
        "meeting_id": row["meeting_id"],
        "deadline_id": row["deadline_id"],
        "actor": fact.get("actor"),
        "at": _iso(row["at"]),
    }
    return Decision(
        "deduction_recorded",
        data,
        site=cause.get("source_site"),
        case_no=row["case_no"],
        actor=fact.get("actor"),
        audit_action="deduction",
        audit_subject=f"deduction:{row['id']}",
        actor_role=fact.get("actor_role"),
        extra={
            "audit_at": row["at"],
            "audit_content": {
                **data,
                "source_event_id": cause["id"],
                "source_event_type": cause["type"],
            },
        },
    )


def deduction_withdrawn(row: Mapping, reason: str, actor: Mapping, at: datetime) -> Decision:
    return _decision(
        "deduction_withdrawn",
        {
            **_deduction_data(row),
            "reason": reason,
            "case_no": row["case_no"],
            "meeting_id": row["meeting_id"],
        },
        actor,
        at,
        case_no=row["case_no"],
        audit_action="deduction_withdrawal",
        audit_subject=f"deduction:{row['id']}",
    )


# -- the audit trail -------------------------------------------------------------------------


def audit_entry(decision: Decision, event: Mapping) -> dict | None:
    """The audit entry of a decision taken here (None when it is not audited): who, when,
    what, and the event that announced it."""
    if decision.audit_action is None:
        return None
    return {
        "action": decision.audit_action,
        "actor": decision.actor,
        "role": decision.actor_role,
        "at": decision.extra["audit_at"],
        "content": decision.extra.get("audit_content", decision.data),
        "case_no": decision.case_no,
        "subject": decision.audit_subject,
        "source_event_id": event["id"],
    }


def consumed_entry(action: str, event: Mapping, tz) -> dict:
    """The audit entry of another service's decision, as its event tells it."""
    data = event["data"]
    when = data.get("at") or data.get("replied_at") or event["occurred_at"]
    case_nos = data.get("case_nos") or []
    return {
        "action": action,
        "actor": data.get("actor") or data.get("registered_by"),
        "role": data.get("actor_role"),
        "at": domain.parse_time(when, tz),
        "content": {
            "event_type": event["type"],
            "source_service": event["source_service"],
            **data,
        },
        "case_no": data.get("case_no") or (case_nos[0] if len(case_nos) == 1 else None),
        "subject": f"meeting:{data['meeting_id']}" if data.get("meeting_id") else None,
        "source_event_id": event["id"],
    }
