"""Coordination: classification, each type's flow, deadlines and joint meetings (entrypoints).

Every state change, its timeline entry and its event are written in one transaction; the
rules themselves live in ``domain.py`` and the SQL in ``store.py``.
"""

import logging
import os
from datetime import UTC, datetime

from nameko.timer import timer

from services.common import timeline
from services.common.consumer import consumes
from services.common.errors import BanchengError, Conflict, Forbidden, InvalidField, NotFound
from services.common.events import new_event
from services.common.outbox import OutboxRelay, add_event
from services.common.postgres import DatabaseProvider
from services.common.rpc import ServiceRpc, rpc
from services.common.web import EntrypointMetrics, Observable
from services.coordination import domain, handover, store
from services.coordination.clock import (
    DEADLINE_EVENTS,
    DEADLINE_SCAN_SECONDS,
    PROVISIONAL_COMPUTED,
    PROVISIONAL_DEADLINES,
    Calendar,
    DeadlinePolicies,
)

log = logging.getLogger(__name__)

SCHEMA = "coordination"
# How often the clock looks for warnings and breaches, and for new calendar year files.
SCAN_SECONDS = float(os.environ.get("DEADLINE_SCAN_SECONDS", "2"))
CALENDAR_CHECK_SECONDS = float(os.environ.get("CALENDAR_CHECK_SECONDS", "30"))
# Fetching a hand-over from intake stays well inside the caller's own RPC deadline.
HANDOVER_TIMEOUT_SECONDS = float(os.environ.get("HANDOVER_TIMEOUT_SECONDS", "2"))
SCAN_BATCH = 500
DEFERRED_PREFIX = "measure:"


def _now() -> datetime:
    return datetime.now(UTC)


def _limit(filters: dict) -> int:
    try:
        return max(1, min(200, int(filters.get("limit") or 50)))
    except (TypeError, ValueError):
        raise InvalidField("limit 应为 1 到 200 的整数", "limit") from None


