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
from psycopg.pq import TransactionStatus
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
    """A cursor that remembers whether its transaction wrote events to the outbox.

    Inside :meth:`Database.transaction` it also saves round trips, the main cost of a service
    here (each is a send, a poll and a receive): the transaction's first statement travels in
    one simple-protocol message with its ``BEGIN``, and writes whose result nobody reads
    (:meth:`defer`) travel with the ``COMMIT``. Outside it, it is a plain cursor.
    """

    wrote_events = False
    _begin_pending = False
    _deferred: list[str] | None = None
    _binder: psycopg.ClientCursor | None = None

    def _open_transaction(self) -> None:
        """Called by :meth:`Database.transaction` on an autocommit connection: BEGIN goes
        with the first statement."""
        self._begin_pending = True
        self._deferred = []
        self._binder = psycopg.ClientCursor(self.connection)

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if not self._begin_pending or binary:
            return super().execute(query, params, prepare=prepare, binary=binary)
        self._begin_pending = False
        # the statement bound here, so both go as one simple-protocol message
        super().execute("BEGIN; " + self._binder.mogrify(query, params), prepare=False)
        self.nextset()  # the statement's result, not BEGIN's
        return self

    def executemany(self, query, params_seq, *, returning=False):
        self._begin_now()
        return super().executemany(query, params_seq, returning=returning)

    def copy(self, statement, params=None, *, writer=None):
        self._begin_now()
        return super().copy(statement, params, writer=writer)

    def defer(self, query, params=None) -> None:
        """Run ``query`` at COMMIT, in the same round trip: for a write whose result nobody
        reads and that nothing later in the transaction reads or depends on (deferred
        statements run in order, after every statement executed normally)."""
        if self._deferred is None:  # not in Database.transaction: run it now
            self.execute(query, params)
            return
        self._deferred.append(self._binder.mogrify(query, params))

    def flush_deferred(self) -> None:
        """Run the deferred statements now (before reading what they write)."""
        if self._deferred:
            statements, self._deferred = self._deferred, []
            self._run_in_transaction(statements)

    def _begin_now(self) -> None:
        if self._begin_pending:
            self._run_in_transaction([])

    def _commit(self) -> None:
        statements, self._deferred = self._deferred or [], None
        if self._begin_pending and not statements:  # nothing was run: nothing to commit
            self._begin_pending = False
            return
        self._run_in_transaction([*statements, "COMMIT"])

    def _run_in_transaction(self, statements: list[str]) -> None:
        """Send ``statements`` as one text, opening the transaction first if nothing did."""
        if self._begin_pending:
            self._begin_pending = False
            statements = ["BEGIN", *statements]
        self._run_text("; ".join(statements))

    def _rollback(self) -> None:
        self._deferred = None
        if self._begin_pending:
            self._begin_pending = False
            return
        if not self.connection.broken:
            self.connection.execute("ROLLBACK")

    def _run_text(self, text: str) -> None:
        # a raw text with no parameters: sent with the simple protocol, never prepared
        psycopg.Cursor.execute(self, text, prepare=False)


def defer(cursor, query, params=None) -> None:
    """``cursor.defer(query, params)`` where the cursor can (a transaction of
    :class:`Database`), else execute it now (a plain psycopg cursor)."""
    if isinstance(cursor, TrackedCursor):
        cursor.defer(query, params)
    else:
        cursor.execute(query, params)


def flush_deferred(cursor) -> None:
    """Run ``cursor``'s deferred writes now, before a read of the tables they write."""
    if isinstance(cursor, TrackedCursor):
        cursor.flush_deferred()


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


def read_alone(pool: ConnectionPool, query, params=None) -> list[dict]:
    """The rows of one read-only statement, in one round trip (no BEGIN, no COMMIT)."""
    with pool.connection() as conn:
        conn.autocommit = True
        try:
            return conn.execute(query, params).fetchall()
        finally:
            if not conn.broken:
                conn.autocommit = False


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
            # BEGIN and COMMIT are sent by the cursor, each with other statements
            conn.autocommit = True
            try:
                cursor = conn.cursor()
                cursor._open_transaction()
                try:
                    yield cursor
                    cursor._commit()
                except BaseException:
                    cursor._rollback()
                    raise
            finally:
                if not conn.broken and conn.info.transaction_status == TransactionStatus.IDLE:
                    conn.autocommit = False
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
        return read_alone(self.pool, "SELECT 1 AS ok")[0]["ok"] == 1


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
