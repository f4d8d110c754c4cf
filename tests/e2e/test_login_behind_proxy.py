"""Failed logins are counted against the client's address, behind a proxy or not (issue 12).

The test system trusts one "reverse proxy", 127.0.0.2 (TRUSTED_PROXIES); a client connecting
from 127.0.0.2 plays it. Intake keeps each failure with the address it was counted against.
"""

import http.client
import json
import uuid

import psycopg
import pytest

from services.gateway.forms import CSRF_COOKIE, CSRF_FIELD, new_csrf_token
from tests.system import GATEWAY_PORT

pytestmark = pytest.mark.e2e


def failed_login(username: str, forwarded_for: str | None, source: str, path: str) -> int:
    connection = http.client.HTTPConnection(
        "127.0.0.1", GATEWAY_PORT, timeout=10, source_address=(source, 0)
    )
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    if path == "/api/v1/auth/login":
        body = json.dumps({"username": username, "password": "wrong"})
        headers["Content-Type"] = "application/json"
    else:  # the page's form, with its CSRF token (double submit of the cookie)
        token = new_csrf_token()
        body = f"username={username}&password=wrong&next=/&{CSRF_FIELD}={token}"
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Cookie"] = f"{CSRF_COOKIE}={token}"
    try:
        connection.request("POST", path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def addresses_counted(database_url: str, username: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT address FROM intake.login_failures WHERE account = %s ORDER BY id", (username,)
        ).fetchall()
    return [address for (address,) in rows]


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/login"])
def test_a_direct_clients_forged_forwarded_address_is_ignored(system, database_url, path):
    username = f"probe-{uuid.uuid4().hex[:8]}"
    assert failed_login(username, "198.51.100.7", "127.0.0.1", path) == 401
    assert failed_login(username, None, "127.0.0.1", path) == 401
    assert addresses_counted(database_url, username) == ["127.0.0.1", "127.0.0.1"]


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/login"])
def test_through_the_trusted_proxy_the_client_is_the_hop_it_appended(system, database_url, path):
    username = f"probe-{uuid.uuid4().hex[:8]}"
    # the client forged 1.2.3.4; the proxy appended the address it saw, 198.51.100.8
    assert failed_login(username, "1.2.3.4, 198.51.100.8", "127.0.0.2", path) == 401
    assert addresses_counted(database_url, username) == ["198.51.100.8"]