class CoordinationService(Observable):
    name = "coordination"

    db = DatabaseProvider(relay=OutboxRelay(SCHEMA))
    calendar = Calendar()
    policies = DeadlinePolicies()
    entrypoint_metrics = EntrypointMetrics()
    intake = ServiceRpc("intake", timeout=HANDOVER_TIMEOUT_SECONDS)  # see handover.py

    # -- events from intake ---------------------------------------------------------------

    @consumes("intake", "case_registered")
    def on_case_registered(self, event: dict) -> bool:
        return handover.open_case(self.db, event)

    @consumes("intake", "return_visit_recorded")
    @handover.reads_own_writes  # a return visit recorded right after the registration
    def on_return_visit_recorded(self, event: dict) -> bool:
        with self.db.handling_once(SCHEMA, event) as cur:
            if cur is None:
                return False
            data = event["data"]
            if not store.record_return_visit(cur, data["case_no"], data["at"]):
                raise handover.NotHandedOver(data["case_no"])
            timeline.add_entry(
                cur, SCHEMA, data["case_no"], data.get("actor"), "return_visit", "已回访，可关闭"
            )
            return True

    # -- the case's flow ------------------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def classify_case(self, case_no: str, payload: dict, actor: dict) -> dict:
        if actor.get("role") != "officer":
            raise Forbidden("只有办不成事反映窗口的工作人员可以分类")
        now = _now()
        with self.db.transaction() as cur:
            case = self._case(cur, case_no)
            classification = domain.check_classification(payload)
            self._transition(cur, case, "classify", actor, classification["reason"], now)
            store.classify(cur, case_no, classification, actor["id"], now)
            case = {**case, **classification}
            self._emit(
                cur,
                "case_classified",
                {
                    "case_no": case_no,
                    "type": classification["type"],
                    "complex": classification["complex"],
                    "reason": classification["reason"],
                    "actor": actor["id"],
                    "at": now.isoformat(),
                    "site": case["site"],
                    "department": case["department"],
                    "matter": case["matter"],
                    "first_receiver": case["first_receiver"],
                },
                case["site"],
            )
            label = domain.TYPE_LABELS[classification["type"]]
            timeline.add_entry(
                cur,
                SCHEMA,
                case_no,
                actor["id"],
                "classified",
                f"分类为“{label}”{'（特别复杂）' if classification['complex'] else ''}："
                f"{classification['reason']}",
                classification,
            )
            self._start_deadlines(cur, case, "case_registered", case["received_at"])
            self._start_deadlines(cur, case, "case_classified", now)
            return self._summary(cur, case_no)

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def explain(self, case_no: str, payload: dict, actor: dict) -> dict:
        now = _now()
        with self.db.transaction() as cur:
            case = self._case(cur, case_no, actor)
            domain.check_work(self._facts(case), "explain", "cannot")  # 409 before field errors
            explanation = domain.check_explanation(payload)
            self._start_work(cur, case, "explain", "cannot", actor, now)
            store.save_explanation(
                cur, case_no, {**explanation, "actor": actor["id"], "at": now.isoformat()}
            )
            self._emit(
                cur,
                "explanation_given",
                {**explanation, "case_no": case_no, "actor": actor["id"], "at": now.isoformat()},
                case["site"],
            )
            missing = "；".join(
                f"{m['name']}（{m['how_to_obtain']}）" for m in explanation["missing_key_materials"]
            )
            timeline.add_entry(
                cur,
                SCHEMA,
                case_no,
                actor["id"],
                "explained",
                f"无法办理。依据：{explanation['legal_basis']}。{explanation['explanation']}"
                + (f" 缺少关键材料：{missing}" if missing else ""),
                explanation,
            )
            return self._summary(cur, case_no)

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def add_measure(self, case_no: str, payload: dict, actor: dict) -> dict:
        now = _now()
        with self.db.transaction() as cur:
            case = self._case(cur, case_no, actor)
            domain.check_work(self._facts(case), "measure", "hard")
            measure = domain.check_measure(payload)
            self._start_work(cur, case, "measure", "hard", actor, now)
            row = store.add_measure(cur, case_no, measure, actor["id"])
            due = measure["due"].isoformat() if measure["due"] else None
            self._emit(
                cur,
                "measure_added",
                {
                    "case_no": case_no,
                    "measure_id": row["id"],
                    "measure": measure["measure"],
                    "departments": measure["departments"],
                    "details": measure["details"],
                    "materials": measure["materials"],
                    "due": due,
                    "actor": actor["id"],
                    "at": now.isoformat(),
                },
                case["site"],
            )
            timeline.add_entry(
                cur,
                SCHEMA,
                case_no,
                actor["id"],
                "measure_added",
                f"协调措施 {measure['measure']}（{'、'.join(measure['departments'])}）："
                f"{measure['details']}",
                {**measure, "due": due, "measure_id": row["id"]},
            )
            if measure["measure"] == "deferred_materials":
                reason = f"等待申请人在 {due} 前补交容缺材料：{'、'.join(measure['materials'])}"
                for deadline in store.open_deadlines(cur, case_no):
                    if "deferred_materials" in deadline["pause_events"] and not (
                        deadline["paused_at"] or deadline["breached_at"]
                    ):
                        self._pause(
                            cur, case, deadline, reason, f"{DEFERRED_PREFIX}{row['id']}", actor, now
                        )
            return {"measure_id": row["id"], **self._summary(cur, case_no)}

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def record_measure_response(
        self, case_no: str, measure_id: int, payload: dict, actor: dict
    ) -> dict:
        now = _now()
        with self.db.transaction() as cur:
            case = self._case(cur, case_no, actor)
            measure = store.measure_for_update(cur, int(measure_id))
            if measure is None or measure["case_no"] != case_no:
                raise NotFound(f"事项 {case_no} 没有编号为 {measure_id} 的措施", "measure_id")
            if case["state"] not in domain.WORKING_STATES:
                raise Conflict(
                    f"事项 {case_no} 当前状态为“{domain.STATE_LABELS[case['state']]}”，不能记录部门答复",
                    code="invalid_transition",
                )
            response = domain.check_measure_response(payload, measure["departments"])
            store.add_measure_response(cur, measure["id"], response, actor["id"])
            self._emit(
                cur,
                "measure_response_recorded",
                {
                    **response,
                    "case_no": case_no,
                    "measure_id": measure["id"],
                    "actor": actor["id"],
                    "at": now.isoformat(),
                },
                case["site"],
            )
            timeline.add_entry(
                cur,
                SCHEMA,
                case_no,
                actor["id"],
                "measure_response",
                f"{response['department']} 答复（{'已落实' if response['delivered'] else '未落实'}）："
                f"{response['response']}",
                {**response, "measure_id": measure["id"]},
            )
            if response["delivered"] and measure["measure"] == "deferred_materials":
                for deadline in store.open_deadlines(cur, case_no):
                    if deadline["paused_by"] == f"{DEFERRED_PREFIX}{measure['id']}":
                        self._resume(cur, case, deadline, actor, now)
            return self._summary(cur, case_no)

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def pause_deadline(self, case_no: str, deadline_id: int, payload: dict, actor: dict) -> dict:
        now = _now()
        with self.db.transaction() as cur:
            case = self._case(cur, case_no, actor)
            deadline = self._deadline(cur, case_no, deadline_id)
            reason = domain.text(payload, "reason", "暂停理由")
            if "manual" not in deadline["pause_events"]:
                raise Conflict("该期限的政策不允许手工暂停计时", code="pause_not_allowed")
            if deadline["paused_at"] or deadline["met_at"] or deadline["breached_at"]:
                raise Conflict("该期限已暂停、已完成或已超期，不能暂停", code="invalid_transition")
            self._pause(cur, case, deadline, reason, "manual", actor, now)
            return self._summary(cur, case_no)

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def resume_deadline(self, case_no: str, deadline_id: int, payload: dict, actor: dict) -> dict:
        now = _now()
        with self.db.transaction() as cur:
            case = self._case(cur, case_no, actor)
            deadline = self._deadline(cur, case_no, deadline_id)
            if not deadline["paused_at"]:
                raise Conflict("该期限没有暂停", code="invalid_transition")
            self._resume(cur, case, deadline, actor, now)
            return self._summary(cur, case_no)

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def reply(self, case_no: str, payload: dict, actor: dict) -> dict:
        now = _now()
        with self.db.transaction() as cur:
            case = self._case(cur, case_no, actor)
            summary = domain.text(payload, "summary", "答复内容")
            self._transition(cur, case, "reply", actor, summary, now)
            open_replies = store.open_deadlines(cur, case_no, stage="reply")
            due_at = open_replies[0]["due_at"] if open_replies else None
            record = domain.reply_record(self.calendar.calendar, case["received_at"], now, due_at)
            reply = {
                "case_no": case_no,
                "replied_at": now.isoformat(),
                "due_at": due_at.isoformat() if due_at else None,
                **record,
                "summary": summary,
                "actor": actor["id"],
            }
            store.save_reply(cur, case_no, reply)
            store.meet_deadlines(cur, case_no, now, stage="reply")
            self._emit(cur, "case_replied", {**reply, "site": case["site"]}, case["site"])
            timing = {True: "按期", False: "超期", None: "无期限"}[record["on_time"]]
            timeline.add_entry(
                cur,
                SCHEMA,
                case_no,
                actor["id"],
                "replied",
                f"已答复申请人（{timing}，用时 {record['working_days_taken']} 个工作日）：{summary}",
                reply,
            )
            return self._summary(cur, case_no)

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def resolve(self, case_no: str, payload: dict, actor: dict) -> dict:
        now = _now()
        with self.db.transaction() as cur:
            case = self._case(cur, case_no, actor)
            measure_ids = [m["id"] for m in store.measures(cur, case_no)]
            resolution = domain.check_resolution(payload, measure_ids)
            self._transition(cur, case, "resolve", actor, resolution["summary"], now)
            store.save_resolution(
                cur, case_no, {**resolution, "actor": actor["id"], "at": now.isoformat()}
            )
            store.meet_deadlines(cur, case_no, now)
            self._emit(
                cur,
                "case_resolved",
                {
                    **resolution,
                    "case_no": case_no,
                    "type": case["type"],
                    "site": case["site"],
                    "department": case["department"],
                    "matter": case["matter"],
                    "actor": actor["id"],
                    "at": now.isoformat(),
                },
                case["site"],
            )
            timeline.add_entry(
                cur,
                SCHEMA,
                case_no,
                actor["id"],
                "resolved",
                f"办结（{resolution['outcome']}）：{resolution['summary']}",
                resolution,
            )
            return self._summary(cur, case_no)

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def close(self, case_no: str, payload: dict, actor: dict) -> dict:
        return self._simple_transition(case_no, payload, actor, "close")

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def archive(self, case_no: str, payload: dict, actor: dict) -> dict:
        return self._simple_transition(case_no, payload, actor, "archive")

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def reopen(self, case_no: str, payload: dict, actor: dict) -> dict:
        now = _now()
        with self.db.transaction() as cur:
            case = self._case(cur, case_no, actor)
            reason = domain.text(payload, "reason", "重新打开的理由")
            self._transition(cur, case, "reopen", actor, reason, now)
            store.save_resolution(cur, case_no, None)
            self._start_deadlines(cur, case, "case_reopened", now)
            return self._summary(cur, case_no)

    # -- joint meetings -------------------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def convene_meeting(self, payload: dict, actor: dict) -> dict:
        if actor.get("role") != "bureau":
            raise Forbidden("联席会议由区行政审批局召集")
        now = _now()
        with self.db.transaction() as cur:
            meeting = domain.check_meeting(payload)
            cases = store.cases_for_update(cur, meeting["case_nos"])
            found = {case["case_no"] for case in cases}
            missing = [no for no in meeting["case_nos"] if no not in found]
            if missing:
                error = InvalidField(f"事项 {'、'.join(missing)} 不存在", "case_nos")
                raise handover.NotHandedOver(*missing, error=error)
            for case in cases:
                domain.check_work(self._facts(case), "meeting", "pending")
            row = store.add_meeting(cur, meeting, actor["id"])
            dues = []
            for case in cases:
                target = domain.check_work(self._facts(case), "meeting", "pending")
                if target:
                    self._set_state(cur, case, target, actor, "召开联席会议", now)
                if meeting["complex"] and not case["complex"]:
                    store.set_complex(cur, case["case_no"])
                    self._apply_complex(cur, {**case, "complex": True})
                dues += [
                    d["due_at"] for d in store.open_deadlines(cur, case["case_no"], stage="reply")
                ]
                timeline.add_entry(
                    cur,
                    SCHEMA,
                    case["case_no"],
                    actor["id"],
                    "meeting_convened",
                    f"区行政审批局召集联席会议（{'、'.join(meeting['departments'])}），"
                    f"时间 {meeting['scheduled_at'].isoformat()}",
                    {"meeting_id": row["id"]},
                )
            reply_due_at = min(dues) if dues else None
            store.set_meeting_reply_due(cur, row["id"], reply_due_at)
            self._emit(
                cur,
                "joint_meeting_convened",
                {
                    "meeting_id": row["id"],
                    "case_nos": meeting["case_nos"],
                    "departments": meeting["departments"],
                    "scheduled_at": meeting["scheduled_at"].isoformat(),
                    "complex": meeting["complex"],
                    "reply_due_at": reply_due_at.isoformat() if reply_due_at else None,
                    "actor": actor["id"],
                    "at": now.isoformat(),
                },
                None,
            )
            return self._meeting_view(cur, row["id"])

    @rpc(expected_exceptions=BanchengError)
    def record_minutes(self, meeting_id: int, payload: dict, actor: dict) -> dict:
        if actor.get("role") != "bureau":
            raise Forbidden("联席会议纪要由区行政审批局记录")
        now = _now()
        with self.db.transaction() as cur:
            meeting = self._meeting(cur, meeting_id, for_update=True)
            if meeting["minutes"] is not None:
                raise Conflict(f"联席会议 {meeting_id} 的纪要已记录", code="already_minuted")
            minutes = domain.check_minutes(payload, meeting["departments"], meeting["case_nos"])
            store.save_minutes(cur, meeting["id"], minutes, actor["id"], now)
            base = {"meeting_id": meeting["id"], "case_nos": meeting["case_nos"]}
            self._emit(
                cur,
                "joint_meeting_minuted",
                {**base, **minutes, "actor": actor["id"], "at": now.isoformat()},
                None,
            )
            for department in domain.absent_without_reason(minutes["attendance"]):
                self._emit(
                    cur,
                    "department_absent",
                    {**base, "department": department, "actor": actor["id"], "at": now.isoformat()},
                    None,
                )
            cases = {c["case_no"]: c for c in store.cases_for_update(cur, meeting["case_nos"])}
            for assignment in minutes["assignments"]:
                case = cases[assignment["case_no"]]
                due_at = domain.end_of_day(self.calendar.calendar, assignment["due"])
                store.add_deadline(
                    cur,
                    {
                        "case_no": case["case_no"],
                        "kind": "assignment",
                        "due_at": due_at,
                        "warn_at": domain.warn_at(due_at, now, None),
                        "provisional": False,
                        "department": assignment["department"],
                        "site": case["site"],
                        "meeting_id": meeting["id"],
                        "task": assignment["task"],
                    },
                )
            for case_no in meeting["case_nos"]:
                timeline.add_entry(
                    cur,
                    SCHEMA,
                    case_no,
                    actor["id"],
                    "meeting_minuted",
                    f"联席会议纪要：{minutes['decision']}",
                    {"meeting_id": meeting["id"], **minutes},
                )
            return self._meeting_view(cur, meeting["id"])

    @rpc(expected_exceptions=BanchengError)
    def deliver_assignment(self, meeting_id: int, deadline_id: int, actor: dict) -> dict:
        now = _now()
        with self.db.transaction() as cur:
            self._meeting(cur, meeting_id)
            done = store.meet_assignment(cur, int(meeting_id), int(deadline_id), now)
            if done is None:
                raise NotFound(f"联席会议 {meeting_id} 没有未完成的任务 {deadline_id}", "id")
            timeline.add_entry(
                cur,
                SCHEMA,
                done["case_no"],
                actor["id"],
                "assignment_delivered",
                f"{done['department']} 已完成会议分工：{done['task']}",
            )
            return self._meeting_view(cur, int(meeting_id))

    @rpc(expected_exceptions=BanchengError)
    def list_meetings(self, filters: dict, actor: dict) -> list[dict]:
        minuted = filters.get("minuted")
        with self.db.transaction() as cur:
            rows = store.meetings(
                cur,
                case_no=filters.get("case_no"),
                minuted=None if minuted is None else str(minuted).lower() in ("1", "true", "yes"),
                limit=_limit(filters),
                cursor=filters.get("cursor"),
            )
            return [self._meeting_view(cur, row["id"], row) for row in rows]

    @rpc(expected_exceptions=BanchengError)
    def get_meeting(self, meeting_id: int) -> dict:
        with self.db.transaction() as cur:
            return self._meeting_view(cur, self._meeting(cur, meeting_id)["id"])

    # -- reading ------------------------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    def refusals(self, filters: dict) -> list[dict]:
        with self.db.transaction() as cur:
            return store.refusals(
                cur,
                site=filters.get("site"),
                department=filters.get("department"),
                limit=_limit(filters),
                cursor=filters.get("cursor"),
            )

    @rpc
    def case_deadlines(self, case_no: str) -> list[dict]:
        with self.db.transaction() as cur:
            rows = store.case_deadlines(cur, case_no)
        return self._deadline_views(rows)

    @rpc(expected_exceptions=BanchengError)
    def deadlines_of_cases(self, case_nos: list[str]) -> dict[str, list[dict]]:
        """Each listed case's deadlines, in one call for a list page (at most 200 cases)."""
        if not isinstance(case_nos, list) or len(case_nos) > 200:
            raise InvalidField("case_nos 应为至多 200 个事项编号的列表", "case_nos")
        if not all(isinstance(case_no, str) for case_no in case_nos):
            raise InvalidField("case_nos 中每一项都应为事项编号", "case_nos")
        with self.db.transaction() as cur:
            rows = store.deadlines_of_cases(cur, case_nos)
        found = {case_no: [] for case_no in case_nos}
        for deadline in self._deadline_views(rows):
            found[deadline["case_no"]].append(deadline)
        return found

    def _deadline_views(self, rows: list[dict]) -> list[dict]:
        now = _now()
        calendar = self.calendar.calendar
        return [
            {
                "id": row["id"],
                "case_no": row["case_no"],
                "kind": row["kind"],
                "stage": row["stage"],
                "due_at": row["due_at"],
                "working_days": row["working_days"],
                "provisional": row["provisional"],
                "unknown_years": row["unknown_years"],
                "paused": row["paused_at"] is not None,
                "pause_reason": row["pause_reason"],
                "pausable": "manual" in row["pause_events"],
                "warned": row["warned_at"] is not None,
                "breached": row["breached_at"] is not None,
                "breached_at": row["breached_at"],
                "met_at": row["met_at"],
                "working_days_left": None
                if row["met_at"]
                else calendar.working_days_left(now, row["due_at"]),
                "department": row["department"],
                "meeting_id": row["meeting_id"],
                "task": row["task"],
            }
            for row in rows
        ]

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def case_summary(self, case_no: str) -> dict:
        """Coordination's view of a case: state, type, explanation, measures, reply, result."""
        with self.db.transaction() as cur:
            return self._summary(cur, case_no)

    @rpc
    def case_timeline(self, case_no: str) -> list[dict]:
        with self.db.transaction() as cur:
            return timeline.entries(cur, SCHEMA, case_no)

    # -- standard practices -------------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    @handover.reads_own_writes
    def promote_practice(self, payload: dict, actor: dict) -> dict:
        if actor.get("role") not in ("officer", "bureau"):
            raise Forbidden("只有办不成事反映窗口或区行政审批局可以推广常态化做法")
        now = _now()
        with self.db.transaction() as cur:
            practice = domain.check_practice(payload)
            if practice["case_no"]:
                case = store.case_for_update(cur, practice["case_no"])
                if case is None:
                    error = InvalidField(f"事项 {practice['case_no']} 不存在", "case_no")
                    raise handover.NotHandedOver(practice["case_no"], error=error)
                if case["resolution"] is None:
                    raise Conflict("只有已办结事项的做法才能推广为常态化做法", code="not_resolved")
                if case["matter"] != practice["matter"]:
                    raise InvalidField("常态化做法的事项须与来源事项一致", "matter")
            row = store.add_practice(cur, practice, actor["id"])
            self._emit(
                cur,
                "practice_promoted",
                {
                    "practice_id": row["id"],
                    "matter": row["matter"],
                    "windows": row["windows"],
                    "title": row["title"],
                    "case_no": row["case_no"],
                    "actor": actor["id"],
                    "at": now.isoformat(),
                },
                None,
            )
            if row["case_no"]:
                timeline.add_entry(
                    cur,
                    SCHEMA,
                    row["case_no"],
                    actor["id"],
                    "practice_promoted",
                    f"做法推广为常态化手段：{row['title']}",
                    {"practice_id": row["id"]},
                )
            return row

    @rpc
    def practices_for(self, matter: str) -> list[dict]:
        """Standard practices of a matter (intake shows them when a case of it is registered)."""
        with self.db.transaction() as cur:
            return store.practices(cur, matter=matter, limit=200)

    @rpc(expected_exceptions=BanchengError)
    def list_practices(self, filters: dict) -> list[dict]:
        with self.db.transaction() as cur:
            return store.practices(
                cur,
                matter=filters.get("matter"),
                window=filters.get("window"),
                limit=_limit(filters),
                cursor=filters.get("cursor"),
            )

    # -- the deadline clock -------------------------------------------------------------

    @timer(interval=SCAN_SECONDS)
    def deadline_clock(self) -> None:
        self.scan_deadlines()

    @rpc
    def scan_deadlines(self) -> dict:
        """Raise due warnings and breaches; each one once, however many instances scan."""
        now = _now()
        with DEADLINE_SCAN_SECONDS.time(), self.db.transaction() as cur:
            warned = store.warn_due(cur, now, SCAN_BATCH)
            for row in warned:
                self._emit(cur, "deadline_warning", self._deadline_event(row), row["site"])
                timeline.add_entry(
                    cur,
                    SCHEMA,
                    row["case_no"],
                    None,
                    "deadline_warning",
                    f"期限即将届满（{row['due_at'].isoformat()}）",
                    {"deadline_id": row["id"], "kind": row["kind"]},
                )
                DEADLINE_EVENTS.labels("warning", row["kind"]).inc()
            breached = store.breach_due(cur, now, SCAN_BATCH)
            for row in breached:
                self._emit(cur, "deadline_breached", self._deadline_event(row), row["site"])
                if row["kind"] == "assignment":
                    self._emit(
                        cur,
                        "assignment_not_delivered",
                        {
                            "meeting_id": row["meeting_id"],
                            "case_no": row["case_no"],
                            "department": row["department"],
                            "task": row["task"],
                            "due": row["due_at"].isoformat(),
                        },
                        row["site"],
                    )
                timeline.add_entry(
                    cur,
                    SCHEMA,
                    row["case_no"],
                    None,
                    "deadline_breached",
                    f"期限已超过（{row['due_at'].isoformat()}）",
                    {"deadline_id": row["id"], "kind": row["kind"]},
                )
                DEADLINE_EVENTS.labels("breach", row["kind"]).inc()
        return {"warned": len(warned), "breached": len(breached)}

    @timer(interval=CALENDAR_CHECK_SECONDS)
    def calendar_check(self) -> None:
        if self.calendar.reload_if_changed():
            self._recompute_provisional()
        else:
            with self.db.transaction() as cur:
                PROVISIONAL_DEADLINES.set(store.count_provisional(cur))

    @rpc(expected_exceptions=BanchengError)
    def reload_calendar(self) -> dict:
        """Re-read the calendar year files now and recompute every provisional deadline."""
        try:
            years = self.calendar.load()
        except (ValueError, OSError) as exc:
            raise InvalidField(f"日历文件有误：{exc}", "calendar") from exc
        return {"year_files": years, "recomputed": self._recompute_provisional()}

    # -- helpers (no entrypoints) -------------------------------------------------------

    def _emit(self, cur, event_type: str, data: dict, site: str | None) -> None:
        add_event(
            cur, SCHEMA, new_event(event_type, data, source_service=self.name, source_site=site)
        )

    def _case(self, cur, case_no: str, actor: dict | None = None) -> dict:
        case = store.case_for_update(cur, case_no)
        if case is None:
            raise handover.NotHandedOver(case_no)
        if actor is not None:
            domain.check_actor(self._facts(case), actor)
        return case

    @staticmethod
    def _facts(case: dict) -> domain.CaseFacts:
        return domain.CaseFacts(
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

    def _transition(self, cur, case, action, actor, reason, now) -> str:
        target = domain.next_state(self._facts(case), action)
        self._set_state(cur, case, target, actor, reason, now)
        return target

    def _set_state(self, cur, case, target, actor, reason, now) -> None:
        store.set_state(cur, case["case_no"], target, now)
        self._emit(
            cur,
            "case_state_changed",
            {
                "case_no": case["case_no"],
                "from_state": case["state"],
                "to_state": target,
                "actor": actor["id"],
                "reason": reason,
                "at": now.isoformat(),
                "site": case["site"],
                "department": case["department"],
                "type": case["type"],
            },
            case["site"],
        )
        timeline.add_entry(
            cur,
            SCHEMA,
            case["case_no"],
            actor["id"],
            "state_changed",
            f"{domain.STATE_LABELS[case['state']]} → {domain.STATE_LABELS[target]}"
            + (f"：{reason}" if reason else ""),
            {"from_state": case["state"], "to_state": target, "reason": reason},
        )
        case["state"] = target

    def _start_work(self, cur, case, kind, required_type, actor, now) -> None:
        target = domain.check_work(self._facts(case), kind, required_type)
        if target:
            self._set_state(cur, case, target, actor, domain.ACTION_LABELS[kind], now)

    def _simple_transition(self, case_no, payload, actor, action) -> dict:
        now = _now()
        with self.db.transaction() as cur:
            case = self._case(cur, case_no, actor)
            reason = domain.text(payload or {}, "reason", "理由", required=False)
            self._transition(cur, case, action, actor, reason, now)
            return self._summary(cur, case_no)

    def _start_deadlines(self, cur, case, start_event, started_at) -> None:
        for policy in self.policies.started_by(case["type"], start_event):
            plan = domain.plan_deadline(
                self.calendar.calendar,
                started_at,
                policy.days_for(case["complex"]),
                policy.warning_share,
            )
            row = store.add_deadline(
                cur,
                {
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
                },
            )
            self._deadline_set(cur, row)

    def _deadline_set(self, cur, row) -> None:
        self._emit(
            cur,
            "deadline_set",
            {
                "case_no": row["case_no"],
                "deadline_id": row["id"],
                "kind": row["kind"],
                "due_at": row["due_at"].isoformat(),
                "working_days": row["working_days"],
                "provisional": row["provisional"],
                "unknown_years": row["unknown_years"],
                "department": row["department"],
                "site": row["site"],
            },
            row["site"],
        )
        note = ""
        if row["provisional"]:
            years = "、".join(str(y) for y in row["unknown_years"])
            note = f"（暂定：{years} 年节假日安排尚未载入，仅按周末计算）"
            for year in row["unknown_years"]:
                PROVISIONAL_COMPUTED.labels(str(year)).inc()
            log.warning(
                "deadline %s of %s is provisional: year(s) %s not loaded in the calendar",
                row["id"],
                row["case_no"],
                years,
            )
        timeline.add_entry(
            cur,
            SCHEMA,
            row["case_no"],
            None,
            "deadline_set",
            f"期限 {row['kind']}：{row['working_days']} 个工作日，"
            f"{row['due_at'].isoformat()} 前{note}",
            {"deadline_id": row["id"], "provisional": row["provisional"]},
        )

    def _apply_complex(self, cur, case) -> None:
        """A case found especially complex gets its policies' longer periods."""
        for deadline in store.open_deadlines(cur, case["case_no"]):
            policy = self.policies.find(case["type"], deadline["stage"], deadline["start_event"])
            if policy is None or deadline["breached_at"] or deadline["paused_at"]:
                continue
            days = policy.days_for(True)
            if days == deadline["working_days"]:
                continue
            plan = domain.plan_deadline(
                self.calendar.calendar, deadline["counting_from"], days, deadline["warning_share"]
            )
            store.set_working_days(cur, deadline["id"], days)
            self._deadline_set(cur, store.replan_deadline(cur, deadline["id"], plan))

    def _deadline(self, cur, case_no, deadline_id) -> dict:
        deadline = store.deadline_for_update(cur, case_no, int(deadline_id))
        if deadline is None:
            raise NotFound(f"事项 {case_no} 没有编号为 {deadline_id} 的期限", "deadline_id")
        return deadline

    def _pause(self, cur, case, deadline, reason, paused_by, actor, now) -> None:
        store.pause_deadline(cur, deadline["id"], now, reason, paused_by)
        self._emit(
            cur,
            "deadline_paused",
            {
                "case_no": case["case_no"],
                "deadline_id": deadline["id"],
                "reason": reason,
                "actor": actor["id"],
                "at": now.isoformat(),
                "due_at": deadline["due_at"].isoformat(),
            },
            case["site"],
        )
        timeline.add_entry(
            cur,
            SCHEMA,
            case["case_no"],
            actor["id"],
            "deadline_paused",
            f"期限暂停计时：{reason}",
            {"deadline_id": deadline["id"]},
        )

    def _resume(self, cur, case, deadline, actor, now) -> None:
        plan = domain.resume_plan(
            self.calendar.calendar,
            deadline["paused_at"],
            now,
            deadline["due_at"],
            deadline["warning_share"],
        )
        row = store.replan_deadline(cur, deadline["id"], plan, resume=True)
        self._emit(
            cur,
            "deadline_resumed",
            {
                "case_no": case["case_no"],
                "deadline_id": row["id"],
                "reason": deadline["pause_reason"],
                "actor": actor["id"],
                "at": now.isoformat(),
                "due_at": row["due_at"].isoformat(),
                "provisional": row["provisional"],
            },
            case["site"],
        )
        timeline.add_entry(
            cur,
            SCHEMA,
            case["case_no"],
            actor["id"],
            "deadline_resumed",
            f"期限恢复计时，剩余 {plan.days} 个工作日，{row['due_at'].isoformat()} 前",
            {"deadline_id": row["id"]},
        )

    def _recompute_provisional(self) -> int:
        """Recompute open provisional deadlines on the current calendar; returns how many."""
        changed = 0
        with self.db.transaction() as cur:
            for deadline in store.provisional_deadlines(cur):
                if deadline["counting_from"] is None or deadline["paused_at"]:
                    continue
                plan = domain.plan_deadline(
                    self.calendar.calendar,
                    deadline["counting_from"],
                    deadline["days_to_count"],
                    deadline["warning_share"],
                )
                if plan.due_at == deadline["due_at"] and plan.provisional:
                    continue
                self._deadline_set(cur, store.replan_deadline(cur, deadline["id"], plan))
                changed += 1
            PROVISIONAL_DEADLINES.set(store.count_provisional(cur))
        log.info("recomputed %d provisional deadline(s) on the reloaded calendar", changed)
        return changed

    @staticmethod
    def _deadline_event(row) -> dict:
        return {
            "case_no": row["case_no"],
            "deadline_id": row["id"],
            "kind": row["kind"],
            "due_at": row["due_at"].isoformat(),
            "department": row["department"],
            "site": row["site"],
            "meeting_id": row["meeting_id"],
        }

    def _meeting(self, cur, meeting_id, *, for_update: bool = False) -> dict:
        try:
            number = int(meeting_id)
        except (TypeError, ValueError):
            raise NotFound(f"联席会议 {meeting_id} 不存在", "id") from None
        meeting = store.meeting(cur, number, for_update=for_update)
        if meeting is None:
            raise NotFound(f"联席会议 {meeting_id} 不存在", "id")
        return meeting

    def _meeting_view(self, cur, meeting_id: int, row: dict | None = None) -> dict:
        meeting = dict(row or store.meeting(cur, meeting_id))
        meeting["status"] = "minuted" if meeting["minutes"] else "convened"
        meeting["assignments"] = [
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
            for d in store.case_deadlines(cur, case_no)
            if d["meeting_id"] == meeting["id"]
        ]
        return meeting

    def _summary(self, cur, case_no: str) -> dict:
        case = store.case(cur, case_no)
        if case is None:
            raise handover.NotHandedOver(case_no)
        measures = store.measures(cur, case_no)
        meetings = store.meetings(cur, case_no=case_no, limit=200)
        minuted = any(meeting["minutes"] for meeting in meetings)
        facts = self._facts({**case, "measures": len(measures), "minuted": minuted})
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
            "allowed_actions": domain.allowed_actions(facts),
            "acting_roles": list(domain.acting_roles(facts)),
        }
