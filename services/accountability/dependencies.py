"""Accountability's nameko adapters: a unit of work whose audit entries are MAC'd with the
service's key, and the audit trail (keys, checkpoint file, policy) for checkpointing."""

import functools

from nameko.extensions import DependencyProvider

from services.accountability import audit, store
from services.common.unit_of_work import UnitOfWorkProvider


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
    config at start (a key that cannot be used stops the service, not a decision)."""

    def __init__(self, *, schema: str, relay=None):
        super().__init__(schema=schema, store_module=store, relay=relay)

    def setup(self):
        super().setup()
        keys = audit.keys_from(self.container.config)
        self.store_module = AuditedStore(keys)
        self.on_record = functools.partial(audit.record_decision_entry, keys=keys)


class AuditTrailProvider(DependencyProvider):
    """Injects the service's :class:`audit.AuditTrail`, read once at start."""

    def setup(self):
        self.trail = audit.AuditTrail.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.trail
