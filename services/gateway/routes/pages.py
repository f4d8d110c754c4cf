"""Server-rendered staff pages in Chinese (templates in services/gateway/templates/).

Pages sit behind the same signed token as the API, carried in the ``bancheng_token`` cookie
(HttpOnly, SameSite=Lax, so another site cannot post our forms with it). They call the same
RPCs with the same user, so the services' role and site rules hold here too; a refusal is a
Chinese page with the error's status, and an invalid form comes back with what was typed and
the message next to the field the service named.
"""

import functools
import logging
import re
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import jinja2
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from services.common import errors
from services.common.auth import sees_all_sites, visible_site
from services.common.config import service_setting
from services.gateway import case_view
from services.gateway.base import GatewayBase
from services.gateway.http import HTTP_SECONDS, TOKEN_COOKIE, as_user_error, retry_after

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
MEASURE_LABELS = {
    "deferred_materials": "容缺受理",
    "commitment": "告知承诺",
    "video_verification": "视频验证",
    "data_sharing": "数据共享",
}
OUTCOME_LABELS = {"done": "办成", "explained": "已解释说明", "not_done": "未办成"}
SERVICE_LABELS = {
    "intake": "登记",
    "coordination": "协调",
    "accountability": "问责",
    "reporting": "统计",
}
# Who may open the registration form: the windows that receive people.
REGISTRARS = ("window_staff", "officer")
SCORE_READERS = ("supervisor", "bureau")
ACTORS = ("officer", "bureau")  # officers act on every case, the bureau on `pending` ones
MEETING_READERS = ("officer", "bureau", "supervisor")
# the states of a case still to be worked on (a resolved one waits to be closed)
QUEUE_STATES = ("registered", "classified", "in_progress", "replied", "resolved")
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
    if deadline.get("kind") == "assignment":
        return "联席会议分工"
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
    measure=_label(MEASURE_LABELS),
    outcome=_label(OUTCOME_LABELS),
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
    MEASURE_LABELS=MEASURE_LABELS,
    OUTCOME_LABELS=OUTCOME_LABELS,
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
        items.append(("/appeals", "申诉与确认"))
    if role in SCORE_READERS:
        items.append(("/departments/scores", "部门考核"))
    items.append((f"/staff/{user['id']}/record", "我的记录"))
    items.append(("/reports", "月度汇总"))
    return items


def queue_order(case: dict) -> tuple:
    """Unclassified first, then breached, then by working days left (no deadline last)."""
    deadline = case.get("deadline") or {}
    left = deadline.get("working_days_left")
    return (
        case["status"] != "registered",
        not deadline.get("breached"),
        left if left is not None else 10**6,
        str(case["received_at"]),
    )


def meeting_board_row(meeting: dict, deadlines: dict) -> dict:
    """Add each of a meeting's cases' reply deadline, and whether anything is overdue."""
    replies = []
    for case_no in meeting["case_nos"]:
        reply = next((d for d in deadlines.get(case_no, []) if d.get("stage") == "reply"), None)
        replies.append({"case_no": case_no, "deadline": reply})
    meeting["replies"] = replies
    meeting["overdue"] = any(
        r["deadline"] and r["deadline"].get("breached") and not r["deadline"].get("met_at")
        for r in replies
    ) or any(a.get("breached") and not a.get("delivered_at") for a in meeting["assignments"])
    return meeting


