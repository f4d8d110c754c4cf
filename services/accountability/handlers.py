"""Accountability's use cases, each in one unit of work (no SQL, no cursor, no nameko).

A use case reads and changes state through ``uow.store``, takes the time from ``uow.now()``,
asks the domain for the rules and records each decision with ``uow.record(...)``: the event,
the timeline entry and the audit entry (the service's ``on_record`` hook) are committed with
the state change or not at all. What each decision says: :mod:`services.accountability.events`.
"""

from datetime import datetime

from services.accountability import chain, domain, events
from services.common import paging
from services.common.errors import Conflict, Forbidden, InvalidField, NotFound

READS_ANY_RECORD = frozenset({"supervisor", "officer", "bureau", "hr"})


def _now(uow, rules: domain.Rules) -> datetime:
    # local time, so that payloads say +08:00 as they always have
    return uow.now().astimezone(rules.timezone)


def _refuse(refusal: str | None) -> None:
    """A Forbidden (403) when a duty rule of the domain refuses the actor."""
    if refusal is not None:
        raise Forbidden(refusal)


def _found(row: dict | None, what: str, field: str) -> dict:
    """``row``, or a NotFound naming ``what`` and the field that pointed to it."""
    if row is None:
        raise NotFound(f"{what} 不存在", field)
    return row


# -- events from intake and coordination ---------------------------------------------------


def _event_time(event: dict, rules: domain.Rules) -> datetime:
    """When a consumed event's fact happened: its ``at``, else when it was announced."""
    return domain.parse_time(event["data"].get("at") or event["occurred_at"], rules.timezone)


def consume(uow, rules: domain.Rules, source: str, event: dict) -> bool:
    """Apply a consumed event once: audit it when it is another service's decision, then act
    on it. False when it was handled before (a redelivery). A batch (``cases_registered``) is
    handled once, in one transaction, as the single events it stands for would be, in its
    order (:func:`events.singles`): the chain's tail is locked and read once, by the
    statement that records the batch's id."""
    with uow.handling_once(event) as work:
        if work is None:
            return False
        for single in events.singles(source, event):
            _apply(work, rules, source, single)
        return True


def _apply(uow, rules: domain.Rules, source: str, event: dict) -> None:
    kind, data = event["type"], event["data"]
    action = events.CONSUMED.get((source, kind))
    if action:
        uow.store.append_audit_entry(**events.consumed_entry(action, event, rules.timezone))
    if kind == "case_registered":
        # noted on the timeline (by the first receiver) only when recorded now, never again
        note = events.first_receiver_text(data["first_receiver"])
        uow.store.record_first_responsibility(data, note)
    elif kind == "case_helper_added":
        at = _event_time(event, rules)
        uow.store.add_helper(data["case_no"], data["staff_id"], data.get("actor"), at)
    elif kind == "case_classified" and data.get("type") == "refused":
        _open_investigation(uow, rules, event)
    elif domain.ends_first_responsibility(kind, data):
        at = _event_time(event, rules)
        uow.store.close_first_responsibility(data["case_no"], at)
    elif kind in domain.DEDUCTION_REASONS:
        _deduct(uow, rules, kind, data, event)
    elif kind == "joint_meeting_minuted":
        for absence in domain.unexcused_absences(data, event["occurred_at"]):
            _deduct(uow, rules, "department_absent", absence, event)


def _open_investigation(uow, rules: domain.Rules, event: dict) -> None:
    data = event["data"]
    opened_at = _event_time(event, rules)
    opened = uow.store.open_investigation(data, opened_at)
    if opened is not None:  # None: this case is under investigation already
        uow.record(events.investigation_opened(opened, data, opened_at))


def _deduct(uow, rules: domain.Rules, kind: str, fact: dict, event: dict) -> None:
    deduction = domain.deduction_for(kind, fact, rules.points, rules.timezone, event["occurred_at"])
    if deduction is None:
        return
    row = uow.store.insert_deduction(deduction, event["id"])
    if row is not None:  # None: this fact was deducted before
        uow.record(events.deduction_recorded(row, event, fact))


