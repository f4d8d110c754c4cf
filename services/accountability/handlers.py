"""Accountability's use cases: each runs inside the caller's transaction (a cursor).

The service's entrypoints open the transaction and call one of these; every decision here
changes the tables, writes its event to the outbox and appends to the audit trail together.
"""

from datetime import date, datetime

from services.accountability import audit, domain, store
from services.accountability.rules import Rules
from services.common import timeline
from services.common.errors import Conflict, Forbidden, InvalidField, NotFound
from services.common.events import new_event
from services.common.outbox import add_event

SCHEMA = "accountability"
SERVICE = "accountability"
CLOSING_STATES = ("archived", "closed")


def _emit(cur, event_type: str, data: dict, site: str | None = None) -> str:
    event = new_event(event_type, data, source_service=SERVICE, source_site=site)
    add_event(cur, SCHEMA, event)
    return event["id"]


def _decide(
    cur,
    event_type: str,
    action: str,
    data: dict,
    actor: dict,
    at,
    *,
    case_no,
    subject,
    site: str | None = None,
) -> None:
    """A decision taken here: its event, and its entry in the audit trail, in one transaction."""
    event_id = _emit(cur, event_type, data, site)
    audit.append(
        cur,
        action=action,
        actor=actor["id"],
        role=actor.get("role"),
        at=at,
        content=data,
        case_no=case_no,
        subject=subject,
        source_event_id=event_id,
    )


def _iso(moment) -> str | None:
    return moment.isoformat() if isinstance(moment, (datetime, date)) else moment


# -- events from intake and coordination ---------------------------------------------------


def consume(cur, source: str, event: dict, rules: Rules, tz) -> None:
    """Apply one consumed event (already known to be new): audit it, then act on it."""
    data = event["data"]
    action = audit.AUDITED_EVENTS.get((source, event["type"]))
    if action:
        audit.append_event(cur, action, event, tz)
    kind = event["type"]
    if kind == "case_registered":
        if store.record_first_responsibility(cur, data):
            timeline.add_entry(
                cur,
                SCHEMA,
                data["case_no"],
                data["first_receiver"],
                "first_receiver",
                f"首接负责人 {data['first_receiver']} 已记录，负责到底（accountability）",
            )
    elif kind == "case_helper_added":
        at = domain.parse_time(data.get("at") or event["occurred_at"], tz)
        store.add_helper(cur, data["case_no"], data["staff_id"], data.get("actor"), at)
    elif kind == "case_classified" and data.get("type") == "refused":
        _open_investigation(cur, event, tz)
    elif kind == "case_resolved" or (
        kind == "case_state_changed" and data.get("to_state") in CLOSING_STATES
    ):
        at = domain.parse_time(data.get("at") or event["occurred_at"], tz)
        store.close_first_responsibility(cur, data["case_no"], at)
    elif kind in domain.DEDUCTION_REASONS:
        _deduct(cur, kind, data, event, rules, tz)
    elif kind == "joint_meeting_minuted":
        # an absence without valid reason in the minutes is deducted even if coordination's
        # own department_absent event comes later or never: both share one natural key
        for row in data.get("attendance") or []:
            if not row.get("present") and not row.get("valid_reason"):
                absent = {
                    "meeting_id": data.get("meeting_id"),
                    "case_nos": data.get("case_nos"),
                    "department": row.get("department"),
                    "actor": data.get("actor"),
                    "at": data.get("at") or event["occurred_at"],
                }
                _deduct(cur, "department_absent", absent, event, rules, tz)


def _open_investigation(cur, event: dict, tz) -> None:
    data = event["data"]
    opened_at = domain.parse_time(data.get("at") or event["occurred_at"], tz)
    opened = store.open_investigation(cur, data, opened_at)
    if opened is None:
        return
    event_id = _emit(
        cur,
        "investigation_opened",
        {
            "investigation_id": opened["id"],
            "case_no": opened["case_no"],
            "site": opened["site"],
            "at": _iso(opened_at),
        },
        opened["site"],
    )
    audit.append(
        cur,
        action="investigation_opened",
        actor=data.get("actor"),
        role=data.get("actor_role"),
        at=opened_at,
        content={"investigation_id": opened["id"], "reason": data.get("reason")},
        case_no=opened["case_no"],
        subject=f"investigation:{opened['id']}",
        source_event_id=event_id,
    )
    timeline.add_entry(
        cur,
        SCHEMA,
        opened["case_no"],
        data.get("actor"),
        "investigation_opened",
        f"不给办事项已立案调查（调查 {opened['id']}）",
        {"investigation_id": opened["id"]},
    )


