"""Server-rendered staff pages in Chinese (templates in services/gateway/templates/).

Pages sit behind the same signed token as the API, carried in the ``bancheng_token`` cookie
(HttpOnly, SameSite=Lax, so another site cannot post our forms with it). They call the same
RPCs with the same user, so the services' role and site rules hold here too; a refusal is a
Chinese page with the error's status, and an invalid form comes back with what was typed and
the message next to the field the service named.
"""

import functools
import logging
import time
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import jinja2
from nameko.exceptions import RemoteError
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from services.common import errors
from services.common.auth import sees_all_sites
from services.common.config import service_setting
from services.gateway import case_view
from services.gateway.base import GatewayBase
from services.gateway.http import HTTP_SECONDS, TOKEN_COOKIE

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
DEFAULT_TZ = "Asia/Shanghai"

ROLE_LABELS = {
    "window_staff": "窗口工作人员",
    "officer": "办不成事反映窗口",
    "bureau": "区行政审批局",
    "supervisor": "监督人员",
    "operator": "运维人员",
}
STATUS_LABELS = {  # coordination's states (services/coordination/domain.py)
    "registered": "已登记，待分类",
    "classified": "已分类",
    "in_progress": "办理中",
    "replied": "已答复",
    "resolved": "已办结",
    "closed": "已关闭",
    "archived": "已归档",
}
TYPE_LABELS = {"cannot": "不能办", "hard": "不好办", "refused": "不给办", "pending": "暂时办不了"}
CHANNEL_LABELS = {
    "window": "窗口反映",
    "rating": "好差评",
    "hotline": "监督投诉电话",
    "comment_book": "意见留言簿",
}
APPLICANT_KIND_LABELS = {"person": "个人", "enterprise": "企业"}
CAUSE_LABELS = {"unfamiliar": "业务不熟悉", "process": "流程未优化", "attitude": "工作态度问题"}
SANCTION_LABELS = {
    "reminder_talk": "谈话提醒",
    "bonus_withheld": "扣发奖金",
    "award_ineligible": "取消评优资格",
    "dismissal": "辞退",
    "training": "业务培训",
}
SERVICE_LABELS = {
    "intake": "登记",
    "coordination": "协调",
    "accountability": "问责",
    "reporting": "统计",
}
# Who may open the registration form: the windows that receive people.
REGISTRARS = ("window_staff", "officer")
SCORE_READERS = ("supervisor", "bureau")
LIST_FILTERS = ("site", "status", "type", "overdue", "department", "month", "q")
PAGE_SIZE = 50


