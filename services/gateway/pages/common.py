"""What every staff page shares: the Jinja environment, the menu, rendering and the ``page``
decorator that turns any error into a Chinese page.

Labels come from :mod:`services.common.vocabulary` (one code → 中文 table for the whole system);
the error mapping is the API's own (:func:`services.gateway.http.as_user_error`), so a page and
the API answer the same failure with the same status.

Every page also answers with the browser's defences (:func:`guard`): a CSRF token that each
posted form must carry back (double submit of the ``bancheng_csrf`` cookie, rendered into the
forms by ``csrf_field()``), a Content-Security-Policy that runs only the scripts rendered with
this response's nonce, and over HTTPS, ``Secure`` cookies and HSTS.
"""

import contextvars
import functools
import secrets
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup
from werkzeug.wrappers import Response

from services.common import errors, vocabulary
from services.common.auth import sees_all_sites
from services.common.config import service_setting
from services.gateway.base import GatewayBase
from services.gateway.forms import CSRF_COOKIE, CSRF_FIELD, csrf_matches, form_state, new_csrf_token
from services.gateway.http import TOKEN_COOKIE, bearer_token, handled, retry_after
from services.gateway.roles import (
    ACCOUNTABILITY_DESK,
    ACTORS,
    MEETING_READERS,
    REGISTRARS,
    SCORE_READERS,
)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
DEFAULT_TZ = "Asia/Shanghai"
PAGE_SIZE = 50
DEADLINE_BATCH = 200  # the most cases coordination's deadlines_of_cases takes at once
# what a service refuses in a form: the page comes back filled in, the error by its field
FORM_REFUSALS = (errors.InvalidField, errors.Conflict)
ERROR_TITLES = {
    403: "无权访问",
    404: "未找到",
    409: "状态不允许",
    500: "系统内部错误",
    503: "服务暂时不可用",
}


def local_time(value, fmt: str = "%Y-%m-%d %H:%M", tz: str = DEFAULT_TZ) -> str:
    """An ISO 8601 time (as RPC hands it over) shown in the hall's time zone."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(tz))
    return moment.strftime(fmt)


def deadline_label(deadline: dict) -> str:
    """``pending_reply`` → 暂时办不了·答复期限 (kinds are ``<type>_<stage>``)."""
    if deadline.get("kind") == "assignment":
        return "联席会议分工"
    if deadline.get("kind") == "bad_rating_rectification":
        return "差评·整改期限"
    case_type = str(deadline.get("kind") or "").split("_", 1)[0]
    stage = deadline.get("stage")
    if case_type in vocabulary.TYPE_LABELS and stage in vocabulary.STAGE_LABELS:
        return f"{vocabulary.TYPE_LABELS[case_type]}·{vocabulary.STAGE_LABELS[stage]}"
    return str(deadline.get("kind") or "")


def this_month(tz: str = DEFAULT_TZ) -> str:
    return datetime.now(ZoneInfo(tz)).strftime("%Y-%m")


def names(items: list[dict], key: str = "code") -> dict:
    """Reference data (sites, departments, matters, staff) as code → Chinese name."""
    return {item[key]: item["name"] for item in items}


# this page request's CSRF token and script nonce, for the templates (one greenlet per request)
_PAGE_REQUEST: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "bancheng_page_request", default=("", "")
)
CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
    # the templates set a few style="" attributes, which no nonce can cover
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


def csrf_field() -> Markup:
    """The hidden input every ``method="post"`` form carries."""
    token = _PAGE_REQUEST.get()[0]
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


def csp_nonce() -> str:
    """The nonce a ``<script>`` of this page needs to run."""
    return _PAGE_REQUEST.get()[1]


def is_https(request) -> bool:
    """Served over HTTPS: directly, or behind a proxy that says so."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.is_secure or forwarded == "https"


def _labels(table):
    return functools.partial(vocabulary.label, table)


ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters.update(
    local_time=local_time,
    deadline_label=deadline_label,
    role=_labels(vocabulary.ROLE_LABELS),
    status=_labels(vocabulary.STATE_LABELS),
    case_type=_labels(vocabulary.TYPE_LABELS),
    channel=_labels(vocabulary.CHANNEL_LABELS),
    applicant_kind=_labels(vocabulary.APPLICANT_KIND_LABELS),
    service=_labels(vocabulary.SERVICE_LABELS),
    cause=_labels(vocabulary.CAUSE_LABELS),
    sanction=_labels(vocabulary.SANCTION_LABELS),
    sanction_status=_labels(vocabulary.SANCTION_STATUS_LABELS),
    measure=_labels(vocabulary.MEASURE_LABELS),
    outcome=_labels(vocabulary.OUTCOME_LABELS),
    finding_status=_labels(vocabulary.FINDING_STATUS_LABELS),
    appeal_status=_labels(vocabulary.APPEAL_STATUS_LABELS),
    bad_rating_finding=_labels(vocabulary.BAD_RATING_FINDING_LABELS),
    rating_level=_labels(vocabulary.RATING_LEVEL_LABELS),
)
# the tables the forms' choices are built from
ENVIRONMENT.globals.update(
    csrf_field=csrf_field,
    csp_nonce=csp_nonce,
    STATUS_LABELS=vocabulary.STATE_LABELS,
    TYPE_LABELS=vocabulary.TYPE_LABELS,
    CHANNEL_LABELS=vocabulary.CHANNEL_LABELS,
    APPLICANT_KIND_LABELS=vocabulary.APPLICANT_KIND_LABELS,
    CAUSE_LABELS=vocabulary.CAUSE_LABELS,
    MEASURE_LABELS=vocabulary.MEASURE_LABELS,
    OUTCOME_LABELS=vocabulary.OUTCOME_LABELS,
    REVIEW_RESULT_LABELS=vocabulary.REVIEW_RESULT_LABELS,
    BAD_RATING_FINDING_LABELS=vocabulary.BAD_RATING_FINDING_LABELS,
    RATING_LEVEL_LABELS=vocabulary.RATING_LEVEL_LABELS,
)


