"""Accountability's nameko adapters: a unit of work whose audit entries are MAC'd with the
service's key and whose transactions run as the service's database role, and the audit trail
(keys, checkpoint file, policy) for checkpointing."""

import functools
from contextlib import contextmanager

from nameko.extensions import DependencyProvider
from psycopg import sql

from services.accountability import audit, events, store
from services.common.config import service_setting
from services.common.postgres import Database
from services.common.unit_of_work import UnitOfWork, UnitOfWorkProvider

# migration 0007's role: it may read and append to the audit trail, never change it
DEFAULT_SERVICE_ROLE = "bancheng_service"


class ServiceRoleDatabase(Database):
    """Transactions that run as ``role`` (``SET LOCAL ROLE``): whatever the service's own code
    executes cannot UPDATE, DELETE or TRUNCATE the audit trail nor disable its triggers, though
    the pool logs in as the owner. (A login role per service is the stronger boundary.)

    The role is set by each transaction's first statement (sent with its ``BEGIN``):
    ``SET LOCAL ROLE``, or for a consumed event the statement that records its id and takes the
    chain lock (:func:`store.handle_event_once`). The appends of one transaction share one
    locked read of the chain's tail (:func:`store.audit_chain_scope`)."""

    def __init__(self, pool, role: str | None, **options):
        super().__init__(pool, **options)
        self._role = role

    @contextmanager
    def transaction(self, *, role_set_by_first_statement: bool = False):
        with super().transaction() as cursor, store.audit_chain_scope(cursor):
            if self._role and not role_set_by_first_statement:
                cursor.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(self._role)))
            yield cursor

    @contextmanager
    def handling_once(self, schema: str, event: dict):
        """:meth:`Database.handling_once` on accountability's ``handled_events``, in one
        statement that first sets the role; a new event whose arrival is audited takes the
        chain lock in it too."""
        with self.transaction(role_set_by_first_statement=True) as cursor:
            fresh = store.handle_event_once(
                cursor,
                event,
                audited=events.audited_on_arrival(event["type"]),
                role=self._role or None,
            )
            yield cursor if fresh else None


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
