"""Classification, each type's flow, joint meetings, replies and standard practices."""

from nameko.web.handlers import http

from services.common.auth import visible_site
from services.common.web import json_response
from services.gateway import validation
from services.gateway.api.openapi import BEARER, ID_CURSOR, LIMIT, errors, ok
from services.gateway.base import GatewayBase
from services.gateway.http import api

# Officers act on every case; the approval bureau on `pending` ones (coordination checks).
ACTORS = ("officer", "bureau")
LIST_KEYS = ("limit", "cursor")


def _filters(request, *names: str, id_cursor: bool = False) -> dict:
    """The list's query filters with ``limit`` checked, and ``cursor`` too where it is an id."""
    filters = {n: request.args.get(n) for n in (*names, *LIST_KEYS) if request.args.get(n)}
    if "limit" in filters:
        filters["limit"] = validation.page_limit(filters["limit"])
    if id_cursor and "cursor" in filters:
        filters["cursor"] = validation.id_cursor(filters["cursor"])
    return filters


class CoordinationRoutes(GatewayBase):
    def _case_action(self, request, case_no: str, rpc_name: str):
        user = self._user(request, *ACTORS)
        body = self._body(request)
        return json_response(getattr(self.coordination, rpc_name)(case_no, body, user))

    @http("POST", "/api/v1/cases/<string:case_no>/classify")
    @api("/api/v1/cases/{case_no}/classify")
    def classify_case(self, request, case_no):
        user = self._user(request, "officer")
        return json_response(self.coordination.classify_case(case_no, self._body(request), user))

    @http("POST", "/api/v1/cases/<string:case_no>/explain")
    @api("/api/v1/cases/{case_no}/explain")
    def explain_case(self, request, case_no):
        return self._case_action(request, case_no, "explain")

    @http("POST", "/api/v1/cases/<string:case_no>/measures")
    @api("/api/v1/cases/{case_no}/measures")
    def add_measure(self, request, case_no):
        response = self._case_action(request, case_no, "add_measure")
        response.status_code = 201
        return response

    @http("POST", "/api/v1/cases/<string:case_no>/measures/<int:measure_id>/responses")
    @api("/api/v1/cases/{case_no}/measures/{id}/responses")
    def record_measure_response(self, request, case_no, measure_id):
        user = self._user(request, *ACTORS)
        body = self._body(request)
        return json_response(
            self.coordination.record_measure_response(case_no, measure_id, body, user), status=201
        )

    @http("POST", "/api/v1/cases/<string:case_no>/deadlines/<int:deadline_id>/pause")
    @api("/api/v1/cases/{case_no}/deadlines/{id}/pause")
    def pause_deadline(self, request, case_no, deadline_id):
        user = self._user(request, *ACTORS)
        body = self._body(request)
        return json_response(self.coordination.pause_deadline(case_no, deadline_id, body, user))

    @http("POST", "/api/v1/cases/<string:case_no>/deadlines/<int:deadline_id>/resume")
    @api("/api/v1/cases/{case_no}/deadlines/{id}/resume")
    def resume_deadline(self, request, case_no, deadline_id):
        user = self._user(request, *ACTORS)
        body = self._body(request) if request.get_data() else {}
        return json_response(self.coordination.resume_deadline(case_no, deadline_id, body, user))

    @http("POST", "/api/v1/cases/<string:case_no>/resolve")
    @api("/api/v1/cases/{case_no}/resolve")
    def resolve_case(self, request, case_no):
        return self._case_action(request, case_no, "resolve")

    @http("POST", "/api/v1/cases/<string:case_no>/reply")
    @api("/api/v1/cases/{case_no}/reply")
    def reply_case(self, request, case_no):
        return self._case_action(request, case_no, "reply")

    @http("POST", "/api/v1/cases/<string:case_no>/close")
    @api("/api/v1/cases/{case_no}/close")
    def close_case(self, request, case_no):
        return self._case_action(request, case_no, "close")

    @http("POST", "/api/v1/cases/<string:case_no>/archive")
    @api("/api/v1/cases/{case_no}/archive")
    def archive_case(self, request, case_no):
        return self._case_action(request, case_no, "archive")

    @http("POST", "/api/v1/cases/<string:case_no>/reopen")
    @api("/api/v1/cases/{case_no}/reopen")
    def reopen_case(self, request, case_no):
        return self._case_action(request, case_no, "reopen")

    @http("GET", "/api/v1/cases/<string:case_no>/coordination")
    @api("/api/v1/cases/{case_no}/coordination")
    def case_coordination(self, request, case_no):
        user = self._user(request)
        self.intake.get_case(case_no, user)  # the site check for window staff
        return json_response(self.coordination.case_summary(case_no))

    @http("POST", "/api/v1/joint-meetings")
    @api("/api/v1/joint-meetings")
    def convene_meeting(self, request):
        user = self._user(request, "bureau")
        body = self._body(request)
        return json_response(self.coordination.convene_meeting(body, user), status=201)

    @http("GET", "/api/v1/joint-meetings")
    @api("/api/v1/joint-meetings")
    def list_meetings(self, request):
        user = self._user(request)
        filters = _filters(request, "case_no", "minuted", id_cursor=True)
        items = self.coordination.list_meetings(filters, user)
        return json_response({"items": items})

    @http("GET", "/api/v1/joint-meetings/<int:meeting_id>")
    @api("/api/v1/joint-meetings/{id}")
    def get_meeting(self, request, meeting_id):
        user = self._user(request)
        return json_response(self.coordination.get_meeting(meeting_id, user))

    @http("POST", "/api/v1/joint-meetings/<int:meeting_id>/minutes")
    @api("/api/v1/joint-meetings/{id}/minutes")
    def record_minutes(self, request, meeting_id):
        user = self._user(request, "bureau")
        body = self._body(request)
        return json_response(self.coordination.record_minutes(meeting_id, body, user))

    @http(
        "POST", "/api/v1/joint-meetings/<int:meeting_id>/assignments/<int:assignment_id>/delivered"
    )
    @api("/api/v1/joint-meetings/{id}/assignments/{assignment_id}/delivered")
    def deliver_assignment(self, request, meeting_id, assignment_id):
        user = self._user(request, *ACTORS)
        return json_response(self.coordination.deliver_assignment(meeting_id, assignment_id, user))

    @http("GET", "/api/v1/refusals")
    @api("/api/v1/refusals")
    def refusals(self, request):
        user = self._user(request)
        filters = _filters(request, "site", "department")
        site = visible_site(user, filters.get("site"))  # window staff: their own site only
        items = self.coordination.refusals({**filters, "site": site})
        return json_response({"items": items})

    @http("GET", "/api/v1/practices")
    @api("/api/v1/practices")
    def list_practices(self, request):
        self._user(request)
        filters = _filters(request, "matter", "window", id_cursor=True)
        items = self.coordination.list_practices(filters)
        return json_response({"items": items})

    @http("POST", "/api/v1/practices")
    @api("/api/v1/practices")
    def promote_practice(self, request):
        user = self._user(request, *ACTORS)
        body = self._body(request)
        return json_response(self.coordination.promote_practice(body, user), status=201)