def _deduct(cur, kind: str, data: dict, event: dict, rules: Rules, tz) -> None:
    deduction = domain.deduction_for(kind, data, rules.points, tz, event["occurred_at"])
    if deduction is None:
        return
    row = store.insert_deduction(cur, deduction, event["id"])
    if row is None:
        return
    payload = {
        "deduction_id": row["id"],
        "department": row["department"],
        "year": row["year"],
        "points": row["points"],
        "reason_code": row["reason_code"],
        "reason": row["reason"],
        "case_no": row["case_no"],
        "meeting_id": row["meeting_id"],
        "deadline_id": row["deadline_id"],
        "actor": data.get("actor"),
        "at": _iso(row["at"]),
    }
    event_id = _emit(cur, "deduction_recorded", payload, event.get("source_site"))
    audit.append(
        cur,
        action="deduction",
        actor=data.get("actor"),
        role=data.get("actor_role"),
        at=row["at"],
        content={**payload, "source_event_id": event["id"], "source_event_type": event["type"]},
        case_no=row["case_no"],
        subject=f"deduction:{row['id']}",
        source_event_id=event_id,
    )


# -- investigations, findings and the ladder -----------------------------------------------


def record_finding(
    cur, rules: Rules, investigation_id: int, payload: dict, actor: dict, now: datetime, tz
) -> dict:
    """Record the supervisor's finding, close the investigation and apply the sanctions."""
    request = domain.check_finding(payload)
    if request.staff_id:
        store.lock_staff(cur, request.staff_id)
    investigation = store.investigation(cur, investigation_id, lock=True)
    if investigation is None:
        raise NotFound(f"调查 {investigation_id} 不存在", "investigation_id")
    if investigation["status"] != "open":
        raise Conflict(f"调查 {investigation_id} 已有结论，不能重复认定")
    found_on = now.astimezone(tz).date()
    finding = store.insert_finding(
        cur,
        {
            "investigation_id": investigation_id,
            "case_no": investigation["case_no"],
            "staff_id": request.staff_id,
            "cause": request.cause,
            "no_fault": request.no_fault,
            "finding": request.finding,
            "department": investigation["department"],
            "period": rules.ladder.period_of(found_on),
            "found_on": found_on,
            "recorded_by": actor["id"],
            "recorded_at": now,
        },
    )
    store.close_investigation(cur, investigation_id, now)
    data = {
        "investigation_id": investigation_id,
        "finding_id": finding["id"],
        "case_no": finding["case_no"],
        "staff_id": finding["staff_id"],
        "cause": finding["cause"],
        "no_fault": finding["no_fault"],
        "finding": finding["finding"],
        "period": finding["period"],
        "actor": actor["id"],
        "at": now.isoformat(),
    }
    _decide(
        cur,
        "finding_recorded",
        "finding",
        data,
        actor,
        now,
        case_no=finding["case_no"],
        subject=f"finding:{finding['id']}",
        site=investigation["site"],
    )
    verdict = "无过错，不予处理" if finding["no_fault"] else domain.CAUSE_LABELS[finding["cause"]]
    timeline.add_entry(
        cur,
        SCHEMA,
        finding["case_no"],
        actor["id"],
        "finding_recorded",
        f"调查结论：{verdict}",
        {"finding_id": finding["id"]},
    )
    result = {**finding, "sanctions": [], "improvement_action": None}
    if finding["no_fault"]:
        return result
    rule = rules.sanctions.causes[finding["cause"]]
    if rule.improvement_action:
        result["improvement_action"] = _improvement_action(cur, finding, investigation, actor, now)
    if rule.counts_strikes:
        changes = recount(
            cur, rules, finding["staff_id"], finding["period"], actor, now, "调查认定"
        )
        result["sanctions"] = [c for c in changes["applied"] if c["finding_id"] == finding["id"]]
        result["recount"] = changes
    return result


def _improvement_action(cur, finding, investigation, actor, now) -> dict:
    action = store.insert_improvement_action(
        cur, finding["id"], investigation["department"], f"流程优化整改：{finding['finding']}", now
    )
    data = {
        "action_id": action["id"],
        "finding_id": finding["id"],
        "case_no": finding["case_no"],
        "department": action["department"],
        "action": action["action"],
        "actor": actor["id"],
        "at": now.isoformat(),
    }
    _decide(
        cur,
        "improvement_action_assigned",
        "improvement_action",
        data,
        actor,
        now,
        case_no=finding["case_no"],
        subject=f"improvement_action:{action['id']}",
        site=investigation["site"],
    )
    return action


