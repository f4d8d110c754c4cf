"""Private PostgreSQL databases and RabbitMQ vhosts for test sessions and benchmark runs.

Each run works in a database and a vhost of its own, removed afterwards, so leftover rows or
messages never leak from one run into another. A run that was killed cannot remove its own:
every name carries the pid of the process that made it (:func:`sandbox_name`), and
:func:`sweep_stale` removes the sandboxes of processes that no longer exist, so they do not pile
up on the machine's one broker (each vhost holds quorum queues, a Raft group apiece: a few dozen
forgotten vhosts made vhost creation time out for every later run).
"""

import logging
import os
import re
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import requests

log = logging.getLogger(__name__)

# bancheng_<label>_<pid>_<hex>: the pid of the process that made it
SANDBOX_NAME = re.compile(r"^bancheng_[a-z0-9_]+?_(\d+)_[0-9a-f]{6,}$")
# deleting a vhost deletes its quorum queues one by one: seconds on a busy broker
DELETE_SECONDS = 120


def sandbox_name(label: str) -> str:
    """A database or vhost name for this process's sandbox, e.g. ``bancheng_test_4711_3fa2c1``."""
    return f"bancheng_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def owner_gone(name: str) -> bool:
    """Whether ``name`` is a sandbox whose creating process has ended (on this machine)."""
    match = SANDBOX_NAME.match(name)
    if match is None:
        return False
    pid = int(match.group(1))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep_stale(database_url: str, management_url: str) -> list[str]:
    """Remove the databases and vhosts of sandboxes whose process has ended; returns their names."""
    removed = []
    with psycopg.connect(with_path(database_url, "/postgres"), autocommit=True) as conn:
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database")]
    for name in filter(owner_gone, names):
        drop_database(with_path(database_url, f"/{name}"))
        removed.append(name)
    api, auth = _management(management_url)
    vhosts = requests.get(f"{api}/vhosts?columns=name", auth=auth, timeout=30)
    vhosts.raise_for_status()
    for name in filter(owner_gone, (v["name"] for v in vhosts.json())):
        delete_vhost(management_url, name)
        removed.append(name)
    if removed:
        log.warning("removed %d sandboxes of ended runs: %s", len(removed), ", ".join(removed))
    return removed


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def create_database(server_url: str, name: str) -> str:
    """Create ``name`` on the server of ``server_url``, migrated; returns its URL."""
    from services.common.migrations import migrate_all

    url = with_path(server_url, f"/{name}")
    migrate_all(url)
    return url


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(with_path(url, "/postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _management(management_url: str):
    parts = urlsplit(management_url.rstrip("/"))
    auth = (parts.username or "guest", parts.password or "guest")
    return f"{parts.scheme}://{parts.hostname}:{parts.port}/api", auth


def create_vhost(amqp_uri: str, management_url: str, name: str) -> str:
    """Create vhost ``name`` with full rights for the management user; returns its AMQP URI."""
    api, auth = _management(management_url)
    vhost = quote(name, safe="")
    requests.put(f"{api}/vhosts/{vhost}", auth=auth, timeout=30).raise_for_status()
    requests.put(
        f"{api}/permissions/{vhost}/{auth[0]}",
        json={"configure": ".*", "write": ".*", "read": ".*"},
        auth=auth,
        timeout=30,
    ).raise_for_status()
    return with_path(amqp_uri, f"/{name}")


def delete_vhost(management_url: str, name: str) -> None:
    api, auth = _management(management_url)
    try:
        requests.delete(
            f"{api}/vhosts/{quote(name, safe='')}", auth=auth, timeout=DELETE_SECONDS
        ).raise_for_status()
    except requests.RequestException as error:
        # left for the next run's sweep_stale, which finds it by its ended pid
        log.warning("vhost %s not deleted: %s", name, error)