# -- investigations, findings and the ladder -----------------------------------------------


def record_finding(
    uow, rules: domain.Rules, investigation_id: int, payload: dict, actor: dict
) -> dict:
    """Record the supervisor's finding, close the investigation and apply the sanctions."""
    _refuse(domain.finding_refusal(actor))
    request = domain.check_finding(payload)
    with uow.begin():
        now = _now(uow, rules)
        if request.staff_id:
            uow.store.lock_staff(request.staff_id)
        investigation = _found(
            uow.store.investigation_for_update(investigation_id),
            f"调查 {investigation_id}",
            "investigation_id",
        )
        if investigation["status"] != "open":
            raise Conflict(f"调查 {investigation_id} 已有结论，不能重复认定")
        found_on = now.date()
        finding = uow.store.insert_finding(
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
            }
        )
        uow.store.close_investigation(investigation_id, now)
        site = investigation["site"]
        uow.record(events.finding_recorded(finding, site, actor, now))
        result = {**finding, "sanctions": [], "improvement_action": None}
        if finding["no_fault"]:
            return result
        rule = rules.sanctions.causes[finding["cause"]]
        if rule.improvement_action:
            action = uow.store.insert_improvement_action(
                finding["id"],
                investigation["department"],
                events.improvement_action_text(finding),
                now,
            )
            uow.record(events.improvement_action_assigned(action, finding, site, actor, now))
            result["improvement_action"] = action
        if rule.counts_strikes:
            changes = _recount(
                uow, rules, finding["staff_id"], finding["period"], actor, now, "调查认定"
            )
            result["sanctions"] = [
                c for c in changes["applied"] if c["finding_id"] == finding["id"]
            ]
            result["recount"] = changes
        return result


def _recount(
    uow, rules: domain.Rules, staff_id: str, period: str, actor: dict, now, why: str
) -> dict:
    """Bring a staff member's sanctions in ``period`` in line with the ladder.

    The caller holds the staff member's lock. Returns what was applied, revoked, renumbered.
    """
    findings = uow.store.findings_in_period(staff_id, period)
    causes = {f["id"]: f["cause"] for f in findings}
    case_of = {f["id"]: f["case_no"] for f in findings}
    strikes = rules.ladder.strikes(domain.counting_finding(f) for f in findings)
    on_record = [
        domain.SanctionOnRecord(s["id"], s["finding_id"], s["kind"], s["strike_no"])
        for s in uow.store.live_sanctions(staff_id, period)
    ]
    plan = domain.plan_sanctions(strikes, on_record)
    changes = {"applied": [], "revoked": [], "renumbered": []}
    for sanction_id in plan.revoke:
        row = uow.store.revoke_sanction(sanction_id, now, why)
        uow.record(events.sanction_revoked(row, case_of[row["finding_id"]], actor, now, why))
        changes["revoked"].append(row)
    for sanction_id, strike_no in plan.renumber:
        uow.store.renumber_sanction(sanction_id, strike_no)
        entry = events.sanction_renumbered(sanction_id, strike_no, why, actor, now)
        uow.store.append_audit_entry(**entry)
        changes["renumbered"].append({"sanction_id": sanction_id, "strike_no": strike_no})
    for finding_id, kind, strike_no in plan.apply:
        values = {
            "finding_id": finding_id,
            "staff_id": staff_id,
            "kind": kind,
            "strike_no": strike_no,
            "period": period,
            "status": domain.initial_status(rules.sanctions, causes[finding_id], kind),
            "applied_at": now,
        }
        row = {**values, **uow.store.insert_sanction(values)}
        uow.record(events.sanction_applied(row, case_of[finding_id], actor, now, why))
        changes["applied"].append(row)
    return changes


def confirm_sanction(uow, rules: domain.Rules, sanction_id: int, actor: dict) -> dict:
    """HR's confirmation of a recommended sanction (dismissal); never by the finding's author."""
    with uow.begin():
        now = _now(uow, rules)
        sanction, finding = _recommended(uow, sanction_id, actor)
        uow.store.confirm_sanction(sanction_id, actor["id"], now)
        uow.record(events.sanction_confirmed(sanction, finding["case_no"], actor, now))
        return uow.store.sanction(sanction_id)


