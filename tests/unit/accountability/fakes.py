"""An in-memory accountability store: ``services.accountability.store``'s functions without the
cursor, keeping the promises its SQL keeps (unique keys, ``ON CONFLICT DO NOTHING``, orders)."""

import itertools

from services.accountability import chain, domain, events
from services.common.decisions import Decision
from tests.unit import fakes


class FakeStore:
    def __init__(self):
        self._ids = itertools.count(1)
        self.first_responsibility: dict[str, dict] = {}
        self.helpers: dict[tuple[str, str], dict] = {}
        self.investigations_by_id: dict[int, dict] = {}
        self.findings: dict[int, dict] = {}
        self.sanctions: dict[int, dict] = {}
        self.improvement_actions: dict[int, dict] = {}
        self.appeals: dict[int, dict] = {}
        self.deductions_by_key: dict[str, dict] = {}
        self.audit: list[dict] = []
        self.timeline: dict[str, list[dict]] = {}
        self.locked_staff: list[str] = []

    def _id(self) -> int:
        return next(self._ids)

    # -- first responsibility and helpers --------------------------------------------------

    def record_first_responsibility(self, data: dict, note: str) -> None:
        if data["case_no"] in self.first_responsibility:
            return
        self.first_responsibility[data["case_no"]] = {
            "case_no": data["case_no"],
            "site": data.get("site"),
            "first_receiver": data.get("first_receiver"),
            "first_asked_by": data.get("first_asked_by"),
            "received_at": data.get("received_at"),
            "closed_at": None,
        }
        # its timeline note, in the same statement
        self.timeline.setdefault(data["case_no"], []).append(
            {"actor": data.get("first_receiver"), "kind": "first_receiver", "text": note}
        )

    def close_first_responsibility(self, case_no: str, at) -> None:
        row = self.first_responsibility.get(case_no)
        if row and row["closed_at"] is None:
            row["closed_at"] = at

    def add_helper(self, case_no, staff_id, added_by, added_at) -> bool:
        if (case_no, staff_id) in self.helpers:
            return False
        self.helpers[(case_no, staff_id)] = {
            "case_no": case_no,
            "added_by": added_by,
            "added_at": added_at,
        }
        return True

    def cases_of(self, staff_id: str) -> list[dict]:
        rows = []
        for row in self.first_responsibility.values():
            if staff_id not in (row["first_receiver"], row["first_asked_by"]):
                continue
            assistance = [
                {"at": e["at"], "action": e["action"]}
                for e in self.audit
                if e["case_no"] == row["case_no"]
                and e["actor"] == staff_id
                and e["action"] != "registration"
            ]
            rows.append(
                {
                    **row,
                    "first_received": row["first_receiver"] == staff_id,
                    "helper": (row["case_no"], staff_id) in self.helpers,
                    "assistance": assistance,
                }
            )
        return rows

    def cases_helped(self, staff_id: str) -> list[dict]:
        return [h for (_, staff), h in self.helpers.items() if staff == staff_id]

    # -- investigations and findings -------------------------------------------------------

    def open_investigation(self, data: dict, opened_at) -> dict | None:
        if any(i["case_no"] == data["case_no"] for i in self.investigations_by_id.values()):
            return None
        row = {
            "id": self._id(),
            "case_no": data["case_no"],
            "site": data.get("site"),
            "department": data.get("department"),
            "matter": data.get("matter"),
            "first_receiver": data.get("first_receiver"),
            "reason": data.get("reason"),
            "classified_by": data.get("actor"),
            "opened_at": opened_at,
            "status": "open",
            "closed_at": None,
        }
        self.investigations_by_id[row["id"]] = row
        return {k: row[k] for k in ("id", "case_no", "site", "opened_at")}

    def investigations(self, status, limit: int, after) -> list[dict]:
        found = [
            {**i, "finding": self._finding_of(i["id"])}
            for i in sorted(self.investigations_by_id.values(), key=lambda i: -i["id"])
            if status in (None, i["status"]) and (after is None or i["id"] < after)
        ]
        return found[:limit]

    def _finding_of(self, investigation_id):
        return next(
            (f for f in self.findings.values() if f["investigation_id"] == investigation_id),
            None,
        )

    def investigation_for_update(self, investigation_id: int) -> dict | None:
        row = self.investigations_by_id.get(investigation_id)
        return dict(row) if row else None

    def close_investigation(self, investigation_id: int, at) -> None:
        self.investigations_by_id[investigation_id].update(status="closed", closed_at=at)

    def insert_finding(self, values: dict) -> dict:
        assert values["no_fault"] or (values["staff_id"] and values["cause"])  # the table's CHECK
        assert self._finding_of(values["investigation_id"]) is None  # UNIQUE (investigation_id)
        row = {"id": self._id(), **values, "status": "confirmed"}
        self.findings[row["id"]] = row
        return dict(row)

    def finding(self, finding_id: int) -> dict | None:
        row = self.findings.get(finding_id)
        return dict(row) if row else None

    def set_finding_status(self, finding_id: int, status: str) -> None:
        self.findings[finding_id]["status"] = status

    def findings_in_period(self, staff_id: str, period: str) -> list[dict]:
        return sorted(
            (
                dict(f)
                for f in self.findings.values()
                if f["staff_id"] == staff_id and f["period"] == period
            ),
            key=lambda f: (f["found_on"], f["id"]),
        )

    def findings_of(self, staff_id: str) -> list[dict]:
        found = [
            {
                **f,
                "appeal": next(
                    (a for a in self.appeals.values() if a["finding_id"] == f["id"]), None
                ),
            }
            for f in self.findings.values()
            if f["staff_id"] == staff_id
        ]
        return sorted(found, key=lambda f: (f["found_on"], f["id"]), reverse=True)

    def lock_staff(self, staff_id: str) -> None:
        self.locked_staff.append(staff_id)

    # -- sanctions and improvement actions -------------------------------------------------

    def live_sanctions(self, staff_id: str, period: str) -> list[dict]:
        return [
            dict(s)
            for s in sorted(self.sanctions.values(), key=lambda s: s["id"])
            if s["staff_id"] == staff_id and s["period"] == period and s["status"] != "revoked"
        ]

    def insert_sanction(self, values: dict) -> dict:
        live = {
            (s["finding_id"], s["kind"])
            for s in self.sanctions.values()
            if s["status"] != "revoked"
        }
        assert (values["finding_id"], values["kind"]) not in live  # the sanctions_live index
        row = {
            "id": self._id(),
            **values,
            "confirmed_by": None,
            "confirmed_at": None,
            "revoked_at": None,
            "revoke_reason": None,
            "rejected_by": None,
            "rejected_at": None,
            "reject_reason": None,
        }
        self.sanctions[row["id"]] = row
        return {"id": row["id"]}

    def revoke_sanction(self, sanction_id: int, at, reason: str) -> dict:
        self.sanctions[sanction_id].update(status="revoked", revoked_at=at, revoke_reason=reason)
        return dict(self.sanctions[sanction_id])

    def renumber_sanction(self, sanction_id: int, strike_no: int) -> None:
        self.sanctions[sanction_id]["strike_no"] = strike_no

    def sanction(self, sanction_id: int) -> dict | None:
        row = self.sanctions.get(sanction_id)
        return dict(row) if row else None

    sanction_for_update = sanction

    def confirm_sanction(self, sanction_id: int, actor: str, at) -> None:
        self.sanctions[sanction_id].update(status="confirmed", confirmed_by=actor, confirmed_at=at)

    def reject_sanction(self, sanction_id: int, actor: str, at, reason: str) -> None:
        self.sanctions[sanction_id].update(
            status="rejected", rejected_by=actor, rejected_at=at, reject_reason=reason
        )

    def sanctions_of(self, staff_id: str) -> list[dict]:
        return [
            {
                **s,
                "case_no": self.findings[s["finding_id"]]["case_no"],
                "cause": self.findings[s["finding_id"]]["cause"],
            }
            for s in sorted(self.sanctions.values(), key=lambda s: -s["id"])
            if s["staff_id"] == staff_id
        ]

    def insert_improvement_action(self, finding_id: int, department, action: str, at) -> dict:
        row = {"id": self._id(), "department": department, "action": action}
        self.improvement_actions[row["id"]] = {**row, "finding_id": finding_id, "created_at": at}
        return row

    # -- appeals ---------------------------------------------------------------------------

    def insert_appeal(self, values: dict) -> dict | None:
        if any(a["finding_id"] == values["finding_id"] for a in self.appeals.values()):
            return None
        row = {
            "id": self._id(),
            **values,
            "status": "pending",
            "decided_by": None,
            "decided_at": None,
            "decision_reason": None,
        }
        self.appeals[row["id"]] = row
        return dict(row)

    def appeal(self, appeal_id: int) -> dict | None:
        row = self.appeals.get(appeal_id)
        return dict(row) if row else None

    appeal_for_update = appeal

    def decide_appeal(self, appeal_id: int, upheld: bool, actor: str, at, reason: str) -> dict:
        self.appeals[appeal_id].update(
            status="upheld" if upheld else "rejected",
            decided_by=actor,
            decided_at=at,
            decision_reason=reason,
        )
        return dict(self.appeals[appeal_id])

    # -- department deductions -------------------------------------------------------------

    def insert_deduction(self, deduction: domain.Deduction, source_event_id: str) -> dict | None:
        if deduction.natural_key in self.deductions_by_key:
            return None
        row = {
            "id": self._id(),
            "department": deduction.department,
            "year": deduction.year,
            "points": deduction.points,
            "reason_code": deduction.reason_code,
            "reason": deduction.reason,
            "case_no": deduction.case_no,
            "meeting_id": deduction.meeting_id,
            "deadline_id": deduction.deadline_id,
            "at": deduction.at,
            "status": "recorded",
            "withdrawn_by": None,
            "withdrawn_at": None,
            "withdrawal_reason": None,
            "source_event_id": source_event_id,
        }
        self.deductions_by_key[deduction.natural_key] = row
        return dict(row)

    def deductions(self, year: int) -> list[dict]:
        return sorted(
            (dict(d) for d in self.deductions_by_key.values() if d["year"] == year),
            key=lambda d: (d["department"], d["at"], d["id"]),
        )

    def deduction_for_update(self, deduction_id: int) -> dict | None:
        row = next((d for d in self.deductions_by_key.values() if d["id"] == deduction_id), None)
        return dict(row) if row else None

    def withdraw_deduction(self, deduction_id: int, actor: str, at, reason: str) -> dict:
        row = next(d for d in self.deductions_by_key.values() if d["id"] == deduction_id)
        row.update(
            status="withdrawn", withdrawn_by=actor, withdrawn_at=at, withdrawal_reason=reason
        )
        return dict(row)

    # -- the audit trail and the timeline --------------------------------------------------

    def append_audit_entry(self, **entry) -> int:
        seq = len(self.audit) + 1
        self.audit.append({"seq": seq, "case_no": None, "subject": None, **entry})
        return seq

    def audit_entries(self, case_no, limit: int, after) -> list[dict]:
        rows = [
            {**e, "content": chain.canonical_json(e["content"])}
            for e in self.audit
            if case_no in (None, e["case_no"]) and (after is None or e["seq"] > after)
        ]
        return rows[:limit]

    def audit_head(self) -> dict:
        last = self.audit[-1] if self.audit else None
        return {
            "database": "fake/1",
            "seq": last["seq"] if last else 0,
            "hash": f"mac-{last['seq']}" if last else None,
        }

    def timeline_of(self, case_no: str) -> list[dict]:
        return list(self.timeline.get(case_no, []))


class FakeUnitOfWork(fakes.FakeUnitOfWork):
    """The in-memory unit of work with accountability's ``on_record`` hook: a recorded
    decision's audit entry lands in the fake store's trail, as ``audit.record_decision_entry``
    writes it beside the event (and is rolled back with the store when the block fails)."""

    def record(self, decision: Decision) -> dict:
        event = super().record(decision)
        entry = events.audit_entry(decision, event)
        if entry is not None:
            self.store.append_audit_entry(**entry)
        return event
