"""Intake: the registration form, the reference data and the first receiver (entrypoints only)."""

from datetime import UTC, datetime, timedelta

from nameko.rpc import rpc

from services.common import timeline
from services.common.auth import sees_all_sites
from services.common.config import service_setting
from services.common.errors import BanchengError, Forbidden, NotFound, Unauthorized
from services.common.events import new_event
from services.common.outbox import OutboxRelay, add_event
from services.common.passwords import verify_password
from services.common.postgres import DatabaseProvider
from services.common.web import EntrypointMetrics, Observable
from services.intake import domain, store
from services.intake.personal_data import IdNumberCipher, mask_id_number

SCHEMA = "intake"
DISTRICT_CODE = "XW"


class IntakeService(Observable):
    name = "intake"

    db = DatabaseProvider(relay=OutboxRelay(SCHEMA))
    entrypoint_metrics = EntrypointMetrics()

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
            sequence = store.next_case_sequence(cur, domain.local_day(now))
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
        with self.db.transaction() as cur:
            return store.list_cases(
                cur,
                site=site,
                status=filters.get("status"),
                department=filters.get("department"),
                month=filters.get("month"),
                q=filters.get("q"),
                first_receiver=filters.get("first_receiver"),
                limit=int(filters.get("limit") or 50),
                cursor=filters.get("cursor"),
            )

    @rpc
    def case_timeline(self, case_no: str) -> list[dict]:
        with self.db.transaction() as cur:
            return timeline.entries(cur, SCHEMA, case_no)

    # -- helpers (no entrypoints) -----------------------------------------------------------

    def _case_view(self, cur, case_no: str, actor: dict | None = None) -> dict:
        case = store.case(cur, case_no)
        if case is None:
            raise NotFound(f"事项 {case_no} 不存在", "case_no")
        if actor is not None and not sees_all_sites(actor) and case["site"] != actor["site"]:
            raise Forbidden("窗口工作人员只能查看本场所的事项")
        return case

    def _protect_id_number(self, cur, registration):
        """Encrypt, mask and hash the ID number; find the same applicant's recent cases."""
        if registration.id_number is None:
            return {}, []
        cipher = IdNumberCipher(service_setting(self.config, "ID_NUMBER_KEY"))
        lookup = cipher.lookup_hash(registration.id_number)
        days = int(service_setting(self.config, "REPEAT_VISIT_DAYS", 90))
        since = registration.received_at - timedelta(days=days)
        protected = {
            "cipher": cipher.encrypt(registration.id_number),
            "masked": mask_id_number(registration.id_number, registration.applicant_kind),
            "hash": lookup,
        }
        return protected, store.earlier_cases(cur, lookup, registration.matter, since)

    def _registered_event(self, case_no, registration, protected, actor, repeat_of) -> dict:
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
            },
            source_service=self.name,
            source_site=registration.site,
        )
