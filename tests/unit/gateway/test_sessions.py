"""Login and sessions at the front door: same-site ``next``, revocable tokens checked on every
request, no cookie for API writes, CSRF on every page form, CSP and HSTS on pages."""

import re
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder

from services.common.auth import TokenSigner
from services.common.errors import Unauthorized
from services.gateway import base
from services.gateway.forms import CSRF_COOKIE, CSRF_FIELD, csrf_matches
from services.gateway.http import TOKEN_COOKIE
from services.gateway.pages import common
from services.gateway.pages.common import PageBase, page, render
from services.gateway.pages.home import safe_next

SECRET = "unit-secret-0123456789abcdef"
STAFF = {"id": "S0001", "name": "王雅婷", "role": "window_staff", "site": "HALL"}
TEMPLATES = Path(common.TEMPLATES)


# -- next: only a path of this site ----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "/\t/evil.com",
        "/\n/evil.com",
        "//evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "https://evil.com/",
        "http:/evil.com",
        "javascript:alert(1)",
        "/ /evil.com",
        "/\x00/evil.com",
        "",
        None,
        "cases",
    ],
)
def test_next_going_off_site_becomes_the_dashboard(value):
    assert safe_next(value) == "/"


@pytest.mark.parametrize("value", ["/", "/cases?status=registered", "/cases/XW-1#flow"])
def test_next_within_the_site_is_kept(value):
    assert safe_next(value) == value


# -- the caller: revocable tokens, no cookie for API writes ---------------------------------


class FakeIntake:
    def __init__(self, version: int = 1):
        self.version = version
        self.asked = 0

    def act_as(self, user):  # the RPC proxy's identity assertion: nothing to assert here
        pass

    def session_version(self, staff_id):
        self.asked += 1
        return self.version if staff_id == STAFF["id"] else None


class Pages(PageBase):
    @page("/probe")
    def probe(self, request):
        return render("error.html", self._user(request), title="探针", error=Unauthorized("x"))


@pytest.fixture
def gateway():
    base._session_versions.clear()
    pages = Pages()
    pages.config = {"BANCHENG": {"TOKEN_SECRET": SECRET, "SESSION_CHECK_SECONDS": 60}}
    pages.intake = FakeIntake()
    yield pages
    base._session_versions.clear()


def token(version: int = 1) -> str:
    return TokenSigner(SECRET, 3600).issue({**STAFF, "session_version": version})


def request(method="GET", path="/api/v1/cases", *, bearer=None, cookies=None, data=None, **kw):
    headers = dict(kw.pop("headers", {}))
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return EnvironBuilder(method=method, path=path, headers=headers, data=data, **kw).get_request()


def test_a_token_of_the_current_session_version_is_the_caller(gateway):
    assert gateway._user(request(bearer=token()))["id"] == "S0001"


def test_a_token_of_an_ended_session_is_refused(gateway):
    gateway.intake.version = 2  # logged out (or the password changed) since
    with pytest.raises(Unauthorized) as refused:
        gateway._user(request(bearer=token(1)))
    assert "重新登录" in refused.value.message


def test_the_version_is_asked_once_per_few_seconds_and_again_after_a_local_logout(gateway):
    for _ in range(3):
        gateway._user(request(bearer=token()))
    assert gateway.intake.asked == 1
    gateway.intake.version = 2
    base.forget_session_version(STAFF["id"])
    with pytest.raises(Unauthorized):
        gateway._user(request(bearer=token(1)))
    assert gateway.intake.asked == 2


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_api_writes_refuse_the_cookie_alone(gateway, method):
    with pytest.raises(Unauthorized) as refused:
        gateway._user(request(method, cookies={TOKEN_COOKIE: token()}))
    assert "Authorization" in refused.value.message
    assert gateway._user(request(method, bearer=token()))["id"] == "S0001"


def test_api_reads_and_page_posts_accept_the_cookie(gateway):
    assert gateway._user(request("GET", cookies={TOKEN_COOKIE: token()}))["id"] == "S0001"
    page_post = request("POST", "/cases/new", cookies={TOKEN_COOKIE: token()})
    assert gateway._user(page_post)["id"] == "S0001"


# -- pages: CSRF, CSP, HSTS -------------------------------------------------------------------


