"""Intake's part of the JSON API: login and reference data, registering, listing and reading
cases, the other channels (feedback, ratings in bulk), helpers and return visits."""

import uuid

from nameko.web.handlers import http
from werkzeug.wrappers import Response

from services.common.config import service_setting
from services.common.errors import InvalidField, NotFound, PayloadTooLarge
from services.common.web import json_response
from services.gateway import case_view, validation
from services.gateway.api.openapi import APPLICANT, IDEMPOTENCY_KEY, errors, ok
from services.gateway.base import GatewayBase, forget_session_version
from services.gateway.client_address import request_client_address
from services.gateway.http import api
from services.gateway.roles import CASE_WORKERS


def public_user(user: dict) -> dict:
    """The user as the login answers it (the session version stays inside the token)."""
    return {key: value for key, value in user.items() if key != "session_version"}


class ReferenceRoutes(GatewayBase):
    """Login and the reference data (intake's)."""

    @http("POST", "/api/v1/auth/login")
    @api("/api/v1/auth/login")
    def login(self, request):
        body = self._body(request)
        for field in ("username", "password"):
            if not isinstance(body.get(field), str) or not body[field]:
                raise InvalidField(f"缺少{'用户名' if field == 'username' else '密码'}", field)
        user = self.intake.authenticate(
            body["username"],
            body["password"],
            request_client_address(request, service_setting(self.config, "TRUSTED_PROXIES")),
        )
        return json_response({"token": self.tokens.issue(user), "user": public_user(user)})

    @http("POST", "/api/v1/auth/logout")
    @api("/api/v1/auth/logout")
    def auth_logout(self, request):  # not ``logout``: the pages' /logout has that name
        """End every session of the caller (every token issued to the user so far)."""
        user = self._user(request)
        self.intake.end_sessions(user["id"])
        forget_session_version(user["id"])
        return Response(status=204)

    @http("POST", "/api/v1/auth/password")
    @api("/api/v1/auth/password")
    def auth_password(self, request):
        """A new password; every session ends with the old one (log in again)."""
        user = self._user(request)
        body = self._body(request)
        for field in ("current_password", "new_password"):
            if not isinstance(body.get(field), str) or not body[field]:
                raise InvalidField("缺少当前密码或新密码", field)
        self.intake.change_password(user["id"], body["current_password"], body["new_password"])
        forget_session_version(user["id"])
        return Response(status=204)

    @http("GET", "/api/v1/sites")
    @api("/api/v1/sites")
    def sites(self, request):
        self._user(request)
        return json_response({"items": self.intake.sites()})

    @http("GET", "/api/v1/departments")
    @api("/api/v1/departments")
    def departments(self, request):
        self._user(request)
        return json_response({"items": self.intake.departments()})

    @http("GET", "/api/v1/matters")
    @api("/api/v1/matters")
    def matters(self, request):
        self._user(request)
        return json_response({"items": self.intake.matters(request.args.get("site"))})

    @http("GET", "/api/v1/staff")
    @api("/api/v1/staff")
    def staff(self, request):
        self._user(request)
        return json_response({"items": self.intake.staff(request.args.get("site"))})


PAGE_SIZE = 50
CASE_FILTERS = ("site", "status", "type", "department", "overdue", "month", "q", "limit", "cursor")