def _path_param(name: str, kind: str = "string") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _object(required: list[str], **properties) -> dict:
    return {"type": "object", "required": required, "properties": properties}


STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
BOOL = {"type": "boolean"}
REASON = _object([], reason=STRING)
CASE_ACTIONS = {
    "classify": (
        "分类（不能办 / 不好办 / 不给办 / 暂时办不了）",
        _object(
            ["type", "reason"],
            type={"enum": ["cannot", "hard", "refused", "pending"]},
            reason=STRING,
            complex=BOOL,
        ),
    ),
    "explain": (
        "不能办：说明法律政策依据与解释，缺少的关键材料及获取途径",
        _object(
            ["legal_basis", "explanation"],
            legal_basis=STRING,
            explanation=STRING,
            missing_key_materials={
                "type": "array",
                "items": _object(["name", "how_to_obtain"], name=STRING, how_to_obtain=STRING),
            },
        ),
    ),
    "measures": (
        "不好办：协调措施（容缺受理、告知承诺、视频验证、数据共享）",
        _object(
            ["measure", "departments", "details"],
            measure={
                "enum": ["deferred_materials", "commitment", "video_verification", "data_sharing"]
            },
            departments=STRINGS,
            details=STRING,
            materials=STRINGS,
            due={"type": "string", "format": "date"},
        ),
    ),
    "resolve": (
        "办结",
        _object(
            ["outcome", "summary"],
            outcome={"enum": ["done", "explained", "not_done"]},
            summary=STRING,
            worked_measures={"type": "array", "items": {"type": "integer"}},
        ),
    ),
    "reply": ("答复申请人（记录是否按期）", _object(["summary"], summary=STRING)),
    "close": ("关闭（须已办结；需回访的须先回访）", REASON),
    "archive": ("归档", REASON),
    "reopen": ("重新打开", _object(["reason"], reason=STRING)),
}
ATTENDANCE = _object(
    ["department", "present"],
    department=STRING,
    present=BOOL,
    valid_reason=STRING,
    position=STRING,
)
ASSIGNMENT = _object(
    ["department", "task", "due"],
    department=STRING,
    case_no=STRING,
    task=STRING,
    due={"type": "string", "format": "date"},
)


