"""Login, reference data, health and the OpenAPI document."""

import eventlet
from nameko.web.handlers import http
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Response

from services.common.errors import InvalidField
from services.common.web import broker_reachable, health_response, json_response
from services.gateway import openapi
from services.gateway.base import GatewayBase
from services.gateway.http import api

HEALTH_SECONDS = 2.0


class ReferenceRoutes(GatewayBase):
    @http("GET", "/healthz")
    def healthz(self, request):
        """The broker and every service behind the front door, asked at once (2 s bound)."""
        names = ("intake", "coordination", "accountability", "reporting")
        pool = eventlet.GreenPool(len(names) + 1)
        checks = {"broker": pool.spawn(broker_reachable, self.config["AMQP_URI"])}
        for name in names:
            checks[name] = pool.spawn(self._service_answers, getattr(self, name))
        return health_response(
            "gateway", self.config, {name: check.wait() for name, check in checks.items()}
        )

    @staticmethod
    def _service_answers(proxy) -> bool:
        try:
            with eventlet.Timeout(HEALTH_SECONDS):
                return bool(proxy.ping()["database"])
        except (Exception, eventlet.Timeout):  # a health check reports; it does not raise
            return False

    @http("GET", "/metrics")
    def metrics(self, request):
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    @http("GET", "/api/v1/openapi.json")
    def openapi_document(self, request):
        return json_response(openapi.document())

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