class CaseRoutes(GatewayBase):
    @http("POST", "/api/v1/cases")
    @api("/api/v1/cases")
    def register_case(self, request):
        user = self._user(request)
        body = self._body(request)
        # Without the client's key, one of the request's own: should the broker hand the RPC to
        # intake twice (a reply lost with its connection), the second run replays the first.
        key = request.headers.get("Idempotency-Key") or f"request:{uuid.uuid4()}"
        case = self.intake.register_case(body, user, key)
        return json_response(case, status=200 if case["replayed"] else 201)

    @http("GET", "/api/v1/cases")
    @api("/api/v1/cases")
    def list_cases(self, request):
        user = self._user(request)
        filters = {name: request.args.get(name) for name in CASE_FILTERS if request.args.get(name)}
        limit = filters["limit"] = validation.page_limit(filters.get("limit")) or PAGE_SIZE
        items = self.intake.list_cases(filters, user)
        next_cursor = items[-1]["case_no"] if items and len(items) == limit else None
        return json_response({"items": items, "next_cursor": next_cursor})

    @http("GET", "/api/v1/cases/<string:case_no>")
    @api("/api/v1/cases/{case_no}")
    def get_case(self, request, case_no):
        user = self._user(request)
        detail = case_view.case_detail(self, case_no, user)
        if "last_synced" in detail:  # a site node: coordination's part is intake's copy
            return json_response({**detail, "coordination": None})
        try:
            # coordination's view of its flow; asked after the timelines, so that when they show
            # coordination's entry, this shows its record too
            detail["coordination"] = self.coordination.case_summary(case_no)
        except NotFound:
            detail["coordination"] = None  # its case_registered event is still on the way
        return json_response(detail)


BATCH_ROLES = ("officer", "bureau", "supervisor", "operator")


class FeedbackRoutes(GatewayBase):
    @http("POST", "/api/v1/feedback")
    @api("/api/v1/feedback")
    def submit_feedback(self, request):
        user = self._user(request)
        body = self._body(request)
        result = self.intake.submit_feedback(body, user, request.headers.get("Idempotency-Key"))
        return json_response(result, status=200 if result["replayed"] else 201)

    # werkzeug treats ":" in a rule as a literal character (only <...> is a converter)
    @http("POST", "/api/v1/feedback/ratings:batch")
    @api("/api/v1/feedback/ratings:batch")
    def submit_ratings_batch(self, request):
        """The province-scale feed: district-wide roles only (a street centre sends one by one)."""
        user = self._user(request, *BATCH_ROLES)
        result = self.intake.submit_ratings_batch(
            self._batch_text(request), user, request.headers.get("Idempotency-Key")
        )
        # 207: some rows were refused (each named in ``rejected``) while the others were kept
        return json_response(result, status=207 if result["rejected"] else 200)

    def _batch_text(self, request) -> str:
        """The batch's JSON text, handed to intake as it came: intake decodes it once (a decode
        here and a re-encode for the RPC cost more than intake's whole check of the rows).
        The front door's refusals still hold: the text is searched for what
        :func:`validation.check_body` refuses, and a body where that search finds anything is
        decoded and checked here value by value, which names the field (intake bounds the
        nesting of what it decodes)."""
        max_bytes = int(service_setting(self.config, "MAX_BODY_BYTES", 1048576))
        length = request.content_length
        if length is not None and length > max_bytes:
            raise PayloadTooLarge(f"请求体超过 {max_bytes} 字节上限")
        raw = request.get_data(cache=True)
        if len(raw) > max_bytes:
            raise PayloadTooLarge(f"请求体超过 {max_bytes} 字节上限")
        if not validation.json_text_passes(raw):
            self._body(request)  # raises for what the front door refuses, naming the field
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self._body(request)  # the 400 of a body that is not UTF-8 JSON
            raise


FEEDBACK = {
    "type": "object",
    "required": ["channel", "site"],
    "properties": {
        "channel": {"enum": ["rating", "hotline", "comment_book"]},
        "site": {"type": "string"},
        "window": {"type": "string", "description": "rating: required; others default ESC"},
        "matter": {"type": "string"},
        "staff": {"type": "string", "description": "被评价/被投诉的工作人员 id"},
        "level": {
            "type": "integer",
            "minimum": 1,
            "maximum": 5,
            "description": "5 非常满意 4 满意 3 基本满意 2 不满意 1 非常不满意",
        },
        "text": {"type": "string", "maxLength": 1900},
        "reports_failure": {"type": "boolean", "description": "comment_book: 反映办事失败"},
        "at": {"type": "string", "format": "date-time"},
        "applicant": {**APPLICANT, "required": []},
    },
}
IDEMPOTENCY = [IDEMPOTENCY_KEY]