def recount(cur, rules: Rules, staff_id: str, period: str, actor: dict, now, why: str) -> dict:
    """Bring a staff member's sanctions in ``period`` in line with the ladder.

    The caller holds the staff member's lock. Returns what was applied, revoked, renumbered.
    """
    findings = store.findings_in_period(cur, staff_id, period)
    causes = {f["id"]: f["cause"] for f in findings}
    strikes = rules.ladder.strikes(
        domain.Finding(
            id=f["id"],
            cause=f["cause"],
            on=f["found_on"],
            counts=f["status"] == "confirmed" and not f["no_fault"],
        )
        for f in findings
    )
    on_record = [
        domain.SanctionOnRecord(s["id"], s["finding_id"], s["kind"], s["strike_no"])
        for s in store.live_sanctions(cur, staff_id, period)
    ]
    plan = domain.plan_sanctions(strikes, on_record)
    changes = {"applied": [], "revoked": [], "renumbered": []}
    for sanction_id in plan.revoke:
        row = store.revoke_sanction(cur, sanction_id, now, why)
        _sanction_decision(cur, "sanction_revoked", row, actor, now, why)
        changes["revoked"].append(row)
    for sanction_id, strike_no in plan.renumber:
        store.renumber_sanction(cur, sanction_id, strike_no)
        audit.append(
            cur,
            action="sanction_renumbered",
            actor=actor["id"],
            role=actor.get("role"),
            at=now,
            content={"sanction_id": sanction_id, "strike_no": strike_no, "why": why},
            subject=f"sanction:{sanction_id}",
        )
        changes["renumbered"].append({"sanction_id": sanction_id, "strike_no": strike_no})
    for finding_id, kind, strike_no in plan.apply:
        status = domain.initial_status(rules.sanctions, causes[finding_id], kind)
        values = {
            "finding_id": finding_id,
            "staff_id": staff_id,
            "kind": kind,
            "strike_no": strike_no,
            "period": period,
            "status": status,
            "applied_at": now,
        }
        row = {**values, **store.insert_sanction(cur, values)}
        _sanction_decision(cur, "sanction_applied", row, actor, now, why)
        changes["applied"].append(row)
    return changes


def _sanction_decision(cur, event_type: str, row: dict, actor: dict, now, why: str) -> None:
    data = {
        "sanction_id": row["id"],
        "staff_id": row["staff_id"],
        "kind": row["kind"],
        "status": row["status"],
        "finding_id": row["finding_id"],
        "strike_no": row["strike_no"],
        "period": row["period"],
        "reason": why,
        "actor": actor["id"],
        "at": now.isoformat(),
    }
    finding = store.finding(cur, row["finding_id"])
    _decide(
        cur,
        event_type,
        "sanction" if event_type == "sanction_applied" else "sanction_revoked",
        data,
        actor,
        now,
        case_no=finding["case_no"],
        subject=f"sanction:{row['id']}",
    )


def confirm_sanction(cur, sanction_id: int, actor: dict, now) -> dict:
    """HR's confirmation of a recommended sanction (dismissal)."""
    sanction = store.sanction(cur, sanction_id, lock=True)
    if sanction is None:
        raise NotFound(f"处理 {sanction_id} 不存在", "sanction_id")
    if sanction["status"] != "recommended":
        raise Conflict("只有处于建议状态的处理（如辞退建议）需要确认")
    store.confirm_sanction(cur, sanction_id, actor["id"], now)
    finding = store.finding(cur, sanction["finding_id"])
    data = {
        "sanction_id": sanction_id,
        "staff_id": sanction["staff_id"],
        "kind": sanction["kind"],
        "finding_id": sanction["finding_id"],
        "strike_no": sanction["strike_no"],
        "actor": actor["id"],
        "at": now.isoformat(),
    }
    _decide(
        cur,
        "sanction_confirmed",
        "sanction_confirmed",
        data,
        actor,
        now,
        case_no=finding["case_no"],
        subject=f"sanction:{sanction_id}",
    )
    return store.sanction(cur, sanction_id)


# -- appeals -------------------------------------------------------------------------------


def file_appeal(cur, finding_id: int, payload: dict, actor: dict, now) -> dict:
    reason = domain.check_reason(payload, "reason", "申诉理由")
    finding = store.finding(cur, finding_id)
    if finding is None:
        raise NotFound(f"调查结论 {finding_id} 不存在", "finding_id")
    if actor["role"] != "supervisor" and actor["id"] != finding["staff_id"]:
        raise Forbidden("只有被认定的工作人员本人或督查人员可以申诉")
    if finding["no_fault"] or finding["status"] != "confirmed":
        raise Conflict("该结论没有可申诉的责任认定")
    appeal = store.insert_appeal(
        cur,
        {
            "finding_id": finding_id,
            "staff_id": finding["staff_id"],
            "filed_by": actor["id"],
            "reason": reason,
            "filed_at": now,
        },
    )
    if appeal is None:
        raise Conflict(f"调查结论 {finding_id} 已经申诉过")
    data = {
        "appeal_id": appeal["id"],
        "finding_id": finding_id,
        "staff_id": finding["staff_id"],
        "reason": reason,
        "actor": actor["id"],
        "at": now.isoformat(),
    }
    _decide(
        cur,
        "appeal_filed",
        "appeal",
        data,
        actor,
        now,
        case_no=finding["case_no"],
        subject=f"appeal:{appeal['id']}",
    )
    return appeal


