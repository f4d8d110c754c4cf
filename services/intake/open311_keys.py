"""The operator's Open311 API keys (``python -m services.cli open311-keys add|list|revoke``).

A key is shown once, when it is made; intake keeps only its SHA-256
(:mod:`services.intake.integrations`). Revoking a key refuses its system's next request.
"""

import psycopg
from psycopg.rows import dict_row

from services.common.errors import InvalidField
from services.intake import integrations, store


def add_key(database_url: str, system_name: str, sites: list[str] | None) -> tuple[dict, str]:
    """A new key for ``system_name`` filing for ``sites`` (None: every site of the district);
    returns the stored row and the key itself."""
    name = integrations.system_name(system_name)
    key = integrations.new_api_key()
    with psycopg.connect(database_url, row_factory=dict_row) as conn, conn.cursor() as cur:
        known = sorted(store.open311_sites(cur))
        wanted = known if sites is None else sorted(set(sites))
        unknown = sorted(set(wanted) - set(known))
        if unknown or not wanted:
            raise InvalidField(f"场所不存在：{', '.join(unknown) or '（未指定）'}", "sites")
        row = store.insert_integration(
            cur, name, integrations.key_hash(key), integrations.key_hint(key), wanted
        )
    return row, key


def list_keys(database_url: str) -> list[dict]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn, conn.cursor() as cur:
        return store.integrations(cur)


def revoke_key(database_url: str, integration_id: int) -> dict | None:
    with psycopg.connect(database_url, row_factory=dict_row) as conn, conn.cursor() as cur:
        return store.revoke_integration(cur, integration_id)