FEEDBACK_PATHS = {
    "/api/v1/feedback": {
        "post": {
            "summary": "好差评、监督投诉电话、意见留言簿：差评与投诉立案",
            "security": [{"bearer": []}],
            "parameters": IDEMPOTENCY,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": FEEDBACK}},
            },
            "responses": {
                **ok(201, "recorded: {feedback_id, case_no?, requires_return_visit?}"),
                **ok(200, "replayed"),
                **errors(400, 401, 403, 413, 422),
            },
        }
    },
    "/api/v1/feedback/ratings:batch": {
        "post": {
            "summary": "批量接收好差评（每批约 5,000 条以内，受 1 MiB 请求体上限约束）",
            "security": [{"bearer": []}],
            "parameters": IDEMPOTENCY,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["ratings"],
                            "properties": {
                                "ratings": {"type": "array", "maxItems": 10000, "items": FEEDBACK}
                            },
                        }
                    }
                },
            },
            "responses": {
                **ok(200, "all kept: {batch_id, accepted, rejected: [], cases_opened}"),
                **ok(207, "some rows refused: rejected [{index, field, message}]"),
                **errors(400, 401, 403, 413, 422),
            },
        }
    },
}


class IntakeExtraRoutes(GatewayBase):
    @http("POST", "/api/v1/cases/<string:case_no>/helpers")
    @api("/api/v1/cases/{case_no}/helpers")
    def add_helper(self, request, case_no):
        user = self._user(request, *CASE_WORKERS)
        body = self._body(request)
        result = self.intake.add_helper(case_no, body.get("staff_id"), user)
        return json_response(result, status=201 if result["added"] else 200)

    @http("POST", "/api/v1/cases/<string:case_no>/return-visit")
    @api("/api/v1/cases/{case_no}/return-visit")
    def record_return_visit(self, request, case_no):
        user = self._user(request, *CASE_WORKERS)
        body = self._body(request)
        return json_response(self.intake.record_return_visit(case_no, body, user), status=201)


CASE_NO = {"name": "case_no", "in": "path", "required": True, "schema": {"type": "string"}}


def _post(summary: str, schema: dict) -> dict:
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}],
            "parameters": [CASE_NO],
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {**ok(201, "recorded"), **errors(400, 401, 403, 404, 409, 422)},
        }
    }


INTAKE_EXTRAS_PATHS = {
    "/api/v1/cases/{case_no}/helpers": _post(
        "添加协助人员（首接负责人不可移除、不可更换）",
        {
            "type": "object",
            "required": ["staff_id"],
            "properties": {"staff_id": {"type": "string"}},
        },
    ),
    "/api/v1/cases/{case_no}/return-visit": _post(
        "记录回访（实名差评结案前必须回访）",
        {
            "type": "object",
            "required": ["satisfied"],
            "properties": {
                "satisfied": {"type": "boolean"},
                "notes": {"type": "string", "maxLength": 1000},
            },
        },
    ),
}


AUTH_PATHS = {
    "/api/v1/auth/logout": {
        "post": {
            "summary": "退出：结束该用户的全部会话（此前签发的令牌全部失效）",
            "security": [{"bearer": []}],
            "responses": {"204": {"description": "signed out everywhere"}, **errors(401)},
        }
    },
    "/api/v1/auth/password": {
        "post": {
            "summary": "修改密码（至少 8 位）；成功后全部会话结束，须重新登录",
            "security": [{"bearer": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["current_password", "new_password"],
                            "properties": {
                                "current_password": {"type": "string"},
                                "new_password": {"type": "string", "minLength": 8},
                            },
                        }
                    }
                },
            },
            "responses": {"204": {"description": "changed"}, **errors(400, 401, 422)},
        }
    },
}


OPENAPI_PATHS = {**FEEDBACK_PATHS, **INTAKE_EXTRAS_PATHS, **AUTH_PATHS}
