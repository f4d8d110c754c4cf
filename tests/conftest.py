"""Test-wide set-up: eventlet first, then a private database and RabbitMQ vhost per session.

nameko's pytest plugin does not monkey-patch, and psycopg must see the patched ``select``,
so patching happens here before anything else is imported. Every test session works in its
own PostgreSQL database and its own vhost, both removed at the end, so leftover messages or
rows never leak between runs.
"""

import os

# Hypothesis loads third-party plugins on import; trio's (a selenium dependency) cannot be
# imported once eventlet has patched socket, so plugins stay off.
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")

# every system a test session starts is a demo: development secrets and the demo logins
# (services.common.secrets); a test of the refusal clears it in the environment it passes on
os.environ.setdefault("BANCHENG_DEMO", "1")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import socket  # noqa: E402

import pytest  # noqa: E402

from services.common.config import REPO_ROOT, load_config  # noqa: E402
from tools import sandbox  # noqa: E402

# the running system (processes) shared by e2e, browser and bench tests
pytest_plugins = ["tests.system"]

BASE_CONFIG = load_config()
SEED_DIR = REPO_ROOT / "deploy" / "seed" / "xuanwu"
RUN_ID = sandbox.sandbox_name("test")


@pytest.fixture(scope="session")
def database_url():
    """A fresh database, migrated and seeded with the reference district."""
    from services.intake.seed import load_seed

    sandbox.sweep_stale(BASE_CONFIG["DATABASE_URL"], BASE_CONFIG["RABBIT_MANAGEMENT_URL"])
    url = sandbox.create_database(BASE_CONFIG["DATABASE_URL"], RUN_ID)
    load_seed(url, SEED_DIR)
    yield url
    sandbox.drop_database(url)


@pytest.fixture(scope="session")
def amqp_uri():
    """A vhost of its own, made and removed through the management API."""
    management = BASE_CONFIG["RABBIT_MANAGEMENT_URL"]
    yield sandbox.create_vhost(BASE_CONFIG["AMQP_URI"], management, RUN_ID)
    sandbox.delete_vhost(management, RUN_ID)


@pytest.fixture(scope="session")
def service_config(database_url, amqp_uri):
    """The nameko config the services get, pointed at this session's database and vhost.

    In-process containers serve HTTP on a free port of their own, never on the front door's
    8000 where a `make up` system (or another test run) may listen.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return {
        **BASE_CONFIG,
        "DATABASE_URL": database_url,
        "AMQP_URI": amqp_uri,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
    }


@pytest.fixture
def db(database_url):
    """A pool on the session database (rows as dicts), closed after the test."""
    from services.common.postgres import open_pool

    pool = open_pool(database_url, min_size=1, max_size=8)
    yield pool
    pool.close()
