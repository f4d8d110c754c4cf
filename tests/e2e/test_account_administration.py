"""Logins outside demo mode (issue 12): the operator's ``services.cli users`` command and the
page where a signed-in user changes their own password, against the running system.

Every login here is made by the test (its own staff member), so ending its sessions touches
no login another test uses. The command runs as an operator would run it: a subprocess, not in
demo mode, the password on stdin.
"""

import os
import re
import subprocess
import sys
import uuid

import psycopg
import pytest
import requests

from services.common.config import REPO_ROOT
from services.common.passwords import hash_password
from services.gateway.forms import CSRF_COOKIE, CSRF_FIELD
from services.gateway.http import TOKEN_COOKIE
from tests.integration.helpers import wait_for
from tests.system import API

pytestmark = pytest.mark.e2e

SITE = API.rsplit("/api/v1", 1)[0]


def users(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "BANCHENG_DEMO": "0"}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
    )


def api_login(username: str, password: str) -> requests.Response:
    return requests.post(
        f"{API}/auth/login", json={"username": username, "password": password}, timeout=10
    )


def refused_within_seconds(token: str) -> bool:
    """The token is refused (the gateway re-reads a session version at most 5 s old)."""
    headers = {"Authorization": f"Bearer {token}"}

    def refused():
        return requests.get(f"{API}/sites", headers=headers, timeout=10).status_code == 401

    wait_for(refused, timeout=12, interval=0.5)
    return True


@pytest.fixture
def staff_id(service_config):
    staff_id = f"U{uuid.uuid4().hex[:8]}"
    yield staff_id
    with psycopg.connect(service_config["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("DELETE FROM intake.staff WHERE id = %s", (staff_id,))


def test_the_operator_adds_re_passwords_disables_and_lists_a_login(system, database_url, staff_id):
    username = f"op.{staff_id.lower()}"
    added = users(
        database_url,
        *("add", username, "--staff-id", staff_id, "--name", "李四", "--role", "officer"),
        stdin="first-password-1\n",
    )
    assert added.returncode == 0, added.stderr
    assert "first-password-1" not in added.stdout + added.stderr
    token = api_login(username, "first-password-1").json()["token"]
    listed = users(database_url, "list")
    assert f"{username}\t{staff_id}\t李四\tofficer\t-\tenabled" in listed.stdout

    changed = users(database_url, "passwd", username, stdin="second-password-2\n")
    assert changed.returncode == 0, changed.stderr
    assert refused_within_seconds(token)  # every session of the old password ended
    assert api_login(username, "first-password-1").status_code == 401
    token = api_login(username, "second-password-2").json()["token"]

    disabled = users(database_url, "disable", username)
    assert disabled.returncode == 0, disabled.stderr
    assert refused_within_seconds(token)
    assert api_login(username, "second-password-2").status_code == 401
    assert (
        f"{username}\t{staff_id}\t李四\tofficer\t-\tdisabled" in users(database_url, "list").stdout
    )
    # passwd enables it again
    assert users(database_url, "passwd", username, stdin="third-password-3\n").returncode == 0
    assert api_login(username, "third-password-3").status_code == 200


def test_the_command_takes_no_password_on_its_command_line_and_refuses_bad_ones(
    database_url, staff_id
):
    username = f"op.{staff_id.lower()}"
    on_argv = users(database_url, "add", username, "--staff-id", staff_id, "--password", "x")
    assert on_argv.returncode == 2 and "unrecognized arguments" in on_argv.stderr
    short = users(
        database_url,
        *("add", username, "--staff-id", staff_id, "--name", "王五", "--role", "officer"),
        stdin="short\n",
    )
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    taken = users(
        database_url,
        *("add", "officer", "--staff-id", staff_id, "--name", "王五", "--role", "officer"),
        stdin="long-enough-password\n",
    )
    assert taken.returncode == 1 and "'officer' is taken" in taken.stderr
    unknown = users(database_url, "passwd", f"nobody-{staff_id}", stdin="long-enough-password\n")
    assert unknown.returncode == 1 and "no login named" in unknown.stderr


# -- the page ------------------------------------------------------------------------------


@pytest.fixture
def member(service_config, staff_id):
    username = f"pw.{staff_id.lower()}"
    with psycopg.connect(service_config["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO intake.staff (id, name, site_code, role, username, password_hash) "
            "VALUES (%s, '测试员', 'HALL', 'window_staff', %s, %s)",
            (staff_id, username, hash_password("page-password-1")),
        )
    return username


def csrf_of(page: requests.Response) -> str:
    return re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text).group(1)


def signed_in_browser(username: str, password: str) -> requests.Session:
    browser = requests.Session()
    form = browser.get(f"{SITE}/login", timeout=10)
    data = {"username": username, "password": password, CSRF_FIELD: csrf_of(form)}
    signed_in = browser.post(f"{SITE}/login", data=data, allow_redirects=False, timeout=10)
    assert signed_in.status_code == 303, signed_in.text
    return browser


def test_a_user_changes_their_own_password_on_the_page(system, member):
    other_session = api_login(member, "page-password-1").json()["token"]
    browser = signed_in_browser(member, "page-password-1")
    home = browser.get(f"{SITE}/", timeout=10)
    assert 'href="/account/password"' in home.text  # the header links to it
    form = browser.get(f"{SITE}/account/password", timeout=10)
    assert form.status_code == 200
    assert "修改密码" in form.text and "当前密码" in form.text and "再次输入新密码" in form.text
    token = csrf_of(form)

    def post(**fields):
        return browser.post(
            f"{SITE}/account/password",
            data={CSRF_FIELD: token, **fields},
            allow_redirects=False,
            timeout=10,
        )

    wrong = post(
        current_password="not-it",
        new_password="page-password-2",
        new_password_again="page-password-2",
    )
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.text
    differ = post(
        current_password="page-password-1",
        new_password="page-password-2",
        new_password_again="page-password-3",
    )
    assert differ.status_code == 422 and "两次输入的新密码不一致" in differ.text
    short = post(current_password="page-password-1", new_password="短", new_password_again="短")
    assert short.status_code == 422 and "新密码至少" in short.text
    # a form posted from elsewhere, without the token, changes nothing
    forged = requests.post(
        f"{SITE}/account/password",
        data={"current_password": "page-password-1", "new_password": "x" * 12},
        cookies={TOKEN_COOKIE: browser.cookies.get(TOKEN_COOKIE)},
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 403

    done = post(
        current_password="page-password-1",
        new_password="page-password-2",
        new_password_again="page-password-2",
    )
    assert done.status_code == 200 and "密码已修改" in done.text
    assert not browser.cookies.get(TOKEN_COOKIE)  # this browser is signed out
    headers = {"Authorization": f"Bearer {other_session}"}
    assert requests.get(f"{API}/sites", headers=headers, timeout=10).status_code == 401
    assert api_login(member, "page-password-1").status_code == 401
    assert api_login(member, "page-password-2").status_code == 200
    assert browser.cookies.get(CSRF_COOKIE)


def test_the_password_page_needs_a_login(system):
    anonymous = requests.get(f"{SITE}/account/password", allow_redirects=False, timeout=10)
    assert anonymous.status_code in (302, 303)
    assert anonymous.headers["Location"].startswith("/login")
