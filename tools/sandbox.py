"""Private PostgreSQL databases and RabbitMQ vhosts for test sessions and benchmark runs.

Each run works in a database and a vhost of its own, removed afterwards, so leftover rows or
messages never leak from one run into another.
"""

from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import requests


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
    requests.put(f"{api}/vhosts/{vhost}", auth=auth, timeout=10).raise_for_status()
    requests.put(
        f"{api}/permissions/{vhost}/{auth[0]}",
        json={"configure": ".*", "write": ".*", "read": ".*"},
        auth=auth,
        timeout=10,
    ).raise_for_status()
    return with_path(amqp_uri, f"/{name}")


def delete_vhost(management_url: str, name: str) -> None:
    api, auth = _management(management_url)
    requests.delete(f"{api}/vhosts/{quote(name, safe='')}", auth=auth, timeout=10)