def month_bounds(month: str) -> tuple[str, str]:
    """``2026-11`` → (``2026-11-01``, ``2026-11-30``); InvalidField for anything else."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise errors.InvalidField("月份应为 YYYY-MM", "month") from None
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first.isoformat(), (following - timedelta(days=1)).isoformat()


def render(template: str, user: dict | None, status: int = 200, **context) -> Response:
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
        payload["received_at"] = local_moment(received, tz)
    return payload


def local_moment(value: str, tz: str = DEFAULT_TZ) -> str:
    """An ``<input type=datetime-local>`` value (no offset: the hall's local time) as ISO 8601.

    What is not a time is passed on as typed, for the service to name the field.
    """
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.isoformat()


CASE_WORKERS = ("window_staff", "officer", "bureau", "supervisor")


def checkbox(form, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


class CaseAction:
    """A form on the case page that calls one RPC.

    ``payload(form)`` builds the API's body; ``args(case_no, form)`` the RPC's arguments before
    the user (by default ``case_no`` and that body).
    """

    def __init__(self, label: str, roles: tuple, service: str, method: str, payload, args=None):
        self.label, self.roles, self.service, self.method = label, roles, service, method
        self.payload = payload
        self.args = args or (lambda case_no, form: (case_no, payload(form)))

    def call(self, gateway, case_no: str, form, user: dict):
        rpc = getattr(getattr(gateway, self.service), self.method)
        return rpc(*self.args(case_no, form), user)


def text_value(form, name: str) -> str:
    return (form.get(name) or "").strip()


ROW_FIELD = re.compile(r"^(?P<list>[a-z_]+)\[(?P<index>\d+)\]\.(?P<key>[a-z_]+)$")


def form_rows(form, name: str, keys: tuple[str, ...]) -> list[dict]:
    """Rows of inputs named ``name[i].key``, in order, without the ones left wholly blank.

    The rows are renumbered, so the service's ``name[k]`` in an error is the k-th row shown
    again (:func:`form_values` renumbers the same way).
    """
    rows: dict[int, dict] = {}
    for field in form:
        match = ROW_FIELD.match(field)
        if match and match["list"] == name:
            rows.setdefault(int(match["index"]), {})[match["key"]] = text_value(form, field)
    return [row for _, row in sorted(rows.items()) if any(row.get(key) for key in keys)]


# the lists of rows a form may have, and the inputs that make a row not blank
ROW_LISTS = {
    "missing_key_materials": ("name", "how_to_obtain"),
    "assignments": ("task", "due", "department"),
}


# inputs that may carry several values (checkbox groups)
MULTI_FIELDS = ("departments", "worked_measures", "case_nos")


def form_values(form) -> dict:
    """What was typed, to fill the form again; rows renumbered as :func:`form_rows` does."""
    values = {}
    for field in form:
        match = ROW_FIELD.match(field)
        if match and match["list"] in ROW_LISTS:
            continue
        values[field] = form.getlist(field) if field in MULTI_FIELDS else form.get(field, "")
    for name, keys in ROW_LISTS.items():
        for index, row in enumerate(form_rows(form, name, keys)):
            for key, value in row.items():
                values[f"{name}[{index}].{key}"] = value
    return values


def chosen(form, name: str) -> list[str]:
    """The values of a group of checkboxes, or of a multi-select."""
    return [value.strip() for value in form.getlist(name) if value.strip()]


def return_visit_payload(form) -> dict:
    satisfied = form.get("satisfied")
    return {
        "satisfied": {"yes": True, "no": False}.get(satisfied, satisfied),
        "notes": text_value(form, "notes"),
    }


def classify_payload(form) -> dict:
    return {
        "type": form.get("type") or None,
        "reason": text_value(form, "reason"),
        "complex": checkbox(form, "complex"),
    }


def explain_payload(form) -> dict:
    """不能办: the basis, the explanation and each missing key material with where to get it."""
    return {
        "legal_basis": text_value(form, "legal_basis"),
        "explanation": text_value(form, "explanation"),
        "missing_key_materials": form_rows(
            form, "missing_key_materials", ROW_LISTS["missing_key_materials"]
        ),
    }


def measure_payload(form) -> dict:
    """不好办: a measure sent to one or more departments (容缺受理 lists materials and a date)."""
    payload = {
        "measure": form.get("measure") or None,
        "departments": chosen(form, "departments"),
        "details": text_value(form, "details"),
    }
    if text_value(form, "due"):
        payload["due"] = text_value(form, "due")
    if payload["measure"] == "deferred_materials" or lines(form.get("materials")):
        payload["materials"] = lines(form.get("materials"))
    return payload


def measure_response_payload(form) -> dict:
    delivered = form.get("delivered")
    return {
        "department": text_value(form, "department"),
        "response": text_value(form, "response"),
        "delivered": {"yes": True, "no": False}.get(delivered, delivered),
    }


def measure_response_args(case_no: str, form) -> tuple:
    measure_id = text_value(form, "measure_id")
    if not measure_id.isdigit():
        raise errors.InvalidField("请选择要记录答复的措施", "measure_id")
    if form.get("delivered") not in ("yes", "no"):
        raise errors.InvalidField("请选择部门是否已落实", "delivered")
    return case_no, int(measure_id), measure_response_payload(form)


def resolve_payload(form) -> dict:
    worked = [int(value) for value in chosen(form, "worked_measures") if value.isdigit()]
    return {
        "outcome": form.get("outcome") or None,
        "summary": text_value(form, "summary"),
        "worked_measures": worked,
    }


def reply_payload(form) -> dict:
    return {"summary": text_value(form, "summary")}


def reason_payload(form) -> dict:
    reason = text_value(form, "reason")
    return {"reason": reason} if reason else {}


def codes_in(text: str | None) -> list[str]:
    """``W01, W02`` or ``W01 W02`` → ``["W01", "W02"]``."""
    return [code for code in re.split(r"[\s,，、;；]+", text or "") if code]


def practice_payload(form) -> dict:
    payload = {
        "matter": text_value(form, "matter"),
        "windows": codes_in(form.get("windows")),
        "title": text_value(form, "title"),
        "description": text_value(form, "description"),
    }
    if text_value(form, "case_no"):
        payload["case_no"] = text_value(form, "case_no")
    return payload


CASE_ACTIONS = {
    "classify": CaseAction("分类", ("officer",), "coordination", "classify_case", classify_payload),
    "explain": CaseAction(
        "不能办：说明依据并解释", ACTORS, "coordination", "explain", explain_payload
    ),
    "measure": CaseAction(
        "不好办：协调措施", ACTORS, "coordination", "add_measure", measure_payload
    ),
    "measure-response": CaseAction(
        "记录部门答复",
        ACTORS,
        "coordination",
        "record_measure_response",
        measure_response_payload,
        measure_response_args,
    ),
    "reply": CaseAction("答复申请人", ACTORS, "coordination", "reply", reply_payload),
    "resolve": CaseAction("办结", ACTORS, "coordination", "resolve", resolve_payload),
    "close": CaseAction("关闭", ACTORS, "coordination", "close", reason_payload),
    "archive": CaseAction("归档", ACTORS, "coordination", "archive", reason_payload),
    "reopen": CaseAction("重新打开", ACTORS, "coordination", "reopen", reason_payload),
    "promote": CaseAction(
        "推广为常态化做法",
        ACTORS,
        "coordination",
        "promote_practice",
        practice_payload,
        lambda case_no, form: ({**practice_payload(form), "case_no": case_no},),
    ),
    "return-visit": CaseAction(
        "记录回访", CASE_WORKERS, "intake", "record_return_visit", return_visit_payload
    ),
}
WORKING_STATES = ("classified", "in_progress", "replied")  # coordination's WORKING_STATES


def offered_actions(user: dict, case: dict, flow: dict | None = None) -> list[str]:
    """The action forms the case page shows this user now; the services check again.

    ``flow`` is coordination's summary of the case (its state, type, explanation, measures,
    meetings, resolution); without it (not handed over yet) only intake's actions show.
    """
    offered = []
    role = user["role"]
    if flow is None:
        if case.get("status") == "registered" and role == "officer":
            offered.append("classify")
    else:
        state, case_type = flow["state"], flow.get("type")
        acts = role == "officer" or (role == "bureau" and case_type == "pending")
        if state == "registered" and role == "officer":
            offered.append("classify")
        if acts and state in WORKING_STATES:
            if case_type == "cannot" and not flow.get("explanation"):
                offered.append("explain")
            if case_type == "hard":
                offered.append("measure")
                if flow.get("measures"):
                    offered.append("measure-response")
            done = {
                "cannot": bool(flow.get("explanation")),
                "hard": bool(flow.get("measures")),
                "pending": bool(flow.get("meetings")),
            }.get(case_type, True)
            if state != "replied" and (case_type != "pending" or done):
                offered.append("reply")
            if done:
                offered.append("resolve")
        if acts and state == "resolved":
            offered.append("close")
        if acts and state == "closed":
            offered.append("archive")
        if acts and state in ("resolved", "closed", "archived"):
            offered.append("reopen")
        if acts and flow.get("resolution") and state in ("resolved", "closed", "archived"):
            offered.append("promote")
    if case.get("requires_return_visit") and role in CASE_WORKERS:
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


def yes_no(value):
    """A yes/no select as JSON's true/false; anything else goes on for the service to refuse."""
    return {"yes": True, "no": False}.get(value, value or None)


