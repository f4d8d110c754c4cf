"""Intake's nameko adapter for registration: the :class:`Registrar` its use cases receive."""

from datetime import date, timedelta

from nameko.extensions import DependencyProvider

from services.common import secrets, signing
from services.common.config import service_setting
from services.common.postgres import SidePostgresPool
from services.intake import domain, personal_data, store
from services.intake.handlers import Registrar


class RegistrarProvider(DependencyProvider):
    """Gives every worker the service's :class:`Registrar`: case numbers taken on the side
    pool (connections of their own: a registration holding a connection of the main pool
    never waits for a second one from it), the ID-number cipher and the repeat-visit window
    from the configuration."""

    pool = SidePostgresPool()

    def setup(self):
        config = self.container.config
        days = int(service_setting(config, "REPEAT_VISIT_DAYS", 90))
        back = float(service_setting(config, "RECEIVED_AT_MAX_DAYS_BACK", 3))
        seal_key = signing.assertion_key(config)
        self.registrar = Registrar(
            reserve_case_numbers=self._reserve_case_numbers,
            protect=self._protect,
            repeat_window=timedelta(days=days),
            received_at_max_back=timedelta(days=back),
            # docs/network.md: a site node's intake, or the district's list of site nodes
            site_node=(service_setting(config, "SITE_NODE") or "").strip().upper() or None,
            site_nodes=domain.site_nodes(service_setting(config, "SITE_NODES")),
            seal=lambda value: signing.seal(seal_key, value),
            unseal=lambda token: signing.unseal(seal_key, token),
        )
        # built at start: a key that cannot be used stops the process, not a registration
        self._cipher = cipher_from_config(self.container.config)

    def get_dependency(self, worker_ctx) -> Registrar:
        return self.registrar

    def _reserve_case_numbers(self, day: date, site: str, count: int) -> int:
        # one upsert, atomic on its own: in autocommit it costs one round trip, where a
        # transaction around it would add its BEGIN and COMMIT
        with self.pool.pool.connection() as conn:
            conn.autocommit = True
            try:
                return store.reserve_case_sequences(conn.cursor(), day, site, count)
            finally:
                if not conn.broken:
                    conn.autocommit = False

    def _protect(self, id_number: str | None, kind: str | None) -> dict:
        return personal_data.protect(self._cipher, id_number, kind)


def cipher_from_config(config: dict) -> personal_data.IdNumberCipher:
    """The ID-number cipher of ``config``: its keys (current first) and its lookup key."""
    return personal_data.IdNumberCipher(
        secrets.id_number_keys(config), lookup_secret=secrets.id_lookup_secret(config)
    )
