"""Intake: the registration form, the other channels, the reference data and the first
receiver (entrypoints only; the use cases are in ``handlers``)."""

import logging
from datetime import timedelta

from nameko.timer import timer

from services.common import password_checks
from services.common.config import service_setting
from services.common.consumer import consumer_of
from services.common.errors import BanchengError
from services.common.outbox import OutboxRelay
from services.common.rpc import ServiceRpc, rpc
from services.common.unit_of_work import UnitOfWorkProvider
from services.common.web import EntrypointMetrics, Observable
from services.intake import handlers, logins, store
from services.intake.dependencies import RegistrarProvider

log = logging.getLogger(__name__)

SCHEMA = store.SCHEMA
PRACTICES_SYNC_SECONDS = 10.0


def _follower(event_type: str):
    """The consumer of coordination's ``event_type``: each keeps the case lists the same way."""
    return consumer_of(
        "coordination",
        event_type,
        lambda service, event: handlers.follow_coordination(
            service.uow, event, service.registrar.site_nodes
        ),
    )


def credentials(config: dict) -> logins.Credentials:
    """How logins are checked: passwords off the hub, and how many failed logins lock an
    account or an address, and for how long."""
    policy = logins.ThrottlePolicy(
        window=timedelta(minutes=float(service_setting(config, "LOGIN_THROTTLE_MINUTES", 15))),
        per_account=int(service_setting(config, "LOGIN_FAILURES_PER_ACCOUNT", 5)),
        per_address=int(service_setting(config, "LOGIN_FAILURES_PER_ADDRESS", 20)),
    )
    return logins.Credentials(
        check=password_checks.check_password,
        make_hash=password_checks.make_password_hash,
        policy=policy,
    )