def meeting_payload(form, tz: str = DEFAULT_TZ) -> dict:
    """暂时办不了: convene one joint meeting for the chosen cases and invited departments."""
    scheduled = text_value(form, "scheduled_at")
    return {
        "case_nos": chosen(form, "case_nos"),
        "departments": chosen(form, "departments"),
        "scheduled_at": local_moment(scheduled, tz) if scheduled else None,
        "complex": checkbox(form, "complex"),
    }


def minutes_payload(form) -> dict:
    """Attendance of each invited department, the decision and the tasks handed out."""
    indices = sorted(
        {
            int(match["index"])
            for field in form
            if (match := ROW_FIELD.match(field)) and match["list"] == "attendance"
        }
    )
    attendance = []
    for i in indices:
        entry = {
            "department": text_value(form, f"attendance[{i}].department"),
            "present": yes_no(form.get(f"attendance[{i}].present")),
        }
        for key in ("valid_reason", "position"):
            if text_value(form, f"attendance[{i}].{key}"):
                entry[key] = text_value(form, f"attendance[{i}].{key}")
        attendance.append(entry)
    return {
        "attendance": attendance,
        "decision": text_value(form, "decision"),
        "assignments": form_rows(form, "assignments", ROW_LISTS["assignments"]),
    }


def appeal_decision_payload(form) -> dict:
    if form.get("upheld") not in ("yes", "no"):
        raise errors.InvalidField("请选择申诉是否成立", "upheld")
    return {"upheld": yes_no(form.get("upheld")), "reason": text_value(form, "reason")}


