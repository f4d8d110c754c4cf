"""Intake: the registration form, the reference data and the first receiver (entrypoints only)."""

import logging
import uuid
from datetime import UTC, datetime, timedelta

import eventlet

from services.common import timeline
from services.common.auth import sees_all_sites
from services.common.config import service_setting
from services.common.consumer import consumes
from services.common.errors import (
    BanchengError,
    Conflict,
    Forbidden,
    InvalidField,
    NotFound,
    Unauthorized,
)
from services.common.events import new_event
from services.common.outbox import OutboxRelay, add_event
from services.common.passwords import verify_password
from services.common.postgres import DatabaseProvider, SideDatabaseProvider
from services.common.rpc import ServiceRpc, rpc
from services.common.web import EntrypointMetrics, Observable
from services.intake import channels, domain, store, validation
from services.intake.personal_data import IdNumberCipher, mask_id_number

log = logging.getLogger(__name__)

SCHEMA = "intake"
DISTRICT_CODE = "XW"
CASE_TYPES = ("cannot", "hard", "refused", "pending")
# coordination states after which a breached deadline no longer makes a case overdue
ANSWERED_STATES = frozenset({"replied", "resolved", "archived", "closed"})
# ~5,000 typical rows fit the gateway's 1 MiB body limit; this bounds one transaction
MAX_BATCH_RATINGS = 10_000
MAX_RETURN_VISIT_NOTES = 1000


