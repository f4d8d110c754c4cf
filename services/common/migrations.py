"""Schema migrations with yoyo: each service owns a PostgreSQL schema and its own history.

Every service keeps plain SQL files in ``services/<service>/migrations``; yoyo records what
ran in a ``_yoyo_migration`` table inside that service's schema and takes a lock, so several
instances starting at once migrate once.
"""

from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
from yoyo import get_backend, read_migrations

SERVICES_DIR = Path(__file__).resolve().parents[1]
SERVICE_SCHEMAS = ("intake", "coordination", "accountability", "reporting")


def _yoyo_url(database_url: str, schema: str) -> str:
    parts = urlsplit(database_url)
    query = "&".join(filter(None, [parts.query, urlencode({"schema": schema})]))
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, query, ""))


def ensure_database(database_url: str) -> None:
    """Create the database named in ``database_url`` when the server does not have it yet."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def migrate_service(database_url: str, schema: str) -> list[str]:
    """Apply the pending migrations of one service; returns the ids applied."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    backend = get_backend(_yoyo_url(database_url, schema))
    migrations = read_migrations(str(SERVICES_DIR / schema / "migrations"))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [migration.id for migration in pending]


def migrate_all(database_url: str) -> dict[str, list[str]]:
    """Create the database if needed and migrate every service's schema."""
    ensure_database(database_url)
    return {schema: migrate_service(database_url, schema) for schema in SERVICE_SCHEMAS}