def decide_appeal(cur, rules: Rules, appeal_id: int, payload: dict, actor: dict, now) -> dict:
    """Decide an appeal; an upheld one overturns the finding and recounts the ladder."""
    upheld, reason = domain.check_appeal_decision(payload)
    appeal = store.appeal(cur, appeal_id)
    if appeal is None:
        raise NotFound(f"申诉 {appeal_id} 不存在", "appeal_id")
    store.lock_staff(cur, appeal["staff_id"])
    appeal = store.appeal(cur, appeal_id, lock=True)
    if appeal["status"] != "pending":
        raise Conflict(f"申诉 {appeal_id} 已经作出决定")
    decided = store.decide_appeal(cur, appeal_id, upheld, actor["id"], now, reason)
    finding = store.finding(cur, appeal["finding_id"])
    data = {
        "appeal_id": appeal_id,
        "finding_id": finding["id"],
        "staff_id": appeal["staff_id"],
        "upheld": upheld,
        "reason": reason,
        "actor": actor["id"],
        "at": now.isoformat(),
    }
    _decide(
        cur,
        "appeal_decided",
        "appeal_decision",
        data,
        actor,
        now,
        case_no=finding["case_no"],
        subject=f"appeal:{appeal_id}",
    )
    result = {**decided, "recount": None}
    if upheld:
        store.set_finding_status(cur, finding["id"], "overturned")
        result["recount"] = recount(
            cur, rules, finding["staff_id"], finding["period"], actor, now, f"申诉成立：{reason}"
        )
    return result


# -- department deductions -----------------------------------------------------------------


def withdraw_deduction(cur, deduction_id: int, payload: dict, actor: dict, now) -> dict:
    reason = domain.check_reason(payload, "reason", "撤销理由")
    deduction = store.deduction(cur, deduction_id, lock=True)
    if deduction is None:
        raise NotFound(f"扣分 {deduction_id} 不存在", "deduction_id")
    if deduction["status"] != "recorded":
        raise Conflict(f"扣分 {deduction_id} 已经撤销")
    row = store.withdraw_deduction(cur, deduction_id, actor["id"], now, reason)
    data = {
        "deduction_id": deduction_id,
        "department": row["department"],
        "year": row["year"],
        "points": row["points"],
        "reason_code": row["reason_code"],
        "reason": reason,
        "case_no": row["case_no"],
        "meeting_id": row["meeting_id"],
        "actor": actor["id"],
        "at": now.isoformat(),
    }
    _decide(
        cur,
        "deduction_withdrawn",
        "deduction_withdrawal",
        data,
        actor,
        now,
        case_no=row["case_no"],
        subject=f"deduction:{deduction_id}",
    )
    return row


# -- reading -------------------------------------------------------------------------------


def staff_record(cur, rules: Rules, staff_id: str) -> dict:
    cases = [
        {**case, "assisted_after_handover": bool(case["helper"] or case["assistance"])}
        for case in store.cases_of(cur, staff_id)
    ]
    findings = store.findings_of(cur, staff_id)
    strikes = rules.ladder.strikes(
        domain.Finding(
            f["id"], f["cause"], f["found_on"], f["status"] == "confirmed" and not f["no_fault"]
        )
        for f in findings
    )
    by_id = {f["id"]: f for f in findings}
    return {
        "staff_id": staff_id,
        "first_received": cases,
        "helped": store.cases_helped(cur, staff_id),
        "findings": findings,
        "strikes": [
            {
                "finding_id": s.finding_id,
                "case_no": by_id[s.finding_id]["case_no"],
                "cause": s.cause,
                "period": s.period,
                "strike_no": s.strike_no,
                "sanctions": list(s.sanctions),
            }
            for s in sorted(strikes.values(), key=lambda s: (s.period, s.cause, s.strike_no))
        ],
        "sanctions": store.sanctions_of(cur, staff_id),
    }


def check_year(value) -> int:
    try:
        year = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidField("year 应为年份，如 2026", "year") from exc
    if not 2000 <= year <= 2100:
        raise InvalidField("year 应为年份，如 2026", "year")
    return year