def reject_sanction(uow, rules: domain.Rules, sanction_id: int, payload: dict, actor: dict) -> dict:
    """HR's rejection of a recommended sanction (dismissal), with the reason; the finding and
    its strike stand, the dismissal is not carried out."""
    reason = domain.check_reason(payload, "reason", "驳回理由")
    with uow.begin():
        now = _now(uow, rules)
        sanction, finding = _recommended(uow, sanction_id, actor)
        uow.store.reject_sanction(sanction_id, actor["id"], now, reason)
        uow.record(events.sanction_rejected(sanction, finding["case_no"], reason, actor, now))
        return uow.store.sanction(sanction_id)


def _recommended(uow, sanction_id: int, actor: dict) -> tuple[dict, dict]:
    """The recommended sanction (locked) and its finding, once ``actor`` may decide on it."""
    sanction = _found(
        uow.store.sanction_for_update(sanction_id), f"处理 {sanction_id}", "sanction_id"
    )
    finding = uow.store.finding(sanction["finding_id"])
    _refuse(domain.sanction_decision_refusal(actor, finding))
    if sanction["status"] != "recommended":
        raise Conflict("只有处于建议状态的处理（如辞退建议）需要确认或驳回")
    return sanction, finding


# -- appeals -------------------------------------------------------------------------------


def file_appeal(uow, rules: domain.Rules, finding_id: int, payload: dict, actor: dict) -> dict:
    """The appeal of the staff member found responsible (or a supervisor on their behalf)."""
    reason = domain.check_reason(payload, "reason", "申诉理由")
    with uow.begin():
        now = _now(uow, rules)
        finding = _found(uow.store.finding(finding_id), f"调查结论 {finding_id}", "finding_id")
        if actor["role"] != "supervisor" and actor["id"] != finding["staff_id"]:
            raise Forbidden("只有被认定的工作人员本人或督查人员可以申诉")
        if finding["no_fault"] or finding["status"] != "confirmed":
            raise Conflict("该结论没有可申诉的责任认定")
        appeal = uow.store.insert_appeal(
            {
                "finding_id": finding_id,
                "staff_id": finding["staff_id"],
                "filed_by": actor["id"],
                "reason": reason,
                "filed_at": now,
            }
        )
        if appeal is None:
            raise Conflict(f"调查结论 {finding_id} 已经申诉过")
        uow.record(events.appeal_filed(appeal, finding, actor, now))
        return appeal


def decide_appeal(uow, rules: domain.Rules, appeal_id: int, payload: dict, actor: dict) -> dict:
    """Decide an appeal; an upheld one overturns the finding and recounts the ladder."""
    upheld, reason = domain.check_appeal_decision(payload)
    with uow.begin():
        now = _now(uow, rules)
        appeal = _found(uow.store.appeal(appeal_id), f"申诉 {appeal_id}", "appeal_id")
        # the staff member's lock first, as a finding takes it: recounts never interleave
        uow.store.lock_staff(appeal["staff_id"])
        appeal = uow.store.appeal_for_update(appeal_id)
        _refuse(domain.appeal_decision_refusal(actor, appeal))
        if appeal["status"] != "pending":
            raise Conflict(f"申诉 {appeal_id} 已经作出决定")
        decided = uow.store.decide_appeal(appeal_id, upheld, actor["id"], now, reason)
        finding = uow.store.finding(appeal["finding_id"])
        uow.record(events.appeal_decided(appeal, finding, upheld, reason, actor, now))
        result = {**decided, "recount": None}
        if upheld:
            uow.store.set_finding_status(finding["id"], "overturned")
            why = f"申诉成立：{reason}"
            result["recount"] = _recount(
                uow, rules, finding["staff_id"], finding["period"], actor, now, why
            )
        return result


# -- department deductions -----------------------------------------------------------------


