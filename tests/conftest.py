"""Test-wide set-up: eventlet first, then a private database and RabbitMQ vhost per session.

nameko's pytest plugin does not monkey-patch, and psycopg must see the patched ``select``,
so patching happens here before anything else is imported. Every test session works in its
own PostgreSQL database and its own vhost, both removed at the end, so leftover messages or
rows never leak between runs.
"""

import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import uuid  # noqa: E402
from urllib.parse import quote, urlsplit, urlunsplit  # noqa: E402

import psycopg  # noqa: E402
import pytest  # noqa: E402
import requests  # noqa: E402

from services.common.config import REPO_ROOT, load_config  # noqa: E402

BASE_CONFIG = load_config()
SEED_DIR = REPO_ROOT / "deploy" / "seed" / "xuanwu"
RUN_ID = f"bancheng_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


@pytest.fixture(scope="session")
def database_url():
    """A fresh database, migrated and seeded with the reference district."""
    from services.common.migrations import migrate_all
    from services.intake.seed import load_seed

    url = _with_path(BASE_CONFIG["DATABASE_URL"], f"/{RUN_ID}")
    migrate_all(url)
    load_seed(url, SEED_DIR)
    yield url
    with psycopg.connect(_with_path(url, "/postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{RUN_ID}" WITH (FORCE)')


@pytest.fixture(scope="session")
def amqp_uri():
    """A vhost of its own, made and removed through the management API."""
    management = BASE_CONFIG["RABBIT_MANAGEMENT_URL"].rstrip("/")
    parts = urlsplit(management)
    auth = (parts.username or "guest", parts.password or "guest")
    api = f"{parts.scheme}://{parts.hostname}:{parts.port}/api"
    vhost = quote(RUN_ID, safe="")
    requests.put(f"{api}/vhosts/{vhost}", auth=auth, timeout=10).raise_for_status()
    requests.put(
        f"{api}/permissions/{vhost}/{auth[0]}",
        json={"configure": ".*", "write": ".*", "read": ".*"},
        auth=auth,
        timeout=10,
    ).raise_for_status()
    yield _with_path(BASE_CONFIG["AMQP_URI"], f"/{RUN_ID}")
    requests.delete(f"{api}/vhosts/{vhost}", auth=auth, timeout=10)


@pytest.fixture(scope="session")
def service_config(database_url, amqp_uri):
    """The nameko config the services get, pointed at this session's database and vhost."""
    return {**BASE_CONFIG, "DATABASE_URL": database_url, "AMQP_URI": amqp_uri}


@pytest.fixture
def db(database_url):
    """A pool on the session database (rows as dicts), closed after the test."""
    from services.common.postgres import open_pool

    pool = open_pool(database_url, min_size=1, max_size=8)
    yield pool
    pool.close()
