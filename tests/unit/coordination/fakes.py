"""An in-memory coordination store: the functions of ``services.coordination.store`` that the
use cases call, minus the cursor, on plain dicts (for FakeUnitOfWork), and fixed rules.

Rows have the columns the real statements return. Stored JSON (an explanation, a reply, a
resolution, minutes) goes through ``json`` as it does through PostgreSQL's jsonb, so a value
the database could not store fails here too.
"""

import copy
import json
from dataclasses import dataclass
from datetime import datetime

from services.common.workdays import WorkingCalendar
from services.coordination.policies import DEFAULT_FILE, Policies, load_policies


@dataclass
class FixedRules:
    """The calendar and the policies, as ``services.coordination.clock.Rules`` gives them."""

    calendar: WorkingCalendar
    policies: Policies


def default_rules() -> FixedRules:
    """The package's calendar (up to 2026) and the reference district's policy file."""
    return FixedRules(WorkingCalendar(), load_policies(DEFAULT_FILE))


def _json(value):
    return None if value is None else json.loads(json.dumps(value))


def _time(value):
    # the database parses the ISO 8601 text of an event into a timestamptz
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class FakeCoordinationStore:
    def __init__(self):
        self.cases: dict[str, dict] = {}
        self.measure_rows: dict[int, dict] = {}
        self.meeting_rows: dict[int, dict] = {}
        self.deadline_rows: dict[int, dict] = {}
        self.practice_rows: dict[int, dict] = {}
        self.bad_rating_rows: dict[str, dict] = {}
        self.refusal_rows: dict[int, dict] = {}
        self.timeline: dict[str, list[dict]] = {}
        self.last_id = 0

    def _id(self) -> int:
        self.last_id += 1
        return self.last_id

    # -- cases -------------------------------------------------------------------------------

    def open_case(self, data: dict, note) -> None:
        if data["case_no"] in self.cases:
            return
        self.timeline.setdefault(data["case_no"], []).append(
            {"actor": None, "kind": note.kind, "text": note.text, "data": note.data or {}}
        )
        self.cases[data["case_no"]] = {
            "case_no": data["case_no"],
            "site": data["site"],
            "window": data.get("window"),
            "matter": data["matter"],
            "department": data["department"],
            "channel": data["channel"],
            "received_at": _time(data["received_at"]),
            "first_receiver": data.get("first_receiver"),
            "state": "registered",
            "type": None,
            "complex": False,
            "requires_return_visit": bool(data.get("requires_return_visit", False)),
            "return_visit_at": None,
            "classified_at": None,
            "classified_by": None,
            "classification_reason": None,
            "explanation": None,
            "reply": None,
            "resolution": None,
        }
        if data["channel"] == "rating":
            self.bad_rating_rows[data["case_no"]] = {
                "case_no": data["case_no"],
                "rating_level": data.get("rating_level"),
                "rated_staff": data.get("rated_staff"),
                **dict.fromkeys(
                    (
                        "verification",
                        "appeal",
                        "rectification",
                        "answer",
                        "re_rating",
                        "deadline_id",
                    )
                ),
            }

    # -- the 差评 loop ------------------------------------------------------------------------

    def bad_rating(self, case_no: str) -> dict | None:
        return copy.deepcopy(self.bad_rating_rows.get(case_no))

    bad_rating_for_update = bad_rating

    def save_bad_rating_step(self, case_no: str, step: str, record: dict) -> None:
        assert step in ("verification", "appeal", "rectification", "answer", "re_rating")
        self.bad_rating_rows[case_no][step] = _json(record)

    def set_bad_rating_deadline(self, case_no: str, deadline_id: int) -> None:
        self.bad_rating_rows[case_no]["deadline_id"] = deadline_id

    def record_return_visit(self, case_no: str, at) -> bool:
        if case_no not in self.cases:
            return False
        self.cases[case_no]["return_visit_at"] = _time(at)
        return True

    def case(self, case_no: str) -> dict | None:
        return copy.deepcopy(self.cases.get(case_no))

    def case_for_update(self, case_no: str) -> dict | None:
        case = self.case(case_no)
        if case is None:
            return None
        case["measures"] = sum(1 for m in self.measure_rows.values() if m["case_no"] == case_no)
        case["minuted"] = any(
            case_no in m["case_nos"] and m["minutes"] is not None
            for m in self.meeting_rows.values()
        )
        return case

    def cases_for_update(self, case_nos: list[str]) -> list[dict]:
        return [self.case(no) for no in sorted(set(case_nos)) if no in self.cases]

    def set_state(self, case_no: str, state: str, at) -> None:
        self.cases[case_no]["state"] = state

    def classify(self, case_no: str, classification: dict, actor: str, at) -> None:
        self.cases[case_no].update(
            type=classification["type"],
            complex=classification["complex"],
            classification_reason=classification["reason"],
            classified_by=actor,
            classified_at=at,
        )

    def set_complex(self, case_no: str) -> None:
        self.cases[case_no]["complex"] = True

    def save_explanation(self, case_no: str, explanation: dict) -> None:
        self.cases[case_no]["explanation"] = _json(explanation)

    def save_reply(self, case_no: str, reply: dict | None) -> None:
        self.cases[case_no]["reply"] = _json(reply)

    def save_resolution(self, case_no: str, resolution: dict | None) -> None:
        self.cases[case_no]["resolution"] = _json(resolution)

    # -- `cannot` answers (否定答复) --------------------------------------------------------

    def _refusal_view(self, row: dict) -> dict:
        case = self.cases[row["case_no"]]
        return {
            **copy.deepcopy(row),
            "reason": case["classification_reason"],
            "state": case["state"],
        }

    def add_refusal(self, case: dict, explanation: dict, actor: str, at) -> dict:
        number = self._id()
        self.refusal_rows[number] = {
            "id": number,
            "case_no": case["case_no"],
            "site": case["site"],
            "matter": case["matter"],
            "department": case["department"],
            "legal_basis": explanation["legal_basis"],
            "explanation": explanation["explanation"],
            "missing_key_materials": _json(explanation["missing_key_materials"]),
            "explained_by": actor,
            "explained_at": at,
            "review_result": None,
            "review_reason": None,
            "reviewed_by": None,
            "reviewed_at": None,
        }
        return {"id": number}

    def latest_refusal_for_update(self, case_no: str) -> dict | None:
        rows = [row for row in self.refusal_rows.values() if row["case_no"] == case_no]
        return copy.deepcopy(max(rows, key=lambda row: row["id"])) if rows else None

    def save_refusal_review(self, refusal_id: int, review: dict, actor: str, at) -> None:
        self.refusal_rows[refusal_id].update(
            review_result=review["result"],
            review_reason=review["reason"],
            reviewed_by=actor,
            reviewed_at=at,
        )

    def refusals(self, *, site=None, department=None, limit=50, cursor=None) -> list[dict]:
        latest: dict[str, dict] = {}
        for row in sorted(self.refusal_rows.values(), key=lambda row: row["id"]):
            latest[row["case_no"]] = row
        rows = [
            self._refusal_view(row)
            for row in latest.values()
            if site in (None, row["site"])
            and department in (None, row["department"])
            and (cursor is None or row["case_no"] < cursor)
        ]
        return sorted(rows, key=lambda row: row["case_no"], reverse=True)[:limit]

    def refusals_given(self, start, end, *, site=None, department=None, limit: int) -> list[dict]:
        rows = [
            self._refusal_view(row)
            for row in self.refusal_rows.values()
            if start <= row["explained_at"] < end
            and site in (None, row["site"])
            and department in (None, row["department"])
        ]
        return sorted(rows, key=lambda row: (row["explained_at"], row["id"]))[:limit]

    # -- measures ----------------------------------------------------------------------------

    def add_measure(self, case_no: str, measure: dict, actor: str) -> dict:
        number = self._id()
        self.measure_rows[number] = {
            "id": number,
            "case_no": case_no,
            "measure": measure["measure"],
            "departments": list(measure["departments"]),
            "details": measure["details"],
            "materials": _json(measure["materials"]),
            "due": measure["due"],
            "actor": actor,
            "created_at": None,
            "responses": [],
        }
        return {"id": number, "created_at": None}

    def measure_for_update(self, measure_id: int) -> dict | None:
        row = self.measure_rows.get(measure_id)
        if row is None:
            return None
        return {key: copy.deepcopy(row[key]) for key in ("id", "case_no", "measure", "departments")}

    def add_measure_response(self, measure_id: int, response: dict, actor: str) -> dict:
        entry = {**response, "actor": actor, "at": None}
        self.measure_rows[measure_id]["responses"].append(entry)
        return {"id": self._id(), "at": None}

    def measures(self, case_no: str) -> list[dict]:
        rows = [m for m in self.measure_rows.values() if m["case_no"] == case_no]
        return copy.deepcopy(sorted(rows, key=lambda m: m["id"]))

    # -- joint meetings ----------------------------------------------------------------------

    def add_meeting(self, meeting: dict, actor: str) -> dict:
        number = self._id()
        self.meeting_rows[number] = {
            "id": number,
            "case_nos": list(meeting["case_nos"]),
            "departments": list(meeting["departments"]),
            "scheduled_at": meeting["scheduled_at"],
            "complex": meeting["complex"],
            "reply_due_at": None,
            "convened_by": actor,
            "convened_at": None,
            "minutes": None,
            "minuted_by": None,
            "minuted_at": None,
        }
        return copy.deepcopy(self.meeting_rows[number])

    def set_meeting_reply_due(self, meeting_id: int, due_at) -> None:
        self.meeting_rows[meeting_id]["reply_due_at"] = due_at

    def meeting(self, meeting_id: int) -> dict | None:
        return copy.deepcopy(self.meeting_rows.get(meeting_id))

    def meeting_for_update(self, meeting_id: int) -> dict | None:
        return self.meeting(meeting_id)

    def save_minutes(self, meeting_id: int, minutes: dict, actor: str, at) -> None:
        self.meeting_rows[meeting_id].update(
            minutes=_json(minutes), minuted_by=actor, minuted_at=at
        )

    def meetings(
        self, *, case_no=None, minuted=None, site=None, limit=50, cursor=None
    ) -> list[dict]:
        rows = [
            m
            for m in self.meeting_rows.values()
            if (case_no is None or case_no in m["case_nos"])
            and (site is None or site in self.sites_of_cases(m["case_nos"]))
            and (minuted is None or (m["minutes"] is not None) == minuted)
            and (cursor is None or m["id"] < int(cursor))
        ]
        return copy.deepcopy(sorted(rows, key=lambda m: m["id"], reverse=True)[:limit])

    def sites_of_cases(self, case_nos) -> set[str]:
        return {self.cases[no]["site"] for no in case_nos if no in self.cases}

    # -- deadlines ---------------------------------------------------------------------------

    def add_deadline(self, deadline: dict) -> dict:
        number = self._id()
        self.deadline_rows[number] = {
            "stage": None,
            "start_event": None,
            "working_days": None,
            "counting_from": None,
            "days_to_count": None,
            "warning_share": None,
            "meeting_id": None,
            "task": None,
            "pause_events": [],
            "unknown_years": [],
            **copy.deepcopy(deadline),
            "id": number,
            "paused_at": None,
            "pause_reason": None,
            "paused_by": None,
            "warned_at": None,
            "breached_at": None,
            "met_at": None,
            "created_at": None,
        }
        return copy.deepcopy(self.deadline_rows[number])

    def _deadlines(self, keep, key=lambda d: d["id"]) -> list[dict]:
        return copy.deepcopy(sorted((d for d in self.deadline_rows.values() if keep(d)), key=key))

    def open_deadlines_for_update(self, case_no: str, *, stage: str | None = None) -> list[dict]:
        return self._deadlines(
            lambda d: (
                d["case_no"] == case_no and d["met_at"] is None and stage in (None, d["stage"])
            ),
            key=lambda d: d["due_at"],
        )

    def meet_deadlines(self, case_no: str, at, *, stage: str | None = None) -> list[dict]:
        met = self._deadlines(
            lambda d: (
                d["case_no"] == case_no
                and d["met_at"] is None
                and d["kind"] != "assignment"
                and (d["stage"] == stage or (stage is None and d["stage"] != "rectification"))
            )
        )
        for deadline in met:
            self.deadline_rows[deadline["id"]]["met_at"] = deadline["met_at"] = at
        return met

    def meet_assignment(self, meeting_id: int, deadline_id: int, at) -> dict | None:
        row = self.deadline_rows.get(deadline_id)
        if row is None or row["meeting_id"] != meeting_id or row["kind"] != "assignment":
            return None
        if row["met_at"] is not None:
            return None
        row["met_at"] = at
        return copy.deepcopy(row)

    def deadline_for_update(self, case_no: str, deadline_id: int) -> dict | None:
        row = self.deadline_rows.get(deadline_id)
        return copy.deepcopy(row) if row and row["case_no"] == case_no else None

    def pause_deadline(self, deadline_id: int, at, reason: str, paused_by: str) -> None:
        self.deadline_rows[deadline_id].update(
            paused_at=at, pause_reason=reason, paused_by=paused_by
        )

    def replan_deadline(self, deadline_id: int, plan, *, resume: bool = False) -> dict:
        row = self.deadline_rows[deadline_id]
        if row["warn_at"] != plan.warn_at:
            row["warned_at"] = None
        row.update(
            counting_from=plan.counting_from,
            days_to_count=plan.days,
            due_at=plan.due_at,
            warn_at=plan.warn_at,
            provisional=plan.provisional,
            unknown_years=list(plan.unknown_years),
        )
        if resume:
            row.update(paused_at=None, pause_reason=None, paused_by=None)
        return copy.deepcopy(row)

    def set_working_days(self, deadline_id: int, days: int) -> None:
        self.deadline_rows[deadline_id]["working_days"] = days

    def case_deadlines(self, case_no: str) -> list[dict]:
        return self._deadlines(lambda d: d["case_no"] == case_no)

    def deadlines_of_cases(self, case_nos: list[str]) -> list[dict]:
        return self._deadlines(
            lambda d: d["case_no"] in case_nos, key=lambda d: (d["case_no"], d["id"])
        )

    def breach_due(self, now, limit: int) -> list[dict]:
        due = self._deadlines(
            lambda d: (
                d["breached_at"] is None
                and d["met_at"] is None
                and d["paused_at"] is None
                and d["due_at"] < now
            ),
            key=lambda d: d["due_at"],
        )[:limit]
        for deadline in due:
            self.deadline_rows[deadline["id"]]["breached_at"] = deadline["breached_at"] = now
        return due

    def warn_due(self, now, limit: int) -> list[dict]:
        due = self._deadlines(
            lambda d: (
                d["warned_at"] is None
                and d["breached_at"] is None
                and d["met_at"] is None
                and d["paused_at"] is None
                and d["warn_at"] <= now <= d["due_at"]
            ),
            key=lambda d: d["warn_at"],
        )[:limit]
        for deadline in due:
            self.deadline_rows[deadline["id"]]["warned_at"] = deadline["warned_at"] = now
        return due

    def _provisional(self, deadline: dict) -> bool:
        return (
            deadline["provisional"] and deadline["breached_at"] is None and not deadline["met_at"]
        )

    def provisional_deadlines_for_update(self, limit: int = 1000) -> list[dict]:
        return self._deadlines(self._provisional)[:limit]

    def count_provisional(self) -> int:
        return sum(1 for d in self.deadline_rows.values() if self._provisional(d))

    # -- practices and the timeline ----------------------------------------------------------

    def add_practice(self, practice: dict, actor: str) -> dict:
        number = self._id()
        self.practice_rows[number] = {
            "id": number,
            "matter": practice["matter"],
            "windows": list(practice["windows"]),
            "title": practice["title"],
            "description": practice["description"],
            "case_no": practice["case_no"],
            "created_by": actor,
            "created_at": None,
        }
        return copy.deepcopy(self.practice_rows[number])

    def practices(self, *, matter=None, window=None, limit=50, cursor=None) -> list[dict]:
        rows = [
            p
            for p in self.practice_rows.values()
            if matter in (None, p["matter"])
            and (window is None or window in p["windows"])
            and (cursor is None or p["id"] < int(cursor))
        ]
        return copy.deepcopy(sorted(rows, key=lambda p: p["id"], reverse=True)[:limit])

    def case_timeline(self, case_no: str) -> list[dict]:
        return copy.deepcopy(self.timeline.get(case_no, []))


def registration(case_no: str = "XW-20260930-00001-HALL", **overrides) -> dict:
    """An intake ``case_registered`` event's data (docs/events.md)."""
    return {
        "case_no": case_no,
        "site": "HALL",
        "window": "W01",
        "matter": "M001",
        "department": "SCJ",
        "channel": "window",
        "applicant_kind": "person",
        "id_number_masked": "110105********002X",
        "first_receiver": "S0001",
        "first_asked_by": "S0001",
        "received_at": "2026-09-30T09:00:00+08:00",
        "registered_by": "S0001",
        "repeat_of": None,
        "requires_return_visit": False,
        **overrides,
    }