def form_state(form, error: errors.BanchengError) -> dict:
    """A refused form again: what was typed, and the message by the input the service named.

    A row's error (``assignments[1].due``) keeps its full name, so it shows by that row.
    """
    field = error.field or ""
    key = field if ROW_FIELD.match(field) else (error_field(field) or "_form")
    return {"values": form_values(form), "errors": {key: error.message}}


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
            except Exception as error:  # one mapping for pages and API (gateway.http)
                response = self._error_page(request, as_user_error(error, request, route))
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
        titles = {
            403: "无权访问",
            404: "未找到",
            409: "状态不允许",
            500: "系统内部错误",
            503: "服务暂时不可用",
        }
        # the user is read from the token alone: an error page must not need a service
        response = render(
            "error.html",
            self._page_user(request),
            status=error.status,
            title=titles.get(error.status, "请求有误"),
            error=error,
        )
        response.headers.extend(retry_after(error))
        return response

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
        case = case_view.case_page(self, case_no, user)
        departments = self.intake.departments()
        return render(
            "cases/detail.html",
            user,
            status=status,
            case=case,
            flow=case["flow"],
            staff_names=self._staff_names(),
            departments=departments,
            department_names={d["code"]: d["name"] for d in departments},
            notice=notice,
            actions={
                name: CASE_ACTIONS[name] for name in offered_actions(user, case, case["flow"])
            },
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
            forms = {action: form_state(request.form, error)}
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
            forms = {investigation_id: form_state(request.form, error)}
            return self._investigations(request, user, forms=forms, status=error.status)
        return redirect(f"/investigations?status=closed&done={investigation_id}")

    def _staff_record(self, user, staff_id, forms=None, status=200, done=None):
        record = self.accountability.staff_record(staff_id, user)
        names = self._staff_names()
        return render(
            "accountability/staff_record.html",
            user,
            status=status,
            active=f"/staff/{staff_id}/record",
            record=record,
            staff_name=names.get(staff_id, staff_id),
            may_appeal=user["role"] == "supervisor" or user["id"] == staff_id,
            forms=forms or {},
            done=done,
        )

    @http("GET", "/staff/<string:staff_id>/record")
    @page("/staff/{id}/record")
    def staff_record_page(self, request, staff_id):
        user = self._user(request)
        return self._staff_record(user, staff_id, done=request.args.get("done"))

    def _scores(self, user, year, forms=None, status=200, done=None):
        scores = self.accountability.department_scores(year, self.intake.departments())
        return render(
            "accountability/scores.html",
            user,
            status=status,
            active="/departments/scores",
            scores=scores,
            forms=forms or {},
            done=done,
        )

    @http("GET", "/departments/scores")
    @page("/departments/scores")
    def department_scores_page(self, request):
        user = self._user(request, *SCORE_READERS)
        year = request.args.get("year") or this_month(self._tz)[:4]
        return self._scores(user, year, done=request.args.get("done"))

    # -- the escalation window's queue -----------------------------------------------------

    @http("GET", "/queue")
    @page("/queue")
    def queue_page(self, request):
        """Unclassified and open cases, the most urgent deadline first, in working days."""
        user = self._user(request, *ACTORS)
        shown = request.args.get("status", "")
        if shown and shown not in QUEUE_STATES:
            raise errors.InvalidField("状态应为待办的状态之一", "status")
        filters = {n: request.args[n] for n in ("type", "site") if request.args.get(n)}
        if request.args.get("cursor") and shown:
            filters["cursor"] = request.args["cursor"]
        lists = [
            self.intake.list_cases.call_async(
                {**filters, "status": state, "limit": PAGE_SIZE}, user
            )
            for state in ([shown] if shown else QUEUE_STATES)
        ]
        fetched = [case for reply in lists for case in reply.result()]
        # the oldest first, unclassified ones ahead; a page's deadlines are read at once
        fetched.sort(key=lambda c: (c["status"] != "registered", str(c["received_at"])))
        items = fetched[:PAGE_SIZE]
        deadlines = {
            case["case_no"]: self.coordination.case_deadlines.call_async(case["case_no"])
            for case in items
        }
        for case in items:
            case["deadline"] = case_view.nearest_deadline(deadlines[case["case_no"]].result())
        items.sort(key=queue_order)
        next_page = None
        if shown and len(fetched) == PAGE_SIZE:
            query = {**filters, "status": shown, "cursor": fetched[-1]["case_no"]}
            next_page = f"/queue?{urlencode(query)}"
        return render(
            "coordination/queue.html",
            user,
            active="/queue",
            items=items,
            shown=shown,
            filters=filters,
            more=not shown and len(fetched) > PAGE_SIZE,
            next_page=next_page,
            sites=self.intake.sites(),
            states=QUEUE_STATES,
        )

    # -- the joint-meeting board -----------------------------------------------------------

    def _meetings(self, request, user, forms=None, status=200, done=None):
        meetings = self.coordination.list_meetings({"limit": PAGE_SIZE}, user)
        case_nos = list(dict.fromkeys(no for m in meetings for no in m["case_nos"]))
        deadlines = {no: self.coordination.case_deadlines.call_async(no) for no in case_nos}
        deadlines = {no: reply.result() for no, reply in deadlines.items()}
        for meeting in meetings:
            meeting_board_row(meeting, deadlines)
        candidates = []
        if user["role"] == "bureau":
            waiting = [
                self.intake.list_cases.call_async(
                    {"type": "pending", "status": state, "limit": PAGE_SIZE}, user
                )
                for state in ("classified", "in_progress")
            ]
            # a case already on the board has its meeting; the rest wait for one
            candidates = [
                case
                for reply in waiting
                for case in reply.result()
                if case["case_no"] not in deadlines
            ]
        departments = self.intake.departments()
        return render(
            "coordination/meetings.html",
            user,
            status=status,
            active="/meetings",
            meetings=meetings,
            candidates=candidates,
            departments=departments,
            department_names={d["code"]: d["name"] for d in departments},
            forms=forms or {},
            done=done,
        )

    @http("GET", "/meetings")
    @page("/meetings")
    def meetings_page(self, request):
        user = self._user(request, *MEETING_READERS)
        return self._meetings(request, user, done=request.args.get("done"))

    @http("POST", "/meetings")
    @page("/meetings")
    def convene_submit(self, request):
        user = self._user(request, "bureau")
        try:
            meeting = self.coordination.convene_meeting(
                meeting_payload(request.form, self._tz), user
            )
        except (errors.InvalidField, errors.Conflict) as error:
            forms = {"convene": form_state(request.form, error)}
            return self._meetings(request, user, forms=forms, status=error.status)
        return redirect(f"/meetings?done=convened#meeting-{meeting['id']}")

    @http("POST", "/meetings/<int:meeting_id>/minutes")
    @page("/meetings/{id}/minutes")
    def minutes_submit(self, request, meeting_id):
        user = self._user(request, "bureau")
        try:
            self.coordination.record_minutes(meeting_id, minutes_payload(request.form), user)
        except (errors.InvalidField, errors.Conflict) as error:
            forms = {meeting_id: form_state(request.form, error)}
            return self._meetings(request, user, forms=forms, status=error.status)
        return redirect(f"/meetings?done=minuted#meeting-{meeting_id}")

    @http("POST", "/meetings/<int:meeting_id>/assignments/<int:assignment_id>/delivered")
    @page("/meetings/{id}/assignments/{assignment_id}/delivered")
    def assignment_delivered(self, request, meeting_id, assignment_id):
        user = self._user(request, *ACTORS)
        self.coordination.deliver_assignment(meeting_id, assignment_id, user)
        return redirect(f"/meetings?done=delivered#meeting-{meeting_id}")

    # -- refusals and standard practices ------------------------------------------------------

    @http("GET", "/refusals")
    @page("/refusals")
    def refusals_page(self, request):
        """Every `cannot` answer with its basis; window staff see their own site's."""
        user = self._user(request)
        filters = {n: request.args[n] for n in ("site", "department") if request.args.get(n)}
        site = visible_site(user, filters.get("site"))
        query = {**filters, "site": site, "limit": PAGE_SIZE}
        if request.args.get("cursor"):
            query["cursor"] = request.args["cursor"]
        items = self.coordination.refusals(query)
        next_page = None
        if len(items) == PAGE_SIZE:
            next_page = f"/refusals?{urlencode({**filters, 'cursor': items[-1]['case_no']})}"
        departments = self.intake.departments()
        return render(
            "coordination/refusals.html",
            user,
            active="/refusals",
            items=items,
            filters=filters,
            sites=self.intake.sites() if sees_all_sites(user) else [],
            departments=departments,
            department_names={d["code"]: d["name"] for d in departments},
            matter_names={m["code"]: m["name"] for m in self.intake.matters(None)},
            staff_names=self._staff_names(),
            next_page=next_page,
        )

    def _practices(self, request, user, forms=None, status=200, done=None):
        matter = request.args.get("matter") or None
        items = self.coordination.list_practices({"matter": matter, "limit": 200})
        matters = self.intake.matters(None)
        return render(
            "coordination/practices.html",
            user,
            status=status,
            active="/practices",
            items=items,
            matter=matter or "",
            matters=matters,
            matter_names={m["code"]: m["name"] for m in matters},
            staff_names=self._staff_names(),
            forms=forms or {},
            done=done,
        )

    @http("GET", "/practices")
    @page("/practices")
    def practices_page(self, request):
        user = self._user(request)
        return self._practices(request, user, done=request.args.get("done"))

    @http("POST", "/practices")
    @page("/practices")
    def practice_submit(self, request):
        user = self._user(request, *ACTORS)
        try:
            practice = self.coordination.promote_practice(practice_payload(request.form), user)
        except (errors.InvalidField, errors.Conflict) as error:
            forms = {"promote": form_state(request.form, error)}
            return self._practices(request, user, forms=forms, status=error.status)
        return redirect(f"/practices?done={practice['id']}#practice-{practice['id']}")

    # -- reports -----------------------------------------------------------------------------

    @http("GET", "/reports")
    @page("/reports")
    def reports_page(self, request):
        """The month's summary page and its downloads (CSV/XLSX, and the month's ledger)."""
        user = self._user(request)
        month = request.args.get("month") or this_month(self._tz)
        first, last = month_bounds(month)
        site = visible_site(user, request.args.get("site") or None)
        scope = {"site": site} if site else {}
        month_query = urlencode({"month": month, **scope})
        ledger_query = urlencode({"from": first, "to": last, **scope})
        links = {
            "page": f"/reports/monthly?{month_query}",
            "csv": f"/api/v1/reports/monthly.csv?{month_query}",
            "xlsx": f"/api/v1/reports/monthly.xlsx?{month_query}",
            "ledger_csv": f"/api/v1/reports/ledger.csv?{ledger_query}",
            "ledger_xlsx": f"/api/v1/reports/ledger.xlsx?{ledger_query}",
        }
        return render(
            "reports_index.html",
            user,
            active="/reports",
            month=month,
            site=site or "",
            first=first,
            last=last,
            links=links,
            sites=self.intake.sites() if sees_all_sites(user) else [],
        )

    # -- appeals, sanctions to confirm, deductions ---------------------------------------------

    def _appeals(self, request, user, forms=None, status=200, done=None):
        """Pending appeals and recommended sanctions, gathered from every staff record."""
        staff = self.intake.staff(None)
        records = [self.accountability.staff_record.call_async(m["id"], user) for m in staff]
        appeals, sanctions = [], []
        for reply in records:
            record = reply.result()
            for finding in record["findings"]:
                if finding.get("appeal"):
                    appeals.append({**finding["appeal"], "finding": finding})
            sanctions += [s for s in record["sanctions"] if s["status"] == "recommended"]
        appeals.sort(key=lambda a: (a["status"] != "pending", -a["id"]))
        return render(
            "accountability/appeals.html",
            user,
            status=status,
            active="/appeals",
            appeals=appeals,
            sanctions=sanctions,
            staff_names={m["id"]: m["name"] for m in staff},
            forms=forms or {},
            done=done,
        )

    @http("GET", "/appeals")
    @page("/appeals")
    def appeals_page(self, request):
        user = self._user(request, "supervisor")
        return self._appeals(request, user, done=request.args.get("done"))

    @http("POST", "/appeals/<int:appeal_id>/decision")
    @page("/appeals/{id}/decision")
    def appeal_decision_submit(self, request, appeal_id):
        user = self._user(request, "supervisor")
        try:
            self.accountability.decide_appeal(
                appeal_id, appeal_decision_payload(request.form), user
            )
        except (errors.InvalidField, errors.Conflict) as error:
            forms = {f"appeal-{appeal_id}": form_state(request.form, error)}
            return self._appeals(request, user, forms=forms, status=error.status)
        return redirect(f"/appeals?done=appeal-{appeal_id}")

    @http("POST", "/sanctions/<int:sanction_id>/confirm")
    @page("/sanctions/{id}/confirm")
    def sanction_confirm_submit(self, request, sanction_id):
        user = self._user(request, "supervisor")
        try:
            self.accountability.confirm_sanction(sanction_id, user)
        except errors.Conflict as error:
            forms = {f"sanction-{sanction_id}": form_state(request.form, error)}
            return self._appeals(request, user, forms=forms, status=error.status)
        return redirect(f"/appeals?done=sanction-{sanction_id}")

    @http("POST", "/findings/<int:finding_id>/appeal")
    @page("/findings/{id}/appeal")
    def appeal_submit(self, request, finding_id):
        """The staff member found responsible (or a supervisor) appeals a finding."""
        user = self._user(request)
        staff_id = text_value(request.form, "staff_id") or user["id"]
        try:
            self.accountability.file_appeal(
                finding_id, {"reason": text_value(request.form, "reason")}, user
            )
        except (errors.InvalidField, errors.Conflict) as error:
            forms = {finding_id: form_state(request.form, error)}
            return self._staff_record(user, staff_id, forms=forms, status=error.status)
        return redirect(f"/staff/{quote(staff_id)}/record?done=appeal")

    @http("POST", "/deductions/<int:deduction_id>/withdraw")
    @page("/deductions/{id}/withdraw")
    def deduction_withdraw_submit(self, request, deduction_id):
        user = self._user(request, "supervisor")
        year = text_value(request.form, "year") or this_month(self._tz)[:4]
        try:
            self.accountability.withdraw_deduction(
                deduction_id, {"reason": text_value(request.form, "reason")}, user
            )
        except (errors.InvalidField, errors.Conflict) as error:
            forms = {deduction_id: form_state(request.form, error)}
            return self._scores(user, year, forms=forms, status=error.status)
        return redirect(f"/departments/scores?year={quote(year)}&done={deduction_id}")