def test_a_posted_form_must_carry_its_browsers_csrf_cookie():
    assert csrf_matches({CSRF_FIELD: "abc"}, {CSRF_COOKIE: "abc"})
    assert not csrf_matches({CSRF_FIELD: "abc"}, {CSRF_COOKIE: "abd"})
    assert not csrf_matches({}, {CSRF_COOKIE: "abc"})
    assert not csrf_matches({CSRF_FIELD: ""}, {})


def test_a_page_post_without_the_csrf_token_is_refused(gateway):
    cookies = {TOKEN_COOKIE: token(), CSRF_COOKIE: "the-browsers-token"}
    forged = gateway.probe(request("POST", "/probe", cookies=cookies, data={"x": "1"}))
    assert forged.status_code == 403
    assert "刷新页面" in forged.get_data(as_text=True)
    sent = gateway.probe(
        request("POST", "/probe", cookies=cookies, data={CSRF_FIELD: "the-browsers-token"})
    )
    assert sent.status_code == 200


def test_a_page_gives_a_new_browser_its_csrf_cookie_and_renders_it_into_forms(gateway):
    response = gateway.probe(request("GET", "/probe", cookies={TOKEN_COOKIE: token()}))
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(CSRF_COOKIE))
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    assert len(value) >= 32 and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    with_cookie = gateway.probe(
        request("GET", "/probe", cookies={TOKEN_COOKIE: token(), CSRF_COOKIE: value})
    )
    assert not any(c.startswith(CSRF_COOKIE) for c in with_cookie.headers.getlist("Set-Cookie"))


def test_a_rendered_form_carries_the_csrf_field():
    reset = common._PAGE_REQUEST.set(("tok-123", "nonce-1"))
    try:
        html = render("login.html", None, next="/", values={}).get_data(as_text=True)
    finally:
        common._PAGE_REQUEST.reset(reset)
    assert f'<input type="hidden" name="{CSRF_FIELD}" value="tok-123">' in html


def test_every_post_form_in_the_templates_has_the_csrf_field():
    forms = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for match in re.finditer(r"<form\b[^>]*>", text):
            if 'method="post"' in match.group(0).lower():
                following = text[match.end() : match.end() + 40]
                forms.append((template.name, following.startswith("{{ csrf_field() }}")))
    assert len(forms) >= 20
    assert [name for name, carried in forms if not carried] == []


def test_pages_carry_a_csp_that_runs_only_nonced_scripts(gateway):
    response = gateway.probe(request("GET", "/probe", cookies={TOKEN_COOKIE: token()}))
    csp = response.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    other = gateway.probe(request("GET", "/probe", cookies={TOKEN_COOKIE: token()}))
    assert nonce not in other.headers["Content-Security-Policy"]  # a nonce per response
    assert "Strict-Transport-Security" not in response.headers


def test_no_template_has_an_inline_script_without_the_nonce_or_an_event_attribute():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "<script>" not in text, template.name
        assert not re.search(r"\son[a-z]+=\"", text), template.name


@pytest.mark.parametrize(
    "how", [{"headers": {"X-Forwarded-Proto": "https"}}, {"base_url": "https://hall.example"}]
)
def test_over_https_the_cookies_are_secure_and_hsts_is_sent(gateway, how):
    response = gateway.probe(request("GET", "/probe", cookies={TOKEN_COOKIE: token()}, **how))
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(CSRF_COOKIE))
    assert "Secure" in cookie


def test_no_two_route_groups_name_an_entrypoint_alike():
    """The gateway is one class made of the route groups: a method named like another group's
    hides that one's route (the API's logout once hid the pages' /logout)."""
    from nameko.web.handlers import HttpRequestHandler

    from services.gateway.service import GatewayService

    owners: dict[str, list[str]] = {}
    for group in GatewayService.__mro__[1:]:
        for name, member in vars(group).items():
            handlers = getattr(member, "nameko_entrypoints", ())
            if any(isinstance(handler, HttpRequestHandler) for handler in handlers):
                owners.setdefault(name, []).append(group.__name__)
    assert {name: groups for name, groups in owners.items() if len(groups) > 1} == {}
    assert "auth_logout" in owners and "logout" in owners
