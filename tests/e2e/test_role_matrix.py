"""The role matrix (issue 12, item 7): every route of the front door × every role × own and
other site, generated from the gateway's route table and checked against the running system.

:data:`RULES` says, for each route, which roles it serves, which of them reach every site, what
a served role gets (the ``ok`` status: 200 for reads; for writes the refusal of an empty or
unknown request, which proves the role got past the door without changing anything) and what
another site's staff get. A route missing from :data:`RULES` fails
:func:`test_every_route_has_a_rule`, so a new route without a rule fails the suite.

Cells: a route with a site-bound parameter (a case, a joint meeting, a staff member) or a site
filter is asked about the user's own site and the other one (HALL / XJK); the others once.
The API is called with Bearer tokens, pages with the session cookie and GET only (page forms
are CSRF-protected: their rules are listed, not probed here). Logout and password change are
not probed: they would end the session every other cell uses.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from services.gateway.http import TOKEN_COOKIE
from services.gateway.service import GatewayService
from tests.e2e.test_scoping import XJK, post, register
from tests.system import GATEWAY_PORT, login

pytestmark = pytest.mark.e2e
BASE = f"http://127.0.0.1:{GATEWAY_PORT}"
SH = ZoneInfo("Asia/Shanghai")

# the demo logins: role and site (None: bound to no site)
USERS = {
    "hall.staff": ("window_staff", "HALL"),
    "xjk.staff": ("window_staff", "XJK"),
    "officer": ("officer", "HALL"),
    "bureau": ("bureau", None),
    "supervisor": ("supervisor", None),
    "operator": ("operator", None),
    "hr": ("hr", None),
}
ROLES = frozenset(role for role, _site in USERS.values())
DISTRICT = frozenset({"officer", "bureau", "supervisor", "operator"})
EVERYONE = ROLES
CASE_WORKERS = frozenset({"window_staff", "officer", "bureau", "supervisor"})
ACTORS = frozenset({"officer", "bureau"})
SITES = ("HALL", "XJK")
HELPERS = {"HALL": "S0008", "XJK": "S0022"}  # staff of each site without a login


@dataclass(frozen=True)
class Rule:
    """Who a route serves and what each gets.

    ``roles``: served (others: 403). ``everywhere``: served roles that reach every site (the
    rest reach their own site only: another site's gets ``other``). ``bound``: what ties the
    route to a site (``case``, ``meeting``, ``staff`` in the path, ``query``: ``?site=``), None
    for a route of no site. ``ok``: what a served role gets. ``probe``: False for a route the
    matrix lists but does not call (page forms, logout, password change).
    """

    roles: frozenset = EVERYONE
    ok: int = 200
    bound: str | None = None
    everywhere: frozenset = DISTRICT
    other: int = 403
    probe: bool = True
    body: dict = field(default_factory=dict)
    public: bool = False


def case_read(roles=EVERYONE, **extra) -> Rule:
    return Rule(roles=roles, bound="case", **extra)


def case_write(roles, ok, **extra) -> Rule:
    return Rule(roles=roles, ok=ok, bound="case", **extra)


PUBLIC = Rule(public=True)
FORM = Rule(probe=False)  # a page's form: CSRF-protected, probed by the pages' own tests

RULES: dict[tuple[str, str], Rule] = {
    # -- the API: login, reference data ---------------------------------------------------
    ("POST", "/api/v1/auth/login"): Rule(public=True, ok=422),  # an empty body
    ("POST", "/api/v1/auth/logout"): Rule(probe=False),
    ("POST", "/api/v1/auth/password"): Rule(probe=False),
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/api/v1/sites"): Rule(),
    ("GET", "/api/v1/departments"): Rule(),
    ("GET", "/api/v1/matters"): Rule(),
    ("GET", "/api/v1/staff"): Rule(),
    # -- cases ----------------------------------------------------------------------------
    ("POST", "/api/v1/cases"): Rule(roles=frozenset({"window_staff", "officer"}), ok=422),
    # HR is bound to no site: its list is empty, another site's filter 403
    ("GET", "/api/v1/cases"): Rule(bound="query"),
    ("GET", "/api/v1/cases/<string:case_no>"): case_read(),
    ("GET", "/api/v1/cases/<string:case_no>/coordination"): case_read(),
    ("POST", "/api/v1/cases/<string:case_no>/helpers"): case_write(CASE_WORKERS, 200),
    ("POST", "/api/v1/cases/<string:case_no>/return-visit"): case_write(
        CASE_WORKERS, 409, body={"satisfied": True}
    ),
    ("POST", "/api/v1/feedback"): Rule(ok=422),
    ("POST", "/api/v1/feedback/ratings:batch"): Rule(roles=DISTRICT, ok=422),
    # -- coordination (officers act on every case, the bureau on pending ones) -------------
    ("POST", "/api/v1/cases/<string:case_no>/classify"): case_write({"officer"}, 422),
    ("POST", "/api/v1/cases/<string:case_no>/explain"): case_write(ACTORS, 409),
    ("POST", "/api/v1/cases/<string:case_no>/measures"): case_write(ACTORS, 409),
    ("POST", "/api/v1/cases/<string:case_no>/measures/<int:measure_id>/responses"): case_write(
        ACTORS, 404
    ),
    ("POST", "/api/v1/cases/<string:case_no>/deadlines/<int:deadline_id>/pause"): case_write(
        ACTORS, 404
    ),
    ("POST", "/api/v1/cases/<string:case_no>/deadlines/<int:deadline_id>/resume"): case_write(
        ACTORS, 404
    ),
    ("POST", "/api/v1/cases/<string:case_no>/resolve"): case_write(ACTORS, 422),
    ("POST", "/api/v1/cases/<string:case_no>/reply"): case_write(ACTORS, 422),
    ("POST", "/api/v1/cases/<string:case_no>/close"): case_write(ACTORS, 409),
    ("POST", "/api/v1/cases/<string:case_no>/archive"): case_write(ACTORS, 409),
    ("POST", "/api/v1/cases/<string:case_no>/reopen"): case_write(ACTORS, 422),
    # the 差评 loop: the matrix's cases were registered at a window, so a served role gets 409
    # (not a bad rating); an appeal is open to case workers, the service checks it is theirs
    ("POST", "/api/v1/cases/<string:case_no>/bad-rating/verify"): case_write({"officer"}, 409),
    ("POST", "/api/v1/cases/<string:case_no>/bad-rating/appeal"): case_write(CASE_WORKERS, 409),
    ("POST", "/api/v1/cases/<string:case_no>/bad-rating/appeal-decision"): case_write(
        {"supervisor"}, 409
    ),
    ("POST", "/api/v1/cases/<string:case_no>/bad-rating/rectify"): case_write({"officer"}, 409),
    ("POST", "/api/v1/cases/<string:case_no>/bad-rating/answer"): case_write({"officer"}, 409),
    ("POST", "/api/v1/cases/<string:case_no>/bad-rating/re-rating"): case_write({"officer"}, 409),
    ("POST", "/api/v1/joint-meetings"): Rule(roles=frozenset({"bureau"}), ok=422),
    # window staff (and HR, of no site) read the meetings of their site's cases only
    ("GET", "/api/v1/joint-meetings"): Rule(),
    ("GET", "/api/v1/joint-meetings/<int:meeting_id>"): Rule(bound="meeting", other=404),
    ("POST", "/api/v1/joint-meetings/<int:meeting_id>/minutes"): Rule(
        roles=frozenset({"bureau"}), ok=422, bound="meeting"
    ),
    (
        "POST",
        "/api/v1/joint-meetings/<int:meeting_id>/assignments/<int:assignment_id>/delivered",
    ): Rule(roles=ACTORS, ok=404, bound="meeting"),
    ("GET", "/api/v1/refusals"): Rule(bound="query", other=200),  # always their own site's
    # only the approval bureau reviews a `cannot` answer (an empty review: 422)
    ("POST", "/api/v1/refusals/<string:case_no>/review"): case_write({"bureau"}, 422),
    ("GET", "/api/v1/practices"): Rule(),
    # precedents while a case is registered: case workers (another site's case as knowledge only)
    ("GET", "/api/v1/precedents"): Rule(roles=CASE_WORKERS),
    ("POST", "/api/v1/practices"): Rule(roles=ACTORS, ok=422),
    # -- accountability (unknown ids: the door let the role through) ------------------------
    ("GET", "/api/v1/investigations"): Rule(roles=frozenset({"supervisor"})),
    ("POST", "/api/v1/investigations/<int:investigation_id>/finding"): Rule(
        roles=frozenset({"supervisor"}), ok=422
    ),
    ("POST", "/api/v1/findings/<int:finding_id>/appeal"): Rule(ok=422),  # its subject's
    ("POST", "/api/v1/appeals/<int:appeal_id>/decision"): Rule(
        roles=frozenset({"supervisor"}), ok=422
    ),
    ("POST", "/api/v1/sanctions/<int:sanction_id>/confirm"): Rule(roles=frozenset({"hr"}), ok=404),
    ("POST", "/api/v1/sanctions/<int:sanction_id>/reject"): Rule(roles=frozenset({"hr"}), ok=422),
    ("POST", "/api/v1/deductions/<int:deduction_id>/withdraw"): Rule(
        roles=frozenset({"supervisor"}), ok=422
    ),
    ("GET", "/api/v1/departments/scores"): Rule(roles=frozenset({"bureau", "supervisor"})),
    ("GET", "/api/v1/audit"): Rule(roles=frozenset({"supervisor"})),
    ("GET", "/api/v1/staff/<string:staff_id>/record"): Rule(
        roles=CASE_WORKERS | {"hr"}, bound="staff", everywhere=frozenset(DISTRICT | {"hr"})
    ),
    # -- reports: window staff their own site's; HR, of no site, none ------------------------
    ("GET", "/api/v1/reports/monthly"): Rule(bound="query"),
    ("GET", "/api/v1/reports/monthly.csv"): Rule(bound="query"),
    ("GET", "/api/v1/reports/monthly.xlsx"): Rule(bound="query"),
    ("GET", "/api/v1/reports/ledger.csv"): Rule(bound="query"),
    ("GET", "/api/v1/reports/ledger.xlsx"): Rule(bound="query"),
    ("GET", "/api/v1/refusals/report"): Rule(bound="query"),
    ("GET", "/api/v1/refusals/report.csv"): Rule(bound="query"),
    ("GET", "/api/v1/refusals/report.xlsx"): Rule(bound="query"),
    # -- Open311 GeoReport v2: reading is public; a POST is the key's (none here: 403) --------
    ("GET", "/open311/v2/services.<any(json,xml):fmt>"): PUBLIC,
    ("GET", "/open311/v2/services/<string:service_code>.<any(json,xml):fmt>"): PUBLIC,
    ("GET", "/open311/v2/requests.<any(json,xml):fmt>"): PUBLIC,
    ("GET", "/open311/v2/requests/<string:service_request_id>.<any(json,xml):fmt>"): PUBLIC,
    ("POST", "/open311/v2/requests.<any(json,xml):fmt>"): Rule(public=True, ok=403),
    # -- pages (GET) --------------------------------------------------------------------------
    ("GET", "/"): Rule(),
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): FORM,
    ("GET", "/logout"): Rule(probe=False),  # ends the session the other cells use
    ("POST", "/logout"): FORM,
    ("GET", "/account/password"): Rule(),
    ("POST", "/account/password"): FORM,  # ends the session the other cells use
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/cases"): Rule(),
    ("GET", "/cases/mine"): Rule(),
    ("GET", "/cases/new"): Rule(roles=frozenset({"window_staff", "officer"})),
    ("POST", "/cases/new"): FORM,
    ("GET", "/cases/<string:case_no>"): case_read(),
    ("GET", "/cases/<string:case_no>/print"): case_read(),
    ("POST", "/cases/<string:case_no>/<string:action>"): FORM,
    ("GET", "/queue"): Rule(roles=ACTORS),
    ("GET", "/meetings"): Rule(roles=frozenset({"officer", "bureau", "supervisor"})),
    ("POST", "/meetings"): FORM,
    ("POST", "/meetings/<int:meeting_id>/minutes"): FORM,
    ("POST", "/meetings/<int:meeting_id>/assignments/<int:assignment_id>/delivered"): FORM,
    ("GET", "/practices"): Rule(),
    ("POST", "/practices"): FORM,
    ("GET", "/refusals"): Rule(),
    ("POST", "/refusals/<string:case_no>/review"): FORM,
    ("GET", "/refusals/report"): Rule(roles=EVERYONE - {"hr"}),  # HR: no site, no report
    ("GET", "/reports"): Rule(),
    ("GET", "/reports/monthly"): Rule(roles=EVERYONE - {"hr"}),  # HR: no site, no report
    ("GET", "/investigations"): Rule(roles=frozenset({"supervisor"})),
    ("POST", "/investigations/<int:investigation_id>/finding"): FORM,
    ("GET", "/appeals"): Rule(roles=frozenset({"supervisor", "hr"})),
    ("POST", "/appeals/<int:appeal_id>/decision"): FORM,
    ("POST", "/findings/<int:finding_id>/appeal"): FORM,
    ("POST", "/sanctions/<int:sanction_id>/confirm"): FORM,
    ("POST", "/sanctions/<int:sanction_id>/reject"): FORM,
    ("POST", "/deductions/<int:deduction_id>/withdraw"): FORM,
    ("GET", "/departments/scores"): Rule(roles=frozenset({"bureau", "supervisor"})),
    ("GET", "/staff/<string:staff_id>/record"): Rule(
        roles=CASE_WORKERS | {"hr"}, bound="staff", everywhere=frozenset(DISTRICT | {"hr"})
    ),
}
# a query a route needs to answer at all (the month, a ledger's days)
QUERIES = {
    "monthly": {"month": "2026-12"},
    "refusals/report": {"month": "2026-12"},
    "ledger": {"from": "2026-12-01", "to": "2026-12-02"},
    "scores": {"year": "2026"},
}


def routes() -> set[tuple[str, str]]:
    """Every (method, URL rule) the gateway serves, from its nameko http entrypoints."""
    found = set()
    for name in dir(GatewayService):
        for entrypoint in getattr(getattr(GatewayService, name), "nameko_entrypoints", ()):
            if hasattr(entrypoint, "url"):
                found.update((method, entrypoint.url) for method in entrypoint.method.split(","))
    return found


def expected(rule: Rule, user: str, target: str | None) -> int:
    """What ``user`` should get from a route of ``rule`` about ``target``'s site."""
    if rule.public:
        return rule.ok
    role, site = USERS[user]
    if role not in rule.roles:
        return 403
    if target is None or role in rule.everywhere or site == target:
        return rule.ok
    return rule.other


def cells():
    for (method, url), rule in sorted(RULES.items()):
        if not rule.probe:
            continue
        for user in USERS:
            for target in SITES if rule.bound else (None,):
                yield pytest.param(method, url, user, target, id=f"{method} {url} {user} {target}")


def test_every_route_has_a_rule():
    served = routes()
    assert served - set(RULES) == set(), "routes without a rule in the role matrix"
    assert set(RULES) - served == set(), "rules of routes that no longer exist"


def test_the_matrix_covers_every_role():
    assert ROLES == {"window_staff", "officer", "bureau", "supervisor", "operator", "hr"}


@pytest.fixture(scope="module")
def world(system):
    """A HALL and an XJK case, each classified pending with a joint meeting about it, and a
    token per demo login."""
    officer, bureau = login("officer"), login("bureau")
    cases, meetings = {}, {}
    for site, user, overrides in (("HALL", "hall.staff", {}), ("XJK", "xjk.staff", XJK)):
        case_no = cases[site] = register(user, **overrides)
        classified = post(
            f"/cases/{case_no}/classify", officer, {"type": "pending", "reason": "职责不清"}
        )
        assert classified.status_code == 200, classified.text
        body = {
            "case_nos": [case_no],
            "departments": ["FCJ"],
            "scheduled_at": datetime.now(SH).replace(microsecond=0).isoformat(),
        }
        convened = post("/joint-meetings", bureau, body)
        assert convened.status_code == 201, convened.text
        meetings[site] = str(convened.json()["id"])
        # the helper is on the case already: every cell that adds them again answers 200
        helper = {"staff_id": HELPERS[site]}
        added = post(f"/cases/{case_no}/helpers", login(user), helper)
        assert added.status_code in (200, 201), added.text
    filed = requests.post(
        f"{BASE}/open311/v2/requests.json",
        data={
            "api_key": "demo-open311-key",
            "jurisdiction_id": "HALL",
            "service_code": "M001",
            "description": "角色矩阵的 Open311 请求",
            "address_string": "玄武区",
        },
        timeout=10,
    )
    assert filed.status_code == 201, filed.text
    return {
        "open311": filed.json()[0]["service_request_id"],
        "case": cases,
        "meeting": meetings,
        "staff": {"HALL": "S0001", "XJK": "S0002"},
        "tokens": {user: login(user)["Authorization"].split()[1] for user in USERS},
    }


def request_for(world, method, url, user, target, rule):
    """The path, query and body of one cell."""
    own = USERS[user][1] or "HALL"
    site = target or own
    path = url
    for bound in ("case", "meeting", "staff"):
        value = world[bound][site]
        path = re.sub(rf"<(string|int):{bound}(_no|_id)?>", value, path)
    path = path.replace("<string:action>", "close")
    path = path.replace("<any(json,xml):fmt>", "json").replace("<string:service_code>", "M001")
    path = path.replace("<string:service_request_id>", world["open311"])
    path = re.sub(r"<int:[a-z_]+>", "999999999", path)  # an id that does not exist
    query = next((q for key, q in QUERIES.items() if key in url), {})
    if rule.bound == "query":
        query = {**query, "site": site}
    body = rule.body
    if url.endswith("/helpers"):
        body = {"staff_id": HELPERS[site]}
    return path, query, body


@pytest.mark.parametrize("method, url, user, target", list(cells()))
def test_role_matrix(world, method, url, user, target):
    rule = RULES[(method, url)]
    path, query, body = request_for(world, method, url, user, target, rule)
    token = world["tokens"][user]
    if url.startswith(("/api/", "/open311/")):
        response = requests.request(
            method,
            BASE + path,
            params=query,
            json=body if method == "POST" else None,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    else:
        response = requests.get(
            BASE + path,
            params=query,
            cookies={TOKEN_COOKIE: token},
            timeout=10,
            allow_redirects=False,
        )
    want = expected(rule, user, target)
    assert response.status_code == want, f"{method} {path} {query} as {user}: {response.text[:300]}"
