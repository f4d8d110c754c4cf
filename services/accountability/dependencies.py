"""Accountability's nameko adapters: a unit of work whose audit entries are MAC'd with the
service's key and whose transactions run as the service's database role, and the audit trail
(keys, checkpoint file, policy) for checkpointing."""

import functools
from contextlib import contextmanager

from nameko.extensions import DependencyProvider
from psycopg import sql

from services.accountability import audit, store
from services.common.config import service_setting
from services.common.postgres import Database
from services.common.unit_of_work import UnitOfWork, UnitOfWorkProvider

# migration 0007's role: it may read and append to the audit trail, never change it
DEFAULT_SERVICE_ROLE = "bancheng_service"


class ServiceRoleDatabase(Database):
    """Transactions that run as ``role`` (``SET LOCAL ROLE``): whatever the service's own code
    executes cannot UPDATE, DELETE or TRUNCATE the audit trail nor disable its triggers, though
    the pool logs in as the owner. (A login role per service is the stronger boundary.)"""

    def __init__(self, pool, role: str | None, **options):
        super().__init__(pool, **options)
        self._role = role

    @contextmanager
    def transaction(self):
        with super().transaction() as cursor:
            if self._role:
                cursor.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(self._role)))
            yield cursor


class AuditedStore:
    """``store``'s functions, with every audit append MAC'd under ``keys`` (handlers append
    without knowing the key)."""

    def __init__(self, keys):
        self._keys = keys

    def __getattr__(self, name: str):
        return getattr(store, name)

    def append_audit_entry(self, cur, **entry) -> int:
        return store.append_audit_entry(cur, keys=self._keys, **entry)


class AuditedUnitOfWorkProvider(UnitOfWorkProvider):
    """The unit of work of :mod:`services.common.unit_of_work`, with the audit key read from the
    config at start (a key that cannot be used stops the service, not a decision) and every
    transaction run as ``ACCOUNTABILITY_DB_ROLE`` (``bancheng_service`` by default)."""

    def __init__(self, *, schema: str, relay=None):
        super().__init__(schema=schema, store_module=store, relay=relay)

    def setup(self):
        super().setup()
        config = self.container.config
        keys = audit.keys_from(config)
        self.store_module = AuditedStore(keys)
        self.on_record = functools.partial(audit.record_decision_entry, keys=keys)
        # empty: the login role's own rights (a database without migration 0007's role)
        self.role = service_setting(config, "ACCOUNTABILITY_DB_ROLE", DEFAULT_SERVICE_ROLE)

    def get_dependency(self, worker_ctx):
        wake = self.relay.wake if self.relay is not None else None
        return UnitOfWork(
            ServiceRoleDatabase(self.pool.pool, self.role, on_commit_with_events=wake),
            schema=self.schema,
            service=self.container.service_name,
            store_module=self.store_module,
            on_record=self.on_record,
        )


class AuditTrailProvider(DependencyProvider):
    """Injects the service's :class:`audit.AuditTrail`, read once at start."""

    def setup(self):
        self.trail = audit.AuditTrail.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.trail
