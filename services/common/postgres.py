"""PostgreSQL for nameko services: one psycopg_pool pool per process, green under eventlet.

psycopg 3 picks a C wait function that blocks in the kernel, which under eventlet freezes
every greenthread of the process while one query runs. Switching psycopg to its
``select``-based wait lets eventlet's patched ``select`` yield instead, so queries overlap.
"""

import logging
from contextlib import contextmanager

import psycopg
import psycopg.waiting
from nameko.extensions import DependencyProvider, SharedExtension
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from services.common.config import (
    SERVICE_DATABASES,
    database_password,
    database_role,
    service_database_url,
    service_setting,
)

log = logging.getLogger(__name__)


def use_green_wait() -> None:
    """Make psycopg wait through ``select.select`` (patched by eventlet when it is active)."""
    psycopg.waiting.wait = psycopg.waiting.wait_select


use_green_wait()


class TrackedCursor(psycopg.Cursor):
    """A cursor that remembers whether its transaction wrote events to the outbox."""

    wrote_events = False


def open_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    name: str = "bancheng",
    timezone: str = "Asia/Shanghai",
    wait_seconds: float = 30.0,
) -> ConnectionPool:
    """Open a pool whose connections return rows as dicts and times in ``timezone``.

    A worker waits at most ``wait_seconds`` for a connection; services keep that under their
    RPC deadline, so a lost database ends a request as a 503 instead of queueing workers.
    """
    pool = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=wait_seconds,
        kwargs={
            "row_factory": dict_row,
            "cursor_factory": TrackedCursor,
            "options": f"-c TimeZone={timezone}",
        },
        name=name,
        open=False,
    )
    pool.open(wait=True, timeout=30)
    return pool


def set_login_passwords(owner_url: str, config: dict) -> list[str]:
    """Give each service's login role (made by its migration) its password from the config
    (:func:`services.common.config.database_password`), as the owner of ``owner_url``.

    The password is hashed here (SCRAM, by libpq) so its clear text never reaches the server
    or its logs. Returns the roles. Raises
    :class:`~services.common.secrets.DevelopmentSecretError` when one is missing outside demo.
    """
    passwords = {service: database_password(config, service) for service in SERVICE_DATABASES}
    with psycopg.connect(owner_url, autocommit=True) as conn:
        for service, password in passwords.items():
            role = database_role(service)
            hashed = conn.pgconn.encrypt_password(
                password.encode(), role.encode(), b"scram-sha-256"
            )
            conn.execute(
                sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(hashed.decode())
                )
            )
    return [database_role(service) for service in SERVICE_DATABASES]


class PostgresPool(SharedExtension):
    """The process-wide pool, shared by every dependency of a container. A service logs in as
    its own role (:func:`services.common.config.service_database_url`), never as the owner."""

    def sizes(self, config) -> tuple[int, int]:
        return (
            int(service_setting(config, "DB_POOL_MIN", 2)),
            int(service_setting(config, "DB_POOL_MAX", 8)),
        )

    def setup(self):
        config = self.container.config
        min_size, max_size = self.sizes(config)
        self.pool = open_pool(
            service_database_url(config, self.container.service_name),
            min_size=min_size,
            max_size=max_size,
            name=self.container.service_name,
            timezone=service_setting(config, "TIMEZONE", "Asia/Shanghai"),
            wait_seconds=float(service_setting(config, "DB_POOL_WAIT_SECONDS", 3)),
        )

    def stop(self):
        self.pool.close()

    def kill(self):
        self.pool.close(timeout=0)


class Database:
    """What a worker sees: transactions on the shared pool, plus the outbox hook."""

    def __init__(self, pool: ConnectionPool, on_commit_with_events=None):
        self.pool = pool
        self._on_commit_with_events = on_commit_with_events

    @contextmanager
    def transaction(self):
        """Yield a cursor inside one transaction; commit on success, roll back on error.

        When the transaction wrote to the outbox, the relay is woken after the commit.
        """
        with self.pool.connection() as conn:
            with conn.transaction():
                cursor = conn.cursor()
                yield cursor
            if cursor.wrote_events and self._on_commit_with_events:
                self._on_commit_with_events()

    @contextmanager
    def handling_once(self, schema: str, event: dict):
        """A transaction for consuming ``event`` at most once.

        Yields a cursor, or ``None`` when this event id was already handled (a redelivery):
        the id is recorded in the same transaction as the handler's own writes.
        """
        with self.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {schema}.handled_events (event_id, event_type) VALUES (%s, %s) "
                "ON CONFLICT (event_id) DO NOTHING",
                (event["id"], event["type"]),
            )
            yield cursor if cursor.rowcount == 1 else None

    def ping(self) -> bool:
        with self.pool.connection() as conn:
            return conn.execute("SELECT 1 AS ok").fetchone()["ok"] == 1


class DatabaseProvider(DependencyProvider):
    """Injects a :class:`Database`; its outbox relay runs beside it in the same container."""

    pool = PostgresPool()

    def __init__(self, relay=None):
        self.relay = relay

    def get_dependency(self, worker_ctx):
        wake = self.relay.wake if self.relay is not None else None
        return Database(self.pool.pool, on_commit_with_events=wake)


class SidePostgresPool(PostgresPool):
    """Two connections of their own, for a short transaction taken while the worker holds a
    connection of the main pool. Taking that second connection from the main pool could
    deadlock: with the pool dry, every worker would wait for a connection another one holds."""

    def sizes(self, config) -> tuple[int, int]:
        return 1, 2


class SideDatabaseProvider(DependencyProvider):
    """Injects a :class:`Database` on the :class:`SidePostgresPool` (no outbox relay)."""

    pool = SidePostgresPool()

    def get_dependency(self, worker_ctx):
        return Database(self.pool.pool)
