"""Login and sessions against the running system: throttling, revocation, CSRF on the login
form, no cookie for API writes, the open redirect (issue 12, item 5).

Each test signs in as a staff member of its own (inserted here), so that ending its sessions
or changing its password touches no login another test uses.
"""

import re
import uuid

import psycopg
import pytest
import requests

from services.common.passwords import hash_password
from services.gateway.forms import CSRF_COOKIE, CSRF_FIELD
from services.gateway.http import TOKEN_COOKIE
from tests.system import API

SITE = API.rsplit("/api/v1", 1)[0]
PASSWORD = "first-password"


@pytest.fixture
def member(system, service_config):
    """A window staff member of HALL with a login of its own."""
    suffix = uuid.uuid4().hex[:8]
    member = {"id": f"T{suffix}", "username": f"e2e.{suffix}"}
    with psycopg.connect(service_config["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO intake.staff (id, name, site_code, role, username, password_hash) "
            "VALUES (%s, '测试员', 'HALL', 'window_staff', %s, %s)",
            (member["id"], member["username"], hash_password(PASSWORD)),
        )
    yield member
    with psycopg.connect(service_config["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("DELETE FROM intake.login_failures WHERE account = %s", (member["username"],))
        conn.execute("DELETE FROM intake.staff WHERE id = %s", (member["id"],))


def api_login(username: str, password: str = PASSWORD) -> requests.Response:
    return requests.post(
        f"{API}/auth/login", json={"username": username, "password": password}, timeout=10
    )


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_five_failures_lock_the_account_with_a_chinese_message(member):
    for _ in range(5):
        assert api_login(member["username"], "wrong").status_code == 401
    locked = api_login(member["username"])  # the right password, too late
    assert locked.status_code == 429
    assert re.fullmatch(r"登录失败次数过多，请 \d+ 分钟后再试", locked.json()["error"]["message"])
    # the login page says the same
    browser = requests.Session()
    form = browser.get(f"{SITE}/login", timeout=10)
    page = browser.post(
        f"{SITE}/login",
        data={"username": member["username"], "password": PASSWORD, CSRF_FIELD: csrf_of(form)},
        allow_redirects=False,
        timeout=10,
    )
    assert page.status_code == 429
    assert "登录失败次数过多" in page.text


def test_logout_ends_every_session_of_the_user(member):
    first, second = api_login(member["username"]).json(), api_login(member["username"]).json()
    assert requests.get(f"{API}/sites", headers=bearer(first["token"]), timeout=10).ok
    assert "sv" not in first["user"] and "session_version" not in first["user"]
    out = requests.post(f"{API}/auth/logout", headers=bearer(first["token"]), timeout=10)
    assert out.status_code == 204
    for token in (first["token"], second["token"]):
        # another gateway instance could keep the old version for a few seconds; this one not
        refused = requests.get(f"{API}/sites", headers=bearer(token), timeout=10)
        assert refused.status_code == 401
    fresh = api_login(member["username"]).json()["token"]
    assert requests.get(f"{API}/sites", headers=bearer(fresh), timeout=10).ok


def test_a_password_change_ends_every_session_and_the_old_password(member):
    token = api_login(member["username"]).json()["token"]
    wrong = requests.post(
        f"{API}/auth/password",
        json={"current_password": "not-it", "new_password": "second-password"},
        headers=bearer(token),
        timeout=10,
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "current_password"
    changed = requests.post(
        f"{API}/auth/password",
        json={"current_password": PASSWORD, "new_password": "second-password"},
        headers=bearer(token),
        timeout=10,
    )
    assert changed.status_code == 204
    assert requests.get(f"{API}/sites", headers=bearer(token), timeout=10).status_code == 401
    assert api_login(member["username"]).status_code == 401
    assert api_login(member["username"], "second-password").status_code == 200


def csrf_of(page: requests.Response) -> str:
    return re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text).group(1)


def test_the_login_form_needs_its_csrf_token_and_next_stays_on_the_site(member):
    browser = requests.Session()
    credentials = {"username": member["username"], "password": PASSWORD}
    # a form posted from another site: no CSRF cookie, no token
    forged = requests.post(f"{SITE}/login", data=credentials, allow_redirects=False, timeout=10)
    assert forged.status_code == 403
    form = browser.get(f"{SITE}/login", params={"next": "/\t/evil.com"}, timeout=10)
    assert form.ok and browser.cookies.get(CSRF_COOKIE)
    assert "default-src 'self'" in form.headers["Content-Security-Policy"]
    signed_in = browser.post(
        f"{SITE}/login",
        data={**credentials, "next": "/\t/evil.com", CSRF_FIELD: csrf_of(form)},
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/"
    assert browser.cookies.get(TOKEN_COOKIE)


def test_the_api_refuses_the_cookie_for_writes(member):
    token = api_login(member["username"]).json()["token"]
    cookies = {TOKEN_COOKIE: token}
    read = requests.get(f"{API}/sites", cookies=cookies, timeout=10)
    assert read.status_code == 200
    write = requests.post(f"{API}/feedback", json={}, cookies=cookies, timeout=10)
    assert write.status_code == 401
    assert "Authorization" in write.json()["error"]["message"]


def test_the_menus_logout_form_ends_the_session(member):
    browser = requests.Session()
    form = browser.get(f"{SITE}/login", timeout=10)
    data = {"username": member["username"], "password": PASSWORD, CSRF_FIELD: csrf_of(form)}
    browser.post(f"{SITE}/login", data=data, allow_redirects=False, timeout=10)
    token = browser.cookies.get(TOKEN_COOKIE)
    home = browser.get(f"{SITE}/", timeout=10)
    assert home.ok
    out = browser.post(
        f"{SITE}/logout", data={CSRF_FIELD: csrf_of(home)}, allow_redirects=False, timeout=10
    )
    assert out.status_code == 303, out.text
    assert requests.get(f"{API}/sites", headers=bearer(token), timeout=10).status_code == 401