def local_time(value, fmt: str = "%Y-%m-%d %H:%M", tz: str = DEFAULT_TZ) -> str:
    """An ISO 8601 time (as RPC hands it over) shown in the hall's time zone."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(tz))
    return moment.strftime(fmt)


STAGE_LABELS = {"reply": "答复期限", "resolution": "办结期限"}


def deadline_label(deadline: dict) -> str:
    """``pending_reply`` → 暂时办不了·答复期限 (kinds are ``<type>_<stage>``)."""
    case_type = str(deadline.get("kind") or "").split("_", 1)[0]
    stage = deadline.get("stage")
    if case_type in TYPE_LABELS and stage in STAGE_LABELS:
        return f"{TYPE_LABELS[case_type]}·{STAGE_LABELS[stage]}"
    return str(deadline.get("kind") or "")


def _label(labels: dict):
    return lambda code: labels.get(code, code or "")


ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters.update(
    local_time=local_time,
    deadline_label=deadline_label,
    role=_label(ROLE_LABELS),
    status=_label(STATUS_LABELS),
    case_type=_label(TYPE_LABELS),
    channel=_label(CHANNEL_LABELS),
    applicant_kind=_label(APPLICANT_KIND_LABELS),
    service=_label(SERVICE_LABELS),
    cause=_label(CAUSE_LABELS),
    sanction=_label(SANCTION_LABELS),
    sanction_status=_label(
        {
            "applied": "已生效",
            "recommended": "建议（待确认）",
            "confirmed": "已确认",
            "revoked": "已撤销",
        }
    ),
)
ENVIRONMENT.globals.update(
    STATUS_LABELS=STATUS_LABELS,
    TYPE_LABELS=TYPE_LABELS,
    CHANNEL_LABELS=CHANNEL_LABELS,
    CAUSE_LABELS=CAUSE_LABELS,
)


def this_month(tz: str = DEFAULT_TZ) -> str:
    return datetime.now(ZoneInfo(tz)).strftime("%Y-%m")


def menu_for(user: dict | None) -> list[tuple[str, str]]:
    """The navigation a role sees: only pages it may open."""
    if user is None:
        return []
    role = user["role"]
    items = [("/", "工作台")]
    if role in REGISTRARS:
        items.append(("/cases/new", "登记事项"))
    items.append(("/cases", "本场所事项" if not sees_all_sites(user) else "全部事项"))
    items.append(("/cases/mine", "我首接的事项"))
    if role == "supervisor":
        items.append(("/investigations", "责任调查"))
    if role in SCORE_READERS:
        items.append(("/departments/scores", "部门考核"))
    items.append((f"/staff/{user['id']}/record", "我的记录"))
    items.append((f"/reports/monthly?month={this_month()}", "月度汇总"))
    return items


def render(template: str, user: dict | None, status: int = 200, **context) -> Response:
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


def safe_next(value: str | None) -> str:
    """Only a path on this site may follow the login (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def error_field(field: str | None) -> str | None:
    """The form input an error belongs to: ``materials_missing[2]`` → ``materials_missing``."""
    if not field:
        return None
    return field.split("[", 1)[0]


def lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def registration_payload(form, tz: str = DEFAULT_TZ) -> dict:
    """The API's registration body from the form (inputs are named after the API's fields)."""

    def value(name):
        return (form.get(name) or "").strip()

    payload = {
        name: value(name)
        for name in ("site", "window", "matter", "department", "first_receiver", "description")
    }
    payload["channel"] = value("channel") or "window"
    payload["applicant"] = {
        "kind": value("applicant.kind"),
        "name": value("applicant.name"),
        "id_number": value("applicant.id_number") or None,
        "phone": value("applicant.phone") or None,
    }
    payload["materials_presented"] = lines(form.get("materials_presented"))
    payload["materials_missing"] = lines(form.get("materials_missing"))
    if value("first_asked_by"):
        payload["first_asked_by"] = value("first_asked_by")
    received = value("received_at")
    if received:
        # <input type=datetime-local> has no offset: it is the hall's local time
        try:
            moment = datetime.fromisoformat(received)
        except ValueError:
            payload["received_at"] = received  # the service names the field
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ZoneInfo(tz))
            payload["received_at"] = moment.isoformat()
    return payload


CASE_WORKERS = ("window_staff", "officer", "bureau", "supervisor")