class IntakeService(Observable):
    name = "intake"

    uow = UnitOfWorkProvider(schema=SCHEMA, store_module=store, relay=OutboxRelay(SCHEMA))
    registrar = RegistrarProvider()
    entrypoint_metrics = EntrypointMetrics()
    coordination = ServiceRpc("coordination")

    # -- identity and reference data ---------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    def authenticate(self, username: str, password: str, address: str | None = None) -> dict:
        return handlers.authenticate(
            self.uow, credentials(self.config), username, password, address
        )

    @rpc
    def session_version(self, staff_id: str) -> int | None:
        return handlers.session_version(self.uow, staff_id)

    @rpc
    def end_sessions(self, staff_id: str) -> int | None:
        return handlers.end_sessions(self.uow, staff_id)

    @rpc(expected_exceptions=BanchengError)
    def change_password(self, staff_id: str, current: str, new: str) -> None:
        return handlers.change_password(self.uow, credentials(self.config), staff_id, current, new)

    @rpc
    def sites(self) -> list[dict]:
        return handlers.sites(self.uow)

    @rpc
    def departments(self) -> list[dict]:
        return handlers.departments(self.uow)

    @rpc
    def matters(self, site: str | None = None) -> list[dict]:
        return handlers.matters(self.uow, site)

    @rpc
    def staff(self, site: str | None = None) -> list[dict]:
        return handlers.staff(self.uow, site)

    # -- cases -------------------------------------------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    def register_case(self, payload: dict, actor: dict, idempotency_key: str | None = None) -> dict:
        """Register a case; the same ``idempotency_key`` always returns the same case. The
        matter's standard practices come with it (intake's copy of coordination's)."""
        return handlers.register_case(self.uow, self.registrar, payload, actor, idempotency_key)

    @rpc(expected_exceptions=BanchengError)
    def get_case(self, case_no: str, actor: dict) -> dict:
        return handlers.get_case(self.uow, case_no, actor)

    @rpc(expected_exceptions=BanchengError)
    def list_cases(self, filters: dict, actor: dict) -> list[dict]:
        return handlers.list_cases(self.uow, filters, actor)

    @rpc
    def case_timeline(self, case_no: str) -> list[dict]:
        return handlers.case_timeline(self.uow, case_no)

    @rpc
    def registration_event(self, case_no: str) -> dict | None:
        """The case's ``case_registered`` event, for a consumer asked about the case before
        the event reached it (coordination's read-your-writes); None for an unknown case."""
        return handlers.registration_event(self.uow, case_no)

    # -- first receiver, helpers, return visits ---------------------------------------------

    @rpc(expected_exceptions=BanchengError)
    def add_helper(self, case_no: str, staff_id, actor: dict) -> dict:
        return handlers.add_helper(self.uow, case_no, staff_id, actor)

    @rpc(expected_exceptions=BanchengError)
    def record_return_visit(self, case_no: str, body: dict, actor: dict) -> dict:
        return handlers.record_return_visit(self.uow, case_no, body, actor)

    # -- the other channels: ratings, hotline, comment book -----------------------------------

    @rpc(expected_exceptions=BanchengError)
    def submit_feedback(self, payload: dict, actor: dict, idempotency_key: str | None = None):
        return handlers.submit_feedback(self.uow, self.registrar, payload, actor, idempotency_key)

    @rpc(expected_exceptions=BanchengError)
    def submit_ratings_batch(
        self, payload: dict | str, actor: dict, idempotency_key: str | None = None
    ) -> dict:
        """A batch of ratings; the front door hands the body on as its JSON text (decoded
        once, by intake)."""
        return handlers.submit_ratings_batch(
            self.uow, self.registrar, payload, actor, idempotency_key
        )

    # -- Open311 GeoReport v2: the integrating system's key is checked here, not at the door --

    @rpc(expected_exceptions=BanchengError)
    def open311_services(self, jurisdiction_id: str | None = None) -> list[dict]:
        return handlers.open311_services(self.uow, jurisdiction_id)

    @rpc(expected_exceptions=BanchengError)
    def open311_service_definition(self, service_code, jurisdiction_id=None) -> dict:
        return handlers.open311_service_definition(self.uow, service_code, jurisdiction_id)

    @rpc(expected_exceptions=BanchengError)
    def open311_submit(self, form: dict, api_key, idempotency_key: str | None = None) -> dict:
        return handlers.open311_submit(self.uow, self.registrar, form, api_key, idempotency_key)

    @rpc(expected_exceptions=BanchengError)
    def open311_requests(self, filters: dict) -> list[dict]:
        return handlers.open311_requests(self.uow, filters)

    @rpc(expected_exceptions=BanchengError)
    def open311_request(self, service_request_id) -> dict:
        return handlers.open311_request(self.uow, service_request_id)

    # -- what coordination tells us: status, type and overdue for the case lists -------------

    on_case_state_changed = _follower("case_state_changed")
    on_case_classified = _follower("case_classified")
    on_deadline_breached = _follower("deadline_breached")
    on_case_replied = _follower("case_replied")
    on_case_resolved = _follower("case_resolved")

    # -- the cases a site node registered, copied to the district (docs/network.md) ----------

    on_site_case_recorded = consumer_of(
        "intake",
        "site_case_recorded",
        lambda service, event: handlers.record_site_case(service.uow, service.registrar, event),
    )

    # -- standard practices: intake keeps coordination's, for the registrations -------------

    on_practice_promoted = consumer_of(
        "coordination",
        "practice_promoted",
        lambda service, event: handlers.record_practice(service.uow, event),
    )

    @timer(interval=PRACTICES_SYNC_SECONDS)
    def sync_practices(self):
        """Copy once the practices promoted before intake kept its copy (retried each interval
        until it worked; after that a single read). Not at start: by the first tick the
        consumer's queue is declared, so no practice falls between the copy and the events."""
        try:
            copied = handlers.sync_practices(
                self.uow,
                lambda cursor: self.coordination.list_practices(
                    {"limit": handlers.PRACTICES_PAGE, "cursor": cursor}
                ),
            )
        except Exception as error:  # coordination or the database away: the next tick retries
            log.warning("standard practices not copied from coordination yet: %s", error)
            return
        if copied is not None:
            log.info("copied %d standard practices from coordination", copied)