def withdraw_deduction(
    uow, rules: domain.Rules, deduction_id: int, payload: dict, actor: dict
) -> dict:
    """Withdraw a department deduction, with the reason why it should not stand."""
    _refuse(domain.deduction_withdrawal_refusal(actor))
    reason = domain.check_reason(payload, "reason", "撤销理由")
    with uow.begin():
        now = _now(uow, rules)
        deduction = _found(
            uow.store.deduction_for_update(deduction_id), f"扣分 {deduction_id}", "deduction_id"
        )
        if deduction["status"] != "recorded":
            raise Conflict(f"扣分 {deduction_id} 已经撤销")
        row = uow.store.withdraw_deduction(deduction_id, actor["id"], now, reason)
        uow.record(events.deduction_withdrawn(row, reason, actor, now))
        return row


# -- reading -------------------------------------------------------------------------------


def case_timeline(uow, case_no: str) -> list[dict]:
    with uow.begin():
        return uow.store.timeline_of(case_no)


def staff_record(uow, rules: domain.Rules, staff_id: str, actor: dict | None = None) -> dict:
    """A staff member's record: cases first received (and whether they kept assisting after
    the hand-over), cases helped, findings, strikes and sanctions. Window staff read only
    their own."""
    if actor is not None and actor["role"] not in READS_ANY_RECORD and actor["id"] != staff_id:
        raise Forbidden("窗口工作人员只能查看本人的记录")
    with uow.begin():
        cases = uow.store.cases_of(staff_id)
        helped = uow.store.cases_helped(staff_id)
        findings = uow.store.findings_of(staff_id)
        sanctions = uow.store.sanctions_of(staff_id)
    strikes = rules.ladder.strikes(domain.counting_finding(f) for f in findings)
    case_of = {f["id"]: f["case_no"] for f in findings}
    return {
        "staff_id": staff_id,
        "first_received": [
            {**case, "assisted_after_handover": bool(case["helper"] or case["assistance"])}
            for case in cases
        ],
        "helped": helped,
        "findings": findings,
        "strikes": [
            {
                "finding_id": s.finding_id,
                "case_no": case_of[s.finding_id],
                "cause": s.cause,
                "period": s.period,
                "strike_no": s.strike_no,
                "sanctions": list(s.sanctions),
            }
            for s in sorted(strikes.values(), key=lambda s: (s.period, s.cause, s.strike_no))
        ],
        "sanctions": sanctions,
    }


def investigations(uow, status=None, limit=None, cursor=None) -> dict:
    """Investigations, newest first, open or closed or both, each with its finding."""
    if status not in (None, "", "open", "closed"):
        raise InvalidField("status 应为 open 或 closed", "status")
    size, after = paging.limit_from(limit), paging.keyset_after(cursor)
    with uow.begin():
        items = uow.store.investigations(status or None, size, after)
    return paging.page(items, size, "id")


def audit_entries(uow, case_no=None, limit=None, cursor=None) -> dict:
    """The audit trail in chain order, of one case or all."""
    size, after = paging.limit_from(limit), paging.keyset_after(cursor)
    with uow.begin():
        rows = uow.store.audit_entries(case_no or None, size, after)
    return paging.page([chain.audit_view(row) for row in rows], size, "seq")


def checkpoint_audit_trail(uow, trail) -> dict | None:
    """Checkpoint the audit chain's committed head outside the database when the trail's
    policy says one is due; returns the checkpoint written, or None."""
    with uow.begin():
        head = uow.store.audit_head()
    return trail.checkpoint(head)


def department_scores(uow, rules: domain.Rules, year, departments: list[dict]) -> dict:
    """Each department's assessment score in ``year``: the base less its standing deductions."""
    year = check_year(year)
    with uow.begin():
        deductions = uow.store.deductions(year)
    base = rules.points.base_score
    return {
        "year": year,
        "base_score": base,
        "points": dict(rules.points.points),
        "items": domain.department_scores(departments, deductions, base),
    }


def check_year(value) -> int:
    try:
        year = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidField("year 应为年份，如 2026", "year") from exc
    if not 2000 <= year <= 2100:
        raise InvalidField("year 应为年份，如 2026", "year")
    return year