def checkbox(form, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


class CaseAction:
    """A form on the case page that calls one RPC with ``(case_no, payload, user)``."""

    def __init__(self, label: str, roles: tuple, service: str, method: str, payload):
        self.label, self.roles, self.service, self.method = label, roles, service, method
        self.payload = payload

    def call(self, gateway, case_no: str, form, user: dict):
        rpc = getattr(getattr(gateway, self.service), self.method)
        return rpc(case_no, self.payload(form), user)


def return_visit_payload(form) -> dict:
    satisfied = form.get("satisfied")
    return {
        "satisfied": {"yes": True, "no": False}.get(satisfied, satisfied),
        "notes": (form.get("notes") or "").strip(),
    }


def classify_payload(form) -> dict:
    return {
        "type": form.get("type") or None,
        "reason": (form.get("reason") or "").strip(),
        "complex": checkbox(form, "complex"),
    }


CASE_ACTIONS = {
    "classify": CaseAction("分类", ("officer",), "coordination", "classify_case", classify_payload),
    "return-visit": CaseAction(
        "记录回访", CASE_WORKERS, "intake", "record_return_visit", return_visit_payload
    ),
}


def offered_actions(user: dict, case: dict) -> list[str]:
    """The action forms the case page shows this user now; the services check again."""
    offered = []
    if case.get("status") == "registered" and user["role"] == "officer":
        offered.append("classify")
    if case.get("requires_return_visit") and user["role"] in CASE_WORKERS:
        offered.append("return-visit")
    return offered


def finding_payload(form) -> dict:
    """A supervisor's finding; ``no_fault`` needs no staff member nor cause."""
    payload = {
        "finding": (form.get("finding") or "").strip(),
        "no_fault": checkbox(form, "no_fault"),
    }
    for name in ("staff_id", "cause"):
        if form.get(name):
            payload[name] = form[name]
    return payload


def page(route: str):
    """Wrap a page: a missing login goes to the login page, other errors become Chinese pages."""

    def decorator(method):
        @functools.wraps(method)
        def handle(self, request, *args, **kwargs):
            started = time.perf_counter()
            try:
                response = method(self, request, *args, **kwargs)
            except errors.Unauthorized:
                target = request.full_path.rstrip("?") if request.method == "GET" else "/"
                response = redirect(f"/login?next={quote(target, safe='/')}")
                response.delete_cookie(TOKEN_COOKIE, path="/")
            except errors.BanchengError as error:
                response = self._error_page(request, error)
            except RemoteError as error:
                log.error("a service failed behind page %s %s: %s", request.method, route, error)
                response = self._error_page(
                    request, errors.ServiceUnavailable("服务暂时不可用，请稍后重试")
                )
            HTTP_SECONDS.labels(request.method, route, response.status_code).observe(
                time.perf_counter() - started
            )
            return response

        return handle

    return decorator


class PageRoutes(GatewayBase):
    # -- plumbing (no entrypoints) -------------------------------------------------------

    def _page_user(self, request) -> dict | None:
        try:
            return self._user(request)
        except errors.Unauthorized:
            return None

    def _error_page(self, request, error: errors.BanchengError) -> Response:
        titles = {403: "无权访问", 404: "未找到", 409: "状态不允许", 503: "服务暂时不可用"}
        return render(
            "error.html",
            self._page_user(request),
            status=error.status,
            title=titles.get(error.status, "请求有误"),
            error=error,
        )

    @property
    def _tz(self) -> str:
        return service_setting(self.config, "TIMEZONE", DEFAULT_TZ)

    # -- login ---------------------------------------------------------------------------

    @http("GET", "/login")
    @page("/login")
    def login_page(self, request):
        return render("login.html", None, next=safe_next(request.args.get("next")), values={})

    @http("POST", "/login")
    @page("/login")
    def login_submit(self, request):
        form = request.form
        username, password = form.get("username", "").strip(), form.get("password", "")
        next_path = safe_next(form.get("next"))
        failure = None
        if not username:
            failure = errors.InvalidField("请输入用户名", "username")
        elif not password:
            failure = errors.InvalidField("请输入密码", "password")
        else:
            try:
                user = self.intake.authenticate(username, password)
            except errors.Unauthorized as error:
                failure = errors.InvalidField(error.message, "password")
        if failure:
            return render(
                "login.html",
                None,
                status=failure.status if failure.field != "password" else 401,
                next=next_path,
                values={"username": username},
                errors={failure.field: failure.message},
            )
        response = redirect(next_path)
        response.set_cookie(
            TOKEN_COOKIE,
            self.tokens.issue(user),
            max_age=self.tokens.max_age_seconds,
            path="/",
            httponly=True,
            samesite="Lax",
        )
        return response

    @http("GET,POST", "/logout")
    @page("/logout")
    def logout(self, request):
        response = redirect("/login")
        response.delete_cookie(TOKEN_COOKIE, path="/")
        return response

    # -- dashboard -----------------------------------------------------------------------

    @http("GET", "/")
    @page("/")
    def home(self, request):
        user = self._user(request)
        context = {"recent": self.intake.list_cases({"limit": 10}, user)}
        context["mine"] = self.intake.list_cases({"first_receiver": user["id"], "limit": 10}, user)
        if user["role"] in ("officer", "bureau", "supervisor"):
            context["unclassified"] = self.intake.list_cases(
                {"status": "registered", "limit": 20}, user
            )
        return render("home.html", user, active="/", **context)

    # -- registration ----------------------------------------------------------------------

    def _registration_form(self, user: dict, values: dict, form_errors: dict, status=200):
        site = None if sees_all_sites(user) else user["site"]
        sites = self.intake.sites()
        if site:
            sites = [s for s in sites if s["code"] == site]
        return render(
            "cases/new.html",
            user,
            status=status,
            active="/cases/new",
            sites=sites,
            matters=self.intake.matters(site),
            departments=self.intake.departments(),
            staff=[s for s in self.intake.staff(site) if s.get("site")],
            values=values,
            errors=form_errors,
        )

    @http("GET", "/cases/new")
    @page("/cases/new")
    def registration_form(self, request):
        user = self._user(request, *REGISTRARS)
        values = {
            "site": user["site"] or "",
            "channel": "window",
            "applicant.kind": "person",
            "first_receiver": user["id"],
            "idempotency_key": uuid.uuid4().hex,
        }
        return self._registration_form(user, values, {})

    @http("POST", "/cases/new")
    @page("/cases/new")
    def registration_submit(self, request):
        user = self._user(request, *REGISTRARS)
        form = request.form
        values = {name: form.get(name, "") for name in form}
        try:
            case = self.intake.register_case(
                registration_payload(form, self._tz), user, form.get("idempotency_key") or None
            )
        except (errors.InvalidField, errors.Forbidden) as error:
            if error.field is None:
                raise
            field = error_field(error.field)
            return self._registration_form(
                user, values, {field: error.message}, status=error.status
            )
        return redirect(f"/cases/{quote(case['case_no'])}?registered=1")

    # -- lists ---------------------------------------------------------------------------

    def _case_list(self, request, user: dict, filters: dict, title: str, path: str):
        filters = {**filters, "limit": PAGE_SIZE}
        if request.args.get("cursor"):
            filters["cursor"] = request.args["cursor"]
        items = self.intake.list_cases(filters, user)
        shown = {name: request.args.get(name, "") for name in LIST_FILTERS}
        next_page = None
        if len(items) == PAGE_SIZE:
            query = {k: v for k, v in shown.items() if v}
            next_page = f"{path}?{urlencode({**query, 'cursor': items[-1]['case_no']})}"
        return render(
            "cases/list.html",
            user,
            title=title,
            path=path,
            active=path,
            items=items,
            filters=shown,
            sites=self.intake.sites() if sees_all_sites(user) else [],
            departments=self.intake.departments(),
            next_page=next_page,
        )

    @http("GET", "/cases")
    @page("/cases")
    def case_list(self, request):
        user = self._user(request)
        filters = {name: request.args[name] for name in LIST_FILTERS if request.args.get(name)}
        title = "全部事项" if sees_all_sites(user) else "本场所事项"
        return self._case_list(request, user, filters, title, "/cases")

    @http("GET", "/cases/mine")
    @page("/cases/mine")
    def my_cases(self, request):
        user = self._user(request)
        filters = {name: request.args[name] for name in LIST_FILTERS if request.args.get(name)}
        filters["first_receiver"] = user["id"]
        return self._case_list(request, user, filters, "我首接的事项", "/cases/mine")

    # -- one case ------------------------------------------------------------------------

    def _staff_names(self) -> dict:
        return {member["id"]: member["name"] for member in self.intake.staff(None)}

    def _render_case(self, user, case_no, forms=None, status=200, notice=None):
        case = case_view.case_detail(self, case_no, user)
        return render(
            "cases/detail.html",
            user,
            status=status,
            case=case,
            staff_names=self._staff_names(),
            notice=notice,
            actions={name: CASE_ACTIONS[name] for name in offered_actions(user, case)},
            forms=forms or {},
        )

    @http("GET", "/cases/<string:case_no>")
    @page("/cases/{case_no}")
    def case_page(self, request, case_no):
        user = self._user(request)
        notice = None
        if request.args.get("registered") == "1":
            notice = "registered"
        elif request.args.get("done") in CASE_ACTIONS:
            notice = CASE_ACTIONS[request.args["done"]].label + "：已完成"
        return self._render_case(user, case_no, notice=notice)

    @http("POST", "/cases/<string:case_no>/<string:action>")
    @page("/cases/{case_no}/{action}")
    def case_action(self, request, case_no, action):
        """One of the case page's forms; a refused one comes back filled in, with its error."""
        if action not in CASE_ACTIONS:
            raise errors.NotFound(f"没有“{action}”这项操作", "action")
        handler = CASE_ACTIONS[action]
        user = self._user(request, *handler.roles)
        try:
            handler.call(self, case_no, request.form, user)
        except (errors.InvalidField, errors.Conflict) as error:
            forms = {
                action: {
                    "values": {name: request.form.get(name, "") for name in request.form},
                    "errors": {error_field(error.field) or "_form": error.message},
                }
            }
            return self._render_case(user, case_no, forms=forms, status=error.status)
        return redirect(f"/cases/{quote(case_no)}?done={action}")

    @http("GET", "/cases/<string:case_no>/print")
    @page("/cases/{case_no}/print")
    def case_print(self, request, case_no):
        user = self._user(request)
        case = self.intake.get_case(case_no, user)
        return render(
            "cases/print.html",
            user,
            case=case,
            staff_names=self._staff_names(),
            printed_at=local_time(datetime.now(ZoneInfo(self._tz)), tz=self._tz),
        )

    # -- accountability ------------------------------------------------------------------

    def _investigations(self, request, user, forms=None, status=200, done=None):
        shown = request.args.get("status", "open")
        result = self.accountability.investigations(shown or None, PAGE_SIZE, None)
        return render(
            "accountability/investigations.html",
            user,
            status=status,
            active="/investigations",
            items=result["items"],
            shown=shown,
            staff=self.intake.staff(None),
            staff_names=self._staff_names(),
            forms=forms or {},
            done=done,
        )

    @http("GET", "/investigations")
    @page("/investigations")
    def investigations_page(self, request):
        user = self._user(request, "supervisor")
        return self._investigations(request, user, done=request.args.get("done"))

    @http("POST", "/investigations/<int:investigation_id>/finding")
    @page("/investigations/{id}/finding")
    def finding_submit(self, request, investigation_id):
        user = self._user(request, "supervisor")
        try:
            self.accountability.record_finding(
                investigation_id, finding_payload(request.form), user
            )
        except (errors.InvalidField, errors.Conflict) as error:
            forms = {
                investigation_id: {
                    "values": {name: request.form.get(name, "") for name in request.form},
                    "errors": {error_field(error.field) or "_form": error.message},
                }
            }
            return self._investigations(request, user, forms=forms, status=error.status)
        return redirect(f"/investigations?status=closed&done={investigation_id}")

    @http("GET", "/staff/<string:staff_id>/record")
    @page("/staff/{id}/record")
    def staff_record_page(self, request, staff_id):
        user = self._user(request)
        record = self.accountability.staff_record(staff_id, user)
        names = self._staff_names()
        return render(
            "accountability/staff_record.html",
            user,
            active=f"/staff/{staff_id}/record",
            record=record,
            staff_name=names.get(staff_id, staff_id),
        )

    @http("GET", "/departments/scores")
    @page("/departments/scores")
    def department_scores_page(self, request):
        user = self._user(request, *SCORE_READERS)
        year = request.args.get("year") or this_month(self._tz)[:4]
        scores = self.accountability.department_scores(year, self.intake.departments())
        return render(
            "accountability/scores.html", user, active="/departments/scores", scores=scores
        )