def _post(summary: str, schema: dict, params: list, status: int = 200) -> dict:
    return {
        "post": {
            "summary": summary,
            "security": BEARER,
            "parameters": params,
            "requestBody": _body(schema),
            "responses": {**ok(status), **errors(400, 401, 403, 404, 409, 422)},
        }
    }


def _get(summary: str, params: list) -> dict:
    return {
        "get": {
            "summary": summary,
            "security": BEARER,
            "parameters": params,
            "responses": {**ok(), **errors(401, 403, 404)},
        }
    }


def _query(*names: str, id_cursor: bool = False) -> list[dict]:
    cursor = ID_CURSOR if id_cursor else {"name": "cursor", "in": "query", "schema": STRING}
    return [
        *({"name": n, "in": "query", "required": False, "schema": STRING} for n in names),
        LIMIT,
        cursor,
    ]


CASE = [_path_param("case_no")]
MEETING = [_path_param("id", "integer")]
OPENAPI_PATHS = {
    **{
        f"/api/v1/cases/{{case_no}}/{action}": _post(
            summary, schema, CASE, 201 if action == "measures" else 200
        )
        for action, (summary, schema) in CASE_ACTIONS.items()
    },
    "/api/v1/cases/{case_no}/measures/{id}/responses": _post(
        "记录部门对措施的答复",
        _object(
            ["department", "response", "delivered"],
            department=STRING,
            response=STRING,
            delivered=BOOL,
        ),
        [*CASE, _path_param("id", "integer")],
        201,
    ),
    "/api/v1/cases/{case_no}/deadlines/{id}/pause": _post(
        "暂停期限计时（政策允许时，须写明理由）",
        _object(["reason"], reason=STRING),
        [*CASE, _path_param("id", "integer")],
    ),
    "/api/v1/cases/{case_no}/deadlines/{id}/resume": _post(
        "恢复期限计时", REASON, [*CASE, _path_param("id", "integer")]
    ),
    "/api/v1/cases/{case_no}/coordination": _get("事项的协调情况", CASE),
    "/api/v1/joint-meetings": {
        **_post(
            "暂时办不了：召集联席会议（一事一议）",
            _object(
                ["case_nos", "departments", "scheduled_at"],
                case_nos=STRINGS,
                departments=STRINGS,
                scheduled_at={"type": "string", "format": "date-time"},
                complex=BOOL,
            ),
            [],
            201,
        ),
        **_get("联席会议列表", _query("case_no", "minuted", id_cursor=True)),
    },
    "/api/v1/joint-meetings/{id}": _get("联席会议", MEETING),
    "/api/v1/joint-meetings/{id}/minutes": _post(
        "联席会议纪要（出席、意见、决定、分工）",
        _object(
            ["attendance", "decision"],
            attendance={"type": "array", "items": ATTENDANCE},
            decision=STRING,
            assignments={"type": "array", "items": ASSIGNMENT},
        ),
        MEETING,
    ),
    "/api/v1/joint-meetings/{id}/assignments/{assignment_id}/delivered": _post(
        "会议分工已完成", {"type": "object"}, [*MEETING, _path_param("assignment_id", "integer")]
    ),
    "/api/v1/refusals": _get("全部“不能办”答复及其依据", _query("site", "department")),
    "/api/v1/practices": {
        **_get("常态化做法", _query("matter", "window", id_cursor=True)),
        **_post(
            "将办理做法推广为常态化手段",
            _object(
                ["matter", "windows", "title", "description"],
                matter=STRING,
                windows=STRINGS,
                title=STRING,
                description=STRING,
                case_no=STRING,
            ),
            [],
            201,
        ),
    },
}