def menu_for(user: dict | None) -> list[tuple[str, str]]:
    """The navigation a role sees: only pages it may open."""
    if user is None:
        return []
    role = user["role"]
    items = [("/", "工作台")]
    if role in REGISTRARS:
        items.append(("/cases/new", "登记事项"))
    if role in ACTORS:
        items.append(("/queue", "待办队列"))
    items.append(("/cases", "本场所事项" if not sees_all_sites(user) else "全部事项"))
    items.append(("/cases/mine", "我首接的事项"))
    if role in MEETING_READERS:
        items.append(("/meetings", "联席会议"))
    items.append(("/refusals", "不能办答复"))
    items.append(("/practices", "常态化做法"))
    if role == "supervisor":
        items.append(("/investigations", "责任调查"))
    if role in ACCOUNTABILITY_DESK:
        items.append(("/appeals", "申诉与确认"))
    if role in SCORE_READERS:
        items.append(("/departments/scores", "部门考核"))
    items.append((f"/staff/{user['id']}/record", "我的记录"))
    items.append(("/reports", "月度汇总"))
    return items


def render(template: str, user: dict | None, status: int = 200, **context) -> Response:
    """A template as an HTML response, with the menu of ``user``'s role."""
    context.setdefault("forms", {})  # no form refused yet
    html = ENVIRONMENT.get_template(template).render(user=user, menu=menu_for(user), **context)
    return Response(
        html,
        status=status,
        mimetype="text/html",
        headers={
            # pages show personal data: never cache them, never frame them
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
        },
    )


def redirect(location: str, status: int = 303) -> Response:
    return Response("", status=status, headers={"Location": location})


def refused(form, error: errors.BanchengError, key) -> dict:
    """A page's arguments to show the form ``key`` again after the service refused it."""
    return {"forms": {key: form_state(form, error)}, "status": error.status}


def page(route: str):
    """Wrap a page: a missing login goes to the login page, other errors become Chinese pages
    (the same mapping as the API's: :func:`services.gateway.http.handled`); a post without its
    CSRF token is refused (403), and every answer carries the defences of :func:`guard`."""
    timed = handled(route, _page_for_error)

    def decorator(method):
        @functools.wraps(method)
        def checked(self, request, *args, **kwargs):
            if request.method == "POST" and not csrf_matches(request.form, request.cookies):
                raise errors.Forbidden("页面已过期或来源不明，请刷新页面后重新提交")
            return method(self, request, *args, **kwargs)

        return guard(timed(checked))

    return decorator


def guard(respond):
    """``respond(self, request, ...)`` with this request's CSRF token and nonce for its
    templates, and the CSRF cookie, CSP and (over HTTPS) HSTS on its response."""

    @functools.wraps(respond)
    def guarded(self, request, *args, **kwargs):
        csrf = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
        nonce = secrets.token_urlsafe(16)
        token = _PAGE_REQUEST.set((csrf, nonce))
        try:
            response = respond(self, request, *args, **kwargs)
        finally:
            _PAGE_REQUEST.reset(token)
        https = is_https(request)
        if request.cookies.get(CSRF_COOKIE) != csrf:
            response.set_cookie(
                CSRF_COOKIE, csrf, path="/", httponly=True, samesite="Lax", secure=https
            )
        response.headers["Content-Security-Policy"] = CSP.format(nonce=nonce)
        if https:
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    return guarded


def _page_for_error(gateway, request, error: errors.BanchengError) -> Response:
    if isinstance(error, errors.Unauthorized):
        target = request.full_path.rstrip("?") if request.method == "GET" else "/"
        response = redirect(f"/login?next={quote(target, safe='/')}")
        response.delete_cookie(TOKEN_COOKIE, path="/")
        return response
    return gateway._error_page(request, error)


class PageBase(GatewayBase):
    """What the page groups share (no entrypoints)."""

    def _page_user(self, request) -> dict | None:
        # the token alone (no session check): an error page must not need a service
        token = bearer_token(request)
        try:
            return self.tokens.read(token) if token else None
        except errors.Unauthorized:
            return None

    def _error_page(self, request, error: errors.BanchengError) -> Response:
        # the user is read from the token alone: an error page must not need a service
        response = render(
            "error.html",
            self._page_user(request),
            status=error.status,
            title=ERROR_TITLES.get(error.status, "请求有误"),
            error=error,
        )
        response.headers.extend(retry_after(error))
        return response

    @property
    def _tz(self) -> str:
        return service_setting(self.config, "TIMEZONE", DEFAULT_TZ)

    def _staff_names(self) -> dict:
        return names(self.intake.staff(None), key="id")

    def _deadlines_of(self, case_nos: list[str]) -> dict[str, list[dict]]:
        """Each case's deadlines from coordination: one call per 200 cases (its limit)."""
        batches = [
            case_nos[i : i + DEADLINE_BATCH] for i in range(0, len(case_nos), DEADLINE_BATCH)
        ]
        replies = [self.coordination.deadlines_of_cases.call_async(batch) for batch in batches]
        return {case_no: found for reply in replies for case_no, found in reply.result().items()}
