"""The web front door: login, the JSON API of DESIGN §8 and the staff pages.

It holds no data of its own: every route reads the caller's token, then asks the services
over RPC. Errors are mapped to HTTP in :mod:`services.gateway.http`.
"""

from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Response

from services.common.auth import TokenSigner
from services.common.config import service_setting
from services.common.errors import InvalidField
from services.common.web import EntrypointMetrics, json_response
from services.gateway import openapi
from services.gateway.http import api, bearer_token, read_json

CASE_FILTERS = ("site", "status", "type", "department", "overdue", "month", "q", "limit", "cursor")
TIMELINE_SOURCES = ("intake", "coordination", "accountability", "reporting")


class GatewayService:
    name = "gateway"

    config = Config()
    intake = RpcProxy("intake")
    coordination = RpcProxy("coordination")
    accountability = RpcProxy("accountability")
    reporting = RpcProxy("reporting")
    entrypoint_metrics = EntrypointMetrics()

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def tokens(self) -> TokenSigner:
        return TokenSigner(
            service_setting(self.config, "TOKEN_SECRET"),
            int(service_setting(self.config, "TOKEN_MAX_AGE_SECONDS", 43200)),
        )

    def _user(self, request) -> dict:
        from services.common.errors import Unauthorized

        token = bearer_token(request)
        if not token:
            raise Unauthorized("请先登录（Authorization: Bearer <token>）")
        return self.tokens.read(token)

    def _body(self, request) -> dict:
        return read_json(request, int(service_setting(self.config, "MAX_BODY_BYTES", 1048576)))

    # -- health and metrics ------------------------------------------------------------------

    @http("GET", "/healthz")
    def healthz(self, request):
        return json_response({"service": self.name, "status": "ok"})

    @http("GET", "/metrics")
    def metrics(self, request):
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    @http("GET", "/api/v1/openapi.json")
    def openapi_document(self, request):
        return json_response(openapi.DOCUMENT)

    # -- auth and reference data ------------------------------------------------------------

    @http("POST", "/api/v1/auth/login")
    @api("/api/v1/auth/login")
    def login(self, request):
        body = self._body(request)
        for field in ("username", "password"):
            if not isinstance(body.get(field), str) or not body[field]:
                raise InvalidField(f"缺少{'用户名' if field == 'username' else '密码'}", field)
        user = self.intake.authenticate(body["username"], body["password"])
        return json_response({"token": self.tokens.issue(user), "user": user})

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

    # -- cases -------------------------------------------------------------------------------

    @http("POST", "/api/v1/cases")
    @api("/api/v1/cases")
    def register_case(self, request):
        user = self._user(request)
        body = self._body(request)
        case = self.intake.register_case(body, user, request.headers.get("Idempotency-Key"))
        return json_response(case, status=200 if case["replayed"] else 201)

    @http("GET", "/api/v1/cases")
    @api("/api/v1/cases")
    def list_cases(self, request):
        user = self._user(request)
        filters = {name: request.args.get(name) for name in CASE_FILTERS if request.args.get(name)}
        items = self.intake.list_cases(filters, user)
        next_cursor = (
            items[-1]["case_no"] if len(items) == int(filters.get("limit") or 50) else None
        )
        return json_response({"items": items, "next_cursor": next_cursor})

    @http("GET", "/api/v1/cases/<string:case_no>")
    @api("/api/v1/cases/{case_no}")
    def get_case(self, request, case_no):
        user = self._user(request)
        case = self.intake.get_case(case_no, user)
        pending = [
            getattr(self, source).case_timeline.call_async(case_no) for source in TIMELINE_SOURCES
        ]
        entries = [entry for reply in pending for entry in reply.result()]
        entries.sort(key=lambda entry: entry["at"])
        return json_response({**case, "deadlines": [], "timeline": entries})

    @http("GET", "/api/v1/staff/<string:staff_id>/record")
    @api("/api/v1/staff/{id}/record")
    def staff_record(self, request, staff_id):
        self._user(request)
        return json_response(self.accountability.staff_record(staff_id))

    # -- pages -------------------------------------------------------------------------------

    @http("GET", "/")
    def home(self, request):
        return Response(
            "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>办成</title>"
            "<h1>办成 · 办不成事反映窗口</h1><p>接口文档：<a href='/api/v1/openapi.json'>/api/v1/openapi.json</a></p>",
            mimetype="text/html",
        )