def _flag(value, name: str) -> bool | None:
    """A query-string boolean (``true``/``false``/``1``/``0``); absent gives None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InvalidField(f"{name} 应为 true 或 false", name)


def _event_time(event: dict, name: str = "at") -> datetime:
    return datetime.fromisoformat(event["data"].get(name) or event["occurred_at"])


class IntakeService(Observable):
    name = "intake"

    db = DatabaseProvider(relay=OutboxRelay(SCHEMA))
    side_db = SideDatabaseProvider()  # case numbers, taken while a registration holds `db`
    entrypoint_metrics = EntrypointMetrics()
    coordination = ServiceRpc("coordination")

    # -- identity and reference data ---------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    def authenticate(self, username: str, password: str) -> dict:
        with self.db.transaction() as cur:
            staff = store.staff_by_username(cur, username or "")
        if (
            not staff
            or not staff["password_hash"]
            or not verify_password(password or "", staff["password_hash"])
        ):
            raise Unauthorized("用户名或密码不正确")
        staff.pop("password_hash")
        return staff

    @rpc
    def sites(self) -> list[dict]:
        with self.db.transaction() as cur:
            return store.sites(cur)

    @rpc
    def departments(self) -> list[dict]:
        with self.db.transaction() as cur:
            return store.departments(cur)

    @rpc
    def matters(self, site: str | None = None) -> list[dict]:
        with self.db.transaction() as cur:
            return store.matters(cur, site)

    @rpc
    def staff(self, site: str | None = None) -> list[dict]:
        with self.db.transaction() as cur:
            return store.staff(cur, site)

    # -- cases -------------------------------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    def register_case(self, payload: dict, actor: dict, idempotency_key: str | None = None) -> dict:
        """Register a case; the same ``idempotency_key`` always returns the same case."""
        now = datetime.now(UTC)
        practices = self._ask_practices(payload.get("matter"))  # answered while we register
        case = self._register(payload, actor, idempotency_key, now)
        return {**case, "practices": self._practices(practices, case["matter"])}

    def _register(self, payload, actor, idempotency_key, now) -> dict:
        with self.db.transaction() as cur:
            if idempotency_key:
                store.lock_idempotency_key(cur, idempotency_key)
                existing = store.case_no_for_idempotency_key(cur, idempotency_key)
                if existing:
                    return {**self._case_view(cur, existing), "replayed": True}
            registration = domain.check_registration(
                payload, store.reference_for(cur, payload), actor, now
            )
            protected, repeat_of = self._protect_id_number(cur, registration)
            sequence = self._reserve_case_numbers(domain.local_day(now))
            case_no = domain.case_number(
                DISTRICT_CODE, domain.local_day(now), sequence, registration.site
            )
            store.insert_case(
                cur, case_no, registration, protected, actor, repeat_of, idempotency_key
            )
            timeline.add_entry(
                cur, SCHEMA, case_no, actor["id"], "registered", "事项已登记（intake）"
            )
            add_event(
                cur,
                SCHEMA,
                self._registered_event(case_no, registration, protected, actor, repeat_of),
            )
            return {**self._case_view(cur, case_no), "replayed": False}

    @rpc(expected_exceptions=BanchengError)
    def get_case(self, case_no: str, actor: dict) -> dict:
        with self.db.transaction() as cur:
            return self._case_view(cur, case_no, actor)

    @rpc(expected_exceptions=BanchengError)
    def list_cases(self, filters: dict, actor: dict) -> list[dict]:
        site = filters.get("site")
        if not sees_all_sites(actor):
            if site not in (None, actor["site"]):
                raise Forbidden("窗口工作人员只能查看本场所的事项", "site")
            site = actor["site"]
        case_type = filters.get("type") or None
        if case_type is not None and case_type not in CASE_TYPES:
            raise InvalidField(f"事项类型应为 {' / '.join(CASE_TYPES)} 之一", "type")
        with self.db.transaction() as cur:
            return store.list_cases(
                cur,
                site=site,
                status=filters.get("status"),
                department=filters.get("department"),
                month=filters.get("month"),
                q=filters.get("q"),
                first_receiver=filters.get("first_receiver"),
                case_type=case_type,
                overdue=_flag(filters.get("overdue"), "overdue"),
                limit=int(filters.get("limit") or 50),
                cursor=filters.get("cursor"),
            )

    @rpc
    def case_timeline(self, case_no: str) -> list[dict]:
        with self.db.transaction() as cur:
            return timeline.entries(cur, SCHEMA, case_no)

    @rpc
    def registration_event(self, case_no: str) -> dict | None:
        """The case's ``case_registered`` event, for a consumer asked about the case before
        the event reached it (coordination's read-your-writes); None for an unknown case."""
        with self.db.transaction() as cur:
            return store.registration_event(cur, case_no)

    # -- first receiver, helpers, return visits ---------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    def add_helper(self, case_no: str, staff_id, actor: dict) -> dict:
        """Add a helper; the first receiver stays on the case (no entrypoint changes them)."""
        if not isinstance(staff_id, str) or not staff_id.strip():
            raise InvalidField("缺少协助人员（staff_id）", "staff_id")
        staff_id = staff_id.strip()
        now = datetime.now(UTC)
        with self.db.transaction() as cur:
            case = self._case_for_action(cur, case_no, actor)
            if store.staff_member(cur, staff_id) is None:
                raise InvalidField(f"工作人员 {staff_id} 不存在", "staff_id")
            if staff_id == case["first_receiver"]:
                raise Conflict("首接负责人始终在此事项上，无需添加为协助人员", "staff_id")
            added = store.add_helper(cur, case_no, staff_id, actor["id"])
            if added is not None:
                timeline.add_entry(
                    cur, SCHEMA, case_no, actor["id"], "helper_added", f"添加协助人员 {staff_id}"
                )
                add_event(
                    cur,
                    SCHEMA,
                    new_event(
                        "case_helper_added",
                        {
                            "case_no": case_no,
                            "staff_id": staff_id,
                            "actor": actor["id"],
                            "at": now.isoformat(),
                        },
                        source_service=self.name,
                        source_site=case["site"],
                    ),
                )
            return {
                "case_no": case_no,
                "staff_id": staff_id,
                "added": added is not None,
                "first_receiver": case["first_receiver"],
                "helpers": store.helpers(cur, case_no),
            }

    @rpc(expected_exceptions=BanchengError)
    def record_return_visit(self, case_no: str, body: dict, actor: dict) -> dict:
        """Record the 回访 a real-name bad rating requires before its case may close."""
        satisfied = body.get("satisfied")
        if not isinstance(satisfied, bool):
            raise InvalidField("satisfied 应为 true 或 false（申请人是否满意）", "satisfied")
        notes = validation.text(
            body.get("notes"),
            "notes",
            max_length=MAX_RETURN_VISIT_NOTES,
            required=False,
            label="回访记录",
        )
        now = datetime.now(UTC)
        with self.db.transaction() as cur:
            case = self._case_for_action(cur, case_no, actor)
            if not case["requires_return_visit"]:
                raise Conflict("此事项不需要回访（仅实名差评需要回访）", "case_no")
            visit = store.insert_return_visit(cur, case_no, satisfied, notes, actor["id"])
            timeline.add_entry(
                cur,
                SCHEMA,
                case_no,
                actor["id"],
                "return_visit",
                f"已回访：{'满意' if satisfied else '不满意'}",
            )
            add_event(
                cur,
                SCHEMA,
                new_event(
                    "return_visit_recorded",
                    {
                        "case_no": case_no,
                        "actor": actor["id"],
                        "at": now.isoformat(),
                        "satisfied": satisfied,
                        "notes": notes,
                    },
                    source_service=self.name,
                    source_site=case["site"],
                ),
            )
            return {"case_no": case_no, "return_visit": visit}

    # -- the other channels: ratings, hotline, comment book -----------------------------------

    @rpc(expected_exceptions=BanchengError)
    def submit_feedback(self, payload: dict, actor: dict, idempotency_key: str | None = None):
        """One piece of feedback; it opens a case, or is kept as a rating or a suggestion."""
        now = datetime.now(UTC)
        key = f"feedback:{idempotency_key}" if idempotency_key else None
        with self.db.transaction() as cur:
            replayed = self._replayed_answer(cur, key)
            if replayed is not None:
                return replayed
            catalogue = store.catalogue(cur)
            feedback = channels.check_feedback(payload, catalogue, actor, now)
            feedback_id = str(uuid.uuid4())
            result = {"feedback_id": feedback_id, "channel": feedback.channel, "case_no": None}
            if feedback.opens_case:
                result["case_no"] = self._open_feedback_case(
                    cur, feedback, feedback_id, catalogue, actor, now
                )
                result["requires_return_visit"] = feedback.requires_return_visit
            if feedback.channel == "rating":
                store.insert_rating(
                    cur, feedback_id, store.rating_row(None, feedback, result["case_no"])
                )
                add_event(cur, SCHEMA, self._ratings_event(None, [feedback], feedback_id))
            elif result["case_no"]:
                store.insert_complaint(cur, feedback_id, feedback, result["case_no"], actor["id"])
            else:
                store.insert_suggestion(cur, feedback_id, feedback, actor["id"])
                add_event(cur, SCHEMA, self._suggestion_event(feedback_id, feedback, now))
            if key:
                store.save_feedback_response(cur, key, result)
            return {**result, "replayed": False}

    @staticmethod
    def _replayed_answer(cur, key: str | None) -> dict | None:
        """The answer already given to this idempotency key (None: first time, or no key);
        the key stays locked until the caller's transaction ends, so retries queue here."""
        if not key:
            return None
        store.lock_idempotency_key(cur, key)
        saved = store.feedback_response(cur, key)
        return None if saved is None else {**saved, "replayed": True}

    @rpc(expected_exceptions=BanchengError)
    def submit_ratings_batch(
        self, payload: dict, actor: dict, idempotency_key: str | None = None
    ) -> dict:
        """Many ratings at once (the province-scale feed): valid rows are kept, invalid ones
        reported by index; bad ratings open cases. All rows go in with COPY, and the batch
        costs a fixed number of round trips whatever its size."""
        rows = payload.get("ratings")
        if not isinstance(rows, list) or not rows:
            raise InvalidField("ratings 应为非空列表", "ratings")
        if len(rows) > MAX_BATCH_RATINGS:
            raise InvalidField(f"一批最多 {MAX_BATCH_RATINGS} 条评价", "ratings")
        now = datetime.now(UTC)
        key = f"ratings-batch:{idempotency_key}" if idempotency_key else None
        with self.db.transaction() as cur:
            replayed = self._replayed_answer(cur, key)
            if replayed is not None:
                return replayed
            catalogue = store.catalogue(cur)
            accepted, rejected = self._check_batch(rows, catalogue, actor, now)
            batch_id = str(uuid.uuid4())
            opened = self._open_batch_cases(cur, accepted, actor, now)
            store.copy_rows(
                cur,
                "ratings",
                store.RATING_COLUMNS,
                (
                    store.rating_row(batch_id, feedback, None)
                    for index, feedback, _ in accepted
                    if index not in opened
                ),
            )
            store.copy_rows(
                cur,
                "ratings",
                f"id, {store.RATING_COLUMNS}",
                (
                    (opened[index][1], *store.rating_row(batch_id, feedback, opened[index][0]))
                    for index, feedback, _ in accepted
                    if index in opened
                ),
            )
            if accepted:
                add_event(
                    cur,
                    SCHEMA,
                    self._ratings_event(batch_id, [feedback for _, feedback, _ in accepted]),
                )
            result = {
                "batch_id": batch_id,
                "accepted": len(accepted),
                "rejected": rejected,
                "cases_opened": [
                    {"index": index, "case_no": case_no, "feedback_id": rating_id}
                    for index, (case_no, rating_id) in opened.items()
                ],
            }
            if key:
                store.save_feedback_response(cur, key, result)
            return {**result, "replayed": False}

    # -- what coordination tells us: status, type and overdue for the case lists -------------

    @consumes("coordination", "case_state_changed")
    def on_case_state_changed(self, event: dict) -> bool:
        with self.db.handling_once(SCHEMA, event) as cur:
            if cur is None:
                return False
            data = event["data"]
            store.set_status(
                cur, data["case_no"], data["to_state"], _event_time(event), data.get("type")
            )
            if data["to_state"] in ANSWERED_STATES:
                store.mark_answered(cur, data["case_no"])
            return True

    @consumes("coordination", "case_classified")
    def on_case_classified(self, event: dict) -> bool:
        with self.db.handling_once(SCHEMA, event) as cur:
            if cur is None:
                return False
            data = event["data"]
            store.set_classification(
                cur, data["case_no"], data["type"], bool(data.get("complex")), _event_time(event)
            )
            return True

    @consumes("coordination", "deadline_breached")
    def on_deadline_breached(self, event: dict) -> bool:
        with self.db.handling_once(SCHEMA, event) as cur:
            if cur is None:
                return False
            store.mark_deadline_breached(cur, event["data"]["case_no"])
            return True

    @consumes("coordination", "case_replied")
    def on_case_replied(self, event: dict) -> bool:
        return self._answered(event)

    @consumes("coordination", "case_resolved")
    def on_case_resolved(self, event: dict) -> bool:
        return self._answered(event)

    # -- helpers (no entrypoints) -----------------------------------------------------------

    def _answered(self, event: dict) -> bool:
        """A reply or a resolution ends overdue: it answered the deadline, late or not."""
        with self.db.handling_once(SCHEMA, event) as cur:
            if cur is None:
                return False
            store.mark_answered(cur, event["data"]["case_no"])
            return True

    def _reserve_case_numbers(self, day, count: int = 1) -> int:
        """Take ``count`` numbers of ``day``; returns the first.

        In a transaction of its own, on a connection of the side pool: the day's counter row
        is then locked for one short commit instead of for a whole registration, which
        serialised every registration of the district. The price: a registration failing
        after this (only a database error can, the form was checked before) leaves a gap in
        that day's numbers.
        """
        with self.side_db.transaction() as counter:
            return store.reserve_case_sequences(counter, day, count)

    def _ask_practices(self, matter):
        """Ask coordination for a matter's standard practices without waiting for the answer."""
        if not isinstance(matter, str) or not matter.strip():
            return None
        try:
            return self.coordination.practices_for.call_async(matter.strip())
        except Exception as error:
            log.warning("no standard practices for %s: %s", matter, type(error).__name__)
            return None

    def _practices(self, pending, matter: str) -> list:
        """The standard practices of a matter, from coordination; registration never fails
        or waits long for them (coordination may be down, busy or an older version)."""
        if pending is None:
            return []
        timeout = float(service_setting(self.config, "PRACTICES_TIMEOUT_SECONDS", 1.0))
        try:
            with eventlet.Timeout(timeout):
                return pending.result() or []
        except (Exception, eventlet.Timeout) as error:
            log.warning("no standard practices for %s: %s", matter, type(error).__name__)
            return []

    def _case_for_action(self, cur, case_no: str, actor: dict) -> dict:
        case = store.lock_case(cur, case_no)
        if case is None:
            raise NotFound(f"事项 {case_no} 不存在", "case_no")
        if not sees_all_sites(actor) and case["site"] != actor["site"]:
            raise Forbidden("窗口工作人员只能处理本场所的事项")
        return case

    def _case_view(self, cur, case_no: str, actor: dict | None = None) -> dict:
        case = store.case(cur, case_no)
        if case is None:
            raise NotFound(f"事项 {case_no} 不存在", "case_no")
        if actor is not None and not sees_all_sites(actor) and case["site"] != actor["site"]:
            raise Forbidden("窗口工作人员只能查看本场所的事项")
        # repeat_of stays the earlier case numbers (as in the event and the pages);
        # repeat_visits links each of them for the API
        case["repeat_visitor"] = bool(case["repeat_of"])
        case["repeat_visits"] = [
            {**link, "url": f"/api/v1/cases/{link['case_no']}"}
            for link in store.case_links(cur, case["repeat_of"])
        ]
        case["helpers"] = store.helpers(cur, case_no)
        case["return_visits"] = store.return_visits(cur, case_no)
        return case

    def _cipher(self) -> IdNumberCipher:
        return IdNumberCipher(service_setting(self.config, "ID_NUMBER_KEY"))

    @staticmethod
    def _protection(cipher: IdNumberCipher, registration) -> dict:
        """The ID number encrypted, masked and hashed — never kept in clear."""
        if registration.id_number is None:
            return {}
        return {
            "cipher": cipher.encrypt(registration.id_number),
            "masked": mask_id_number(registration.id_number, registration.applicant_kind),
            "hash": cipher.lookup_hash(registration.id_number),
        }

    def _repeat_window(self) -> timedelta:
        return timedelta(days=int(service_setting(self.config, "REPEAT_VISIT_DAYS", 90)))

    def _protect_id_number(self, cur, registration):
        """Encrypt, mask and hash the ID number; find the same applicant's recent cases."""
        protected = self._protection(self._cipher(), registration)
        if not protected:
            return {}, []
        since = registration.received_at - self._repeat_window()
        return protected, store.earlier_cases(cur, protected["hash"], registration.matter, since)

    def _open_feedback_case(self, cur, feedback, feedback_id, catalogue, actor, now) -> str:
        """Register the case a piece of feedback opens, through the registration's own rules."""
        payload = channels.registration_payload(feedback, catalogue)
        registration = domain.check_registration(payload, catalogue.reference(payload), actor, now)
        protected, repeat_of = self._protect_id_number(cur, registration)
        day = domain.local_day(now)
        case_no = domain.case_number(
            DISTRICT_CODE, day, self._reserve_case_numbers(day), registration.site
        )
        extra = {
            "requires_return_visit": feedback.requires_return_visit,
            "feedback_id": feedback_id,
            "rated_staff": feedback.staff,
        }
        store.insert_case(cur, case_no, registration, protected, actor, repeat_of, None, **extra)
        timeline.add_entry(
            cur,
            SCHEMA,
            case_no,
            actor["id"],
            "registered",
            f"{channels.CHANNEL_LABELS[feedback.channel]}反映已登记为事项（intake）",
        )
        add_event(
            cur,
            SCHEMA,
            self._registered_event(case_no, registration, protected, actor, repeat_of, **extra),
        )
        return case_no

    @staticmethod
    def _check_batch(rows, catalogue, actor, now):
        """Check every row against the catalogue (no query per row); bad ratings are also
        checked as the registration they open. Returns (accepted, rejected)."""
        accepted, rejected = [], []
        for index, row in enumerate(rows):
            try:
                if isinstance(row, dict) and row.get("channel", "rating") != "rating":
                    raise InvalidField("批量接口只接收好差评（channel: rating）", "channel")
                feedback = channels.check_feedback(row, catalogue, actor, now, "rating")
                registration = None
                if feedback.opens_case:
                    form = channels.registration_payload(feedback, catalogue)
                    registration = domain.check_registration(
                        form, catalogue.reference(form), actor, now
                    )
            except BanchengError as error:
                rejected.append({"index": index, "field": error.field, "message": error.message})
                continue
            accepted.append((index, feedback, registration))
        return accepted, rejected

    def _open_batch_cases(self, cur, accepted, actor, now) -> dict[int, tuple[str, str]]:
        """Open the cases of a batch's bad ratings with COPY.

        Returns {row index: (case_no, rating id)}: a bad rating's id is made here, so that its
        case can name it; the others get theirs from the database."""
        to_open = [item for item in accepted if item[2] is not None]
        if not to_open:
            return {}
        cipher = self._cipher()
        protections = [self._protection(cipher, item[2]) for item in to_open]
        window = self._repeat_window()
        earliest = min(item[2].received_at for item in to_open) - window
        earlier = store.earlier_cases_of_many(cur, [p["hash"] for p in protections if p], earliest)
        day = domain.local_day(now)
        first = self._reserve_case_numbers(day, len(to_open))
        opened, case_rows, entries, events = {}, [], [], []
        for offset, ((index, feedback, registration), protected) in enumerate(
            zip(to_open, protections, strict=True)
        ):
            case_no = domain.case_number(DISTRICT_CODE, day, first + offset, registration.site)
            repeat_of = []
            if protected:
                # earlier cases include ones this batch opened a moment ago
                found = earlier.setdefault((protected["hash"], registration.matter), [])
                since = registration.received_at - window
                repeat_of = [no for no, received_at in found if received_at >= since]
                found.append((case_no, registration.received_at))
            extra = {
                "requires_return_visit": feedback.requires_return_visit,
                "feedback_id": str(uuid.uuid4()),
                "rated_staff": feedback.staff,
            }
            case_rows.append(
                store.case_row(case_no, registration, protected, actor, repeat_of, **extra)
            )
            entries.append((case_no, actor["id"], "registered", "好差评差评已登记为事项（intake）"))
            events.append(
                self._registered_event(case_no, registration, protected, actor, repeat_of, **extra)
            )
            opened[index] = (case_no, extra["feedback_id"])
        store.copy_rows(cur, "cases", store.CASE_INSERT_COLUMNS, case_rows)
        store.copy_timeline(cur, entries)
        store.copy_events(cur, events)
        return opened

    def _ratings_event(self, batch_id, ratings, feedback_id=None) -> dict:
        return new_event(
            "ratings_received",
            {
                "batch_id": batch_id,
                "feedback_id": feedback_id,
                "counts": channels.rating_counts(ratings),
                "n": len(ratings),
                "bad": sum(1 for rating in ratings if rating.bad),
            },
            source_service=self.name,
            source_site=ratings[0].site if len({r.site for r in ratings}) == 1 else None,
        )

    def _suggestion_event(self, feedback_id, feedback, now) -> dict:
        return new_event(
            "suggestion_recorded",
            {
                "feedback_id": feedback_id,
                "channel": feedback.channel,
                "site": feedback.site,
                "window": feedback.window,
                "matter": feedback.matter,
                "at": now.isoformat(),
            },
            source_service=self.name,
            source_site=feedback.site,
        )

    def _registered_event(
        self,
        case_no,
        registration,
        protected,
        actor,
        repeat_of,
        *,
        requires_return_visit=False,
        feedback_id=None,
        rated_staff=None,
    ) -> dict:
        return new_event(
            "case_registered",
            {
                "case_no": case_no,
                "site": registration.site,
                "window": registration.window,
                "matter": registration.matter,
                "department": registration.department,
                "channel": registration.channel,
                "applicant_kind": registration.applicant_kind,
                "id_number_masked": protected.get("masked"),
                "first_receiver": registration.first_receiver,
                "first_asked_by": registration.first_asked_by,
                "received_at": registration.received_at.isoformat(),
                "registered_by": actor["id"],
                "repeat_of": repeat_of,
                "requires_return_visit": requires_return_visit,
                "feedback_id": feedback_id,
                "rated_staff": rated_staff,
            },
            source_service=self.name,
            source_site=registration.site,
        )
